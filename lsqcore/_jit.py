"""The decorator of the solver kernel's compiled functions: one specialisation
per argument *type*, never one per constant value.

When compiled code calls a Numba dispatcher with a constant argument
(``_request(S, REQ_F, PH_JAC)``, ``fd_points(..., 2, ...)``, a flag
``True``), Numba types that argument as a literal (``Literal[int](2)``) and
compiles a new specialisation of the callee for every distinct constant.  In
the kernel this compiled ``_request`` seven times, ``fd_points``,
``fd_assemble``, ``solve_trust_region``, ``trust_region_step`` and
``factor_scaled_jacobian`` twice each, and each copy was then optimised again
inside every caller's module: ~2.7 s of the first import after installation
(measured, issue 3), for code that is the same arithmetic.

:func:`kernel_jit` is ``njit(cache=True, error_model="numpy")`` whose
dispatcher drops the literal part of argument types before choosing (or
compiling) a specialisation, so each kernel function is compiled once per
array/scalar type signature.  The values are still passed at run time, so
the results are unchanged (checked bitwise on the NIST and MGH problem sets).
"""
from numba import njit
from numba.core import config

from ._numba_internals import NonLiteralDispatcher


def kernel_jit(func):
    """Compile ``func`` like ``njit(cache=True, error_model="numpy")``, with
    one specialisation per argument type (see the module docstring)."""
    if config.DISABLE_JIT:
        return func
    disp = NonLiteralDispatcher(py_func=func, locals={},
                                targetoptions=dict(nopython=True, error_model="numpy"))
    disp.enable_caching()
    return disp


#: the decorator of a method's small hooks (step quality, radius update, its
#: termination tests: lsqcore._method): compiled into the two kernel functions
#: that dispatch them, not each on its own (twenty more compiled functions
#: cost the first import after installation ~5 s)
hook_jit = njit(error_model="numpy", inline="always")
