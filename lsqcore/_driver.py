"""Drivers: answer the kernel's requests by calling the user's functions.

The kernel (:mod:`lsqcore._kernel`) holds the whole algorithm; a driver is
the short loop that calls ``advance`` and, for each request, evaluates the
residual, the Jacobian or the loss and writes the result into the
workspace.  Two drivers serve single problems:

* :func:`run_python`: plain Python, for any callable.  Only the user's
  function runs in the interpreter; every answer is checked for shape.
* :func:`solve_compiled`: the compiled row of :mod:`lsqcore._row` (start,
  :func:`lsqcore._row.request_loop`, the result record) behind a first
  evaluation of ``f(x0)`` and an allocation, for jitted ``fun`` / ``jac`` /
  ``loss``.  It reaches the kernel through C addresses and serves two
  entries:

  - :func:`solve_by_address` (and its twin :func:`solve_by_address_ws`,
    which returns the whole workspace, for the trace) calls the user's
    functions through the addresses of small per-model C wrappers
    (:mod:`lsqcore._cabi`), with the user's ``args`` packed in one block,
    and is therefore compiled once and cached on disk, shared by every
    model and argument signature.  It takes four arguments (addresses and
    options packed into two read-only arrays ``P``, ``F``, ``x0`` and the
    block) and returns the result's fields rather than the workspace: each
    argument Numba's dispatcher unboxes and each array it boxes costs
    ~0.1 / ~0.8 us, a quarter of a small fit's overhead before the packing;
  - :func:`compiled_entry`, specialised per model (jitted losses, complex
    step, arguments the wrappers cannot pass), small enough that a new
    model costs a second or two while the heavy, cached kernel is reused.

Error codes returned by the compiled drivers (negative, never a status):
the ``ERR_*`` constants below and those of the request loop
(:mod:`lsqcore._row`).
"""
import numpy as np
from numba import njit

from . import _layout as L

from ._cabi import ccall, f64_vector, WRAPPER_RAISED
from ._kernel import KERNEL
from ._row import (solve_row, read_row_jit, start_by_address, step_by_address, fd_serial,
                   ERR_F_SHAPE, ERR_J_SHAPE, ERR_LOSS_SHAPE)  # noqa: F401 (ERR_LOSS_SHAPE)
from ._threads import threaded_fd
from ._jacobian import complex_step_jacobian, complex_step_grouped
from ._workers import FunAt
from ._memo import Memo
from ._csc_entry import sparse_entry


@njit(cache=True, error_model="numpy")
def _advance_by_address(kern, W, S):
    """``advance`` through its C entry ``kern[0]``, for the Python driver.

    Calling the ``advance`` dispatcher instead compiled the whole kernel a
    second time on the first fit after installation (5-8 s, issue 15); this
    trampoline compiles in a fraction of a second and is cached on disk.  A
    ctypes call of the address would need no compile at all but costs
    0.53-0.61 us a request against this call's 0.25-0.29 us (measured).
    """
    return step_by_address(kern, W, S)


class Views:
    """Numpy views of the workspace arrays a driver reads or writes (pure numpy)."""

    _NAMES = ("O_X", "O_XNEW", "O_F", "O_FNEW", "O_J", "O_B", "O_XQ", "O_H", "O_G", "O_Z")

    def __init__(self, W, S):
        self.m, self.n = int(S[L.M]), int(S[L.N])
        (self.x, self.x_new, self.f, self.f_new, self.J, self.FQ, self.XQ, self.h, self.g,
         self.z) = L.numpy_views(W, S, self._NAMES)
        if not S[L.SPARSE]:
            self.J = self.J.reshape(self.m, self.n)
        self.rho_new = L.numpy_view(W, S, "O_RHONEW") if S[L.LOSS] != 0 else None


def _shape_checked(f, m, x):
    if f.shape != (m,):
        raise ValueError(f"`fun` must return an array of shape ({m},) at every point "
                         f"(as at `x0`), got shape {f.shape} at x = {x!r}.")
    return f


