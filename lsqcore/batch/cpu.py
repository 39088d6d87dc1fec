"""The multi-core batch driver: many independent problems on one kernel.

Every row of a batch is an ordinary single problem solved by the same
cached ask/tell kernel (:mod:`lsqcore._kernel`) and the same compiled
request loop (:func:`lsqcore._driver.run_compiled_with`, the loop of
:func:`lsqcore._driver.request_loop`) as :func:`lsqcore.least_squares`;
this module only adds the outer loops:

* rows are distributed over threads by ``numba.prange`` with dynamic
  scheduling (``numba.parallel_chunksize``), so a slow row (a fit running to
  ``max_nfev``) does not hold its neighbours' thread;
* each thread owns one workspace pair ``(W, S)`` and a few scratch vectors,
  allocated once per batch call (``threads x`` the single-problem size) and
  re-laid-out and zeroed per row -- never allocated per fit;
* the batch is cut into *blocks* of rows, one parallel call each, so that a
  progress bar can be updated and Ctrl-C honoured between blocks;
* a row that cannot run (non-finite start, no data left) or fails (the
  kernel's own statuses: non-finite Jacobian, ``max_nfev``...) records its
  status in its own slot and never touches another row.

Because a row's computation is the single solver's computation on that
row's data, from the same zeroed workspace, its answer is bitwise identical
to ``least_squares`` on that row, whatever the thread count.

Two parallel drivers run the rows, with the same per-row code:

* :func:`solve_block_by_address` (the common case: jitted ``fun``/``jac``
  in either form, curve_fit models through their generated wrappers, a
  built-in loss, ``args`` of C-contiguous numeric arrays and Python
  numbers) reaches the user's functions through the addresses of small
  per-model C wrappers (:mod:`lsqcore.batch._cwrap`), which also pick the
  row's arguments; ``args`` reach them packed in one int64 block
  (:func:`lsqcore._cabi.pack`).  Its signature names neither the model nor
  the argument types, so it is compiled once (9-22 s on a loaded 2-core
  machine, the first time ever) and then served from Numba's disk cache: a
  first batch call with a new model costs the model's and its wrappers'
  compile plus the cache load, 0.8-2.1 s measured for W4 (was 7.5-16 s),
  and new argument types their small packing function (1.7 s the first
  time ever, 0.6 s in later processes).  A model that raises marks its row ``USER_RAISED``; the
  front end re-raises the user's exception after the run.
* :func:`block_driver`, the fallback (a jitted callable loss,
  ``jac='cs'``, arguments the C wrappers cannot pass), has the user's
  dispatchers as globals, which Numba cannot cache on disk: it is compiled
  once per process and model (7.5-16 s here, mostly Numba's parfor passes).

Both reach the kernel through C addresses: it is never recompiled with them.
Rows are bitwise the same on both drivers (the user's function gets the
same row arguments, the kernel the same values).
"""
import math
import time

import numba
import numpy as np
from numba import njit, prange

from .. import _layout as L
from .._layout import JAC_2POINT, JAC_3POINT
from .._bounds import make_strictly_feasible, first_order_optimality
from .._cabi import ccall, packed, WRAPPER_RAISED
from .._memo import Memo
from ..methods.common import column_norms
from .._jit import kernel_jit
from .._driver import (run_compiled_with, call_alloc, _cs_compiled, _cs_unused, request_loop,
                       call_address, jac_address, ERR_RAISED, ERR_JAC_RAISED)
from .._kernel import setup, _all_finite, KERNEL
from .._linalg import EPS, householder_qr, copy_r, jacobi_svd
from .._diagnostics import UNDETERMINED_WEIGHT, RCOND_2POINT, RCOND_3POINT
from ._result import NOT_RUN, NONFINITE_START, TOO_FEW_POINTS, BAD_SHAPE, USER_RAISED

# target wall time of one block (progress / Ctrl-C granularity)
BLOCK_SECONDS = 0.1
# auto progress bar when the whole batch is expected to take longer than this
PROGRESS_SECONDS = 2.0


