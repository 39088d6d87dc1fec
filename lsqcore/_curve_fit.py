"""``curve_fit``: fit ``ydata ~ f(xdata, *params)`` with scipy 1.17's semantics.

The fit is the least-squares problem on the *whitened* residual

    r(p) = W (f(xdata, *p) - ydata)

with ``W = diag(1/sigma)`` for 1-D ``sigma`` (standard deviations) and
``W = L^{-1}`` for a 2-D ``sigma`` (a covariance matrix ``C = L L^T``,
Cholesky), so that ``||r||^2 = (f - y)^T C^{-1} (f - y)`` is the
generalised least-squares objective (Seber & Wild, *Nonlinear Regression*,
1989, sec. 2.1.4).  ``L^{-1} d`` is computed by forward substitution, never
by inverting ``L``.  The covariance of the parameters is ``s^2 (J^T J)^+``
with ``J`` the Jacobian of ``r`` (see :mod:`lsqcore._diagnostics`).

Compiled fits
-------------
When ``f`` (and a callable ``jac``) are Numba dispatchers and ``xdata`` is an
array, the residual ``r`` is itself compiled: Numba cannot star-unpack an
array into scalar arguments, so a small wrapper is generated per parameter
count and weighting (``f(x, p[0], ..., p[n-1])``) with the user's dispatcher
bound as a global, and the whole solve runs in
:func:`lsqcore.least_squares`'s compiled driver.  Wrappers are memoised per model, so
a model is compiled once per process.  Anything else runs the plain-Python
driver, where only the model itself is interpreted.
"""
from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
from numba import njit, types
from numba.extending import overload

from ._numba_internals import CPUDispatcher, fingerprint as _fingerprint
from ._validate import refuse_bounds, check_nan_policy, Unsupported
from ._diagnostics import Diagnostic, fit_warning, default_rcond, emit
from ._memo import Memo
from ._wrapcache import cached_njit
from ._poisson import (deviance_residual, deviance_jacobian, fisher_rows, check_poisson,
                       check_estimator)
from ._report import analyse_fit, build_report
from . import _multistart as MS
from ._api import least_squares
from ._status import MAX_NFEV
from ._leastsq import minpack_outcome, minpack_factors, FirstCall
from ._linalg import EPS
from .models._model import Model
from .models._bind import bind

JAC_STRINGS = ("2-point", "3-point", "cs")
METHODS = ("lm", "trf", "gn", "dogbox")


# ----------------------------------------------------------------------------
# compiled residual / Jacobian wrappers
# ----------------------------------------------------------------------------

@njit(cache=True, error_model="numpy")
def lower_solve_vec(Lc, d):
    """``L^{-1} d`` for lower-triangular ``L`` (forward substitution)."""
    m = d.shape[0]
    z = np.empty(m, dtype=d.dtype)
    for i in range(m):
        s = d[i]
        for k in range(i):
            s -= Lc[i, k] * z[k]
        z[i] = s / Lc[i, i]
    return z


@njit(cache=True, error_model="numpy")
def lower_solve_mat(Lc, B):
    """``L^{-1} B`` column by column."""
    m, n = B.shape
    Z = np.empty((m, n), dtype=B.dtype)
    for j in range(n):
        for i in range(m):
            s = B[i, j]
            for k in range(i):
                s -= Lc[i, k] * Z[k, j]
            Z[i, j] = s / Lc[i, i]
    return Z


@njit(cache=True, error_model="numpy")
def whiten_vec(T, d):
    """``W d``: ``T`` is ``(m, 1)`` weights (``1/sigma``) or the ``(m, m)``
    Cholesky factor ``L`` of the covariance (then ``L^{-1} d``).  One 2-D
    argument type for every weighting: one compiled solve per model."""
    if T.shape[1] == 1:
        out = np.empty(d.shape[0], dtype=d.dtype)
        for i in range(d.shape[0]):
            out[i] = T[i, 0] * d[i]
        return out
    return lower_solve_vec(T, d)


@njit(cache=True, error_model="numpy")
def whiten_residual(T, r, y, k):
    """``W (r - y)`` over the first ``k`` points: :func:`whiten_vec` of the
    difference, computed in one pass (one allocation instead of two per
    evaluation) when ``T`` holds weights; the same arithmetic."""
    if T.shape[1] == 1:
        out = np.empty(k, dtype=r.dtype)
        for i in range(k):
            out[i] = T[i, 0] * (r[i] - y[i])
        return out
    return whiten_vec(T[:k], r[:k] - y[:k])


@njit(cache=True, error_model="numpy")
def whiten_mat(T, B):
    """``W B`` row-scaled or forward-substituted, as :func:`whiten_vec`."""
    if T.shape[1] == 1:
        m, n = B.shape
        out = np.empty((m, n), dtype=B.dtype)
        for i in range(m):
            for j in range(n):
                out[i, j] = T[i, 0] * B[i, j]
        return out
    return lower_solve_mat(T, B)


