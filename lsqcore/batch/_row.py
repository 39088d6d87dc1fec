"""One batch row, on a CPU thread or a GPU thread: the same compiled function.

A batch row is an ordinary single problem (:func:`lsqcore._row.solve_row`)
with a batch's bookkeeping around it:

* **begin** -- copy the row's ``x0`` into the thread's buffer, move it
  strictly inside the bounds for 'trf' (as :func:`lsqcore.least_squares`
  does), and mark rows that cannot run (a non-finite start, no points left
  after ``nan_policy='omit'``, fewer points than parameters for 'lm');
* **f(x0)** -- evaluate the residual at the start and check its length
  and finiteness;
* **solve** -- the single problem's compiled row in the thread's zeroed
  workspace;
* **finish** -- copy the :class:`lsqcore._row.Row` into the row's slot of
  the output arrays, with the covariance when asked (:mod:`.._pcov`); the
  status is written last, so a row is "done" once its status is set.

``begin_row``, ``finish_row`` and ``raised_row`` know no user function:
they are compiled once and cached on disk, so that a model's own driver
(the per-model fallback of the CPU batch, the GPU kernel) compiles only
the row's request loop.  A row that cannot run or fails writes only its own slots.  The CPU drivers
(:mod:`lsqcore.batch.cpu`: the ``prange`` body of both) and the GPU kernel
(:mod:`lsqcore.batch.cuda`, where numba-cuda compiles this Python source as
device functions) all call :func:`batch_row`; what differs is passed in
(see :mod:`lsqcore._row`): how the kernel is reached (``kern``), the
calling conventions and ``rows(args, k, tid, mk)``, the selector of row
``k``'s arguments.

The per-thread arrays travel as one tuple ``ws = (W, S, xb, f0, cl, A, V,
pc)``: the workspace pair, the start ``x0`` (n), ``f(x0)`` (m), scratch
(5 n: the covariance's column norms and small work), and the covariance's
``J`` copy (m n), right singular vectors (n, n) and result (n, n); the last
three may be empty when no covariance is asked for.
"""
import math

from numba import njit

from .._jit import kernel_jit

from .. import _layout as L
from .._bounds import make_strictly_feasible
from .._kernel import _all_finite
from .._row import solve_row, fd_serial, read_gram, ERR_F_SHAPE
from .._driver import ERR_RAISED, ERR_JAC_RAISED
from ._pcov import covariance
from ._result import NONFINITE_START, TOO_FEW_POINTS, BAD_SHAPE, USER_RAISED


@njit(error_model="numpy", inline="always")
def pick(A, k):
    """Row ``k`` of ``A``, or its only row when it has one (shared by all rows)."""
    return A[k if A.shape[0] != 1 else 0]


@kernel_jit
def begin_row(k, xb, data, iopts, m, outs):
    """Copy row ``k``'s start into ``xb``; returns ``m_k``, or -1 (with the
    row's status set) when the row cannot run."""
    X0, LB, UB, mrow = data
    out_x, out_status, out_nfev, out_njev, out_nit = outs[0], outs[2], outs[3], outs[4], outs[5]
    n = X0.shape[1]
    x0 = pick(X0, k)
    mk = m if mrow.shape[0] == 0 else mrow[k]
    for j in range(n):
        xb[j] = x0[j]
        out_x[k, j] = x0[j]
    out_nfev[k] = 0
    out_njev[k] = 0
    out_nit[k] = 0
    if not _all_finite(xb):
        out_status[k] = NONFINITE_START
        return -1
    if mk == 0 or (iopts[0] == L.LM and mk < n):
        out_status[k] = TOO_FEW_POINTS
        return -1
    if iopts[0] == L.TRF:
        make_strictly_feasible(xb, pick(LB, k), pick(UB, k), 1e-10)
    return mk


