"""lsqcore.xarray.curvefit against xarray's own curvefit (scipy), in memory and on Dask.

The reference is ``xarray.DataArray.curvefit`` itself, running
``scipy.optimize.curve_fit`` pixel by pixel.  With trf and an analytic
Jacobian both solvers take the same iterates, so the coefficients agree to
1e-10 relative (measured: 1e-15); with finite differences and MINPACK's
``lm`` on scipy's side the two stop at different points of the same
optimum's rounding-level neighbourhood (measured: 4e-7 relative at default
tolerances), so there the bar is 1e-4 of each coefficient's standard error;
and everywhere the same NaN pixels, dims, coords and names.
"""
import subprocess
import sys

import numpy as np
import pytest
from numba import njit

xr = pytest.importorskip("xarray")
pytest.importorskip("dask.array")

from lsqcore.xarray import curvefit  # noqa: E402


@njit(cache=True)
def decay(t, a, k, c):
    return a * np.exp(-k * t) + c


@njit(cache=True)
def decay_jac(t, a, k, c):
    J = np.empty((t.size, 3))
    for i in range(t.size):
        e = np.exp(-k * t[i])
        J[i, 0] = e
        J[i, 1] = -a * t[i] * e
        J[i, 2] = 1.0
    return J


def cube(ny=8, nx=7, m=30, seed=1, noise=True):
    """Decays per pixel; pixel (2, 3) all NaN, (4, 5) a third NaN, and (6, 1)
    pure noise of 1e3 (with seed 1 its fit runs out of evaluations: a
    failed fit)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 4.0, m)
    A = rng.uniform(1, 3, (ny, nx))
    K = rng.uniform(0.5, 2, (ny, nx))
    C = rng.uniform(0.2, 0.8, (ny, nx))
    Y = A[..., None] * np.exp(-K[..., None] * t) + C[..., None] \
        + 0.02 * rng.standard_normal((ny, nx, m))
    Y[2, 3, :] = np.nan
    Y[4, 5, ::3] = np.nan
    if noise:
        Y[6, 1] = 1e3 * rng.standard_normal(m)
    return xr.DataArray(Y, dims=("y", "x", "t"), coords={"t": t, "x": np.arange(nx) * 0.5},
                        name="signal", attrs={"units": "counts"})


def rel(a, b):
    return np.nanmax(np.abs(a - b) / np.abs(a))


def same_structure(ref, out):
    assert set(ref.data_vars) == set(out.data_vars)
    for v in ref.data_vars:
        assert ref[v].dims == out[v].dims, v
        assert ref[v].shape == out[v].shape, v
        assert np.array_equal(np.isnan(ref[v].values), np.isnan(out[v].values)), v
    for c in ref.coords:
        assert np.array_equal(ref[c].values, out[c].values), c
    assert ref.attrs == out.attrs


P0 = {"a": 1.0, "k": 1.0, "c": 0.0}
TRF_JAC = dict(method="trf", jac=decay_jac, max_nfev=60)


@pytest.mark.parametrize("chunked", [False, True])
def test_equals_xarray_curvefit_trf_analytic(chunked):
    """The acceptance case: NaN pixels with skipna, a failed fit with
    errors='ignore', coefficients and covariance to 1e-10 relative."""
    data = cube()
    ref = data.curvefit("t", decay, p0=P0, kwargs=TRF_JAC, errors="ignore")
    obj = data.chunk({"y": 3, "x": 4}) if chunked else data
    out = curvefit(obj, "t", decay, p0=P0, kwargs=TRF_JAC, errors="ignore")
    if chunked:
        assert out.curvefit_coefficients.chunks is not None
        out = out.compute()
    same_structure(ref, out)
    c = ref.curvefit_coefficients.values
    assert np.isnan(c[2, 3]).all() and np.isnan(c[6, 1]).all()   # empty and failed pixels
    assert np.isfinite(c[4, 5]).all()
    assert rel(c, out.curvefit_coefficients.values) <= 1e-10
    assert rel(ref.curvefit_covariance.values, out.curvefit_covariance.values) <= 1e-10


def test_dask_result_equals_in_memory_bitwise():
    data = cube(seed=2)
    mem = curvefit(data, "t", decay, p0=P0, errors="ignore")
    lazy = curvefit(data.chunk({"y": 2}), "t", decay, p0=P0, errors="ignore")
    assert lazy.curvefit_coefficients.chunks[0] == (2, 2, 2, 2)
    for v in mem.data_vars:
        assert np.array_equal(mem[v].values, lazy[v].values, equal_nan=True), v


def test_finite_differences_lm_within_the_statistical_precision():
    """Default options (scipy: MINPACK lm; lsqcore: its own lm), 2-point
    differences: each coefficient within 1e-6 of its standard error."""
    data = cube(seed=3, noise=False)
    ref = data.curvefit("t", decay.py_func, p0=P0, errors="ignore")
    out = data.lsq.curvefit("t", decay.py_func, p0=P0, errors="ignore")   # plain Python model
    same_structure(ref, out)
    c, o = ref.curvefit_coefficients.values, out.curvefit_coefficients.values
    se = np.sqrt(np.einsum("...ii->...i", ref.curvefit_covariance.values))
    assert np.nanmax(np.abs(c - o) / se) <= 1e-4
    assert rel(c, o) <= 1e-5


def test_dataset_bounds_and_p0_per_pixel_reduce_dims():
    """A Dataset of two variables (prefixed names), p0 and a bound varying
    over a preserved dimension, and reduce_dims fitting over two dims."""
    data = cube(seed=4, noise=False)
    ds = xr.Dataset({"u": data, "v": 2.0 * data})
    p0 = {"a": xr.DataArray(np.linspace(1.0, 2.0, data.sizes["x"]), dims="x"), "k": 1.2}
    bounds = {"k": (xr.DataArray(np.full(data.sizes["y"], 0.1), dims="y"), 5.0),
              "c": (-1.0, np.inf)}
    kw = dict(method="trf", jac=decay_jac)
    ref = ds.curvefit("t", decay, p0=p0, bounds=bounds, kwargs=kw, errors="ignore")
    out = curvefit(ds.chunk({"x": 3}), "t", decay, p0=p0, bounds=bounds, kwargs=kw,
                   errors="ignore").compute()
    same_structure(ref, out)
    assert "u_curvefit_coefficients" in out and "v_curvefit_covariance" in out
    for v in ref.data_vars:
        assert rel(ref[v].values, out[v].values) <= 1e-10, v
    # one fit per row y over (x, t): the time grid shared, x a second sample dim
    r2 = data.curvefit("t", decay, reduce_dims="x", p0=P0, kwargs=kw, errors="ignore")
    o2 = curvefit(data, "t", decay, reduce_dims="x", p0=P0, kwargs=kw, errors="ignore")
    same_structure(r2, o2)
    assert rel(r2.curvefit_coefficients.values, o2.curvefit_coefficients.values) <= 1e-10


def test_errors_as_scipy_raises_them():
    data = cube(seed=1)
    with pytest.raises(RuntimeError, match="Optimal parameters not found"):
        curvefit(data, "t", decay, p0=P0, kwargs=TRF_JAC)
    with pytest.raises(RuntimeError):       # xarray/scipy agree
        data.curvefit("t", decay, p0=P0, kwargs=TRF_JAC)
    with pytest.raises(ValueError, match="infs or NaNs"):
        curvefit(data, "t", decay, p0=P0, skipna=False, errors="ignore")
    with pytest.raises(ValueError, match="errors must be"):
        curvefit(data, "t", decay, errors="warn")
    with pytest.raises(ValueError, match="unexpected dimensions"):
        curvefit(data, "t", decay, p0={"a": data.isel(y=0)})
    with pytest.raises(ValueError, match="does not have"):
        curvefit(data, "t", decay, p0={"b": 1.0})
    with pytest.raises(ValueError, match="must not set 'p0'"):
        curvefit(data, "t", decay, kwargs={"p0": [1, 1, 0]})
    with pytest.raises(TypeError, match="unexpected keyword"):
        curvefit(data, "t", decay, kwargs={"epsfcn": 1e-3})


def test_without_xarray_the_error_names_the_extra():
    code = ("import sys; sys.modules['xarray'] = None\n"
            "try:\n    import lsqcore.xarray\nexcept ImportError as e:\n    print('ERR', e)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "ERR lsqcore.xarray needs the optional dependency xarray" in p.stdout, p.stderr
    assert "lsqcore[xarray]" in p.stdout


@njit(cache=True)
def gauss2d(xy, a, x0, y0, s, c):
    return a * np.exp(-((xy[0] - x0) ** 2 + (xy[1] - y0) ** 2) / (2.0 * s * s)) + c


@njit(cache=True)
def gauss2d_jac(xy, a, x0, y0, s, c):
    J = np.empty((xy.shape[1], 5))
    for i in range(xy.shape[1]):
        dx, dy = xy[0, i] - x0, xy[1, i] - y0
        r2 = dx * dx + dy * dy
        e = np.exp(-r2 / (2.0 * s * s))
        J[i, 0] = e
        J[i, 1] = a * e * dx / (s * s)
        J[i, 2] = a * e * dy / (s * s)
        J[i, 3] = a * e * r2 / (s * s * s)
        J[i, 4] = 1.0
    return J


@pytest.mark.parametrize("chunked", [False, True])
def test_several_coordinates_a_2d_gaussian_per_frame(chunked):
    """Two coordinates (x, y) reduced, one fit per frame: scipy's (k, M) x
    reaches the model; NaN pixels of a frame dropped; as xarray's curvefit."""
    rng = np.random.default_rng(6)
    nt, ny, nx = 12, 9, 11
    yy, xx = np.meshgrid(np.arange(ny, dtype=float), np.arange(nx, dtype=float), indexing="ij")
    frames = []
    for _ in range(nt):
        a, x0, y0, s, c = rng.uniform(1, 3), rng.uniform(4, 6), rng.uniform(3, 5), \
            rng.uniform(1, 2), rng.uniform(0, 0.5)
        frames.append(a * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * s * s)) + c)
    Y = np.array(frames) + 0.02 * rng.standard_normal((nt, ny, nx))
    Y[3, 2:4, 5:8] = np.nan
    data = xr.DataArray(Y, dims=("time", "y", "x"),
                        coords={"x": np.arange(nx, dtype=float), "y": np.arange(ny, dtype=float)})
    p0 = {"a": 2.0, "x0": 5.0, "y0": 4.0, "s": 1.5, "c": 0.2}
    kw = dict(method="trf", jac=gauss2d_jac)
    ref = data.curvefit(["x", "y"], gauss2d, p0=p0, kwargs=kw)
    obj = data.chunk({"time": 5}) if chunked else data
    out = curvefit(obj, ["x", "y"], gauss2d, p0=p0, kwargs=kw).compute()
    same_structure(ref, out)
    assert rel(ref.curvefit_coefficients.values, out.curvefit_coefficients.values) <= 1e-10
    # (relative to the scale sqrt(C_ii C_jj): the off-diagonal entries near 0)
    C, D = ref.curvefit_covariance.values, out.curvefit_covariance.values
    d = np.sqrt(np.einsum("...ii->...i", C))
    assert np.max(np.abs(C - D) / (d[..., :, None] * d[..., None, :])) <= 1e-10


