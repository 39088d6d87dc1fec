r"""``curvefit`` for xarray on lsqcore's batch engine, chunk by chunk on Dask.

:meth:`xarray.Dataset.curvefit` fits ``func`` separately at every point of
the *preserved* dimensions (the pixels) over the *reduced* ones (the fit's
samples), by one call of :func:`scipy.optimize.curve_fit` per pixel
(``apply_ufunc(..., vectorize=True)``).  :func:`curvefit` keeps its signature
and its output -- a Dataset with ``[var_]curvefit_coefficients`` (dims
``..., param``) and ``[var_]curvefit_covariance`` (``..., cov_i, cov_j``) --
and changes one thing: ``apply_ufunc`` hands each *chunk* of pixels to one
:func:`lsqcore.curve_fit_batch` call (``vectorize=False``), so a chunk of
``K`` pixels is ``K`` rows of one compiled batch, with no Python per fit.  On
Dask-backed data that is one task per chunk (``dask='parallelized'``); in
memory, one batch call for the whole array.

Inside a chunk the data are reshaped to ``(K, M)`` (pixels by the reduced
dimensions flattened, in ``reduce_dims`` order); the coordinate becomes a
shared ``xdata`` of ``M`` points when it does not vary over the pixels, else
one row per pixel.  xarray's per-pixel semantics carry over:

* ``p0`` and ``bounds`` per parameter, scalars or DataArrays over the
  preserved dimensions, with xarray's defaults (the signature's default or
  1, moved inside the bounds as xarray does);
* ``skipna=True`` drops the points where the coordinate or the data are NaN,
  pixel by pixel (the batch's ``nan_policy='omit'``); a pixel left with no
  point gets NaN coefficients and covariance; ``skipna=False`` with NaN data
  raises ValueError as scipy's ``curve_fit`` does;
* a fit that fails (``status <= 0``) raises RuntimeError with
  ``errors='raise'`` (scipy's "Optimal parameters not found") and gives
  NaN with ``errors='ignore'``;
* ``kwargs`` go to :func:`lsqcore.curve_fit_batch` (``method``, ``ftol``,
  ``xtol``, ``gtol``, ``max_nfev``/``maxfev``, ``loss``, ``jac``...).

``func`` may be a ``numba.njit`` function or a plain one written with numpy
(it is compiled with ``numba.njit``).  Several coordinates (a model of
``(x, y)``) reach ``func`` as scipy's ``(k, M)`` array, through the batch's
several-predictor ``xdata``; with ``skipna`` a point is dropped when its
data or any of its coordinates is NaN (xarray keeps a point while one
coordinate is there, and scipy then refuses the NaN).

Importing this module registers the accessor ``.lsq`` on DataArray and
Dataset: ``da.lsq.curvefit(...)`` is ``curvefit(da, ...)``.
"""
import inspect
from collections.abc import Iterable

import numpy as np
import numba

try:
    import xarray as xr
except ImportError:
    raise ImportError("lsqcore.xarray needs the optional dependency xarray: "
                      "pip install 'lsqcore[xarray]' (and 'lsqcore[dask]' for "
                      "Dask-backed data).") from None

from .batch import curve_fit_batch
from .batch._dask import engine_call
from .batch._result import NONFINITE_START, TOO_FEW_POINTS, NO_RESULT, BatchResult
from .models._model import Model
from .models._bind import guess_rows
from ._validate import UNBOUNDED

__all__ = ["curvefit"]


def _as_list(v):
    if not v:
        return []
    if isinstance(v, str) or not isinstance(v, Iterable):
        return [v]
    return list(v)


def _params(func, param_names):
    """Parameter names and the signature's defaults (after the first argument);
    a library model's own names (``param_names`` may rename them)."""
    if isinstance(func, Model):
        if param_names is None:
            return list(func.param_names), {}
        if len(param_names) != func.n:
            raise ValueError(f"`param_names` must name the {func.n} parameters of "
                             f"{func.name}, got {len(param_names)}.")
        return list(param_names), {}
    sig = inspect.signature(getattr(func, "py_func", func))
    args = list(sig.parameters.values())
    if any(a.kind == a.VAR_POSITIONAL for a in args):
        if param_names is None:
            raise ValueError("`func` takes *args: give its parameters' names in "
                             "`param_names`.")
        return list(param_names), {}
    if len(args) < 2:
        raise ValueError("`func` must take the coordinate and at least one parameter.")
    names = [a.name for a in args[1:]] if param_names is None else list(param_names)
    if len(names) != len(args) - 1:
        raise ValueError(f"`param_names` must name the {len(args) - 1} parameters of "
                         f"`func`, got {len(names)}.")
    defaults = {a.name: a.default for a in args[1:] if a.default is not a.empty}
    return names, defaults


