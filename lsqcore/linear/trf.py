r"""The trust-region-reflective method for bounded linear least squares.

Minimise ``F(x) = 1/2 ||A x - b||^2`` subject to ``lb <= x <= ub``
(``lsq_linear(method='trf')``).  The method is the interior affine-scaling
Newton method of Coleman and Li (1996) applied to a quadratic, as Branch,
Coleman and Li (1999) describe it, with no trust region: the model *is*
the function, so every step is judged by the function itself.

Derivation
----------
*Optimality.*  With ``g = A^T (A x - b)``, a point of the box is optimal iff
``v(x) * g = 0`` for the Coleman-Li vector ``v`` (the distance to the bound
the anti-gradient points at, 1 where that bound is infinite;
:func:`lsqcore._bounds.coleman_li_scaling`).  Newton's method on this system,
scaled by ``D = diag(v)^(1/2)`` (``x = D x_h``), gives the scaled problem

.. math::  \min_{p_h} \; g_h^T p_h + \tfrac12 p_h^T (D A^T A D + C) p_h,
           \qquad g_h = D g, \quad C = \mathrm{diag}(g \, \partial v),

whose Hessian is positive semidefinite (``g dv >= 0``).  Its minimiser is
the least-squares solution of ``[A D; C^(1/2)] p_h = -[A x - b; 0]``: by the
fixed QR of ``A`` and plane rotations (:mod:`lsqcore.linear.dense`,
``lsq_solver='exact'``) or by LSMR on the operator (``'lsmr'``, any
``A`` reached through its products, :mod:`lsqcore._lsmr`).

*Staying interior* (Branch, Coleman and Li 1999, sec. 4).  The step ``p =
D p_h`` may leave the box.  Three candidates are compared by the model:
``p`` cut back to ``theta`` of the way to the first bound it crosses; from
that bound, the direction reflected in it, minimised along its ray up to
``theta`` of its own way to the next bound (and at least ``1 - theta`` of
it); and the anti-gradient ``-D g_h``, minimised up to ``theta`` of the way
to the box.  ``theta = 1 - min(0.005, ||v g||_inf)`` tends to 1, so the
iteration is quadratically convergent (Coleman and Li 1996, thm. 3.10).

*Safeguard.*  When the chosen step increases ``F`` (rounding; ``p`` is a
descent direction when ``p^T g < 0``), the step is ``alpha p`` reflected
into the box, ``alpha`` halved until ``F`` decreases by a tenth of its
linear prediction (Armijo), then pulled ``theta`` inside if it ended on a
bound.

*Start and stop.*  The start is the unbounded solution reflected into the
box and moved a tenth inside it.  The iteration stops when ``||v g||_inf <
tol`` (status 1), when an iteration decreases ``F`` by less than ``tol F``
(status 2), or after ``max_iter`` iterations (0); status -1 marks a step
that was not a descent direction.

One source serves every ``A``: :func:`solve` takes the products ``mv`` and
``rmv`` of :mod:`lsqcore.methods.lsmr_model`, on the operand
``(M, d, c, aug)``, meaning ``[M diag(d); diag(c)]`` (the ``c`` rows only
with ``aug``).  The compiled entries bind a dense or compressed-column
``M``; a ``LinearOperator`` runs the same source as Python
(:func:`lsqcore.linear._python.python_twin`) with its ``matvec`` and
``rmatvec``.

References
----------
Coleman and Li (1996) and Branch, Coleman and Li (1999), as cited in full
in :mod:`lsqcore._bounds`, whose scaling and step-to-bound this module uses.
"""
import math

import numpy as np
from numba import njit

from .._bounds import (first_order_optimality, step_to_bound, in_bounds, make_strictly_feasible,
                       reflect_into_bounds, active_constraints)
from .._linalg import EPS, minimize_quadratic_1d, dot, norm2
from .._lsmr import lsmr_core
from ..methods.lsmr_model import jh_mv, jh_rmv, csc_mv, csc_rmv
from .dense import regularized_solution

