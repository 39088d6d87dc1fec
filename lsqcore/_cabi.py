"""Calling compiled code through run-time addresses: a cached driver for every model.

Numba caches a compiled function on disk only if its type signature holds no
function objects and its code holds no raw addresses.  A solver that takes
the user's jitted residual as an argument is therefore recompiled (and
re-linked) in every new process, for every new model (design notes).  The
way out used here is the C calling convention:

* each user model is wrapped in a small ``cfunc`` (:func:`model_pointers`),
  compiled on its first use and then served from the disk cache
  (:mod:`lsqcore._wrapcache`): the only per-model cost, paid once;
* ``args`` travel to the wrapper packed in one int64 block (:func:`pack`,
  cached on disk per ``args`` signature: an array is its data address and
  its shape, an int its value, a float its bits), which the wrapper unpacks;
* the solver driver (:func:`lsqcore._driver.solve_by_address`) receives the
  wrapper's address as an ``int64`` (in an integer array) and the block, and
  calls the wrapper with :func:`ccall`.  Its signature holds only arrays and
  integers and names neither the model nor the types of ``args``, so Numba
  compiles it once and caches it on disk for every model and every ``args``.

The C convention of :func:`ccall`: each array argument becomes its data
pointer followed by its shape (one ``int64`` per dimension); scalars pass by
value; the callee returns ``int64``.  The single solver's wrappers follow it
with the block as their one extra argument:

``resid(x, n, out, m, blk, nblk) -> k``
    evaluates ``f = fun(x, *args)`` (or ``fun(x, out, *args)`` in place) and
    returns its length ``k``, writing ``out`` only when ``k <= m``;
    ``WRAPPER_RAISED`` if ``fun`` raised.
``jac(x, n, J, m, n, blk, nblk) -> 0``
    writes ``jac(x, *args)`` into ``J`` (m, n); ``WRAPPER_BAD_SHAPE`` if the shapes
    differ, ``WRAPPER_RAISED`` if ``jac`` raised.

(The batch's wrappers, :mod:`lsqcore.batch._cwrap`, take the same block,
holding the whole batch ``args``, and the row ``k``: they select the row's
part themselves.)

A Python exception cannot cross a C frame: the wrapper reports ``WRAPPER_RAISED``
and the front end re-runs the user's function at the point where it failed,
in Python, so the exception reaches the caller unchanged.
"""
import numpy as np
from llvmlite import ir
from numba import carray, literal_unroll, njit, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload

from ._log import first_use
from ._memo import Memo
from ._numba_internals import UNOPTIMISED
from ._wrapcache import identity, wrapper_cfunc, wrapper_dir

#: what a wrapper returns when the user's function raised, or returned a
#: Jacobian of the wrong shape (values no residual length can take; not the
#: batch's row statuses of lsqcore.batch._result)
WRAPPER_RAISED = -(2 ** 62)
WRAPPER_BAD_SHAPE = -(2 ** 62) + 1


def f64_vector(a):
    """A 1-d float64 array as it is; a 1-d integer, boolean or narrower float
    array converted to float64 (as scipy converts residuals); a typing error
    for anything else (complex, 2-d, scalars)."""
    return a


@overload(f64_vector, inline="always")
def _f64_vector(a):
    if not (isinstance(a, types.Array) and a.ndim == 1
            and isinstance(a.dtype, (types.Float, types.Integer, types.Boolean))):
        raise TypingError(f"`fun` must return a 1-d float64 array, got {a}")
    if a.dtype == types.float64:
        return lambda a: a
    return lambda a: a.astype(np.float64)


@intrinsic
def ccall(typingctx, addr, cargs):
    """``ccall(addr, (a, b, ...)) -> int64``: call the C function at ``addr``.

    Arrays (C-contiguous) pass as their data pointer and shape, numbers by
    value (see the module docstring).
    """
    if not isinstance(addr, types.Integer) or not isinstance(cargs, types.BaseTuple):
        return None
    for t in cargs:
        _check_c_type(t)

    def codegen(context, builder, signature, llargs):
        addr_v, tup = llargs
        values, lltypes = [], []
        for i, t in enumerate(signature.args[1]):
            v = builder.extract_value(tup, i)
            if isinstance(t, types.Array):
                ary = context.make_array(t)(context, builder, v)
                values.append(ary.data)
                lltypes.append(ary.data.type)
                for s in cgutils.unpack_tuple(builder, ary.shape, t.ndim):
                    values.append(s)
                    lltypes.append(s.type)
            else:
                values.append(v)
                lltypes.append(context.get_value_type(t))
        fnty = ir.FunctionType(ir.IntType(64), lltypes)
        fn = builder.inttoptr(addr_v, fnty.as_pointer())
        return builder.call(fn, values)

    return types.int64(addr, cargs), codegen


