"""``least_squares``: the scipy-compatible front end.

The front end does everything that is not iteration: it validates every
input once (raising before any work, naming the parameter), evaluates the
residual at ``x0``, chooses the driver (compiled when every user function
is a Numba dispatcher, Python otherwise), runs it, and builds scipy's
``OptimizeResult``.

A jitted residual fitted again and again (same model, options and argument
types, default bounds) skips the checks: the packed arguments of the
cached driver are remembered per call key (:func:`_remember_fast`), ``x0``
is checked for finiteness in compiled code, and the call costs ~1.5 us of
Python besides the compiled solve and Numba's dispatch.  Small problems
check bounds over Python floats, which is several times cheaper than numpy
reductions on a handful of values.
"""
import inspect
import numbers
import types

import numpy as np
from numba.core.errors import TypingError

from . import _layout as L
from ._bounds import make_strictly_feasible, active_constraints, first_order_optimality
from ._numba_internals import CPUDispatcher, fingerprint as _fingerprint
from ._log import first_use, KERNEL_MESSAGE
from ._memo import Memo

from ._row import read_row
from ._stopping import describe
from ._driver import (run_python, compiled_entry, solve_by_address, solve_by_address_ws,
                      solve_by_address_threads,
                      pack_ints, pack_floats, ERR_F_SHAPE, ERR_J_SHAPE,
                      ERR_LOSS_SHAPE, ERR_F0_NONFINITE, ERR_LM_M_LT_N, ERR_INPLACE_SHORT,
                      ERR_SPARSITY_ROWS, sparse_tail,
                      ERR_INPLACE_OVERRUN, ERR_RAISED, ERR_JAC_RAISED, ERR_X0_NONFINITE)
from ._kernel import setup, int_options, float_options, KERNEL
from ._cabi import arg_key, model_pointers, packed
from ._workers import check_workers, mapper
from ._threads import thread_count, with_threads
from .methods.dogbox import free_gradient_norm
from ._loss import LOSS_CODES, CALLABLE, LINEAR
from ._optimize_result import OptimizeResult
from ._status import MESSAGES, CALLBACK_STOP, NONFINITE_JAC, GTOL, IMPROPER_INPUT
from ._validate import (check_options, check_x0, check_bounds, check_x_scale, check_tolerances,
                        check_f_scale, check_diff_step, check_callback, is_unbounded,
                        check_tr_options, check_sparse_jacobian, check_preconditioner)
from ._sparse_jac import Pattern, PatternJacobian, is_sparse, is_operator, jacobian_pattern
_NO_BOUNDS = (-np.inf, np.inf)          # the default `bounds` (recognised by identity)
_F64 = np.dtype(np.float64)
_INT = np.dtype(int)                    # the dtype of active_mask
_KERNEL = tuple(KERNEL.tolist())


def _native_args(args):
    """``args`` with every array of non-native byte order replaced by a native copy.

    Compiled code reads an array's bytes as the native type, and neither
    Numba's dispatch nor the C wrappers' key looks at byte order: a
    big-endian ``t`` would be read as garbage by a model compiled for
    native arrays.  numpy (and scipy's residuals) convert on the fly.
    """
    for a in args:
        if isinstance(a, np.ndarray) and not a.dtype.isnative:
            return tuple(b.astype(b.dtype.newbyteorder("="))
                         if isinstance(b, np.ndarray) and not b.dtype.isnative else b
                         for b in args)
    return args


def _is_jitted(f):
    return isinstance(f, CPUDispatcher)


def _initial_residual(fun, x0, args, kwargs, m_inplace=-1, method=None):
    """``f(x0)`` as a checked float64 vector, and the dtype ``fun`` returned."""
    f0 = fun(x0.copy(), *args, **kwargs)
    if type(f0) is not np.ndarray or f0.ndim == 0:
        f0 = np.atleast_1d(np.asarray(f0))
    dtype = f0.dtype
    if m_inplace >= 0 and np.isnan(f0).any():
        raise ValueError(f"`fun` (in-place form) wrote fewer than m = {m_inplace} values "
                         "into `out` at `x0` (or wrote NaN).")
    if np.iscomplexobj(f0):
        raise ValueError("`fun` must return real residuals, got a complex array at `x0`.")
    f0 = f0.astype(float)                # (a copy: fun may reuse its output array)
    if f0.ndim != 1:
        raise ValueError(f"`fun` must return at most a 1-d array_like, got shape {f0.shape}.")
    if f0.size == 0:
        raise ValueError("`fun` returned no residuals at `x0`.")
    if not np.isfinite(f0).all():
        raise ValueError("Residuals are not finite in the initial point: `fun(x0)` "
                         f"has {int(np.sum(~np.isfinite(f0)))} non-finite values.")
    if method == "lm" and f0.size < x0.size:
        _raise_driver_error(ERR_LM_M_LT_N, f0.size, x0.size)
    return f0, dtype


