"""The multi-core batch driver: many independent problems on one kernel.

Every row of a batch is an ordinary single problem solved by the same
cached ask/tell kernel (:mod:`lsqcore._kernel`) and the same compiled row
(:func:`lsqcore._row.solve_row`) as :func:`lsqcore.least_squares`, with the
batch's bookkeeping around it in :func:`lsqcore.batch._row.batch_row` (which
the GPU kernel calls too); this module only adds the outer loops:

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
  dispatchers as closure constants, which Numba cannot cache on disk: it is compiled
  once per process and model (7.5-16 s here, mostly Numba's parfor passes).

Both reach the kernel through C addresses: it is never recompiled with them.
Rows are bitwise the same on both drivers (the user's function gets the
same row arguments, the kernel the same values).
"""
import time

import numba
import numpy as np
from numba import njit, prange

from .. import _layout as L
from .._cabi import packed
from .._memo import Memo
from .._driver import (call_alloc, jac_alloc, _cs_compiled, _cs_unused, call_address,
                       jac_address)
from .._kernel import KERNEL
from .._jit import kernel_jit
from ._result import NOT_RUN
from ._row import batch_row
from .._row import start_by_address, step_by_address

# target wall time of one block (progress / Ctrl-C granularity)
BLOCK_SECONDS = 0.1
# auto progress bar when the whole batch is expected to take longer than this
PROGRESS_SECONDS = 2.0


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
    for k in prange(start, stop):
        _address_row(k, numba.get_thread_id(), kern, fun, jac, args, data, work, opts, m,
                     flags, outs)


@kernel_jit
def _address_row(k, tid, kern, fun, jac, args, data, work, opts, m, flags, outs):
    """One row of :func:`solve_block_by_address` (conventions bound here)."""
    batch_row(k, tid, kern, start_by_address, step_by_address, call_address, jac_address,
              _cs_unused, fun, jac, None, _address_rows, args, data, thread_arrays(work, tid),
              opts, m, flags, outs)


@njit(error_model="numpy", inline="always")
def _address_rows(args, k, tid, mk):
    """The batch C wrappers select row ``k``'s arguments themselves (``args`` is
    the packed block): they receive ``(k, tid, mk, block)``."""
    return (k, tid, mk) + args


@njit(error_model="numpy", inline="always")
def thread_arrays(work, tid):
    """Thread ``tid``'s arrays ``ws`` of :func:`lsqcore.batch._row.batch_row`."""
    Wt, St, Xt, Ct, Pt, At, Vt, Ft = work
    return (Wt[tid], St[tid], Xt[tid], Ft[tid], Ct[tid], At[tid], Vt[tid], Pt[tid])


_BLOCK_CACHE = Memo(32)


def block_driver(fun, jac, loss, rows, cs=False):
    """The parallel block function for one set of user functions.

    The row is the cached driver's (:func:`lsqcore.batch._row.batch_row`);
    the user's dispatchers are bound as *closure constants* (typed like
    globals, direct calls LLVM can inline): a dispatcher passed in as an
    argument and used inside a ``prange`` body risks becoming a first-class
    function value (an indirect call, and a
    ``NumbaExperimentalFeatureWarning``).
    """
    key = (fun, jac, loss, rows, bool(cs))
    fn = _BLOCK_CACHE.get(key)
    if fn is None:
        jac_cs = _cs_compiled if cs else _cs_unused

        @njit(error_model="numpy")
        def _model_row(k, tid, args, data, work, opts, m, flags, outs):
            batch_row(k, tid, KERNEL, start_by_address, step_by_address, call_alloc,
                      jac_alloc, jac_cs, fun, jac, loss, rows, args, data,
                      thread_arrays(work, tid), opts, m, flags, outs)

        @njit(parallel=True, error_model="numpy")
        def _solve_block(args, start, stop, data, work, opts, m, flags, outs):
            for k in prange(start, stop):
                _model_row(k, numba.get_thread_id(), args, data, work, opts, m, flags, outs)
        fn = _solve_block
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

    w_size, s_size = L.workspace_shape(m, n, P.robust, P.callable_loss, L.TR_EXACT, 0, -1, 0)
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