@kernel_jit
def _covariance(J, cost, m, n, absolute, jac_code, A, V, s, pc, small):
    """``pcov`` by curve_fit's rule, without allocating (``small``: 3 n
    scratch; the GPU driver compiles this function as a device function).

    As :mod:`lsqcore._diagnostics`: the SVD of the column-equilibrated
    ``J D^{-1} = U diag(s) V^T`` (``D = diag(||J_j||)``), singular values at or
    below ``rcond * s_max`` discarded (``rcond``: the error level of the
    Jacobian, 1e-7 for '2-point' and 1e-9 for '3-point' differences,
    ``eps max(m, n)`` otherwise), ``pinv(J^T J) = D^{-1} V diag(1 / s^2) V^T
    D^{-1}``; unless ``absolute``, times ``2 cost / (m - n)`` (the residual
    variance, scipy's degrees of freedom).  A parameter that takes part in a
    discarded direction (weight at least ``UNDETERMINED_WEIGHT`` of the
    largest) gets ``inf`` in its row and column: the data do not determine
    it.  A non-finite ``J`` or ``m <= n`` (scaled case) gives ``inf``
    everywhere, as scipy does (without its warning).

    The SVD is the kernel's own (:mod:`lsqcore._linalg`): Householder QR of
    ``J D^{-1}`` (stored by columns in ``A``), then one-sided Jacobi on the
    small ``R``; ``pc`` holds ``R`` while the SVD runs.
    """
    ok = True
    for i in range(m):
        for j in range(n):
            if not math.isfinite(J[i, j]):
                ok = False
    if not ok or (not absolute and m <= n):
        for a in range(n):
            for b in range(n):
                pc[a, b] = math.inf
        return
    column_norms(J, s)                  # (in s until the QR is done)
    for j in range(n):
        if not s[j] > 0.0:              # a column without effect (or NaN) is not scaled
            s[j] = 1.0
    At = A.reshape((n, m))
    for i in range(m):
        for j in range(n):
            At[j, i] = J[i, j] / s[j]
    householder_qr(At, small[:n])
    copy_r(At, pc)
    D = small[:n]                       # the QR's tau is no longer needed
    for j in range(n):
        D[j] = s[j]
    jacobi_svd(pc, s, V, small[n:2 * n], small[2 * n:])
    if jac_code == JAC_2POINT:
        rcond = RCOND_2POINT
    elif jac_code == JAC_3POINT:
        rcond = RCOND_3POINT
    else:
        rcond = EPS * max(m, n)
    threshold = rcond * s[0]
    for a in range(n):
        for b in range(n):
            pc[a, b] = 0.0
    free = small[n:2 * n]                 # 1: takes part in an undetermined combination
    for a in range(n):
        free[a] = 0.0
    for j in range(n):
        if s[j] > threshold:
            s2 = s[j] * s[j]
            for a in range(n):
                va = V[a, j] / (s2 * D[a])
                for b in range(n):
                    pc[a, b] += va * V[b, j] / D[b]
        else:
            vmax = 0.0
            for a in range(n):
                vmax = max(vmax, abs(V[a, j]))
            for a in range(n):
                if abs(V[a, j]) >= UNDETERMINED_WEIGHT * vmax:
                    free[a] = 1.0
    bad = False
    for a in range(n):
        for b in range(n):
            if not math.isfinite(pc[a, b]):
                bad = True
    scale = 1.0 if absolute else 2.0 * cost / (m - n)
    for a in range(n):
        for b in range(n):
            undetermined = free[a] != 0.0 or free[b] != 0.0
            pc[a, b] = math.inf if bad or undetermined else pc[a, b] * scale


@kernel_jit
def _begin_row(k, tid, data, work, iopts, m, outs):
    """Copy row ``k``'s start into the thread's ``xb``; returns ``m_k`` or -1.

    Records a batch status (and returns -1) when the row cannot start.
    """
    X0, LB, UB, mrow = data
    xb = work[2][tid]
    out_x, _, out_status, out_nfev, out_njev, out_nit = outs[:6]
    n = X0.shape[1]
    x0 = X0[k if X0.shape[0] != 1 else 0]
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
        make_strictly_feasible(xb, LB[k if LB.shape[0] != 1 else 0],
                               UB[k if UB.shape[0] != 1 else 0], 1e-10)
    return mk