def least_squares(fun, x0, jac="2-point", bounds=_NO_BOUNDS, method="trf",
                  ftol=1e-8, xtol=1e-8, gtol=1e-8, x_scale=None, loss="linear",
                  f_scale=1.0, diff_step=None, tr_solver=None, tr_options=None,
                  jac_sparsity=None, max_nfev=None, verbose=0, args=(), kwargs=None,
                  callback=None, workers=None, *, trace=False):
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
        **kwargs)`` returning an (m, n) array or a ``scipy.sparse`` matrix
        (any format; its structure at ``x0`` is the pattern of every later
        one, :mod:`lsqcore._sparse_jac`).  A sparse ``J`` is solved with
        ``tr_solver='lsmr'`` at the cost of its non-zeros
        (:mod:`lsqcore._csc`); a ``LinearOperator`` through its products
        alone (:mod:`lsqcore._operator`; 'trf' and 'dogbox', LSMR).
    bounds : 2-tuple of array_like or `scipy.optimize.Bounds`, optional
        Lower and upper bounds (``method='trf'`` or ``'dogbox'``).
    method : {'trf', 'dogbox', 'lm', 'gn'}, optional
        Trust-region reflective (default; bounds and robust losses),
        rectangular trust-region dogleg (bounds and robust losses),
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
        Relative finite-difference step: ``diff_step * |x_j|`` (scipy's
        reading; the default, ``eps**(1/2)`` for '2-point', is taken
        relative to ``max(|x_j|, min(1, |x0_j|))``).
    tr_solver : {None, 'exact', 'lsmr'}, optional
        The subproblem's solver.  'lsmr' (LSMR on the dense Jacobian,
        :mod:`lsqcore._lsmr`) serves 'trf' (the step in the plane of the
        gradient and LSMR's Gauss-Newton direction,
        :mod:`lsqcore.methods.lsmr_model`) and 'dogbox'; 'gn' refuses it and
        'lm' ignores it, as scipy's does.
    tr_options : dict, optional
        With ``tr_solver='lsmr'``: LSMR's ``atol``, ``btol``, ``conlim``,
        ``damp``, ``maxiter`` (``show`` accepted and silent), and for 'trf'
        ``regularize`` (default True; 'dogbox' ignores it with a warning);
        another key is a ``TypeError``.  Ignored by the exact solver, as in
        scipy.  lsqcore adds ``preconditioner``: None (scipy's LSMR) or
        ``'block-jacobi'``, which solves LSMR's problem in variables that make
        each diagonal block of ``J^T J`` (runs of columns with the same rows,
        such as a camera's or a point's parameters) the identity
        (:mod:`lsqcore._precond`): the same answer in fewer LSMR iterations.
        It needs a sparse ``J`` (``jac_sparsity`` or a sparse ``jac``).
    jac_sparsity : None, array_like or sparse matrix (m, n), optional
        Where ``J`` may be non-zero, for finite differences ('trf',
        'dogbox'): columns that share no row are differenced together, one
        residual evaluation per group (:mod:`lsqcore._groups`), and ``J`` is
        kept sparse (``tr_solver='lsmr'``).  Unused with a callable ``jac``.
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
    workers : int or map-like callable, optional
        Evaluates the finite-difference points of a Python residual in
        parallel, as ``workers(fun, points)``: an int k (-1: every core) runs
        a process pool for the call, a callable such as ``Pool.map`` is used
        as given (scipy >= 1.16).  For a jitted residual an int k evaluates
        the points on k of Numba's threads in compiled code (at most
        ``numba.config.NUMBA_NUM_THREADS``; -1: every core), and a callable
        is used as for a Python residual.  Results do not depend on it
        (bitwise).
    trace : bool, optional
        Record every trial step in ``result.trace``.

    Returns
    -------
    result : scipy.optimize.OptimizeResult
        ``x, cost, fun, jac, grad, optimality, active_mask, nfev, njev,
        status, message, success`` with scipy's meanings (``jac`` a
        ``scipy.sparse.csr_array`` when it was sparse), plus ``nit``,
        ``method`` (the method that ran, which :func:`lsqcore.fit_report`
        names) and, with ``jac_sparsity``, ``ngroups`` (residual evaluations
        per differenced Jacobian; twice that for '3-point').
    """
    if args and (type(fun) is CPUDispatcher or type(fun) is InPlace):
        args = _native_args(args)
    fast_key = None
    if ((type(fun) is CPUDispatcher or type(fun) is InPlace) and bounds is _NO_BOUNDS
            and kwargs is None and callback is None and trace is False and tr_solver is None
            and jac_sparsity is None and type(jac) is not PatternJacobian
            and type(x0) is np.ndarray and x0.dtype is _F64 and type(args) is tuple):
        # The repeated call (same model, options and argument types): the
        # checks of every option already passed for an equal key, so only x0
        # (type in the key, finiteness in compiled code) and args (types in
        # the key) are new.  See _remember_fast.
        try:
            fast_key = fast_key_of(fun, jac, method, ftol, xtol, gtol, x_scale, loss, f_scale,
                                   diff_step, max_nfev, verbose, workers, x0, args)
            entry = _FAST.get(fast_key)
        except (TypeError, ValueError, NotImplementedError):
            # an unhashable option, or an argument Numba cannot type
            fast_key = entry = None
        if entry is not None:
            P, F, fun_f, jac_f, m_inplace, solve, threads = entry
            try:
                parts = with_threads(threads, solve, P, F, x0, packed(args))
            except TypingError as e:
                _raise_typing_error(e, fun_f, jac_f, None, m_inplace)
            return _address_result(parts, x0, fun_f, jac_f, args, m_inplace,
                                   method=method)
    with first_use("kernel", KERNEL_MESSAGE):
        return _least_squares(fun, x0, jac, bounds, method, ftol, xtol, gtol, x_scale, loss,
                              f_scale, diff_step, tr_solver, tr_options, jac_sparsity,
                              max_nfev, verbose, args, kwargs, callback, trace, fast_key,
                              workers)


def _least_squares(fun, x0, jac, bounds, method, ftol, xtol, gtol, x_scale, loss, f_scale,
                   diff_step, tr_solver, tr_options, jac_sparsity, max_nfev, verbose, args,
                   kwargs, callback, trace, fast_key, workers=None):
    """:func:`least_squares` on its general path (every call but a repeat)."""
    kwargs = {} if kwargs is None else dict(kwargs)
    args = tuple(args)
    x0_given = x0
    pj, jac = (jac, jac.fill) if type(jac) is PatternJacobian else (None, jac)
    check_options(fun, x0, jac, method, loss, verbose, max_nfev, tr_solver, jac_sparsity)
    tr = check_tr_options(method, tr_solver, tr_options)
    x0 = check_x0(x0)
    n = x0.size
    lb, ub = check_bounds(bounds, x0, method)
    x_scale, jac_scale = check_x_scale(x_scale, n, method)
    ftol, xtol, gtol = check_tolerances(ftol, xtol, gtol, method)
    check_f_scale(f_scale)
    rstep = check_diff_step(diff_step, n, jac)
    check_callback(callback)
    check_workers(workers)
    threads = thread_count(workers)
    unbounded = is_unbounded(lb)
    x0 = _strictly_inside(x0, lb, ub) if method == "trf" and not unbounded else x0
    max_nfev = 100 * n if max_nfev is None else max_nfev
    if n == 0:
        return _no_variables(fun, x0, jac, method, loss, f_scale, args, kwargs)

    loss_code = CALLABLE if callable(loss) else LOSS_CODES[loss]
    jac_code = L.JAC_CALLABLE if callable(jac) else L.JAC_CODES[jac]
    trace_cap = (max_nfev + 1) if trace else 0
    notify = callback is not None or verbose == 2
    options = (method, jac_code, loss_code, max_nfev, jac_scale, notify, ftol, xtol, gtol,
               f_scale)
    jac_f = jac if jac_code == L.JAC_CALLABLE else None
    loss_f = loss if loss_code == CALLABLE else None
    pattern, tr = _sparse_pattern(pj, jac_sparsity, jac_f, tr, method, tr_solver, tr_options,
                                  jac_scale, n)
    fopts_t, iopts_t = _kernel_options(tr, *options, pattern)

    # (a sparse complex step is grouped by the Python driver only)
    python_driver = (notify or kwargs or (pattern is not None and jac_code == L.JAC_CS)
                     or not (jac_f is None or type(jac_f) is CPUDispatcher)
                     or not (loss_f is None or type(loss_f) is CPUDispatcher))
    if pj is not None and _fill_from_python(fun, python_driver, workers, loss_f, args):
        python_driver, jac_f = True, pj.python_jac()
    fun, m_inplace = _unwrap_in_place(fun, python_driver)
    if type(fun) is CPUDispatcher and not python_driver and not callable(workers):
        key = None if loss_f is not None or jac_code == L.JAC_CS else arg_key(args)
        if key is not None:
            # the cached driver, reaching the model through C wrappers
            try:
                fp, jp = model_pointers(fun, jac_f, m_inplace >= 0, args, key, x0, m_inplace,
                                        fill=0 if pj is None else pj.nnz)
                P = _int_record(pack_ints(_KERNEL, fp, jp, m_inplace, trace_cap, iopts_t),
                                pattern)
                F = pack_floats(fopts_t, lb, ub, x_scale, rstep)
                solve = solve_by_address_threads if threads > 1 else solve_by_address
                if not trace:
                    parts = with_threads(threads, solve, P, F, x0, packed(args))
                else:
                    W, S, err = solve_by_address_ws(P, F, x0, packed(args))
            except TypingError as e:
                _raise_typing_error(e, fun, jac_f, loss_f, m_inplace)
            jac_f = jac_f if pj is None else pj.python_jac()  # (re-called if it raised)
            if not trace:
                if (fast_key is not None and x0 is x0_given and verbose == 0
                        and 0.0 not in fopts_t[:3]):
                    _remember_fast(fast_key, (P, F, fun, jac_f, m_inplace, solve, threads))
                return _address_result(parts, x0, fun, jac_f, args, m_inplace, lb, ub,
                                       _active_rtol(method, xtol),
                                       unbounded or method not in BOUNDED_METHODS, verbose,
                                       method, pattern)
            if err:
                _raise_address_error(err, int(S[L.M]), _failed_at(x0, W, S), fun, jac_f,
                                     args, m_inplace)
        else:
            W, S = _solve_entry(fun, jac_f, loss_f, m_inplace, jac_code == L.JAC_CS, threads,
                                args, (m_inplace, x0, lb, ub, x_scale, rstep,
                                       _frozen(fopts_t, np.float64),
                                       _int_record(iopts_t, pattern), trace_cap, args))
        f0 = None
    else:
        f0, f_dtype = _initial_residual(fun, x0, args, kwargs, m_inplace, method)
        rstep = check_diff_step(diff_step, n, jac, f_dtype)   # steps for f's precision
        J0 = None if jac_f is None else jac_f(x0.copy(), *args, **kwargs)
        pattern, tr = _pattern_at_x0(pattern, J0, f0.size, n, tr, method, tr_solver,
                                     tr_options, jac_scale)
        fopts_t, iopts_t = _kernel_options(tr, *options, pattern)
        W, S = _allocate(f0.size, n, loss_code, trace_cap, tr[0], pattern)
        setup(W, S, x0, f0, lb, ub, x_scale, rstep, _frozen(fopts_t, np.float64),
              _frozen(iopts_t, np.int64))
        hook = _iteration_hook(callback, verbose, W, S, method, lb, ub) if notify else None
        if verbose == 2:
            _print_header()
        with mapper(workers) as workers_map:
            if run_python(fun, jac_f, loss_f, W, S, args, kwargs, hook, workers_map, J0,
                          pattern):
                S[L.STATUS] = CALLBACK_STOP
    if int(S[L.STATUS]) == NONFINITE_JAC and int(S[L.NIT]) == 0:
        _raise_nonfinite_jac0(jac_f)
    result = _result(W, S, method, lb, ub, xtol, trace, pattern)
    if verbose >= 1:
        _print_summary(result, _initial_cost(f0, loss, loss_code, f_scale),
                       describe(W, S) if verbose == 2 else "")
    return result


def _sparse_pattern(pj, jac_sparsity, jac_f, tr, method, tr_solver, tr_options, jac_scale, n):
    """``(pattern, tr)``: the sparse ``J``'s pattern known before ``f(x0)``
    (a :class:`PatternJacobian`'s, checked as a sparse ``J``, or
    ``jac_sparsity``'s for differences; None otherwise) and the subproblem's
    solver options (LSMR for a sparse ``J``, as scipy).  A preconditioner that
    ``J`` cannot take is refused here when ``J``'s form is already known (a
    pattern, differences, or a jitted ``jac``: dense), else after ``jac(x0)``
    (:func:`_pattern_at_x0`)."""
    pattern = None
    if pj is not None:
        check_sparse_jacobian(pj, method, tr_solver, jac_scale)
        pattern, tr = pj.pattern_for(n), _lsmr(tr, method, tr_options)
    elif jac_sparsity is not None and jac_f is None:
        # differences on a sparse pattern; its rows are checked against f(x0)
        pattern, tr = Pattern.from_sparsity(jac_sparsity, None, n), _lsmr(tr, method, tr_options)
    if pattern is not None or jac_f is None or type(jac_f) is CPUDispatcher:
        check_preconditioner(tr[0], pattern)
    return pattern, tr


def _strictly_inside(x0, lb, ub):
    """'trf''s start: a copy of ``x0`` moved strictly inside the bounds (scipy's
    rule; the caller's ``x0`` is never written)."""
    x0 = x0.copy()
    make_strictly_feasible(x0, lb, ub, 1e-10)
    return x0


