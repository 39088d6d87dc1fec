r"""Trust-region reflective (TRF) method for bound-constrained least squares.

Problem: minimise ``F(x) = 0.5 ||f(x)||^2`` (or a robust variant) subject
to ``lb <= x <= ub``.  With ``g = J^T f`` the first-order conditions are
``v * g = 0``, where ``v`` is the Coleman-Li vector (distance to the bound
the anti-gradient points at, 1 if unbounded).  Newton's method on this
system, written in the variables ``x = x_k + D p_h`` with
``D = diag(v^(1/2) * x_scale)``, leads to the trust-region subproblem

.. math::

    \min_{||p_h|| \le \Delta}\; g_h^T p_h + \tfrac12 p_h^T (J_h^T J_h + C) p_h,
    \quad J_h = J D,\; g_h = D g,\; C = \mathrm{diag}(g\, dv\, x\_scale),

where ``C`` (from the derivative ``dv`` of ``v``) keeps the model correct
near the bounds.  Writing ``C = diag(c)^2`` the model is an ordinary linear
least-squares problem for the stacked matrix ``[J_h; diag(sqrt(c))]``,
solved exactly through its SVD (:mod:`lsqcore._linalg`), or, with
``tr_solver='lsmr'``, approximately in the two-dimensional subspace spanned
by ``g_h`` and LSMR's Gauss-Newton direction
(:mod:`lsqcore.methods.lsmr_model`); the step selection below is the same
for both, the model being read from ``R`` or from ``J``.

A step that leaves the box is not projected.  Branch, Coleman and Li
(1999) compare three candidates and keep the one with the lowest model
value: (1) the step cut at the first bound it meets and then scaled back
by ``theta = max(0.995, 1 - ||v g||_inf)`` to stay strictly inside;
(2) that cut step followed by its *reflection* in the bound, minimised
along the reflected direction inside the trust region and the box;
(3) the scaled anti-gradient (Cauchy) step, minimised inside both.  The
iterates therefore stay strictly feasible and fast local convergence is
kept when bounds are active.

The radius follows the classical rule (Nocedal and Wright, Alg. 4.1):
with ``rho = actual / predicted`` reduction, ``Delta <- 0.25 ||p_h||`` if
``rho < 0.25`` and ``Delta <- 2 Delta`` if ``rho > 0.75`` and the step
reached the boundary; a step is accepted when the cost decreases.  A
non-finite residual at the trial point is an invalid step: ``Delta`` shrinks
to a quarter of the step and nothing else changes.  Without bounds ``v = 1``,
``C = 0``, and the method is a plain trust-region Gauss-Newton.

References
----------
M. A. Branch, T. F. Coleman, Y. Li, "A subspace, interior, and conjugate
gradient method for large-scale bound-constrained minimization problems",
SIAM J. Sci. Comput. 21(1), 1999.
T. F. Coleman, Y. Li, "An interior trust region approach for nonlinear
minimization subject to bounds", SIAM J. Optim. 6(2), 1996.
J. Nocedal, S. J. Wright, "Numerical Optimization", 2nd ed., 2006.
"""
import math

from .._jit import kernel_jit, hook_jit
from .._layout import (vec, N, BOUNDED, JAC_SCALE, FIRST,
                       O_X, O_XNEW, O_STEP, O_STEPH, O_PH, O_G, O_GH, O_SCALE,
                       O_SCALEINV, O_V, O_DV, O_D, O_DIAGH, O_LB, O_UB,
                       O_R, O_RH, O_AG, O_W1, O_W2, mat,
                       DELTA, ALPHA, COST, COST_NEW, ACTRED,
                       PRERED, RATIO, STEP_NORM, STEP_H_NORM, G_NORM, THETA)
from .._linalg import quadratic, norm_r, dot_r, minimize_quadratic_1d, norm2, dot
from .._bounds import (first_order_optimality, step_to_bound, intersect_trust_region,
                       in_bounds, make_strictly_feasible)
from .._status import RUNNING
from .._stopping import check_termination, gtol_verdict
from .common import factor_scaled_jacobian, trust_region_step, update_jac_scale

