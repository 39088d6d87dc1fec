"""The ask/tell kernel: one state machine that runs every method.

All three algorithms share the same outer loop:

1. at the current point ``x`` get the Jacobian ``J`` (analytic, finite
   differences or complex step), apply the robust-loss scaling and form
   the gradient ``g = J^T f``;
2. test first-order optimality (``gtol``) and the evaluation budget;
3. factor the scaled Jacobian once (:mod:`lsqcore.methods.common`);
4. repeat: compute a trial step for the current radius or step length,
   evaluate ``f(x_new)``, and let the method accept or reject it, update
   its radius and test ``ftol``/``xtol``; until a step is accepted
   (back to 1) or the run terminates.

The kernel never calls user code.  Whenever it needs a residual, a
Jacobian or a loss value it stores a *request* in ``S[REQ]`` and returns;
the driver (plain Python, compiled, batch, GPU) answers it by writing into
the workspace and calls :func:`advance` again.  The kernel is therefore
compiled once, cached on disk, and shared by every driver and every user
model, which costs a user's new model only the compilation of its own small
driver loop.  This is "reverse communication", the interface of MINPACK's
and ARPACK's Fortran codes, here used to escape Numba's compile-time /
call-overhead trade-off.

Phases of the state machine are in ``S[PHASE]``; see the constants below.
"""
import math

import numpy as np
from numba import njit, cfunc, carray, types

from . import _layout as L
from ._jit import kernel_jit, hook_jit
from ._linalg import EPS, dot_range
from ._layout import vec, mat
from ._log import first_use, KERNEL_MESSAGE
from ._loss import (LINEAR, CALLABLE, evaluate_rho, callable_loss_input,
                    finish_callable_loss, linear_cost, scale_for_loss, scale_irls)
from ._jacobian import fd_steps, fd_points, fd_assemble, cs_steps
from ._csc_entry import (sparse_op, POINTS, ASSEMBLE, WIDEN, ZERO_COLUMNS, GRADIENT,
                         ABS_TIMES)
from .methods.common import jac_column_norms
from ._gram import gram, gram_possible
from ._status import (FLAT, RUNNING, GTOL, MAX_NFEV, NONFINITE_JAC, IMPROPER_INPUT,
                      NONSTATIONARY, FTOL, XTOL, FTOL_XTOL)
from ._stopping import (record, record_only, record_gtol, G_FLAT, NFEV, J_NONFINITE,
                        NONSTATIONARY_ANGLE, NONSTATIONARY_LOST, COST_INF, PROBE_FIRST_ORDER,
                        PROBE_DESCENT)
from . import _method
from . import _warm

PH_INIT, PH_INIT_RHO, PH_JAC, PH_FD1, PH_FD2, PH_JAC_DONE, PH_CHECK, PH_STEP, \
    PH_TRIAL, PH_TRIAL_RHO, PH_EVAL, PH_DONE, PH_PROBE1, PH_PROBE2 = range(14)

#: Relative length of the probe steps that tell a zero Jacobian at a curved
#: point from a flat region (:func:`_probe_flat`): eps**(1/4), at which a change
#: of f at second order (~eps**(1/2) relative) stands well above rounding,
#: while the finite-difference step eps**(1/2) left it below.
PROBE_STEP = EPS ** 0.25

ACCEPTED, REJECTED, INVALID = 1, 0, -1


def int_options(method, jac, loss, max_nfev, jac_scale, notify, tr_solver=L.TR_EXACT,
                lsmr_maxiter=0, regularize=True, nnz=-1, ngroups=0):
    """The integer options record ``iopts`` that :func:`setup` reads, as a tuple:
    the codes of ``method``, ``jac`` and ``loss``, ``max_nfev``, whether to
    scale by the Jacobian, whether to notify after each iteration, the C
    address of the method's hooks (compiled on the method's first use,
    :func:`lsqcore._method.method_entry`), the code of the subproblem's
    solver, LSMR's iteration limit (0: ``min(m, n)``) and whether 'trf'
    regularizes its LSMR system (scipy's ``tr_options['regularize']``), and for a
    sparse ``J`` its stored entries and groups of columns (``nnz = -1``: dense;
    the compiled drivers append the pattern, :func:`lsqcore._driver.sparse_tail`)."""
    return (int(method), int(jac), int(loss), int(max_nfev), int(jac_scale), int(notify),
            _method.method_entry(int(method), int(tr_solver)), int(tr_solver), int(lsmr_maxiter),
            int(bool(regularize)), int(nnz), int(ngroups))


def float_options(ftol, xtol, gtol, f_scale, lsmr=L.LSMR_DEFAULTS):
    """The float options record ``fopts`` that :func:`setup` reads, as a tuple:
    the tolerances, ``f_scale`` and LSMR's ``(atol, btol, conlim, damp)``."""
    return (float(ftol), float(xtol), float(gtol), float(f_scale)) + tuple(lsmr)


