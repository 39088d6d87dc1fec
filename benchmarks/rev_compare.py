"""W1 (jitted and Python residual) and W4 of several source trees in the same run.

    python benchmarks/rev_compare.py DIR [DIR ...] [--rounds 5] [--rows 20000]

Each ``DIR`` is a checkout of lsqcore (e.g. ``git clone`` at another
commit).  Every round runs each tree once, in its own process, in turn
(interleaved, so that the machine's load drifts over all of them alike),
after one warm-up round that fills each tree's Numba cache.  One process
measures:

* ``w1_jit_us``: the time of one call of ``least_squares`` on W1
  (exponential decay, 30 points, 'trf', 2-point differences) with the
  jitted residual: the least of the medians of 5 bursts of 300 calls;
* ``w1_py_us``: the same with a plain-Python residual (bursts of 100);
* ``w4_fits_s``: ``curve_fit_batch`` of W4 (the same model over ``--rows``
  rows, 'lm', 2 threads), the best of 3 calls.

Prints the median and range over the rounds for each tree and each figure,
and the ratios of each tree's median and best round to the first tree's
(a shared machine's noise only ever slows a round down).
"""
import argparse
import json
import os
import subprocess
import sys

SNIPPET = r"""
import json, time, warnings
import numpy as np
import lsqcore
from lsqcore import least_squares
from lsqcore.batch import curve_fit_batch
from lsqcore._workloads import expdecay
rows = int(ROWS)
T = np.linspace(0.0, 4.0, 30)
rng = np.random.default_rng(0)
Y = 2.0 * np.exp(-1.3 * T) + 0.5 + 0.01 * rng.standard_normal(30)
x0 = np.array([1.0, 1.0, 0.0])
from numba import njit
@njit
def resid(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] - y
def resid_py(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] - y
out = {}
def med(f, k):
    # the median of each of 5 bursts of k calls, and the least of those: a burst
    # that a neighbour's load slowed is not the one reported
    f()
    bursts = []
    for _ in range(5):
        ts = []
        for _ in range(k):
            t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
        bursts.append(float(np.median(ts)) * 1e6)
    return min(bursts)
out["w1_jit_us"] = med(lambda: least_squares(resid, x0, args=(T, Y)), 300)
out["w1_py_us"] = med(lambda: least_squares(resid_py, x0, args=(T, Y)), 100)
P = np.array([2.0, 1.3, 0.5]) * (1 + 0.1 * rng.standard_normal((rows, 3)))
YB = P[:, :1] * np.exp(-P[:, 1:2] * T) + P[:, 2:] + 0.01 * rng.standard_normal((rows, 30))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    curve_fit_batch(expdecay, T, YB[:64], p0=[1.0, 1.0, 0.0], method="lm", threads=2,
                    progress=False)
    best = 1e9
    for _ in range(3):
        t0 = time.perf_counter()
        curve_fit_batch(expdecay, T, YB, p0=[1.0, 1.0, 0.0], method="lm", threads=2,
                        progress=False)
        best = min(best, time.perf_counter() - t0)
out["w4_fits_s"] = rows / best
print("RESULT " + json.dumps(out))
"""


def run(tree, rows):
    env = dict(os.environ, PYTHONPATH=tree)
    p = subprocess.run([sys.executable, "-c", SNIPPET.replace("ROWS", str(rows))],
                       capture_output=True, text=True, env=env, cwd=tree, timeout=1800)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{tree}: {p.stderr[-2000:]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trees", nargs="+")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rows", type=int, default=20000)
    a = ap.parse_args()
    for t in a.trees:
        run(t, 256)                     # warm-up: compile into each tree's cache
    res = {t: [] for t in a.trees}
    for r in range(a.rounds):
        for t in a.trees:
            res[t].append(run(t, a.rows))
            print(f"round {r} {t} {res[t][-1]}", file=sys.stderr, flush=True)
    import numpy as np
    base = a.trees[0]
    for key in ("w1_jit_us", "w1_py_us", "w4_fits_s"):
        # the machine's noise only slows a round: the best round is the
        # least disturbed one, and is reported next to the median
        best = max if key == "w4_fits_s" else min
        b = np.median([x[key] for x in res[base]])
        bb = best(x[key] for x in res[base])
        for t in a.trees:
            v = [x[key] for x in res[t]]
            m = np.median(v)
            print(f"{key:10s} {t:30s} median {m:10.1f}  range {min(v):10.1f} .. {max(v):10.1f}"
                  f"  vs first: median {m / b:6.3f}, best {best(v) / bb:6.3f}")


if __name__ == "__main__":
    main()
