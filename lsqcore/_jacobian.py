"""Finite-difference and complex-step Jacobians.

Forward (2-point) differences ``J e_j = (f(x + h_j e_j) - f(x)) / h_j`` have
truncation error ``O(h)`` and rounding error ``O(eps |f| / h)``; the balance
is at ``h ~ sqrt(eps) |x_j|``.  Central (3-point) differences
``(f(x + h) - f(x - h)) / 2h`` are ``O(h^2)`` accurate, balanced at
``h ~ eps^(1/3) |x_j|``.  Next to a bound a central pair may leave the box;
then the one-sided second-order formula ``(-3 f(x) + 4 f(x + h) - f(x + 2h))
/ 2h`` is used.  The complex step ``Im f(x + i h e_j) / h`` has no
cancellation at all, so ``h`` may be tiny.

The step is *relative to* ``|x_j|`` (as in MINPACK's ``lmdif``), not to
``max(1, |x_j|)``: a parameter of size 1e-7 next to others of size 1e8
(NIST Hahn1) then gets a step of ~1e-15, not ~1e-8, and its derivative
stays accurate.  The step is floored at ``rstep * typ_j`` with the typical
size ``typ_j = min(1, |x0_j|)`` (1 for ``x0_j = 0``), so a parameter that
converges to zero keeps a usable step.  The step actually taken is the representable
``(x_j + h_j) - x_j``.

The kernel never calls the residual: it writes the points to evaluate into
a request buffer ``XQ`` and its driver writes the residuals into ``FQ``.
"""
import math

import numpy as np

from ._jit import kernel_jit, hook_jit
from ._linalg import EPS

SQRT_EPS = math.sqrt(EPS)
CBRT_EPS = EPS ** (1.0 / 3.0)

CENTRAL = 0.0
ONE_SIDED = 1.0


@kernel_jit
def default_rstep(jac_kind):
    """Default relative step: sqrt(eps) forward, eps^(1/3) central."""
    if jac_kind == 2:
        return CBRT_EPS
    return SQRT_EPS


@kernel_jit
def fd_steps(x, lb, ub, rstep, typ, three_point, h, scheme):
    """Choose the step ``h_j`` (sign included) and the scheme of every column.

    ``h_j = rstep_j * max(|x_j|, typ_j)`` where ``typ_j`` is a typical size
    (``min(1, |x0_j|)``, or 1 if ``x0_j = 0``): relative to the parameter,
    but never vanishing when a parameter passes through (or converges to) 0.
    With a ``diff_step`` given by the user ``typ_j = 0`` (scipy's
    ``diff_step * |x_j|``); where that step does not change ``x_j`` the
    default ``eps**(1/2)`` (``eps**(1/3)``) ``* max(1, |x_j|)`` is taken.

    ``scheme[j]`` is ``CENTRAL`` or ``ONE_SIDED`` for 3-point differences;
    2-point differences are always one-sided with ``h_j`` pointing into the box.
    """
    for j in range(x.shape[0]):
        h0 = rstep[j] * max(abs(x[j]), typ[j])
        if x[j] + h0 == x[j]:
            # a user's step at x_j = 0 (typ_j = 0), or one below x_j's
            # resolution: the default step, as scipy falls back to it
            h0 = (CBRT_EPS if three_point else SQRT_EPS) * max(abs(x[j]), 1.0)
        lo_room = x[j] - lb[j]
        up_room = ub[j] - x[j]
        if not three_point:
            scheme[j] = ONE_SIDED
            if h0 <= up_room:
                hj = h0
            elif h0 <= lo_room:
                hj = -h0
            elif up_room >= lo_room:
                hj = up_room
            else:
                hj = -lo_room
        else:
            if h0 <= up_room and h0 <= lo_room:
                scheme[j] = CENTRAL
                hj = h0
            elif 2.0 * h0 <= up_room:
                scheme[j] = ONE_SIDED
                hj = h0
            elif 2.0 * h0 <= lo_room:
                scheme[j] = ONE_SIDED
                hj = -h0
            elif up_room >= lo_room:
                scheme[j] = ONE_SIDED
                hj = 0.5 * up_room
            else:
                scheme[j] = ONE_SIDED
                hj = -0.5 * lo_room
        # the step the arithmetic really takes
        h[j] = (x[j] + hj) - x[j]