@kernel_jit
def setup(W, S, x0, f0, lb, ub, x_scale, rstep, fopts, iopts):
    """Load a problem into a laid-out workspace (see :func:`lsqcore._layout.init_layout`).

    Parameters
    ----------
    x0, f0 : ndarray
        Starting point and the residual there (already validated).
    lb, ub : ndarray
        Bounds (+-inf where absent).
    x_scale : ndarray
        Characteristic scales (ignored when ``iopts[4]`` asks for Jacobian scaling).
    rstep : ndarray
        Relative finite-difference steps.
    fopts : ndarray
        ``[ftol, xtol, gtol, f_scale, lsmr_atol, lsmr_btol, lsmr_conlim,
        lsmr_damp]`` (:func:`float_options`).
    iopts : ndarray
        ``[method, jac, loss, max_nfev, jac_scale, notify, hooks, tr_solver,
        lsmr_maxiter, regularize, nnz, ngroups]`` (:func:`int_options`).
    """
    m = S[L.M]
    n = S[L.N]
    W[L.FTOL] = fopts[0]
    W[L.XTOL] = fopts[1]
    W[L.GTOL] = fopts[2]
    W[L.FSCALE] = fopts[3]
    W[L.LSMR_ATOL] = fopts[4]
    W[L.LSMR_BTOL] = fopts[5]
    W[L.LSMR_CONLIM] = fopts[6]
    W[L.LSMR_DAMP] = fopts[7]
    S[L.METHOD] = iopts[0]
    S[L.JAC] = iopts[1]
    S[L.LOSS] = iopts[2]
    S[L.MAX_NFEV] = iopts[3]
    S[L.JAC_SCALE] = iopts[4]
    S[L.NOTIFY] = iopts[5]
    S[L.HOOKS] = iopts[6]
    S[L.TR_SOLVER] = iopts[7]
    S[L.LSMR_MAXITER] = iopts[8]
    S[L.REGULARIZE] = iopts[9]
    S[L.NFEV] = 1
    S[L.NJEV] = 0
    S[L.GRAM_NJEV] = 0
    S[L.NIT] = 0
    S[L.FIRST] = 1
    S[L.STATUS] = RUNNING
    S[L.PHASE] = PH_INIT
    S[L.REQ] = 0
    S[L.TRACE_LEN] = 0
    bounded = 0
    for i in range(n):
        if math.isfinite(lb[i]) or math.isfinite(ub[i]):
            bounded = 1
    S[L.BOUNDED] = bounded
    xv = vec(W, S, L.O_XNEW, n)
    lbv = vec(W, S, L.O_LB, n)
    ubv = vec(W, S, L.O_UB, n)
    scale = vec(W, S, L.O_SCALE, n)
    scale_inv = vec(W, S, L.O_SCALEINV, n)
    rs = vec(W, S, L.O_RSTEP, n)
    typ = vec(W, S, L.O_TYP, n)
    for i in range(n):
        xv[i] = x0[i]
        lbv[i] = lb[i]
        ubv[i] = ub[i]
        scale[i] = x_scale[i]
        scale_inv[i] = 1.0 / x_scale[i]
        rs[i] = abs(rstep[i])
        # typical size: finite-difference steps never shrink below rstep * typ;
        # a step the user gave (negative, see _validate.check_diff_step) is
        # relative to |x| alone, as scipy takes it (typ = 0)
        if rstep[i] < 0.0:
            typ[i] = 0.0
        else:
            typ[i] = min(1.0, abs(x0[i])) if x0[i] != 0.0 else 1.0
    fv = vec(W, S, L.O_FNEW, m)
    for i in range(m):
        fv[i] = f0[i]


#: the phase functions of `advance` are compiled into it (Numba inlines them):
#: the kernel's code is the one flat loop it was before they were split out
_phase = njit(error_model="numpy", inline="always")


@kernel_jit
def _request(S, req, phase):
    S[L.REQ] = req
    S[L.PHASE] = phase
    return req


#: a tolerance stop is stationary when no free parameter's Jacobian column makes an
#: angle with the residual vector whose cosine exceeds this (or sqrt of the looser
#: of ftol/xtol); measured on MGH and NIST from 1x/10x/100x starts, true minima
#: stop below 4.4e-4, stalled stops above 5e-2
TAU_STATIONARY = 1e-2
#: residuals within this many units of their own rounding, eps || |J| |x| ||, are
#: a zero-residual solution, where the angle is that of rounding noise (MGH/NIST:
#: zero-residual stops at 3e-7..3e2 of the floor, all others above 4e9)
ROUNDING_FLOOR = 1e4


@hook_jit
def zero_columns(W, S):
    """Number of exactly-zero columns of ``J`` (dense or compressed-column)."""
    if S[L.SPARSE]:
        return sparse_op(W, S, ZERO_COLUMNS, 0, 0)
    return _zero_columns(mat(W, S, L.O_J, S[L.M], S[L.N]))