def _dense_jacobian(J, m, n):
    """``jac``'s value as an (m, n) array, read as scipy reads it (a vector is
    one row: ``np.atleast_2d``); a sparse matrix or linear operator where the
    solve was set up for a dense ``J`` is refused by name."""
    if not isinstance(J, np.ndarray) and type(J).__module__.startswith("scipy.sparse"):
        raise ValueError(f"`jac` returned a dense array at `x0` and a {type(J).__name__} "
                         "later: it must keep returning one kind.")
    J = np.atleast_2d(J)
    if J.shape != (m, n):
        raise ValueError(f"`jac` must return an array of shape {(m, n)}, got {J.shape}.")
    return J


def run_python(fun, jac, loss, W, S, args, kwargs, on_iteration=None, workers=None,
               J0=None, pattern=None):
    """Drive the kernel with Python callables until it is done.

    Parameters
    ----------
    fun, jac, loss : callable or None
        Residual ``fun(x, *args, **kwargs)``; Jacobian ``jac(x, *args,
        **kwargs)`` (or None for finite differences); loss ``loss(z)``
        returning ``rho`` of shape (3, m) (or None for a built-in loss).
    W, S : ndarray
        The workspace, already set up.
    on_iteration : callable, optional
        Called after each iteration with no argument; returning True stops
        the solve (the caller sets the status).
    workers : map-like callable, optional
        Evaluates the finite-difference points as ``workers(f, points)``
        (:mod:`lsqcore._workers`); None: one after another, here.
    J0 : array or sparse matrix, optional
        ``jac(x0)``, already evaluated by the front end: the first Jacobian.
    pattern : lsqcore._sparse_jac.Pattern or lsqcore._operator.OperatorJacobian, optional
        The pattern of a sparse ``J`` (the workspace holds its values), or the
        ``LinearOperator`` one (its products are called from the kernel).

    Returns
    -------
    stopped : bool
        True if ``on_iteration`` asked to stop.
    """
    m, n = int(S[L.M]), int(S[L.N])
    f_at = _evaluator(fun, m, args, kwargs)
    # the views of every request; the others (Views: 4.5 us) on the first that needs them
    x_new, f_new, FQ, XQ = L.numpy_views(W, S, ("O_XNEW", "O_FNEW", "O_B", "O_XQ"))
    rest = []

    def views():
        if not rest:
            rest.append(Views(W, S))
        return rest[0]

    REQ_F, REQ_FD, REQ_K = L.REQ_F, L.REQ_FD, L.REQ_K
    while True:
        req = _advance_by_address(KERNEL, W, S)
        if pattern is not None:
            pattern.raise_pending()          # (a LinearOperator's product that raised)
        if req == REQ_FD:
            if workers is None:
                for i in range(int(S[REQ_K])):
                    FQ[i] = f_at(XQ[i])
            else:
                points = [XQ[i].copy() for i in range(S[REQ_K])]
                for i, f in enumerate(workers(FunAt(fun, args, kwargs), points)):
                    FQ[i] = _shape_checked(f, m, points[i])
        elif req == REQ_F:
            f_new[:] = f_at(x_new)
        elif req == L.REQ_J:
            v = views()
            J = jac(v.x.copy(), *args, **kwargs) if J0 is None else J0
            J0 = None
            if pattern is not None:
                pattern.load(J, v.J)
            else:
                v.J[:] = _dense_jacobian(J, m, n)
        elif req == L.REQ_JCS:
            v = views()
            if pattern is not None:
                complex_step_grouped(_ComplexFun(fun, m, kwargs), v.x, v.h, pattern, v.J, args)
            else:
                complex_step_jacobian(_ComplexFun(fun, m, kwargs), v.x, v.h, v.J.reshape(-1),
                                      args)
        elif req == L.REQ_LOSS:
            v = views()
            rho = np.asarray(loss(v.z.copy()), dtype=float)
            if rho.shape != (3, m):
                raise ValueError(f"`loss` must return an array of shape (3, {m}), "
                                 f"got {rho.shape}.")
            v.rho_new[:] = rho
        elif req == L.REQ_ITER:
            if on_iteration is not None and on_iteration():
                return True
        else:
            return False


