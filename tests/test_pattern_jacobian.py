"""lsqcore.PatternJacobian: J's non-zeros filled in place, the solve compiled.

The values a fill writes are the values a ``scipy.sparse`` J would be read
into, so the iterates are bitwise those of the same J returned as a sparse
matrix (Python driver), whether the fill is jitted (the whole solve in
compiled code) or plain Python; and against scipy's ``least_squares`` with
that sparse J, the same answers to rounding.
"""
import numpy as np
import pytest
import scipy.sparse as sp
from numba import njit
from scipy.optimize import least_squares as scipy_least_squares

import lsqcore
from lsqcore import PatternJacobian


@njit(cache=True)
def broyden(x):
    f = (3.0 - 2.0 * x) * x + 1.0
    f[1:] -= x[:-1]
    f[:-1] -= 2.0 * x[1:]
    return f


@njit(cache=True)
def broyden_fill(x, v):
    k = 0
    for j in range(x.size):
        if j > 0:
            v[k] = -2.0
            k += 1
        v[k] = 3.0 - 4.0 * x[j]
        k += 1
        if j < x.size - 1:
            v[k] = -1.0
            k += 1


def broyden_sparse(x):
    n = x.size
    return sp.diags_array([-np.ones(n - 1), 3.0 - 4.0 * x, -2.0 * np.ones(n - 1)],
                          offsets=[-1, 0, 1], format="csr")


def tridiagonal(n):
    return sp.diags_array([np.ones(n - 1), np.ones(n), np.ones(n - 1)], offsets=[-1, 0, 1])


@njit(cache=True)
def rosenbrock(x, scale):
    """Extended Rosenbrock (More, Garbow, Hillstrom 21) with row scaling:
    cond(J) grows with ``scale``."""
    f = np.empty(x.size)
    for i in range(0, x.size, 2):
        f[i] = scale * (x[i + 1] - x[i] * x[i])
        f[i + 1] = 1.0 - x[i]
    return f


@njit(cache=True)
def rosenbrock_fill(x, v, scale):
    # column 2i: rows 2i (-2 scale x_2i) and 2i+1 (-1); column 2i+1: row 2i (scale)
    k = 0
    for i in range(0, x.size, 2):
        v[k] = -2.0 * scale * x[i]
        v[k + 1] = -1.0
        v[k + 2] = scale
        k += 3


def rosenbrock_sparse(x, scale):
    n = x.size
    rows, cols, vals = [], [], []
    for i in range(0, n, 2):
        rows += [i, i + 1, i]
        cols += [i, i, i + 1]
        vals += [-2.0 * scale * x[i], -1.0, scale]
    return sp.csr_array((vals, (rows, cols)), shape=(n, n))


def rosenbrock_pattern(n):
    return rosenbrock_sparse(np.ones(n), 1.0) != 0


def same(a, b):
    assert np.array_equal(a.x, b.x) and a.cost == b.cost
    assert a.status == b.status and a.nfev == b.nfev and a.njev == b.njev
    assert np.array_equal(a.grad, b.grad)
    assert (a.jac != b.jac).nnz == 0


@pytest.mark.parametrize("method", ["trf", "dogbox"])
def test_well_conditioned_bitwise_python_paths_and_scipy(method):
    n = 300
    x0 = -np.ones(n)
    pj = PatternJacobian(broyden_fill, tridiagonal(n))
    assert pj.nnz == 3 * n - 2 and pj.shape == (n, n)
    J = broyden_sparse(x0)
    assert np.array_equal(J[pj.rows, pj.cols], [-2.0 if r < c else (-1.0 if r > c else 7.0)
                                                for r, c in zip(pj.rows, pj.cols)])
    compiled = lsqcore.least_squares(broyden, x0, jac=pj, method=method)
    python_fill = lsqcore.least_squares(broyden.py_func, x0, method=method,
                                        jac=PatternJacobian(broyden_fill.py_func, tridiagonal(n)))
    python_sparse = lsqcore.least_squares(broyden.py_func, x0, jac=broyden_sparse, method=method)
    same(compiled, python_fill)
    same(compiled, python_sparse)
    assert isinstance(compiled.jac, sp.csr_array) and compiled.jac.shape == (n, n)
    ref = scipy_least_squares(broyden.py_func, x0, jac=broyden_sparse, method=method)
    assert compiled.status > 0 and ref.status > 0
    assert np.max(np.abs(compiled.x - ref.x)) <= 1e-12
    assert compiled.cost <= ref.cost + 1e-20


