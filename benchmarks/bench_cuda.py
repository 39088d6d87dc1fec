"""Issue 8 benchmark: W4 on the GPU (``device='cuda'``), K = 1,000,000 fits.

W4 (``../shared/design.md``): ``y = a exp(-b t) + c``, m = 30, n = 3, the
data of ``benchmarks/bench_batch.py`` (same generator), LM with a 2-point
finite-difference Jacobian, p0 = (1, 1, 0).  Prints fits/s in float64 and
float32 for

* host data: ``curve_fit_batch(..., device='cuda')`` on numpy arrays, the
  whole call (validation, transfers both ways, kernel);
* device data: ``ydata`` already on the GPU (``numba.cuda`` device array),
  the whole call again (results still come back to the host);

for a few launch shapes (threads per block, blocks cap), after a warm-up
call that compiles the kernel (its time is printed as well), and the
agreement with the CPU batch path (float64, all cores) on the first
``W4_GPU_CHECK_ROWS`` rows.  Then, at the best launch shape and with device
data, the other ways of writing the same fit (``W4_GPU_FORMS``, comma
separated; each compiles its own kernel, about a minute on an H100):

* ``ordinary``: ``curve_fit_batch`` with the ordinary model
  ``f(x, a, b, c) -> array`` (elementwise: evaluated point by point);
* ``general``: ``least_squares_batch(lsqcore.InPlace(resid, m), ...)``, the
  general form with ``args=(t, Y)`` (``Y`` split by row).

Run on a machine with an NVIDIA GPU:

    python benchmarks/bench_cuda.py            # K from W4_GPU_ROWS (default 1e6)
    W4_GPU_FORMS= python benchmarks/bench_cuda.py      # the W4 in-place path only

Smoke test without a GPU (Numba's CUDA simulator; the figures mean nothing):

    NUMBA_ENABLE_CUDASIM=1 W4_GPU_ROWS=6 W4_GPU_CHECK_ROWS=6 W4_GPU_SHAPES=128x0 \
        W4_GPU_DTYPES=float64 python benchmarks/bench_cuda.py
"""
import json
import math
import os
import sys
import time
import warnings

import numpy as np
from numba import njit

import lsqcore
from lsqcore.batch import curve_fit_batch, least_squares_batch
from lsqcore.batch import cuda as G
from lsqcore._workloads import w4_data, M4 as M, W4_T as T   # the W4 data

K = int(os.environ.get("W4_GPU_ROWS", 1_000_000))
CHECK = int(os.environ.get("W4_GPU_CHECK_ROWS", 20000))
P0 = [1.0, 1.0, 0.0]
FORMS = [f for f in os.environ.get("W4_GPU_FORMS", "ordinary,general").split(",") if f]
SHAPES = [(int(a), int(b)) for a, b in
          (s.split("x") for s in os.environ.get("W4_GPU_SHAPES", "128x0,64x0,256x0,128x528,128x1056,64x2112").split(","))]


@njit(cache=True)
def expdecay(x, a, b, c, out):
    for i in range(x.shape[0]):
        out[i] = a * math.exp(-b * x[i]) + c


@njit(cache=True)
def expdecay_ordinary(x, a, b, c):
    return a * np.exp(-b * x) + c


@njit(cache=True)
def resid_inplace(p, out, t, y):
    a, b, c = p[0], p[1], p[2]
    for i in range(t.shape[0]):
        out[i] = a * math.exp(-b * t[i]) + c - y[i]


def tol(dt):
    return {} if dt == np.float64 else dict(ftol=1e-5, xtol=1e-5, gtol=1e-5)


