"""The private Numba / numba-cuda APIs of lsqcore._numba_internals, one test each.

Each test says, when it fails, which internal moved and what in lsqcore uses
it, so that a new Numba release is a one-module change.
"""
import inspect
import subprocess
import sys

import numpy as np
import pytest
from numba import njit

from lsqcore import _numba_internals as NI


def test_cpu_dispatcher_is_the_class_of_njit_functions():
    @njit
    def f(x):
        return x

    assert type(f) is NI.CPUDispatcher, (
        "numba.core.registry.CPUDispatcher is no longer the type of @njit functions: "
        "the fast paths of lsqcore._api / _curve_fit test `type(fun) is CPUDispatcher`")


def test_get_call_template_can_be_overridden():
    params = list(inspect.signature(NI.CPUDispatcher.get_call_template).parameters)
    assert params == ["self", "args", "kws"], (
        "numba's Dispatcher.get_call_template(args, kws) changed: "
        "lsqcore._numba_internals.NonLiteralDispatcher overrides it (see test_kernel_jit)")


def test_fingerprint_is_a_type_key():
    fp = NI.fingerprint
    a64, b64, a32 = np.zeros(3), np.ones(5), np.zeros(3, np.float32)
    assert fp((a64, 1.0)) == fp((b64, 2.0)), "same types must give the same fingerprint"
    assert fp((a64, 1.0)) != fp((a32, 1.0)), "another dtype must give another fingerprint"
    assert fp((a64,)) != fp((a64.reshape(1, 3),)), "another ndim must give another fingerprint"
    with pytest.raises((ValueError, NotImplementedError)):
        fp(object())        # the fast paths fall back to the general path on these


def test_cuda_internals_exist():
    pytest.importorskip("numba_cuda")
    import math
    from numba import types
    table = NI.cuda_ufunc_table()
    assert isinstance(table, dict) and np.sin in table, (
        "numba.cuda.ufuncs.ufunc_db() changed: lsqcore.batch._cuda_ufuncs adds np.exp & co.")
    assert callable(NI.cuda_unary_math_lowering(math.exp, types.float64)), (
        "numba.cuda.mathimpl.get_unary_impl_for_fn_and_ty changed: "
        "lsqcore.batch._cuda_ufuncs lowers np.exp like math.exp")


_NO_PATCH = r"""
import os
os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
import numpy as np
before = getattr(np, "row_stack", None)
from lsqcore.batch import cuda
cuda._import_cuda()
print("numpy unchanged:", getattr(np, "row_stack", None) is before)
"""


def test_numba_cuda_import_leaves_numpy_alone():
    """Importing numba-cuda through lsqcore changes nothing in numpy.  (A numpy
    without row_stack cannot be tried here: numba 0.68 itself overloads it.)"""
    pytest.importorskip("numba_cuda")
    p = subprocess.run([sys.executable, "-c", _NO_PATCH], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "numpy unchanged: True" in p.stdout, p.stdout


def test_importing_numba_cuda_restores_numpy():
    had = hasattr(np, "row_stack")
    saved = np.row_stack if had else None
    try:
        if had:
            del np.row_stack
        with NI.importing_numba_cuda():
            assert np.row_stack is np.vstack
        assert not hasattr(np, "row_stack")
    finally:
        if had:
            np.row_stack = saved


def test_compiling_sees_the_compiler_lock_from_another_thread():
    import threading
    from numba.core.compiler_lock import global_compiler_lock
    seen = []
    assert not NI.compiling(), "nothing is compiling at rest"
    with global_compiler_lock:
        t = threading.Thread(target=lambda: seen.append(NI.compiling()))
        t.start()
        t.join()
    assert seen == [True], (
        "numba.core.compiler_lock.global_compiler_lock._lock is no longer the RLock "
        "Numba holds while compiling: lsqcore._log's first-use messages rely on it")


def test_unoptimised_is_an_njit_option():
    f = njit(**NI.UNOPTIMISED)(lambda a: a[0] + 1.0)
    assert f(np.ones(2)) == 2.0
    llvm = next(iter(f.inspect_llvm().values()))
    assert "optnone" in llvm, (
        "njit(_dbg_optnone=True) no longer marks the function optnone: "
        "lsqcore._cabi's bounds-checked model copies compile with full optimisation "
        "(slower first use, results unchanged)")


def test_machine_code_symbols_name_compiled_functions():
    f = njit(lambda a: a[0] * 2.0)       # compiled here (no disk cache)
    assert f(np.ones(1)) == 2.0
    library = next(iter(f.overloads.values())).library
    symbols = NI.machine_code_symbols(library)
    assert symbols and all(isinstance(a, int) and a > 0 for a in symbols), (
        "CodeLibrary._final_module / get_pointer_to_function no longer list a "
        "compiled function's address: benchmarks/perf_profile.py cannot name "
        "the kernel's functions for perf (the solvers are unaffected)")
    assert any("lambda" in name for name in symbols.values())


def test_cache_files_lists_a_functions_index_and_data(tmp_path, monkeypatch):
    """A function of a new module file: nothing cached before the compile,
    then the index and the one data file it names, in the cache directory."""
    import importlib
    import os
    from numba import cfunc
    (tmp_path / "cached_mod_ni.py").write_text("def twice(x):\n    return 2.0 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("cached_mod_ni")
    d0, f0 = NI.cache_files(mod.twice)
    c = cfunc("float64(float64)", cache=True)(mod.twice)
    d1, f1 = NI.cache_files(mod.twice)
    why = ("numba.core.caching.FunctionCache (cache_path, _cache_file._index_path, "
           "_load_index, _data_path) changed: lsqcore._warm's helper cannot copy the method "
           "entries it compiled, and the first fit after installation compiles them again")
    assert c.cache_hits == 0 and f0 == [] and d0 == d1 and os.path.isdir(d1), why
    assert [p.rsplit(".", 1)[1] for p in f1] == ["nbi", "nbc"], why
    assert all(p.startswith(d1) and os.path.getsize(p) > 0 for p in f1), why
