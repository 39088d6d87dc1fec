"""The kernel's functions are compiled once per argument type, never once per
constant argument value (lsqcore._jit): a smaller first compile."""
import importlib

import numpy as np
from numba import njit, types
from numba.core.registry import CPUDispatcher

from lsqcore._jit import NonLiteralDispatcher, kernel_jit

KERNEL_MODULES = ["lsqcore._bounds", "lsqcore._jacobian", "lsqcore._kernel", "lsqcore._layout",
                  "lsqcore._linalg", "lsqcore._loss", "lsqcore._status",
                  "lsqcore.methods.common", "lsqcore.methods.gn", "lsqcore.methods.lm",
                  "lsqcore.methods.trf", "lsqcore.batch.cpu"]


def _scaled(x, k):
    return x * k


scaled_kernel = kernel_jit(_scaled)
scaled_plain = njit(_scaled)


@njit
def _with_constants(x):
    return scaled_kernel(x, 1) + scaled_kernel(x, 2) + scaled_kernel(x, 3)


@njit
def _with_constants_plain(x):
    return scaled_plain(x, 1) + scaled_plain(x, 2) + scaled_plain(x, 3)


def _has_literal(sig):
    return any(isinstance(t, types.Literal) for t in sig)


def test_constant_arguments_share_one_specialisation():
    assert _with_constants(1.5) == 9.0
    sigs = list(scaled_kernel.overloads)
    assert len(sigs) == 1 and not _has_literal(sigs[0]), sigs


def test_plain_njit_would_specialise_on_each_constant():
    """The Numba behaviour kernel_jit avoids: if this starts failing, Numba
    no longer specialises on literal arguments and lsqcore._jit can go."""
    assert _with_constants_plain(1.5) == 9.0
    assert sum(_has_literal(s) for s in scaled_plain.overloads) == 3


def test_every_kernel_function_uses_kernel_jit():
    plain = []
    for name in KERNEL_MODULES:
        mod = importlib.import_module(name)
        for attr, obj in vars(mod).items():
            if (isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == name
                    and obj.targetoptions.get("inline", "never") == "never"
                    and not obj.targetoptions.get("parallel")):
                if not isinstance(obj, NonLiteralDispatcher):
                    plain.append(f"{name}.{attr}")
    assert plain == []


def test_kernel_jit_caches_and_keeps_the_error_model():
    assert scaled_kernel._cache is not None and type(scaled_kernel._cache).__name__ == "FunctionCache"
    assert scaled_kernel.targetoptions["error_model"] == "numpy"
    # error_model="numpy": division by zero gives inf instead of raising
    assert _divide(1.0, 0.0) == np.inf


@kernel_jit
def _divide(a, b):
    return a / b