def _evaluator(fun, m, args, kwargs):
    """``x -> fun(copy of x, *args, **kwargs)``, read as scipy reads it
    (``np.atleast_1d``) and checked for shape (m,): one call per evaluation,
    the common case (an ndarray of the right shape) tested first."""
    shape = (m,)

    def f_at(x):
        f = fun(x.copy(), *args, **kwargs) if kwargs else fun(x.copy(), *args)
        if type(f) is np.ndarray and f.shape == shape:
            return f
        f = np.asanyarray(f)
        return _shape_checked(f.reshape(1) if f.ndim == 0 else f, m, x)

    return f_at


class _ComplexFun:
    """``fun`` with kwargs bound and its complex output checked."""

    def __init__(self, fun, m, kwargs):
        self.fun, self.m, self.kwargs = fun, m, kwargs

    def __call__(self, x, *args):
        f = np.atleast_1d(self.fun(x, *args, **self.kwargs))
        if f.shape != (self.m,):
            raise ValueError(f"`fun` must return an array of shape ({self.m},), "
                             f"got {f.shape} for complex-step input.")
        if not np.iscomplexobj(f):
            raise ValueError("jac='cs' needs `fun` to propagate complex input, "
                             "but it returned a real array.")
        return f


_cs_compiled = njit(error_model="numpy")(complex_step_jacobian)


@njit(error_model="numpy", inline="always")
def _cs_unused(fun, x, h, J, args):
    """Stands in for the complex-step Jacobian when ``jac`` is not 'cs', so that
    ``fun`` is never compiled for complex input needlessly."""
    return None


@njit(error_model="numpy", inline="always")
def call_alloc(fun, x, out, args):
    """Residual convention ``f = fun(x, *args)``; ``ERR_F_SHAPE`` if the length is wrong."""
    fv = fun(x, *args)
    if fv.shape[0] != out.shape[0]:
        return ERR_F_SHAPE
    for i in range(out.shape[0]):
        out[i] = fv[i]
    return 0


@njit(error_model="numpy", inline="always")
def call_inplace(fun, x, out, args):
    """Allocation-free residual convention ``fun(x, out, *args)`` (writes ``out``)."""
    fun(x, out, *args)
    return 0


@njit(error_model="numpy", inline="always")
def _wrapper_status(k, expected, raised, bad):
    """Error code of a :mod:`lsqcore._cabi` wrapper's return value ``k``."""
    if k == WRAPPER_RAISED:
        return raised
    if k != expected:
        return bad
    return 0


@njit(error_model="numpy", inline="always")
def call_address(fun, x, out, args):
    """Residual through the address of a :mod:`lsqcore._cabi` wrapper (either form)."""
    return _wrapper_status(ccall(fun, (x, out) + args), out.shape[0], ERR_RAISED, ERR_F_SHAPE)


@njit(error_model="numpy", inline="always")
def jac_inplace(jac, x, J, args):
    """Allocation-free Jacobian convention ``jac(x, J, *args)`` (writes ``J``; the GPU's)."""
    jac(x, J, *args)
    return 0


@njit(error_model="numpy", inline="always")
def jac_alloc(jac, x, J, args):
    """Jacobian convention ``J = jac(x, *args)`` into ``J`` (m, n)."""
    Jv = jac(x, *args)
    m, n = J.shape
    if Jv.shape[0] != m or Jv.shape[1] != n:
        return ERR_J_SHAPE
    for i in range(m):
        for j in range(n):
            J[i, j] = Jv[i, j]
    return 0


@njit(error_model="numpy", inline="always")
def jac_address(jac, x, J, args):
    """Jacobian through the address of a :mod:`lsqcore._cabi` wrapper."""
    return _wrapper_status(ccall(jac, (x, J) + args), 0, ERR_JAC_RAISED, ERR_J_SHAPE)


ERR_F0_NONFINITE = -104
ERR_LM_M_LT_N = -105
ERR_INPLACE_SHORT = -106
ERR_INPLACE_OVERRUN = -107
ERR_RAISED = -108          # `fun` raised (address path); the point is in x_new
ERR_JAC_RAISED = -109      # `jac` raised (address path); the point is in x_new
ERR_SPARSITY_ROWS = -111   # `jac_sparsity` has another number of rows than f(x0)

#: the kernel's integer options are L_OPTS values (lsqcore._kernel.int_options); a
#: sparse J's pattern follows them (sparse_tail)
L_OPTS = 12


