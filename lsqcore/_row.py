"""One compiled row: load a problem, answer the kernel's requests, read the result.

Every compiled path solves a problem the same way:

1. **start** -- lay out a zeroed workspace ``(W, S)`` for ``m`` residuals
   and ``n`` parameters and load ``x0``, ``f(x0)``, the bounds and the
   options into it (:func:`lsqcore._layout.init_layout`,
   :func:`lsqcore._kernel.setup`);
2. **the request loop** -- call :func:`lsqcore._kernel.advance` and answer
   each request it returns (a residual at ``x_new``, the ``n`` residuals of
   a finite-difference block, a Jacobian, a loss) until it returns
   ``REQ_DONE``;
3. **finish** -- read the answer out of the workspace into one named
   record, :class:`Row`.

:func:`solve_row` is that sequence.  The single compiled solve
(:func:`lsqcore._driver.solve_compiled`, hence ``least_squares`` with a
jitted model and :func:`lsqcore.jit.least_squares`), the CPU batch's
``prange`` body and the CUDA kernel (:mod:`lsqcore.batch._row`) all call
it.  The plain-Python driver (:func:`lsqcore._driver.run_python`) is the
only other request loop (it calls Python functions between kernel steps),
and it reads its result through the same :func:`read_row`.

What differs between the callers is passed in as functions, which Numba
binds at compile time (a function argument is a compile-time constant of
its type, so nothing is called indirectly):

* ``kern``, ``start``, ``step`` -- how the kernel is reached: on the CPU
  ``kern`` is the int64 array of its C addresses
  (:data:`lsqcore._kernel.KERNEL`), which :func:`start_by_address` and
  :func:`step_by_address` call, so that a new model's driver never
  compiles or re-optimises the kernel's code; on the GPU
  :func:`start_direct` and :func:`step_direct` call ``setup`` and
  ``advance`` themselves, which numba-cuda compiles into the CUDA kernel as
  device functions from the same Python source.  (Functions, not a ``kern
  is None`` test: Numba prunes such a branch only for a constant ``None``,
  so the CPU driver compiled the whole kernel into itself, +8 s on a first
  fit after installation.)
* ``call`` / ``jcall`` -- the residual's and the Jacobian's calling
  convention (``lsqcore._driver.call_*`` / ``jac_*``: returning an array,
  writing in place, or through a C wrapper's address); ``jac_cs`` the
  complex-step Jacobian or a stand-in; ``fun``, ``jac``, ``loss`` the
  user's functions (``None`` where absent: the branch is pruned).

The functions here are ``inline='always'``: each caller compiles them into
its own body, so a row adds no call and no boxing to a batch's inner loop.
"""
from collections import namedtuple

from numba import njit

from . import _layout as L
from ._cabi import ccall
from ._kernel import advance, setup
from ._loss import LINEAR, CALLABLE


#: The result of one solve, read out of its workspace (views, not copies):
#: ``x``, ``grad`` (``J^T f`` of the loss-scaled residuals at ``x``), ``fun``
#: (the residuals at ``x``), ``jac`` (``J`` at ``x``, ``(m, n)``), ``cost``,
#: ``optimality`` (first-order optimality as scipy reports it, see
#: :func:`lsqcore._bounds.first_order_optimality`: the value of the last
#: ``gtol`` test, made at the final ``x`` whenever the kernel reached one),
#: the counters, the status (:mod:`lsqcore._status`) and ``m``.  ``jac`` is
#: ``(m, n)``, or for a sparse J its values as one row (:mod:`lsqcore._csc`).
Row = namedtuple("Row", ["x", "grad", "fun", "jac", "cost", "optimality", "nfev", "njev",
                         "nit", "status", "m"])


