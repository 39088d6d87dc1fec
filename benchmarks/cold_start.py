"""Cold-start times, each measured in a fresh process (issue 3).

Three numbers, as a user meets them:

1. warm disk cache: ``import lsqcore`` plus the first W1 fit with a new
   jitted residual (the kernel comes from Numba's disk cache; only the
   residual and its small driver are compiled);
2. a second, new jitted model in the same process (its own compile only);
3. empty cache (first use after installation): the same as 1 with
   ``NUMBA_CACHE_DIR`` pointing at an empty directory, so the whole kernel is
   compiled.

Run::

    python benchmarks/cold_start.py            # all three
    python benchmarks/cold_start.py --skip-empty

The figures go into docs/benchmarks.md.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import time, json
t0 = time.perf_counter()
import numpy as np
import numba
import lsqcore
t_import = time.perf_counter() - t0

@numba.njit
def f1(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] - y

@numba.njit
def f2(p, t, y):
    return p[0] / (1.0 + p[1] * t) + p[2] - y

t = np.linspace(0, 4, 50)
y = 2.5 * np.exp(-1.3 * t) + 0.5
t1 = time.perf_counter()
r = lsqcore.least_squares(f1, np.array([1.0, 1.0, 0.0]), args=(t, y))
t_first = time.perf_counter() - t1
t2 = time.perf_counter()
r2 = lsqcore.least_squares(f2, np.array([1.0, 1.0, 0.0]), args=(t, y))
t_second = time.perf_counter() - t2
print(json.dumps(dict(import_s=t_import, first_fit_s=t_first, import_plus_first_s=t_import + t_first,
                      second_model_s=t_second, status=int(r.status))))
"""


def measure(env):
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-empty", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    env = dict(os.environ)
    measure(env)                      # make sure the default cache is warm
    warm = [measure(env) for _ in range(a.repeat)]
    best = min(warm, key=lambda d: d["import_plus_first_s"])
    print(f"warm cache : import {best['import_s']:.2f} s + first W1 fit {best['first_fit_s']:.2f} s"
          f" = {best['import_plus_first_s']:.2f} s; second new model +{best['second_model_s']:.2f} s")
    if not a.skip_empty:
        with tempfile.TemporaryDirectory() as d:
            env_empty = dict(env, NUMBA_CACHE_DIR=d)
            cold = measure(env_empty)
        print(f"empty cache: import {cold['import_s']:.2f} s + first W1 fit "
              f"{cold['first_fit_s']:.2f} s = {cold['import_plus_first_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
