"""lmfit on scipy and on lsqcore (``lsqcore.patch_scipy()``), same run, interleaved.

Workloads (issue 19): ``Model.fit`` of a Gaussian plus a constant (m = 1000)
and of W1's model (``a exp(-b t) + c``, m = 50), each with ``method='leastsq'``
and ``'least_squares'``, and ``conf_interval`` of the Gaussian's centre and
width.  lmfit's own layer (Parameters, asteval, its residual wrapper) runs
in Python on both sides; only the solver changes.

Each timing is the best of ``--repeat`` loops of as many calls as fill
~0.3 s; the two sides alternate for ``--rounds`` rounds; the figure is the
median (range in brackets).  Also printed: lmfit's own time per residual
evaluation (its wrapper and the model, no solver), which bounds the gain.

Also ``xarray.DataArray.curvefit`` on a 100 x 100 x 40 cube (10 000
exponential decays, one ``curve_fit`` call per pixel), timed once per side
and round (``--cube-rounds``), alternating; and the same cube through
``lsqcore.xarray.curvefit`` (one batch, the model under ``numba.njit``).

Usage: ``python benchmarks/clients.py [--rounds 5] [--repeat 3] [--cube-rounds 3] [--cube-only]``
"""
import argparse
import statistics
import time

import numba
import numpy as np

from _timing import per_call          # benchmarks/_timing.py


def workloads():
    import lmfit
    rng = np.random.default_rng(0)
    x = np.linspace(-5.0, 5.0, 1000)
    y = 3.0 * np.exp(-((x - 0.7) ** 2) / (2 * 0.9 ** 2)) + 0.2 + 0.05 * rng.standard_normal(1000)
    gauss = lmfit.models.GaussianModel() + lmfit.models.ConstantModel()
    gp = gauss.make_params(amplitude=5.0, center=0.0, sigma=1.0, c=0.0)
    t = np.linspace(0.0, 4.0, 50)
    w = 2.5 * np.exp(-1.3 * t) + 0.5 + 0.01 * rng.standard_normal(50)
    w1 = lmfit.Model(lambda t, a, b, c: a * np.exp(-b * t) + c)
    wp = w1.make_params(a=1.0, b=1.0, c=0.0)
    out = []
    for method in ("leastsq", "least_squares"):
        out.append((f"Gaussian m=1000, Model.fit {method}",
                    lambda method=method: gauss.fit(y, gp, x=x, method=method)))
        out.append((f"W1 m=50, Model.fit {method}",
                    lambda method=method: w1.fit(w, wp, t=t, method=method)))

    def ci():
        r = gauss.fit(y, gp, x=x)
        return lmfit.conf_interval(r, r, p_names=["center", "sigma"], sigmas=[1, 2])
    out.append(("Gaussian, fit + conf_interval (2 params, 1 and 2 sigma)", ci))
    return out


def cube(rounds):
    """``curvefit`` of a 100 x 100 x 40 cube, with and without the patch."""
    import xarray as xr
    import lsqcore
    rng = np.random.default_rng(1)
    t = np.linspace(0.0, 4.0, 40)
    rate = rng.uniform(0.5, 2.0, (100, 100, 1))
    data = 2.5 * np.exp(-rate * t) + 0.5 + 0.01 * rng.standard_normal((100, 100, 40))
    da = xr.DataArray(data, dims=("y", "x", "t"), coords={"t": t})

    def model(t, a, b, c):
        return a * np.exp(-b * t) + c

    from lsqcore.xarray import curvefit
    p0 = {"a": 1.0, "b": 1.0, "c": 0.0}
    jitted = numba.njit(model)
    curvefit(da.isel(y=slice(0, 1)), "t", jitted, p0=p0)       # compile once, untimed

    def fit():
        return da.curvefit("t", model, p0=p0)
    ts, tl, tb = [], [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        a = fit()
        ts.append(time.perf_counter() - t0)
        with lsqcore.patch_scipy():
            t0 = time.perf_counter()
            b = fit()
            tl.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        c = curvefit(da, "t", jitted, p0=p0)
        tb.append(time.perf_counter() - t0)
    med = statistics.median
    for label, tt, other in (("xarray curvefit, 100 x 100 x 40 cube", tl, b),
                             ("  the same, lsqcore.xarray.curvefit", tb, c)):
        diff = float(np.nanmax(np.abs(a.curvefit_coefficients - other.curvefit_coefficients)))
        ratios = [x / y for x, y in zip(ts, tt)]
        print(f"{label:<58}{med(ts):>10.2f}s{med(tt):>10.2f}s"
              f"{med(ratios):>10.2f}x [{min(ratios):.2f}-{max(ratios):.2f}]"
              f"   (coefficients differ by {diff:.1e})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cube-rounds", type=int, default=3)
    ap.add_argument("--cube-only", action="store_true", help="only the xarray cube")
    args = ap.parse_args()
    import lmfit
    import scipy
    import lsqcore
    print(f"lmfit {lmfit.__version__}, scipy {scipy.__version__}, lsqcore {lsqcore.__version__}")
    print(f"{'workload':<58}{'scipy':>11}{'lsqcore':>11}{'speed-up':>22}{'nfev':>11}")
    for name, f in ([] if args.cube_only else workloads()):
        ts, tl = [], []
        for _ in range(args.rounds):
            ts.append(per_call(f, args.repeat, 0.3))
            with lsqcore.patch_scipy():
                tl.append(per_call(f, args.repeat, 0.3))
        r_s = f()
        with lsqcore.patch_scipy():
            r_l = f()
        nfev = (f"{r_s.nfev}/{r_l.nfev}" if hasattr(r_s, "nfev") else "")
        ratios = [a / b for a, b in zip(ts, tl)]
        med = statistics.median
        print(f"{name:<58}{med(ts) * 1e3:>9.2f}ms{med(tl) * 1e3:>9.2f}ms"
              f"{med(ratios):>10.2f}x [{min(ratios):.2f}-{max(ratios):.2f}]{nfev:>11}")
    cube(args.cube_rounds)


if __name__ == "__main__":
    main()