@hook_jit
def fd_coordinate(xj, hj, scheme_j, stage):
    """Coordinate ``j`` of the ``stage``-th (1 or 2) difference point:
    ``x_j + h_j``; then ``x_j - h_j`` (central) or ``x_j + 2 h_j`` (one-sided)."""
    if stage == 1:
        return xj + hj
    if scheme_j == CENTRAL:
        return xj - hj
    return xj + 2.0 * hj


@kernel_jit
def fd_points(x, h, scheme, stage, XQ):
    """Fill row ``j`` of ``XQ`` with the ``stage``-th (1 or 2) point for column ``j``."""
    n = x.shape[0]
    for j in range(n):
        for k in range(n):
            XQ[j, k] = x[k]
        XQ[j, j] = fd_coordinate(x[j], h[j], scheme[j], stage)


@kernel_jit
def fd_assemble(f, FQ, h, scheme, three_point, stage, J):
    """Turn the residuals at the requested points into Jacobian columns.

    2-point: one stage.  3-point: stage 1 stores ``f(x + h)`` in ``J``,
    stage 2 combines it with the second point.
    """
    m, n = J.shape
    # column by column: each residual block is read contiguously, and the
    # division by the step is one reciprocal per column (a division per
    # entry was 4 % of a small fit; the result differs by at most an ulp)
    if not three_point:
        for j in range(n):
            inv = 1.0 / h[j]
            for i in range(m):
                J[i, j] = (FQ[j, i] - f[i]) * inv
        return
    if stage == 1:
        for j in range(n):
            for i in range(m):
                J[i, j] = FQ[j, i]
        return
    for j in range(n):
        inv = 1.0 / (2.0 * h[j])
        if scheme[j] == CENTRAL:
            for i in range(m):
                J[i, j] = (J[i, j] - FQ[j, i]) * inv
        else:
            for i in range(m):
                J[i, j] = (-3.0 * f[i] + 4.0 * J[i, j] - FQ[j, i]) * inv


@kernel_jit
def cs_steps(x, rstep, h):
    """Complex-step increments ``h_j`` (tiny: there is no cancellation)."""
    for j in range(x.shape[0]):
        h[j] = 1e-20 * max(1.0, abs(x[j])) if rstep[j] == 0.0 else rstep[j] * max(1.0, abs(x[j]))


def complex_step_jacobian(fun, x, h, J, args):
    """Complex-step Jacobian of ``fun`` at ``x`` into the flat (row-major) ``J``.

    Plain Python source shared by every driver (the compiled drivers compile it).
    """
    n = x.shape[0]
    xc = x.astype(np.complex128)
    for j in range(n):
        xc[j] = x[j] + 1j * h[j]
        fc = fun(xc, *args)
        for i in range(fc.shape[0]):
            J[i * n + j] = fc[i].imag / h[j]
        xc[j] = x[j]


def complex_step_grouped(fun, x, h, pattern, values, args):
    """Complex-step Jacobian on a sparse ``pattern`` (:class:`lsqcore._sparse_jac.Pattern`):
    one evaluation per group of columns, ``x + i sum_{j in group} h_j e_j``,
    whose imaginary parts give every column of the group (their rows do not
    meet).  ``values`` is filled in the pattern's order."""
    cp, ri, groups = pattern.cp, pattern.ri, pattern.groups
    col = np.repeat(np.arange(x.shape[0]), np.diff(cp))      # the column of each entry
    entry_group = groups[col]
    xc = x.astype(np.complex128)
    for g in range(pattern.ngroups):
        cols = np.flatnonzero(groups == g)
        xc[cols] = x[cols] + 1j * h[cols]
        fc = fun(xc, *args)
        p = np.flatnonzero(entry_group == g)
        values[p] = fc[ri[p]].imag / h[col[p]]
        xc[cols] = x[cols]
