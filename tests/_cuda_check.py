"""Row-by-row comparison of the GPU batch path with the CPU batch path.

Run as a script (by tests/test_cuda.py, in a subprocess so that
``NUMBA_ENABLE_CUDASIM`` can be set before ``numba.cuda`` is imported):

    NUMBA_ENABLE_CUDASIM=1 python tests/_cuda_check.py K   # simulator
    python tests/_cuda_check.py K [float32]                 # a real GPU
    NUMBA_ENABLE_CUDASIM=1 python tests/_cuda_check.py K general

Prints one JSON object per configuration: statuses equal, the largest
relative parameter difference over the rows where both converged, etc.
The default suite is curve_fit_batch with the in-place model; ``general``
is least_squares_batch with lsqcore.InPlace residuals (per-row array and
scalar arguments, an in-place Jacobian, device arrays, a well- and an
ill-conditioned problem, each also against scipy), and curve_fit_batch
with the ordinary model ``f(x, *p) -> array`` (evaluated point by point on
the GPU) including ``nan_policy='omit'``.
"""
import json
import math
import sys
import warnings

import numpy as np
from numba import njit

from scipy.optimize import least_squares as sp_least_squares

from lsqcore import InPlace
from lsqcore.batch import curve_fit_batch, least_squares_batch
from lsqcore.batch._result import NO_RESULT
from lsqcore._workloads import expdecay as expdecay_alloc

M = 30
T = np.linspace(0.0, 4.0, M)


@njit(cache=True)
def expdecay(x, a, b, c, out):
    for i in range(x.shape[0]):
        out[i] = a * math.exp(-b * x[i]) + c


@njit(cache=True)
def expdecay_jac(x, a, b, c, out):
    for i in range(x.shape[0]):
        e = math.exp(-b * x[i])
        out[i, 0] = e
        out[i, 1] = -a * x[i] * e
        out[i, 2] = 1.0


def data(K, seed=8):
    rng = np.random.default_rng(seed)
    P = np.column_stack([rng.uniform(1, 3, K), rng.uniform(0.5, 2, K),
                         rng.uniform(-0.5, 0.5, K)])
    Y = P[:, :1] * np.exp(-P[:, 1:2] * T) + P[:, 2:3] + 0.05 * rng.standard_normal((K, M))
    if K > 3:
        Y[3, 7] = np.nan                 # NONFINITE_START on both paths
    return P, Y


CONFIGS = {
    "lm_fd": dict(method="lm"),
    "lm_jac": dict(method="lm", jac=expdecay_jac),
    "trf_bounds_fd": dict(method="trf", bounds=([0.0, 0.0, -5.0], [10.0, 1.5, 5.0])),
    "trf_3point_stderr": dict(method="trf", jac="3-point", return_stderr=True),
    "trf_huber_maxnfev": dict(method="trf", loss="huber", f_scale=0.1, max_nfev=5),
    "dogbox_bounds_fd": dict(method="dogbox", bounds=([0.0, 0.0, -5.0], [10.0, 1.5, 5.0])),
}


def compare(K, dtype=np.float64, names=None):
    P, Y = data(K)
    sig = np.full(M, 0.5)
    out = {}
    for name, kw in CONFIGS.items():
        if names and name not in names:
            continue
        common = dict(p0=[1.0, 1.0, 0.0], sigma=sig, inplace=True, **kw)
        rc = curve_fit_batch(expdecay, T, Y, **common)
        gkw = dict(common)
        if dtype == np.float32:
            gkw.update(ftol=1e-5, xtol=1e-5, gtol=1e-5)
        with warnings.catch_warnings():
            # numba-cuda warns about low occupancy for these tiny grids
            warnings.simplefilter("ignore")
            rg = curve_fit_batch(expdecay, T, Y, device="cuda", dtype=dtype, **gkw)
        both = (rc.status > 0) & (rg.status > 0)
        rel = np.abs(rg.x[both] - rc.x[both]) / np.maximum(np.abs(rc.x[both]), 1e-300)
        row = dict(
            K=K, dtype=np.dtype(dtype).name, status_equal=float(np.mean(rc.status == rg.status)),
            statuses_cpu=sorted(set(rc.status.tolist())),
            statuses_gpu=sorted(set(rg.status.tolist())),
            both_converged=int(both.sum()),
            max_rel=float(rel.max()) if rel.size else 0.0,
            frac_rel_1e10=float(np.mean(rel.max(axis=1) <= 1e-10)) if rel.size else 1.0,
            frac_rel_1e3=float(np.mean(rel.max(axis=1) <= 1e-3)) if rel.size else 1.0,
            nfev_equal=float(np.mean(rc.nfev == rg.nfev)),
            unfitted_nan=min(_unfitted_nan(rc), _unfitted_nan(rg)),
            cost_rel=float(np.max(np.abs(rg.cost[both] - rc.cost[both])
                                  / np.maximum(rc.cost[both], 1e-300))) if both.any() else 0.0)
        if rc.stderr is not None:
            ok = both & np.all(np.isfinite(rc.stderr), axis=1)
            row["stderr_rel"] = float(np.max(np.abs(rg.stderr[ok] - rc.stderr[ok])
                                             / rc.stderr[ok])) if ok.any() else 0.0
        out[name] = row
    return out


