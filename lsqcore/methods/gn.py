r"""Gauss-Newton with a backtracking line search.

Linearising the residual, ``f(x + p) ~ f + J p``, and minimising
``0.5 ||f + J p||^2`` gives the Gauss-Newton direction, the minimum-norm
least-squares solution ``p = -J^+ f``.  It is computed from the SVD
``J D = U S V^T`` (``D = diag(x_scale)``) as ``p = -D V S^+ U^T f``, where
singular values below ``eps * m * s_max`` are treated as zero, so a
rank-deficient Jacobian gives the shortest step in the scaled variables.

Whenever ``g = J^T f != 0`` the direction descends:
``g^T p = -||P f||^2 < 0`` with ``P`` the projector onto the range of ``J``.
The step length ``t`` starts at 1 and is reduced until the Armijo
condition ``F(x + t p) <= F(x) + c t g^T p`` (``c = 1e-4``) holds; each
reduction minimises the quadratic that interpolates ``F(x)``, its slope
``g^T p`` and ``F(x + t p)``, safeguarded to ``[0.1 t, 0.5 t]`` (Nocedal and
Wright 2006, sec. 3.5).  A non-finite residual halves ``t``.  Near a
zero-residual solution the full step is accepted and convergence is
quadratic; for large residuals or strong nonlinearity the method can be
slow or stall, which is what the trust-region methods are for.

Termination: ``gtol`` as TRF; ``ftol``/``xtol`` as TRF on an accepted full
step, and ``ftol`` before any trial when the full Gauss-Newton step
predicts a decrease below ``ftol * F``.  A step fraction below 1e-12
without decrease is a line-search failure (status -4), a failure
(status -4) unless the full step is itself below ``xtol`` (status 3) or
the model's whole predicted gain is at rounding level, ``sqrt(eps) F``
(status 2: no better point can be resolved).  Robust
losses enter through iteratively reweighted least squares, ``J_s = sqrt(rho') J``
and ``f_s = sqrt(rho') f`` (:func:`lsqcore._loss.scale_irls`): the exact
gradient with a positive-definite model, which suits a line search better
than the Triggs correction used by the trust-region methods.

References
----------
J. Nocedal, S. J. Wright, "Numerical Optimization", 2nd ed., ch. 3 and 10, 2006.
A. Bjorck, "Numerical Methods for Least Squares Problems", SIAM, 1996, ch. 9.
"""
from .._jit import kernel_jit, hook_jit
from .._layout import (vec, mat, N, JAC_SCALE, FIRST, STATUS,
                       O_X, O_XNEW, O_STEP, O_STEPH, O_PH, O_G, O_GH, O_SCALE,
                       O_SCALEINV, O_R, O_D,
                       FTOL, XTOL, COST, COST_NEW, ACTRED, PRERED, RATIO,
                       STEP_NORM, STEP_H_NORM, LS_T, GP, DELTA, ALPHA, PRED_FULL,
                       LS_T_TRIED)
from .._linalg import norm_r, norm2, dot, max_nan
from .._status import RUNNING, LINE_SEARCH_FAIL, FTOL as ST_FTOL, XTOL as ST_XTOL
from .._stopping import (check_termination, record, gtol_verdict, xtol_reached,
                         predicted_ftol_reached, F_GN_PREDICTED, X_GN_FULL,
                         F_GN_ROUNDING, LS_FAILED)
from .common import factor_at_scale, gauss_newton_step, update_jac_scale

#: sufficient decrease (Armijo) constant c1 (Nocedal & Wright 2006, eq. 3.4 and
#: the value recommended after it)
ARMIJO_C = 1e-4
#: backtracking keeps the new fraction in [BACKTRACK_MIN t, BACKTRACK_MAX t]
#: (Nocedal & Wright 2006, sec. 3.5; Dennis & Schnabel 1983, sec. 6.3.2)
BACKTRACK_MIN = 0.1
BACKTRACK_MAX = 0.5
#: the predicted gain of the full step at rounding level: sqrt(eps) F
SQRT_EPS = 1.4901161193847656e-08
#: a step fraction below this ends the line search
MIN_T = 1e-12


@kernel_jit
def gtol_test(W, S):
    """``||g||_inf < gtol``."""
    n = S[N]
    g = vec(W, S, O_G, n)
    g_norm = 0.0
    for i in range(n):
        g_norm = max_nan(g_norm, abs(g[i]))
    return gtol_verdict(W, g_norm)