def _pattern_at_x0(pattern, J0, m, n, tr, method, tr_solver, tr_options, jac_scale):
    """``(pattern, tr)`` once ``f(x0)`` and ``jac(x0)`` are known (the Python
    driver): a pattern given before checked against ``m``, else the pattern of
    a sparse ``J0`` (or of a ``LinearOperator``), with LSMR; None for a dense ``J``.
    A preconditioner that this ``J`` cannot take is refused here."""
    if pattern is not None:
        pattern.check_rows(m)
    elif is_sparse(J0) or is_operator(J0):
        check_sparse_jacobian(J0, method, tr_solver, jac_scale)
        pattern, tr = jacobian_pattern(J0, m, n), _lsmr(tr, method, tr_options)
    check_preconditioner(tr[0], pattern)
    return pattern, tr


def _fill_from_python(fun, python_driver, workers, loss_f, args):
    """Whether a :class:`PatternJacobian`'s fill must run from Python: it runs
    compiled on the cached driver only (a jitted ``fun``, packable ``args``,
    no callable loss or ``workers``)."""
    return not (type(_unwrap_in_place(fun, False)[0]) is CPUDispatcher and not python_driver
                and not callable(workers) and loss_f is None and arg_key(args) is not None)


def _no_variables(fun, x0, jac, method, loss, f_scale, args, kwargs):
    """An empty ``x0``, as scipy answers it: ``f(x0)`` (and a callable ``jac``'s
    ``(m, 0)`` matrix) evaluated once, status 1 (the gradient is empty) for
    'trf' and 'dogbox', MINPACK's improper input (-1, nothing evaluated) for
    'lm' and 'gn'."""
    f0, _ = _initial_residual(fun, x0, args, kwargs)
    m = f0.size
    minpack = method in ("lm", "gn")
    J = np.zeros((m, 0))
    if callable(jac) and not minpack:
        J = np.asarray(jac(x0.copy(), *args, **kwargs), dtype=float).reshape(m, 0)
    loss_code = CALLABLE if callable(loss) else LOSS_CODES[loss]
    status = IMPROPER_INPUT if minpack else GTOL
    return OptimizeResult(
        x=x0.copy(), cost=_initial_cost(f0, loss, loss_code, f_scale), fun=f0, jac=J,
        grad=np.zeros(0), optimality=0.0, active_mask=np.zeros(0, dtype=int),
        nfev=0 if minpack else 1, njev=None if minpack else 1, status=status,
        message=MESSAGES[status], success=status > 0, nit=0, method=method)