@hook_jit
def _nonfinite_count(v):
    if _all_finite(v):
        return 0
    k = 0
    for p in range(v.shape[0]):
        if not math.isfinite(v[p]):
            k += 1
    return k


@hook_jit
def _column_is_zero(J, j):
    """Whether column ``j`` of a dense ``J`` is exactly zero."""
    for i in range(J.shape[0]):
        if J[i, j] != 0.0:
            return False
    return True


@kernel_jit
def _zero_columns(J):
    """Number of exactly-zero columns of ``J``."""
    k = 0
    for j in range(J.shape[1]):
        if _column_is_zero(J, j):
            k += 1
    return k


@hook_jit
def _rounding_floor2(W, S):
    """``|| |J| |x| ||^2``, the size of ``J x``'s rounding (:func:`_vet_tolerance_stop`)."""
    m = S[L.M]
    n = S[L.N]
    x = vec(W, S, L.O_X, n)
    floor = 0.0
    if S[L.SPARSE]:
        sparse_op(W, S, ABS_TIMES, 0, 0)
        t = vec(W, S, L.O_FNEW, m)
        for i in range(m):
            floor += t[i] * t[i]
        return floor
    J = mat(W, S, L.O_J, m, n)
    for i in range(m):
        t = 0.0
        for j in range(n):
            t += abs(J[i, j]) * abs(x[j])
        floor += t * t
    return floor


@kernel_jit
def _vet_tolerance_stop(W, S):
    r"""Turn an ``ftol``/``xtol`` stop at a point that is not a fitted minimum into a failure.

    The tolerance tests stop a solve because progress stalled, not because
    the point is optimal, and a trust region can stall far from a minimum
    (a crawl in a curved valley, parameters diverging towards a plateau).
    At the final point ``x`` (its Jacobian ``J``, loss-scaled residuals
    ``f`` and gradient ``g = J^T f`` are current there) the stop stands
    only if ``x`` is first-order stationary in a scale-free sense:

    0. residuals at their rounding floor, ``||f|| <= ROUNDING_FLOOR eps
       || |J| |x| ||``, are a zero-residual solution: the stop stands (``f``
       is rounding noise there, and so is its angle with ``J``); so is a
       robust loss's cost at its own floor, ``F <= m eps f_scale^2``: the
       loss is evaluated as ``rho(z)`` with an absolute error of a few
       ``eps`` per residual (``2 (sqrt(1 + z) - 1)`` is 0 for ``z < eps``),
       so no decrease below it can be seen, and the tolerance tests stop
       there, residuals ~``sqrt(eps)`` from zero;
    1. no parameter lost its influence: ``J`` has no more exactly-zero
       columns than the first Jacobian (a column that moved the residuals at
       ``x0`` and no longer does, e.g. ``b exp(-x c)`` underflowing as ``c``
       diverged, hides any gradient along it; a parameter that never mattered
       is left alone);
    2. the relative gradient ``max_j |g_j| / (||J_j|| ||f||)``, the largest
       cosine between ``f`` and a column of ``J`` (More 1978, the ``gtol``
       measure of MINPACK), is at most ``max(TAU_STATIONARY,
       sqrt(max(ftol, xtol)))``.  The cosine is invariant to the scaling of
       parameters and residuals; the linear model promises a relative cost
       decrease of at least its square, so a stop with a large cosine left a
       decrease well above ``ftol`` on the table.  Components whose descent
       direction ``-g_j`` points at a finite bound are exempt (a minimum on
       the bound).

    A failed test sets status ``NONSTATIONARY`` (-6); ``REL_GRAD`` keeps the
    cosine (inf when a parameter lost its influence).
    """
    st = S[L.STATUS]
    if st != FTOL and st != XTOL and st != FTOL_XTOL:
        return
    m = S[L.M]
    n = S[L.N]
    f = vec(W, S, L.O_FS, m)
    g = vec(W, S, L.O_G, n)
    lb = vec(W, S, L.O_LB, n)
    ub = vec(W, S, L.O_UB, n)
    f_norm = 0.0
    for i in range(m):
        f_norm += f[i] * f[i]
    f_norm = math.sqrt(f_norm)
    if f_norm <= ROUNDING_FLOOR * EPS * math.sqrt(_rounding_floor2(W, S)):
        return
    if S[L.LOSS] != LINEAR and W[L.COST] <= m * EPS * W[L.FSCALE] * W[L.FSCALE]:
        return
    lost = zero_columns(W, S)
    if lost > S[L.ZERO_COLS]:
        W[L.REL_GRAD] = math.inf
        record(W, S, True, NONSTATIONARY_LOST, lost, S[L.ZERO_COLS])
        S[L.STATUS] = NONSTATIONARY
        return
    norms = jac_column_norms(W, S)
    worst = 0.0
    for j in range(n):
        if (g[j] > 0.0 and math.isfinite(lb[j])) or (g[j] < 0.0 and math.isfinite(ub[j])):
            continue
        if norms[j] > 0.0:
            worst = max(worst, abs(g[j]) / (norms[j] * f_norm))
    W[L.REL_GRAD] = worst
    tau = max(TAU_STATIONARY, math.sqrt(max(W[L.FTOL], W[L.XTOL])))
    if worst > tau:
        record(W, S, True, NONSTATIONARY_ANGLE, worst, tau)
        S[L.STATUS] = NONSTATIONARY