_inline = njit(error_model="numpy", inline="always")

#: the history of the iterations (``verbose=2``): one row per iteration,
#: ``(cost, cost_change, step_norm, optimality)`` (NaN where none)
HISTORY_FIELDS = ("cost", "cost_change", "step_norm", "optimality")

#: at most this many halvings of the safeguarding line search
MAX_HALVINGS = 60


@_inline
def _residual(mv, op, x, b, r):
    """``r = M x - b`` (``op`` has unit ``d`` and no ``c`` rows)."""
    mv(op, x, r)
    r -= b


@_inline
def _curvature(mv, op_h, diag_h, s, tmp):
    """``s^T (D M^T M D + C) s`` (``op_h`` is ``M D`` without its ``c`` rows)."""
    mv(op_h, s, tmp)
    return dot(tmp, tmp) + dot(diag_h * s, s)


@_inline
def _cross(mv, op_h, diag_h, a, s, tmp, tmp2):
    """``a^T (D M^T M D + C) s``."""
    mv(op_h, a, tmp)
    mv(op_h, s, tmp2)
    return dot(tmp, tmp2) + dot(diag_h * a, s)


@_inline
def _model(mv, op_h, diag_h, g_h, s, tmp):
    """The scaled model ``g_h^T s + 1/2 s^T (D M^T M D + C) s``."""
    return dot(g_h, s) + 0.5 * _curvature(mv, op_h, diag_h, s, tmp)


@_inline
def _decrease(mv, op, g, s, tmp):
    """``F(x) - F(x + s) = -(g^T s + 1/2 ||M s||^2)``, exact for a quadratic."""
    mv(op, s, tmp)
    return -(dot(g, s) + 0.5 * dot(tmp, tmp))


@_inline
def _select_step(mv, op_h, x, p, p_h, d, g_h, diag_h, lb, ub, theta, work, tmp, tmp2):
    """The best of the cut-back, reflected and anti-gradient steps (module
    docstring); returns it in ``p`` (unscaled)."""
    x_b, r_h, r, hits, ag_h, ag = work
    x_b[:] = x + p
    if in_bounds(x_b, lb, ub):
        return
    p_stride = step_to_bound(x, p, lb, ub, hits)
    r_h[:] = np.where(hits != 0.0, -p_h, p_h)
    r[:] = d * r_h
    p *= p_stride
    p_h *= p_stride
    x_b[:] = x + p
    r_hi = step_to_bound(x_b, r, lb, ub, hits)
    r_lo = (1.0 - theta) * r_hi
    r_hi *= theta
    r_value = math.inf
    if r_hi > 0.0:
        # the model along p_h + t r_h: a t^2 + b t + c
        a = 0.5 * _curvature(mv, op_h, diag_h, r_h, tmp)
        bq = dot(g_h, r_h) + _cross(mv, op_h, diag_h, p_h, r_h, tmp, tmp2)
        c = _model(mv, op_h, diag_h, g_h, p_h, tmp)
        t, r_value = minimize_quadratic_1d(a, bq, r_lo, r_hi, c)
        r_h[:] = p_h + t * r_h
        r[:] = d * r_h
    p_h *= theta
    p *= theta
    p_value = _model(mv, op_h, diag_h, g_h, p_h, tmp)
    ag_h[:] = -g_h
    ag[:] = d * ag_h
    ag_hi = theta * step_to_bound(x, ag, lb, ub, hits)
    a = 0.5 * _curvature(mv, op_h, diag_h, ag_h, tmp)
    t, ag_value = minimize_quadratic_1d(a, dot(g_h, ag_h), 0.0, ag_hi, 0.0)
    if p_value < r_value and p_value < ag_value:
        return
    if r_value < p_value and r_value < ag_value:
        p[:] = r
    else:
        p[:] = t * ag