@kernel_jit
def _start(k, tid, f0, mk, data, work, opts, flags, outs):
    """Check ``f(x0)`` and load the row into the thread's zeroed workspace."""
    X0, LB, UB, _ = data
    W, S, xb = work[0][tid], work[1][tid], work[2][tid]
    fopts, iopts, x_scale, rstep = opts
    out_status, out_nfev = outs[2], outs[3]
    out_nfev[k] = 1
    if f0.shape[0] != mk:
        out_status[k] = BAD_SHAPE
        return False
    if not _all_finite(f0):
        out_status[k] = NONFINITE_START
        return False
    W[:] = 0.0
    L.init_layout(S, mk, X0.shape[1], flags[0], flags[1], 0)
    setup(W, S, xb, f0, LB[k if LB.shape[0] != 1 else 0],
          UB[k if UB.shape[0] != 1 else 0], x_scale, rstep, fopts, iopts)
    return True


@kernel_jit
def _finish_row(k, tid, err, mk, data, work, iopts, flags, outs):
    """Copy the solved row out: x, cost, counters, optimality, pcov; status last."""
    X0, LB, UB, _ = data
    W, S, cl, pc, A, V = (work[0][tid], work[1][tid], work[3][tid], work[4][tid],
                          work[5][tid], work[6][tid])
    cov, absolute = flags[2], flags[3]
    out_x, out_cost, out_status, out_nfev, out_njev, out_nit, out_opt, out_pcov, out_se = outs
    n = X0.shape[1]
    out_nfev[k] = S[L.NFEV]
    out_njev[k] = S[L.NJEV]
    out_nit[k] = S[L.NIT]
    if err != 0:
        out_status[k] = BAD_SHAPE
        return
    x = L.vec(W, S, L.O_X, n)
    g = L.vec(W, S, L.O_G, n)
    for j in range(n):
        out_x[k, j] = x[j]
    cost = W[L.COST]
    out_cost[k] = cost
    # first-order optimality as the single front end reports it
    out_opt[k] = first_order_optimality(x, g, LB[k if LB.shape[0] != 1 else 0],
                                        UB[k if UB.shape[0] != 1 else 0],
                                        iopts[0] == L.TRF, cl[:n], cl[n:2 * n])
    if cov:
        _covariance(L.mat(W, S, L.O_J, mk, n), cost, mk, n, absolute, S[L.JAC],
                    A[:mk * n].reshape((mk, n)), V, cl[:n], pc, cl[2 * n:5 * n])
        if out_pcov.shape[0] > 0:
            for a in range(n):
                for b in range(n):
                    out_pcov[k, a, b] = pc[a, b]
        if out_se.shape[0] > 0:
            for a in range(n):
                out_se[k, a] = math.sqrt(pc[a, a])
    # status last: a row is "done" once its status is set
    out_status[k] = S[L.STATUS]


@kernel_jit
def _raised_row(k, tid, at_start, n, work, outs):
    """Row ``k``'s residual or Jacobian raised (address path): the point it
    raised at (``x0`` moved inside the bounds, or the kernel's ``x_new``) goes
    to ``x`` so that the front end can re-raise the user's exception there."""
    out_x, out_status, out_nfev, out_njev, out_nit = outs[0], outs[2], outs[3], outs[4], outs[5]
    W, S, xb = work[0][tid], work[1][tid], work[2][tid]
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


@njit(cache=True, parallel=True, error_model="numpy")
def solve_block_by_address(kern, fun, jac, args, start, stop, data, work, opts, m, flags,
                           outs):
    """Rows ``start:stop`` with ``fun``/``jac`` given as the addresses of
    their batch C wrappers (:mod:`lsqcore.batch._cwrap`).

    The same row as the per-model block (:func:`block_driver`), with the
    user's functions behind C wrappers and ``args`` packed in one block
    (``(block,)``, :func:`lsqcore._cabi.packed`): nothing in the signature
    names a model or the argument types, so this function is compiled once
    and served from Numba's disk cache.  ``kern`` holds the
    kernel's C addresses (:data:`lsqcore._kernel.KERNEL`).
    """
    n = data[0].shape[1]
    for k in prange(start, stop):
        tid = numba.get_thread_id()
        mk = _begin_row(k, tid, data, work, opts[1], m, outs)
        if mk >= 0:
            ca = (k, tid, mk) + args
            f0 = work[7][tid][:mk]
            r = ccall(fun, (work[2][tid], f0) + ca)
            if r == WRAPPER_RAISED:
                _raised_row(k, tid, True, n, work, outs)
            elif r != mk:
                outs[3][k] = 1
                outs[2][k] = BAD_SHAPE
            elif _start(k, tid, f0, mk, data, work, opts, flags, outs):
                err = request_loop(kern, call_address, jac_address, _cs_unused, fun, jac,
                                   None, work[0][tid], work[1][tid], ca)
                if err == ERR_RAISED or err == ERR_JAC_RAISED:
                    _raised_row(k, tid, False, n, work, outs)
                else:
                    _finish_row(k, tid, err, mk, data, work, opts[1], flags, outs)


