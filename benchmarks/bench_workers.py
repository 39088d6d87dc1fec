"""``workers``: W3 (m = 200 000, n = 8) with difference points on Numba's threads.

    python benchmarks/bench_workers.py [rounds]

Each round times, interleaved in one process: scipy's trf and lm, and
lsqcore's trf and lm, serial and with ``workers=2`` and ``workers=-1``
(jitted residual, default 2-point differences).  Prints the medians and
ranges over the rounds and the per-round ratios' medians, checks that the
threaded solves are bitwise those of the serial ones, and writes
``benchmarks/bench_workers.json`` (recorded in docs/benchmarks.md).
"""
import json
import os
import platform
import sys
import time

import numba
import numpy as np
import scipy
from scipy.optimize import least_squares as scipy_ls

import lsqcore
from lsqcore._workloads import WORKLOADS

CASES = [("scipy", "trf", None), ("scipy", "lm", None)] + [
    ("lsqcore", method, workers) for method in ("trf", "lm") for workers in (None, 2, -1)]


def _run(w, solver, method, workers):
    if solver == "scipy":
        return scipy_ls(w.py_fun, w.x0, args=w.args, method=method)
    return lsqcore.least_squares(w.fun, w.x0, args=w.args, method=method, workers=workers)


def main(rounds=5):
    w = WORKLOADS["W3"]()
    first = {}
    for case in CASES:                       # compile, and the bitwise check
        res = _run(w, *case)
        first[case] = res
        if case[0] == "lsqcore" and case[2] is not None:
            serial = first[("lsqcore", case[1], None)]
            assert np.array_equal(res.x, serial.x) and res.cost == serial.cost
            assert np.array_equal(res.jac, serial.jac) and res.nfev == serial.nfev
    times = {case: [] for case in CASES}
    for _ in range(rounds):
        for case in CASES:
            t0 = time.perf_counter()
            _run(w, *case)
            times[case].append(time.perf_counter() - t0)
    out = dict(machine=platform.processor() or platform.machine(), cores=os.cpu_count(),
               numba_threads=numba.config.NUMBA_NUM_THREADS, versions=dict(
                   numpy=np.__version__, scipy=scipy.__version__, numba=numba.__version__,
                   python=platform.python_version()), rounds=rounds, cases={})
    for case in CASES:
        t = np.array(times[case])
        ref = np.array(times[("scipy", case[1], None)])
        key = f"{case[0]} {case[1]} workers={case[2]}"
        out["cases"][key] = dict(median_s=float(np.median(t)), min_s=float(t.min()),
                                 max_s=float(t.max()), nfev=int(first[case].nfev),
                                 vs_scipy_same_method=float(np.median(ref / t)))
        if case[0] == "lsqcore" and case[2] is not None:
            serial = np.array(times[("lsqcore", case[1], None)])
            out["cases"][key]["vs_serial"] = float(np.median(serial / t))
    for key, r in out["cases"].items():
        extra = f"  {r['vs_serial']:.2f}x serial" if "vs_serial" in r else ""
        print(f"{key:28s} {r['median_s'] * 1e3:8.1f} ms [{r['min_s'] * 1e3:.1f}, "
              f"{r['max_s'] * 1e3:.1f}]  nfev {r['nfev']:3d}  "
              f"{r['vs_scipy_same_method']:.2f}x scipy{extra}")
    path = os.path.join(os.path.dirname(__file__), "bench_workers.json")
    with open(path, "w") as fh:
        json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