# The residual goes through an @overload'ed stub: for complex ``p`` (the
# complex-step branch of the compiled driver, typed whether or not it runs)
# it calls the model only if jac='cs' was asked for, so that a float-only
# model (e.g. one using math.exp) still compiles.  These wrappers also serve
# the batch (lsqcore.batch._model.model_residual), where a row's model may
# return the wrong length at run time: then they return an empty array
# (never reading past ``y`` or ``T``) and the compiled driver reports the
# shape.
_RESID_SRC = (
    "def stub(p, x, y, T):\n"
    "    pass\n"
    "@overload(stub, jit_options={{'error_model': 'numpy'}})\n"
    "def _ov(p, x, y, T):\n"
    "    if isinstance(p.dtype, types.Complex) and not CS:\n"
    "        def impl(p, x, y, T):\n"
    "            return np.full(y.shape[0], np.nan + 0j)\n"
    "        return impl\n"
    "    def impl(p, x, y, T):\n"
    "        r = model({x}, {a})\n"
    "        k = r.shape[0] if r.shape[0] == y.shape[0] else 0\n"
    "        return {ret}\n"
    "    return impl\n"
    "def resid(p, x, y, T):\n"
    "    return stub(p, x, y, T)\n")
_JAC_SRC = ("def jacw(p, x, y, T):\n"
            "    J = jac({x}, {a})\n"
            "    k = J.shape[0] if J.shape[0] == y.shape[0] and J.shape[1] == {n} else 0\n"
            "    return whiten_mat(T[:k], J[:k])\n")
# estimator='poisson': the deviance residuals of lsqcore._poisson (no weights)
_PJAC_SRC = ("def jacw(p, x, y, T):\n"
             "    J = jac({x}, {a})\n"
             "    v = model({x}, {a})\n"
             "    ok = J.shape[0] == y.shape[0] and J.shape[1] == {n} and v.shape[0] == y.shape[0]\n"
             "    return deviance_jacobian(v, J, y, y.shape[0] if ok else 0)\n")
_RETURNS = {False: "whiten_residual(T, r, y, k)", True: "deviance_residual(r, y, k)"}
_WRAPPERS = Memo()
# (resid wrapper, jac wrapper, Numba type fingerprint of (p0, args)) that compiled
_TYPED = set()


def _compiled_wrapper(name, user, n, cs=False, xt=False, poisson=False, model=None):
    """The generated, jitted residual (``name='resid'``) or Jacobian
    (``'jacw'``) for the user's dispatcher ``user`` with ``n`` parameters;
    ``xt``: ``x`` arrives point-major, ``(m, k)``, and the user's function
    gets its transpose, scipy's ``(k, m)`` (the batch's several predictors);
    ``poisson``: ``estimator='poisson'``, deviance residuals replace the
    weighted differences (:mod:`lsqcore._poisson`); the Jacobian's wrapper
    then also calls ``model``, the model itself."""
    model = model if poisson else None
    key = (name, user, n, cs, xt, poisson, model)
    w = _WRAPPERS.get(key)
    if w is None:
        a = ", ".join(f"p[{i}]" for i in range(n))
        ns = {"np": np, "whiten_residual": whiten_residual, "whiten_mat": whiten_mat,
              "deviance_residual": deviance_residual, "deviance_jacobian": deviance_jacobian,
              "types": types, "overload": overload, "CS": cs,
              "model" if name == "resid" else "jac": user}
        x = "x.T" if xt else "x"
        if name == "resid":
            src = _RESID_SRC.format(a=a, x=x, ret=_RETURNS[poisson])
        elif poisson:
            ns["model"] = model
            src = _PJAC_SRC.format(a=a, n=n, x=x)
        else:
            src = _JAC_SRC.format(a=a, n=n, x=x)
        # from a source file, so that Numba's disk cache serves it (and the
        # C wrappers built on it) in later processes
        w, = cached_njit(src, (name,), ns)
        _WRAPPERS[key] = w
    return w


def _model_params(xdata, *p):
    """The parameters in a call ``f(xdata, *p)`` of a curve_fit model."""
    return p


def _python_wrappers(f, jac, xdata, ydata, T, kind):
    if kind == "poisson":
        def resid(p):
            v = np.asarray(f(xdata, *p), dtype=float)
            return deviance_residual(v, ydata, v.size if v.size == ydata.size else 0)
    elif kind == "none":
        def resid(p):
            return np.asarray(f(xdata, *p)) - ydata
    elif kind == "diag":
        def resid(p):
            return T * (np.asarray(f(xdata, *p)) - ydata)
    else:
        def resid(p):
            return lower_solve_vec(T, np.asarray(f(xdata, *p)) - ydata)
    if not callable(jac):
        return resid, jac
    if kind == "poisson":
        def jacw(p):
            return deviance_jacobian(np.asarray(f(xdata, *p), dtype=float),
                                     np.asarray(jac(xdata, *p), dtype=float), ydata, ydata.size)
    elif kind == "none":
        def jacw(p):
            return np.asarray(jac(xdata, *p), dtype=float)
    elif kind == "diag":
        def jacw(p):
            return T[:, None] * np.asarray(jac(xdata, *p), dtype=float)
    else:
        def jacw(p):
            return lower_solve_mat(T, np.ascontiguousarray(jac(xdata, *p), dtype=float))
    return resid, jacw


