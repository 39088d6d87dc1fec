"""NIST StRD nonlinear regression: 27 problems x 2 starts.

Protocol of /work/shared/nist_strd/check_nist.py: ftol = xtol = gtol = 1e-15,
max_nfev = 10000 * n, residual ``y - model`` (``log(y) - model`` for Nelson),
accuracy measured as the minimum over parameters of the LRE against NIST's
certified values.

* finite differences (jac='2-point', the default): 'trf' and 'lm' must reach
  min LRE >= 4 on all 54 cases, 'dogbox' on all but the three of
  ``DOGBOX_MISSES``, where it must report failure; every method must reach
  it on every case where it reports success;
* analytic Jacobians: 'trf' and 'lm' must reach min LRE >= 6 on all 54,
  'dogbox' on all but ``DOGBOX_MISSES`` (strict xfails: scipy's dogbox
  misses the same three);
* the finite-difference cases run a second time in a subprocess with numpy's
  SIMD paths disabled (``NPY_DISABLE_CPU_FEATURES``: numpy's AVX-512 ``exp``
  differs from the scalar one by an ulp, and on one CPU 'gn' once claimed
  success at a wrong MGH17 answer only there), so both code paths are
  checked on any machine.

The residuals are the independent numpy models of oracle_problems.py (set
LSQ_NIST_JIT=1 to solve with ``lsqcore.problems.nist``'s @njit residuals
instead; see ``_Case``); ``lsqcore.problems`` is cross-checked against them.  A summary table is
printed at the end of the session (visible with ``pytest -s`` or in the
terminal summary).
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import oracle_problems as op
from conftest import describe, lsqcore_only, quiet_call, scipy_least_squares, solve

NIST_TOL = dict(ftol=1e-15, xtol=1e-15, gtol=1e-15)
USE_LIB_JIT = os.environ.get("LSQ_NIST_JIT", "") not in ("", "0")

# Cases scipy 1.17.1 itself fails (baseline_scipy-1.17.1_2point.txt and an
# analytic-Jacobian run of the same protocol); skipped under LSQ_ORACLE_SELF=1.
SCIPY_FAILS = {
    ("2-point", "trf"): {("Hahn1", 1), ("Hahn1", 2)},
    ("2-point", "lm"): {("Hahn1", 1), ("Hahn1", 2), ("BoxBOD", 1)},
    ("2-point", "dogbox"): {("Hahn1", 1), ("Hahn1", 2), ("MGH09", 1), ("MGH10", 1),
                            ("Rat43", 1), ("MGH17", 1)},
    ("analytic", "lm"): {("BoxBOD", 1)},
    ("analytic", "dogbox"): {("MGH09", 1), ("Rat43", 1), ("MGH17", 1)},
}

# lsqcore's dogbox (2-point) ends away from the certified values on these
# three, like scipy's dogbox on MGH09/1 and Rat43/1; it must report failure
# there (the test asserts it), never success.  Both dogboxes take the same
# path on MGH17/1 for 16 iterations before finite-difference rounding
# separates them; scipy's reaches the answer only from the exact start: with
# the start perturbed by 1e-9 (relative) scipy's dogbox solves 1 of 20 and
# claims success at a wrong point on the other 19 (docs/compatibility.md).
DOGBOX_MISSES = {("MGH17", 1), ("MGH09", 1), ("Rat43", 1)}


class _Case:
    """Uniform view of a NIST problem.

    The residuals handed to the solver are the numpy models of
    oracle_problems.py (plain Python callables) unless LSQ_NIST_JIT=1, which
    uses lsqcore.problems' @njit residuals instead.  Reason: lsqcore compiles
    a driver per jitted (fun, jac) pair (~20-30 s each on this machine, not
    cached across processes in lsqcore 0.1.0), which for ~40 distinct pairs
    would dwarf the suite's time budget.  lsqcore.problems is still used: its
    starts and certified values are cross-checked against the JSON data, and
    its models against ours (test_lsqcore_problems_agree_with_own_models).
    """

    def __init__(self, name):
        own = op.nist_case(name)
        self.name = name
        self.own = own
        self.difficulty = own.difficulty
        self.n = own.n
        self.source = "oracle_problems numpy models"
        self.fun, self.jac, self.args = own.fun, own.jac, own.args
        self._starts = {1: own.starts[1], 2: own.starts[2]}
        self.lib = _lib_problem(name)
        if self.lib is not None and USE_LIB_JIT:
            self.source = "lsqcore.problems @njit models"
            self.fun, self.jac, self.args = self.lib.fun, self.lib.jac, tuple(self.lib.args)
            self._starts = {1: np.asarray(self.lib.starts[0], float),
                            2: np.asarray(self.lib.starts[1], float)}

    def start(self, k):
        return np.array(self._starts[k], dtype=float)

    def min_lre(self, x):
        # always our own LRE (identical definition to the StRD README)
        return self.own.min_lre(x)


def _lib_problem(name):
    try:
        from lsqcore.problems import nist
    except Exception:  # noqa: BLE001 - module still being written
        return None
    try:
        return nist(name)
    except Exception:  # noqa: BLE001
        return None


_CASES = {}


def case(name):
    if name not in _CASES:
        _CASES[name] = _Case(name)
    return _CASES[name]


def _params(jac_kind, methods):
    for name in op.NIST_NAMES:
        for start in (1, 2):
            for method in methods:
                marks = []
                if method == "gn":
                    marks.append(lsqcore_only("method 'gn'"))
                elif (name, start) in SCIPY_FAILS.get((jac_kind, method), ()):
                    marks.append(lsqcore_only("scipy 1.17.1 fails this case"))
                if (jac_kind, method) == ("analytic", "dogbox") and (name, start) in DOGBOX_MISSES:
                    marks.append(pytest.mark.xfail(strict=True, reason=(
                        "dogbox ends away from the certified values (scipy's too); on MGH09/1 "
                        "both stop by gtol with parameters ~1e7 diverging along a valley "
                        "whose gradient vanishes at infinity")))
                yield pytest.param(name, start, method, marks=marks,
                                   id="%s-s%d-%s" % (name, start, method))


def _run(name, start, method, jac_kind, nist_summary):
    c = case(name)
    kw = dict(method=method, max_nfev=10000 * c.n, args=c.args, **NIST_TOL)
    if jac_kind == "analytic":
        kw["jac"] = c.jac
    res = solve(c.fun, c.start(start), **kw)
    lre = c.min_lre(res.x)
    nist_summary.append(dict(problem=name, start=start, method=method, jac=jac_kind,
                             lre=lre, success=bool(res.success), status=int(res.status),
                             nfev=int(res.nfev), difficulty=c.difficulty, source=c.source))
    assert np.all(np.isfinite(res.x)) and np.isfinite(res.cost), describe(res)
    return res, lre


@pytest.mark.parametrize("name,start,method",
                         list(_params("2-point", ("trf", "dogbox", "lm", "gn"))))
def test_nist_finite_differences(name, start, method, nist_summary, needs_solver):
    res, lre = _run(name, start, method, "2-point", nist_summary)
    msg = "%s start%d %s 2-point: min LRE %.2f\n%s" % (name, start, method, lre, describe(res))
    if res.success:
        assert lre >= 4.0, method + " reported success but " + msg
    if method == "dogbox" and (name, start) in DOGBOX_MISSES:
        assert not res.success, msg
    elif method != "gn":
        assert lre >= 4.0, msg


@pytest.mark.parametrize("name,start,method",
                         list(_params("analytic", ("trf", "dogbox", "lm"))))
def test_nist_analytic(name, start, method, nist_summary, needs_solver):
    res, lre = _run(name, start, method, "analytic", nist_summary)
    assert lre >= 6.0, "%s start%d %s analytic: min LRE %.2f\n%s" % (
        name, start, method, lre, describe(res))


def test_nist_finite_differences_without_numpy_simd(needs_solver):
    """The finite-difference cases above, rerun with every numpy SIMD dispatch
    target disabled (a fresh process: numpy reads the variable at import)."""
    if os.environ.get("NPY_DISABLE_CPU_FEATURES"):
        pytest.skip("this process already runs without numpy's SIMD paths")
    from numpy._core._multiarray_umath import __cpu_dispatch__
    env = dict(os.environ, NPY_DISABLE_CPU_FEATURES=" ".join(__cpu_dispatch__))
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        os.path.abspath(__file__), "-k", "test_nist_finite_differences["],
                       capture_output=True, text=True, env=env, timeout=900)
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-3000:]
    assert " passed" in p.stdout and " failed" not in p.stdout, p.stdout[-3000:]


# --------------------------------------------------------------------------
# Harness checks (no solver needed)
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", op.NIST_NAMES)
def test_own_models_reproduce_certified_rss(name):
    c = op.nist_case(name)
    r = c.fun(c.x_star, *c.args)
    rss = float(r @ r)
    # Lanczos1's certified RSS (1.4e-25) is not reproducible from the
    # 11-digit parameters (they give ~4e-21; see the StRD README)
    tol = 1e-3 if name == "Lanczos1" else 1e-8
    if name == "Lanczos1":
        assert rss < 1e-19
    else:
        assert abs(rss - c.rss) <= tol * c.rss, (rss, c.rss)
    assert c.min_lre(c.x_star) == min(c.sig)


@pytest.mark.parametrize("name", op.NIST_NAMES)
def test_lsqcore_problems_agree_with_own_models(name):
    """Cross-check lsqcore.problems.nist (another engineer's module) against
    the independent models here: fun/jac at both starts and at x_star."""
    c = case(name)
    lib = c.lib
    if lib is None:
        pytest.skip("lsqcore.problems.nist not available")
    own = c.own
    np.testing.assert_allclose(np.asarray(lib.starts[0], float), own.starts[1], rtol=0)
    np.testing.assert_allclose(np.asarray(lib.starts[1], float), own.starts[2], rtol=0)
    np.testing.assert_allclose(np.asarray(lib.x_star, float), own.x_star, rtol=0)
    for x in (own.starts[1], own.starts[2], own.x_star):
        with np.errstate(all="ignore"):
            f_lib = np.asarray(lib.fun(np.array(x), *lib.args))
            f_own = own.fun(np.array(x), *own.args)
            J_lib = np.asarray(lib.jac(np.array(x), *lib.args))
            J_own = own.jac(np.array(x), *own.args)
        # residuals are y - model: compare relative to the data's magnitude
        scale = np.abs(own.target).max()
        np.testing.assert_allclose(f_lib, f_own, rtol=1e-10, atol=1e-12 * scale)
        np.testing.assert_allclose(J_lib, J_own, rtol=1e-9, atol=1e-12 * np.abs(J_own).max())
    assert abs(lib.lre(own.x_star) - own.min_lre(own.x_star)) < 1e-12


def test_scipy_baseline_hahn1_fails():
    """The premise of the Hahn1 test in test_oracle.py: scipy's absolute FD
    steps lose Hahn1 (min LRE ~2.2, baseline file)."""
    c = op.nist_case("Hahn1")
    res = quiet_call(scipy_least_squares, c.fun, c.starts[1].copy(), args=c.args,
                     max_nfev=10000 * c.n, **NIST_TOL)
    assert c.min_lre(res.x) < 4.0
