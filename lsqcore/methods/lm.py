r"""Levenberg-Marquardt in More's trust-region form.

Levenberg (1944) and Marquardt (1963) damp the Gauss-Newton equations,
``(J^T J + lambda D^T D) p = -J^T f``.  More (1978) showed that the damping
is best controlled *indirectly*: choose a radius ``Delta`` for the scaled
step and take ``lambda`` as the Lagrange multiplier of

.. math::

    \min_p \tfrac12 ||J p + f||^2 \quad\text{subject to}\quad ||D p|| \le \Delta,

i.e. ``lambda = 0`` if the Gauss-Newton step satisfies ``||D p|| <= 1.1
Delta``, else the root of ``||D p(lambda)|| = Delta`` to 10 per cent
(solved on the SVD of ``J D^{-1}``, :func:`lsqcore._linalg.solve_trust_region`).
The scaling ``D`` is the running maximum of the Jacobian's column norms
(``x_scale='jac'``, More's choice) or ``1 / x_scale``.

With relative reductions ``actred = 1 - (||f_new|| / ||f||)^2`` and
``prered = (||J p||^2 + 2 lambda ||D p||^2) / ||f||^2`` the ratio
``rho = actred / prered`` drives the radius (More 1978, sec. 4):

* ``rho <= 0.25``: ``Delta <- mu min(Delta, 10 ||D p||)`` with
  ``mu = 0.5`` or, when the cost rose, the minimiser of a quadratic
  interpolation of the cost along ``p``, clipped to [0.1, 0.5];
  ``lambda <- lambda / mu``.
* ``rho >= 0.75`` or ``lambda = 0``: ``Delta <- 2 ||D p||``, ``lambda <- lambda / 2``.

A step is accepted if ``rho >= 1e-4``.  Termination (scipy's status codes):
``ftol`` when ``|actred| <= ftol`` and ``prered <= ftol`` (and
``rho <= 2``), ``xtol`` when ``Delta <= xtol ||D x||``, ``gtol`` when the
largest cosine between ``f`` and a column of ``J`` is at most ``gtol``.
A non-finite residual counts as a large increase of the cost (``mu = 0.1``).

References
----------
J. J. More, "The Levenberg-Marquardt algorithm: implementation and theory",
Numerical Analysis, Lecture Notes in Mathematics 630, 1978.
K. Levenberg, Q. Appl. Math. 2, 1944.  D. W. Marquardt, SIAM J. Appl. Math. 11, 1963.
"""
import math

from .._jit import kernel_jit, hook_jit
from .._layout import (vec, mat, N, JAC_SCALE, FIRST,
                       O_X, O_XNEW, O_STEP, O_STEPH, O_PH, O_G, O_GH, O_SCALE,
                       O_SCALEINV, O_R, O_W1,
                       GTOL, G_TEST, DELTA, ALPHA, COST, COST_NEW, ACTRED,
                       PRERED, RATIO, STEP_NORM, STEP_H_NORM, G_NORM, X_NORM,
                       DIRDER, PNORM, REL_ACTRED, REL_PRERED)
from .._linalg import quadratic_from, norm_r, norm2, max_nan
from .._stopping import check_termination_more, cosine_gtol_reached
from .common import factor_at_scale, trust_region_step, scale_from_norms, jac_column_norms