# ----------------------------------------------------------------------------
# the Jacobian behind pcov
# ----------------------------------------------------------------------------

@njit(cache=True, error_model="numpy")
def _unresolved_columns(x, J, f0, Wy, c):
    """``(S, columns)``: the whitened model size ``S = max|f0 + W y|`` and the
    columns with ``|x_j| < c S / max_i |J_ij|`` (empty if ``J`` is not finite)."""
    m, n = J.shape
    S = 0.0
    for i in range(m):
        S = max(S, abs(f0[i] + Wy[i]))
    out = []
    for j in range(n):
        cmax = 0.0
        for i in range(m):
            v = abs(J[i, j])
            if not np.isfinite(v):
                return S, np.empty(0, dtype=np.int64)
            cmax = max(cmax, v)
        if cmax == 0.0 or abs(x[j]) < c * S / cmax:
            out.append(j)
    return S, np.array(out, dtype=np.int64)


def covariance_jacobian(fun, args, x, f0, J, Wy, lb, ub, central):
    """The finite-difference Jacobian at the solution, with columns whose
    relative step cannot resolve them recomputed.

    The solver differences with ``h_j = sqrt(eps) |x_j|`` (relative steps).
    A parameter that converges to (almost) zero then gets a step far below
    anything the model can register: the change ``h_j J_j`` drowns in the
    rounding of the model values and the column comes out zero or noise, so
    the covariance is wrong (scipy's 'lm' has the same defect: gh-21995).
    Following Dennis & Schnabel (*Numerical Methods for Unconstrained
    Optimization*, 1983, sec. 5.4) the step is taken relative to a typical
    size, ``h_j = r max(|x_j|, c typ_j)``, where ``typ_j = S / max_i |J_ij|``
    is the change of ``x_j`` that moves the (whitened) model, of size ``S``,
    by its own size, and ``r`` is the relative step.  The rounding error of
    a column is about ``(eps / r) typ_j / |x_j|`` relative; ``c = 1e6 eps /
    r`` keeps it below 1e-6.  Columns with ``|x_j| >= c typ_j`` (almost all)
    are kept as the solver computed them.
    """
    x = np.asarray(x, float)
    J = np.array(J, dtype=float)
    n = x.size
    eps = EPS
    rstep = eps ** (1 / 3) if central else math.sqrt(eps)
    c = 1e6 * eps / rstep
    S, redo = _unresolved_columns(x, J, np.ascontiguousarray(f0, dtype=float), Wy, c)
    if not (S > 0) or redo.size == 0:
        return J                          # the usual case: nothing to do
    for j in redo:
        for _ in range(3):
            cmax = float(np.max(np.abs(J[:, j])))
            typ = S / cmax if cmax > 0 else np.inf
            if abs(x[j]) >= c * typ:
                break
            h = rstep * (max(abs(x[j]), c * typ) if np.isfinite(typ) else max(abs(x[j]), 1.0))
            if x[j] + h > ub[j]:
                h = -h
            if not (lb[j] <= x[j] + h <= ub[j]):
                break
            xp = x.copy()
            xp[j] += h
            h = xp[j] - x[j]
            fp = np.asarray(fun(xp, *args), float)
            if central and lb[j] <= x[j] - h <= ub[j]:
                xm = x.copy()
                xm[j] -= h
                col = (fp - np.asarray(fun(xm, *args), float)) / (2 * h)
            else:
                col = (fp - f0) / h
            if not np.all(np.isfinite(col)):
                break
            J[:, j] = col
            if np.isfinite(typ):
                break
    return J


# ----------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------

_SIGNATURES = Memo()


def _signature_params(f):
    """Names of the fit parameters from ``f``'s signature, or None if ``f``
    takes ``*args`` (or has no inspectable signature).  Memoised per ``f``."""
    try:
        return _SIGNATURES[f]
    except (KeyError, TypeError):
        pass
    out = _signature_params_uncached(f)
    try:
        if len(_SIGNATURES) > 256:
            _SIGNATURES.clear()
        _SIGNATURES[f] = out
    except TypeError:
        pass
    return out


def _signature_params_uncached(f):
    target = getattr(f, "py_func", f)
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return None, None
    pos = []
    var = False
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            pos.append(p)
        elif p.kind == p.VAR_POSITIONAL:
            var = True
    names = [p.name for p in pos[1:]]
    required = [p.name for p in pos[1:] if p.default is p.empty]
    return (None if var else names), (names, required, var)


def _whitening(T, kind, m):
    """The 2-D ``T`` of :func:`whiten_vec`: ``(m, 1)`` weights (ones when
    unweighted) or the ``(m, m)`` Cholesky factor."""
    return T if kind == "chol" else (T if kind == "diag" else np.ones(m))[:, None]


def _as_float_array(v, name, check_finite):
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`{name}` must be an array of numbers: {e}") from None
    if check_finite and not np.isfinite(a).all():
        bad = int(np.sum(~np.isfinite(a)))
        raise ValueError(f"`{name}` contains {bad} NaN or inf value(s) and check_finite is "
                         "True; remove them or pass nan_policy='omit'.")
    return a


