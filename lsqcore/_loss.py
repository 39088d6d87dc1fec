"""Robust loss functions and the Triggs correction.

A robust loss replaces the cost ``0.5 sum f_i^2`` by ``0.5 sum rho(f_i^2)``
so that large residuals (outliers) weigh less.  With a soft threshold
``C = f_scale`` the loss is applied to ``z = (f / C)^2`` and rescaled,
``rho_C(z) = C^2 rho(z / C^2)``, so residuals much smaller than ``C`` are
treated as by the linear loss.  The built-in ``rho(z)`` are

=========  ==========================  =====================  ==========================
name       rho(z)                      rho'(z)                rho''(z)
=========  ==========================  =====================  ==========================
linear     z                           1                      0
soft_l1    2 (sqrt(1 + z) - 1)         (1 + z)^-1/2           -1/2 (1 + z)^-3/2
huber      z if z <= 1 else            1 or z^-1/2            0 or -1/2 z^-3/2
           2 sqrt(z) - 1
cauchy     log(1 + z)                  1 / (1 + z)            -1 / (1 + z)^2
arctan     arctan(z)                   1 / (1 + z^2)          -2 z / (1 + z^2)^2
=========  ==========================  =====================  ==========================

The gradient of the robust cost is ``J^T (rho' f)`` and its Gauss-Newton
Hessian, keeping the second-order term of the loss, is
``J^T (rho' + 2 rho'' f^2) J``.  Triggs et al. (2000, sec. 4.3) show that
scaling the rows, ``J_s = sqrt(w) J`` and ``f_s = rho' f / sqrt(w)`` with
``w = rho' + 2 rho'' f^2`` (clipped below at machine epsilon so the model
stays convex), turns every robust iteration into an ordinary least-squares
step on ``(J_s, f_s)``: ``J_s^T f_s`` is the gradient and ``J_s^T J_s`` the
Hessian approximation.  All solvers therefore handle losses by this one
rescaling.

References
----------
B. Triggs, P. McLauchlan, R. Hartley, A. Fitzgibbon, "Bundle adjustment -
a modern synthesis", Vision Algorithms: Theory and Practice, 2000.
"""
import math

from ._jit import kernel_jit, hook_jit
from ._linalg import EPS, dot_range

LINEAR = 0
SOFT_L1 = 1
HUBER = 2
CAUCHY = 3
ARCTAN = 4
CALLABLE = 5

LOSS_CODES = {"linear": LINEAR, "soft_l1": SOFT_L1, "huber": HUBER,
              "cauchy": CAUCHY, "arctan": ARCTAN}


@kernel_jit
def rho_builtin(kind, z):
    """``(rho(z), rho'(z), rho''(z))`` of a built-in loss at ``z >= 0``."""
    if kind == SOFT_L1:
        t = 1.0 + z
        r = math.sqrt(t)
        return 2.0 * (r - 1.0), 1.0 / r, -0.5 / (t * r)
    if kind == HUBER:
        if z <= 1.0:
            return z, 1.0, 0.0
        r = math.sqrt(z)
        return 2.0 * r - 1.0, 1.0 / r, -0.5 / (z * r)
    if kind == CAUCHY:
        t = 1.0 + z
        return math.log1p(z), 1.0 / t, -1.0 / (t * t)
    if kind == ARCTAN:
        if z == math.inf:       # f^2 overflowed: the plateau's limits (-2 z / t^2 is inf / inf)
            return 0.5 * math.pi, 0.0, -0.0
        t = 1.0 + z * z
        return math.atan(z), 1.0 / t, -2.0 * z / (t * t)
    return z, 1.0, 0.0


@kernel_jit
def evaluate_rho(kind, f, f_scale, rho):
    """Fill ``rho`` (3, m) for residuals ``f`` and return the cost ``0.5 sum rho[0]``."""
    c2 = f_scale * f_scale
    cost = 0.0
    for i in range(f.shape[0]):
        z = (f[i] / f_scale) ** 2
        r0, r1, r2 = rho_builtin(kind, z)
        rho[0, i] = c2 * r0
        rho[1, i] = r1
        rho[2, i] = r2 / c2
        cost += rho[0, i]
    return 0.5 * cost


@kernel_jit
def callable_loss_input(f, f_scale, z):
    """``z = (f / f_scale)^2``: the argument a user's loss callable receives."""
    for i in range(f.shape[0]):
        z[i] = (f[i] / f_scale) ** 2


@kernel_jit
def finish_callable_loss(rho, f_scale):
    """Rescale a user's ``rho(z)`` to ``rho_C`` in place and return the cost."""
    c2 = f_scale * f_scale
    cost = 0.0
    for i in range(rho.shape[1]):
        rho[0, i] *= c2
        rho[2, i] /= c2
        cost += rho[0, i]
    return 0.5 * cost


@kernel_jit
def linear_cost(f):
    return 0.5 * dot_range(f, f, 0, f.shape[0])


@kernel_jit
def scale_for_loss(J, f, rho, f_s):
    """Triggs' row scaling: ``J <- sqrt(w) J`` in place and ``f_s = rho' f / sqrt(w)``."""
    m, n = J.shape
    for i in range(m):
        w = triggs_weight(rho, f, i)
        f_s[i] = rho[1, i] * f[i] / w
        for j in range(n):
            J[i, j] *= w


@hook_jit
def triggs_weight(rho, f, i):
    """``sqrt(w)``, ``w = rho' + 2 rho'' f^2`` clipped below at eps, of residual ``i``."""
    w = rho[1, i] + 2.0 * rho[2, i] * f[i] * f[i]
    if not w >= EPS:        # also NaN: rho'' f^2 = -0 * inf once f^2 overflows
        w = EPS
    return math.sqrt(w)


@hook_jit
def loss_weights(f, rho, f_s, w):
    """:func:`scale_for_loss` without ``J``: the row weights into ``w`` (for a
    Jacobian stored otherwise, :mod:`lsqcore._csc`) and ``f_s``."""
    for i in range(f.shape[0]):
        w[i] = triggs_weight(rho, f, i)
        f_s[i] = rho[1, i] * f[i] / w[i]


@kernel_jit
def scale_irls(J, f, rho, f_s):
    """Iteratively reweighted least squares: ``J <- sqrt(rho') J``, ``f_s = sqrt(rho') f``.

    Drops the ``rho''`` term of the Triggs correction.  ``J_s^T f_s`` is still
    the exact gradient ``J^T (rho' f)`` and ``J_s^T J_s`` stays a positive
    (semi)definite, well-scaled model, which a line search needs: the Triggs
    weights of outliers can be clipped to machine epsilon, giving directions
    along which no step length of useful size decreases the cost.
    """
    m, n = J.shape
    for i in range(m):
        w = math.sqrt(rho[1, i])
        f_s[i] = w * f[i]
        for j in range(n):
            J[i, j] *= w