_SCALARS = (types.Float, types.Integer)


@intrinsic
def data_address(typingctx, a):
    """The address of an array's data, as ``int64``."""
    if isinstance(a, types.Array):
        def codegen(context, builder, sig, args):
            data = context.make_array(sig.args[0])(context, builder, args[0]).data
            return builder.ptrtoint(data, ir.IntType(64))
        return types.int64(a), codegen


@intrinsic
def float_bits(typingctx, v):
    """The bits of a float64, as ``int64`` (to travel in an integer block)."""
    if isinstance(v, types.Float):
        def codegen(context, builder, sig, args):
            d = context.cast(builder, args[0], sig.args[0], types.float64)
            return builder.bitcast(d, ir.IntType(64))
        return types.int64(v), codegen


@intrinsic
def bits_float(typingctx, b):
    """Inverse of :func:`float_bits`."""
    if isinstance(b, types.Integer):
        def codegen(context, builder, sig, args):
            return builder.bitcast(args[0], ir.DoubleType())
        return types.float64(b), codegen


_POINTERS = Memo()


def _pointer_of(dtype):
    """An intrinsic ``int64 -> CPointer(dtype)`` (one per dtype)."""
    fn = _POINTERS.get(dtype)
    if fn is None:
        @intrinsic
        def as_pointer(typingctx, addr):
            if isinstance(addr, types.Integer):
                def codegen(context, builder, sig, args):
                    return builder.inttoptr(args[0], context.get_value_type(sig.return_type))
                return types.CPointer(dtype)(addr), codegen
        fn = _POINTERS[dtype] = as_pointer
    return fn


def _check_c_type(t):
    if isinstance(t, types.Array):
        if t.layout != "C" or not isinstance(t.dtype, _SCALARS + (types.Complex,)):
            raise TypingError(f"ccall: arrays must be C-contiguous and numeric, got {t}")
    elif not isinstance(t, _SCALARS):
        raise TypingError(f"ccall: unsupported argument type {t}")


def c_signature(arg_types):
    """The C argument types of ``arg_types`` (numba types) under :func:`ccall`'s convention."""
    out = []
    for t in arg_types:
        _check_c_type(t)
        if isinstance(t, types.Array):
            out.append(types.CPointer(t.dtype))
            out.extend([types.intp] * t.ndim)
        else:
            out.append(t)
    return out


def _block_layout(arg_types):
    """``(unpack lines, names, env)`` of the wrappers' argument block.

    The single solver's wrappers take ``args`` as one int64 block, so that the
    cached driver's signature does not depend on ``args`` at all: an array is
    its data address then its shape, an int its value, a float its bits.
    """
    lines, names, env, i = [], [], {}, 0
    for k, t in enumerate(arg_types):
        _check_c_type(t)
        if isinstance(t, types.Array):
            ptr = f"PTR_{t.dtype}"              # (the name says the type: see _wrapcache)
            env[ptr] = _pointer_of(t.dtype)
            dims = []
            for d in range(t.ndim):
                dims.append(f"blk[{i + 1 + d}]")
            lines.append(f"    a{k} = carray({ptr}(blk[{i}]), ({', '.join(dims)},))")
            i += 1 + t.ndim
        elif isinstance(t, types.Float):
            lines.append(f"    a{k} = bits_float(blk[{i}])")
            i += 1
        else:
            lines.append(f"    a{k} = blk[{i}]")
            i += 1
        names.append(f"a{k}")
    lines.insert(0, "    blk = carray(blk_p, (nblk,))")
    return lines, names, env


_BLOCK = (types.Array(types.int64, 1, "C"),)     # the wrappers' argument types