def sparse_tail(pattern):
    """What follows the integer options of a compiled sparse solve: the rows of
    the pattern, the address of the sparse operations
    (:func:`lsqcore._csc_entry.sparse_entry`), then ``S``'s tail (column
    pointers, row indices, groups)."""
    return np.concatenate((np.array([pattern.m, sparse_entry()], dtype=np.int64), pattern.cp,
                           pattern.ri, pattern.groups))

# a quiet NaN with a payload no arithmetic produces: marks unwritten entries
GUARD_BITS = 0x7FF8DEADBEEF1234
GUARD = 8
# first buffer for a residual of unknown length (address path)
FIRST_CAP = 256


@njit(error_model="numpy", inline="always")
def first_alloc(fun, x0, m, args):
    """``f(x0)`` for the ``fun(x, *args) -> array`` convention (``m`` unused)."""
    return f64_vector(fun(x0.copy(), *args)), 0


@njit(error_model="numpy", inline="always")
def first_inplace(fun, x0, m, args):
    """``f(x0)`` for the in-place convention (see :func:`first_guarded`)."""
    return first_guarded(call_inplace, fun, x0, m, args)


@njit(error_model="numpy", inline="always")
def first_guarded(call, fun, x0, m, args):
    """``f(x0)`` for an in-place residual, into a guarded buffer.

    The buffer has ``GUARD`` extra entries and every entry starts as a NaN
    with a private payload: after the call all ``m`` entries must have been
    written and the guard entries untouched, so a function that writes too
    few or (slightly) too many values is caught at the first call, before the
    solver runs.
    """
    buf = np.empty(m + GUARD)
    bits = buf.view(np.int64)
    for i in range(m + GUARD):
        bits[i] = GUARD_BITS
    err = call(fun, x0.copy(), buf[:m], args)
    if err:
        return buf[:m].copy(), err
    for i in range(m, m + GUARD):
        if bits[i] != GUARD_BITS:
            return buf[:m].copy(), ERR_INPLACE_OVERRUN
    for i in range(m):
        if bits[i] == GUARD_BITS:
            return buf[:m].copy(), ERR_INPLACE_SHORT
    return buf[:m].copy(), 0


@njit(error_model="numpy", inline="always")
def first_address(fun, x0, m, args):
    """``f(x0)`` through a wrapper's address, in place (``m >= 0``) or not."""
    if m >= 0:
        return first_guarded(call_address, fun, x0, m, args)
    buf = np.empty(FIRST_CAP)
    k = ccall(fun, (x0.copy(), buf) + args)
    if k > FIRST_CAP:
        buf = np.empty(k)
        k = ccall(fun, (x0.copy(), buf) + args)
    if k == WRAPPER_RAISED:
        return buf[:0], ERR_RAISED
    return buf[:k].copy(), 0


@njit(error_model="numpy", inline="always")
def solve_compiled(kern, call, jcall, first, jac_cs, fun, jac, loss, m_inplace, x0, lb, ub,
                   x_scale, rstep, fopts, iopts, trace_cap, args, fd):
    """Evaluate ``f(x0)``, lay out a workspace and solve, all in compiled code.

    ``kern`` holds the kernel's C addresses; ``call``, ``jcall`` and
    ``first`` are the adapters of the residual's and Jacobian's convention
    (``*_alloc``/``*_inplace`` for jitted functions bound at compile time,
    ``*_address`` for :mod:`lsqcore._cabi` wrappers).  ``m_inplace`` is the
    residual count of an in-place ``fun(x, out, *args)``, or -1.  ``fd``:
    how finite-difference points are evaluated (:func:`lsqcore._row.fd_serial`,
    or one of :func:`lsqcore._threads.threaded_fd`).
    Returns ``(W, S, err)``; ``err`` is 0 or an ``ERR_*`` code (then ``S``
    holds ``m`` and ``n`` for the message and nothing was iterated).
    """
    n = x0.shape[0]
    f0, err = first(fun, x0, m_inplace, args)
    m = f0.shape[0]
    S = np.zeros(L.S_SIZE, dtype=np.int64)
    S[L.M] = m
    S[L.N] = n
    if err:
        return np.zeros(0), S, err
    for i in range(m):
        if not np.isfinite(f0[i]):
            return np.zeros(0), S, ERR_F0_NONFINITE
    if iopts[0] == L.LM and m < n:
        return np.zeros(0), S, ERR_LM_M_LT_N
    if iopts[10] >= 0:
        # a sparse J: its pattern follows the options (sparse_tail) and goes to S
        if iopts[L_OPTS] != m:
            return np.zeros(0), S, ERR_SPARSITY_ROWS
        tail = iopts[L_OPTS + 2:]
        S = np.zeros(L.S_SIZE + tail.shape[0], dtype=np.int64)
        for i in range(tail.shape[0]):      # (a loop: a slice assignment compiles numpy's
            S[L.S_SIZE + i] = tail[i]       # shape-mismatch error, 1.5 s of a first fit)
        S[L.SPARSE_HOOKS] = iopts[L_OPTS + 1]
        S[L.M] = m
        S[L.N] = n
    W = np.zeros(ccall(kern[2], (m, n, iopts[2], iopts[7], trace_cap, iopts[10], iopts[11])))
    _, err = solve_row(kern, start_by_address, step_by_address, call, jcall, jac_cs, fd, fun,
                       jac, loss, W, S, x0, f0, lb, ub, x_scale, rstep, fopts, iopts,
                       trace_cap, args)
    return W, S, err


