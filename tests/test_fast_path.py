"""The compiled fast path (issue 3): in-place residuals, the solver callable
from users' Numba code, and the kernel served from Numba's disk cache.

(Speed itself is measured in benchmarks/, never asserted here.)
"""
import os
import subprocess
import sys

import numpy as np
import pytest
from numba import njit, prange
from scipy.optimize import least_squares as scipy_least_squares

import lsqcore
import lsqcore.jit

T = np.linspace(0.0, 4.0, 40)
Y = 2.5 * np.exp(-1.3 * T) + 0.5 + 0.01 * np.random.default_rng(7).standard_normal(T.size)
X0 = np.array([1.0, 1.0, 0.0])


@njit(cache=True)
def decay(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] - y


@njit(cache=True)
def decay_jac(p, t, y):
    J = np.empty((t.size, 3))
    e = np.exp(-p[1] * t)
    J[:, 0] = e
    J[:, 1] = -p[0] * t * e
    J[:, 2] = 1.0
    return J


@njit(cache=True)
def decay_inplace(p, out, t, y):
    for i in range(t.size):
        out[i] = p[0] * np.exp(-p[1] * t[i]) + p[2] - y[i]


@njit(cache=True)
def writes_too_few(p, out, t, y):
    for i in range(t.size - 1):
        out[i] = p[0] - y[i]


@pytest.mark.parametrize("method", ["trf", "lm", "gn"])
def test_inplace_matches_allocating_form_bitwise(method):
    tol = dict(ftol=1e-12, xtol=1e-12, gtol=1e-12)
    a = lsqcore.least_squares(decay, X0, args=(T, Y), method=method, **tol)
    b = lsqcore.least_squares(lsqcore.InPlace(decay_inplace, T.size), X0, args=(T, Y),
                              method=method, **tol)
    assert a.success and b.success
    np.testing.assert_array_equal(a.x, b.x)
    assert (a.nfev, a.njev) == (b.nfev, b.njev)
    s = scipy_least_squares(decay.py_func, X0, args=(T, Y),
                            method=method if method != "gn" else "trf", **tol)
    np.testing.assert_allclose(b.x, s.x, rtol=1e-6)


def test_inplace_python_driver_path_gives_same_answer():
    """With a callback the Python driver runs; the in-place form still works there."""
    calls = []
    a = lsqcore.least_squares(lsqcore.InPlace(decay_inplace, T.size), X0, args=(T, Y),
                              callback=lambda x: calls.append(1))
    b = lsqcore.least_squares(decay, X0, args=(T, Y))
    np.testing.assert_array_equal(a.x, b.x)
    assert len(calls) == a.nit


def test_inplace_wrong_length_is_caught_before_the_solve():
    with pytest.raises(ValueError, match="wrote fewer than m = 40"):
        lsqcore.least_squares(lsqcore.InPlace(writes_too_few, T.size), X0, args=(T, Y))
    with pytest.raises(ValueError, match="wrote past the end"):
        lsqcore.least_squares(lsqcore.InPlace(decay_inplace, T.size - 2), X0, args=(T, Y))
    with pytest.raises(ValueError, match="`m` must be a positive integer"):
        lsqcore.InPlace(decay_inplace, 0)


@njit
def _jit_single(t, y, x0, method):
    return lsqcore.jit.least_squares(decay, x0, (t, y), method=method)


@njit
def _jit_bounded(t, y, x0, lb, ub):
    return lsqcore.jit.least_squares(decay, x0, (t, y), lb=lb, ub=ub, jac_fun=decay_jac)


@njit(parallel=True)
def _jit_rows(t, Y, x0):
    out = np.empty((Y.shape[0], x0.size))
    status = np.empty(Y.shape[0], dtype=np.int64)
    for k in prange(Y.shape[0]):
        r = lsqcore.jit.least_squares(decay, x0, (t, Y[k]))
        out[k] = r.x
        status[k] = r.status
    return out, status