def _slots(a):
    """Block slots of one argument (compiled code only)."""


@overload(_slots, inline="always")
def _ol_slots(a):
    n = 1 + a.ndim if isinstance(a, types.Array) else 1
    return lambda a: n


def _put(blk, i, a):
    """Write argument ``a`` at ``blk[i:]``; returns the next free slot (compiled code only)."""


@overload(_put, inline="always")
def _ol_put(blk, i, a):
    if isinstance(a, types.Array):
        nd = a.ndim

        def impl(blk, i, a):
            blk[i] = data_address(a)
            for d in range(nd):
                blk[i + 1 + d] = a.shape[d]
            return i + 1 + nd
        return impl
    if isinstance(a, types.Float):
        def impl(blk, i, a):
            blk[i] = float_bits(a)
            return i + 1
        return impl
    if isinstance(a, types.Integer):
        def impl(blk, i, a):
            blk[i] = a
            return i + 1
        return impl


@njit(cache=True, error_model="numpy")
def pack(args):
    """``args`` as one int64 block (layout of :func:`_block_layout`), so that
    the cached driver's signature does not depend on ``args``.  Compiled and
    cached on disk once per type signature of ``args`` (small: a fraction of
    a second), shared by every model."""
    size = 0
    for a in literal_unroll(args):
        size += _slots(a)
    blk = np.empty(max(size, 1), np.int64)
    i = 0
    for a in literal_unroll(args):
        i = _put(blk, i, a)
    return blk


_NO_ARGS = (np.zeros(1, np.int64),)


def packed(args):
    """``(pack(args),)``: the ``args`` the cached drivers pass to the wrappers
    (a placeholder block when there are none)."""
    return (pack(args),) if args else _NO_ARGS


def compile_wrapper(src, name, env, head, extra=(), models=(), named=None):
    """The cfunc ``name`` defined by ``src``: C arguments ``head`` (numba
    types, see :func:`c_signature`), then ``extra`` (passed as they are),
    then the argument block.  ``env`` adds names to those every wrapper uses;
    ``models`` names the user's dispatchers among them and ``named`` gives
    the identity of other generated callees, so that the wrapper is served
    from the disk cache in later processes (:func:`lsqcore._wrapcache.wrapper_cfunc`).
    Shared with the batch's wrappers (:mod:`lsqcore.batch._cwrap`)."""
    ns = dict(env, carray=carray, WRAPPER_RAISED=WRAPPER_RAISED,
              WRAPPER_BAD_SHAPE=WRAPPER_BAD_SHAPE, f64_vector=f64_vector, bits_float=bits_float)
    sig = types.int64(*c_signature(head), *extra, *c_signature(_BLOCK))
    return wrapper_cfunc(src, name, ns, sig, models, named)


X_TYPE = types.Array(types.float64, 1, "C")      # x, out (C: pointer and length)
J_TYPE = types.Array(types.float64, 2, "C")      # J (C: pointer and shape)


def resid_body(inplace, rest):
    """Body lines of a residual wrapper: call ``fun`` with ``x`` (and ``out``)
    then ``rest`` (the source of the remaining arguments, each after a comma)
    and report as :func:`residual_wrapper` describes.  Shared with the batch's
    wrappers (:mod:`lsqcore.batch._cwrap`)."""
    if inplace:
        return ["    out = carray(out_p, (m,))", "    try:", f"        fun(x, out{rest})",
                "    except Exception:", "        return WRAPPER_RAISED", "    return m"]
    return ["    try:", f"        f = fun(x{rest})", "    except Exception:",
            "        return WRAPPER_RAISED", "    f = f64_vector(f)", "    r = f.shape[0]",
            "    if r <= m:", "        out = carray(out_p, (m,))",
            "        for i in range(r):", "            out[i] = f[i]", "    return r"]


def jac_body(inplace, rest, out="J"):
    """Body lines of a Jacobian wrapper (``J`` already a view), as :func:`resid_body`;
    an in-place ``jac`` writes into ``out`` (``J[0]``: a pattern's values)."""
    if inplace:
        return ["    try:", f"        jac(x, {out}{rest})", "    except Exception:",
                "        return WRAPPER_RAISED", "    return 0"]
    return ["    try:", f"        Jv = jac(x{rest})", "    except Exception:",
            "        return WRAPPER_RAISED",
            "    if Jv.shape[0] != m or Jv.shape[1] != nj:", "        return WRAPPER_BAD_SHAPE",
            "    for i in range(m):", "        for j in range(nj):",
            "            J[i, j] = Jv[i, j]", "    return 0"]