ERR_X0_NONFINITE = -110   # x0 has a NaN or inf (address path; nothing was evaluated)

# The packed arguments of the cached entries (fewer arguments: a cheaper call).
# P (int64): the kernel's addresses (KERNEL), the wrappers' addresses, the
# residual form, the trace capacity and, to its end, the kernel's integer
# options `iopts` (L_OPTS values, then a sparse J's pattern: sparse_tail).
P_FUN, P_JAC, P_INPLACE, P_TRACE, P_IOPTS = 3, 4, 5, 6, 7
# F (float64): the kernel's float options `fopts`, then lb, ub, x_scale and
# rstep, n values each.
F_LB = 8


def pack_ints(kernel, fun, jac, m_inplace, trace_cap, iopts):
    """The values of ``P`` (layout above) as a tuple of Python ints."""
    return tuple(kernel) + (fun, jac, m_inplace, trace_cap) + tuple(iopts)


def pack_floats(fopts, lb, ub, x_scale, rstep):
    """``F`` (layout above), read-only like ``P``: one compiled signature."""
    if lb.size <= 32:
        # (for a few values, faster than concatenating five arrays)
        F = np.array([*fopts, *lb.tolist(), *ub.tolist(), *x_scale.tolist(), *rstep.tolist()])
    else:
        F = np.concatenate((fopts, lb, ub, x_scale, rstep))
    F.flags.writeable = False
    return F


def _packed_solver(fd):
    """:func:`solve_compiled` with ``fun``/``jac`` given as wrapper addresses in
    ``P``, evaluating finite-difference points with ``fd``.

    ``fd`` is bound as a constant of the closure: passed as an argument of a
    compiled (not inlined) function, a function's type holds the dispatcher
    itself and Numba refuses to cache the callers on disk.
    """
    @njit(error_model="numpy")
    def solve_packed(P, F, x0, args):
        n = x0.shape[0]
        for i in range(n):
            if not np.isfinite(x0[i]):
                S = np.zeros(L.S_SIZE, dtype=np.int64)
                S[L.N] = n
                return np.zeros(0), S, ERR_X0_NONFINITE
        lb = F[F_LB:F_LB + n]
        ub = F[F_LB + n:F_LB + 2 * n]
        x_scale = F[F_LB + 2 * n:F_LB + 3 * n]
        rstep = F[F_LB + 3 * n:F_LB + 4 * n]
        return solve_compiled(P, call_address, jac_address, first_address, _cs_unused,
                              P[P_FUN], P[P_JAC], None, P[P_INPLACE], x0, lb, ub, x_scale,
                              rstep, F[:F_LB], P[P_IOPTS:], P[P_TRACE], args, fd)
    return solve_packed


# the threaded difference block of each residual convention (lsqcore._threads)
_FD_THREADS = {c: threaded_fd(c) for c in (call_alloc, call_inplace, call_address)}
_solve_packed = _packed_solver(fd_serial)
_solve_packed_threads = _packed_solver(_FD_THREADS[call_address])


