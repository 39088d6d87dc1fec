"""lsqcore against scipy and the Numba peers (scijit, lumafit) on W1-W4, in one process.

    python benchmarks/bench_peers.py [rounds]     (pip install scijit lumafit first)

Definitions (those of the speed issue's table; finite-difference Jacobians,
default tolerances):

* W1-W3 (:mod:`lsqcore._workloads`): one fit called from Python.  scipy's
  ``least_squares`` (trf, lm) on the plain-numpy residual; lsqcore's
  ``least_squares`` (trf, lm; W3 also with ``workers=2``) on the jitted
  residual; scijit's ``leastsq`` (MINPACK ``lmdif``) and lumafit's
  ``levenberg_marquardt_core`` each inside an ``@njit`` wrapper called from
  Python, on the same jitted functions.
* W4: 100 000 fits of W1's model (m = 30, n = 3) on every core:
  lsqcore's ``curve_fit_batch`` ('trf' and 'lm'), scijit's ``@njit``
  ``curve_fit`` in a ``prange`` loop, lumafit's
  ``levenberg_marquardt_pixelwise``; and a scipy ``curve_fit`` loop over
  2 000 rows, scaled (fits/s).

Each round runs every case once, in turn (W1/W2: the median of many calls
inside the round); the report gives the median and range over rounds and
the medians of the per-round ratios to scijit and scipy.  Results and the
machine go to ``benchmarks/bench_peers.json`` (docs/benchmarks.md).
Every solver's answer is checked against scipy's before timing (cost
within 1e-6 relative; W4: rows agreeing with scipy's curve_fit).
"""
import json
import os
import platform
import sys
import time
import warnings

import numba
import numpy as np
import scipy
from numba import njit
from scipy.optimize import curve_fit as sp_curve_fit
from scipy.optimize import least_squares as sp_least_squares

import lsqcore
from lsqcore._workloads import WORKLOADS, expdecay, w4_data, M4, W4_T as T4, W4_P0 as P04
from lsqcore.batch import curve_fit_batch

from _peers import luma_decay, scijit_fit_all   # benchmarks/_peers.py

try:
    from scijit.optimize import leastsq as sj_leastsq
except ImportError:          # pragma: no cover - optional peer
    sj_leastsq = None
try:
    import lumafit
except ImportError:          # pragma: no cover - optional peer
    lumafit = None


# -- the workloads' models in the form lumafit takes: y_hat = model(p, t)
@njit(cache=True)
def _m2(p, t):
    return p[0] * np.exp(-(t - p[1]) ** 2 / (2.0 * p[2] ** 2)) + p[3]


@njit(cache=True)
def _m3(p, t):
    return (p[0] * np.exp(-p[1] * t) + p[2] * np.exp(-p[3] * t)
            + p[4] * np.exp(-p[5] * t) + p[6] * np.exp(-p[7] * t))


LUMA_MODELS = {"W1": luma_decay, "W2": _m2, "W3": _m3}


def _single_cases(w):
    """``name -> (call, cost_of_answer)`` for one workload."""
    t, y = w.args
    cases = {
        "scipy trf": lambda: sp_least_squares(w.py_fun, w.x0, args=w.args).cost,
        "scipy lm": lambda: sp_least_squares(w.py_fun, w.x0, args=w.args, method="lm").cost,
        "lsqcore trf": lambda: lsqcore.least_squares(w.fun, w.x0, args=w.args).cost,
        "lsqcore lm": lambda: lsqcore.least_squares(w.fun, w.x0, args=w.args,
                                                    method="lm").cost,
    }
    if w.name == "W3":
        cases["lsqcore trf workers=2"] = lambda: lsqcore.least_squares(
            w.fun, w.x0, args=w.args, workers=2).cost
        cases["lsqcore lm workers=2"] = lambda: lsqcore.least_squares(
            w.fun, w.x0, args=w.args, method="lm", workers=2).cost
    if sj_leastsq is not None:
        fun = w.fun

        @njit
        def sj(x0, t, y):
            return sj_leastsq(fun, x0, args=(t, y))[0]
        cases["scijit"] = lambda: 0.5 * float(np.sum(w.fun(sj(w.x0, t, y), t, y) ** 2))
    if lumafit is not None:
        model = LUMA_MODELS[w.name]

        @njit
        def lf(x0, t, y):
            return lumafit.levenberg_marquardt_core(model, x0, y, None, args=(t,))[0]
        cases["lumafit"] = lambda: 0.5 * float(np.sum(w.fun(lf(w.x0, t, y), t, y) ** 2))
    return cases


def _time_single(call, budget):
    """Median seconds per call over about ``budget`` seconds (at least 3 calls)."""
    times = []
    t_end = time.perf_counter() + budget
    while len(times) < 3 or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