# The constants of More (1978) as MINPACK's ``lmder``/``lmpar`` use them.
#: a trial is taken when ``rho = actred / prered >= ACCEPT_RATIO`` (``p0001``)
ACCEPT_RATIO = 1e-4
#: the radius shrinks when ``rho <= RATIO_LOW`` (``p25``) ...
RATIO_LOW = 0.25
#: ... and is reset to ``||D p|| / RADIUS_GROW_DIV`` when ``rho >= RATIO_HIGH`` (``p75``)
#: or the step was Gauss-Newton (``lambda = 0``)
RATIO_HIGH = 0.75
RADIUS_GROW_DIV = 0.5
#: the shrink factor ``mu``: ``MU_DEFAULT`` (``p5``) when the cost did not rise, else
#: the minimiser of a quadratic interpolation, never below ``MU_MIN`` (``p1``)
MU_DEFAULT = 0.5
MU_MIN = 0.1
#: a shrunk radius is at most ``||D p|| / RADIUS_CAP_DIV`` (``delta = temp * min(delta,
#: pnorm / p1)``)
RADIUS_CAP_DIV = 0.1
#: ``actred = 1 - (||f_new|| / ||f||)^2`` only while ``INCREASE_LIMIT ||f_new|| < ||f||``,
#: else -1 (``p1``)
INCREASE_LIMIT = 0.1
#: ``lmpar``: the Gauss-Newton step is taken when ``||D p|| <= GN_FACTOR * Delta``, and
#: lambda is found when ``| ||D p|| - Delta | <= LAMBDA_RTOL * Delta`` (``p1``)
LAMBDA_RTOL = 0.1
GN_FACTOR = 1.1


@kernel_jit
def gtol_test(W, S):
    """Largest cosine between ``f`` and a column of ``J`` is at most ``gtol``."""
    n = S[N]
    g = vec(W, S, O_G, n)
    cn = jac_column_norms(W, S)
    fnorm = math.sqrt(2.0 * W[COST])
    gnorm = 0.0
    if fnorm > 0.0:
        for j in range(n):
            if cn[j] > 0.0:
                gnorm = max_nan(gnorm, abs(g[j] / cn[j]) / fnorm)
    W[G_NORM] = 0.0
    for j in range(n):
        W[G_NORM] = max_nan(W[G_NORM], abs(g[j]))
    W[G_TEST] = gnorm
    return cosine_gtol_reached(gnorm, W[GTOL])


@kernel_jit
def factorize(W, S):
    n = S[N]
    x = vec(W, S, O_X, n)
    scale = vec(W, S, O_SCALE, n)
    scale_inv = vec(W, S, O_SCALEINV, n)
    first = S[FIRST] == 1
    if S[JAC_SCALE]:
        # J's column norms: gtol_test, which always runs first at this J,
        # left them in W1 (not computed twice: 4.6 % of a small fit)
        scale_from_norms(vec(W, S, O_W1, n), scale, scale_inv, first)
    xnorm = 0.0
    for i in range(n):
        xnorm += (x[i] * scale_inv[i]) ** 2
    W[X_NORM] = math.sqrt(xnorm)
    if first:
        W[DELTA] = W[X_NORM]
        if W[DELTA] == 0.0 or not math.isfinite(W[DELTA]):
            W[DELTA] = 1.0
        W[ALPHA] = 0.0
    factor_at_scale(W, S)


@kernel_jit
def compute_step(W, S):
    """The trial point for the current radius, its predicted reduction and
    the directional derivative MINPACK's interpolation needs."""
    n = S[N]
    R = mat(W, S, O_R, n, n)
    p_h = vec(W, S, O_PH, n)
    scale = vec(W, S, O_SCALE, n)
    x = vec(W, S, O_X, n)
    x_new = vec(W, S, O_XNEW, n)
    step = vec(W, S, O_STEP, n)
    step_h = vec(W, S, O_STEPH, n)
    W[ALPHA] = trust_region_step(W, S, W[DELTA], W[ALPHA], LAMBDA_RTOL, GN_FACTOR, False, False,
                                 p_h)
    for i in range(n):
        step_h[i] = p_h[i]
        step[i] = scale[i] * p_h[i]
        x_new[i] = x[i] + step[i]
    pnorm = norm2(step_h)
    W[PNORM] = pnorm
    W[STEP_H_NORM] = pnorm
    if S[FIRST] == 1:
        W[DELTA] = min(W[DELTA], pnorm)
    Jp2 = norm_r(R, step_h)         # ||J_h p||^2, once for both quantities
    W[PRERED] = -quadratic_from(vec(W, S, O_GH, n), step_h, Jp2)
    fnorm2 = 2.0 * W[COST]
    W[DIRDER] = -(Jp2 + W[ALPHA] * pnorm * pnorm) / fnorm2 if fnorm2 > 0.0 else 0.0


