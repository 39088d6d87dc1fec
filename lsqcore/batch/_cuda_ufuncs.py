"""Scalar NumPy math functions in CUDA device code (a numba-cuda gap, filled).

numba-cuda types ``np.exp(x)`` on a scalar ``x`` in device code, but lowers
NumPy ufuncs through its own table, which in 0.30.4 holds 44 of them
(trigonometric and hyperbolic functions, logarithms, comparisons, bitwise
operations) and not ``exp``, ``sqrt``, ``abs`` ...: compiling a model that
calls ``np.exp`` fails with ``KeyError: <ufunc 'exp'>``.  Models written
for the CPU use ``np.exp`` (``math.exp`` does not take arrays), so a model
"written once for both devices" needs it on the GPU too.

:func:`add_missing` adds, for real float32/float64 scalars only, each
missing ufunc that has a ``math`` twin with a CUDA ``libdevice``
implementation, lowered exactly as numba-cuda lowers the ``math`` function
(``np.exp(x)`` becomes the same ``__nv_exp`` call as ``math.exp(x)``).
Entries numba-cuda already has are never replaced, so a numba-cuda that
fills the gap itself wins.
"""
import math

import numpy as np

from .._numba_internals import cuda_ufunc_table, cuda_unary_math_lowering

# ufunc -> its math twin (same function on real scalars)
_TWINS = {np.exp: math.exp, np.expm1: math.expm1, np.exp2: math.exp2,
          np.sqrt: math.sqrt, np.log1p: math.log1p, np.absolute: math.fabs,
          np.fabs: math.fabs, np.floor: math.floor, np.ceil: math.ceil}


def add_missing():
    """Fill numba-cuda's CUDA ufunc table; returns the ufuncs added."""
    from numba import config
    if config.ENABLE_CUDASIM:          # the simulator runs the CPU compilations
        return []
    db = cuda_ufunc_table()
    added = []
    for uf, fn in _TWINS.items():
        if uf in db:
            continue

        def impl(context, builder, sig, args, fn=fn):
            return cuda_unary_math_lowering(fn, sig.args[0])(context, builder, sig, args)
        db[uf] = {"f->f": impl, "d->d": impl}
        added.append(uf.__name__)
    return added
