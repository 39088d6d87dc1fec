"""Geometry of box constraints ``lb <= x <= ub``.

Helpers for the reflective trust-region method: the Coleman-Li scaling
vector, the distance to the box along a direction, the intersection of a
line with the trust region, strictly feasible projections, and the
classification of active constraints reported in ``active_mask``.

References
----------
T. F. Coleman, Y. Li, "An interior trust region approach for nonlinear
minimization subject to bounds", SIAM J. Optim. 6(2), 1996.
M. A. Branch, T. F. Coleman, Y. Li, "A subspace, interior, and conjugate
gradient method for large-scale bound-constrained minimization problems",
SIAM J. Sci. Comput. 21(1), 1999.
"""
import math

import numpy as np
from numba import njit

from ._jit import kernel_jit
from ._linalg import max_nan


@kernel_jit
def coleman_li_scaling(x, g, lb, ub, v, dv):
    """Coleman-Li vector ``v`` and its derivative sign ``dv``.

    ``v_i`` is the distance to the bound the anti-gradient points at (1 if
    that bound is infinite): the optimality conditions of the box problem
    are then ``v * g = 0``, which is smooth enough for Newton's method.
    """
    for i in range(x.shape[0]):
        if g[i] < 0.0 and math.isfinite(ub[i]):
            v[i] = ub[i] - x[i]
            dv[i] = -1.0
        elif g[i] > 0.0 and math.isfinite(lb[i]):
            v[i] = x[i] - lb[i]
            dv[i] = 1.0
        else:
            v[i] = 1.0
            dv[i] = 0.0


@kernel_jit
def first_order_optimality(x, g, lb, ub, trf, v, dv):
    """scipy's first-order optimality at ``x``: ``||v * g||_inf``, with the
    Coleman-Li ``v`` for ``'trf'`` (``trf`` true) and ``v = 1`` otherwise.

    The one definition every path reports (trf's ``gtol`` test, the single
    solve, the CPU batch, the GPU batch); ``v`` and ``dv`` receive the
    Coleman-Li scaling for 'trf' (trf's step uses them), else ``v = 1``.
    NaN in ``g * v`` gives NaN.
    """
    n = x.shape[0]
    if trf:
        coleman_li_scaling(x, g, lb, ub, v, dv)
    else:
        for j in range(n):
            v[j] = 1.0
    opt = 0.0
    for j in range(n):
        opt = max_nan(opt, abs(g[j] * v[j]))
    return opt


@kernel_jit
def step_to_bound(x, s, lb, ub, hits):
    """Largest ``t >= 0`` with ``lb <= x + t s <= ub``; ``hits`` marks the blocking bounds."""
    t_min = np.inf
    for i in range(x.shape[0]):
        if s[i] != 0.0:
            t = max((lb[i] - x[i]) / s[i], (ub[i] - x[i]) / s[i])
            if t < t_min:
                t_min = t
    for i in range(x.shape[0]):
        hits[i] = 0.0
        if s[i] != 0.0:
            t = max((lb[i] - x[i]) / s[i], (ub[i] - x[i]) / s[i])
            if t == t_min:
                hits[i] = math.copysign(1.0, s[i])
    return t_min


@kernel_jit
def intersect_trust_region(x, s, Delta):
    """Roots ``t1 <= t2`` of ``||x + t s|| = Delta`` (``||x|| <= Delta``)."""
    a = 0.0
    b = 0.0
    c = -Delta * Delta
    for i in range(x.shape[0]):
        a += s[i] * s[i]
        b += x[i] * s[i]
        c += x[i] * x[i]
    if a == 0.0:
        return 0.0, 0.0
    d = math.sqrt(max(b * b - a * c, 0.0))
    q = -(b + math.copysign(d, b))
    t1 = q / a
    t2 = c / q if q != 0.0 else -t1
    if t1 < t2:
        return t1, t2
    return t2, t1


@kernel_jit
def in_bounds(x, lb, ub):
    for i in range(x.shape[0]):
        if x[i] < lb[i] or x[i] > ub[i]:
            return False
    return True