def residual_wrapper(fun, arg_types, inplace):
    """The ``resid`` cfunc of ``fun`` for ``args`` of ``arg_types``, packed in
    one block (see module docstring)."""
    lines, names, env = _block_layout(arg_types)
    src = "\n".join(["def resid(x_p, n, out_p, m, blk_p, nblk):",
                     "    x = carray(x_p, (n,))"] + lines
                    + resid_body(inplace, "".join(", " + a for a in names))) + "\n"
    return compile_wrapper(src, "resid", dict(env, fun=fun), (X_TYPE, X_TYPE), models=("fun",))


def jacobian_wrapper(jac, arg_types, fill=False):
    """The ``jac`` cfunc of an allocating ``jac(x, *args) -> (m, n)``, ``args``
    packed; with ``fill``, of a :class:`lsqcore.PatternJacobian`'s
    ``fill(x, values, *args)``, ``values`` the one row of a ``(1, nnz)`` J."""
    lines, names, env = _block_layout(arg_types)
    src = "\n".join(
        ["def jw(x_p, n, J_p, m, nj, blk_p, nblk):",
         "    x = carray(x_p, (n,))", "    J = carray(J_p, (m, nj))"] + lines
        + jac_body(fill, "".join(", " + a for a in names), "J[0]")) + "\n"
    return compile_wrapper(src, "jw", dict(env, jac=jac), (X_TYPE, J_TYPE), models=("jac",))


def arg_key(args):
    """A cheap key of the types of ``args``, or None when they do not fit :func:`ccall`."""
    key = []
    for a in args:
        ta = type(a)
        if ta is np.ndarray:
            if not a.flags.c_contiguous or a.dtype.kind not in "fiuc" or a.ndim == 0:
                return None         # (a 0-d array has no shape to pass)
            key.append((a.dtype.char, a.ndim))
        elif ta is float or ta is int:
            key.append(ta)
        else:
            return None
    return tuple(key)


_WRAPPERS = Memo()       # unbounded: the drivers hold the wrappers' addresses


def model_pointers(fun, jac, inplace, args, key, x0, m, fill=0):
    """Addresses ``(resid, jac)`` of the wrappers of ``fun``/``jac`` (0 for no ``jac``;
    ``fill``: a :class:`lsqcore.PatternJacobian`'s ``nnz``, ``jac`` its fill).

    Compiled once per ``(fun, jac, inplace, key)`` and kept for the life of
    the process (served from the disk cache when the model was seen before:
    :mod:`lsqcore._wrapcache`).  The first time, the model is also run once
    at ``x0`` with bounds checks (:func:`check_indices`; ``m`` is the
    residual length of an in-place ``fun``).  Raises ``numba`` typing errors
    for a model that cannot be compiled with these ``args`` (among them one
    for a ``fun`` that returns anything but a 1-d float64 array), and
    ``IndexError`` for a model that indexes an array out of bounds at ``x0``.
    """
    k = (fun, jac, inplace, key, fill > 0)
    hit = _WRAPPERS.get(k)
    if hit is None:
        from numba import typeof
        arg_types = tuple(typeof(a) for a in args)
        with first_use(("model",) + k, _compile_message(fun, jac)):
            r = residual_wrapper(fun, arg_types, inplace)
            j = jacobian_wrapper(jac, arg_types, fill > 0) if jac is not None else None
            check_indices(fun, jac, inplace, args, arg_types, x0, m, fill)
        hit = _WRAPPERS[k] = (r, j, r.address, j.address if j is not None else 0)
    return hit[2], hit[3]


def _compile_message(fun, jac):
    """The first-use message of a model's wrappers (:mod:`lsqcore._log`)."""
    models = [f for f in (fun, jac) if f is not None]
    names = " and ".join(f"`{f.py_func.__qualname__}`" for f in models)
    if wrapper_dir() is not None and all(identity(f) is not None for f in models):
        when = "once: cached on disk, later processes load them in milliseconds"
    else:
        when = ("in every new process: a function without a source file, or one that "
                "reads non-constant globals, cannot be cached on disk")
    return (f"compiling the C wrappers of {names} for these argument types, and a "
            f"bounds-checked copy run once at x0 ({when})")


