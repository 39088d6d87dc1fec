"""``python -m lsqcore demo``: a real fit, side by side with scipy.

Fits the NIST StRD problem Thurber (a rational model of semiconductor
electron mobility, 37 observations, 7 parameters, "higher" difficulty) and
an exponential decay with a Numba-jitted residual, with lsqcore and with
``scipy.optimize.least_squares``, and prints the parameters, the costs, the
accuracy against NIST's certified values and the time per fit.
"""
import time

import numpy as np


def add_parser(sub):
    p = sub.add_parser("demo", help="fit a NIST problem with lsqcore and scipy, print a table")
    p.add_argument("--problem", default="Thurber", help="NIST StRD problem name (default Thurber)")
    p.add_argument("--repeat", type=int, default=20, help="timed repetitions (median)")


def _median_time(fn, repeat):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def run(args):
    import scipy
    import numba
    from scipy.optimize import least_squares as scipy_ls
    import lsqcore
    from lsqcore import problems

    P = problems.nist(args.problem)
    x0 = P.starts[0]
    opts = dict(ftol=1e-12, xtol=1e-12, gtol=1e-12, max_nfev=1000 * P.n)
    print(f"lsqcore {lsqcore.__version__} | scipy {scipy.__version__} | numba {numba.__version__}")
    print(f"Problem: NIST StRD {P.name} ({P.difficulty}), m = {P.m} observations, n = {P.n} "
          f"parameters, start 1, finite-difference Jacobian, ftol=xtol=gtol=1e-12\n")
    rows = []
    for method in ("trf", "lm"):
        r = lsqcore.least_squares(P.fun, x0, args=P.args, method=method, **opts)
        s = scipy_ls(P.fun, x0, args=P.args, method=method, **opts)
        t_l = _median_time(lambda: lsqcore.least_squares(P.fun, x0, args=P.args, method=method, **opts),
                           args.repeat)
        t_s = _median_time(lambda: scipy_ls(P.fun, x0, args=P.args, method=method, **opts),
                           max(3, args.repeat // 4))
        rows.append((method, r, s, t_l, t_s))

    head = f"{'param':>6} {'certified':>18}" + "".join(
        f" {'lsqcore ' + m:>18} {'scipy ' + m:>18}" for m, *_ in rows)
    print(head)
    print("-" * len(head))
    for j in range(P.n):
        line = f"{'b%d' % (j + 1):>6} {P.x_star[j]:>18.10e}"
        for _, r, s, _, _ in rows:
            line += f" {r.x[j]:>18.10e} {s.x[j]:>18.10e}"
        print(line)
    print("-" * len(head))
    for label, get in (("cost", lambda o: f"{o.cost:.10e}"),
                       ("min LRE", lambda o: f"{P.lre(o.x):.2f}"),
                       ("nfev", lambda o: str(o.nfev)),
                       ("status", lambda o: str(o.status))):
        line = f"{label:>6} {'':>18}"
        for _, r, s, _, _ in rows:
            line += f" {get(r):>18} {get(s):>18}"
        print(line)
    line = f"{'time':>6} {'':>18}"
    for _, r, s, t_l, t_s in rows:
        line += f" {t_l * 1e6:>16.0f}us {t_s * 1e6:>16.0f}us"
    print(line)
    print()
    for m, r, s, t_l, t_s in rows:
        print(f"{m}: lsqcore is {t_s / t_l:.1f}x faster than scipy; certified cost "
              f"{P.cost_star:.10e}, lsqcore {r.cost:.10e}, scipy {s.cost:.10e}")
    return 0