def _check_xlen(xdata, m):
    if not isinstance(xdata, np.ndarray) or xdata.ndim == 0:
        return
    if xdata.ndim == 1:
        if xdata.shape[0] != m:
            raise ValueError(f"`xdata` and `ydata` must have the same length: "
                             f"len(xdata) = {xdata.shape[0]}, len(ydata) = {m}.")
        return
    if xdata.shape[-1] == m or xdata.shape[0] == m or xdata[0].size == m:
        return
    raise ValueError(f"`xdata` of shape {xdata.shape} does not match the {m} points of "
                     "`ydata`: expected shape (m,), (k, m) or (m, k).")


def _bounds(bounds, n):
    if (type(bounds) is tuple and len(bounds) == 2
            and all(isinstance(b, (int, float)) for b in bounds)
            and bounds[0] == -np.inf and bounds[1] == np.inf):
        return np.full(n, -np.inf), np.full(n, np.inf)          # the default
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):
        lb, ub = bounds.lb, bounds.ub
    else:
        try:
            lb, ub = bounds
        except (TypeError, ValueError):
            raise ValueError("`bounds` must be a 2-tuple (lb, ub) or a "
                             "scipy.optimize.Bounds.") from None
    lb = np.asarray(lb, dtype=float)
    ub = np.asarray(ub, dtype=float)
    try:
        lb = np.broadcast_to(lb, (n,)).copy()
        ub = np.broadcast_to(ub, (n,)).copy()
    except ValueError:
        raise ValueError(f"`bounds` must be scalars or arrays of length {n} (one per "
                         f"parameter), got shapes {lb.shape} and {ub.shape}.") from None
    if np.any(np.isnan(lb)) or np.any(np.isnan(ub)):
        raise ValueError("`bounds` must not contain NaN.")
    if np.any(lb >= ub):
        i = int(np.argmax(lb >= ub))
        raise ValueError(f"`bounds`: each lower bound must be below its upper bound, "
                         f"got lb[{i}] = {lb[i]} >= ub[{i}] = {ub[i]}.")
    return lb, ub


def _feasible_p0(lb, ub):
    """All ones, moved into the bounds (the midpoint of a finite interval)."""
    p0 = np.ones(lb.size)
    if np.all(np.isinf(lb) & np.isinf(ub)):
        return p0
    both = np.isfinite(lb) & np.isfinite(ub)
    p0[both] = 0.5 * (lb[both] + ub[both])
    lo = np.isfinite(lb) & ~np.isfinite(ub)
    p0[lo] = lb[lo] + 1.0
    hi = ~np.isfinite(lb) & np.isfinite(ub)
    p0[hi] = ub[hi] - 1.0
    return p0


def _transform(sigma, m):
    """``(kind, T)``: 'none', 'diag' (T = 1/sigma, shape (m,)) or 'chol' (T = L)."""
    if sigma is None:
        return "none", None
    s = np.asarray(sigma, dtype=float)
    if s.size == 1:
        s = np.full(m, float(s.ravel()[0]))
    if s.shape == (m,):
        bad = ~np.isfinite(s) | (s <= 0)
        if np.any(bad):
            i = int(np.argmax(bad))
            raise ValueError(f"`sigma` must hold positive, finite standard deviations; "
                             f"sigma[{i}] = {s[i]}" + (" (a zero sigma would be an "
                                                       "infinite weight)" if s[i] == 0 else "")
                             + ".")
        return "diag", 1.0 / s
    if s.shape == (m, m):
        if not np.all(np.isfinite(s)):
            raise ValueError("`sigma` (covariance matrix) must be finite.")
        if not np.allclose(s, s.T, rtol=1e-10, atol=0.0):
            raise ValueError("`sigma` (2-D) must be a symmetric covariance matrix.")
        try:
            Lc = np.linalg.cholesky(s)
        except np.linalg.LinAlgError:
            raise ValueError("`sigma` (2-D) must be positive definite (its Cholesky "
                             "factorisation failed).") from None
        return "chol", np.ascontiguousarray(Lc)
    raise ValueError(f"`sigma` must be a scalar, shape ({m},) standard deviations or a "
                     f"({m}, {m}) covariance matrix, got shape {s.shape}.")


def _map_leastsq_kwargs(kwargs, n):
    """scipy.optimize.leastsq option names (accepted by scipy's curve_fit with
    method='lm') translated to least_squares ones."""
    kw = dict(kwargs)
    if "maxfev" in kw:
        v = kw.pop("maxfev")
        if "max_nfev" not in kw and v:
            kw["max_nfev"] = int(v)
    if "epsfcn" in kw:
        v = kw.pop("epsfcn")
        if v is not None and "diff_step" not in kw:
            kw["diff_step"] = math.sqrt(max(float(v), np.finfo(float).eps))
    if "diag" in kw:
        v = kw.pop("diag")
        if v is not None and "x_scale" not in kw:
            kw["x_scale"] = 1.0 / np.asarray(v, dtype=float)
    if kw.pop("col_deriv", False):
        raise Unsupported("`col_deriv` is not supported: `jac` must return an (m, n) array.")
    kw.pop("factor", None)   # the initial LM step bound: lsqcore uses More's ||D x0||
    return kw