@kernel_jit
def _honest(W, S):
    """No success that the final point does not earn.

    A tolerance stop is vetted by :func:`_vet_tolerance_stop`.  Then:
    accepted steps always have a finite cost, so an infinite cost means
    ``0.5 ||f(x0)||^2`` overflowed although ``f(x0)`` is finite.  Every
    gradient measure is then inf/inf or x/inf, and a test could read it as
    0 ('lm' claimed gtol, then xtol, at x0 with cost inf): report
    ``IMPROPER_INPUT`` (-1) instead of a success.
    """
    _vet_tolerance_stop(W, S)
    if S[L.STATUS] > 0 and not math.isfinite(W[L.COST]):
        record_only(W, S, COST_INF, W[L.COST], math.inf)
        S[L.STATUS] = IMPROPER_INPUT


@kernel_jit
def _done(S):
    S[L.PHASE] = PH_DONE
    S[L.REQ] = L.REQ_DONE
    return L.REQ_DONE


@kernel_jit
def _cost_of_new(W, S):
    """Cost at ``f_new`` for a built-in loss; returns False if a request is needed."""
    m = S[L.M]
    f_new = vec(W, S, L.O_FNEW, m)
    loss = S[L.LOSS]
    if loss == LINEAR:
        W[L.COST_NEW] = linear_cost(f_new)
        return True
    if loss == CALLABLE:
        callable_loss_input(f_new, W[L.FSCALE], vec(W, S, L.O_Z, m))
        return False
    W[L.COST_NEW] = evaluate_rho(loss, f_new, W[L.FSCALE], mat(W, S, L.O_RHONEW, 3, m))
    return True


@kernel_jit
def _accept(W, S):
    """Make the trial point the current point."""
    m = S[L.M]
    n = S[L.N]
    x = vec(W, S, L.O_X, n)
    x_new = vec(W, S, L.O_XNEW, n)
    f = vec(W, S, L.O_F, m)
    f_new = vec(W, S, L.O_FNEW, m)
    for i in range(n):
        x[i] = x_new[i]
    for i in range(m):
        f[i] = f_new[i]
    if S[L.LOSS] != LINEAR:
        o = S[L.O_RHO]
        on = S[L.O_RHONEW]
        for i in range(3 * m):
            W[o + i] = W[on + i]
    W[L.COST] = W[L.COST_NEW]


@kernel_jit
def _all_finite(a):
    """Whether every entry is finite: an and-reduction of ``|a_i| < inf``
    (false for inf and NaN) with no branch per entry, which the compiler
    vectorises (an early exit would not be)."""
    ok = True
    for i in range(a.shape[0]):
        ok &= abs(a[i]) < math.inf
    return ok


@kernel_jit
def _all_zero(a):
    for i in range(a.shape[0]):
        if a[i] != 0.0:
            return False
    return True


@kernel_jit
def _record(W, S, outcome):
    """Append one trace record: the trial, its evaluation and the verdict."""
    k = S[L.TRACE_LEN]
    if k >= S[L.TRACE_CAP]:
        return
    n = S[L.N]
    width = L.TRACE_FIELDS + n
    o = S[L.O_TRACE] + k * width
    W[o + 0] = S[L.NIT]
    W[o + 1] = S[L.NFEV]
    W[o + 2] = W[L.COST]
    W[o + 3] = W[L.COST_NEW] if outcome != INVALID else math.nan
    W[o + 4] = W[L.ACTRED]
    W[o + 5] = W[L.PRERED]
    W[o + 6] = W[L.RATIO]
    W[o + 7] = W[L.STEP_NORM]
    W[o + 8] = W[L.G_NORM]
    W[o + 9] = W[L.DELTA] if S[L.METHOD] != L.GN else W[L.LS_T]
    W[o + 10] = W[L.ALPHA]
    W[o + 11] = outcome
    x_new = vec(W, S, L.O_XNEW, n)
    for i in range(n):
        W[o + L.TRACE_FIELDS + i] = x_new[i]
    S[L.TRACE_LEN] = k + 1


@hook_jit
def _widen_null_steps(W, S):
    """:func:`_widen_dense` or its compressed-column twin."""
    if S[L.SPARSE]:
        return sparse_op(W, S, WIDEN, 0, 0) != 0
    return _widen_dense(mat(W, S, L.O_J, S[L.M], S[L.N]), vec(W, S, L.O_TYP, S[L.N]))


