"""``least_squares``: the scipy-compatible front end.

The front end does everything that is not iteration: it validates every
input once (raising before any work, naming the parameter), evaluates the
residual at ``x0``, chooses the driver (compiled when every user function
is a Numba dispatcher, Python otherwise), runs it, and builds scipy's
``OptimizeResult``.
"""
import inspect
import math
import numbers

import numpy as np
from numba.core.registry import CPUDispatcher
from scipy.optimize import Bounds, OptimizeResult

from . import _layout as L
from ._bounds import make_strictly_feasible, active_constraints, coleman_li_scaling
from ._driver import (run_python, run_compiled, Views, ERR_F_SHAPE, ERR_J_SHAPE,
                      ERR_LOSS_SHAPE)
from ._jacobian import default_rstep
from ._kernel import setup
from ._linalg import EPS
from ._loss import LOSS_CODES, CALLABLE, LINEAR
from ._status import MESSAGES, CALLBACK_STOP

METHODS = ("trf", "lm", "gn")


def _is_jitted(f):
    return isinstance(f, CPUDispatcher)


def _check_options(fun, x0, jac, method, loss, verbose, max_nfev, tr_solver,
                   jac_sparsity):
    if not callable(fun):
        raise TypeError(f"`fun` must be callable, got {type(fun).__name__}.")
    if method == "dogbox":
        raise ValueError("`method`='dogbox' is not available in lsqcore yet; "
                         "use 'trf' (bounds) or 'lm' / 'gn' (no bounds).")
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, got {method!r}.")
    if tr_solver == "lsmr":
        raise ValueError("`tr_solver`='lsmr' is not available in lsqcore yet; "
                         "only the dense 'exact' solver is.")
    if tr_solver not in (None, "exact"):
        raise ValueError(f"`tr_solver` must be None or 'exact', got {tr_solver!r}.")
    if jac_sparsity is not None:
        raise ValueError("`jac_sparsity` is not supported by lsqcore (dense Jacobians only).")
    if not (callable(jac) or jac in L.JAC_CODES):
        raise ValueError("`jac` must be '2-point', '3-point', 'cs' or a callable, "
                         f"got {jac!r}.")
    if not (callable(loss) or loss in LOSS_CODES):
        raise ValueError(f"`loss` must be one of {tuple(LOSS_CODES)} or a callable, "
                         f"got {loss!r}.")
    if method == "lm" and loss != "linear":
        raise ValueError("`method`='lm' supports only `loss`='linear'; "
                         "use 'trf' or 'gn' with a robust loss.")
    if verbose not in (0, 1, 2):
        raise ValueError(f"`verbose` must be 0, 1 or 2, got {verbose!r}.")
    if max_nfev is not None:
        if not isinstance(max_nfev, numbers.Integral) or max_nfev <= 0:
            raise ValueError(f"`max_nfev` must be None or a positive integer, got {max_nfev!r}.")


def _check_x0(x0):
    if np.iscomplexobj(x0):
        raise ValueError("`x0` must be real.")
    try:
        x0 = np.atleast_1d(np.asarray(x0, dtype=float))
    except (TypeError, ValueError) as e:
        raise ValueError(f"`x0` must be a real array_like: {e}") from None
    if x0.ndim > 1:
        raise ValueError(f"`x0` must have at most 1 dimension, got shape {x0.shape}.")
    if x0.size == 0:
        raise ValueError("`x0` must have at least one element.")
    if not np.all(np.isfinite(x0)):
        raise ValueError(f"`x0` must be finite, got {x0!r}.")
    return x0.copy()


def _check_bounds(bounds, x0, method):
    n = x0.size
    if isinstance(bounds, Bounds):
        lb, ub = bounds.lb, bounds.ub
    else:
        try:
            nb = len(bounds)
        except TypeError:
            raise ValueError("`bounds` must be a 2-tuple (lb, ub) or a scipy.optimize.Bounds.") from None
        if nb != 2:
            raise ValueError(f"`bounds` must contain 2 elements (lb, ub), got {nb}.")
        lb, ub = bounds
    lb = np.asarray(lb, dtype=float)
    ub = np.asarray(ub, dtype=float)
    if lb.ndim == 0:
        lb = np.full(n, float(lb))
    if ub.ndim == 0:
        ub = np.full(n, float(ub))
    if lb.shape != (n,) or ub.shape != (n,):
        raise ValueError(f"`bounds` must be scalars or arrays of shape ({n},) like `x0`, "
                         f"got lb {lb.shape} and ub {ub.shape}.")
    if np.any(np.isnan(lb)) or np.any(np.isnan(ub)):
        raise ValueError("`bounds` must not contain NaN.")
    if np.any(lb >= ub):
        i = int(np.argmax(lb >= ub))
        raise ValueError("Each lower bound must be strictly less than each upper bound "
                         f"(`bounds`): lb[{i}] = {lb[i]} >= ub[{i}] = {ub[i]}.")
    bounded = bool(np.any(np.isfinite(lb)) or np.any(np.isfinite(ub)))
    if bounded and method in ("lm", "gn"):
        raise ValueError(f"`method`={method!r} does not support `bounds`; use 'trf'.")
    if np.any(x0 < lb) or np.any(x0 > ub):
        i = int(np.argmax((x0 < lb) | (x0 > ub)))
        raise ValueError(f"`x0` is infeasible: x0[{i}] = {x0[i]} is outside the `bounds` "
                         f"[{lb[i]}, {ub[i]}].")
    return lb, ub


