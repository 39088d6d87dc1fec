"""One million Gaussian fits on a LocalCluster: lsqcore.xarray.curvefit against xarray's.

The issue-20 benchmark: a ``side x side`` image with ``m = 40`` samples per
pixel (a Gaussian peak with an offset, amplitude, centre and width varying
over the image, noise 0.05; generated on the workers from a seed, chunk by
chunk, and persisted before timing), chunked ``chunk x chunk`` pixels, on a
``LocalCluster`` of ``--workers`` processes with one thread each.  Timed:

* lsqcore: ``lsqcore.xarray.curvefit`` on the whole cube (one batch task per
  chunk);
* lsqcore with the model library: the same call with
  ``lsqcore.models.gaussian + lsqcore.models.constant`` (the same function,
  with its exact Jacobian computed with the values, named ``a, mu, s, c``),
  what a user of the library writes instead of their own ``@njit`` model;
* xarray: ``DataArray.curvefit`` (scipy's ``curve_fit`` per pixel, same
  model written in numpy, same ``p0``) on a ``--subset``-pixel block of the
  same cube with the same chunking (the whole cube would take an hour).

Both through ``.compute()`` on the same cluster, the three timings
interleaved for ``--rounds`` rounds; the result is throughput in fits per
second (median and range) and the per-round ratio of the whole cube's rate
to scipy's.  Every lsqcore
pixel's answer on the subset is checked against xarray's first (same
success pattern, coefficients within 1e-4 of their standard errors).

    python benchmarks/dask_cube.py                 # 1000 x 1000, chunks 250
    python benchmarks/dask_cube.py --side 400      # a quicker run
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np
from numba import njit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@njit(cache=True)
def gauss(t, a, mu, s, c):
    return a * np.exp(-(t - mu) ** 2 / (2.0 * s * s)) + c


M = 40
T = np.linspace(-3.0, 3.0, M)
P0 = {"a": 2.0, "mu": 0.0, "s": 1.0, "c": 0.2}


def _block(block_info=None):
    """One chunk of the cube, from a seed that depends on its position only."""
    info = block_info[None]
    (y0, y1), (x0, x1), _ = info["array-location"]
    rng = np.random.default_rng([y0, x0])
    shape = (y1 - y0, x1 - x0)
    a = rng.uniform(1.0, 3.0, shape)[..., None]
    mu = rng.uniform(-0.5, 0.5, shape)[..., None]
    s = rng.uniform(0.5, 1.2, shape)[..., None]
    c = rng.uniform(0.0, 0.5, shape)[..., None]
    return a * np.exp(-(T - mu) ** 2 / (2 * s * s)) + c + 0.05 * rng.standard_normal(shape + (M,))


def make_cube(side, chunk):
    import dask.array as da
    import xarray as xr
    data = da.map_blocks(_block, chunks=((chunk,) * (side // chunk), (chunk,) * (side // chunk),
                                         (M,)), dtype=float)
    return xr.DataArray(data, dims=("y", "x", "t"), coords={"t": T})


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def summary(times, k):
    """Median and range of a list of seconds, as fits per second."""
    rates = sorted(k / t for t in times)
    return dict(median=float(np.median(rates)), min=rates[0], max=rates[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=1000)
    ap.add_argument("--chunk", type=int, default=250)
    ap.add_argument("--subset", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()

    import dask
    import distributed
    import numba
    import scipy
    import xarray as xr
    from distributed import Client, LocalCluster, wait
    from lsqcore.xarray import curvefit
    from lsqcore import models
    library = models.gaussian + models.constant
    names = list(P0)

    with LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=50) as cluster, Client(cluster):
        cube = make_cube(a.side, a.chunk).persist()
        wait(cube.data)
        K = a.side * a.side
        # the subset: a band of rows across two chunks (both workers busy)
        rows = max(1, a.subset // (2 * a.chunk))
        sub = cube.isel(y=slice(0, rows), x=slice(0, 2 * a.chunk)).persist()
        wait(sub.data)
        ksub = rows * 2 * a.chunk

        # warm-up: every worker compiles / loads the model once
        curvefit(sub.isel(y=slice(0, 1)), "t", gauss, p0=P0, errors="ignore").compute()
        curvefit(sub.isel(y=slice(0, 1)), "t", library, p0=P0, param_names=names,
                 errors="ignore").compute()
        sub.isel(y=slice(0, 1)).curvefit("t", gauss.py_func, p0=P0, errors="ignore").compute()

        # the three timings interleaved, round after round
        t_sp, t_sub, t_all, t_lib = [], [], [], []
        for _ in range(a.rounds):
            t, ref = timed(lambda: sub.curvefit("t", gauss.py_func, p0=P0,
                                                errors="ignore").compute())
            t_sp.append(t)
            t, mine = timed(lambda: curvefit(sub, "t", gauss, p0=P0, errors="ignore").compute())
            t_sub.append(t)
            t, full = timed(lambda: curvefit(cube, "t", gauss, p0=P0,
                                             errors="ignore").compute())
            t_all.append(t)
            t, lib = timed(lambda: curvefit(cube, "t", library, p0=P0, param_names=names,
                                            errors="ignore").compute())
            t_lib.append(t)

    c_ref = ref.curvefit_coefficients.values
    c_me = mine.curvefit_coefficients.values
    se = np.sqrt(np.einsum("...ii->...i", ref.curvefit_covariance.values))
    both = np.isfinite(c_ref).all(-1) & np.isfinite(c_me).all(-1)
    agree = float(np.nanmax(np.abs(c_ref - c_me)[both] / se[both]))
    same_nan = bool(np.array_equal(np.isnan(c_ref), np.isnan(c_me)))
    c_lib = lib.curvefit_coefficients.values[:c_ref.shape[0], :c_ref.shape[1]]
    both = both & np.isfinite(c_lib).all(-1)
    agree_lib = float(np.nanmax(np.abs(c_ref - c_lib)[both] / se[both]))
    failed = int(np.isnan(full.curvefit_coefficients.values).any(-1).sum())
    failed_lib = int(np.isnan(lib.curvefit_coefficients.values).any(-1).sum())
    sp, sb, al = summary(t_sp, ksub), summary(t_sub, ksub), summary(t_all, K)
    ratios = sorted((K / ta) / (ksub / ts) for ta, ts in zip(t_all, t_sp))
    ratios_lib = sorted((K / ta) / (ksub / ts) for ta, ts in zip(t_lib, t_sp))
    out = dict(
        machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        python=platform.python_version(), numpy=np.__version__, scipy=scipy.__version__,
        numba=numba.__version__, dask=dask.__version__, distributed=distributed.__version__,
        xarray=xr.__version__, side=a.side, chunk=a.chunk, m=M, workers=a.workers,
        rounds=a.rounds, subset=ksub, xarray_scipy_fits_per_s=sp, lsqcore_subset_fits_per_s=sb,
        lsqcore_full_fits_per_s=al,
        ratio_full_vs_scipy=dict(median=float(np.median(ratios)), min=ratios[0],
                                 max=ratios[-1]),
        subset_max_diff_in_stderr=agree, subset_same_nan_pixels=same_nan, full_nan_pixels=failed,
        lsqcore_library_full_fits_per_s=summary(t_lib, K),
        ratio_library_full_vs_scipy=dict(median=float(np.median(ratios_lib)),
                                         min=ratios_lib[0], max=ratios_lib[-1]),
        library_subset_max_diff_in_stderr=agree_lib, library_full_nan_pixels=failed_lib)
    print(json.dumps(out, indent=1))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
