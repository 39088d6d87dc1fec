"""``python -m lsqcore speed``: W1-W3 against scipy, side by side.

For each workload and method prints the lsqcore time (median of repeated
calls, jitted and plain-Python residuals), scipy's time measured in the same
run, the ratio and both final costs.
"""
import numpy as np

from .demo import _median_time as _median


def add_parser(sub):
    p = sub.add_parser("speed", help="time the W1-W3 workloads against scipy")
    p.add_argument("--workloads", default="W1,W2,W3")
    p.add_argument("--methods", default="trf,lm")
    p.add_argument("--repeat", type=int, default=0,
                   help="timed calls per entry (0: by workload size)")


def run(args):
    import scipy
    import numba
    from scipy.optimize import least_squares as scipy_ls
    import lsqcore
    from lsqcore._workloads import WORKLOADS

    print(f"lsqcore {lsqcore.__version__} | numba {numba.__version__} | numpy "
          f"{np.__version__} | scipy {scipy.__version__}")
    head = (f"{'workload':<38}{'method':<7}{'residual':<9}{'lsqcore':>12}{'scipy':>12}"
            f"{'ratio':>9}{'lsqcore cost':>16}{'scipy cost':>16}")
    print(head)
    print("-" * len(head))
    for name in args.workloads.split(","):
        w = WORKLOADS[name]()
        reps = args.repeat or (200 if w.m <= 100 else 20 if w.m <= 5000 else 3)
        for method in args.methods.split(","):
            s_res = scipy_ls(w.py_fun, w.x0, args=w.args, method=method)
            t_s = _median(lambda: scipy_ls(w.py_fun, w.x0, args=w.args, method=method),
                          max(2, reps // 10))
            for label, fun in (("jitted", w.fun), ("python", w.py_fun)):
                if label == "python" and w.m > 5000:
                    continue
                r = lsqcore.least_squares(fun, w.x0, args=w.args, method=method)
                t_l = _median(lambda: lsqcore.least_squares(fun, w.x0, args=w.args,
                                                            method=method), reps)
                print(f"{w.name + ' ' + w.description:<38}{method:<7}{label:<9}"
                      f"{t_l * 1e6:>10.0f}us{t_s * 1e6:>10.0f}us{t_s / t_l:>8.1f}x"
                      f"{r.cost:>16.8e}{s_res.cost:>16.8e}")
    return 0