@kernel_jit
def _widen_dense(J, typ):
    """A finite-difference column that is exactly zero usually means the step
    was below the resolution of ``f`` (a parameter far smaller than its
    natural scale, e.g. started at 1e-20).  Give such parameters the typical
    size 1 (``h = rstep * max(|x|, 1)``) and ask for the differences again;
    returns False when there is nothing to widen, so each parameter is
    widened at most once."""
    widened = False
    for j in range(J.shape[1]):
        if typ[j] < 1.0 and _column_is_zero(J, j):
            typ[j] = 1.0
            widened = True
    return widened


@_phase
def _stop(W, S, status):
    """End the solve with ``status`` (vetted by :func:`_honest` when it claims success)."""
    S[L.STATUS] = status
    _honest(W, S)
    return _done(S)


@_phase
def _jacobian(W, S):
    """Phases ``PH_JAC``, ``PH_FD1``, ``PH_FD2``: ask for ``J`` at ``x`` (analytic,
    complex step, or the one or two blocks of finite differences) and
    assemble it.  Returns the request, or 0 when ``J`` is complete."""
    m = S[L.M]
    n = S[L.N]
    ph = S[L.PHASE]
    jk = S[L.JAC]
    x = vec(W, S, L.O_X, n)
    h = vec(W, S, L.O_H, n)
    scheme = vec(W, S, L.O_FDC, n)
    if ph == PH_JAC:
        if jk == L.JAC_CALLABLE:
            return _request(S, L.REQ_J, PH_JAC_DONE)
        if jk == L.JAC_CS:
            cs_steps(x, vec(W, S, L.O_RSTEP, n), h)
            return _request(S, L.REQ_JCS, PH_JAC_DONE)
        fd_steps(x, vec(W, S, L.O_LB, n), vec(W, S, L.O_UB, n),
                 vec(W, S, L.O_RSTEP, n), vec(W, S, L.O_TYP, n),
                 jk == L.JAC_3POINT, h, scheme)
        return _fd_request(W, S, 1)
    three = jk == L.JAC_3POINT
    which = 1 if ph == PH_FD1 else 2
    if S[L.SPARSE]:
        sparse_op(W, S, ASSEMBLE, 1 if three else 0, which)
    else:
        fd_assemble(vec(W, S, L.O_F, m), mat(W, S, L.O_B, n, m), h, scheme, three, which,
                    mat(W, S, L.O_J, m, n))
    if three and which == 1:
        return _fd_request(W, S, 2)
    S[L.PHASE] = PH_JAC_DONE
    return 0


@_phase
def _fd_request(W, S, stage):
    """Ask for the ``stage``-th (1 or 2) difference points: one per column, or one
    per group of columns when ``J`` is sparse (:mod:`lsqcore._groups`)."""
    n = S[L.N]
    x = vec(W, S, L.O_X, n)
    h = vec(W, S, L.O_H, n)
    scheme = vec(W, S, L.O_FDC, n)
    if S[L.SPARSE]:
        sparse_op(W, S, POINTS, stage, 0)
    else:
        fd_points(x, h, scheme, stage, mat(W, S, L.O_XQ, n, n))
    S[L.REQ_K] = S[L.NGROUPS]
    return _request(S, L.REQ_FD, PH_FD1 if stage == 1 else PH_FD2)


@_phase
def _jacobian_done(W, S):
    """Phase ``PH_JAC_DONE``: vet ``J``, scale it for the loss and form ``g = J^T f_s``
    (with ``J^T J`` when ``J`` is dense).
    Returns a request (or ``REQ_DONE``), or 0 to go on."""
    m = S[L.M]
    n = S[L.N]
    if S[L.JAC] == L.JAC_2POINT or S[L.JAC] == L.JAC_3POINT:
        if _widen_null_steps(W, S):
            S[L.PHASE] = PH_JAC      # redo the differences with wider steps
            return 0
    S[L.NJEV] += 1
    if S[L.NJEV] == 1:
        S[L.ZERO_COLS] = zero_columns(W, S)
    bad = _nonfinite_count(vec(W, S, L.O_J, S[L.NNZ]))
    if bad:
        record_only(W, S, J_NONFINITE, bad, S[L.NIT])
        S[L.STATUS] = NONFINITE_JAC
        return _done(S)
    f = vec(W, S, L.O_F, m)
    f_s = vec(W, S, L.O_FS, m)
    g = vec(W, S, L.O_G, n)
    if S[L.SPARSE]:
        sparse_op(W, S, GRADIENT, 0, 0)
    else:
        J = mat(W, S, L.O_J, m, n)
        if S[L.LOSS] != LINEAR:
            if S[L.METHOD] == L.GN:
                scale_irls(J, f, mat(W, S, L.O_RHO, 3, m), f_s)
            else:
                scale_for_loss(J, f, mat(W, S, L.O_RHO, 3, m), f_s)
        if gram_possible(m, n):
            # g = J^T f_s with the Gram matrix J^T J (lsqcore._gram: the column
            # norms and, when J is well conditioned, R come from it), on J's
            # columns copied to B (free until the factorisation)
            Bt = mat(W, S, L.O_B, n, m)
            for j in range(n):
                for i in range(m):
                    Bt[j, i] = J[i, j]
            gram(Bt, f_s, mat(W, S, L.O_GRAM, n, n), g)
            S[L.GRAM_NJEV] = S[L.NJEV]
        else:
            for j in range(n):      # g = J^T f_s, each sum in registers
                g[j] = dot_range(J[:, j], f_s, 0, m)
    if S[L.NOTIFY]:
        return _request(S, L.REQ_ITER, PH_CHECK)
    S[L.PHASE] = PH_CHECK
    return 0