@pytest.mark.parametrize("method", ["trf", "lm", "gn"])
def test_jit_api_equals_python_api_bitwise(method):
    r = _jit_single(T, Y, X0, method)
    s = lsqcore.least_squares(decay, X0, args=(T, Y), method=method)
    np.testing.assert_array_equal(r.x, s.x)
    assert (r.status, r.nfev, r.nit) == (s.status, s.nfev, s.nit)
    # least_squares reports njev None for 'lm' with differences (scipy's); jit counts
    assert s.njev == (None if method == "lm" else r.njev)
    assert r.cost == s.cost and r.success == s.success


def test_jit_api_bounds_and_analytic_jacobian():
    lb = np.array([0.0, 0.0, 0.6])
    ub = np.array([10.0, 10.0, 10.0])
    x0 = np.array([1.0, 1.0, 1.0])
    r = _jit_bounded(T, Y, x0, lb, ub)
    s = lsqcore.least_squares(decay, x0, jac=decay_jac, args=(T, Y), bounds=(lb, ub))
    np.testing.assert_array_equal(r.x, s.x)
    ref = scipy_least_squares(decay.py_func, x0, jac=decay_jac.py_func, args=(T, Y),
                              bounds=(lb, ub))
    np.testing.assert_allclose(r.x, ref.x, rtol=1e-6)
    assert r.x[2] == pytest.approx(0.6, abs=1e-8)   # the bound is active


def test_jit_api_inside_prange_matches_single_solves():
    Ys = Y + 0.01 * np.random.default_rng(3).standard_normal((16, T.size))
    out, status = _jit_rows(T, Ys, X0)
    for k in range(Ys.shape[0]):
        s = lsqcore.least_squares(decay, X0, args=(T, Ys[k]))
        np.testing.assert_array_equal(out[k], s.x)
        assert status[k] == s.status


def test_jit_api_errors_raise_in_compiled_code():
    with pytest.raises(ValueError, match="method"):
        _jit_single(T, Y, X0, "newton")


