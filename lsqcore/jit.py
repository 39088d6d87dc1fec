"""Solvers callable from inside users' own Numba code.

``lsqcore.jit.least_squares`` is an ``@njit`` function: call it from your own
``@njit`` (or ``@njit(parallel=True)`` / ``prange``) code to fit without
returning to Python.  It runs exactly the kernel of
:func:`lsqcore.least_squares` (one implementation of each algorithm) and
returns a :class:`JitResult` named tuple.

Example: fit an exponential decay to every row of a matrix in parallel::

    import numpy as np
    from numba import njit, prange
    import lsqcore.jit

    @njit
    def residual(p, t, y):
        return p[0] * np.exp(-p[1] * t) + p[2] - y

    @njit(parallel=True)
    def fit_rows(t, Y, x0):
        out = np.empty((Y.shape[0], x0.size))
        for k in prange(Y.shape[0]):
            r = lsqcore.jit.least_squares(residual, x0, (t, Y[k]))
            out[k] = r.x
        return out

Options are plain numbers and strings; bounds are arrays or None.  Errors
in the input raise ``ValueError`` inside compiled code, under the rules of
the Python front ends (:mod:`lsqcore._validate`) and naming the same
parameter (Numba's exceptions carry constant messages, so without the
offending value).  For millions of fits prefer
:func:`lsqcore.least_squares_batch`, which also reuses one workspace per
thread.

Importing this module compiles the entry of every method
(:func:`lsqcore._method.method_entry`: the first time after installation
only, then Numba's disk cache), because the method of a call from compiled
code is known only when it runs.
"""
from collections import namedtuple

import numpy as np
from numba import njit

from . import _layout as L
from ._bounds import make_strictly_feasible
from ._method import method_entry
from ._kernel import KERNEL
from ._driver import (solve_compiled, call_alloc, jac_alloc, first_alloc, _cs_unused,
                      _cs_compiled,
                      ERR_F_SHAPE, ERR_J_SHAPE, ERR_F0_NONFINITE, ERR_LM_M_LT_N)
from ._row import read_row_jit, fd_serial
from ._jacobian import SQRT_EPS, CBRT_EPS
from ._loss import LINEAR, SOFT_L1, HUBER, CAUCHY, ARCTAN
from ._validate import check_compiled_options, check_compiled_bounds, check_compiled_x_scale

JitResult = namedtuple("JitResult", ["x", "cost", "fun", "status", "success", "nfev",
                                     "njev", "nit", "optimality"])
JitResult.__doc__ = """Result of :func:`least_squares` called from compiled code.

Fields mean what the fields of scipy's ``OptimizeResult`` of the same names mean."""

_LSMR = L.LSMR_DEFAULTS     # (LSMR's options; unused by the exact solver)

#: the C address of each method's hooks, by method code (a constant of the
#: compiled code, so every method's entry is compiled now)
_HOOKS = np.array([method_entry(c) for c in range(len(L.METHOD_CODES))], dtype=np.int64)


@njit(error_model="numpy")
def _method_code(method):
    if method == "trf":
        return L.TRF
    if method == "lm":
        return L.LM
    if method == "gn":
        return L.GN
    if method == "dogbox":
        return L.DOGBOX
    raise ValueError("`method` must be 'trf', 'lm', 'gn' or 'dogbox'")


@njit(error_model="numpy")
def _jac_code(jac):
    if jac == "2-point":
        return L.JAC_2POINT
    if jac == "3-point":
        return L.JAC_3POINT
    if jac == "cs":
        return L.JAC_CS
    raise ValueError("`jac` must be '2-point', '3-point' or 'cs' (pass an analytic "
                     "Jacobian as `jac_fun`)")


@njit(error_model="numpy")
def _loss_code(loss):
    if loss == "linear":
        return LINEAR
    if loss == "soft_l1":
        return SOFT_L1
    if loss == "huber":
        return HUBER
    if loss == "cauchy":
        return CAUCHY
    if loss == "arctan":
        return ARCTAN
    raise ValueError("`loss` must be 'linear', 'soft_l1', 'huber', 'cauchy' or 'arctan'")