@kernel_jit
def factorize(W, S):
    n = S[N]
    scale = vec(W, S, O_SCALE, n)
    scale_inv = vec(W, S, O_SCALEINV, n)
    if S[JAC_SCALE]:
        update_jac_scale(W, S, scale, scale_inv, S[FIRST] == 1)
    factor_at_scale(W, S)
    g_h = vec(W, S, O_GH, n)
    R = mat(W, S, O_R, n, n)
    p_h = vec(W, S, O_PH, n)
    gauss_newton_step(W, S, p_h, 0.0)
    W[GP] = dot(g_h, p_h)
    W[LS_T] = 1.0
    W[DELTA] = 0.0
    W[ALPHA] = 0.0
    # converged if even the full Gauss-Newton step predicts no useful gain
    # (scale invariant, unlike a test on the size of a step not yet taken)
    predicted = -(W[GP] + 0.5 * norm_r(R, p_h))
    W[PRED_FULL] = predicted
    if predicted_ftol_reached(predicted, W[COST], W[FTOL]):
        record(W, S, False, F_GN_PREDICTED, predicted / W[COST], W[FTOL])
        S[STATUS] = ST_FTOL


@kernel_jit
def compute_step(W, S):
    """The trial point ``x + t D p_h`` for the current fraction ``t``."""
    n = S[N]
    t = W[LS_T]
    W[LS_T_TRIED] = t
    p_h = vec(W, S, O_PH, n)
    d = vec(W, S, O_D, n)
    x = vec(W, S, O_X, n)
    x_new = vec(W, S, O_XNEW, n)
    step = vec(W, S, O_STEP, n)
    step_h = vec(W, S, O_STEPH, n)
    for i in range(n):
        step_h[i] = t * p_h[i]
        step[i] = d[i] * step_h[i]
        x_new[i] = x[i] + step[i]
    W[PRERED] = -(t * W[GP] + 0.5 * norm_r(mat(W, S, O_R, n, n), step_h))
    W[STEP_H_NORM] = norm2(step_h)
    W[STEP_NORM] = norm2(step)


# ---- the step/radius seam (see lsqcore._method) -----------------------------------
# The line search's "radius" is the step fraction t (W[LS_T]).

@hook_jit
def step_quality(W, S):
    """Actual and predicted reduction of a valid trial and their ratio."""
    actual = W[COST] - W[COST_NEW]
    W[ACTRED] = actual
    predicted = W[PRERED]
    W[RATIO] = actual / predicted if predicted > 0.0 else (1.0 if actual == 0.0 else 0.0)


@hook_jit
def is_successful(W, S):
    """Armijo: ``F(x) - F(x + t p) >= -ARMIJO_C t g^T p`` (and a decrease)."""
    actual = W[ACTRED]
    return actual > 0.0 and actual >= -ARMIJO_C * W[LS_T_TRIED] * W[GP]


@hook_jit
def step_accepted(W, S):
    """Nothing to update: the next iteration starts again at ``t = 1``."""
    return


@hook_jit
def step_rejected(W, S):
    """Backtrack to the minimiser of the quadratic through ``F(x)``, its slope
    ``g^T p`` and ``F(x + t p)``, safeguarded to ``[BACKTRACK_MIN t, BACKTRACK_MAX t]``."""
    t = W[LS_T_TRIED]
    slope = W[GP]
    denom = 2.0 * (W[COST_NEW] - W[COST] - t * slope)
    t_new = -slope * t * t / denom if denom > 0.0 else BACKTRACK_MAX * t
    W[LS_T] = min(max(t_new, BACKTRACK_MIN * t), BACKTRACK_MAX * t)


@hook_jit
def step_invalid(W, S):
    """A non-finite residual halves the step fraction."""
    W[ACTRED] = 0.0
    W[RATIO] = 0.0
    W[LS_T] = BACKTRACK_MAX * W[LS_T_TRIED]


@hook_jit
def converged(W, S, accepted, valid):
    """``ftol``/``xtol`` as 'trf' on an accepted full step; after a rejected one,
    the line search's end when ``t`` fell below ``MIN_T`` (a status or ``RUNNING``)."""
    n = S[N]
    if accepted:
        if W[LS_T_TRIED] != 1.0:
            return RUNNING
        return check_termination(W, S, W[ACTRED], W[COST], W[STEP_NORM],
                                 norm2(vec(W, S, O_X, n)), W[RATIO])
    if W[LS_T] >= MIN_T:
        return RUNNING
    # No decrease along a descent direction.  Converged (to working accuracy)
    # if the full step is below xtol or the model's whole predicted gain is at
    # rounding level, sqrt(eps) * F; else a failure.
    x_norm = norm2(vec(W, S, O_X, n))
    full = W[STEP_NORM] / W[LS_T_TRIED]
    xtol = W[XTOL]
    if xtol_reached(full, x_norm, xtol):
        record(W, S, False, X_GN_FULL, full / (xtol + x_norm), xtol)
        return ST_XTOL
    if W[PRED_FULL] <= SQRT_EPS * W[COST]:
        record(W, S, False, F_GN_ROUNDING, W[PRED_FULL] / W[COST], SQRT_EPS)
        return ST_FTOL
    record(W, S, False, LS_FAILED, W[LS_T], MIN_T)
    return LINE_SEARCH_FAIL