@_inline
def _backtrack(mv, op, x, p, g, p_dot_g, theta, lb, ub, x_new, step, tmp):
    """Armijo search along ``alpha p`` reflected into the box; ``x_new``,
    ``step`` and the decrease of ``F`` (module docstring)."""
    alpha = 1.0
    decrease = 0.0
    for _ in range(MAX_HALVINGS):
        x_new[:] = x + alpha * p
        reflect_into_bounds(x_new, lb, ub)
        step[:] = x_new - x
        decrease = _decrease(mv, op, g, step, tmp)
        if decrease > -0.1 * alpha * p_dot_g:
            break
        alpha *= 0.5
    active = np.empty(x.shape[0], dtype=np.int64)
    active_constraints(x_new, lb, ub, 1e-10, active)
    if (active != 0).any():
        x_new[:] = x + theta * alpha * p
        reflect_into_bounds(x_new, lb, ub)
        make_strictly_feasible(x_new, lb, ub, 0.0)
        step[:] = x_new - x
        decrease = _decrease(mv, op, g, step, tmp)
    return decrease


@_inline
def solve(mv, rmv, lsmr, M, b, x, lb, ub, R, perm, QTb, exact, tol, lsmr_tol, auto_tol,
          lsmr_maxiter, max_iter, history):
    """trf for ``min 1/2 ||M x - b||^2``, ``lb <= x <= ub``, from ``x`` (overwritten).

    Parameters
    ----------
    mv, rmv : function
        The products of the operand ``(M, d, c, aug)`` (module docstring).
    lsmr : function
        :func:`lsqcore._lsmr.lsmr_core` (or its ``py_func``, with Python
        products).
    M : object
        The matrix, as ``mv`` and ``rmv`` take it.
    b : ndarray (m,)
    x : ndarray (n,)
        The unbounded solution on entry, the solution on exit.
    lb, ub : ndarray (n,)
    R, perm, QTb : ndarray
        ``A P = Q R`` and ``Q^T b`` (:func:`lsqcore.linear.dense.factor`)
        when ``exact``; otherwise unused.
    exact : bool
        The step from the fixed QR (else LSMR).
    tol : float
    lsmr_tol : float
        LSMR's ``atol = btol`` (``auto_tol``: chosen per iteration from the
        optimality, Eisenstat-Walker style, as scipy's ``'auto'``).
    lsmr_maxiter : int
        (<= 0: n)
    max_iter : int
    history : ndarray (max_iter + 1, 4)
        Receives :data:`HISTORY_FIELDS` per iteration.

    Returns
    -------
    status, nit : int
    cost, optimality, initial_cost : float
    r : ndarray (m,)
        ``M x - b``.
    active : ndarray (n,) int
    """
    m = b.shape[0]
    n = x.shape[0]
    ones = np.ones(n)
    d = np.ones(n)
    c = np.zeros(n)
    op = (M, ones, c, False)
    op_h = (M, d, c, False)
    op_aug = (M, d, c, True)
    v = np.empty(n)
    dv = np.empty(n)
    g = np.empty(n)
    g_h = np.empty(n)
    diag_h = np.empty(n)
    p = np.empty(n)
    p_h = np.empty(n)
    x_new = np.empty(n)
    step = np.empty(n)
    work = (np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n))
    r = np.empty(m)
    tmp = np.empty(m)
    tmp2 = np.empty(m)
    t = np.empty(n)
    T = np.empty((n, n)) if exact else np.empty((0, 0))
    r_aug = np.zeros(m + n)
    lsmr_work = (np.empty(m + n), np.empty(m + n), np.empty(n), np.empty(n), np.empty(n),
                 np.empty(n))
    maxit_l = lsmr_maxiter if lsmr_maxiter > 0 else n

    reflect_into_bounds(x, lb, ub)
    make_strictly_feasible(x, lb, ub, 0.1)
    _residual(mv, op, x, b, r)
    rmv(op, r, g)
    cost = 0.5 * dot(r, r)
    initial_cost = cost
    status = -2                      # none yet
    g_norm = 0.0
    history[:] = np.nan
    history[0, 0] = cost
    nit = 0
    for it in range(max_iter):
        nit = it + 1
        g_norm = first_order_optimality(x, g, lb, ub, True, v, dv)
        history[it, 3] = g_norm
        if g_norm < tol:
            status = 1
        if status != -2:
            break
        diag_h[:] = g * dv
        c[:] = np.sqrt(diag_h)
        d[:] = np.sqrt(v)
        g_h[:] = d * g
        if exact:
            # Q^T r = R P^T x - Q^T b: no pass over the m rows
            for i in range(n):
                acc = -QTb[i]
                for j in range(i, n):
                    acc += R[i, j] * x[perm[j]]
                t[i] = -acc
            regularized_solution(R, perm, t, d, c, m, p_h, T)
        else:
            r_aug[:m] = -r
            tol_l = lsmr_tol
            if auto_tol:
                tol_l = max(EPS, min(0.1, 1e-2 * min(0.5, g_norm) * g_norm))
            lsmr(mv, rmv, op_aug, r_aug, p_h, 0.0, tol_l, tol_l, 1e8, maxit_l, lsmr_work)
        p[:] = d * p_h
        p_dot_g = dot(p, g)
        if p_dot_g > 0.0:
            status = -1
        theta = 1.0 - min(0.005, g_norm)
        _select_step(mv, op_h, x, p, p_h, d, g_h, diag_h, lb, ub, theta, work, tmp, tmp2)
        decrease = _decrease(mv, op, g, p, tmp)
        if decrease < 0.0:
            decrease = _backtrack(mv, op, x, p, g, p_dot_g, theta, lb, ub, x_new, step, tmp)
        else:
            x_new[:] = x + p
            make_strictly_feasible(x_new, lb, ub, 0.0)
            step[:] = p
        x[:] = x_new
        _residual(mv, op, x, b, r)
        rmv(op, r, g)
        if decrease < tol * cost:
            status = 2
        cost = 0.5 * dot(r, r)
        history[it + 1, 0] = cost
        history[it + 1, 1] = decrease
        history[it + 1, 2] = norm2(step)
    if status == -2:
        status = 0
    active = np.zeros(n, dtype=np.int64)
    active_constraints(x, lb, ub, tol, active)
    return status, nit, cost, g_norm, initial_cost, r, active