def test_kernel_is_served_from_the_disk_cache_in_a_new_process():
    """After this process has compiled (or loaded) the kernel, a fresh process
    loads the C-callable kernel and its setup from Numba's cache: no miss."""
    lsqcore.least_squares(decay, X0, args=(T, Y))      # make sure the cache is written
    code = ("import numpy as np, lsqcore\n"
            "from lsqcore import _kernel as K\n"
            "print(K._advance_c.cache_hits, K._setup_c.cache_hits, K._size_c.cache_hits)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ))
    hits = [int(v) for v in out.stdout.split()]
    assert hits == [1, 1, 1], out.stdout + out.stderr


def _fresh_process(code):
    """stdout of ``code`` run in a new Python process (stderr appended on failure)."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ))
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_driver_is_shared_by_models_and_served_from_the_disk_cache():
    """A jitted residual is reached through the address of a small per-model C
    wrapper, so the solver driver (`solve_by_address`) names no model: a fresh
    process fitting a model it has never seen loads that driver from Numba's
    disk cache (a hit, no new compile), and compiles only the wrapper."""
    lsqcore.least_squares(decay, X0, args=(T, Y))      # make sure the cache is written
    code = ("import numpy as np, numba, lsqcore\n"
            "from lsqcore._driver import solve_by_address as D\n"
            "@numba.njit\n"
            "def brand_new(p, t, y):\n"
            "    return p[0] / (1.0 + p[1] * t) + p[2] - y\n"
            "t = np.linspace(0.0, 4.0, 50); y = 2.0 / (1.0 + 0.7 * t) + 0.3\n"
            "r = lsqcore.least_squares(brand_new, np.array([1.0, 1.0, 0.0]), args=(t, y))\n"
            "print(r.status, sum(D.stats.cache_hits.values()),"
            " sum(D.stats.cache_misses.values()))\n")
    out = _fresh_process(code)
    status, hits, misses = (int(v) for v in out.split())
    assert status > 0 and hits >= 1 and misses == 0, out


@pytest.mark.parametrize("method", ["trf", "lm", "gn"])
def test_address_path_and_per_model_path_give_the_same_iterates(method):
    """The cached driver (user functions behind C wrappers) and the per-model
    driver (user functions compiled into it) run the same kernel: bitwise the
    same answer, evaluation counts and trace."""
    from lsqcore._driver import compiled_entry
    from lsqcore import _api
    r = lsqcore.least_squares(decay, X0, args=(T, Y), method=method, trace=True)
    entries = dict(_api.__dict__)
    try:
        # force the per-model path: arguments the wrappers do not take
        _api.arg_key = lambda args: None
        r2 = lsqcore.least_squares(decay, X0, args=(T, Y), method=method, trace=True)
    finally:
        _api.arg_key = entries["arg_key"]
    assert compiled_entry(decay, None, None, -1, False) is not None
    np.testing.assert_array_equal(r.x, r2.x)
    assert (r.cost, r.nfev, r.njev, r.status) == (r2.cost, r2.nfev, r2.njev, r2.status)
    np.testing.assert_array_equal(np.asarray(r.trace.x), np.asarray(r2.trace.x))


@njit
def _jac_raising(p, t, y):
    if p[1] > 1.2:
        raise ValueError("jac boom")
    e = np.exp(-p[1] * t)
    J = np.empty((t.size, 3))
    J[:, 0] = e
    J[:, 1] = -p[0] * t * e
    J[:, 2] = 1.0
    return J


@njit
def _fun_raising_mid_fd(p, t, y):
    if 0.0 < p[2] < 1e-7:                  # only at the first finite-difference point
        raise KeyError("fd boom")
    return p[0] * np.exp(-p[1] * t) + p[2] - y


def test_exceptions_of_jitted_functions_cross_the_c_wrappers_unchanged():
    """A jitted `fun`/`jac` that raises in the cached driver (behind a C frame)
    reaches the caller as its own exception, type and message; the next call
    is clean."""
    with pytest.raises(ValueError, match="jac boom"):
        lsqcore.least_squares(decay, X0, jac=_jac_raising, args=(T, Y))
    with pytest.raises(KeyError, match="fd boom"):
        lsqcore.least_squares(_fun_raising_mid_fd, np.array([1.0, 1.0, 0.0]), args=(T, Y))
    r = lsqcore.least_squares(decay, X0, args=(T, Y))
    assert r.success


def test_import_does_not_load_scipy_optimize():
    """`import lsqcore` and a first fit stay clear of scipy.optimize (0.3-0.8 s of
    start-up); lsqcore.FitWarning, built on first use, is still a subclass of
    scipy's OptimizeWarning."""
    code = ("import sys, numpy as np, numba, lsqcore\n"
            "@numba.njit\n"
            "def f(p, t, y):\n"
            "    return p[0] * np.exp(-p[1] * t) + p[2] - y\n"
            "t = np.linspace(0.0, 4.0, 50); y = 2.0 * np.exp(-t)\n"
            "r = lsqcore.least_squares(f, np.array([1.0, 1.0, 0.0]), args=(t, y))\n"
            "a = 'scipy.optimize' in sys.modules\n"
            "from scipy.optimize import OptimizeWarning\n"
            "print(a, r.success, issubclass(lsqcore.FitWarning, OptimizeWarning))\n")
    out = _fresh_process(code)
    assert out.split() == ["False", "True", "True"], out


def test_result_behaves_as_scipys_optimize_result():
    r = lsqcore.least_squares(decay, X0, args=(T, Y))
    s = scipy_least_squares(lambda p: decay(p, T, Y), X0)
    assert set(s.keys()) <= set(r.keys())
    assert r.x is r["x"] and r.status == r["status"]
    r.extra = 1
    assert r["extra"] == 1
    del r.extra
    with pytest.raises(AttributeError):
        r.extra
    assert sorted(dir(r)) == sorted(r.keys())
    assert "message: '`" in repr(r) and repr(r).splitlines()[0].strip().startswith("x:")


def test_callers_x0_is_never_written_nor_required_contiguous():
    """x0 is no longer copied up front: the solver must not write the caller's
    array (also when trf moves a start on a bound inside), and a strided or
    read-only x0 works as a fresh array does."""
    x0 = np.array([1.0, 1.0, 0.0])
    keep = x0.copy()
    r = lsqcore.least_squares(decay, x0, args=(T, Y))
    np.testing.assert_array_equal(x0, keep)
    xb = np.array([1.0, 1.0, 0.0])
    lsqcore.least_squares(decay, xb, args=(T, Y), bounds=([1.0, 0.0, -1.0], [3.0, 2.0, 1.0]))
    np.testing.assert_array_equal(xb, keep)
    strided = np.array([1.0, 9.0, 1.0, 9.0, 0.0, 9.0])[::2]
    ro = keep.copy()
    ro.flags.writeable = False
    for x in (strided, ro):
        r2 = lsqcore.least_squares(decay, x, args=(T, Y))
        np.testing.assert_array_equal(r2.x, r.x)


@njit
def _mixed_args_residual(p, X, idx, s, k, y):
    out = np.empty(X.shape[0])
    for i in range(X.shape[0]):
        out[i] = (p[0] * np.exp(-p[1] * X[i, 0]) + p[2] * X[i, 1] * s
                  - idx[i] * 0.01 * k - y[i])
    return out


def test_wrappers_take_2d_integer_and_scalar_args_like_scipy():
    """The C wrappers pass 2-d and integer arrays (pointer and shape) and
    Python numbers; a Fortran-ordered array goes to the per-model driver.
    Both give scipy's answer."""
    from lsqcore._cabi import arg_key
    rng = np.random.default_rng(1)
    X = rng.random((40, 2))
    idx = np.arange(40)
    y = _mixed_args_residual(np.array([2.0, 1.3, 0.4]), X, idx, 1.5, 2, np.zeros(40))
    y += 1e-3 * rng.standard_normal(40)
    x0 = np.array([1.0, 1.0, 0.0])
    ref = scipy_least_squares(lambda p: _mixed_args_residual(p, X, idx, 1.5, 2, y), x0)
    assert arg_key((X, idx, 1.5, 2, y)) is not None
    assert arg_key((np.asfortranarray(X), idx, 1.5, 2, y)) is None
    for Xa in (X, np.asfortranarray(X)):
        r = lsqcore.least_squares(_mixed_args_residual, x0, args=(Xa, idx, 1.5, 2, y))
        assert r.success
        np.testing.assert_allclose(r.x, ref.x, rtol=1e-6)
        assert r.cost <= ref.cost * (1 + 1e-8)


def test_driver_does_not_depend_on_the_argument_types():
    """The wrappers take `args` packed in one int64 block (`lsqcore._cabi.pack`),
    so the cached driver has one signature for every `args`: a fresh process
    with argument types never used before (arrays, a float and an int) still
    loads `solve_by_address` from the disk cache; only the small packing
    function and the wrapper are new.  The answer equals the same fit with
    the scalars folded into the data."""
    lsqcore.least_squares(decay, X0, args=(T, Y))      # make sure the cache is written
    code = ("import numpy as np, numba, lsqcore\n"
            "from lsqcore._driver import solve_by_address as D\n"
            "@numba.njit\n"
            "def odd_args(p, t, y, s, k, w):\n"
            "    return (p[0] * np.exp(-p[1] * t * s) + p[2] - y) * (w[0] * k)\n"
            "t = np.linspace(0.0, 4.0, 50); y = 2.0 * np.exp(-1.3 * t) + 0.3\n"
            "r = lsqcore.least_squares(odd_args, np.array([1.0, 1.0, 0.0]),\n"
            "                          args=(t, y, 1.0, 1, np.ones((1, 1))))\n"
            "print(r.status, sum(D.stats.cache_hits.values()),"
            " sum(D.stats.cache_misses.values()), repr(r.cost))\n")
    out = _fresh_process(code)
    status, hits, misses, cost = out.split()
    assert int(status) > 0 and int(hits) >= 1 and int(misses) == 0, out

    @njit
    def folded(p, t, y):
        return p[0] * np.exp(-p[1] * t) + p[2] - y
    t = np.linspace(0.0, 4.0, 50)
    ref = lsqcore.least_squares(folded, X0, args=(t, 2.0 * np.exp(-1.3 * t) + 0.3))
    assert float(cost) == ref.cost