@pytest.mark.parametrize("method, bounded", [("trf", False), ("trf", True), ("dogbox", True)])
def test_ill_conditioned_with_bounds_against_scipy(method, bounded):
    """Extended Rosenbrock with rows scaled by 1e3 (cond(J) ~ 1e3 near the
    solution, a curved valley), bounded so that a bound is active."""
    n, scale = 40, 1e3
    x0 = np.tile([-1.2, 1.0], n // 2)
    pattern = rosenbrock_pattern(n)
    kw = dict(method=method, args=(scale,), ftol=1e-12, xtol=1e-12, gtol=1e-12)
    if bounded:
        kw["bounds"] = (np.full(n, -2.0), np.tile([0.9, 2.0], n // 2))
    compiled = lsqcore.least_squares(rosenbrock, x0, jac=PatternJacobian(rosenbrock_fill,
                                                                         pattern), **kw)
    python_sparse = lsqcore.least_squares(rosenbrock.py_func, x0, jac=rosenbrock_sparse, **kw)
    same(compiled, python_sparse)
    ref = scipy_least_squares(rosenbrock.py_func, x0, jac=rosenbrock_sparse, **kw)
    assert compiled.success and ref.success
    assert compiled.cost <= ref.cost * (1.0 + 1e-10) + 1e-20
    assert np.max(np.abs(compiled.x - ref.x)) <= 1e-6
    if bounded:
        # (scipy's trf stops 2e-8 inside the bound at a higher cost, so its
        # active_mask is empty there; dogbox lands on the bound in both)
        assert np.all(compiled.active_mask[::2] == 1)
        if method == "dogbox":
            assert np.array_equal(compiled.active_mask, ref.active_mask)


def test_large_problem_needs_no_dense_matrix():
    """n = 60 000: a dense J would be 29 GB; the pattern solve holds O(nnz)."""
    n = 60_000
    res = lsqcore.least_squares(broyden, -np.ones(n),
                                jac=PatternJacobian(broyden_fill, tridiagonal(n)))
    assert res.success and res.cost < 1e-12 and res.jac.nnz == 3 * n - 2


def test_python_fill_with_kwargs():
    calls = []

    def fill(x, v, scale=1.0):
        calls.append(1)
        rosenbrock_fill.py_func(x, v, scale)

    n = 10
    x0 = np.tile([-1.2, 1.0], n // 2)
    res = lsqcore.least_squares(lambda x, scale=1.0: rosenbrock.py_func(x, scale), x0,
                                jac=PatternJacobian(fill, rosenbrock_pattern(n)),
                                kwargs={"scale": 10.0})
    ref = scipy_least_squares(lambda x: rosenbrock.py_func(x, 10.0), x0,
                              jac=lambda x: rosenbrock_sparse(x, 10.0))
    assert res.success and len(calls) == res.njev
    assert np.max(np.abs(res.x - ref.x)) <= 1e-10


@njit(cache=True)
def raising_fill(x, v):
    if x[0] > 0.5:
        raise ValueError("fill refuses x[0] > 0.5")
    broyden_fill(x, v)


@njit(cache=True)
def overrunning_fill(x, v):
    for k in range(v.size + 1):
        v[k] = 1.0


def test_errors():
    n = 20
    pat = tridiagonal(n)
    with pytest.raises(ValueError, match="works only with dense Jacobian"):
        lsqcore.least_squares(broyden, -np.ones(n), jac=PatternJacobian(broyden_fill, pat),
                              method="lm")
    with pytest.raises(ValueError, match="tr_solver='exact' works only with dense"):
        lsqcore.least_squares(broyden, -np.ones(n), jac=PatternJacobian(broyden_fill, pat),
                              tr_solver="exact")
    with pytest.raises(ValueError, match="n = 19 columns"):
        lsqcore.least_squares(broyden, -np.ones(n - 1), jac=PatternJacobian(broyden_fill, pat))
    with pytest.raises(ValueError, match="jac_sparsity` must have shape"):
        lsqcore.least_squares(broyden, -np.ones(n), jac=PatternJacobian(
            broyden_fill, sp.eye_array(n + 1, n)))
    with pytest.raises(TypeError, match="`fill` must be callable"):
        PatternJacobian(None, pat)
    with pytest.raises(ValueError, match="fill refuses"):
        # the compiled solve reaches x[0] > 0.5: the fill's own exception
        lsqcore.least_squares(broyden, np.full(n, 1.0), jac=PatternJacobian(raising_fill, pat))
    with pytest.raises(IndexError, match="overrunning_fill"):
        lsqcore.least_squares(broyden, -np.ones(n), jac=PatternJacobian(overrunning_fill, pat))