# ---- the step/radius seam (see lsqcore._method) -----------------------------------

@hook_jit
def _measure(W, S, valid):
    """More's relative reductions of the trial (``actred = -1`` for an invalid
    one or a tenfold increase of ``||f||``) and their ratio."""
    n = S[N]
    fnorm = math.sqrt(2.0 * W[COST])
    if valid:
        fnorm_new = math.sqrt(2.0 * W[COST_NEW])
        actred = 1.0 - (fnorm_new / fnorm) ** 2 if INCREASE_LIMIT * fnorm_new < fnorm else -1.0
    else:
        actred = -1.0
    prered = W[PRERED] / W[COST] if W[COST] > 0.0 else 0.0
    W[REL_ACTRED] = actred
    W[REL_PRERED] = prered
    W[RATIO] = actred / prered if prered != 0.0 else 0.0
    W[ACTRED] = W[COST] - W[COST_NEW] if valid else 0.0
    W[STEP_NORM] = norm2(vec(W, S, O_STEP, n))


@hook_jit
def step_quality(W, S):
    """Relative actual and predicted reductions of a valid trial and their ratio."""
    _measure(W, S, True)


@hook_jit
def is_successful(W, S):
    """MINPACK's acceptance: ``rho >= ACCEPT_RATIO``."""
    return W[RATIO] >= ACCEPT_RATIO


@hook_jit
def update_radius(W, S, valid):
    """More (1978), sec. 4, on ``rho = W[RATIO]``: shrink by ``mu`` below
    ``RATIO_LOW`` (``mu`` from a quadratic interpolation of the cost along the
    step, clipped to ``[MU_MIN, MU_DEFAULT]``), set ``Delta = 2 ||D p||`` above
    ``RATIO_HIGH`` or after a Gauss-Newton step; ``lambda`` follows inversely."""
    pnorm = W[PNORM]
    ratio = W[RATIO]
    actred = W[REL_ACTRED]
    if ratio <= RATIO_LOW:
        dirder = W[DIRDER]
        if actred >= 0.0:
            mu = MU_DEFAULT
        else:
            mu = 0.5 * dirder / (dirder + 0.5 * actred)
        fnorm = math.sqrt(2.0 * W[COST])
        fnorm_new = math.sqrt(2.0 * W[COST_NEW]) if valid else math.inf
        if INCREASE_LIMIT * fnorm_new >= fnorm or mu < MU_MIN or not (mu == mu):
            mu = MU_MIN
        W[DELTA] = mu * min(W[DELTA], pnorm / RADIUS_CAP_DIV)
        W[ALPHA] /= mu
    elif W[ALPHA] == 0.0 or ratio >= RATIO_HIGH:
        W[DELTA] = pnorm / RADIUS_GROW_DIV
        W[ALPHA] *= 0.5


@hook_jit
def step_accepted(W, S):
    """Update the radius, and ``||D x||`` at the new point (for ``xtol``)."""
    update_radius(W, S, True)
    n = S[N]
    x_new = vec(W, S, O_XNEW, n)
    scale_inv = vec(W, S, O_SCALEINV, n)
    acc = 0.0
    for i in range(n):
        acc += (x_new[i] * scale_inv[i]) ** 2
    W[X_NORM] = math.sqrt(acc)


@hook_jit
def step_rejected(W, S):
    update_radius(W, S, True)


@hook_jit
def step_invalid(W, S):
    """A non-finite residual counts as a large increase of the cost (``mu = MU_MIN``)."""
    _measure(W, S, False)
    update_radius(W, S, False)


@hook_jit
def converged(W, S, accepted, valid):
    """More's ``ftol``/``xtol`` tests, after every trial (a status or ``RUNNING``)."""
    return check_termination_more(W, S, W[REL_ACTRED], W[REL_PRERED], W[RATIO], W[DELTA],
                                  W[X_NORM])