@kernel_jit
def nextafter(a, b):
    """``np.nextafter(a, b)`` for float64 scalars, bit for bit, from ``math``
    alone (``frexp`` / ``ldexp``), so that CUDA device code can compile it too.

    The step to the neighbour of ``a = mant 2^e`` is one unit in the last
    place, ``2^(e - 53)``, halved when moving towards zero from a power of
    two, and never below the smallest subnormal ``2^-1074``; ``a +- step`` is
    then exact (or overflows to inf, as nextafter does).
    """
    if a != a or b != b:
        return a + b
    if a == b:
        return b
    if a == 0.0:
        return math.copysign(5e-324, b)
    if math.isinf(a):
        return math.copysign(1.7976931348623157e308, a)
    mant, e = math.frexp(a)
    up = b > a
    ex = e - 53
    if up != (a > 0.0) and abs(mant) == 0.5:
        ex -= 1
    if ex < -1074:
        ex = -1074
    step = math.ldexp(1.0, ex)
    r = a + step if up else a - step
    return math.copysign(0.0, a) if r == 0.0 else r


@kernel_jit
def make_strictly_feasible(x, lb, ub, rstep):
    """Move ``x`` strictly inside the box, in place.

    With ``rstep = 0`` a point on a bound moves to the next float inside;
    otherwise a point within ``rstep * max(1, |bound|)`` of a bound (the
    :func:`active_constraints` rule with ``rtol = rstep``), or beyond it,
    moves to that distance inside, falling back to the midpoint of a box
    too narrow for that.
    """
    for i in range(x.shape[0]):
        lo = lb[i]
        hi = ub[i]
        if rstep == 0.0:
            if x[i] <= lo:
                x[i] = nextafter(lo, hi)
            elif x[i] >= hi:
                x[i] = nextafter(hi, lo)
        else:
            side = active_side(x[i], lo, hi, rstep)
            if side < 0:
                x[i] = lo + rstep * max(1.0, abs(lo))
            elif side > 0:
                x[i] = hi - rstep * max(1.0, abs(hi))
            if not (lo < x[i] < hi):
                x[i] = 0.5 * (lo + hi)


@njit(cache=True, error_model="numpy", inline="always")
def active_side(x, lo, hi, rtol):
    """-1 if ``x`` is within ``rtol * max(1, |lo|)`` of a finite ``lo`` (or below
    it) and no nearer ``hi``, +1 likewise for ``hi``, else 0."""
    lo_d = x - lo
    up_d = hi - x
    if math.isfinite(lo) and lo_d <= min(up_d, rtol * max(1.0, abs(lo))):
        return -1
    if math.isfinite(hi) and up_d <= min(lo_d, rtol * max(1.0, abs(hi))):
        return 1
    return 0


@kernel_jit
def active_constraints(x, lb, ub, rtol, active):
    """``active[i]`` is -1 (lower), +1 (upper) or 0, within ``rtol`` relative distance."""
    for i in range(x.shape[0]):
        active[i] = 0
        if rtol == 0.0:
            if x[i] <= lb[i]:
                active[i] = -1
            elif x[i] >= ub[i]:
                active[i] = 1
            continue
        active[i] = active_side(x[i], lb[i], ub[i], rtol)


@kernel_jit
def reflect_into_bounds(y, lb, ub):
    """Fold ``y`` into the box in place, as a ray reflects off its walls.

    A point beyond one finite bound is mirrored in it; between two finite
    bounds the line is folded with period ``2 (ub - lb)``, so the point
    lands where a ray from ``lb`` travelling ``y - lb`` and bouncing between
    the walls would stop.  Points inside are unchanged.
    """
    for i in range(y.shape[0]):
        lo = lb[i]
        hi = ub[i]
        lo_f = math.isfinite(lo)
        hi_f = math.isfinite(hi)
        if lo_f and hi_f:
            if lo <= y[i] <= hi:
                continue
            w = hi - lo
            t = (y[i] - lo) % (2.0 * w)          # in [0, 2 w): Python's sign rule
            y[i] = lo + min(t, 2.0 * w - t)
        elif lo_f and y[i] < lo:
            y[i] = 2.0 * lo - y[i]
        elif hi_f and y[i] > hi:
            y[i] = 2.0 * hi - y[i]