def read_row(W, S):
    """The :class:`Row` of a finished workspace (views of ``W``).

    Plain slicing, so that the same function serves the Python driver (as
    written) and every compiled one (as :func:`read_row_jit`).
    """
    m = S[L.M]
    n = S[L.N]
    o = S[L.O_X]
    x = W[o:o + n]
    o = S[L.O_G]
    g = W[o:o + n]
    o = S[L.O_F]
    f = W[o:o + m]
    o = S[L.O_J]
    rows, cols = m, n
    if S[L.SPARSE] != 0:
        rows, cols = 1, S[L.NNZ]     # the values, in the pattern's order (_sparse_jac)
    J = W[o:o + rows * cols].reshape((rows, cols))
    return Row(x, g, f, J, W[L.COST], W[L.G_NORM], S[L.NFEV], S[L.NJEV], S[L.NIT],
               S[L.STATUS], m)


read_row_jit = njit(error_model="numpy", inline="always")(read_row)


@njit(error_model="numpy", inline="always")
def read_gram(W, S):
    """``J^T J`` of a finished workspace's ``jac`` (upper triangle, ``n x n``),
    or a ``(0, 0)`` view when ``W`` does not hold it: the kernel forms it only
    for a dense ``J`` that :func:`lsqcore._gram.gram_possible` admits, and a
    solve can end after a Jacobian evaluation that did not (a non-finite
    ``J``), so it is current exactly when ``S[GRAM_NJEV]`` is ``S[NJEV]``."""
    n = S[L.N]
    o = S[L.O_GRAM]
    k = n if S[L.NJEV] > 0 and S[L.GRAM_NJEV] == S[L.NJEV] else 0
    return W[o:o + k * k].reshape((k, k))


@njit(error_model="numpy", inline="always")
def start_by_address(kern, W, S, x0, f0, lb, ub, x_scale, rstep, fopts, iopts, trace_cap):
    """Lay out the zeroed workspace ``(W, S)`` for ``f0.shape[0]`` residuals and
    load the problem, through the kernel's C entry ``kern[1]`` (the CPU)."""
    ccall(kern[1], (W, S, x0, f0, lb, ub, x_scale, rstep, fopts, iopts, trace_cap))


@njit(error_model="numpy", inline="always")
def start_direct(kern, W, S, x0, f0, lb, ub, x_scale, rstep, fopts, iopts, trace_cap):
    """:func:`start_by_address` calling the kernel's functions themselves (the
    GPU, where they are compiled into the CUDA kernel; ``kern`` unused)."""
    L.init_layout(S, f0.shape[0], x0.shape[0], iopts[2] != LINEAR, iopts[2] == CALLABLE,
                  iopts[7], trace_cap, iopts[10], iopts[11])
    setup(W, S, x0, f0, lb, ub, x_scale, rstep, fopts, iopts)


@njit(error_model="numpy", inline="always")
def step_by_address(kern, W, S):
    """One call of :func:`lsqcore._kernel.advance` through its C entry ``kern[0]``."""
    return ccall(kern[0], (W, S))


@njit(error_model="numpy", inline="always")
def step_direct(kern, W, S):
    """One call of :func:`lsqcore._kernel.advance` itself (``kern`` unused)."""
    return advance(W, S)


#: error codes of the request loop (negative; never a status).  The
#: ``lsqcore._driver`` adapters return them when a user function misbehaves.
ERR_F_SHAPE = -101
ERR_J_SHAPE = -102
ERR_LOSS_SHAPE = -103