#: radius rule (Nocedal & Wright 2006, Alg. 4.1; scipy's ``update_tr_radius``):
#: shrink below this ratio of actual to predicted reduction ...
RATIO_LOW = 0.25
#: ... grow above this one, when the step reached the boundary of the region
RATIO_HIGH = 0.75
#: a step "reached the boundary" when ``||p_h|| > AT_BOUNDARY * Delta``
AT_BOUNDARY = 0.95
#: the new radius after a poor (or invalid) step: this fraction of ``||p_h||``
RADIUS_SHRINK = 0.25
#: the radius after a good step that reached the boundary: this times ``Delta``
RADIUS_GROW = 2.0
#: the LM parameter of the trust-region step is found to this relative
#: accuracy of ``||p_h|| = Delta`` (scipy's ``solve_lsq_trust_region``, rtol)
LAMBDA_RTOL = 0.01
#: the Gauss-Newton step is taken when ``||p_h|| <= GN_FACTOR * Delta``
GN_FACTOR = 1.0
#: the cut-back factor is ``theta = max(THETA_MIN, 1 - ||v g||_inf)``
#: (Branch, Coleman & Li 1999, sec. 2.2: strictly inside the box)
THETA_MIN = 0.995


@kernel_jit
def gtol_test(W, S):
    """``||v * g||_inf < gtol`` (scaled first-order optimality)."""
    n = S[N]
    g_norm = first_order_optimality(vec(W, S, O_X, n), vec(W, S, O_G, n),
                                    vec(W, S, O_LB, n), vec(W, S, O_UB, n), True,
                                    vec(W, S, O_V, n), vec(W, S, O_DV, n))
    return gtol_verdict(W, g_norm)


@kernel_jit
def factorize(W, S):
    """The scaled variables of the step (:func:`scaled_variables`) and the QR of
    ``[J_h; C^(1/2)]``."""
    augmented = scaled_variables(W, S)
    n = S[N]
    factor_scaled_jacobian(W, S, vec(W, S, O_D, n), vec(W, S, O_DIAGH, n), augmented)


@kernel_jit
def scaled_variables(W, S):
    """``d``, ``C`` (``DIAGH``), ``g_h``, ``theta`` and, on the first iteration, the
    radius; whether ``C`` is non-zero (the model needs the augmented matrix)."""
    n = S[N]
    x = vec(W, S, O_X, n)
    g = vec(W, S, O_G, n)
    v = vec(W, S, O_V, n)
    dv = vec(W, S, O_DV, n)
    scale = vec(W, S, O_SCALE, n)
    scale_inv = vec(W, S, O_SCALEINV, n)
    d = vec(W, S, O_D, n)
    diag_h = vec(W, S, O_DIAGH, n)
    g_h = vec(W, S, O_GH, n)
    first = S[FIRST] == 1
    if S[JAC_SCALE]:
        update_jac_scale(W, S, scale, scale_inv, first)
    if first:
        # initial radius: ||x0 / x_scale|| in the Coleman-Li metric
        acc = 0.0
        for i in range(n):
            vi = v[i] * scale_inv[i] if dv[i] != 0.0 else v[i]
            t = x[i] * scale_inv[i] / math.sqrt(vi)
            acc += t * t
        W[DELTA] = math.sqrt(acc)
        if W[DELTA] == 0.0 or not math.isfinite(W[DELTA]):
            W[DELTA] = 1.0
        W[ALPHA] = 0.0
    augmented = False
    for i in range(n):
        # Coleman-Li vector in the x_scale'd variables, as scipy's trf_bounds
        # (``v[dv != 0] *= scale_inv[dv != 0]`` before ``d = v**0.5 * scale``);
        # without it a bounded fit with x_scale != 1 took other, often far
        # worse, steps (found by tests/test_properties.py)
        vi = v[i] * scale_inv[i] if dv[i] != 0.0 else v[i]
        d[i] = math.sqrt(vi) * scale[i]
        diag_h[i] = g[i] * dv[i] * scale[i]
        g_h[i] = d[i] * g[i]
        if diag_h[i] != 0.0:
            augmented = True
    W[THETA] = max(THETA_MIN, 1.0 - W[G_NORM])
    return augmented


@kernel_jit
def compute_step(W, S):
    """The trial point ``x_new`` for the current radius (the best of three
    candidates when bounds are near, :func:`_select_step`) and its predicted
    reduction ``PRERED``; the model's step from the SVD of ``R``."""
    p_h = vec(W, S, O_PH, S[N])
    W[ALPHA] = trust_region_step(W, S, W[DELTA], W[ALPHA], LAMBDA_RTOL, GN_FACTOR, True, True,
                                 p_h)
    finish_step(W, S, p_h, _r_curvature, _r_curvature2, _r_model)