def _feasible(lb, ub):
    """xarray's start inside bounds: the midpoint, or 1 inside a one-sided bound."""
    lf, uf = np.isfinite(lb), np.isfinite(ub)
    return xr.where(lf, xr.where(uf, 0.5 * (lb + ub), lb + 1),
                    xr.where(uf, ub - 1, 0))


def _starts(params, defaults, p0, bounds, model=None, method=None):
    """xarray's rule: the given p0, else the signature's default or 1, moved
    inside the bounds when outside; bounds default to (-inf, inf).

    A library ``model`` with a guess starts the parameters without ``p0``
    from the guess (NaN here: :func:`_fit_chunk` guesses per pixel); when
    some bounds are given, the others are the model's defaults (unless the
    method takes no bounds); with none, the batch front end applies them.
    """
    guessed = model is not None and model.has_guess
    start = {p: np.nan if guessed else defaults.get(p, 1) for p in params}
    lims = {p: (-np.inf, np.inf) for p in params}
    if model is not None and bounds and method not in UNBOUNDED:
        lims = {p: (model.bounds[0][i], model.bounds[1][i]) for i, p in enumerate(params)}
    for p in params:
        if p in bounds:
            lb, ub = bounds[p]
            lims[p] = (lb, ub)
            start[p] = xr.where((start[p] < lb) | (start[p] > ub), _feasible(lb, ub),
                                start[p])
        if p in p0:
            start[p] = p0[p]
    return start, lims


def _check_dims(what, value, preserved):
    if isinstance(value, xr.DataArray):
        unexpected = set(value.dims) - set(preserved)
        if unexpected:
            raise ValueError(f"{what} has unexpected dimensions {tuple(unexpected)}. It "
                             f"should only have dimensions that are in data dimensions "
                             f"{preserved}.")


def _per_pixel(values, pix, K):
    """``(K, n)`` (or ``(n,)`` when no value varies over the pixels)."""
    if all(np.size(v) == 1 for v in values):
        return np.array([float(np.asarray(v).ravel()[0]) for v in values])
    return np.stack([np.broadcast_to(np.asarray(v, dtype=float), pix).reshape(K)
                     for v in values], axis=1)


def _coordinate(X, Y, nred, K, M):
    """A coordinate of a chunk: ``(M,)`` when it does not vary over the
    pixels, else ``(K, M)``."""
    Xb = np.asarray(X, dtype=float)
    if all(s == 1 for s in Xb.shape[:Xb.ndim - nred]):
        return Xb.reshape(M)
    return np.broadcast_to(Xb, Y.shape).reshape(K, M)