# ----------------------------------------------------------------------------
# curve_fit
# ----------------------------------------------------------------------------

def _checked_data(xdata, ydata, sigma, check_finite, nan_policy):
    """``(xdata, ydata, sigma, omitted)``: the data checked, as float arrays,
    with NaN points removed under ``nan_policy='omit'`` (``omitted`` of them)."""
    ydata = _as_float_array(ydata, "ydata", check_finite)
    if ydata.ndim > 1:
        raise ValueError(f"`ydata` must be 1-D, got shape {ydata.shape}.")
    ydata = np.atleast_1d(ydata)
    if isinstance(xdata, (list, tuple, np.ndarray)):
        xdata = _as_float_array(xdata, "xdata", check_finite)
    if ydata.size == 0:
        raise ValueError("`ydata` must not be empty.")
    _check_xlen(xdata, ydata.size)
    if sigma is not None:
        sigma = np.asarray(sigma, dtype=float)

    omitted = 0
    if not check_finite and nan_policy is not None:
        xnan = np.isnan(xdata) if isinstance(xdata, np.ndarray) else np.zeros((), bool)
        ynan = np.isnan(ydata)
        if nan_policy == "raise" and (np.any(xnan) or np.any(ynan)):
            where = "xdata" if np.any(xnan) else "ydata"
            raise ValueError(f"The input contains nan values: `{where}` contains NaN and "
                             "nan_policy='raise'.")
        if nan_policy == "omit" and (np.any(xnan) or np.any(ynan)):
            has = ynan.copy()
            if isinstance(xdata, np.ndarray) and xdata.ndim >= 1:
                if xdata.ndim == 1:
                    has |= xnan
                else:
                    has |= np.any(xnan.reshape(-1, xnan.shape[-1]), axis=0)
            keep = ~has
            omitted = int(np.sum(has))
            ydata = ydata[keep]
            if isinstance(xdata, np.ndarray) and xdata.ndim >= 1:
                xdata = xdata[..., keep]
            if sigma is not None and sigma.ndim == 1 and sigma.size > 1:
                sigma = sigma[keep]
            elif sigma is not None and sigma.ndim == 2:
                sigma = sigma[np.ix_(keep, keep)]
            if ydata.size == 0:
                raise ValueError("no data left after omitting NaN (nan_policy='omit').")
    return xdata, ydata, sigma, omitted


def _broadcast_scalar_ydata(f, xdata, ydata, p0, bounds, method):
    """A scalar ``ydata`` stands for that value at every point of the model's
    output (scipy subtracts it with broadcasting): its length is read from
    ``f`` at ``p0``."""
    if np.ndim(ydata) != 0:
        return ydata
    p0 = _parameters(f, p0, bounds, method)[0]
    with np.errstate(all="ignore"):
        shape = np.shape(np.atleast_1d(np.asarray(f(xdata, *p0), dtype=float)))
    return np.full(shape, float(ydata))


def _parameters(f, p0, bounds, method):
    """``(p0, n, names, lb, ub, bounded, method)``: the fit parameters from
    ``p0`` or ``f``'s signature, checked against the bounds, and the method
    (None: 'trf' with bounds, else 'lm', as scipy)."""
    sig_names, sig_info = _signature_params(f)
    if p0 is None:
        if sig_names is None or len(sig_names) == 0:
            raise ValueError("Unable to determine the number of fit parameters from `f`'s "
                             "signature; pass `p0`.")
        n = len(sig_names)
    else:
        p0 = np.atleast_1d(np.asarray(p0, dtype=float))
        if p0.ndim != 1:
            raise ValueError(f"`p0` must be 1-D, got shape {p0.shape}.")
        n = p0.size
        if sig_info is not None:
            names_all, required, var = sig_info
            if (n < len(required)) or (not var and n > len(names_all)):
                expect = (f"{len(required)}" if len(required) == len(names_all)
                          else f"{len(required)} to {len(names_all)}")
                raise ValueError(f"`p0` has {n} value(s) but `f` takes {expect} fit "
                                 f"parameter(s) ({', '.join(names_all)}).")
        if not all(map(math.isfinite, p0.tolist())):
            raise ValueError(f"`p0` must be finite, got {p0!r}.")
    names = (sig_names[:n] if sig_names is not None and len(sig_names) >= n
             else [f"p{i}" for i in range(n)])
    lb, ub = _bounds(bounds, n)
    if p0 is None:
        p0 = _feasible_p0(lb, ub)
    lbl, ubl, p0l = lb.tolist(), ub.tolist(), p0.tolist()   # (cheaper than numpy on n values)
    bounded = any(map(math.isfinite, lbl)) or any(map(math.isfinite, ubl))
    if method is None:
        method = "trf" if bounded else "lm"
    if bounded and method not in ("trf", "dogbox"):
        refuse_bounds(method)
    i = next((i for i in range(n) if p0l[i] < lbl[i] or p0l[i] > ubl[i]), -1)
    if i >= 0:
        raise ValueError("Initial guess is outside of provided bounds: `p0` has "
                         f"{names[i]} = p0[{i}] = {p0[i]} not in [{lb[i]}, {ub[i]}].")
    return p0, n, names, lb, ub, bounded, method