# ---- the compiled entries: a dense and a compressed-column M -------------------------

_entry = njit(cache=True, error_model="numpy")


@_entry
def solve_dense(A, b, x, lb, ub, R, perm, QTb, exact, tol, lsmr_tol, auto_tol, lsmr_maxiter,
                max_iter, history):
    """:func:`solve` with ``M`` a dense (C-ordered) array."""
    return solve(jh_mv, jh_rmv, lsmr_core, A, b, x, lb, ub, R, perm, QTb, exact, tol, lsmr_tol,
                 auto_tol, lsmr_maxiter, max_iter, history)


@_entry
def solve_csc(cp, ri, vals, b, x, lb, ub, tol, lsmr_tol, auto_tol, lsmr_maxiter, max_iter,
              history):
    """:func:`solve` (with LSMR) with ``M`` compressed-column: ``(cp, ri, vals)``
    (the products of the nonlinear kernel's sparse Jacobian,
    :mod:`lsqcore.methods.lsmr_model`)."""
    no = np.empty((0, 0))
    return solve(csc_mv, csc_rmv, lsmr_core, (cp, ri, vals, b.shape[0], 0), b, x, lb, ub, no,
                 np.empty(0, dtype=np.int64), np.empty(0), False, tol, lsmr_tol, auto_tol,
                 lsmr_maxiter, max_iter, history)