@njit(error_model="numpy", inline="always")
def _solve_fields(solve_packed, P, F, x0, args):
    """``solve_packed``'s workspace, read out into the fields
    :func:`solve_by_address` returns."""
    W, S, err = solve_packed(P, F, x0, args)
    n = x0.shape[0]
    m = S[L.M]
    if err:
        if W.size == 0:
            xe = x0.copy()
        else:
            o = S[L.O_XNEW]
            xe = W[o:o + n].copy()
        return xe, np.zeros(0), np.zeros(0), np.zeros((0, n)), np.nan, np.nan, 0, 0, 0, 0, m, err
    r = read_row_jit(W, S)
    return (r.x.copy(), r.grad.copy(), r.fun.copy(), r.jac, r.cost, r.optimality, r.nfev,
            r.njev, r.status, r.nit, m, err)


@njit(cache=True, error_model="numpy")
def solve_by_address(P, F, x0, args):
    """Solve with ``fun``/``jac`` reached through :mod:`lsqcore._cabi` wrappers.

    ``P`` and ``F`` pack the addresses and options (see :func:`pack_ints`);
    ``args`` is ``(block,)``, the user's arguments packed by
    :func:`lsqcore._cabi.pack`.  Nothing in its signature names a model or
    the user's argument types, so it is compiled once and cached on disk: a
    new model costs only its wrappers, new argument types only their small
    packing function.  Returns the fields of the result, copied out of the workspace
    here (one boxed tuple is cheaper than boxing the workspace and slicing it
    in Python): ``(x, grad, fun, jac, cost, optimality, nfev, njev, status,
    nit, m, err)``.  ``jac`` is a view of the workspace.  When
    ``err`` (an ``ERR_*`` code) is set, ``x`` is the point where it happened
    (``x0`` before any evaluation) and only ``m`` is meaningful besides.
    Finite-difference points are evaluated one after another.
    """
    return _solve_fields(_solve_packed, P, F, x0, args)


@njit(cache=True, error_model="numpy")
def solve_by_address_threads(P, F, x0, args):
    """:func:`solve_by_address` evaluating the points of finite-difference
    blocks on Numba's threads (:mod:`lsqcore._threads`: the caller sets
    their number, ``workers=k``).  A separate entry, compiled on first use,
    so that the serial one stays free of Numba's parallel machinery."""
    return _solve_fields(_solve_packed_threads, P, F, x0, args)


@njit(cache=True, error_model="numpy")
def solve_by_address_ws(P, F, x0, args):
    """:func:`solve_by_address` returning the whole workspace ``(W, S, err)`` (for the
    trace; ``err == ERR_X0_NONFINITE`` leaves ``W`` empty; the points of a
    difference block one after another, which gives the same result)."""
    return _solve_packed(P, F, x0, args)


_ENTRIES = Memo()


def compiled_entry(fun, jac, loss, m_inplace=-1, cs=False, threaded=False):
    """A compiled solve with ``fun``, ``jac`` and ``loss`` bound as constants.

    Passing a dispatcher as an argument makes Numba re-derive its type in
    Python on every call (~25 us); a closure that captures it is typed once,
    at compile time.  One entry per ``(fun, jac, loss, form, threaded)``,
    kept for the life of the process; a ``threaded`` entry evaluates
    finite-difference points on Numba's threads (:mod:`lsqcore._threads`).
    """
    inplace = m_inplace >= 0
    key = (fun, jac, loss, inplace, cs, threaded)
    entry = _ENTRIES.get(key)
    if entry is None:
        call = call_inplace if inplace else call_alloc
        first = first_inplace if inplace else first_alloc
        jac_cs = _cs_compiled if cs else _cs_unused
        fd = _FD_THREADS[call] if threaded else fd_serial

        def entry(m, x0, lb, ub, x_scale, rstep, fopts, iopts, trace_cap, args):
            return solve_compiled(KERNEL, call, jac_alloc, first, jac_cs, fun, jac, loss, m,
                                  x0, lb, ub, x_scale, rstep, fopts, iopts, trace_cap, args,
                                  fd)
        entry = _ENTRIES[key] = njit(error_model="numpy")(entry)
    return entry
