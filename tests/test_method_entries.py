"""Each method's hooks are a C entry of their own, compiled on the method's first use.

The kernel's compiled code calls a method's hooks through the address in
``S[HOOKS]`` (lsqcore._method), so that the first fit after installation
compiles the kernel and one method, not four.  These tests check the
plumbing: the address travels from the options record into ``S``; an
entry is built only when its method is used (``import lsqcore`` builds
none); every front end (Python driver, cached compiled driver, batch,
``lsqcore.jit``) reaches the right method; and the hooks answer through
the entry exactly as the method's own functions do.
"""
import os
import subprocess
import sys

import numpy as np
import pytest
from numba import njit

import lsqcore
import lsqcore.jit
from lsqcore import _layout as L
from lsqcore import _method
from lsqcore._kernel import setup, int_options, float_options
from lsqcore.methods import trf, lm, gn, dogbox
from scipy.optimize import least_squares as scipy_least_squares

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = {"trf": trf, "lm": lm, "gn": gn, "dogbox": dogbox}


@njit
def _decay(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] - y


T = np.linspace(0.0, 4.0, 40)
Y = 2.5 * np.exp(-1.3 * T) + 0.5 + 0.01 * np.sin(7.0 * T)
X0 = np.array([1.0, 1.0, 0.0])


def _loaded(method):
    m, n = 5, 2
    W, S = L.allocate(m, n, False, False)
    setup(W, S, np.array([1.0, 2.0]), np.ones(m), np.full(n, -np.inf), np.full(n, np.inf),
          np.ones(n), np.full(n, 1e-8), np.array(float_options(1e-8, 1e-8, 1e-8, 1.0)),
          np.array(int_options(L.METHOD_CODES[method], L.JAC_2POINT, 0, 100, 0, 0)))
    return W, S


@pytest.mark.parametrize("method", list(MODULES))
def test_setup_stores_the_methods_entry(method):
    code = L.METHOD_CODES[method]
    W, S = _loaded(method)
    assert S[L.METHOD] == code
    assert S[L.HOOKS] == _method.method_entry(code) != 0
    assert len(set(_method.method_entry(c) for c in L.METHOD_CODES.values())) == 4


def test_import_builds_no_method_and_a_fit_builds_one():
    """A fresh process: ``import lsqcore`` loads the kernel and no method
    entry; a trf fit builds trf's alone, and trf with LSMR its own (so the
    exact solver's holds no LSMR code); ``lsqcore.jit`` builds all four
    exact ones (the method of a call from compiled code is known only at
    run time)."""
    code = (
        "import numpy as np, lsqcore, lsqcore._method as M\n"
        "assert M._ENTRIES == {}, M._ENTRIES\n"
        "lsqcore.least_squares(lambda p: p - 1.0, np.zeros(2))\n"
        "assert sorted(M._ENTRIES) == [(0, 0)], sorted(M._ENTRIES)\n"
        "lsqcore.least_squares(lambda p: p - 1.0, np.zeros(2), method='lm')\n"
        "assert sorted(M._ENTRIES) == [(0, 0), (1, 0)], sorted(M._ENTRIES)\n"
        "lsqcore.least_squares(lambda p: p - 1.0, np.zeros(2), tr_solver='lsmr')\n"
        "assert sorted(M._ENTRIES) == [(0, 0), (0, 1), (1, 0)], sorted(M._ENTRIES)\n"
        "import lsqcore.jit\n"
        "assert sorted(M._ENTRIES) == [(0, 0), (0, 1), (1, 0), (2, 0), (3, 0)]\n"
        "print('ok')\n")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


@pytest.mark.parametrize("method", list(MODULES))
def test_entry_answers_as_the_method_itself(method):
    """``gtol_test``, ``factorize`` and ``compute_step`` through the method's C
    entry change the workspace bitwise as the method module's own functions
    do, and return the same."""
    W1, S1 = _loaded(method)
    J = np.array([[1.0, 0.5], [0.2, 2.0], [0.3, -1.0], [1.5, 0.1], [0.0, 0.7]])
    f = np.array([0.3, -0.2, 0.5, 0.1, -0.4])
    o = S1[L.O_J]
    W1[o:o + J.size] = J.ravel()
    W1[S1[L.O_F]:S1[L.O_F] + 5] = f
    W1[S1[L.O_G]:S1[L.O_G] + 2] = J.T @ f
    W1[L.COST] = 0.5 * f @ f
    W1[L.DELTA] = 1.0
    W2, S2 = W1.copy(), S1.copy()
    mod = MODULES[method]
    for name, hook in (("gtol_test", _method.GTOL_TEST), ("factorize", _method.FACTORIZE),
                       ("compute_step", _method.COMPUTE_STEP)):
        direct = getattr(mod, name)(W1, S1)
        via = _call_entry(W2, S2, hook)
        assert via == (int(direct) if name == "gtol_test" else 0), name
        assert np.array_equal(W1, W2, equal_nan=True) and np.array_equal(S1, S2), name
    assert np.isfinite(W1[S1[L.O_XNEW]:S1[L.O_XNEW] + 2]).all()


def _call_entry(W, S, hook, a=0, b=0):
    import ctypes
    f = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p,
                         ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                         ctypes.c_int64)(int(S[L.HOOKS]))
    return f(W.ctypes.data, W.size, S.ctypes.data, S.size, hook, a, b)


@pytest.mark.parametrize("method", list(MODULES))
def test_every_front_end_reaches_its_method(method):
    """The Python driver, the cached compiled driver, the batch and
    ``lsqcore.jit`` give the same answer for each method, and scipy's
    (where scipy has the method) to 1e-10 in cost."""
    def fun(p):
        return _decay(p, T, Y)

    a = lsqcore.least_squares(fun, X0, method=method)
    b = lsqcore.least_squares(_decay, X0, args=(T, Y), method=method)
    c = lsqcore.least_squares_batch(_decay, X0[None, :], args=(T, Y), method=method)

    @njit
    def from_jit(x0, t, y, m):
        return lsqcore.jit.least_squares(_decay, x0, (t, y), method=m)
    d = from_jit(X0, T, Y, method)
    for r in (b,):
        assert np.array_equal(r.x, a.x) and r.nfev == a.nfev and r.status == a.status
    assert np.array_equal(c.x[0], a.x) and c.nfev[0] == a.nfev
    assert np.array_equal(d.x, a.x) and d.nfev == a.nfev
    if method != "gn":
        s = scipy_least_squares(fun, X0, method=method)
        assert a.cost == pytest.approx(s.cost, rel=1e-10)
        assert a.status > 0 and s.status > 0