@_phase
def _out_of_evaluations(W, S):
    """The evaluation budget is spent: status ``MAX_NFEV`` (recorded)."""
    if S[L.NFEV] < S[L.MAX_NFEV]:
        return False
    record_only(W, S, NFEV, S[L.NFEV], S[L.MAX_NFEV])
    S[L.STATUS] = MAX_NFEV
    return True


@_phase
def _check(W, S):
    """Phase ``PH_CHECK`` at a new ``x``: the ``gtol`` test (and the end of a solve
    a trial's ``ftol``/``xtol`` test already decided), the budget, then the
    method's factorisation.  Returns ``REQ_DONE`` or 0 to go on."""
    gt = _method.gtol_test(W, S)
    if S[L.STATUS] != RUNNING:
        # the trial that led here met ftol/xtol; 'trf' and 'gn' report gtol
        # instead when it holds as well (scipy's order), 'lm' keeps MINPACK's
        if gt and S[L.METHOD] != L.LM:
            record_gtol(W, S)
            S[L.STATUS] = GTOL
        return _stop(W, S, S[L.STATUS])
    if gt:
        if W[L.COST] > 0.0 and _all_zero(vec(W, S, L.O_J, S[L.NNZ])) and not S[L.SPARSE]:
            # (a sparse J is not probed: the probes are a dense block of differences)
            return _probe_flat(W, S)
        record_gtol(W, S)
        return _stop(W, S, GTOL)
    if _out_of_evaluations(W, S):
        return _done(S)
    _method.factorize(W, S)
    if S[L.STATUS] != RUNNING:
        return _stop(W, S, S[L.STATUS])
    S[L.PHASE] = PH_STEP
    return 0


@_phase
def _probe_steps(W, S, stage):
    """Row ``j`` of ``XQ``: ``x + s_j e_j``, the ``stage``-th (1 or 2) probe of
    column ``j`` (:func:`_probe_flat`), and ``s_j`` into ``H``."""
    n = S[L.N]
    x = vec(W, S, L.O_X, n)
    lb = vec(W, S, L.O_LB, n)
    ub = vec(W, S, L.O_UB, n)
    s = vec(W, S, L.O_H, n)
    XQ = mat(W, S, L.O_XQ, n, n)
    for j in range(n):
        for k in range(n):
            XQ[j, k] = x[k]
        d = PROBE_STEP * max(1.0, abs(x[j]))
        up = x[j] + 2.0 * d <= ub[j]
        down = x[j] - 2.0 * d >= lb[j]
        if up and down:
            s[j] = d if stage == 1 else -d            # central: x + d, x - d
        elif up:
            s[j] = d if stage == 1 else 2.0 * d       # one-sided: x + d, x + 2d
        elif down:
            s[j] = -d if stage == 1 else -2.0 * d
        else:                                         # a box narrower than 4d
            w = 0.25 * (ub[j] - lb[j])
            s[j] = (ub[j] - x[j]) * (0.5 if stage == 1 else 1.0) if ub[j] - x[j] >= w \
                else (lb[j] - x[j]) * (0.5 if stage == 1 else 1.0)
        XQ[j, j] = x[j] + s[j]
        s[j] = XQ[j, j] - x[j]
    S[L.REQ_K] = n
    return _request(S, L.REQ_FD, PH_PROBE1 if stage == 1 else PH_PROBE2)


@_phase
def _probe_flat(W, S):
    """``J = 0`` at a positive cost passed the gtol test.  Three things look
    alike there: a flat region (``f`` constant: status ``FLAT``), a curved
    minimum where ``f`` changes only at second order (``(x - a)^2 + c`` at
    ``a``: a true gtol stop, scipy's verdict), and differences too small for
    the precision of ``f`` (a float32 model: not stationary at all).  ``f`` is
    asked for at two probes per column, ``x + s e_j`` with ``|s|`` about
    ``PROBE_STEP max(1, |x_j|)`` (central, or two one-sided steps near a
    bound); :func:`_probe_verdict` fits ``f(x + s e_j) - f(x) = a s + b s^2``.
    The probes are not counted in ``nfev`` (like Jacobian evaluations).
    Returns the first request."""
    return _probe_steps(W, S, 1)