def _fit_chunk(Y, *rest, f, n, k, nred, skipna, errors, kw, threads):
    """One chunk: ``Y`` (pixels..., reduced...) as ``K`` rows of one batch;
    ``rest``: the ``k`` coordinates, then p0, lower and upper bounds."""
    pix = Y.shape[:Y.ndim - nred]
    K = int(np.prod(pix, dtype=np.int64))
    M = int(np.prod(Y.shape[Y.ndim - nred:], dtype=np.int64))
    popt = np.full(pix + (n,), np.nan)
    pcov = np.full(pix + (n, n), np.nan)
    if K == 0:
        return popt, pcov
    Yk = np.ascontiguousarray(Y, dtype=float).reshape(K, M)
    coords = [_coordinate(X, Y, nred, K, M) for X in rest[:k]]
    pv = rest[k:]
    if k == 1:
        xdata = coords[0]
    else:
        # scipy's (k, M) per fit: (1, k, M) shared, or (K, k, M)
        if all(c.ndim == 1 for c in coords):
            xdata = np.stack(coords)[None]
        else:
            xdata = np.stack([np.broadcast_to(c, (K, M)) for c in coords], axis=1)
        if skipna:
            # xarray keeps a point while any coordinate is there; the batch
            # drops it when one is NaN: drop the points where all are
            gone = np.all(np.isnan(np.broadcast_to(xdata, (K, k, M))), axis=1)
            if np.any(gone):
                Yk = np.where(gone, np.nan, Yk)
    P0 = _per_pixel(pv[:n], pix, K)
    if isinstance(f, Model) and np.isnan(P0).any():
        P0 = _guessed(f, P0, xdata, Yk, K)
    LB = _per_pixel(pv[n:2 * n], pix, K)
    UB = _per_pixel(pv[2 * n:], pix, K)
    res = engine_call(curve_fit_batch, f, xdata, Yk, p0=P0, bounds=(LB, UB),
                      nan_policy="omit" if skipna else None, return_pcov=True,
                      threads=threads, **kw)
    nan_x = (np.isnan(xdata) if k == 1 else np.any(np.isnan(xdata), axis=1))
    has_points = np.any(~np.isnan(Yk) & ~nan_x, axis=1)
    _check_rows(res, pix, skipna, errors, has_points)
    ok = res.success
    popt.reshape(K, n)[ok] = res.x[ok]
    pcov.reshape(K, n, n)[ok] = res.pcov[ok]
    return popt, pcov


def _guessed(model, P0, xdata, Y, K):
    """``P0`` (K, n) with its NaN entries (no ``p0`` given) taken from the
    model's guess of each pixel's finite points, or xarray's 1 where the
    guess has nothing to go on (a pixel without points)."""
    G = guess_rows(model, xdata, Y)
    P = np.array(np.broadcast_to(P0, (K, model.n)))
    free = np.isnan(P)
    G = np.ones_like(P) if G is None else np.where(np.isfinite(G), G, 1.0)
    P[free] = G[free]
    return P


def _check_rows(res, pix, skipna, errors, has_points):
    """scipy's ``curve_fit`` errors, pixel by pixel, as xarray meets them
    (``has_points``: which pixels have a point to fit)."""
    status = res.status
    where = (lambda k: f"pixel {np.unravel_index(k, pix)} of its chunk")
    bad = np.flatnonzero(status == NONFINITE_START)
    if bad.size:
        raise ValueError(f"array must not contain infs or NaNs: {where(bad[0])} (and "
                         f"{bad.size - 1} more) with skipna=False.")
    if skipna:
        few = np.flatnonzero((status == TOO_FEW_POINTS) & has_points)
        if few.size:
            raise TypeError(f"Improper input: {where(few[0])} has fewer points than "
                            "parameters after dropping NaNs.")
    failed = np.flatnonzero((status <= 0) & ~np.isin(status, NO_RESULT))
    if failed.size and errors == "raise":
        k = failed[0]
        raise RuntimeError(f"Optimal parameters not found: {BatchResult.message(status[k])} "
                           f"({where(k)}, and {failed.size - 1} more; errors='ignore' "
                           "gives them NaN).")


