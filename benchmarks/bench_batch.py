"""Issue 6 benchmarks: W4, 100000 independent exp-decay fits on every CPU core.

W4 (``../shared/design.md``): ``y = a exp(-b t) + c``, m = 30, n = 3,
100000 rows with their own parameters and noise.  Everything is measured
in the same run:

* lsqcore ``curve_fit_batch`` (method 'lm', the curve_fit default, and
  'trf'; allocating and in-place model; FD and analytic Jacobian) on 1 and
  2 threads;
* a scipy ``curve_fit`` loop (MINPACK lm) and a scipy ``least_squares``
  (trf) loop -- design.md's W4 anchor -- on a subset (``W4_SCIPY_ROWS``
  rows), scaled to fits/s; curve_fit's answers are the agreement reference
  (>= 99.9 % of rows);
* the Numba peers from PyPI, when installed (benchmark-only, not
  dependencies): lumafit's ``levenberg_marquardt_pixelwise`` and scijit's
  ``@njit`` ``curve_fit`` in a ``prange`` loop;
* peak memory of the lsqcore W4 call (tracemalloc: numpy buffers) and the
  process's maximum resident set size.

Run::

    python -m pytest benchmarks/bench_batch.py --benchmark-enable -s

Each compiled variant costs tens of seconds to compile once (not timed:
every timed call is preceded by a warm-up call).  The summary printed at
the end (and written to ``benchmarks/bench_batch.json``) is what
docs/benchmarks.md records.
"""
import json
import os
import platform
import resource
import subprocess
import time
import tracemalloc
import warnings

import numba
import numpy as np
import pytest
import scipy
from scipy.optimize import curve_fit as sp_curve_fit, least_squares as sp_least_squares

import lsqcore
from lsqcore.batch import curve_fit_batch
# the W4 model (allocating, in place, its Jacobian) and data
from lsqcore._workloads import (expdecay, expdecay_ip, expdecay_jac_ip, w4_data, M4 as M,
                                W4_T as T, W4_P0 as P0)

from _peers import luma_decay, scijit_fit_all   # benchmarks/_peers.py

K = int(os.environ.get("W4_ROWS", 100000))
W4_SCIPY_ROWS = int(os.environ.get("W4_SCIPY_ROWS", 2000))
THREADS = [t for t in (1, 2) if t <= numba.config.NUMBA_NUM_THREADS]
RESULTS = {}

P_TRUE, Y = w4_data(K)


def timed(fn, repeat=3):
    """Best wall time of ``repeat`` calls (the machine is shared: best is fairest)."""
    best = float("inf")
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


@pytest.fixture(scope="module")
def scipy_ref():
    """scipy curve_fit (lm, its default) on the first W4_SCIPY_ROWS rows."""
    rows = W4_SCIPY_ROWS
    X = np.full((rows, 3), np.nan)
    ok = np.zeros(rows, bool)

    def run():
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for k in range(rows):
                try:
                    X[k] = sp_curve_fit(expdecay.py_func, T, Y[k], p0=P0)[0]
                    ok[k] = True
                except RuntimeError:
                    pass
        return X

    dt, _ = timed(run, repeat=1)
    RESULTS["scipy_curve_fit_loop"] = dict(rows=rows, seconds=dt, fits_per_s=rows / dt)
    # design.md's W4 anchor: a loop over scipy.optimize.least_squares (trf)
    def run_ls():
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for k in range(rows):
                sp_least_squares(_resid_py, P0, args=(T, Y[k]))

    dt, _ = timed(run_ls, repeat=1)
    RESULTS["scipy_least_squares_trf_loop"] = dict(rows=rows, seconds=dt, fits_per_s=rows / dt)
    return X, ok


def _resid_py(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] - y


def _agreement(X, ref, ok):
    """Fraction of the reference rows where lsqcore agrees with scipy."""
    rows = ref.shape[0]
    close = np.all(np.abs(X[:rows] - ref) <= 1e-4 * np.abs(ref) + 1e-6, axis=1)
    return float(np.mean(close[ok])) if ok.any() else float("nan")