def _kernel_options(tr, method, jac_code, loss_code, max_nfev, jac_scale, notify, ftol, xtol,
                    gtol, f_scale, pattern=None):
    """The kernel's option records ``(fopts, iopts)`` (``tr``: :func:`check_tr_options`;
    ``pattern``: a sparse J's, :class:`lsqcore._sparse_jac.Pattern`)."""
    tr_code, lsmr_opts, lsmr_maxiter, regularize = tr
    nnz, ngroups = (-1, 0) if pattern is None else (pattern.nnz, pattern.ngroups)
    return (float_options(ftol, xtol, gtol, f_scale, lsmr_opts),
            int_options(L.METHOD_CODES[method], jac_code, loss_code, max_nfev, jac_scale,
                        notify, tr_code, lsmr_maxiter, regularize, nnz, ngroups))


def _unwrap_in_place(fun, python_driver):
    """``(fun, m_inplace)``: an :class:`InPlace` residual as the compiled drivers
    call it (``fun.fun``), or wrapped for the Python driver, which calls
    ``fun(x, *args)`` (a NaN-filled buffer, so that values it does not write
    are caught at ``x0``); ``m_inplace = -1`` for any other ``fun``."""
    if not isinstance(fun, InPlace):
        return fun, -1
    if python_driver or type(fun.fun) is not CPUDispatcher:
        return fun.allocating(), fun.m
    return fun.fun, fun.m