@_phase
def _probe_verdict(W, S):
    """Phases ``PH_PROBE1`` (keep the first probe's changes in ``J``, which is
    zero, and ask for the second) and ``PH_PROBE2`` (the verdict: ``FLAT``
    when nothing changed; ``NONSTATIONARY`` when a change is first order,
    ``|a s| > |b s^2|``, or a probe point costs less (linear loss); else
    ``GTOL``).  ``J`` is zero again at the end.  Returns a request or
    ``REQ_DONE``."""
    m = S[L.M]
    n = S[L.N]
    f = vec(W, S, L.O_F, m)
    F = mat(W, S, L.O_B, n, m)
    J = mat(W, S, L.O_J, m, n)
    h = vec(W, S, L.O_H, n)
    s1 = vec(W, S, L.O_W1, n)
    if S[L.PHASE] == PH_PROBE1:
        for j in range(n):
            s1[j] = h[j]
            for i in range(m):
                J[i, j] = F[j, i] - f[i]
        return _probe_steps(W, S, 2)
    changed = False
    worst_a = 0.0
    worst_b = 0.0
    c_min = W[L.COST]
    for j in range(n):
        c2 = 0.0
        c1 = 0.0
        for i in range(m):
            d1 = J[i, j]
            d2 = F[j, i] - f[i]
            # each probe's cost (inf where f is not finite there: no descent)
            c1 += (f[i] + d1) * (f[i] + d1) if math.isfinite(d1) else math.inf
            c2 += (f[i] + d2) * (f[i] + d2) if math.isfinite(d2) else math.inf
            if (math.isfinite(d1) and d1 != 0.0) or (math.isfinite(d2) and d2 != 0.0):
                changed = True
            if not (math.isfinite(d1) and math.isfinite(d2)):
                continue                      # nothing to fit for this residual
            b = (d2 / h[j] - d1 / s1[j]) / (h[j] - s1[j])
            a = d1 / s1[j] - b * s1[j]
            if abs(a * s1[j]) > abs(b * s1[j] * s1[j]) and abs(a * s1[j]) > worst_a:
                worst_a = abs(a * s1[j])
                worst_b = abs(b * s1[j] * s1[j])
        if S[L.LOSS] == LINEAR:
            c_min = min(c_min, 0.5 * c1, 0.5 * c2)
        for i in range(m):
            J[i, j] = 0.0
    if not changed:
        record_only(W, S, G_FLAT, W[L.COST], 0.0)
        return _stop(W, S, FLAT)
    if worst_a > 0.0:
        record_only(W, S, PROBE_FIRST_ORDER, worst_a, worst_b)
        return _stop(W, S, NONSTATIONARY)
    if c_min < W[L.COST]:
        record_only(W, S, PROBE_DESCENT, c_min, W[L.COST])
        return _stop(W, S, NONSTATIONARY)
    record_gtol(W, S)
    return _stop(W, S, GTOL)


@_phase
def _evaluate(W, S):
    """Phase ``PH_EVAL``: the method assesses the trial (accept or reject, new
    radius) and runs its ``ftol``/``xtol`` tests.  Returns ``REQ_DONE`` or 0."""
    valid = math.isfinite(W[L.COST_NEW])
    accepted = _method.assess_trial(W, S, valid)
    status = _method.converged(W, S, accepted, valid)
    if status != RUNNING:
        S[L.STATUS] = status
    if S[L.TRACE_CAP] > 0:
        _record(W, S, ACCEPTED if accepted else (REJECTED if valid else INVALID))
    if accepted:
        _accept(W, S)
        S[L.NIT] += 1
        S[L.PHASE] = PH_JAC
    elif S[L.STATUS] != RUNNING:
        return _stop(W, S, S[L.STATUS])
    else:
        S[L.PHASE] = PH_STEP
    return 0


@_phase
def _trial_cost(W, S):
    """Phase ``PH_TRIAL``: count the evaluation and take the cost of ``f(x_new)``
    (inf when not finite: an invalid trial).  Returns a loss request or 0."""
    S[L.NFEV] += 1
    if _all_finite(vec(W, S, L.O_FNEW, S[L.M])):
        if not _cost_of_new(W, S):
            return _request(S, L.REQ_LOSS, PH_TRIAL_RHO)
    else:
        W[L.COST_NEW] = math.inf
    S[L.PHASE] = PH_EVAL
    return 0


