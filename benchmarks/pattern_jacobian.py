"""A sparse analytic Jacobian three ways: PatternJacobian (compiled), scipy.sparse, scipy.

The Broyden tridiagonal function (More, Garbow and Hillstrom 1981, problem
30; ``m = n``), from ``x0 = -1``, default tolerances, 'trf' (LSMR):

* lsqcore, ``jac=lsqcore.PatternJacobian(fill, pattern)`` with ``fun`` and
  ``fill`` under ``@njit``: the whole solve compiled, no sparse matrix per
  iteration;
* lsqcore, ``jac`` returning a ``scipy.sparse`` matrix (the Python driver);
* scipy's ``least_squares`` with the same ``jac``.

Interleaved rounds, the best of 3 calls per solver per round; the median
and range over rounds.  Every answer is checked against scipy's first.

    python benchmarks/pattern_jacobian.py [rounds]
"""
import os
import sys

import numpy as np
from scipy.optimize import least_squares as scipy_least_squares

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
import lsqcore  # noqa: E402
from test_pattern_jacobian import broyden, broyden_fill, broyden_sparse, tridiagonal  # noqa: E402

from _timing import best_of  # noqa: E402 (benchmarks/_timing.py)


def main(rounds=5):
    for n in (10_000, 100_000):
        x0 = -np.ones(n)
        pj = lsqcore.PatternJacobian(broyden_fill, tridiagonal(n))
        solvers = {
            "lsqcore PatternJacobian (compiled)": lambda: lsqcore.least_squares(broyden, x0,
                                                                                jac=pj),
            "lsqcore scipy.sparse jac": lambda: lsqcore.least_squares(broyden.py_func, x0,
                                                                      jac=broyden_sparse),
            "scipy": lambda: scipy_least_squares(broyden.py_func, x0, jac=broyden_sparse),
        }
        ref = solvers["scipy"]()
        for name, fn in solvers.items():
            r = fn()
            assert r.success and np.max(np.abs(r.x - ref.x)) < 1e-10, name
        times = {name: [] for name in solvers}
        for _ in range(rounds):
            for name, fn in solvers.items():
                times[name].append(best_of(fn, 3))
        print(f"n = m = {n}, nnz = {pj.nnz}, nfev {ref.nfev}")
        base = np.array(times["scipy"])
        for name, t in times.items():
            t = np.array(t)
            ratio = base / t
            print(f"  {name:36s} {np.median(t) * 1e3:8.2f} ms [{t.min() * 1e3:.2f}-"
                  f"{t.max() * 1e3:.2f}]  vs scipy {np.median(ratio):5.2f}x "
                  f"[{ratio.min():.2f}-{ratio.max():.2f}]")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