VARIANTS = {
    "lm": dict(f=expdecay, method="lm"),
    "trf": dict(f=expdecay, method="trf"),
    "lm_inplace": dict(f=expdecay_ip, method="lm", inplace=True),
    "lm_inplace_jac": dict(f=expdecay_ip, method="lm", inplace=True, jac=expdecay_jac_ip),
}


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_w4_lsqcore(benchmark, variant, threads, scipy_ref):
    kw = dict(VARIANTS[variant])
    f = kw.pop("f")

    def run():
        return curve_fit_batch(f, T, Y, p0=P0, threads=threads, progress=False, **kw)

    t0 = time.perf_counter()
    curve_fit_batch(f, T, Y[:64], p0=P0, threads=threads, progress=False, **kw)
    compile_s = time.perf_counter() - t0
    res = benchmark.pedantic(run, rounds=3, iterations=1)
    dt = benchmark.stats.stats.min
    ref, ok = scipy_ref
    agree = _agreement(res.x, ref, ok)
    sp = RESULTS["scipy_curve_fit_loop"]["fits_per_s"]
    sp_ls = RESULTS["scipy_least_squares_trf_loop"]["fits_per_s"]
    RESULTS[f"lsqcore_{variant}_{threads}t"] = dict(
        fits_per_s=K / dt, seconds=dt, vs_scipy_curve_fit=(K / dt) / sp,
        vs_scipy_least_squares=(K / dt) / sp_ls, agree_with_scipy=agree,
        success=float(np.mean(res.success)), first_call_s=compile_s)
    assert agree >= 0.999, agree


def test_w4_peak_memory():
    """Peak traced (numpy) memory and max RSS of one W4 call, 2 threads."""
    curve_fit_batch(expdecay, T, Y[:64], p0=P0, progress=False)
    tracemalloc.start()
    res = curve_fit_batch(expdecay, T, Y, p0=P0, progress=False, return_stderr=True)
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    RESULTS["w4_memory"] = dict(
        tracemalloc_peak_mb=peak / 2**20, results_mb=sum(
            a.nbytes for a in (res.x, res.cost, res.status, res.nfev, res.njev, res.nit,
                               res.optimality, res.stderr, res.success)) / 2**20,
        input_mb=Y.nbytes / 2**20,
        maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


# ------------------------------------------------------------------ peers

def test_w4_lumafit(scipy_ref):
    try:
        import lumafit
    except Exception as e:  # noqa: BLE001
        RESULTS["lumafit"] = dict(error=f"{type(e).__name__}: {e}")
        pytest.skip(f"lumafit unavailable: {e}")
    Y3 = Y.reshape(K, 1, M)

    def run():
        return lumafit.levenberg_marquardt_pixelwise(luma_decay, P0.copy(), Y3,
                                                     args_for_each_pixel=(T,))

    lumafit.levenberg_marquardt_pixelwise(luma_decay, P0.copy(), Y3[:64],
                                          args_for_each_pixel=(T,))
    dt, out = timed(run, repeat=2)
    X = out[0].reshape(K, 3)
    ref, ok = scipy_ref
    RESULTS["lumafit"] = dict(version=lumafit.__version__, fits_per_s=K / dt, seconds=dt,
                              agree_with_scipy=_agreement(X, ref, ok),
                              threads=numba.get_num_threads())


def test_w4_scijit(scipy_ref):
    try:
        import scijit
        fit_all = scijit_fit_all(expdecay)
    except Exception as e:  # noqa: BLE001
        RESULTS["scijit"] = dict(error=f"{type(e).__name__}: {e}")
        pytest.skip(f"scijit unavailable: {e}")

    out = np.empty((K, 3))
    fit_all(T, Y[:64], P0, out[:64])
    dt, _ = timed(lambda: fit_all(T, Y, P0, out), repeat=2)
    ref, ok = scipy_ref
    RESULTS["scijit"] = dict(version=getattr(scijit, "__version__", "?"), fits_per_s=K / dt,
                             seconds=dt, agree_with_scipy=_agreement(out, ref, ok),
                             threads=numba.get_num_threads())


# ------------------------------------------------------------------ summary

def _cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def test_zz_summary():
    RESULTS["machine"] = dict(cpu=_cpu_model(), cores=os.cpu_count(),
                              numba_threads=numba.config.NUMBA_NUM_THREADS,
                              load_avg=os.getloadavg())
    RESULTS["versions"] = dict(python=platform.python_version(), numpy=np.__version__,
                               numba=numba.__version__, scipy=scipy.__version__,
                               lsqcore=lsqcore.__version__)
    RESULTS["K"] = K
    path = os.path.join(os.path.dirname(__file__), "bench_batch.json")
    with open(path, "w") as fh:
        json.dump(RESULTS, fh, indent=1, default=float)
    print("\n" + json.dumps(RESULTS, indent=1, default=float))