@njit(error_model="numpy")
def least_squares(fun, x0, args=(), lb=None, ub=None, method="trf", jac="2-point",
                  jac_fun=None, ftol=1e-8, xtol=1e-8, gtol=1e-8, max_nfev=0,
                  loss="linear", f_scale=1.0, x_scale=None):
    """Solve a nonlinear least-squares problem from compiled code.

    Parameters
    ----------
    fun : Numba-jitted function
        ``fun(x, *args) -> ndarray (m,)``.
    x0 : ndarray (n,)
        Starting point (float64).
    args : tuple
        Extra arguments of ``fun`` (and ``jac_fun``).
    lb, ub : ndarray (n,) or None
        Bounds (``method='trf'`` or ``'dogbox'``).
    method : {'trf', 'dogbox', 'lm', 'gn'}
    jac : {'2-point', '3-point', 'cs'}
        Finite-difference scheme, used when ``jac_fun`` is None.
    jac_fun : Numba-jitted function or None
        Analytic Jacobian ``jac_fun(x, *args) -> ndarray (m, n)``.
    ftol, xtol, gtol : float
    max_nfev : int
        0 means ``100 * n``.
    loss : str
        A built-in robust loss ('lm' accepts only 'linear').
    f_scale : float
    x_scale : ndarray (n,) or None
        None: 1 for 'trf' and 'gn', Jacobian scaling for 'lm'.

    Returns
    -------
    JitResult
    """
    n = x0.shape[0]
    x = x0.astype(np.float64)
    mc = _method_code(method)
    lc = _loss_code(loss)
    # the rules of the Python front ends (lsqcore._validate), in compiled code
    check_compiled_options(x, mc, lc, ftol, xtol, gtol, f_scale, max_nfev)
    lo = np.full(n, -np.inf)
    hi = np.full(n, np.inf)
    if lb is not None:
        lo[:] = lb
    if ub is not None:
        hi[:] = ub
    check_compiled_bounds(x, lo, hi, mc)
    if mc == L.TRF and (lb is not None or ub is not None):
        make_strictly_feasible(x, lo, hi, 1e-10)
    jac_scale = 0
    xs = np.ones(n)
    if x_scale is None:
        if mc == L.LM:
            jac_scale = 1
    else:
        xs[:] = x_scale
        check_compiled_x_scale(xs)
    if jac_fun is None:
        jc = _jac_code(jac)
    else:
        jc = L.JAC_CALLABLE
    rs = np.full(n, CBRT_EPS if jc == L.JAC_3POINT else SQRT_EPS)
    if jc == L.JAC_CS:
        rs[:] = 0.0
    nf = max_nfev if max_nfev > 0 else 100 * n
    fopts = np.array([ftol, xtol, gtol, f_scale, _LSMR[0], _LSMR[1], _LSMR[2], _LSMR[3]])
    iopts = np.array([mc, jc, lc, nf, jac_scale, 0, _HOOKS[mc], L.TR_EXACT, 0, 1, -1, 0],
                     dtype=np.int64)
    if jc == L.JAC_CS:
        W, S, err = solve_compiled(KERNEL, call_alloc, jac_alloc, first_alloc, _cs_compiled,
                                   fun, jac_fun, None, -1, x, lo, hi, xs, rs, fopts, iopts,
                                   0, args, fd_serial)
    else:
        W, S, err = solve_compiled(KERNEL, call_alloc, jac_alloc, first_alloc, _cs_unused,
                                   fun, jac_fun, None, -1, x, lo, hi, xs, rs, fopts, iopts,
                                   0, args, fd_serial)
    if err == ERR_F0_NONFINITE:
        raise ValueError("residuals are not finite at `x0`")
    if err == ERR_LM_M_LT_N:
        raise ValueError("`method`='lm' needs at least as many residuals as variables")
    if err == ERR_F_SHAPE:
        raise ValueError("`fun` returned a different number of residuals than at `x0`")
    if err == ERR_J_SHAPE:
        raise ValueError("`jac_fun` returned an array of the wrong shape")
    r = read_row_jit(W, S)
    return JitResult(r.x.copy(), r.cost, r.fun.copy(), r.status, r.status > 0, r.nfev,
                     r.njev, r.nit, r.optimality)