def _check_x_scale(x_scale, n, method):
    if x_scale is None:
        x_scale = "jac" if method == "lm" else 1.0
    if isinstance(x_scale, str):
        if x_scale != "jac":
            raise ValueError(f"`x_scale` must be 'jac' or positive numbers, got {x_scale!r}.")
        return np.ones(n), True
    try:
        xs = np.asarray(x_scale, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("`x_scale` must be 'jac' or array_like of positive numbers.") from None
    if xs.ndim == 0:
        xs = np.full(n, float(xs))
    if xs.shape != (n,):
        raise ValueError(f"`x_scale` must have shape ({n},) like `x0`, got {xs.shape}.")
    if not np.all(np.isfinite(xs)) or np.any(xs <= 0):
        raise ValueError(f"`x_scale` must be finite and positive, got {xs!r}.")
    return xs, False


def _check_tolerances(ftol, xtol, gtol, method):
    tols = {}
    for name, t in (("ftol", ftol), ("xtol", xtol), ("gtol", gtol)):
        t = 0.0 if t is None else float(t)
        if not t >= 0.0:
            raise ValueError(f"`{name}` must be a non-negative number, got {t!r}.")
        tols[name] = t
    if method == "lm" and min(tols.values()) < EPS:
        raise ValueError("All tolerances (`ftol`, `xtol`, `gtol`) must be at least machine "
                         f"epsilon ({EPS:.2e}) for `method`='lm'.")
    if max(tols.values()) < EPS:
        raise ValueError("At least one of the tolerances `ftol`, `xtol`, `gtol` must be at "
                         f"least machine epsilon ({EPS:.2e}).")
    return tols["ftol"], tols["xtol"], tols["gtol"]


def _check_diff_step(diff_step, n, jac):
    if diff_step is None:
        code = L.JAC_CODES.get(jac, L.JAC_2POINT) if isinstance(jac, str) else L.JAC_2POINT
        r = 0.0 if jac == "cs" else default_rstep(code)
        return np.full(n, r)
    ds = np.asarray(diff_step, dtype=float)
    if ds.ndim == 0:
        ds = np.full(n, float(ds))
    if ds.shape != (n,):
        raise ValueError(f"`diff_step` must be a scalar or have shape ({n},), got {ds.shape}.")
    if not np.all(np.isfinite(ds)) or np.any(ds <= 0):
        raise ValueError(f"`diff_step` must be finite and positive, got {ds!r}.")
    return ds


def _initial_residual(fun, x0, args, kwargs):
    f0 = np.atleast_1d(np.asarray(fun(x0.copy(), *args, **kwargs)))
    if np.iscomplexobj(f0):
        raise ValueError("`fun` must return real residuals, got a complex array at `x0`.")
    f0 = f0.astype(float)
    if f0.ndim != 1:
        raise ValueError(f"`fun` must return at most a 1-d array_like, got shape {f0.shape}.")
    if f0.size == 0:
        raise ValueError("`fun` returned no residuals at `x0`.")
    if not np.all(np.isfinite(f0)):
        raise ValueError("Residuals are not finite in the initial point: `fun(x0)` "
                         f"has {int(np.sum(~np.isfinite(f0)))} non-finite values.")
    return f0


def least_squares(fun, x0, jac="2-point", bounds=(-np.inf, np.inf), method="trf",
                  ftol=1e-8, xtol=1e-8, gtol=1e-8, x_scale=None, loss="linear",
                  f_scale=1.0, diff_step=None, tr_solver=None, tr_options=None,
                  jac_sparsity=None, max_nfev=None, verbose=0, args=(), kwargs=None,
                  callback=None, *, trace=False):
    """Solve a nonlinear least-squares problem with bounds on the variables.

    A drop-in for :func:`scipy.optimize.least_squares` (scipy 1.17
    semantics).  Given residuals ``f(x)`` (an m-D real function of n real
    variables) and a loss ``rho(s)``, find a local minimum of
    ``F(x) = 0.5 * sum(rho(f_i(x)**2))`` subject to ``lb <= x <= ub``.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args, **kwargs) -> array_like, shape (m,)``.  A Numba
        ``@njit`` function runs the whole solve in compiled code.
    x0 : array_like, shape (n,) or float
        Initial guess; must be finite and inside the bounds.
    jac : {'2-point', '3-point', 'cs'} or callable, optional
        Jacobian: finite differences (steps relative to ``|x_j|``), complex
        step (``fun`` must accept complex input) or ``jac(x, *args,
        **kwargs) -> (m, n) array``.
    bounds : 2-tuple of array_like or `scipy.optimize.Bounds`, optional
        Lower and upper bounds (``method='trf'`` only).
    method : {'trf', 'lm', 'gn'}, optional
        Trust-region reflective (default; bounds and robust losses),
        Levenberg-Marquardt (More's trust-region form; ``m >= n``, linear
        loss, no bounds) or Gauss-Newton with a line search (no bounds).
    ftol, xtol, gtol : float or None, optional
        Tolerances on the cost change, the step and the (scaled) gradient.
    x_scale : None, array_like or 'jac', optional
        Characteristic scale of each variable; ``'jac'`` uses the inverse
        column norms of the Jacobian.  None: 1 for 'trf' and 'gn', 'jac' for 'lm'.
    loss : {'linear', 'soft_l1', 'huber', 'cauchy', 'arctan'} or callable, optional
        Robust loss ``rho(z)``; a callable gets ``z = (f / f_scale)**2`` and
        returns an array (3, m) of ``rho, rho', rho''``.
    f_scale : float, optional
        Soft margin between inlier and outlier residuals.
    diff_step : None or array_like, optional
        Relative finite-difference step.
    tr_solver : {None, 'exact'}, optional
        Only the dense exact solver exists ('lsmr' raises).
    tr_options, jac_sparsity : optional
        Accepted for compatibility; ``jac_sparsity`` must be None.
    max_nfev : int, optional
        Maximum number of residual evaluations (finite differences not
        counted, as in scipy); default ``100 * n``.
    verbose : {0, 1, 2}, optional
        1: a summary at the end; 2: one line per iteration.
    args, kwargs : tuple and dict, optional
        Extra arguments of ``fun`` and ``jac``.
    callback : callable, optional
        ``callback(intermediate_result)`` (or ``callback(x)``) after each
        iteration, for every method; raising ``StopIteration`` stops with
        status -2.
    trace : bool, optional
        Record every trial step in ``result.trace``.

    Returns
    -------
    result : scipy.optimize.OptimizeResult
        ``x, cost, fun, jac, grad, optimality, active_mask, nfev, njev,
        status, message, success`` with scipy's meanings, plus ``nit``.
    """
    kwargs = {} if kwargs is None else dict(kwargs)
    args = tuple(args)
    _check_options(fun, x0, jac, method, loss, verbose, max_nfev, tr_solver, jac_sparsity)
    x0 = _check_x0(x0)
    n = x0.size
    lb, ub = _check_bounds(bounds, x0, method)
    x_scale, jac_scale = _check_x_scale(x_scale, n, method)
    ftol, xtol, gtol = _check_tolerances(ftol, xtol, gtol, method)
    if not (np.isfinite(f_scale) and f_scale > 0):
        raise ValueError(f"`f_scale` must be a positive number, got {f_scale!r}.")
    rstep = _check_diff_step(diff_step, n, jac)
    if callback is not None and not callable(callback):
        raise ValueError("`callback` must be callable or None.")
    if method == "trf":
        make_strictly_feasible(x0, lb, ub, 1e-10)

    f0 = _initial_residual(fun, x0, args, kwargs)
    m = f0.size
    if method == "lm" and m < n:
        raise ValueError(f"`method`='lm' needs at least as many residuals as variables, "
                         f"got m = {m} < n = {n}.")
    if max_nfev is None:
        max_nfev = 100 * n

    robust = loss != "linear"
    loss_code = CALLABLE if callable(loss) else LOSS_CODES[loss]
    jac_code = L.JAC_CALLABLE if callable(jac) else L.JAC_CODES[jac]
    trace_cap = (max_nfev + 1) if trace else 0
    W, S = L.allocate(m, n, robust, loss_code == CALLABLE, trace_cap)
    notify = callback is not None or verbose == 2
    fopts = np.array([ftol, xtol, gtol, float(f_scale)])
    iopts = np.array([L.METHOD_CODES[method], jac_code, loss_code, int(max_nfev),
                      int(jac_scale), int(notify)], dtype=np.int64)
    setup(W, S, x0, f0, lb, ub, x_scale, rstep, fopts, iopts)

    compiled = (_is_jitted(fun) and not kwargs and not notify
                and (not callable(jac) or _is_jitted(jac))
                and (not callable(loss) or _is_jitted(loss)))
    if compiled:
        err = run_compiled(fun, jac if callable(jac) else None,
                           loss if callable(loss) else None, W, S, args)
        _raise_driver_error(err, m, n)
    else:
        hook = _iteration_hook(callback, verbose, W, S) if notify else None
        if verbose == 2:
            _print_header()
        if run_python(fun, jac if callable(jac) else None,
                      loss if callable(loss) else None, W, S, args, kwargs, hook):
            S[L.STATUS] = CALLBACK_STOP
    result = _result(W, S, method, lb, ub, xtol, trace)
    if verbose >= 1:
        initial_cost = _initial_cost(f0, loss, loss_code, f_scale)
        print(result.message)
        print(f"Function evaluations {result.nfev}, initial cost {initial_cost:.4e}, "
              f"final cost {result.cost:.4e}, first-order optimality "
              f"{result.optimality:.2e}.")
    return result


def _initial_cost(f0, loss, loss_code, f_scale):
    if loss_code == LINEAR:
        return 0.5 * float(f0 @ f0)
    z = (f0 / f_scale) ** 2
    if loss_code == CALLABLE:
        return 0.5 * f_scale ** 2 * float(np.sum(np.asarray(loss(z))[0]))
    from ._loss import rho_builtin
    return 0.5 * f_scale ** 2 * sum(rho_builtin(loss_code, float(zi))[0] for zi in z)


def _raise_driver_error(err, m, n):
    if err == ERR_F_SHAPE:
        raise ValueError(f"`fun` must return an array of shape ({m},) at every point, "
                         "as at `x0`.")
    if err == ERR_J_SHAPE:
        raise ValueError(f"`jac` must return an array of shape {(m, n)}.")
    if err == ERR_LOSS_SHAPE:
        raise ValueError(f"`loss` must return an array of shape (3, {m}).")


def _print_header():
    print("{:^15}{:^15}{:^15}{:^15}{:^15}{:^15}".format(
        "Iteration", "Total nfev", "Cost", "Cost reduction", "Step norm", "Optimality"))


def _iteration_hook(callback, verbose, W, S):
    """The per-iteration hook of the Python driver: progress line and callback."""
    v = Views(W, S)
    wants_result = False
    if callback is not None:
        try:
            params = set(inspect.signature(callback).parameters)
        except (TypeError, ValueError):
            params = set()
        wants_result = params == {"intermediate_result"}

    def hook():
        if verbose == 2:
            print(f"{int(S[L.NIT]):^15}{int(S[L.NFEV]):^15}{W[L.COST]:^15.4e}"
                  f"{W[L.ACTRED]:^15.2e}{W[L.STEP_NORM]:^15.2e}{_optimality_now(W, S):^15.2e}")
        if callback is None:
            return False
        try:
            if wants_result:
                res = OptimizeResult(x=v.x.copy(), fun=v.f.copy(), nit=int(S[L.NIT]),
                                     nfev=int(S[L.NFEV]), cost=float(W[L.COST]))
                callback(intermediate_result=res)
            else:
                callback(v.x.copy())
        except StopIteration:
            return True
        return False

    return hook


def _optimality_now(W, S):
    n = int(S[L.N])
    return float(np.max(np.abs(L.vec(W, S, L.O_G, n)))) if n else 0.0


def _result(W, S, method, lb, ub, xtol, trace):
    v = Views(W, S)
    m, n = v.m, v.n
    status = int(S[L.STATUS])
    x = v.x.copy()
    active = np.zeros(n, dtype=int)
    g = v.g.copy()
    if method == "trf":
        active_constraints(x, lb, ub, xtol, active)
        cl_v, cl_dv = np.empty(n), np.empty(n)
        coleman_li_scaling(x, g, lb, ub, cl_v, cl_dv)
        optimality = float(np.max(np.abs(g * cl_v)))
    else:
        optimality = float(np.max(np.abs(g)))
    res = OptimizeResult(
        x=x, cost=float(W[L.COST]), fun=v.f.copy(), jac=v.J.copy(), grad=g,
        optimality=optimality, active_mask=active, nfev=int(S[L.NFEV]),
        njev=int(S[L.NJEV]), status=status, message=MESSAGES[status],
        success=status > 0, nit=int(S[L.NIT]))
    if trace:
        from ._trace import Trace
        res.trace = Trace.from_workspace(W, S)
    return res