# -- W4 (lsqcore._workloads.w4_data) -------------------------------------------
K4 = 100_000
SCIPY_ROWS = 2000


def _w4_cases(Y):
    """``name -> call returning (fits, fitted parameters (rows, 3))``."""
    cases = {
        "lsqcore trf": lambda: (K4, curve_fit_batch(expdecay, T4, Y, p0=P04,
                                                    method="trf").x),
        "lsqcore lm": lambda: (K4, curve_fit_batch(expdecay, T4, Y, p0=P04,
                                                   method="lm").x),
    }

    def scipy_loop():
        X = np.full((SCIPY_ROWS, 3), np.nan)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for k in range(SCIPY_ROWS):
                try:
                    X[k] = sp_curve_fit(expdecay.py_func, T4, Y[k], p0=P04)[0]
                except RuntimeError:
                    pass
        return SCIPY_ROWS, X
    cases["scipy curve_fit loop"] = scipy_loop
    if sj_leastsq is not None:
        fit_all = scijit_fit_all(expdecay)
        out = np.empty((K4, 3))

        def scijit_all():
            fit_all(T4, Y, P04, out)
            return K4, out
        cases["scijit prange"] = scijit_all
    if lumafit is not None:
        Y3 = Y.reshape(K4, 1, M4)

        def luma_all():
            res = lumafit.levenberg_marquardt_pixelwise(luma_decay, P04.copy(), Y3,
                                                        args_for_each_pixel=(T4,))
            return K4, res[0].reshape(K4, 3)
        cases["lumafit pixelwise"] = luma_all
    return cases


def _agreement(X, ref):
    """Share of rows within 1e-4 (relative, 1e-6 absolute) of scipy's answer."""
    n = min(X.shape[0], ref.shape[0])
    ok = np.all(np.abs(X[:n] - ref[:n]) <= 1e-4 * np.abs(ref[:n]) + 1e-6, axis=1)
    return float(np.mean(ok[np.all(np.isfinite(ref[:n]), axis=1)]))


def main(rounds=5):
    single = {name: _single_cases(WORKLOADS[name]()) for name in ("W1", "W2", "W3")}
    checks = {}
    for name, cases in single.items():
        ref = cases["scipy trf"]()
        for case, call in cases.items():
            cost = call()                                   # compile + check
            checks[f"{name} {case}"] = float(abs(cost - ref) / ref)
    Y = w4_data(K4)[1]
    w4 = _w4_cases(Y)
    ref4 = w4["scipy curve_fit loop"]()[1]
    for case, call in w4.items():
        if case != "scipy curve_fit loop":
            call()
            checks[f"W4 {case}"] = _agreement(call()[1], ref4)
    times = {}
    for _ in range(rounds):
        for name, cases in single.items():
            budget = 0.3 if name != "W3" else 0.0
            for case, call in cases.items():
                times.setdefault((name, case), []).append(_time_single(call, budget))
        for case, call in w4.items():
            t0 = time.perf_counter()
            k, _ = call()
            times.setdefault(("W4", case), []).append(k / (time.perf_counter() - t0))
    _report(times, checks, rounds)


def _report(times, checks, rounds):
    out = dict(machine=dict(cpu=platform.processor() or platform.machine(),
                            cores=os.cpu_count(), load=os.getloadavg(),
                            numba_threads=numba.config.NUMBA_NUM_THREADS),
               versions=dict(python=platform.python_version(), numpy=np.__version__,
                             scipy=scipy.__version__, numba=numba.__version__,
                             lsqcore=lsqcore.__version__), rounds=rounds,
               checks=checks, cases={})
    for (name, case), v in times.items():
        v = np.array(v)
        row = dict(median=float(np.median(v)), min=float(v.min()), max=float(v.max()),
                   unit="fits/s" if name == "W4" else "s")
        for peer in ("scijit", "scipy trf", "scijit prange", "scipy curve_fit loop"):
            pv = times.get((name, peer))
            if pv is not None and peer != case:
                r = np.array(pv) / v if name != "W4" else v / np.array(pv)
                row[f"vs {peer}"] = float(np.median(r))
        out["cases"][f"{name} {case}"] = row
    for key, row in out["cases"].items():
        val = (f"{row['median'] * 1e6:10.1f} us" if row["unit"] == "s"
               else f"{row['median']:10.0f} fits/s")
        ratios = "  ".join(f"{k} {v:.2f}x" for k, v in row.items() if k.startswith("vs "))
        print(f"{key:28s} {val}  {ratios}")
    print("checks:", json.dumps(checks))
    with open(os.path.join(os.path.dirname(__file__), "bench_peers.json"), "w") as fh:
        json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