@kernel_jit
def raised_row(k, at_start, W, S, xb, outs):
    """Row ``k``'s residual or Jacobian raised (C-wrapper path): the point it
    raised at (the start, or the kernel's ``x_new``) goes to ``x`` so that
    the front end can re-raise the user's exception there."""
    out_x, out_status, out_nfev, out_njev, out_nit = outs[0], outs[2], outs[3], outs[4], outs[5]
    n = xb.shape[0]
    if at_start:
        out_nfev[k] = 1
        for j in range(n):
            out_x[k, j] = xb[j]
    else:
        out_nfev[k] = S[L.NFEV]
        out_njev[k] = S[L.NJEV]
        out_nit[k] = S[L.NIT]
        o = S[L.O_XNEW]
        for j in range(n):
            out_x[k, j] = W[o + j]
    out_status[k] = USER_RAISED


@kernel_jit
def finish_row(k, err, r, ws, iopts, flags, outs):
    """Copy the solved row ``r`` (:class:`lsqcore._row.Row`) out: counters, x,
    cost, optimality, the covariance when asked; the status last."""
    cl, A, V, pc = ws[4], ws[5], ws[6], ws[7]
    cov, absolute = flags[2], flags[3]
    out_x, out_cost, out_status, out_nfev, out_njev, out_nit, out_opt, out_pcov, out_se = outs
    n = r.x.shape[0]
    mk = r.m
    out_nfev[k] = r.nfev
    out_njev[k] = r.njev
    out_nit[k] = r.nit
    if err != 0:
        out_status[k] = BAD_SHAPE
        return
    for j in range(n):
        out_x[k, j] = r.x[j]
    out_cost[k] = r.cost
    out_opt[k] = r.optimality
    if cov:
        covariance(r.jac, r.cost, mk, n, absolute, iopts[1], A[:mk * n].reshape((mk, n)), V,
                   cl[:n], pc, cl[2 * n:5 * n], read_gram(ws[0], ws[1]))
        if out_pcov.shape[0] > 0:
            for a in range(n):
                for b in range(n):
                    out_pcov[k, a, b] = pc[a, b]
        if out_se.shape[0] > 0:
            for a in range(n):
                out_se[k, a] = math.sqrt(pc[a, a])
    out_status[k] = r.status


@njit(error_model="numpy", inline="always")
def batch_row(k, tid, kern, start, step, call, jcall, jac_cs, fun, jac, loss, rows, args, data,
              ws, opts, m, flags, outs):
    """Solve row ``k`` of a batch in thread ``tid``'s arrays ``ws``.

    A CPU driver calls it from a small compiled function of its own, which
    its ``prange`` body calls: inlined into a ``prange`` body, the row's
    views of the workspace trip an assertion of Numba's parallel array
    analysis, and a call that passes the conventions as function values
    from a cached driver would store their addresses as dynamic globals
    (no disk cache).

    ``data = (X0, LB, UB, mrow)``, ``opts = (fopts, iopts, x_scale, rstep)``,
    ``flags = (robust, callable_loss, cov, absolute)`` and ``outs`` the
    output arrays ``(x, cost, status, nfev, njev, nit, optimality, pcov,
    stderr)`` of the whole batch.
    """
    W, S, xb, f0 = ws[0], ws[1], ws[2], ws[3]
    fopts, iopts, x_scale, rstep = opts
    out_status, out_nfev = outs[2], outs[3]
    mk = begin_row(k, xb, data, iopts, m, outs)
    if mk < 0:
        return
    ra = rows(args, k, tid, mk)
    f = f0[:mk]
    err = call(fun, xb, f, ra)
    if err == ERR_RAISED:
        raised_row(k, True, W, S, xb, outs)
        return
    out_nfev[k] = 1
    if err == ERR_F_SHAPE:
        out_status[k] = BAD_SHAPE
        return
    if not _all_finite(f):
        out_status[k] = NONFINITE_START
        return
    for i in range(W.shape[0]):
        W[i] = 0.0
    r, err = solve_row(kern, start, step, call, jcall, jac_cs, fd_serial, fun, jac, loss, W, S,
                       xb, f, pick(data[1], k), pick(data[2], k), x_scale, rstep, fopts, iopts,
                       0, ra)
    if err == ERR_RAISED or err == ERR_JAC_RAISED:
        raised_row(k, False, W, S, xb, outs)
    else:
        finish_row(k, err, r, ws, iopts, flags, outs)
