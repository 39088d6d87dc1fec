r"""Dogbox: a dogleg step in a rectangular trust region (Voglis and Lagaris 2004).

Problem: minimise ``F(x) = 0.5 ||f(x)||^2`` (or a robust variant) subject to
``lb <= x <= ub``.  Around the current ``x`` the cost is modelled by the
Gauss-Newton quadratic

.. math::

    q(s) = g^T s + \tfrac12 \|J s\|^2, \qquad g = J^T f,

and the trust region is a *box*, ``|s_i| <= Delta x_scale_i``, instead of a
ball.  The intersection of that box with the feasible box ``lb - x <= s <=
ub - x`` is again a box, ``l <= s <= u``, so every iteration solves one
bound-constrained quadratic problem, and it does so approximately along the
dogleg path of Powell (Nocedal and Wright 2006, sec. 4.1):

1. the Gauss-Newton point ``s_N = -J^+ f`` (minimum norm);
2. the Cauchy point ``s_C = -t* g``, where ``t*`` minimises
   ``q(-t g) = -t g^T g + \tfrac12 t^2 \|J g\|^2`` over ``0 <= t <= t_max``
   and ``t_max`` is the largest step along ``-g`` that stays in the box;
3. if ``s_N`` is in the box it is the step; otherwise the step is the point
   where the segment from ``s_C`` towards ``s_N`` leaves the box,
   ``s = s_C + tau (s_N - s_C)`` with the largest feasible ``tau``.

When ``J`` has full column rank ``q`` decreases monotonically along the
path (Nocedal and Wright 2006, Lemma 4.2), so stopping at the box is the
best point on it; the constrained Cauchy segment keeps the step a descent
step in rank-deficient cases.

**Variables held at a bound.**  A variable that lies on a bound of the
feasible box while the anti-gradient points out of the box (``x_i = lb_i``
and ``g_i > 0``, or ``x_i = ub_i`` and ``g_i < 0``) already satisfies its
first-order condition; a dogleg step that kept it would be cut to zero
length at once.  Such variables are *active*: they are removed from the
step (their columns of ``J`` and entries of ``g`` are set to zero, which
gives the same ``s_N`` as a least-squares solve with the free columns
alone), and from the first-order optimality ``||g_free||_inf``.  A step that
ends on a bound of the feasible box puts that variable on the bound exactly
(it becomes a candidate for the active set at the next ``x``).

**Radius.**  ``rho = actual / predicted`` reduction; ``Delta <- 0.25
||s / x_scale||_inf`` when ``rho < 0.25`` and ``Delta <- 2 Delta`` when
``rho > 0.75`` and the step was stopped by the trust box (not by a bound);
a step is taken when the cost decreases, and the initial radius is
``||x0 / x_scale||_inf`` (1 when that is zero).  Termination uses the same
``ftol``/``xtol`` tests as 'trf' (:mod:`lsqcore._stopping`); these are also
the semantics of scipy's ``method='dogbox'``.

Everything but the step, the active set and the radius rule is shared with
'trf' (the quality of a trial, the decision, an invalid trial, the
``ftol``/``xtol`` tests), and imported from :mod:`lsqcore.methods.trf`.

**tr_solver='lsmr'** (as scipy's dogbox): the Gauss-Newton point comes
from LSMR (:mod:`lsqcore._lsmr`) on ``J diag(d)``, ``d = x_scale`` on the
free variables and 0 on the active ones, ``s_N = -d * LSMR(J diag(d), f)``
(LSMR from zero gives the minimum-norm solution in the scaled variables);
the quadratic model is evaluated with ``J`` itself instead of the QR
factor, and nothing is factored (the operator, and LSMR's vectors in the
workspace, are trf's: :mod:`lsqcore.methods.lsmr_model`).

Workspace use: ``V`` holds ``on_bound`` (-1, 0, +1 per variable), ``DV`` the
bounds the trial step ends on, ``D`` the free mask, ``GH`` the free
gradient, ``PH`` the Gauss-Newton step, ``AG`` the Cauchy step, ``RH`` the
dogleg segment, ``W1`` the step box ``[l; u]`` and ``W2`` the hit flags.

References
----------
C. Voglis, I. E. Lagaris, "A rectangular trust region dogleg approach for
unconstrained and bound constrained nonlinear optimization", WSEAS
International Conference on Applied Mathematics, Corfu, 2004.
J. Nocedal, S. J. Wright, "Numerical Optimization", 2nd ed., Springer, 2006,
sec. 4.1 (the dogleg method).
"""
from .._jit import kernel_jit, hook_jit
from .._layout import (vec, mat, M, N, JAC_SCALE, FIRST, O_X, O_XNEW, O_STEP, O_STEPH, O_PH,
                       O_G, O_GH, O_SCALE, O_SCALEINV, O_V, O_DV, O_D, O_LB, O_UB, O_R,
                       O_RH, O_AG, O_W1, O_W2, O_FS, DELTA, ALPHA, PRERED, RATIO,
                       STEP_NORM, STEP_H_NORM, TR_HIT, TR_SOLVER, TR_EXACT, LSMR_DAMP)