def _allocate(m, n, loss_code, trace_cap, tr_code, pattern):
    """A laid-out workspace for the Python driver, with the sparse pattern in ``S``."""
    W, S = L.allocate(m, n, loss_code != LINEAR, loss_code == CALLABLE, trace_cap,
                      tr_code, -1 if pattern is None else pattern.nnz,
                      0 if pattern is None else pattern.ngroups)
    if pattern is not None:
        pattern.write(S)
    return W, S


def _lsmr(tr, method, tr_options):
    """The subproblem options of a sparse ``J``: LSMR's (scipy's default for one)."""
    return tr if tr[0] != L.TR_EXACT else check_tr_options(method, "lsmr", tr_options)


def _int_record(values, pattern):
    """The read-only int64 record of ``values`` (options, or ``P``), followed for a
    sparse ``J`` by its pattern (:func:`lsqcore._driver.sparse_tail`)."""
    if pattern is None:
        return _frozen(values, np.int64)
    a = np.concatenate((np.array(values, dtype=np.int64), sparse_tail(pattern)))
    a.flags.writeable = False
    return a


def _solve_entry(fun, jac, loss, m_inplace, cs, threads, args, entry_args):
    """The workspace ``(W, S)`` of a solve on the per-model compiled entry
    (:func:`lsqcore._driver.compiled_entry`); a failure of the user's
    functions raised as :func:`_raise_address_error` says."""
    try:
        entry = compiled_entry(fun, jac, loss, m_inplace, cs, threads > 1)
        W, S, err = with_threads(threads, entry, *entry_args)
    except TypingError as e:
        _raise_typing_error(e, fun, jac, loss, m_inplace)
    if err:
        _raise_address_error(err, int(S[L.M]), _failed_at(entry_args[1], W, S), fun, jac,
                             args, m_inplace)
    return W, S


