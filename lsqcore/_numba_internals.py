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
:func:`importing_numba_cuda`
    A context for the first ``from numba import cuda``: numba-cuda <= 0.30.4
    registers an overload of ``np.row_stack``, which numpy's development
    branch removed.  The alias is given for the import only and removed
    again afterwards, so a user's numpy is never patched.  (numba 0.68's own
    ``numba.np.arrayobj`` overloads ``np.row_stack`` as well, so a numpy
    without it needs a newer numba first.)
"""
from contextlib import contextmanager

import numpy as np
from numba.core import types
from numba.core.registry import CPUDispatcher
from numba._dispatcher import compute_fingerprint

__all__ = ["CPUDispatcher", "NonLiteralDispatcher", "fingerprint", "cuda_ufunc_table",
           "cuda_unary_math_lowering", "importing_numba_cuda"]


class NonLiteralDispatcher(CPUDispatcher):
    """A CPU dispatcher that types constant arguments by their plain type."""

    def get_call_template(self, args, kws):
        args = tuple(types.unliteral(a) for a in args)
        kws = {k: types.unliteral(v) for k, v in kws.items()}
        return super().get_call_template(args, kws)


def fingerprint(value):
    """The Numba type fingerprint of ``value``; raises ValueError or
    NotImplementedError for a value Numba cannot fingerprint (the callers then
    take their general path)."""
    return compute_fingerprint(value)


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
