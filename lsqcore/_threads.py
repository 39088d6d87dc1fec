"""Finite-difference points of a jitted residual on several threads, in compiled code.

A forward-difference Jacobian needs the residual at ``n`` points
``x + h_j e_j`` (a central one at ``2n``, in two blocks of ``n``): the
kernel asks for them as one block (``REQ_FD``, ``REQ_K`` points, rows of
``XQ``) and reads their residuals from the rows of ``B``.  The points are
independent, so for a jitted residual ``least_squares(..., workers=k)``
evaluates them on ``k`` of Numba's threads (a ``prange`` over the points,
each writing only its own row of ``B``).  For large ``m`` the residual is
most of the cost of an iteration: W3 (``m = 200 000``, ``n = 8``) spends
``n`` of its ``n + 1`` evaluations per iteration here.

Each point's residual is computed by the same code from the same inputs
whichever thread runs it, and nothing is summed across points, so the
result is bitwise independent of the thread count.  A failure is reported
for the first failing point in point order, as the serial loop
(:func:`lsqcore._row.fd_serial`) reports it; the other points have been
evaluated too, which only costs time.

The thread count is clipped to Numba's pool (``numba.config.NUMBA_NUM_THREADS``,
see :func:`thread_count`) and set from Python around the solve
(:func:`with_threads`), which leaves the caller's
``numba.get_num_threads()`` as it found it.  (Setting it in compiled code
would keep the solve from Numba's disk cache: ``set_num_threads`` there
refers to the threading layer by address.)  The batch front ends never use
this: their rows already run in parallel, one row per thread.
"""
import numbers

import numpy as np
import numba
from numba import config, njit, prange

from . import _layout as L
from ._row import fd_point, fd_residual, fd_failed
from ._workers import worker_count


def thread_count(workers):
    """Numba threads for ``workers`` (an int, -1: every core of Numba's pool)."""
    if not isinstance(workers, numbers.Integral) or workers == 1:
        return 1
    return max(1, min(worker_count(workers), config.NUMBA_NUM_THREADS))


def with_threads(threads, solve, *a):
    """``solve(*a)`` with ``numba.get_num_threads() == threads`` (for this
    thread of the caller), restoring the previous count after it; a plain
    call when ``threads`` is 1 (0.11 us more than calling ``solve``
    directly, measured: about 0.5 % of a W1 fit)."""
    if threads == 1:
        return solve(*a)
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return solve(*a)
    finally:
        numba.set_num_threads(before)


def threaded_fd(call):
    """:func:`lsqcore._row.fd_serial` for the residual convention ``call``
    (a ``lsqcore._driver.call_*`` adapter), with the points spread over
    Numba's threads.

    ``call`` is bound as a constant rather than passed: a function passed to
    a compiled function that is not inlined keeps its callers from the disk
    cache, and the parallel loop cannot be inlined.
    """
    @njit(error_model="numpy", parallel=True)
    def block(fun, W, S, args):
        K = S[L.REQ_K]
        errs = np.zeros(K, dtype=np.int64)
        for k in prange(K):
            errs[k] = call(fun, fd_point(W, S, k), fd_residual(W, S, k), args)
        for k in range(K):
            if errs[k]:
                return fd_failed(W, S, k, errs[k])
        return 0

    @njit(error_model="numpy", inline="always")
    def fd(call_, fun, W, S, args):
        return block(fun, W, S, args)
    return fd
