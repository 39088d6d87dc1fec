"""Row-by-row comparison of the GPU batch path with the CPU batch path.

Run as a script (by tests/test_cuda.py, in a subprocess so that
``NUMBA_ENABLE_CUDASIM`` can be set before ``numba.cuda`` is imported):

    NUMBA_ENABLE_CUDASIM=1 python tests/_cuda_check.py K   # simulator
    python tests/_cuda_check.py K [float32]                 # a real GPU

Prints one JSON object per configuration: statuses equal, the largest
relative parameter difference over the rows where both converged, etc.
"""
import json
import math
import sys
import warnings

import numpy as np
from numba import njit

from lsqcore.batch import curve_fit_batch

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
            cost_rel=float(np.max(np.abs(rg.cost[both] - rc.cost[both])
                                  / np.maximum(rc.cost[both], 1e-300))) if both.any() else 0.0)
        if rc.stderr is not None:
            ok = both & np.all(np.isfinite(rc.stderr), axis=1)
            row["stderr_rel"] = float(np.max(np.abs(rg.stderr[ok] - rc.stderr[ok])
                                             / rc.stderr[ok])) if ok.any() else 0.0
        out[name] = row
    return out


if __name__ == "__main__":
    K = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    dt = np.float32 if "float32" in sys.argv[2:] else np.float64
    names = [a for a in sys.argv[2:] if a in CONFIGS]
    print("CUDA_CHECK " + json.dumps(compare(K, dt, names)))
