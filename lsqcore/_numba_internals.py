"""Every private Numba and numba-cuda API lsqcore uses, and why; nothing else.

Numba's public API (``njit``, ``cfunc``, ``numba.extending``, ``carray``)
covers most of lsqcore.  A few things have no public way; each is wrapped
here, once, and ``tests/test_numba_internals.py`` checks each with a message
that names what changed when a Numba release moves it.  The releases tested
are declared as the supported range in ``pyproject.toml``.

``CPUDispatcher``
    The class of ``@njit`` functions (``numba.core.registry``).  The front
    ends test ``type(f) is CPUDispatcher`` on every call of the repeat-call
    fast path, where ``numba.extending.is_jitted`` (an ``isinstance`` against
    the generic dispatcher) costs more and also accepts the CUDA and
    ``@vectorize`` dispatchers, which the CPU drivers cannot call.
:class:`NonLiteralDispatcher`
    A ``CPUDispatcher`` whose ``get_call_template`` drops literal argument
    types, so that the kernel is compiled once per argument type instead of
    once per constant value (:mod:`lsqcore._jit`).  No public option does this.
:func:`fingerprint`
    ``numba._dispatcher.compute_fingerprint``: the type key the dispatcher
    itself uses to find a compiled specialisation, ~0.2 us for a tuple of
    arrays where ``numba.typeof`` takes several microseconds; the repeat-call
    path of ``least_squares`` and ``curve_fit`` keys its memo on it.
:func:`cuda_ufunc_table` and :func:`cuda_unary_math_lowering`
    numba-cuda's table of NumPy ufuncs for device code and its lowering of
    the scalar ``math`` functions, used to give ``np.exp`` & co. to device
    code (:mod:`lsqcore.batch._cuda_ufuncs`).
:func:`compiling`
    Whether any thread holds Numba's global compiler lock
    (``numba.core.compiler_lock.global_compiler_lock``): the first-use
    messages (:mod:`lsqcore._log`) speak only while Numba is compiling, so a
    slow user function never triggers a "compiling" message.
:data:`UNOPTIMISED`
    The compile option ``_dbg_optnone`` (LLVM's ``optnone`` on the
    function): the bounds-checked copy of a user's model, run once at
    ``x0`` (:func:`lsqcore._cabi.check_indices`), needs no optimisation, and
    skipping it cuts that compile by more than half (3.5 s -> 1.4 s for a
    small jitted ``jac`` on the project's 2-core machine).  Used only where
    the copy's wrapper is compiled in every process anyway: unoptimised code
    can keep absolute addresses ("dynamic globals"), which Numba does not
    cache (:func:`lsqcore._cabi._checked_twin`).
:func:`importing_numba_cuda`
    A context for the first ``from numba import cuda``: numba-cuda <= 0.30.4
    registers an overload of ``np.row_stack``, which numpy's development
    branch removed.  The alias is given for the import only and removed
    again afterwards, so a user's numpy is never patched.  (numba 0.68's own
    ``numba.np.arrayobj`` overloads ``np.row_stack`` as well, so a numpy
    without it needs a newer numba first.)
:func:`machine_code_symbols`
    The address of every function of a code library compiled in this
    process (``CodeLibrary._final_module`` lists them; ``perf`` cannot see
    JIT code otherwise): ``benchmarks/perf_profile.py`` writes them to a
    ``/tmp/perf-<pid>.map`` so that ``perf report`` names the kernel's
    functions.  Profiling only; the solvers never call it.
:func:`cache_files`
    Where Numba's disk cache keeps a function (``numba.core.caching.
    FunctionCache``: its directory, its index file, and the data files the
    index names): the first import after installation compiles the method
    entries in a helper process with a cache of its own, and copies their
    files into this process's cache (:mod:`lsqcore._warm`); a private cache
    keeps the two processes from ever writing one function's index at the
    same time.
"""
import os
from contextlib import contextmanager

import numpy as np
from numba.core import types
from numba.core.registry import CPUDispatcher
from numba._dispatcher import compute_fingerprint
from numba.core.compiler_lock import global_compiler_lock

__all__ = ["CPUDispatcher", "NonLiteralDispatcher", "fingerprint", "cuda_ufunc_table",
           "cuda_unary_math_lowering", "importing_numba_cuda", "compiling", "UNOPTIMISED",
           "machine_code_symbols", "cache_files"]

#: ``njit`` options that compile a function without LLVM optimisation
UNOPTIMISED = {"_dbg_optnone": True}


class NonLiteralDispatcher(CPUDispatcher):
    """A CPU dispatcher that types constant arguments by their plain type."""

    def get_call_template(self, args, kws):
        args = tuple(types.unliteral(a) for a in args)
        kws = {k: types.unliteral(v) for k, v in kws.items()}
        return super().get_call_template(args, kws)


#: ``fingerprint(value)``: the Numba type fingerprint of ``value``; raises
#: ValueError or NotImplementedError for a value Numba cannot fingerprint (the
#: callers then take their general path).  The function itself, not a
#: wrapper: it is on the repeat-call path, where a Python call level shows.
fingerprint = compute_fingerprint


def compiling():
    """True while some thread holds Numba's compiler lock (call it from
    another thread than the compiling one: the lock is re-entrant)."""
    lock = global_compiler_lock._lock
    if lock.acquire(blocking=False):
        lock.release()
        return False
    return True


def cuda_ufunc_table():
    """numba-cuda's mutable table ``{ufunc: {'d->d': lowering, ...}}`` for device code."""
    from numba.cuda import ufuncs
    return ufuncs.ufunc_db()


def cuda_unary_math_lowering(fn, ty):
    """numba-cuda's lowering of the scalar ``math`` function ``fn`` for type ``ty``."""
    from numba.cuda.mathimpl import get_unary_impl_for_fn_and_ty
    return get_unary_impl_for_fn_and_ty(fn, ty)


@contextmanager
def importing_numba_cuda():
    """Let numba-cuda <= 0.30.4 import under numpy >= 2.5 without patching numpy
    for anyone else: ``np.row_stack`` exists only inside this block."""
    added = not hasattr(np, "row_stack")
    if added:
        np.row_stack = np.vstack
    try:
        yield
    finally:
        if added:
            del np.row_stack


def machine_code_symbols(library):
    """``{address: symbol}`` of the functions defined in a Numba code library
    (``dispatcher.overloads[sig].library``, ``cfunc._library``) compiled in
    this process; empty for one loaded from the disk cache, whose module is
    not kept."""
    out = {}
    for f in library._final_module.functions:
        if not f.is_declaration:
            address = library.get_pointer_to_function(f.name)
            if address:
                out[address] = f.name
    return out


def cache_files(py_func):
    """``(directory, [index file, data files...])`` of the Numba disk cache of
    the plain Python function ``py_func`` (what ``njit(cache=True)`` or
    ``cfunc(..., cache=True)`` of it reads and writes), the files as they are
    now: an empty list when nothing is cached, or only what exists."""
    from numba.core.caching import FunctionCache
    cache = FunctionCache(py_func)
    index = cache._cache_file._index_path
    names = list(cache._cache_file._load_index().values()) if os.path.exists(index) else []
    files = [index] + [cache._cache_file._data_path(n) for n in sorted(set(names))]
    return cache.cache_path, [f for f in files if os.path.exists(f)]