# The per-model part is generated so that the user's dispatchers are
# globals (direct calls LLVM can inline) and the prange body is flat (moving
# the row into a separate compiled function made the first call slower:
# 11 s instead of 7 s here).  The kernel is reached through C addresses
# (lsqcore._driver.run_compiled_with), so nothing here re-links it;
# everything that does not call the user's functions is in the cached
# helpers above.
_BLOCK_SRC = """
def _solve_block(args, start, stop, data, work, opts, m, flags, outs):
    for k in prange(start, stop):
        tid = get_thread_id()
        mk = _begin_row(k, tid, data, work, opts[1], m, outs)
        if mk >= 0:
            ra = ROWS(args, k, tid, mk)
            if _start(k, tid, FUN(work[2][tid], *ra), mk, data, work, opts, flags, outs):
                err = run_compiled_with(CALL, JAC_CS, FUN, JAC, LOSS, work[0][tid],
                                        work[1][tid], ra)
                _finish_row(k, tid, err, mk, data, work, opts[1], flags, outs)
"""
_BLOCK_CACHE = Memo(32)


def block_driver(fun, jac, loss, rows, cs=False):
    """The parallel block function for one set of user functions.

    Generated with the dispatchers bound as *globals*: a dispatcher passed
    in as an argument and used inside a ``prange`` body risks becoming a
    first-class function value (an indirect call, and a
    ``NumbaExperimentalFeatureWarning``); as globals they are direct calls.
    """
    key = (fun, jac, loss, rows, bool(cs))
    fn = _BLOCK_CACHE.get(key)
    if fn is None:
        ns = {"prange": prange, "get_thread_id": numba.get_thread_id,
              "_begin_row": _begin_row, "_start": _start, "_finish_row": _finish_row,
              "run_compiled_with": run_compiled_with, "FUN": fun, "JAC": jac,
              "LOSS": loss, "ROWS": rows,
              "CALL": call_alloc, "JAC_CS": _cs_compiled if cs else _cs_unused}
        exec(compile(_BLOCK_SRC, "<lsqcore.batch generated _solve_block>", "exec"), ns)
        fn = njit(parallel=True, error_model="numpy")(ns["_solve_block"])
        _BLOCK_CACHE.put(key, fn)
    return fn


class Problem:
    """Everything one batch call needs, validated by the front end.

    ``pointers``: ``(wrappers, resid, jac)`` from
    :func:`lsqcore.batch._cwrap.batch_pointers` for the cached driver, or
    None for the per-model block (then ``fun``, ``jac``, ``loss``, ``rows``
    are compiled into it).
    """

    def __init__(self, K, fun, jac, loss, rows, args, X0, LB, UB, mrow, m, fopts,
                 iopts, x_scale, rstep, robust, callable_loss, cov, absolute,
                 return_pcov, return_stderr, pointers=None):
        self.__dict__.update(locals())
        del self.__dict__["self"]


def _open_bar(K, done):
    from tqdm.auto import tqdm
    bar = tqdm(total=K, unit="fit", smoothing=0.1, mininterval=0.2)
    if done:
        bar.update(done)
    return bar