@njit(error_model="numpy", inline="always")
def request_loop(kern, step, call, jcall, jac_cs, fd, fun, jac, loss, W, S, args):
    """Answer the kernel's requests until it is done; 0 or an ``ERR_*`` code.

    The workspace is indexed by hand (``W[o:o + n]``), which compiles the
    same on the CPU and the GPU.  When a user function fails, the point it
    failed at is left in ``x_new``.  ``fd`` evaluates the residuals of a
    finite-difference block (:func:`fd_serial`, or one from
    :func:`lsqcore._threads.threaded_fd`).
    """
    m = S[L.M]
    n = S[L.N]
    oX = S[L.O_X]
    oXN = S[L.O_XNEW]
    oFN = S[L.O_FNEW]
    oJ = S[L.O_J]
    x = W[oX:oX + n]
    x_new = W[oXN:oXN + n]
    f_new = W[oFN:oFN + m]
    while True:
        req = step(kern, W, S)
        if req == L.REQ_F:
            err = call(fun, x_new, f_new, args)
            if err:
                return err
        elif req == L.REQ_FD:
            err = fd(call, fun, W, S, args)
            if err:
                return err
        elif req == L.REQ_J:
            if jac is not None:
                # a dense J, or the values of a sparse one as a (1, nnz) row
                # (a lsqcore.PatternJacobian's fill)
                rows, cols = (1, S[L.NNZ]) if S[L.SPARSE] else (m, n)
                err = jcall(jac, x, W[oJ:oJ + rows * cols].reshape((rows, cols)), args)
                if err:
                    for j in range(n):
                        x_new[j] = x[j]
                    return err
        elif req == L.REQ_JCS:
            oH = S[L.O_H]
            jac_cs(fun, x, W[oH:oH + n], W[oJ:oJ + m * n], args)
        elif req == L.REQ_LOSS:
            if loss is not None:
                err = _answer_loss(loss, W, S, m)
                if err:
                    return err
        elif req != L.REQ_ITER:         # REQ_DONE
            return 0


@njit(error_model="numpy", inline="always")
def fd_serial(call, fun, W, S, args):
    """The residuals at the kernel's ``REQ_K`` difference points (rows of
    ``XQ``) into the rows of ``B``, one after another.

    Returns 0, or the error code of the first point whose evaluation failed,
    with that point copied to ``x_new``.
    """
    for k in range(S[L.REQ_K]):
        err = call(fun, fd_point(W, S, k), fd_residual(W, S, k), args)
        if err:
            return fd_failed(W, S, k, err)
    return 0


@njit(error_model="numpy", inline="always")
def fd_point(W, S, k):
    """The ``k``-th difference point (a view of row ``k`` of ``XQ``)."""
    n = S[L.N]
    a = S[L.O_XQ] + k * n
    return W[a:a + n]


@njit(error_model="numpy", inline="always")
def fd_residual(W, S, k):
    """Where the residual at the ``k``-th difference point goes (row ``k`` of ``B``)."""
    m = S[L.M]
    b = S[L.O_B] + k * m
    return W[b:b + m]


@njit(error_model="numpy", inline="always")
def fd_failed(W, S, k, err):
    """Copy the ``k``-th difference point to ``x_new`` (where a failure is
    reported) and return ``err``."""
    p = fd_point(W, S, k)
    o = S[L.O_XNEW]
    for j in range(p.shape[0]):
        W[o + j] = p[j]
    return err


@njit(error_model="numpy", inline="always")
def _answer_loss(loss, W, S, m):
    """``rho = loss(z)`` into ``RHO_NEW``; ``ERR_LOSS_SHAPE`` unless it is (3, m)."""
    oZ = S[L.O_Z]
    rho = loss(W[oZ:oZ + m])
    if rho.shape[0] != 3 or rho.shape[1] != m:
        return ERR_LOSS_SHAPE
    oR = S[L.O_RHONEW]
    for r in range(3):
        for i in range(m):
            W[oR + r * m + i] = rho[r, i]
    return 0


@njit(error_model="numpy", inline="always")
def solve_row(kern, start, step, call, jcall, jac_cs, fd, fun, jac, loss, W, S, x0, f0, lb,
              ub, x_scale, rstep, fopts, iopts, trace_cap, args):
    """Start, run and finish one problem in the zeroed workspace ``(W, S)``.

    ``f0`` is ``f(x0)``, already evaluated and checked finite by the caller
    (who decides what a bad start means for its front end).  Returns
    ``(row, err)``: the :class:`Row` and 0, or an ``ERR_*`` code of the
    request loop (the row is then read all the same; ``x_new`` holds the
    point where a user function failed).  ``fd``: how the points of a
    finite-difference block are evaluated (see :func:`request_loop`).
    """
    start(kern, W, S, x0, f0, lb, ub, x_scale, rstep, fopts, iopts, trace_cap)
    err = request_loop(kern, step, call, jcall, jac_cs, fd, fun, jac, loss, W, S, args)
    return read_row_jit(W, S), err