_FAST = Memo(256)


def fast_key_of(fun, jac, method, ftol, xtol, gtol, x_scale, loss, f_scale, diff_step,
                max_nfev, verbose, workers, x0, args):
    """The key of a repeat call (see :func:`_remember_fast`); raises TypeError
    or ValueError for an unhashable option or arguments Numba cannot type."""
    return (fun if type(fun) is CPUDispatcher else (fun.fun, fun.m), jac, method,
            ftol, xtol, gtol, x_scale, loss, f_scale, diff_step, max_nfev,
            type(max_nfev), verbose, workers, x0.size, _fingerprint((x0, args)))


def fast_entry(key):
    """The remembered ``(P, F, fun, jac, m_inplace, solve, threads)`` of a
    repeat call's ``key``, or None."""
    return _FAST.get(key)


def _remember_fast(key, entry):
    """Remember the packed arguments of a validated call for its repeats.

    ``key`` (built at the top of :func:`least_squares`) holds every option
    as given, the model, ``x0``'s size and the Numba type fingerprint of
    ``(x0, args)``: a later call with an equal key would pass the same
    checks and produce the same ``(P, F)``, so it goes straight to the
    compiled solve.  Only calls that took the cached driver with default
    bounds, no output and ``x0`` used as given are remembered; zero
    tolerances are not (0.0 and -0.0 are equal keys).
    """
    _FAST.put(key, entry)


def _address_result(parts, x0, fun, jac, args, m_inplace, lb=None, ub=None, xtol=None,
                    unbounded=True, verbose=0, method="trf", pattern=None):
    """The ``OptimizeResult`` of :func:`solve_by_address`'s ``parts`` (or its error)."""
    x, g, f, J, cost, optimality, nfev, njev, status, nit, m, err = parts
    if err:
        _raise_address_error(err, m, x, fun, jac, args, m_inplace)
    if status == NONFINITE_JAC and nit == 0:
        _raise_nonfinite_jac0(jac)
    active = np.zeros(x.size, _INT)      # (cheaper here than boxed by Numba)
    if not unbounded:
        active_constraints(x, lb, ub, xtol, active)
    result = OptimizeResult(x=x, cost=cost, fun=f, jac=J, grad=g, optimality=optimality,
                            active_mask=active, nfev=nfev,
                            njev=_reported_njev(njev, method, jac is not None), status=status,
                            message=MESSAGES[status], success=status > 0, nit=nit,
                            method=method)
    if pattern is not None:
        _sparse_fields(result, pattern, J[0])
    if verbose >= 1:
        _print_summary(result, float("nan"))
    return result


def _sparse_fields(res, pattern, values):
    """A sparse solve's ``jac`` (scipy's ``csr_array``) and, for differences,
    ``ngroups`` (residual evaluations per Jacobian; twice that for 3-point)."""
    res.jac = pattern.matrix(values)
    if pattern.ngroups:
        res.ngroups = pattern.ngroups
        if "trace" in res:
            res.trace.ngroups = pattern.ngroups


def _failed_at(x0, W, S):
    """The point a compiled driver stopped at with an error (``x_new``; ``x0`` if none)."""
    if W.size == 0:
        return x0.copy()
    o = int(S[L.O_XNEW])
    return W[o:o + x0.size].copy()


def _raise_address_error(err, m, x, fun, jac, args, m_inplace):
    if err == ERR_X0_NONFINITE:
        raise ValueError(f"`x0` must be finite, got {x!r}.")
    _raise_driver_error(err, m, x.size, fun, jac, x, args, m_inplace)


def _raise_nonfinite_jac0(jac):
    what = "`jac` returned" if jac is not None else "the Jacobian of `fun` has"
    raise ValueError(f"{what} non-finite values at `x0`.")


def _print_summary(result, initial_cost, reason=""):
    """scipy's closing lines (the last two, as scipy prints them); ``verbose=2``
    says before them which test stopped the solve, with its numbers
    (``reason``, :func:`lsqcore._stopping.describe`)."""
    if reason:
        print(f"Stopped by {reason}.")
    print(result.message)
    print(f"Function evaluations {result.nfev}, initial cost {initial_cost:.4e}, "
          f"final cost {result.cost:.4e}, first-order optimality "
          f"{result.optimality:.2e}.")


def _initial_cost(f0, loss, loss_code, f_scale):
    if f0 is None:
        return float("nan")
    if loss_code == LINEAR:
        return 0.5 * float(f0 @ f0)
    z = (f0 / f_scale) ** 2
    if loss_code == CALLABLE:
        return 0.5 * f_scale ** 2 * float(np.sum(np.asarray(loss(z))[0]))
    from ._loss import rho_builtin
    return 0.5 * f_scale ** 2 * sum(rho_builtin(loss_code, float(zi))[0] for zi in z)


_FROZEN = Memo(256)