def _residual(f, jac, xdata, ydata, T, kind, p0, m, n):
    """``(fun, jfun, args, driver, jac_kind)``: the whitened residual (and
    Jacobian) handed to ``least_squares``: compiled wrappers of a jitted
    model (``driver='compiled'``), else Python ones; ``f`` (and ``jac``)
    checked once at ``p0``."""
    y0 = np.asarray(f(xdata, *p0))
    if y0.shape not in ((m,), (), (1,)):
        raise ValueError(f"`f(xdata, *p0)` returned shape {y0.shape}; expected ({m},) like "
                         "`ydata`.")
    if callable(jac):
        J0 = np.asarray(jac(xdata, *p0))
        if J0.shape != (m, n):
            raise ValueError(f"`jac(xdata, *p0)` returned shape {J0.shape}; expected {(m, n)}.")
    jac_kind = "analytic" if callable(jac) else (jac or "2-point")

    driver = "python"
    fun, jfun, args = None, None, ()
    if (isinstance(f, CPUDispatcher) and isinstance(xdata, np.ndarray)
            and (not callable(jac) or isinstance(jac, CPUDispatcher)) and y0.shape == (m,)):
        args = (np.ascontiguousarray(xdata), np.ascontiguousarray(ydata),
                np.ascontiguousarray(_whitening(T, kind, m), dtype=float))
        try:
            poisson = kind == "poisson"
            fun = _compiled_wrapper("resid", f, n, cs=(jac == "cs"), poisson=poisson)
            jfun = (_compiled_wrapper("jacw", jac, n, poisson=poisson, model=f)
                    if callable(jac) else None)
            key = (fun, jfun, _fingerprint((p0, args)))
            if key not in _TYPED:
                # compiles the wrappers (or fails to type) once per argument types
                fun(p0.copy(), *args)
                if jfun is not None:
                    jfun(p0.copy(), *args)
                _TYPED.add(key)
            driver = "compiled"
        except Exception as e:   # noqa: BLE001 - numba typing errors of the user's model
            warnings.warn(f"curve_fit: the jitted model could not be called from the "
                          f"compiled residual ({type(e).__name__}); using the Python "
                          "driver.", fit_warning(), stacklevel=3)
            fun = None
    if fun is None:
        # the solver's first calls are at p0, where f and jac were just run
        fun, jfun = _python_wrappers(FirstCall(f, p0, y0, _model_params),
                                     FirstCall(jac, p0, J0, _model_params)
                                     if callable(jac) else jac,
                                     xdata, ydata, T, kind)
        args = ()
    if not callable(jac):
        jfun = jac if jac is not None else "2-point"
    return fun, jfun, args, driver, jac_kind


def _poisson_kind(estimator, ydata, sigma, jac, kwargs):
    """``(kind, T)`` of ``estimator='poisson'``, after its rules."""
    check_estimator(estimator)
    check_poisson(ydata, sigma, kwargs.get("loss"), jac)
    return "poisson", None


def _fisher_jacobian(f, xdata, ydata, popt, Jr):
    """Rows of the Fisher information at ``popt`` from the solver's Jacobian
    of the deviance residuals (:func:`lsqcore._poisson.fisher_rows`)."""
    with np.errstate(all="ignore"):
        v = np.broadcast_to(np.asarray(f(xdata, *popt), dtype=float), ydata.shape)
        return fisher_rows(np.ascontiguousarray(Jr, dtype=float), np.ascontiguousarray(v),
                           ydata)


def _full_output(f, xdata, ydata, sigma, T, kind, res, Jc, analysis, method, names,
                 absolute_sigma, ms, driver, omitted):
    """The ``infodict`` of ``full_output=True``, with its :class:`FitReport`."""
    popt, pcov_ident, m = res.x, analysis[4], ydata.size
    with np.errstate(all="ignore"):
        yfit = np.broadcast_to(np.asarray(f(xdata, *popt), dtype=float), (m,))
    rep = build_report(
        x=popt, fun=res.fun, J=Jc, status=res.status, nfev=res.nfev, njev=res.njev,
        nit=res.get("nit"), message=res.message, method=method, names=names,
        absolute_sigma=absolute_sigma, ydata=ydata, yfit=yfit,
        weights=T if kind == "diag" else None, chol=T if kind == "chol" else None,
        source="curve_fit", multistart=MS.summary(ms) if ms is not None else None,
        analysis=analysis)
    rep._plot = {"f": f, "xdata": xdata, "ydata": ydata, "sigma": sigma, "kind": kind}
    info = dict(nfev=res.nfev, njev=res.njev, nit=res.get("nit"), fvec=res.fun,
                jac=Jc, cost=res.cost, rank=rep.rank, cond=rep.cond,
                null_space=rep.null_space, pcov_identifiable=pcov_ident.copy(),
                diagnostics=rep.diagnostics, report=rep,
                multistart=ms, driver=driver, method=method, omitted=omitted)
    if "trace" in res:
        info["trace"] = res.trace
    return info