@hook_jit
def finish_step(W, S, p_h, curvature, curvature2, model):
    """From the model's step ``p_h`` to the trial point: the step selection in the
    box and the predicted reduction, the model read through ``curvature(W, S,
    R, a, b) = a^T (J_h^T J_h + C) b``, ``curvature2`` (of a vector with itself)
    and ``model(W, S, R, g_h, p)`` (from ``R`` here; from ``J`` with LSMR,
    :mod:`lsqcore.methods.trf_lsmr`)."""
    n = S[N]
    R = mat(W, S, O_R, n, n)
    d = vec(W, S, O_D, n)
    g_h = vec(W, S, O_GH, n)
    x = vec(W, S, O_X, n)
    x_new = vec(W, S, O_XNEW, n)
    step = vec(W, S, O_STEP, n)
    step_h = vec(W, S, O_STEPH, n)
    Delta = W[DELTA]
    if S[BOUNDED]:
        value = _select_step(W, S, x, p_h, d, g_h, R, Delta, step, step_h, curvature,
                             curvature2, model)
    else:
        for i in range(n):
            step_h[i] = p_h[i]
            step[i] = d[i] * p_h[i]
        value = model(W, S, R, g_h, step_h)
    W[PRERED] = -value
    for i in range(n):
        x_new[i] = x[i] + step[i]
    if S[BOUNDED]:
        make_strictly_feasible(x_new, vec(W, S, O_LB, n), vec(W, S, O_UB, n), 0.0)
    W[STEP_H_NORM] = norm2(step_h)


@hook_jit
def _r_curvature(W, S, R, a, b):
    """``a^T (J_h^T J_h + C) b`` from ``R``, the factor of ``[J_h; C^(1/2)]``."""
    return dot_r(R, a, b)


@hook_jit
def _r_curvature2(W, S, R, s):
    """``s^T (J_h^T J_h + C) s`` from ``R``."""
    return norm_r(R, s)


@hook_jit
def _r_model(W, S, R, g_h, p):
    """The model ``q(p) = g_h^T p + 1/2 p^T (J_h^T J_h + C) p`` from ``R``."""
    return quadratic(R, g_h, p)


@hook_jit
def _select_step(W, S, x, p_h, d, g_h, R, Delta, step, step_h, curvature, curvature2, model):
    """Best of the cut-back, reflected and Cauchy steps (Branch et al. 1999)."""
    n = S[N]
    lb = vec(W, S, O_LB, n)
    ub = vec(W, S, O_UB, n)
    theta = W[THETA]
    p = vec(W, S, O_STEP, n)           # reuse `step` as the unscaled p for a moment
    for i in range(n):
        p[i] = d[i] * p_h[i]
    tmp = vec(W, S, O_W1, 2 * n)
    x_b = tmp[:n]                       # x on the bound
    hits = tmp[n:2 * n]
    for i in range(n):
        x_b[i] = x[i] + p[i]
    if in_bounds(x_b, lb, ub):
        for i in range(n):
            step_h[i] = p_h[i]
        return model(W, S, R, g_h, p_h)

    p_stride = step_to_bound(x, p, lb, ub, hits)
    # reflected direction
    r_h = vec(W, S, O_RH, n)
    r = vec(W, S, O_W2, 2 * n)[:n]
    for i in range(n):
        r_h[i] = -p_h[i] if hits[i] != 0.0 else p_h[i]
        r[i] = d[i] * r_h[i]
    for i in range(n):
        p[i] *= p_stride
        p_h[i] *= p_stride
        x_b[i] = x[i] + p[i]
    _, to_tr = intersect_trust_region(p_h, r_h, Delta)
    hits2 = vec(W, S, O_W2, 2 * n)[n:2 * n]
    to_bound = step_to_bound(x_b, r, lb, ub, hits2)
    r_stride = min(to_bound, to_tr)
    if r_stride > 0.0:
        r_lo = (1.0 - theta) * p_stride / r_stride
        r_hi = theta * to_bound if r_stride == to_bound else to_tr
    else:
        r_lo = 0.0
        r_hi = -1.0
    r_value = math.inf
    if r_lo <= r_hi:
        # q(p_h + t r_h) = a t^2 + b t + c
        a = 0.5 * curvature2(W, S, R, r_h)
        b = dot(g_h, r_h) + curvature(W, S, R, p_h, r_h)
        c = model(W, S, R, g_h, p_h)
        t, r_value = minimize_quadratic_1d(a, b, r_lo, r_hi, c)
        for i in range(n):
            r_h[i] = p_h[i] + t * r_h[i]
    # cut-back step
    for i in range(n):
        p_h[i] *= theta
    p_value = model(W, S, R, g_h, p_h)
    # Cauchy step along -g_h
    ag_h = vec(W, S, O_AG, n)
    ag = vec(W, S, O_W2, 2 * n)[:n]
    for i in range(n):
        ag_h[i] = -g_h[i]
        ag[i] = d[i] * ag_h[i]
    gnorm_h = norm2(ag_h)
    to_tr = Delta / gnorm_h if gnorm_h > 0.0 else 0.0
    to_bound = step_to_bound(x, ag, lb, ub, hits)
    ag_stride = theta * to_bound if to_bound < to_tr else to_tr
    a = 0.5 * curvature2(W, S, R, ag_h)
    b = dot(g_h, ag_h)
    t, ag_value = minimize_quadratic_1d(a, b, 0.0, ag_stride, 0.0)
    for i in range(n):
        ag_h[i] *= t
    if p_value < r_value and p_value < ag_value:
        best = p_h
        value = p_value
    elif r_value < ag_value:
        best = r_h
        value = r_value
    else:
        best = ag_h
        value = ag_value
    for i in range(n):
        step_h[i] = best[i]
        step[i] = d[i] * best[i]
    return value