def peaks(ny=6, nx=5, m=61, seed=4):
    """Gaussian peaks whose centres wander over the pixels (-2..2), noise 0.02;
    pixel (1, 2) all NaN, (3, 4) a third NaN.  Returns the data and the
    true parameters (ny, nx, 3)."""
    rng = np.random.default_rng(seed)
    x = np.linspace(-3.0, 3.0, m)
    T = np.stack([rng.uniform(1, 3, (ny, nx)), rng.uniform(-2, 2, (ny, nx)),
                  rng.uniform(0.2, 0.6, (ny, nx))], axis=-1)
    Y = T[..., :1] * np.exp(-(x - T[..., 1:2]) ** 2 / (2 * T[..., 2:] ** 2)) \
        + 0.02 * rng.standard_normal((ny, nx, m))
    Y[1, 2] = np.nan
    Y[3, 4, ::3] = np.nan
    return xr.DataArray(Y, dims=("y", "x", "e"), coords={"e": x}), T


def _np_gaussian(e, amplitude, center, sigma):
    return amplitude * np.exp(-(e - center) ** 2 / (2 * sigma * sigma))


def test_library_model_guesses_per_pixel_on_dask():
    """A library model in curvefit: its names, its exact Jacobian, a guess per
    pixel.  The reference is xarray's own curvefit (scipy) on the numpy twin
    started from the true parameters of each pixel; xarray's default start
    (all ones) misses peaks far from 1, the guess misses none."""
    from lsqcore import curve_fit_batch, models as M
    data, T = peaks()
    truth = {p: xr.DataArray(T[..., i], dims=("y", "x"))
             for i, p in enumerate(M.gaussian.param_names)}
    ref = data.curvefit("e", _np_gaussian, p0=truth, errors="ignore")
    ones = data.curvefit("e", _np_gaussian, errors="ignore")
    out = curvefit(data.chunk({"y": 2}), "e", M.gaussian, errors="ignore")
    assert out.curvefit_coefficients.chunks is not None
    out = out.compute()
    same_structure(ref, out)
    assert list(out.param.values) == list(M.gaussian.param_names)
    c, o = ref.curvefit_coefficients.values, out.curvefit_coefficients.values
    se = np.sqrt(np.einsum("...ii->...i", ref.curvefit_covariance.values))
    assert np.isnan(o[1, 2]).all() and np.isfinite(o[3, 4]).all()
    assert np.nanmax(np.abs(c - o) / se) <= 1e-4     # measured: 1.8e-5
    missed = np.abs(ones.curvefit_coefficients.values - c) > 1e-3 * np.abs(c)
    assert np.sum(np.any(missed, axis=-1)) >= 3      # measured: 5 of the 29 with data
    # the same fits as the batch front end's own guess (bitwise)
    Yk = data.values.reshape(-1, data.shape[-1])
    b = curve_fit_batch(M.gaussian, data.e.values, Yk, nan_policy="omit")
    ok = b.success
    assert np.array_equal(b.x[ok], o.reshape(-1, 3)[ok])
    # a p0 for some parameters: the others are guessed; a bound for one: the
    # others keep the model's defaults (sigma > 0)
    part = curvefit(data, "e", M.gaussian, p0={"sigma": 0.4},
                    bounds={"center": (-2.5, 2.5)}, errors="ignore")
    assert np.nanmax(np.abs(part.curvefit_coefficients.values - c) / se) <= 1e-4
    with pytest.raises(ValueError, match="param_names"):
        curvefit(data, "e", M.gaussian, param_names=["a", "b"])