def _frozen(values, dtype):
    """Read-only option arrays, reused across calls with the same options."""
    key = (values, dtype)
    a = _FROZEN.get(key)
    if a is None:
        a = np.array(values, dtype=dtype)
        a.flags.writeable = False
        _FROZEN.put(key, a)
    return a


class InPlace:
    """Marks an allocation-free residual ``fun(x, out, *args)`` that writes ``m`` values.

    ``least_squares(InPlace(fun, m), x0, args=...)`` runs the same solver as
    ``fun(x, *args) -> array`` but never allocates a residual array: with a
    Numba-jitted ``fun`` this saves an allocation per evaluation (about a
    third of the time of a small fit).  The first call, at ``x0``, writes
    into a guarded buffer: writing fewer than ``m`` values, or past the end
    of ``out``, raises ``ValueError`` before the solver starts.

    Parameters
    ----------
    fun : callable
        ``fun(x, out, *args)``, writing the residuals into ``out`` (shape (m,)).
    m : int
        Number of residuals.
    """

    def __init__(self, fun, m):
        if not callable(fun):
            raise TypeError(f"`fun` must be callable, got {type(fun).__name__}.")
        if not isinstance(m, numbers.Integral) or m <= 0:
            raise ValueError(f"`m` must be a positive integer, got {m!r}.")
        self.fun = fun
        self.m = int(m)

    def __call__(self, x, *args, **kwargs):
        return self.allocating()(x, *args, **kwargs)

    def allocating(self):
        """The same residual in the ``fun(x, *args) -> array`` convention."""
        fun, m = self.fun, self.m

        def f(x, *args, **kwargs):
            out = np.full(m, np.nan, dtype=np.result_type(x, float))
            fun(x, out, *args, **kwargs)
            return out
        return f