def curve_fit(f, xdata, ydata, p0=None, sigma=None, absolute_sigma=False,
              check_finite=None, bounds=(-np.inf, np.inf), method=None, jac=None, *,
              full_output=False, nan_policy=None, multistart=None, seed=None,
              warn=True, estimator="ls", **kwargs):
    """Use nonlinear least squares to fit a function ``f`` to data.

    A drop-in for :func:`scipy.optimize.curve_fit` (scipy 1.17 semantics):
    assumes ``ydata = f(xdata, *params) + eps`` and minimises the
    (weighted) sum of squared residuals.

    Parameters
    ----------
    f : callable
        ``f(x, p1, p2, ...)``.  A Numba ``@njit`` model (with ``xdata`` an
        array) runs the whole fit in compiled code.
    xdata : array_like or object
        Independent variable, shape (m,) or (k, m); passed to ``f`` as is.
    ydata : array_like, shape (m,)
        Dependent data.
    p0 : array_like, optional
        Initial guess (default all ones, moved inside finite bounds).
    sigma : None, scalar, (m,) or (m, m), optional
        Standard deviations of ``ydata`` (1-D) or its covariance matrix (2-D).
    absolute_sigma : bool, optional
        True: ``sigma`` is absolute and ``pcov`` is not rescaled by the
        reduced chi-square.
    check_finite : bool, optional
        Reject NaN/inf in the data (default True unless ``nan_policy`` is set).
    bounds : 2-tuple or Bounds, optional
        Bounds on the parameters (selects 'trf' by default).
    method : {'lm', 'trf', 'dogbox', 'gn'}, optional
        Default 'lm' without bounds, 'trf' with them.
    jac : callable, '2-point', '3-point' or 'cs', optional
        ``jac(x, *params) -> (m, n)`` Jacobian of the *model* (the weighting
        is applied here), or a finite-difference scheme.
    full_output : bool, optional
        Also return ``infodict, mesg, ier``: for 'lm' as scipy's leastsq
        reports them (MINPACK's ``ier`` 1-4, its message, ``fjac``, ``ipvt``
        and ``qtf`` in ``infodict``), for the other methods the solver's
        message and status.
    nan_policy : {None, 'raise', 'omit'}, optional
        What to do with NaN in ``xdata``/``ydata``.
    multistart : int, optional
        Solve from this many starting points (``p0`` plus a seeded sample;
        see :func:`lsqcore.multistart`) and return the best.
    seed : None, int or Generator, optional
        Seed of the multistart sample.
    warn : bool, optional
        Issue diagnostics as :class:`lsqcore.FitWarning` (default True);
        they are in the report either way.
    estimator : {'ls', 'poisson'}, optional
        'ls' (default): least squares, as scipy.  'poisson': maximum
        likelihood for counts ``ydata ~ Poisson(f(xdata, *p))`` (the
        deviance minimised by the same solvers, :mod:`lsqcore._poisson`);
        no ``sigma``; ``pcov`` is the inverse Fisher information (the
        Cramer-Rao bound), never rescaled.
    **kwargs
        Passed to :func:`lsqcore.least_squares` (``ftol``, ``xtol``,
        ``gtol``, ``max_nfev``, ``x_scale``, ``loss``, ``diff_step``, ...);
        leastsq's ``maxfev``, ``epsfcn`` and ``diag`` are translated.

    Returns
    -------
    popt : ndarray
        Best-fit parameters.
    pcov : ndarray
        Covariance ``s^2 (J^T J)^{-1}``.  Where the Jacobian is rank deficient
        a parameter that takes part in a combination the data cannot determine
        has an infinite variance: ``inf`` in its row and column (the
        pseudo-inverse, lsqcore's ``pcov`` before, gives it a small finite
        error; scipy's tiny cut-off a huge finite one).  The combinations are
        in ``infodict['null_space']`` and a warning.
    infodict : dict (``full_output``)
        ``nfev, njev, nit, fvec, jac, cost, rank, cond, null_space,
        diagnostics, report`` (a :class:`lsqcore.FitReport`), ``multistart``
        (the multistart result or None), ``driver`` ('compiled' or 'python'),
        ``pcov_identifiable``: ``s^2 (J^T J)^+``, the pseudo-inverse, which
        gives the variance ``c^T P c`` of every estimable function ``c^T p``
        (``c`` orthogonal to the null space; e.g. ``a*d`` when only the
        product is determined); equal to ``pcov`` at full rank.
    mesg : str (``full_output``)
    ier : int (``full_output``)
        The least_squares status.

    Raises
    ------
    ValueError
        Bad input (named), before any evaluation of ``f``.
    RuntimeError
        The solver did not converge (e.g. ``max_nfev`` reached).
    """
    # ---------------------------------------------------------------- inputs
    if not callable(f):
        raise TypeError(f"`f` must be callable, got {type(f).__name__}.")
    if "args" in kwargs:
        raise ValueError("'args' is not a supported keyword argument: the model takes "
                         "its parameters as f(x, *params).")
    check_nan_policy(nan_policy)
    if method is not None and method not in METHODS:
        raise ValueError(f"`method` must be None or one of {METHODS}, got {method!r}.")
    if not (jac is None or callable(jac) or jac in JAC_STRINGS):
        raise ValueError(f"`jac` must be None, a callable or one of {JAC_STRINGS}, got {jac!r}.")
    if multistart is not None and (isinstance(multistart, bool) or int(multistart) != multistart
                                   or multistart < 1):
        raise ValueError(f"`multistart` must be None or a positive integer, got {multistart!r}.")
    if check_finite is None:
        check_finite = nan_policy is None

    if isinstance(f, Model) and np.ndim(ydata) == 0:
        raise ValueError("`ydata` must be an array of data for a library model's guess; "
                         f"got a scalar ({ydata!r}).")
    ydata = _broadcast_scalar_ydata(f, xdata, ydata, p0, bounds, method)
    xdata, ydata, sigma, omitted = _checked_data(xdata, ydata, sigma, check_finite,
                                                 nan_policy)
    m = ydata.size
    f, jac, p0, bounds, _ = bind(f, xdata, ydata, p0, bounds, method, jac, batch=False)

    p0, n, names, lb, ub, bounded, method = _parameters(f, p0, bounds, method)
    kind, T = _transform(sigma, m) if estimator == "ls" else _poisson_kind(
        estimator, ydata, sigma, jac, kwargs)
    if method == "lm" and m != 1 and n > m:
        raise TypeError(f"The number of func parameters={n} must not exceed the number of "
                        f"data points={m}")
    kwargs = _map_leastsq_kwargs(kwargs, n)

    # ---------------------------------------------------------------- residual
    fun, jfun, args, driver, jac_kind = _residual(f, jac, xdata, ydata, T, kind, p0, m, n)

    # ---------------------------------------------------------------- solve
    ls_kw = dict(kwargs)
    ls_kw.update(jac=jfun, method=method)
    if bounded:
        ls_kw["bounds"] = (lb, ub)
    ms = None
    if multistart is not None and multistart > 1:
        ms = MS.multistart(fun, p0, int(multistart), seed=seed, args=args, **ls_kw)
        res = ms
    else:
        res = least_squares(fun, p0, args=args, **ls_kw)
    if not res.success:
        message = res.message
        if method == "lm" and res.status == MAX_NFEV:
            # scipy's 'lm' path reports through leastsq, whose words clients match
            message = _leastsq_words(res, ls_kw)[1]
        raise RuntimeError("Optimal parameters not found: " + message
                           + (" " + _STATUS_HINT.get(res.status, "")).rstrip())
    popt = res.x

    # ---------------------------------------------------------------- report
    Jc = res.jac
    if jac_kind in ("2-point", "3-point"):
        Wy = whiten_vec(args[2] if driver == "compiled" else _whitening(T, kind, m), ydata)
        with np.errstate(all="ignore"):
            Jc = covariance_jacobian(fun, args, popt, res.fun, res.jac, Wy, lb, ub,
                                     jac_kind == "3-point")
    if kind == "poisson":
        Jc, absolute_sigma = _fisher_jacobian(f, xdata, ydata, popt, Jc), True
    analysis = analyse_fit(x=popt, fun=res.fun, J=Jc, status=res.status, nfev=res.nfev,
                           names=names, absolute_sigma=absolute_sigma,
                           lb=lb if bounded else None, ub=ub if bounded else None,  # (no
                           # bound to be at: skips the check's ~2.6 us)
                           active_mask=res.active_mask, jac_kind=jac_kind,
                           residuals_from_user=False, cost=res.cost)
    diags, _, pcov, _, _ = analysis
    if warn:
        emit(diags)
    if not full_output:
        return popt, pcov.copy()
    info = _full_output(f, xdata, ydata, sigma, T, kind, res, Jc, analysis, method, names,
                        absolute_sigma, ms, driver, omitted)
    if method != "lm":
        return popt, pcov.copy(), info, res.message, res.status
    # scipy's 'lm' path reports as leastsq: MINPACK's ier, message and factors
    ier, mesg = _leastsq_words(res, ls_kw)
    info.update(minpack_factors(res.jac, res.fun)[0])
    return popt, pcov.copy(), info, mesg, ier


def _leastsq_words(res, ls_kw):
    """``(ier, mesg)`` of the 'lm' path as scipy's leastsq reports them (the
    evaluations made stand for ``maxfev`` when they ran out)."""
    return minpack_outcome(res.status, ls_kw.get("ftol", 1e-8), ls_kw.get("xtol", 1e-8),
                           ls_kw.get("gtol", 1e-8), res.nfev)


_STATUS_HINT = {
    0: "The solver ran out of function evaluations before converging: raise `maxfev` "
       "(or `max_nfev`), start closer with `p0`, rescale the parameters to similar "
       "sizes (x_scale='jac'), or use `multistart`.",
    -3: "The Jacobian became non-finite: the model overflows or divides by zero near "
        "the returned parameters; check `p0` and add bounds.",
    -4: "Gauss-Newton found no descent along its step: use method 'lm' or 'trf'.",
}
