"""The kernels under Numba's bounds checking (NUMBA_BOUNDSCHECK=1) over the oracle suite.

Numba does not check array indices in compiled code: an off-by-one in the
kernel reads or writes neighbouring memory silently.  This test runs a fresh
interpreter with ``NUMBA_BOUNDSCHECK=1`` and an empty ``NUMBA_CACHE_DIR``, so
every cached kernel function is recompiled with bounds checks (~40-60 s), and
solves every oracle problem (tests/oracle_problems.py) with every method that
applies, analytic and finite-difference Jacobians ('2-point', '3-point',
'cs'), a robust loss and ``x_scale='jac'``.  The residuals are plain Python, so
the Python driver calls the bounds-checked ``advance(W, S)`` directly and an
out-of-range index raises ``IndexError`` there (the compiled driver reaches the
kernel through a C function pointer whose errors cannot propagate).
"""
from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest

import _background

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SCRIPT = textwrap.dedent(r'''
    import json, sys, warnings
    import numpy as np
    from numba import njit, config
    assert config.BOUNDSCHECK, "NUMBA_BOUNDSCHECK not active"

    @njit
    def _probe(a):
        return a[a.size]
    try:
        _probe(np.zeros(3))
        raise SystemExit("bounds checking is not active")
    except IndexError:
        pass

    sys.path.insert(0, sys.argv[1])
    import oracle_problems as op
    import lsqcore

    runs = errors = 0
    failures = []
    for prob in op.PROBLEMS:
        bounded = prob.has_bounds
        for method in ("trf", "lm", "gn"):
            if method != "trf" and (bounded or (method == "lm" and prob.m < prob.n)):
                continue
            jacs = ["analytic", "2-point", "3-point"] + (["cs"] if prob.complex_safe else [])
            configs = [(j, "linear", None) for j in jacs] + [("2-point", "linear", "jac")]
            if method != "lm":
                configs.append(("analytic", "soft_l1", None))
            for jac, loss, xs in configs:
                kw = dict(method=method, loss=loss, args=prob.args,
                          jac=prob.jac if jac == "analytic" else jac, max_nfev=2000)
                if bounded:
                    kw["bounds"] = prob.bounds
                if xs is not None:
                    kw["x_scale"] = xs
                runs += 1
                try:
                    with warnings.catch_warnings(), np.errstate(all="ignore"):
                        warnings.simplefilter("ignore")
                        lsqcore.least_squares(prob.fun, prob.x0.copy(), **kw)
                except IndexError as e:
                    failures.append([prob.name, method, jac, loss, repr(e)])
                except ValueError as e:      # documented input errors are not our concern here
                    errors += 1
    print("RESULT " + json.dumps({"runs": runs, "value_errors": errors, "failures": failures}))
''')


# half a minute of compiling into an empty cache: on the other core (tests/_background.py)
_background.job("boundscheck", [sys.executable, "-c", SCRIPT, HERE], cwd=ROOT, timeout=600,
                env=dict(os.environ, NUMBA_BOUNDSCHECK="1", PYTHONWARNINGS="ignore"),
                scratch_env="NUMBA_CACHE_DIR")


@pytest.mark.background("boundscheck")
def test_kernel_under_numba_boundscheck():
    p = _background.result("boundscheck")
    assert p.returncode == 0, f"rc {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}"
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    r = json.loads(line[len("RESULT "):])
    assert r["runs"] > 100, r
    assert not r["failures"], r["failures"]