# ---------------------------------------------------------------- general suite

@njit(cache=True)
def decay_ip(p, out, t, y, w):
    """In-place residual, with a per-row scalar weight ``w``."""
    for i in range(t.shape[0]):
        out[i] = (p[0] * math.exp(-p[1] * t[i]) + p[2] - y[i]) * w


@njit(cache=True)
def decay_jac_ip(p, out, t, y, w):
    for i in range(t.shape[0]):
        e = math.exp(-p[1] * t[i])
        out[i, 0] = w * e
        out[i, 1] = -w * p[0] * t[i] * e
        out[i, 2] = w


def _rows_vs(rc, rg):
    both = (rc.status > 0) & (rg.status > 0)
    rel = np.abs(rg.x[both] - rc.x[both]) / np.maximum(np.abs(rc.x[both]), 1e-300)
    row = dict(status_equal=float(np.mean(rc.status == rg.status)),
               statuses_cpu=sorted(set(rc.status.tolist())),
               statuses_gpu=sorted(set(rg.status.tolist())),
               both_converged=int(both.sum()),
               max_rel=float(rel.max()) if rel.size else 0.0,
               frac_rel_1e3=float(np.mean(rel.max(axis=1) <= 1e-3)) if rel.size else 1.0,
               nfev_equal=float(np.mean(rc.nfev == rg.nfev)),
               unfitted_nan=min(_unfitted_nan(rc), _unfitted_nan(rg)),
               cost_rel=float(np.max(np.abs(rg.cost[both] - rc.cost[both])
                                     / np.maximum(rc.cost[both], 1e-300))) if both.any() else 0.0)
    for f in ("pcov", "stderr"):
        a, b = getattr(rc, f), getattr(rg, f)
        if a is not None:
            ok = both & np.all(np.isfinite(a.reshape(len(a), -1)), axis=1)
            row[f + "_rel"] = float(np.max(np.abs(b[ok] - a[ok]) / np.maximum(np.abs(a[ok]), 1e-300)))
    return row


def _vs_scipy(rg, fun, X0, rows_args, **kw):
    """Largest relative x difference and relative cost excess against scipy."""
    xr, cr = [], []
    for k in range(len(X0)):
        if rg.status[k] <= 0:
            continue
        ref = sp_least_squares(fun, X0[k], args=rows_args(k), **kw)
        xr.append(float(np.max(np.abs(rg.x[k] - ref.x) / np.maximum(np.abs(ref.x), 1e-12))))
        cr.append(float((rg.cost[k] - ref.cost) / max(ref.cost, 1e-300)))
    return dict(sp_rows=len(xr), sp_max_rel=max(xr), sp_cost_excess=max(cr))


def _py_decay(p, t, y, w):
    return (p[0] * np.exp(-p[1] * t) + p[2] - y) * w