from .._linalg import norm_r, dot, minimize_quadratic_1d, norm2, max_nan, EPS
from .._bounds import step_to_bound, in_bounds
from .._stopping import gtol_verdict
from .common import factor_scaled_jacobian, gauss_newton_step, update_jac_scale
from .lsmr_model import lsmr_solve, jh_norm2
from .trf import (RATIO_LOW, RATIO_HIGH, RADIUS_SHRINK, RADIUS_GROW, step_quality,
                  is_successful, step_invalid, converged)

__all__ = ["gtol_test", "factorize", "compute_step", "step_quality", "is_successful",
           "step_accepted", "step_rejected", "step_invalid", "converged"]


@hook_jit
def _active(on_bound, g):
    """Whether a variable on a bound has its anti-gradient pointing out of the box."""
    return on_bound * g < 0.0


@kernel_jit
def gtol_test(W, S):
    """``||g_free||_inf < gtol``; on the first call, ``on_bound`` from ``x0``."""
    n = S[N]
    x = vec(W, S, O_X, n)
    g = vec(W, S, O_G, n)
    on_bound = vec(W, S, O_V, n)
    if S[FIRST] == 1:
        lb = vec(W, S, O_LB, n)
        ub = vec(W, S, O_UB, n)
        for i in range(n):
            on_bound[i] = -1.0 if x[i] == lb[i] else (1.0 if x[i] == ub[i] else 0.0)
    return gtol_verdict(W, free_gradient_norm(on_bound, g))


@hook_jit
def free_gradient_norm(on_bound, g):
    """``||g_free||_inf``: the largest ``|g_i|`` of the variables not held on
    a bound (dogbox's first-order optimality; NaN propagates).  Also read
    by the front end for a solve its callback stopped."""
    g_norm = 0.0
    for i in range(g.shape[0]):
        if not _active(on_bound[i], g[i]):
            g_norm = max_nan(g_norm, abs(g[i]))
    return g_norm


@kernel_jit
def factorize(W, S):
    """The active set, the Gauss-Newton step of the free variables and, on the
    first iteration, the initial radius."""
    n = S[N]
    x = vec(W, S, O_X, n)
    g = vec(W, S, O_G, n)
    on_bound = vec(W, S, O_V, n)
    scale = vec(W, S, O_SCALE, n)
    scale_inv = vec(W, S, O_SCALEINV, n)
    free = vec(W, S, O_D, n)
    g_free = vec(W, S, O_GH, n)
    if S[JAC_SCALE]:
        update_jac_scale(W, S, scale, scale_inv, S[FIRST] == 1)
    if S[FIRST] == 1:
        Delta = 0.0
        for i in range(n):
            Delta = max(Delta, abs(x[i] * scale_inv[i]))
        W[DELTA] = Delta if Delta > 0.0 else 1.0
        W[ALPHA] = 0.0
    for i in range(n):
        free[i] = 0.0 if _active(on_bound[i], g[i]) else 1.0
        g_free[i] = free[i] * g[i]
    p = vec(W, S, O_PH, n)
    if S[TR_SOLVER] != TR_EXACT:
        _lsmr_newton_step(W, S, free, p)
        return
    # J diag(free): the active columns are zero, and the minimum-norm
    # solution leaves those variables where they are
    factor_scaled_jacobian(W, S, free, free, False)
    # rank as a least-squares solve with LAPACK's default cut-off (eps s_max)
    gauss_newton_step(W, S, p, EPS)
    for i in range(n):
        p[i] *= free[i]


@kernel_jit
def _lsmr_newton_step(W, S, free, p):
    """``p = -d * LSMR(J diag(d), f)``, ``d = x_scale * free`` (module docstring)."""
    m = S[M]
    n = S[N]
    scale = vec(W, S, O_SCALE, n)
    d = vec(W, S, O_W1, 2 * n)[:n]
    for i in range(n):
        d[i] = scale[i] * free[i]
    lsmr_solve(W, S, d, d, False, vec(W, S, O_FS, m), W[LSMR_DAMP], p)
    for i in range(n):
        p[i] = -p[i] * d[i]


