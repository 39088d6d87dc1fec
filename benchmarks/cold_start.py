"""Cold-start times, each measured in a fresh process (issue 3).

Three numbers, as a user meets them:

1. warm disk cache: ``import lsqcore`` plus the first W1 fit with a new
   jitted residual (the kernel comes from Numba's disk cache; only the
   residual and its small driver are compiled);
2. a second, new jitted model in the same process (its own compile only);
3. empty cache (first use after installation): the same as 1 with
   ``NUMBA_CACHE_DIR`` pointing at an empty directory, so the whole kernel is
   compiled;
4. an already-seen model (issue 14): a model module on disk (``@njit(cache=True)``
   residual and ``jac``, as in a user's script) fitted once to fill the cache,
   then in new processes: ``import lsqcore`` and the first fit with the
   residual alone, and with residual and ``jac``.

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


MODEL = r"""
import numpy as np
from numba import njit

@njit(cache=True)
def resid(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] - y

@njit(cache=True)
def jac(p, t, y):
    J = np.empty((t.size, 3))
    e = np.exp(-p[1] * t)
    J[:, 0] = e
    J[:, 1] = -p[0] * t * e
    J[:, 2] = 1.0
    return J
"""

SEEN = r"""
import time, json, sys
t0 = time.perf_counter()
import numpy as np
import lsqcore
t_import = time.perf_counter() - t0
from model import resid, jac
t = np.linspace(0, 4, 50)
y = 2.5 * np.exp(-1.3 * t) + 0.5
kw = dict(jac=jac) if sys.argv[1] == "jac" else {}
t1 = time.perf_counter()
r = lsqcore.least_squares(resid, np.array([1.0, 1.0, 0.0]), args=(t, y), **kw)
print(json.dumps(dict(import_s=t_import, first_fit_s=time.perf_counter() - t1,
                      status=int(r.status))))
"""


def measure_seen(env, repeat):
    """Item 4 of the module docstring: ``{'model': [...], 'jac': [...]}`` of
    ``(import_s, first_fit_s)`` per new process."""
    out = {}
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "model.py"), "w") as fh:
            fh.write(MODEL)
        env = dict(env, PYTHONPATH=os.pathsep.join(
            [d, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]))
        for kind in ("model", "jac"):
            runs = []
            for i in range(repeat + 1):            # the first run fills the cache
                r = subprocess.run([sys.executable, "-c", SEEN, kind], env=env, cwd=d,
                                   capture_output=True, text=True, check=True)
                if i:
                    v = json.loads(r.stdout.strip().splitlines()[-1])
                    runs.append((v["import_s"], v["first_fit_s"]))
            out[kind] = runs
    return out


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
    seen = measure_seen(env, a.repeat)
    for kind, label in (("model", "residual"), ("jac", "residual + jac")):
        fits = sorted(f for _, f in seen[kind])
        imps = sorted(i for i, _ in seen[kind])
        print(f"seen model ({label}), new process: first fit median "
              f"{fits[len(fits) // 2]:.3f} s (range {fits[0]:.3f}-{fits[-1]:.3f}); "
              f"import lsqcore median {imps[len(imps) // 2]:.2f} s "
              f"({len(fits)} processes)")
    if not a.skip_empty:
        with tempfile.TemporaryDirectory() as d:
            env_empty = dict(env, NUMBA_CACHE_DIR=d)
            cold = measure(env_empty)
        print(f"empty cache: import {cold['import_s']:.2f} s + first W1 fit "
              f"{cold['first_fit_s']:.2f} s = {cold['import_plus_first_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