# ---- the step/radius seam (see lsqcore._method) -----------------------------------

@hook_jit
def step_quality(W, S):
    """Actual and predicted reduction of a valid trial, and their ratio."""
    n = S[N]
    actual = W[COST] - W[COST_NEW]
    predicted = W[PRERED]
    W[ACTRED] = actual
    if predicted > 0.0:
        ratio = actual / predicted
    elif predicted == 0.0 and actual == 0.0:
        ratio = 1.0
    else:
        ratio = 0.0
    W[RATIO] = ratio
    W[STEP_NORM] = norm2(vec(W, S, O_STEP, n))


@hook_jit
def is_successful(W, S):
    """A step is taken when it decreases the cost (scipy's trf)."""
    return W[ACTRED] > 0.0


@hook_jit
def update_radius(W, S):
    """Nocedal & Wright Alg. 4.1 on ``rho = W[RATIO]``: shrink to
    ``RADIUS_SHRINK ||p_h||`` below ``RATIO_LOW``, double above ``RATIO_HIGH``
    when the step reached the boundary; ``alpha`` (the LM parameter that
    produced the step) is rescaled with the radius, as scipy's trf does."""
    ratio = W[RATIO]
    Delta = W[DELTA]
    step_h_norm = W[STEP_H_NORM]
    if ratio < RATIO_LOW:
        Delta_new = RADIUS_SHRINK * step_h_norm
    elif ratio > RATIO_HIGH and step_h_norm > AT_BOUNDARY * Delta:
        Delta_new = RADIUS_GROW * Delta
    else:
        Delta_new = Delta
    if Delta_new > 0.0:
        W[ALPHA] *= Delta / Delta_new
    W[DELTA] = Delta_new


#: the radius rule is the same whether the step was taken or not
step_accepted = update_radius
step_rejected = update_radius


@hook_jit
def step_invalid(W, S):
    """A trial with a non-finite residual: shrink the radius to a quarter of the step."""
    n = S[N]
    W[STEP_NORM] = norm2(vec(W, S, O_STEP, n))
    W[DELTA] = RADIUS_SHRINK * W[STEP_H_NORM]
    W[ACTRED] = 0.0
    W[RATIO] = 0.0


@hook_jit
def converged(W, S, accepted, valid):
    """scipy's ``ftol``/``xtol`` tests after a valid trial (a status or ``RUNNING``)."""
    if not valid:
        return RUNNING
    n = S[N]
    return check_termination(W, S, W[ACTRED], W[COST], W[STEP_NORM], norm2(vec(W, S, O_X, n)),
                             W[RATIO])
