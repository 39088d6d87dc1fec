"""The kernel's work on a sparse ``J``, behind a C entry compiled on first use.

Every loop of the kernel over a compressed-column ``J`` (:mod:`lsqcore._csc`:
grouped difference points and their assembly, the gradient with the loss's
row weights, the exactly-zero columns, ``|J| |x|``, the column norms) is one
operation of :func:`sparse_op`.  In the kernel it is a call through the C
address in ``S[SPARSE_HOOKS]``, set by the front end for a sparse solve
only: the entry is compiled (or loaded from Numba's disk cache) on the first
sparse solve of a process, so that a dense user's first import does not
compile it (measured: the kernel's first compile grew from about 12 to 18 s
with these loops compiled in).  This is the pattern of the methods' entries
(:mod:`lsqcore._method`).  The GPU has no sparse solve: there the operation
is a stub.
"""
import numpy as np
from numba import carray, cfunc, njit, types
from numba.extending import overload

from . import _layout as L
from . import _csc as csc
from ._cabi import ccall
from ._groups import grouped_points, grouped_assemble
from ._layout import vec, mat
from ._log import first_use
from ._loss import LINEAR, loss_weights
from ._operator import RMV, WEIGHTS, operator_product

#: the operations (``op``; ``a``, ``b`` their arguments)
POINTS, ASSEMBLE, WIDEN, ZERO_COLUMNS, GRADIENT, ABS_TIMES, COLUMN_NORMS = range(7)

_inline = njit(error_model="numpy", inline="always")


def sparse_op(W, S, op, a, b):
    """Operation ``op`` on the sparse ``J`` of the workspace, its answer as an int:
    ``POINTS`` (stage ``a``: the groups' difference points into ``XQ``),
    ``ASSEMBLE`` (3-point ``a``, stage ``b``: ``J``'s values from ``B``),
    ``WIDEN`` (widen the steps of null columns: 1 if any), ``ZERO_COLUMNS``
    (their number), ``GRADIENT`` (the loss's row weights, ``f_s`` and ``g = J^T
    f_s``), ``ABS_TIMES`` (``|J| |x|`` into ``FNEW``), ``COLUMN_NORMS`` (into
    ``W1``'s first n)."""


@_inline
def _run(W, S, op, a, b):
    if S[L.OPERATOR] != 0:
        return _run_operator(W, S, op)
    m = S[L.M]
    n = S[L.N]
    cp, ri, group, vals = csc.structure(W, S)
    if op == POINTS:
        grouped_points(vec(W, S, L.O_X, n), vec(W, S, L.O_H, n), vec(W, S, L.O_FDC, n), group,
                       a, mat(W, S, L.O_XQ, S[L.NGROUPS], n))
    elif op == ASSEMBLE:
        grouped_assemble(vec(W, S, L.O_F, m), mat(W, S, L.O_B, S[L.NGROUPS], m),
                         vec(W, S, L.O_H, n), vec(W, S, L.O_FDC, n), a != 0, b, group, cp, ri,
                         vals)
    elif op == WIDEN:
        return np.int64(1 if csc.widen_null_steps(cp, vals, vec(W, S, L.O_TYP, n)) else 0)
    elif op == ZERO_COLUMNS:
        return np.int64(csc.zero_columns(cp, vals))
    elif op == GRADIENT:
        f_s = vec(W, S, L.O_FS, m)
        if S[L.LOSS] != LINEAR:
            w = vec(W, S, L.O_FNEW, m)      # free between trials
            loss_weights(vec(W, S, L.O_F, m), mat(W, S, L.O_RHO, 3, m), f_s, w)
            csc.scale_rows(ri, vals, w)
        csc.transpose_times(cp, ri, vals, f_s, vec(W, S, L.O_G, n))
    elif op == ABS_TIMES:
        csc.abs_times(cp, ri, vals, vec(W, S, L.O_X, n), vec(W, S, L.O_FNEW, m))
    else:
        csc.column_norms(cp, vals, vec(W, S, L.O_W1, n))
    return np.int64(0)


@_inline
def _run_operator(W, S, op):
    """The operations for a ``LinearOperator`` ``J`` (:mod:`lsqcore._operator`): the
    gradient by its product (with the loss's row weights handed over first);
    no zero columns, no ``|J| |x|`` (zeros), column norms unknown (inf)."""
    m = S[L.M]
    n = S[L.N]
    hook = S[L.OPERATOR]
    none = np.empty(0)
    if op == GRADIENT:
        f_s = vec(W, S, L.O_FS, m)
        if S[L.LOSS] != LINEAR:
            w = vec(W, S, L.O_FNEW, m)      # free between trials
            loss_weights(vec(W, S, L.O_F, m), mat(W, S, L.O_RHO, 3, m), f_s, w)
            operator_product(hook, WEIGHTS, w, none, none)
        operator_product(hook, RMV, f_s, none, vec(W, S, L.O_G, n))
    elif op == ABS_TIMES:
        vec(W, S, L.O_FNEW, m)[:] = 0.0
    elif op == COLUMN_NORMS:
        vec(W, S, L.O_W1, n)[:] = np.inf
    return np.int64(0)


_SIG = types.int64(types.CPointer(types.float64), types.int64, types.CPointer(types.int64),
                   types.int64, types.int64, types.int64, types.int64)


def _entry(wp, wn, sp, sn, op, a, b):
    return _run(carray(wp, (wn,)), carray(sp, (sn,)), op, a, b)


_ENTRY = []


def sparse_entry():
    """The C address of :func:`sparse_op`'s entry (compiled on the first call
    in the first process after installation, then loaded from the disk cache)."""
    if not _ENTRY:
        with first_use("sparse", "compiling the sparse-Jacobian operations for their first "
                       "use after installation (once: Numba caches them on disk)"):
            _ENTRY.append(cfunc(_SIG, cache=True, error_model="numpy")(_entry))
    return _ENTRY[0].address


@overload(sparse_op, target="cpu", inline="always")
def _sparse_op_cpu(W, S, op, a, b):
    return lambda W, S, op, a, b: ccall(S[L.SPARSE_HOOKS], (W, S, np.int64(op), np.int64(a),
                                                            np.int64(b)))


@overload(sparse_op, target="generic")
def _sparse_op_gpu(W, S, op, a, b):
    # (no sparse J on the GPU: the batch front ends take dense Jacobians only)
    return lambda W, S, op, a, b: np.int64(0)