def general(K, dtype=np.float64):
    from lsqcore.batch.cuda import _import_cuda
    cuda = _import_cuda()
    P, Y = data(K)                     # row 3 has a NaN: NONFINITE_START on both paths
    rng = np.random.default_rng(9)
    w = rng.uniform(0.5, 2.0, K)       # per-row scalar: args[2][k]
    X0 = np.tile([1.0, 1.0, 0.0], (K, 1))
    X0[5] = [0.5, 3.0, 0.2]            # a per-row start
    gk = dict(device="cuda", dtype=dtype)
    if dtype == np.float32:
        gk.update(ftol=1e-5, xtol=1e-5, gtol=1e-5)
    out = {}

    def run(name, fun, x0, args, scipy_args=None, scipy_kw=None, **kw):
        rc = least_squares_batch(fun, x0, args=args if scipy_args is None else scipy_args[0],
                                 threads=1, progress=False, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rg = least_squares_batch(fun, x0, args=args, **gk, **kw)
        row = _rows_vs(rc, rg)
        if scipy_kw is not None:
            Tn, Yn, wn = scipy_args[0] if scipy_args else args
            row.update(_vs_scipy(rg, _py_decay, x0, lambda k: (Tn, Yn[k], wn[k]), **scipy_kw))
        out[name] = row

    fun = InPlace(decay_ip, M)
    # well conditioned, LM, finite differences; scipy's 'lm' is MINPACK (a
    # different LM): the same minimum to the tolerances
    run("ls_lm_fd", fun, X0, (T, Y, w), method="lm", return_stderr=True,
        scipy_kw=dict(method="trf"))
    # TRF, per-row bounds (some active), in-place analytic Jacobian, pcov
    lb = np.tile([0.0, 0.0, -5.0], (K, 1))
    ub = np.tile([10.0, 3.0, 5.0], (K, 1))
    ub[::2, 1] = 1.2
    run("ls_trf_jac_bounds", fun, X0, (T, Y, w), method="trf",
        jac=InPlace(decay_jac_ip, M), bounds=(lb, ub), return_pcov=True)
    # ill conditioned: t in [0, 2e-3], so exp(-b t) ~ 1 - b t and the a / c
    # columns of J are nearly parallel (cond(J) ~ 1e7)
    Ti = np.linspace(0.0, 2e-3, M)
    Yi = P[:, :1] * np.exp(-P[:, 1:2] * Ti) + P[:, 2:3] + 1e-6 * rng.standard_normal((K, M))
    run("ls_illcond", fun, X0, (Ti, Yi, w), method="trf", jac="3-point",
        scipy_kw=dict(method="trf", jac="3-point"))
    # device arrays used in place (per-row data and the per-row scalars)
    Yd = cuda.to_device(np.ascontiguousarray(Y, dtype=dtype))
    wd = cuda.to_device(np.ascontiguousarray(w, dtype=dtype))
    run("ls_device_data", fun, X0, (T, Yd, wd), scipy_args=((T, Y, w),), method="lm")

    # curve_fit_batch with the ordinary model f(x, *p) -> array; scipy on the
    # same weighted residual (its 'trf': another path to the same minimum)
    common = dict(p0=[1.0, 1.0, 0.0], sigma=np.full(M, 0.5))
    for name, kw, t, Yc in (
            ("cf_ordinary_trf_3point", dict(method="trf", jac="3-point", return_stderr=True),
             T, Y),
            ("cf_ordinary_omit_pcov", dict(method="lm", nan_policy="omit", return_pcov=True),
             T, _with_nans(Y)),
            ("cf_ordinary_illcond", dict(method="trf", jac="3-point"), Ti, Yi)):
        rc = curve_fit_batch(expdecay_alloc, t, Yc, threads=1, progress=False, **common, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rg = curve_fit_batch(expdecay_alloc, t, Yc, **gk, **common, **kw)
        out[name] = _rows_vs(rc, rg)
        out[name].update(_cf_vs_scipy(rg, t, Yc, 1.0 / 0.5, common["p0"],
                                      "3-point" if kw.get("jac") == "3-point" else "2-point"))
    # a library model (issue 21): its in-place forms, exact Jacobian, guess
    # per row and default bounds, the same source compiled for the device
    from lsqcore import models
    rc = curve_fit_batch(models.exponential, T, Y, threads=1, progress=False,
                         return_stderr=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rg = curve_fit_batch(models.exponential, T, Y, return_stderr=True, **gk)
    out["cf_library_model"] = _rows_vs(rc, rg)
    return out


def _cf_vs_scipy(rg, t, Yc, w, p0, jac):
    """Rows against scipy's least_squares on curve_fit's residual of the row's
    finite points (what nan_policy='omit' fits)."""
    xr, cr = [], []
    for k in range(len(Yc)):
        if rg.status[k] <= 0:
            continue
        keep = np.isfinite(Yc[k])

        def res(p, tk=t[keep], yk=Yc[k][keep]):
            return (expdecay_alloc.py_func(tk, *p) - yk) * w
        ref = sp_least_squares(res, p0, method="trf", jac=jac)
        xr.append(float(np.max(np.abs(rg.x[k] - ref.x) / np.maximum(np.abs(ref.x), 1e-12))))
        cr.append(float((rg.cost[k] - ref.cost) / max(ref.cost, 1e-300)))
    return dict(sp_rows=len(xr), sp_max_rel=max(xr), sp_cost_excess=max(cr))


def _unfitted_nan(r):
    """1.0 when every row without a fitted result (statuses -10 .. -14) has
    NaN x and cost (and pcov / stderr when asked), not its starting point."""
    rows = np.isin(r.status, NO_RESULT)
    ok = np.all(np.isnan(r.x[rows])) and np.all(np.isnan(r.cost[rows]))
    for f in ("pcov", "stderr"):
        if getattr(r, f) is not None:
            ok = ok and np.all(np.isnan(getattr(r, f)[rows]))
    return float(ok)


def _with_nans(Y):
    Yn = Y.copy()
    Yn[1, [0, 4, 5]] = np.nan          # fit of the remaining 27 points
    Yn[2, :] = np.nan                  # nothing left: TOO_FEW_POINTS
    Yn[4, 2:] = np.nan                 # 2 points < n = 3 for 'lm': TOO_FEW_POINTS
    return Yn


if __name__ == "__main__":
    K = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    dt = np.float32 if "float32" in sys.argv[2:] else np.float64
    if "general" in sys.argv[2:]:
        print("CUDA_CHECK " + json.dumps(general(K, dt)))
        sys.exit(0)
    names = [a for a in sys.argv[2:] if a in CONFIGS]
    print("CUDA_CHECK " + json.dumps(compare(K, dt, names)))