def solve(P, threads, progress, block_hook=None):
    """Run all rows of ``P`` on ``threads`` threads; returns the output arrays.

    ``progress``: True / False / None (auto: a bar if the batch is expected
    to take more than ``PROGRESS_SECONDS``, estimated from the first block).
    ``block_hook(done)`` is called after each block (tests use it).
    Ctrl-C (KeyboardInterrupt) between blocks stops the batch; unfinished
    rows keep status ``NOT_RUN``.
    """
    K = P.K
    n = P.X0.shape[1]
    m = P.m
    out_x = np.full((K, n), np.nan)
    out_cost = np.full(K, np.nan)
    out_status = np.full(K, NOT_RUN, dtype=np.int64)
    out_nfev = np.zeros(K, dtype=np.int64)
    out_njev = np.zeros(K, dtype=np.int64)
    out_nit = np.zeros(K, dtype=np.int64)
    out_opt = np.full(K, np.nan)
    out_pcov = np.full((K if P.return_pcov else 0, n, n), np.nan)
    out_se = np.full((K if P.return_stderr else 0, n), np.nan)

    w_size, s_size = L.workspace_shape(m, n, P.robust, P.callable_loss, 0)
    Wt = np.zeros((threads, w_size))
    St = np.zeros((threads, s_size), dtype=np.int64)
    Xt = np.zeros((threads, n))
    Ct = np.zeros((threads, 5 * n))    # scaling (2 n), covariance scratch (3 n)
    c = 1 if P.cov else 0           # covariance scratch only when asked
    Pt = np.zeros((threads, c * n, n))
    At = np.zeros((threads, c * m * n))
    Vt = np.zeros((threads, c * n, n))
    Ft = np.zeros((threads, m))         # f(x0) of the address path

    data = (P.X0, P.LB, P.UB, P.mrow)
    work = (Wt, St, Xt, Ct, Pt, At, Vt, Ft)
    opts = (P.fopts, P.iopts, P.x_scale, P.rstep)
    flags = (bool(P.robust), bool(P.callable_loss), bool(P.cov), bool(P.absolute))
    outs = (out_x, out_cost, out_status, out_nfev, out_njev, out_nit, out_opt,
            out_pcov, out_se)

    if P.pointers is not None:
        _, fp, jp = P.pointers

        def block(start, stop):
            solve_block_by_address(KERNEL, fp, jp, packed(P.args), start, stop, data, work, opts, m,
                                   flags, outs)
    else:
        driver = block_driver(P.fun, P.jac, P.loss, P.rows, P.iopts[1] == L.JAC_CS)

        def block(start, stop):
            try:
                driver(P.args, start, stop, data, work, opts, m, flags, outs)
            except SystemError as e:
                # a user function raised inside the parallel region: Numba
                # reports a SystemError caused by the user's exception
                if isinstance(e.__cause__, Exception) and type(e.__cause__) is not SystemError:
                    raise e.__cause__ from None
                raise

    interrupted = False
    bar = None
    prev_threads = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        with numba.parallel_chunksize(_chunk(K, threads)):
            block(0, 0)                 # compile (no rows) outside the timing
            done = 0
            size = min(K, 8 * threads)
            elapsed = 0.0
            if progress is True:
                bar = _open_bar(K, 0)
            while done < K:
                stop = min(K, done + size)
                t0 = time.perf_counter()
                block(done, stop)
                dt = time.perf_counter() - t0
                elapsed += dt
                rows_done = stop - done
                done = stop
                rate = done / max(elapsed, 1e-9)
                if bar is not None:
                    bar.update(rows_done)
                elif (progress is None and done < K and elapsed > 0.05
                      and (K - done) / rate > PROGRESS_SECONDS):
                    bar = _open_bar(K, done)
                if block_hook is not None:
                    block_hook(done)
                size = int(min(max(rate * BLOCK_SECONDS, 4 * threads), 1 << 20))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        numba.set_num_threads(prev_threads)
        if bar is not None:
            bar.close()
    return dict(x=out_x, cost=out_cost, status=out_status, nfev=out_nfev,
                njev=out_njev, nit=out_nit, optimality=out_opt,
                pcov=out_pcov if P.return_pcov else None,
                stderr=out_se if P.return_stderr else None,
                interrupted=interrupted)


def _chunk(K, threads):
    """Rows per dynamically scheduled chunk: small enough to balance slow rows."""
    return int(max(1, min(8, K // (threads * 16) if threads else 1)))
