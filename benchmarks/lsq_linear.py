"""``lsq_linear``: lsqcore against scipy, same run, interleaved.

Problems (each with bounds that are active at the solution, so that the
iterative methods run):

* dense Gaussian ``A`` of 3 x 2 (scipy's test problem), 50 x 8, 500 x 50
  and 2000 x 200, with a box of half-width 0.05 around 0, by trf (exact
  steps) and by BVLS;
* the same 500 x 50 by trf with LSMR steps;
* sparse random ``A`` of 5000 x 1000 (density 1 %, scipy's test problem)
  with the box ``[lb, lb + 1]``, by trf with LSMR steps, as a CSR matrix and
  as a ``LinearOperator``.

Each library's call is timed in turn (``--rounds`` rounds; each timing is
the best of ``--repeat`` loops of as many calls as fill ~0.2 s); the figure
is the median over the rounds, with the range.  Both solve the same
problem from the same data; the costs agree to the digits printed.

Usage: ``python benchmarks/lsq_linear.py [--rounds 5] [--repeat 3]``
"""
import argparse
import statistics

import numpy as np

from _timing import per_call          # benchmarks/_timing.py


def problems():
    import scipy.sparse as sp
    from scipy.sparse.linalg import aslinearoperator
    rng = np.random.default_rng(0)
    out = []
    A = np.array([[0.171, -0.057], [-0.049, -0.248], [-0.166, 0.054]])
    b = np.array([0.074, 1.014, -0.383])
    out.append(("dense 3x2", A, b, (np.array([0.0, -4.0]), np.array([1.0, 0.0])), ("trf", "bvls")))
    for m, n in [(50, 8), (500, 50), (2000, 200)]:
        A = rng.standard_normal((m, n))
        b = rng.standard_normal(m)
        box = (np.full(n, -0.05), np.full(n, 0.05))
        out.append((f"dense {m}x{n}", A, b, box, ("trf", "bvls")))
        if n == 50:
            out.append((f"dense {m}x{n}", A, b, box, ("trf lsmr",)))
    rs = np.random.RandomState(0)
    A = sp.random_array((5000, 1000), random_state=rs, format="csr")
    b = rs.randn(5000)
    lb = rs.randn(1000)
    out.append(("sparse 5000x1000", A, b, (lb, lb + 1.0), ("trf",)))
    out.append(("LinearOperator 5000x1000", aslinearoperator(A), b, (lb, lb + 1.0), ("trf",)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import scipy
    import numba
    import lsqcore
    from scipy.optimize import lsq_linear as scipy_lsq_linear
    print(f"numpy {np.__version__}, scipy {scipy.__version__}, numba {numba.__version__}")
    print(f"{'problem':<26}{'method':<10}{'lsqcore':>12}{'scipy':>12}{'speed-up':>22}"
          f"{'nit':>8}{'cost':>14}")
    for name, A, b, box, methods in problems():
        for method in methods:
            kw = dict(method="trf", lsq_solver="lsmr") if method == "trf lsmr" else dict(
                method=method)
            ours = lambda: lsqcore.lsq_linear(A, b, box, **kw)          # noqa: E731
            theirs = lambda: scipy_lsq_linear(A, b, box, **kw)          # noqa: E731
            t_ours, t_theirs = [], []
            for _ in range(args.rounds):
                t_ours.append(per_call(ours, args.repeat, 0.2))
                t_theirs.append(per_call(theirs, args.repeat, 0.2))
            ratios = [s / o for s, o in zip(t_theirs, t_ours)]
            r, q = ours(), theirs()
            med = statistics.median
            print(f"{name:<26}{method:<10}{_fmt(med(t_ours)):>12}{_fmt(med(t_theirs)):>12}"
                  f"{med(ratios):>9.1f}x [{min(ratios):.1f}-{max(ratios):.1f}]"
                  f"{r.nit:>5}/{q.nit:<3}{r.cost:>14.6e}")


def _fmt(t):
    return f"{t * 1e6:.0f} us" if t < 1e-3 else f"{t * 1e3:.1f} ms"


if __name__ == "__main__":
    main()