def curvefit(obj, coords, func, reduce_dims=None, skipna=True, p0=None, bounds=None,
             param_names=None, errors="raise", kwargs=None, *, threads=None):
    """Curve fitting per pixel, as :meth:`xarray.Dataset.curvefit`, on lsqcore.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        The data; a Dataset fits each data variable.  Dask-backed data are
        fitted lazily, one batch task per chunk of pixels.
    coords : hashable, DataArray, or a sequence of them
        The independent variable(s).
    func : callable or lsqcore.models.Model
        ``func(x, *params)``: a ``numba.njit`` function or one that Numba
        can compile (numpy and ``math`` on arrays and scalars); or a library
        model (:mod:`lsqcore.models`), fitted with its exact Jacobian, its
        parameter names, its guess per pixel for every parameter not in
        ``p0``, and its default bounds where ``bounds`` names none.
    reduce_dims, skipna, p0, bounds, param_names, errors
        As in :meth:`xarray.Dataset.curvefit`.
    kwargs : dict, optional
        Keyword arguments of :func:`lsqcore.curve_fit_batch`.
    threads : int, optional
        Threads of each chunk's engine; default: the Dask worker's (or all
        of Numba's) -- see :mod:`lsqcore.batch._dask`.

    Returns
    -------
    xarray.Dataset
        ``[var_]curvefit_coefficients`` and ``[var_]curvefit_covariance``
        as xarray returns them.
    """
    p0 = {} if p0 is None else dict(p0)
    bounds = {} if bounds is None else dict(bounds)
    kw = {} if kwargs is None else dict(kwargs)
    if errors not in ("raise", "ignore"):
        raise ValueError('errors must be either "raise" or "ignore"')
    for name in ("p0", "bounds", "sigma", "xdata", "ydata", "threads", "nan_policy",
                 "return_pcov"):
        if name in kw:
            raise ValueError(f"`kwargs` must not set {name!r}: curvefit sets it.")
    reduce = _as_list(reduce_dims)
    if isinstance(coords, (str, xr.DataArray)) or not isinstance(coords, Iterable):
        coords = [coords]
    coord_list = [obj[c] if isinstance(c, str) else c for c in coords]
    for x in coord_list:
        reduce += [d for d in obj.dims if x.equals(obj[d])]
    reduce = list(dict.fromkeys(reduce))
    preserved = [d for d in obj.dims if d not in reduce]
    if not reduce:
        raise ValueError("No arguments to `coords` were identified as a dimension on the "
                         "calling object, and no dims were supplied to `reduce_dims`. "
                         "This would result in fitting on scalar data.")
    for p, v in p0.items():
        _check_dims(f"Initial guess for {p!r}", v, preserved)
    for p, (lb, ub) in bounds.items():
        _check_dims(f"Lower bound for {p!r}", lb, preserved)
        _check_dims(f"Upper bound for {p!r}", ub, preserved)
    params, defaults = _params(func, param_names)
    unknown = (set(p0) | set(bounds)) - set(params)
    if unknown:
        raise ValueError(f"`p0`/`bounds` name parameters {sorted(unknown)} that `func` "
                         f"does not have; its parameters are {params}.")
    model = func if isinstance(func, Model) else None
    f = func if model is not None or isinstance(func, numba.core.dispatcher.Dispatcher) \
        else numba.njit(func)
    start, lims = _starts(params, defaults, p0, bounds, model, kw.get("method"))
    xs = [c.broadcast_like(obj, exclude=preserved) for c in xr.broadcast(*coord_list)]
    k = len(xs)
    n = len(params)
    data_vars = {"": obj} if isinstance(obj, xr.DataArray) else dict(obj.data_vars)
    result = xr.Dataset()
    for name, da in data_vars.items():
        prefix = f"{name}_" if name != "" else ""
        popt, pcov = xr.apply_ufunc(
            _fit_chunk, da, *xs, *start.values(), *[b[0] for b in lims.values()],
            *[b[1] for b in lims.values()],
            dask="parallelized",
            input_core_dims=[reduce] * (1 + k) + [[] for _ in range(3 * n)],
            output_core_dims=[["param"], ["cov_i", "cov_j"]],
            dask_gufunc_kwargs={"output_sizes": {"param": n, "cov_i": n, "cov_j": n}},
            output_dtypes=(np.float64, np.float64),
            exclude_dims=set(reduce),
            kwargs=dict(f=f, n=n, k=k, nred=len(reduce), skipna=skipna, errors=errors,
                        kw=kw, threads=threads))
        result[prefix + "curvefit_coefficients"] = popt
        result[prefix + "curvefit_covariance"] = pcov
    result = result.assign_coords({"param": params, "cov_i": params, "cov_j": params})
    # (as xarray: a Dataset's attributes; a DataArray's stay on the DataArray)
    result.attrs = obj.attrs.copy() if isinstance(obj, xr.Dataset) else {}
    return result


class _Accessor:
    """``obj.lsq``: lsqcore's fitting methods on an xarray object."""

    def __init__(self, obj):
        self._obj = obj

    def curvefit(self, coords, func, **kwargs):
        """:func:`lsqcore.xarray.curvefit` on this object."""
        return curvefit(self._obj, coords, func, **kwargs)


xr.register_dataarray_accessor("lsq")(_Accessor)
xr.register_dataset_accessor("lsq")(_Accessor)