@kernel_jit
def advance(W, S):
    """Run until the next request; return its code (``REQ_*`` in :mod:`lsqcore._layout`).

    The loop of the minimizer: each phase is a function that returns a
    request for the driver, or 0 to go on to the phase it set.
    """
    m = S[L.M]
    while True:
        ph = S[L.PHASE]
        req = 0
        if ph == PH_INIT:
            if not _cost_of_new(W, S):
                return _request(S, L.REQ_LOSS, PH_INIT_RHO)
            _accept(W, S)
            S[L.PHASE] = PH_JAC
        elif ph == PH_INIT_RHO:
            W[L.COST_NEW] = finish_callable_loss(mat(W, S, L.O_RHONEW, 3, m), W[L.FSCALE])
            _accept(W, S)
            S[L.PHASE] = PH_JAC
        elif ph == PH_JAC or ph == PH_FD1 or ph == PH_FD2:
            req = _jacobian(W, S)
        elif ph == PH_JAC_DONE:
            req = _jacobian_done(W, S)
        elif ph == PH_CHECK:
            req = _check(W, S)
        elif ph == PH_STEP:
            if _out_of_evaluations(W, S):
                return _done(S)
            _method.compute_step(W, S)
            S[L.FIRST] = 0
            return _request(S, L.REQ_F, PH_TRIAL)
        elif ph == PH_TRIAL:
            req = _trial_cost(W, S)
        elif ph == PH_TRIAL_RHO:
            W[L.COST_NEW] = finish_callable_loss(mat(W, S, L.O_RHONEW, 3, m), W[L.FSCALE])
            S[L.PHASE] = PH_EVAL
        elif ph == PH_EVAL:
            req = _evaluate(W, S)
        elif ph == PH_PROBE1 or ph == PH_PROBE2:
            req = _probe_verdict(W, S)
        else:
            return _done(S)
        if req:
            return req


# ---- the kernel behind C addresses -------------------------------------------
# A compiled driver that calls `advance` directly links the kernel's code into
# its own module, and Numba then re-optimises the whole kernel for every new
# user model (~20 s).  Calling it through the address of a cached C callback
# (lsqcore._cabi.ccall) keeps the kernel out of the driver's module: a new
# model compiles in a fraction of a second.  The addresses are in KERNEL; a
# driver that receives them as an argument can itself be cached on disk.
# The signatures follow ccall's convention (an array is its data pointer and
# its shape).

_P_F64 = types.CPointer(types.float64)
_P_I64 = types.CPointer(types.int64)
_i64 = types.int64

_ADVANCE_SIG = _i64(_P_F64, _i64, _P_I64, _i64)


# The C entries inline their function's body (a twin with ``inline='always'``)
# rather than calling the cached dispatcher: compiling the dispatcher on its
# own and then linking it into the C entry optimised and generated the whole
# kernel twice, ~1 s more of the first import after installation.  The
# dispatchers themselves are compiled only for the drivers that call them
# (the plain-Python loop, the GPU kernel).
_advance_inline = njit(error_model="numpy", inline="always")(advance.py_func)
_setup_inline = njit(error_model="numpy", inline="always")(setup.py_func)


_SETUP_SIG = _i64(_P_F64, _i64, _P_I64, _i64, _P_F64, _i64, _P_F64, _i64, _P_F64, _i64,
                  _P_F64, _i64, _P_F64, _i64, _P_F64, _i64, _P_F64, _i64, _P_I64, _i64, _i64)
_SIZE_SIG = _i64(_i64, _i64, _i64, _i64, _i64, _i64, _i64)


def _advance_entry(wp, wn, sp, sn):
    return _advance_inline(carray(wp, (wn,)), carray(sp, (sn,)))


def _setup_entry(wp, wn, sp, sn, x0, n, f0, m, lb, n1, ub, n2, xs, n3, rs, n4, fo, n5, io, n6,
                 trace_cap):
    W = carray(wp, (wn,))
    S = carray(sp, (sn,))
    iopts = carray(io, (n6,))
    L.init_layout(S, m, n, iopts[2] != LINEAR, iopts[2] == CALLABLE, iopts[7],
                  trace_cap, iopts[10], iopts[11])
    _setup_inline(W, S, carray(x0, (n,)), carray(f0, (m,)), carray(lb, (n,)),
                  carray(ub, (n,)), carray(xs, (n,)), carray(rs, (n,)), carray(fo, (n5,)),
                  iopts)
    return 0


def _size_entry(m, n, loss, tr_solver, trace_cap, nnz, ngroups):
    return L.workspace_shape(m, n, loss != LINEAR, loss == CALLABLE, tr_solver,
                             trace_cap, nnz, ngroups)[0]


# compiled at import: the first import after installation compiles the kernel
# (~10 s; each method's hooks are compiled on the method's first use,
# lsqcore._method), and a compile still running after 2 s is announced (lsqcore._log)
# (lsqcore._warm: while it compiles, a helper process compiles the method entries)
_warm.start(_advance_entry)
if _warm.in_helper():
    # the helper process compiles method entries only, and never solves
    KERNEL = np.zeros(3, dtype=np.int64)
else:
    with first_use("kernel", KERNEL_MESSAGE):
        _advance_c = cfunc(_ADVANCE_SIG, cache=True, error_model="numpy")(_advance_entry)
        _setup_c = cfunc(_SETUP_SIG, cache=True, error_model="numpy")(_setup_entry)
        _size_c = cfunc(_SIZE_SIG, cache=True, error_model="numpy")(_size_entry)
    #: C addresses of ``advance``, ``setup`` and ``workspace_shape`` (see above).
    KERNEL = np.array([_advance_c.address, _setup_c.address, _size_c.address],
                      dtype=np.int64)
KERNEL.flags.writeable = False