@hook_jit
def _model_curvature(W, S, s):
    """``||J s||^2`` of the Gauss-Newton model: from ``R`` when ``J`` was
    factored, from ``J`` itself with LSMR (``s`` is zero on the active
    variables, so ``J s = J diag(free) s``)."""
    n = S[N]
    if S[TR_SOLVER] == TR_EXACT:
        return norm_r(mat(W, S, O_R, n, n), s)
    return jh_norm2(W, S, vec(W, S, O_D, n), s)


@kernel_jit
def compute_step(W, S):
    """The dogleg step in the box ``l <= s <= u`` (trust box within the bounds),
    the trial point ``x_new`` (exactly on any bound the step ends on), the
    bounds it ends on (``DV``), whether the trust box stopped it (``TR_HIT``)
    and the predicted reduction."""
    n = S[N]
    x = vec(W, S, O_X, n)
    lb = vec(W, S, O_LB, n)
    ub = vec(W, S, O_UB, n)
    scale = vec(W, S, O_SCALE, n)
    scale_inv = vec(W, S, O_SCALEINV, n)
    g_free = vec(W, S, O_GH, n)
    p_N = vec(W, S, O_PH, n)
    step = vec(W, S, O_STEP, n)
    hits_out = vec(W, S, O_DV, n)
    box = vec(W, S, O_W1, 2 * n)
    lo = box[:n]
    hi = box[n:2 * n]
    hits = vec(W, S, O_W2, 2 * n)[:n]
    Delta = W[DELTA]
    for i in range(n):
        t = Delta * scale[i]
        lo[i] = max(lb[i] - x[i], -t)
        hi[i] = min(ub[i] - x[i], t)
        hits_out[i] = 0.0
    tr_hit = False
    if in_bounds(p_N, lo, hi):
        for i in range(n):
            step[i] = p_N[i]
    else:
        # Cauchy point along -g_free, inside the box
        s_C = vec(W, S, O_AG, n)
        for i in range(n):
            s_C[i] = -g_free[i]
            step[i] = 0.0
        t_max = step_to_bound(step, s_C, lo, hi, hits)
        t, _ = minimize_quadratic_1d(0.5 * _model_curvature(W, S, s_C), -dot(g_free, g_free),
                                     0.0, t_max, 0.0)
        seg = vec(W, S, O_RH, n)
        for i in range(n):
            s_C[i] *= t
            seg[i] = p_N[i] - s_C[i]
        tau = step_to_bound(s_C, seg, lo, hi, hits)
        for i in range(n):
            step[i] = s_C[i] + tau * seg[i]
            if hits[i] < 0.0:
                if lo[i] == lb[i] - x[i]:
                    hits_out[i] = -1.0
                if lo[i] == -Delta * scale[i]:
                    tr_hit = True
            elif hits[i] > 0.0:
                if hi[i] == ub[i] - x[i]:
                    hits_out[i] = 1.0
                if hi[i] == Delta * scale[i]:
                    tr_hit = True
    W[TR_HIT] = 1.0 if tr_hit else 0.0
    W[PRERED] = -(dot(g_free, step) + 0.5 * _model_curvature(W, S, step))
    x_new = vec(W, S, O_XNEW, n)
    step_h = vec(W, S, O_STEPH, n)
    step_h_norm = 0.0
    for i in range(n):
        x_new[i] = min(max(x[i] + step[i], lb[i]), ub[i])
        if hits_out[i] < 0.0:
            x_new[i] = lb[i]
        elif hits_out[i] > 0.0:
            x_new[i] = ub[i]
        step_h[i] = step[i] * scale_inv[i]
        step_h_norm = max(step_h_norm, abs(step_h[i]))
    W[STEP_H_NORM] = step_h_norm
    W[STEP_NORM] = norm2(step)


# ---- the step/radius seam (see lsqcore._method); the rest is trf's ---------------

@hook_jit
def step_rejected(W, S):
    """The radius rule of the module docstring (``rho`` in ``W[RATIO]``)."""
    ratio = W[RATIO]
    if ratio < RATIO_LOW:
        W[DELTA] = RADIUS_SHRINK * W[STEP_H_NORM]
    elif ratio > RATIO_HIGH and W[TR_HIT] != 0.0:
        W[DELTA] *= RADIUS_GROW


@hook_jit
def step_accepted(W, S):
    """The radius rule, and the variables the step put on a bound join ``on_bound``."""
    step_rejected(W, S)
    n = S[N]
    on_bound = vec(W, S, O_V, n)
    free = vec(W, S, O_D, n)
    hits = vec(W, S, O_DV, n)
    for i in range(n):
        if free[i] != 0.0:
            on_bound[i] = hits[i]