def gpu(Y, dt, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return curve_fit_batch(expdecay, T, Y, p0=P0, inplace=True, device="cuda",
                               dtype=dt, method="lm", **tol(dt), **kw)


def gpu_form(form, Y, dt):
    """The same W4 fits written another way (see FORMS)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if form == "ordinary":
            return curve_fit_batch(expdecay_ordinary, T, Y, p0=P0, device="cuda", dtype=dt,
                                   method="lm", **tol(dt))
        if form == "general":
            x0 = np.tile(np.asarray(P0, dtype=float), (Y.shape[0], 1))
            return least_squares_batch(lsqcore.InPlace(resid_inplace, M), x0, args=(T, Y),
                                       method="lm", device="cuda", dtype=dt, **tol(dt))
    raise ValueError(f"unknown W4_GPU_FORMS entry {form!r} (ordinary, general)")


def main():
    from numba import cuda
    dev = cuda.get_current_device()
    import numba, numba_cuda
    name = getattr(dev, "name", "CUDA simulator")   # the simulator's device has no name
    info = dict(device=name.decode() if isinstance(name, bytes) else str(name),
                cc=list(getattr(dev, "compute_capability", ())), numba=numba.__version__,
                numba_cuda=getattr(numba_cuda, "__version__", "?"), numpy=np.__version__,
                K=K)
    print("INFO", json.dumps(info), flush=True)
    P, Y = w4_data(K)
    rows = []
    res = {}
    for dt in [np.dtype(d).type for d in os.environ.get('W4_GPU_DTYPES', 'float64,float32').split(',')]:
        name = np.dtype(dt).name
        t0 = time.perf_counter()
        gpu(Y[:256], dt)                               # compile
        print(f"{name}: first call (compile) {time.perf_counter() - t0:.1f} s", flush=True)
        kern = list(G._KERNELS.values())[-1]
        try:
            print(f"{name}: kernel registers/thread {kern.get_regs_per_thread()}, local memory/thread "
                  f"{kern.get_local_mem_per_thread()} B", flush=True)
        except Exception as e:                      # pragma: no cover
            print("resource query failed:", e)
        Yd = cuda.to_device(np.ascontiguousarray(Y, dtype=dt))
        best = None
        for tpb, mb in SHAPES:
            G.THREADS_PER_BLOCK, G.MAX_BLOCKS = tpb, mb
            ts = []
            for rep in range(3):
                t0 = time.perf_counter()
                r = gpu(Yd, dt)
                ts.append(time.perf_counter() - t0)
            td = min(ts)
            rows.append((name, f"{tpb}x{mb or 'all'}", "device data", K / td))
            print(f"{name} tpb={tpb} blocks={mb or 'all'} device data: {K / td / 1e6:.2f} M fits/s "
                  f"({td:.3f} s; runs {', '.join(f'{x:.3f}' for x in ts)})", flush=True)
            if best is None or td < best[0]:
                best = (td, tpb, mb, r)
        td, tpb, mb, r = best
        G.THREADS_PER_BLOCK, G.MAX_BLOCKS = tpb, mb
        t0 = time.perf_counter()
        rh = gpu(Y, dt)
        th = time.perf_counter() - t0
        rows.append((name, f"{tpb}x{mb or 'all'}", "host data", K / th))
        print(f"{name} best shape tpb={tpb} blocks={mb or 'all'}: host data {K / th / 1e6:.2f} M fits/s "
              f"({th:.3f} s)", flush=True)
        res[name] = dict(best_device_fits_s=K / td, host_fits_s=K / th, tpb=tpb, max_blocks=mb,
                         status_counts={int(s): int(c) for s, c in
                                        zip(*np.unique(r.status, return_counts=True))},
                         mean_nfev=float(r.nfev.mean()))
        res[name]["x"] = r.x[:CHECK].astype(np.float64)
        res[name]["status"] = r.status[:CHECK]
        for form in FORMS:
            t0 = time.perf_counter()
            gpu_form(form, Y[:256], dt)                  # compile
            tc = time.perf_counter() - t0
            ts = []
            for rep in range(3):
                t0 = time.perf_counter()
                rf = gpu_form(form, Yd, dt)
                ts.append(time.perf_counter() - t0)
            tf = min(ts)
            rows.append((name, f"{tpb}x{mb or 'all'}", f"device data, {form}", K / tf))
            print(f"{name} {form}: compile {tc:.1f} s, device data {K / tf / 1e6:.2f} M fits/s "
                  f"({tf:.3f} s)", flush=True)
            key = f"{name}_{form}"
            res[key] = dict(device_fits_s=K / tf, compile_s=tc, x=rf.x[:CHECK].astype(np.float64),
                            status=rf.status[:CHECK])
    # agreement with the CPU batch path on a subset
    t0 = time.perf_counter()
    rc = curve_fit_batch(expdecay, T, Y[:CHECK], p0=P0, inplace=True, method="lm")
    tc = time.perf_counter() - t0
    print(f"CPU batch (first call, {rc.threads} threads) on {CHECK} rows: {CHECK / tc:.0f} fits/s")
    for name in res:
        x, st = res[name].pop("x"), res[name].pop("status")
        both = (rc.status > 0) & (st > 0)
        rel = np.max(np.abs(x[both] - rc.x[both]) / np.abs(rc.x[both]), axis=1)
        lim = 1e-10 if name.startswith("float64") else 1e-3
        res[name].update(check_rows=CHECK, status_equal=float(np.mean(st == rc.status)),
                         frac_within=float(np.mean(rel <= lim)), within=lim,
                         max_rel=float(rel.max()), median_rel=float(np.median(rel)))
    print("\n| dtype | launch (threads/block x blocks) | data | M fits/s |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3] / 1e6:.2f} |")
    print("RESULT", json.dumps(dict(info=info, results=res)))
    out = os.environ.get("OUT")
    if out:
        with open(os.path.join(out, "bench_cuda.json"), "w") as fh:
            json.dump(dict(info=info, results=res, rows=rows), fh, indent=1)


if __name__ == "__main__":
    main()
