"""dogbox against lsqcore's trf and scipy's dogbox, W1 and W2, in one run.

    python benchmarks/bench_dogbox.py [--rounds 7] [--json out.json]

Each round times, back to back and in a rotating order, every solver on
every workload (lsqcore with the jitted residual, scipy with the same model
in numpy, both with their default 2-point differences): the best of ``reps``
calls per solver and round, after a warm-up call.  Reported per workload:
the median over rounds and the range of ``dogbox / trf`` (lsqcore) and of
``scipy dogbox / lsqcore dogbox``.  Interleaving keeps the shared machine's
drift out of the ratios.
"""
import argparse
import json
import platform

import numba
import numpy as np
import scipy
from scipy.optimize import least_squares as scipy_ls

import lsqcore
from lsqcore._workloads import WORKLOADS

from _timing import best_of          # benchmarks/_timing.py

SOLVERS = {
    "lsqcore trf": lambda w: lsqcore.least_squares(w.fun, w.x0, args=w.args, method="trf"),
    "lsqcore dogbox": lambda w: lsqcore.least_squares(w.fun, w.x0, args=w.args,
                                                      method="dogbox"),
    "scipy dogbox": lambda w: scipy_ls(w.py_fun, w.x0, args=w.args, method="dogbox"),
    "scipy trf": lambda w: scipy_ls(w.py_fun, w.x0, args=w.args, method="trf"),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    reps = {"W1": 200, "W2": 20}
    times = {(w, s): [] for w in reps for s in SOLVERS}
    for name in reps:
        w = WORKLOADS[name]()
        for s, solve in SOLVERS.items():
            r = solve(w)
            assert r.success, (name, s, r.message)
    for k in range(a.rounds):
        for name in reps:
            w = WORKLOADS[name]()
            order = list(SOLVERS)
            order = order[k % len(order):] + order[:k % len(order)]
            for s in order:
                n = reps[name] if s.startswith("lsqcore") else max(2, reps[name] // 20)
                times[(name, s)].append(best_of(lambda: SOLVERS[s](w), n))
    out = dict(machine=platform.processor() or platform.machine(), python=platform.python_version(),
               numpy=np.__version__, scipy=scipy.__version__, numba=numba.__version__,
               rounds=a.rounds, workloads={})
    for name in reps:
        t = {s: np.array(times[(name, s)]) for s in SOLVERS}
        r_trf = t["lsqcore dogbox"] / t["lsqcore trf"]
        r_scipy = t["scipy dogbox"] / t["lsqcore dogbox"]
        row = dict(median_us={s: float(np.median(v) * 1e6) for s, v in t.items()},
                   dogbox_over_trf=[float(np.median(r_trf)), float(r_trf.min()), float(r_trf.max())],
                   scipy_dogbox_over_lsqcore_dogbox=[float(np.median(r_scipy)),
                                                     float(r_scipy.min()), float(r_scipy.max())])
        out["workloads"][name] = row
        print(f"{name}: " + ", ".join(f"{s} {v:.1f} us" for s, v in row["median_us"].items()))
        print(f"    dogbox / trf (lsqcore): median {row['dogbox_over_trf'][0]:.3f} "
              f"[{row['dogbox_over_trf'][1]:.3f}, {row['dogbox_over_trf'][2]:.3f}]")
        print(f"    scipy dogbox / lsqcore dogbox: median "
              f"{row['scipy_dogbox_over_lsqcore_dogbox'][0]:.1f} "
              f"[{row['scipy_dogbox_over_lsqcore_dogbox'][1]:.1f}, "
              f"{row['scipy_dogbox_over_lsqcore_dogbox'][2]:.1f}]")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