# -- bounds-checked first call -------------------------------------------------

def _checked_twin(disp):
    """``disp``'s function compiled with Numba's bounds checks (same options otherwise).

    Without LLVM optimisation (:data:`UNOPTIMISED`, a compile less than half
    as long) only when its wrapper is compiled in every process anyway
    (``disp`` has no identity, or there is no wrapper directory): unoptimised
    code keeps absolute addresses that Numba calls dynamic globals, so a
    wrapper around it is never cached on disk.  Measured on the first
    ``curve_fit`` of ``models.gaussian`` in a new process: 0.61-0.76 s in
    every process unoptimised, 2.1 s in the first and 0.10 s in later ones
    optimised.
    """
    opts = {k: v for k, v in disp.targetoptions.items()
            if k not in ("nopython", "boundscheck") and k not in UNOPTIMISED}
    cached = wrapper_dir() is not None and identity(disp) is not None
    return njit(boundscheck=True, **({} if cached else UNOPTIMISED), **opts)(disp.py_func)


def _c_call(wrapper, *cargs):
    """Call a wrapper cfunc from Python (arrays as their data address)."""
    import ctypes
    proto = ctypes.CFUNCTYPE(ctypes.c_int64, *[ctypes.c_int64] * len(cargs))
    return proto(wrapper.address)(*cargs)


def _index_error(what, disp, x0, args, call):
    """Run the bounds-checked twin in Python (on the failure path only, where
    its compile does not matter) and raise its ``IndexError`` with a message
    that names the function; return if it raises nothing of the kind."""
    try:
        call(_checked_twin(disp))
    except IndexError as e:
        f = disp.py_func
        raise IndexError(
            f"`{what}` ({f.__module__}.{f.__qualname__}) indexes an array out of bounds "
            f"at x0 (n = {x0.size}): {e}. Numba does not check indices in compiled "
            "code, so the fit would read or write memory outside the array; check the "
            "parameter count and the indices the function uses.") from e
    except Exception:
        return      # (any other error is reported by the solve, as usual)


def check_indices(fun, jac, inplace, args, arg_types, x0, m, fill=0):
    """Run ``fun`` (and ``jac``) once at ``x0`` compiled with bounds checks.

    Numba does not check indices in compiled code: a model that reads
    ``p[5]`` when ``n = 3`` reads whatever lies beyond the array and the fit
    may even "succeed" (issue 14).  The checked twins are wrappers like the
    solver's (:func:`residual_wrapper`, :func:`jacobian_wrapper`) around the
    user's functions compiled with ``boundscheck=True``, served from the disk
    cache like them, so the check costs a model evaluation after the first
    process.  Only the functions themselves are checked, not the jitted
    functions they call.  Raises ``IndexError`` naming the function.
    """
    blk = packed(args)[0]
    x = np.ascontiguousarray(x0, dtype=np.float64)
    rc = residual_wrapper(_checked_twin(fun), arg_types, inplace)
    out = np.full(max(m, 0), np.nan)
    r = _c_call(rc, x.ctypes.data, x.size, out.ctypes.data, out.size, blk.ctypes.data,
                blk.size)
    if r == WRAPPER_RAISED:
        if inplace:
            _index_error("fun", fun, x, args, lambda g: g(x, np.full(m, np.nan), *args))
        else:
            _index_error("fun", fun, x, args, lambda g: g(x, *args))
        return
    if jac is None:
        return
    rows = m if inplace else r
    J = np.zeros((1, fill) if fill else (max(rows, 0), x.size))
    jc = jacobian_wrapper(_checked_twin(jac), arg_types, fill > 0)
    if _c_call(jc, x.ctypes.data, x.size, J.ctypes.data, J.shape[0], J.shape[1],
               blk.ctypes.data, blk.size) == WRAPPER_RAISED:
        _index_error("jac", jac, x, args,
                     (lambda g: g(x, np.zeros(fill), *args)) if fill else (lambda g: g(x, *args)))
