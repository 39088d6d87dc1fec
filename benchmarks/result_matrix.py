"""The result matrix: every NIST and MGH problem solved under every option that
changes the solver's path, saved or compared bitwise.

    python benchmarks/result_matrix.py --save benchmarks/result_matrix_ref.npz
    python benchmarks/result_matrix.py --compare benchmarks/result_matrix_ref.npz

Cases: each problem (27 NIST x 2 starts, 35 MGH x 3 starts) x method (trf,
lm where m >= n, gn) x Jacobian (2-point, 3-point, analytic) x ``x_scale``
(1, 'jac'), plus trf with a box around the start (bounds active on the way
for many problems), default tolerances.  The residuals are the problems'
compiled functions called through a Python wrapper (the Python driver; no
compile per model); ``--jit`` also runs every problem's jitted residual
through the compiled driver for trf and lm with 2-point differences (one
compile per model, ~1 s each once cached); ``--dogbox`` adds 'dogbox' with
each Jacobian and ``x_scale``, and with the box.

A refactoring that must not change results (issue 15) compares ``x``,
``cost``, ``nfev``, ``njev`` and ``status`` bitwise against the reference
saved before it; ``--compare`` prints every differing case and exits 1.
"""
import argparse
import sys
import time
import warnings
from itertools import product

import numpy as np

import lsqcore
from lsqcore import problems

FIELDS = ("x", "cost", "nfev", "njev", "status", "optimality")


def _wrap(p):
    def fun(x):
        return p.fun(x, *p.args)

    def jac(x):
        return p.jac(x, *p.args)
    return fun, jac


def _box(x0):
    w = 10.0 * np.abs(x0) + 1.0
    return x0 - w, x0 + 0.5 * w           # asymmetric: the upper side is reached more often


def cases(jit=False, dogbox=False):
    """Yield ``(key, fun, x0, kwargs)`` for every case."""
    methods = ("trf", "lm", "gn") + (("dogbox",) if dogbox else ())
    for p in problems.all_problems():
        fun, jac = _wrap(p)
        for s, x0 in enumerate(p.starts):
            x0 = np.asarray(x0, dtype=float)
            for method in methods:
                if method == "lm" and p.m < p.n:
                    continue
                for jk in ("2-point", "3-point", "analytic"):
                    for xs in (1.0, "jac"):
                        kw = dict(method=method, jac=jac if jk == "analytic" else jk, x_scale=xs)
                        yield f"{p.library}:{p.name}/s{s}/{method}/{jk}/xs={xs}", fun, x0, kw
            for method, jk in product(("trf", "dogbox")[:1 + dogbox], ("2-point", "analytic")):
                kw = dict(method=method, jac=jac if jk == "analytic" else jk, bounds=_box(x0))
                yield f"{p.library}:{p.name}/s{s}/{method}/{jk}/box", fun, x0, kw
            if jit:
                for method in ("trf", "lm"):
                    if method == "lm" and p.m < p.n:
                        continue
                    kw = dict(method=method, args=tuple(p.args))
                    yield f"{p.library}:{p.name}/s{s}/{method}/2-point/jit", p.fun, x0, kw


def run(jit=False, dogbox=False):
    out = {}
    for key, fun, x0, kw in cases(jit, dogbox):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                r = lsqcore.least_squares(fun, x0.copy(), **kw)
                out[key] = (np.asarray(r.x, float), float(r.cost), int(r.nfev),
                            -1 if r.njev is None else int(r.njev), int(r.status))
            except Exception as e:                      # noqa: BLE001 - recorded as a result
                out[key] = (np.array([]), np.nan, -1, -1, -999)
                print(f"{key}: raised {e!r}", file=sys.stderr)
    return out


def save(res, path):
    keys = sorted(res)
    np.savez_compressed(path, keys=np.array(keys),
                        x=np.array([res[k][0] for k in keys], dtype=object),
                        scalars=np.array([res[k][1:] for k in keys], dtype=float))


def load(path):
    d = np.load(path, allow_pickle=True)
    return {k: (x,) + tuple(s) for k, x, s in zip(d["keys"], d["x"], d["scalars"])}


def compare(res, ref):
    bad = []
    for k in sorted(set(res) | set(ref)):
        if k not in res or k not in ref:
            bad.append((k, "missing"))
            continue
        a, b = res[k], ref[k]
        if a[3] == -1 and b[3] >= 0:
            # njev reported None ('lm' with differences, scipy's reporting since
            # e124b9f): the path is compared by x, cost, nfev and status
            a = a[:3] + (b[3],) + a[4:]
        same_x = a[0].shape == b[0].shape and np.array_equal(a[0], b[0], equal_nan=True)
        same_s = all((u == v) or (u != u and v != v) for u, v in zip(a[1:], b[1:]))
        if not (same_x and same_s):
            bad.append((k, f"now cost={a[1]!r} nfev={a[2]} status={a[4]}, "
                           f"ref cost={b[1]!r} nfev={b[2]} status={b[4]}"))
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--save", metavar="NPZ")
    g.add_argument("--compare", metavar="NPZ")
    ap.add_argument("--jit", action="store_true", help="also the compiled driver (jitted models)")
    ap.add_argument("--dogbox", action="store_true", help="also method='dogbox'")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    res = run(a.jit, a.dogbox)
    print(f"{len(res)} cases in {time.perf_counter() - t0:.0f} s")
    if a.save:
        save(res, a.save)
        print(f"saved {a.save}")
        return 0
    bad = compare(res, load(a.compare))
    for k, why in bad:
        print(f"DIFFERS {k}: {why}")
    print(f"{len(bad)} of {len(res)} cases differ from {a.compare}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
