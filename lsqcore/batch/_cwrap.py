"""C wrappers of a batch's user functions: one cached parallel driver for every model.

The single solver reaches a jitted model through the address of a small
per-model ``cfunc`` (:mod:`lsqcore._cabi`), so that its compiled driver
(:func:`lsqcore._driver.solve_by_address`) names no model and is served
from Numba's disk cache.  The batch does the same: its parallel driver
(:func:`lsqcore.batch.cpu.solve_block_by_address`) receives the addresses
of the wrappers built here and calls them with :func:`lsqcore._cabi.ccall`.

A batch wrapper differs from the single solver's in one respect: it takes
the *whole* batch arguments and selects row ``k``'s part itself, with the
batch's generated row selector (:func:`lsqcore.batch._model.row_args`).
The split rule (which argument is per row, which is shared, which is cut to
the row's ``m_k`` points) thus lives in the per-model wrapper.  As for the
single solver, the batch ``args`` travel packed in one int64 block
(:func:`lsqcore._cabi.pack`), so the driver's signature holds only arrays
and integers whatever the arguments: one disk-cache entry, shared by every
model and every argument signature.  The C convention
(:func:`lsqcore._cabi.ccall`: an array is its data pointer and its shape, a
number passes by value, the callee returns ``int64``; ``blk`` is the block):

``resid(x, n, out, m, k, tid, mk, blk) -> r``
    evaluates the residual of row ``k`` at ``x``: ``fun(x, *row_k)`` (its
    length ``r``; ``out`` written only when ``r <= m``) or, in place,
    ``fun(x, out, *row_k)`` (``r = m``); ``WRAPPER_RAISED`` if ``fun`` raised.
``jac(x, n, J, m, n, k, tid, mk, blk) -> 0``
    writes ``jac(x, *row_k)`` (or ``jac(x, J, *row_k)`` in place) into ``J``;
    ``WRAPPER_BAD_SHAPE`` for a matrix of the wrong shape, ``WRAPPER_RAISED`` if ``jac``
    raised.

The user's function is called with the very row arguments the per-model
driver passes (same selector, same types), so a row's arithmetic is the
same on both paths.  Each wrapper is compiled once per
``(fun, jac, forms, row flags, argument types)`` and served from the disk
cache in later processes (:mod:`lsqcore._wrapcache`; a model without a
source file, such as ``curve_fit_batch``'s generated adapters, is compiled
once per process): the only per-model compile of a batch on this path.
"""
from numba import types, typeof
from .._memo import Memo

from .._cabi import (WRAPPER_RAISED, X_TYPE, J_TYPE, arg_key, compile_wrapper, resid_body, jac_body,
                     _block_layout)

__all__ = ["batch_pointers", "cacheable", "WRAPPER_RAISED"]

_ROW = (types.int64, types.int64, types.int64)      # k, tid, mk


def _unpack(arg_types):
    """The lines that rebuild the batch ``args`` from their packed block
    (:func:`lsqcore._cabi.pack`) and select row ``k``'s part, the row
    arguments' source and the names the lines need."""
    lines, names, env = _block_layout(arg_types)
    lines.append(f"    ra = ROWS(({''.join(a + ', ' for a in names)}), k, tid, mk)")
    # explicit items: ``fun(x, *ra)`` inside ``try`` is bytecode Numba rejects
    return lines, "".join(f", ra[{i}]" for i in range(len(arg_types))), env


def residual_wrapper(fun, rows, arg_types, inplace, flags):
    """The ``resid`` cfunc of ``fun`` with the row selector ``rows`` (built from ``flags``)."""
    lines, ra, env = _unpack(arg_types)
    head = ["def resid(x_p, n, out_p, m, k, tid, mk, blk_p, nblk):", "    x = carray(x_p, (n,))"]
    src = "\n".join(head + lines + resid_body(inplace, ra)) + "\n"
    return compile_wrapper(src, "resid", dict(env, fun=fun, ROWS=rows), (X_TYPE, X_TYPE), _ROW,
                           models=("fun",), named={"ROWS": f"row_args{tuple(flags)}"})


def jacobian_wrapper(jac, rows, arg_types, inplace, flags):
    """The ``jac`` cfunc of ``jac`` (allocating or in place) with the row selector ``rows``."""
    lines, ra, env = _unpack(arg_types)
    head = ["def jw(x_p, n, J_p, m, nj, k, tid, mk, blk_p, nblk):",
            "    x = carray(x_p, (n,))", "    J = carray(J_p, (m, nj))"]
    src = "\n".join(head + lines + jac_body(inplace, ra)) + "\n"
    return compile_wrapper(src, "jw", dict(env, jac=jac, ROWS=rows), (X_TYPE, J_TYPE), _ROW,
                           models=("jac",), named={"ROWS": f"row_args{tuple(flags)}"})


def cacheable(fun, jac, loss, cs, args):
    """The ``arg_key`` of ``args`` when the cached driver can run this batch, else None.

    It can for jitted (CPU) ``fun`` and ``jac``, a built-in loss, no complex
    step, and ``args`` that the C convention passes (C-contiguous numeric
    arrays of at least one dimension, Python floats and ints:
    :func:`lsqcore._cabi.arg_key`).
    """
    from .._numba_internals import CPUDispatcher
    if (loss is not None or cs or type(fun) is not CPUDispatcher
            or not (jac is None or type(jac) is CPUDispatcher)):
        return None
    return arg_key(args)            # (None for a 0-d array: no shape to pass)


_WRAPPERS = Memo(64)


def batch_pointers(fun, jac, inplace, jac_inplace, rows, flags, args, key):
    """``(wrappers, resid, jac)``: the wrappers' addresses (0 for no ``jac``),
    and the cfunc objects, which the caller keeps while it uses them.

    Compiled once per ``(fun, jac, forms, flags, key)`` and kept (the
    wrappers must outlive every call that uses their addresses; the memo
    holds at most 64 sets, the oldest dropped first: :class:`lsqcore._memo.Memo`).
    Raises Numba's typing errors for a model that cannot be compiled with
    these row arguments.
    """
    k = (fun, jac, bool(inplace), bool(jac_inplace), tuple(flags), key)
    hit = _WRAPPERS.get(k)
    if hit is None:
        arg_types = tuple(typeof(a) for a in args)
        r = residual_wrapper(fun, rows, arg_types, inplace, flags)
        j = (jacobian_wrapper(jac, rows, arg_types, jac_inplace, flags) if jac is not None
             else None)
        hit = _WRAPPERS.put(k, (r, j, r.address, j.address if j is not None else 0))
    return hit[:2], hit[2], hit[3]