def _raise_typing_error(e, fun, jac, loss, m_inplace):
    """A jitted user function the compiled driver cannot use: say which, and why.

    Numba types the driver at the first call, before anything runs, so a
    wrong return type (integer, float32 or complex residuals, a 2-d array)
    never reaches compiled code; its own message names Numba internals.
    """
    got = []
    for name, f in (("fun", fun), ("jac", jac), ("loss", loss)):
        if f is not None and getattr(f, "nopython_signatures", None):
            got.append(f"`{name}` returns "
                       + " / ".join(str(sig.return_type) for sig in f.nopython_signatures))
    want = ("`fun(x, out, *args)` must write float64 values into `out`" if m_inplace >= 0
            else "`fun` must return a 1-d float64 array")
    raise TypeError(f"{want}, `jac` a 2-d float64 array and `loss` a (3, m) float64 array "
                    f"(got: {'; '.join(got) or 'unknown'}); Numba could not compile the "
                    f"solver for these jitted functions and `args`. Numba said: "
                    f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from e


def _raise_driver_error(err, m, n, fun=None, jac=None, x=None, args=(), m_inplace=-1):
    if err in (ERR_RAISED, ERR_JAC_RAISED):
        # a user function raised inside compiled code (a C frame, which an
        # exception cannot cross): call it again where it failed (x), in
        # Python, so that its own exception reaches the caller unchanged
        if err == ERR_JAC_RAISED:
            jac(x, *args)
        elif m_inplace >= 0:
            fun(x, np.empty(m_inplace), *args)
        else:
            fun(x, *args)
        raise RuntimeError(f"`{'jac' if err == ERR_JAC_RAISED else 'fun'}` raised an "
                           f"exception in compiled code at x = {x!r}, but not when called "
                           "again there from Python.")
    if err == ERR_INPLACE_SHORT:
        raise ValueError(f"`fun` (in-place form) wrote fewer than m = {m} values into "
                         "`out` at `x0`.")
    if err == ERR_INPLACE_OVERRUN:
        raise ValueError(f"`fun` (in-place form) wrote past the end of `out` (m = {m}) "
                         "at `x0`.")
    if err == ERR_F0_NONFINITE:
        raise ValueError("Residuals are not finite in the initial point: `fun(x0)` "
                         "has non-finite values.")
    if err == ERR_LM_M_LT_N:
        raise ValueError(f"`method`='lm' needs at least as many residuals as variables, "
                         f"got m = {m} < n = {n}.")
    if err == ERR_F_SHAPE:
        raise ValueError(f"`fun` must return an array of shape ({m},) at every point, "
                         "as at `x0`.")
    if err == ERR_J_SHAPE:
        raise ValueError(f"`jac` must return an array of shape {(m, n)}.")
    if err == ERR_LOSS_SHAPE:
        raise ValueError(f"`loss` must return an array of shape (3, {m}).")
    if err == ERR_SPARSITY_ROWS:
        raise ValueError(f"`jac_sparsity` must have shape (m, n) = {(m, n)}: m rows, one per "
                         "residual of `fun(x0)`.")


def _print_header():
    print("{:^15}{:^15}{:^15}{:^15}{:^15}{:^15}".format(
        "Iteration", "Total nfev", "Cost", "Cost reduction", "Step norm", "Optimality"))


def _iteration_hook(callback, verbose, W, S, method, lb, ub):
    """The per-iteration hook of the Python driver: progress line and callback.

    The kernel notifies once with the first Jacobian (iteration 0: only the
    progress line, as scipy prints the starting point) and then after every
    iteration.
    """
    x, g, f = L.numpy_views(W, S, ("O_X", "O_G", "O_F"))    # (all of Views: 4.5 us)
    bounded = method == "trf" and not is_unbounded(lb)
    wants_result = callback is not None and _parameter_names(callback) == {"intermediate_result"}

    def hook():
        nit = int(S[L.NIT])
        if verbose == 2:
            opt = _optimality(x, g, lb, ub, bounded)
            if nit == 0:
                print(f"{0:^15}{int(S[L.NFEV]):^15}{W[L.COST]:^15.4e}{'':^15}{'':^15}{opt:^15.2e}")
            else:
                print(f"{nit:^15}{int(S[L.NFEV]):^15}{W[L.COST]:^15.4e}"
                      f"{W[L.ACTRED]:^15.2e}{W[L.STEP_NORM]:^15.2e}{opt:^15.2e}")
        if callback is None or nit == 0:
            return False
        try:
            if wants_result:
                res = OptimizeResult(x=x.copy(), fun=f.copy(), nit=nit,
                                     nfev=int(S[L.NFEV]), cost=float(W[L.COST]))
                callback(intermediate_result=res)
            else:
                callback(x.copy())
        except StopIteration:
            return True
        return False

    return hook


def _parameter_names(f):
    """The names of ``f``'s parameters, as ``inspect.signature`` gives them
    (scipy's test of a callback's form), read from a plain function's code
    object when nothing can change its signature: ``inspect.signature``
    costs ~6 us, a tenth of a small fit's front end, and ``leastsq`` always
    passes a callback."""
    code = getattr(f, "__code__", None)
    if (type(f) is types.FunctionType and code is not None and not hasattr(f, "__wrapped__")
            and not hasattr(f, "__signature__")):
        k = (code.co_argcount + code.co_kwonlyargcount
             + bool(code.co_flags & inspect.CO_VARARGS)
             + bool(code.co_flags & inspect.CO_VARKEYWORDS))
        return set(code.co_varnames[:k])
    try:
        return set(inspect.signature(f).parameters)
    except (TypeError, ValueError):
        return set()



def _optimality(x, g, lb, ub, bounded):
    """scipy's first-order optimality (the definition of every path:
    :func:`lsqcore._bounds.first_order_optimality`)."""
    n = x.size
    return float(first_order_optimality(x, g, lb, ub, bounded, np.empty(n), np.empty(n)))


#: the methods that take bounds
BOUNDED_METHODS = ("trf", "dogbox")


def _active_rtol(method, xtol):
    """How close to a bound counts as on it in ``active_mask``: within ``xtol``
    (relative) for 'trf', whose iterates stay strictly inside, exactly for
    'dogbox', which puts a variable on its bound (both as scipy)."""
    return 0.0 if method == "dogbox" else xtol


def _reported_njev(njev, method, jac_callable):
    """``njev`` as scipy reports it: None for 'lm' without a callable ``jac``
    (scipy's MINPACK path counts no Jacobian evaluations then)."""
    return None if method == "lm" and not jac_callable else njev


def _result(W, S, method, lb, ub, xtol, trace, pattern=None):
    r = read_row(W, S.tolist())          # Python ints: cheaper slicing than numpy ints
    x, g, f = r.x.copy(), r.grad.copy(), r.fun.copy()
    status = r.status
    active = np.zeros(x.size, dtype=int)
    if method in BOUNDED_METHODS and not is_unbounded(lb):
        active_constraints(x, lb, ub, _active_rtol(method, xtol), active)
    bounded = method == "trf" and not is_unbounded(lb)
    if status == CALLBACK_STOP:
        # stopped before the optimality of the newest Jacobian was measured
        if method == "dogbox":
            # dogbox's measure, over the variables not held on a bound (on_bound
            # is kept in O_V)
            optimality = float(free_gradient_norm(L.numpy_view(W, S, "O_V"), g))
        else:
            optimality = _optimality(x, g, lb, ub, bounded)
    else:
        optimality = float(r.optimality)
    res = OptimizeResult(
        x=x, cost=float(r.cost), fun=f, jac=r.jac, grad=g,
        optimality=optimality, active_mask=active, nfev=r.nfev,
        njev=_reported_njev(r.njev, method, int(S[L.JAC]) == L.JAC_CALLABLE),
        status=status, message=MESSAGES[status],
        success=status > 0, nit=r.nit, method=method)
    if trace:
        from ._trace import Trace
        res.trace = Trace.from_workspace(W, S)
    if pattern is not None:
        _sparse_fields(res, pattern, L.numpy_view(W, S, "O_J"))
    return res
