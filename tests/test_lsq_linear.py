"""``lsqcore.lsq_linear`` against scipy's, and the pieces it is built from.

trf (exact and LSMR steps) and BVLS are compared with scipy's
``lsq_linear`` on well-conditioned, ill-conditioned (Vandermonde, cond up
to 1e8), rank-deficient and underdetermined problems, dense and sparse and
as a ``LinearOperator``; the solutions are also checked against the KKT
conditions directly, so that a test does not rest on scipy alone.
scipy's own test file runs on lsq_linear in ``test_scipy_suite.py``.
"""
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import lsq_linear as scipy_lsq_linear, Bounds
from scipy.sparse.linalg import aslinearoperator

import lsqcore
from lsqcore import lsq_linear
from lsqcore._bounds import reflect_into_bounds, make_strictly_feasible
from lsqcore.linear.dense import factor, min_norm_solution, regularized_solution, solution
from lsqcore.linear._python import python_twin
from lsqcore.linear import trf as linear_trf

RNG = np.random.default_rng(20261204)


def _random_case(m, n, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    b = rng.standard_normal(m)
    lb = -0.3 * rng.uniform(0.0, 1.0, n)
    ub = lb + 0.3 * rng.uniform(0.1, 1.0, n)
    return A, b, (lb, ub)


def _vander(n):
    t = np.linspace(0.0, 1.0, 3 * n)
    return np.vander(t, n), np.cos(3.0 * t), (np.full(n, -1.0), np.full(n, 1.0))


def _rank_deficient():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((20, 5))[:, [0, 1, 2, 2, 3, 4, 0]]
    return A, rng.standard_normal(20), (np.full(7, -0.2), np.full(7, 0.2))


def _underdetermined():
    rng = np.random.default_rng(6)
    return rng.standard_normal((4, 9)), rng.standard_normal(4), (np.full(9, -0.1), np.inf)


#: (name, problem, the relative cost agreement with scipy that it supports)
CASES = [(f"random{k}", _random_case(*mn, seed=k), 1e-13)
         for k, mn in enumerate([(51, 8), (37, 7), (17, 2), (6, 10), (55, 10)])]
CASES += [("vander6", _vander(6), 1e-13), ("vander9", _vander(9), 1e-9),
          ("vander12", _vander(12), 1e-8), ("rank_deficient", _rank_deficient(), 1e-12),
          ("underdetermined", _underdetermined(), 1e-13)]

SOLVERS = [("trf", "exact"), ("trf", "lsmr"), ("bvls", "exact")]


def _kkt(A, b, x, lb, ub):
    """The KKT residual of the box problem, ``max |x - P(x - g)|`` (``P`` the
    projection on the box, ``g`` the gradient relative to ``|A^T b|``): zero
    exactly at a solution, whatever the method's own optimality measure."""
    g = A.T @ (A @ x - b) / max(1.0, np.abs(A.T @ b).max())
    return np.abs(x - np.clip(x - g, lb, ub)).max()


@pytest.mark.parametrize("method,solver", SOLVERS)
@pytest.mark.parametrize("name,problem,rtol", CASES, ids=[c[0] for c in CASES])
def test_against_scipy(name, problem, rtol, method, solver):
    A, b, bounds = problem
    res = lsq_linear(A, b, bounds, method=method, lsq_solver=solver)
    ref = scipy_lsq_linear(A, b, bounds, method=method, lsq_solver=solver)
    assert res.success and res.status == ref.status
    # (+ a residual of 1e-9 |b|: the zero-residual case)
    assert abs(res.cost - ref.cost) <= rtol * ref.cost + 1e-18 * (b @ b)
    np.testing.assert_allclose(res.fun, A @ res.x - b, rtol=0, atol=1e-12 * np.abs(b).max())
    assert res.cost == pytest.approx(0.5 * res.fun @ res.fun, rel=1e-14)
    assert np.all(res.x >= bounds[0]) and np.all(res.x <= bounds[1])
    assert _kkt(A, b, res.x, *bounds) <= max(1e-7, 10.0 * _kkt(A, b, ref.x, *bounds))
    if name not in ("rank_deficient", "underdetermined"):      # a unique solution
        np.testing.assert_allclose(res.x, ref.x, rtol=0, atol=1e-7 if rtol > 1e-12 else 1e-12)
    if solver == "exact":
        # the unbounded solution: a least-squares solution of least norm
        x_u = res.unbounded_sol[0]
        x_ls = np.linalg.lstsq(A, b)[0]
        r_u, r_ls = A @ x_u - b, A @ x_ls - b
        assert r_u @ r_u <= r_ls @ r_ls * (1 + 1e-8) + 1e-24
        assert np.linalg.norm(x_u) <= np.linalg.norm(x_ls) * (1 + 1e-8)
        assert res.unbounded_sol[2] == np.linalg.matrix_rank(A)
        if rtol <= 1e-13:                            # well conditioned: numpy's x
            np.testing.assert_allclose(x_u, x_ls, rtol=1e-9, atol=1e-12 * np.abs(x_ls).max())


@pytest.mark.parametrize("name,problem,rtol", CASES[:4], ids=[c[0] for c in CASES[:4]])
def test_iterations_as_scipy(name, problem, rtol):
    """The same algorithm, step for step: trf takes scipy's number of iterations."""
    A, b, bounds = problem
    for solver in ("exact", "lsmr"):
        assert (lsq_linear(A, b, bounds, lsq_solver=solver).nit
                == scipy_lsq_linear(A, b, bounds, lsq_solver=solver).nit)


def test_active_mask_and_fields():
    A, b, bounds = _random_case(40, 6, seed=11)
    res = lsq_linear(A, b, bounds)
    ref = scipy_lsq_linear(A, b, bounds)
    assert set(ref) == set(res)
    np.testing.assert_array_equal(res.active_mask, ref.active_mask)
    assert np.any(res.active_mask != 0)
    assert isinstance(res.message, str)


def test_unconstrained_solution_is_returned_at_once():
    A, b, _ = _random_case(30, 4, seed=3)
    res = lsq_linear(A, b, (-100.0, 100.0))
    assert res.status == 3 and res.nit == 0 and res.success
    assert res.unbounded_sol[1].shape == (1,) and res.unbounded_sol[1][0] == pytest.approx(
        2.0 * res.cost, rel=1e-12)
    np.testing.assert_allclose(res.unbounded_sol[3], np.linalg.svd(A, compute_uv=False),
                               rtol=1e-13)


# ---- sparse and LinearOperator ---------------------------------------------------------

def _sparse_case(m=600, n=150, density=0.03, seed=2):
    rng = np.random.RandomState(seed)
    A = sp.random_array((m, n), density=density, random_state=rng, format="csr")
    A = A + sp.eye_array(m, n)                 # no empty column
    b = rng.randn(m)
    lb = rng.randn(n)
    return A, b, (lb, lb + 1.0)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("lsmr_tol", [None, "auto", 1e-12])
def test_sparse_against_scipy(fmt, lsmr_tol):
    A, b, bounds = _sparse_case()
    A = A.asformat(fmt)
    res = lsq_linear(A, b, bounds, lsmr_tol=lsmr_tol)
    ref = scipy_lsq_linear(A, b, bounds, lsmr_tol=lsmr_tol)
    assert res.status == ref.status and res.success
    assert res.cost == pytest.approx(ref.cost, rel=1e-10)
    assert res.optimality < 1e-6
    np.testing.assert_allclose(res.x, ref.x, rtol=0, atol=1e-6)
    assert np.all(res.x >= bounds[0]) and np.all(res.x <= bounds[1])
    dense = lsq_linear(A.toarray(), b, bounds)
    assert res.cost == pytest.approx(dense.cost, rel=1e-9)


def test_linear_operator_runs_the_same_source():
    A, b, bounds = _sparse_case(300, 80)
    res = lsq_linear(aslinearoperator(A), b, bounds)
    compiled = lsq_linear(A, b, bounds)
    ref = scipy_lsq_linear(aslinearoperator(A), b, bounds)
    assert res.nit == compiled.nit == ref.nit
    assert res.cost == pytest.approx(compiled.cost, rel=1e-12)
    np.testing.assert_allclose(res.x, compiled.x, rtol=0, atol=1e-9)
    assert res.cost == pytest.approx(ref.cost, rel=1e-10)


def test_python_twin_rebinds_only_the_module_helpers():
    solve = python_twin(linear_trf.solve, linear_trf)
    g = solve.__globals__
    assert g is not vars(linear_trf)
    assert type(g["_select_step"]).__name__ == "function"         # the module's own: Python
    assert g["_select_step"].__globals__ is g
    assert hasattr(g["step_to_bound"], "py_func")                 # imported kernels: compiled
    assert vars(linear_trf)["solve"] is linear_trf.solve           # the module is untouched


def test_sparse_ill_conditioned_lsmr_iterations():
    """LSMR's iteration limit bounds the unbounded solve, as scipy's (cond ~4e6)."""
    A = sp.coo_array(([1.0, 1.0, 1.0, 1.0 + 1e-6, 1.0], ([0, 0, 1, 2, 2], [0, 2, 1, 0, 2])),
                     shape=(3, 3))
    b = np.array([0.074, 1.014, -0.383])
    exact = lsq_linear(A.toarray(), b).x
    assert not np.allclose(lsq_linear(A, b).x, exact)
    np.testing.assert_allclose(lsq_linear(A, b, lsmr_maxiter=10).x, exact, rtol=1e-7)
    # (at 3 and 4 iterations both are rounding noise: LSMR has met the two
    # distinct singular values, and the two differ by 4e-3)
    for maxiter in (1, 2, 10):
        ours = lsq_linear(A, b, lsmr_maxiter=maxiter).unbounded_sol
        theirs = scipy_lsq_linear(A, b, lsmr_maxiter=maxiter).unbounded_sol
        np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-9)
        assert ours[1:3] == theirs[1:3]


# ---- BVLS ------------------------------------------------------------------------------

def test_bvls_and_trf_agree_on_a_hard_box():
    """Many active bounds, both methods, and scipy's."""
    rng = np.random.default_rng(9)
    A = rng.integers(-99, 99, size=(60, 25)).astype(float)
    A = A[:, rng.choice(25, 25)]                       # duplicated columns: rank-deficient
    b = rng.integers(-99, 99, size=60).astype(float)
    lb, ub = np.sort(rng.integers(-99, 99, size=(2, 25)).astype(float), axis=0)
    ub += 1.0
    costs = [f(A, b, (lb, ub), method=m).cost
             for f in (lsq_linear, scipy_lsq_linear) for m in ("trf", "bvls")]
    assert max(costs) - min(costs) <= 1e-10 * min(costs)


def test_bounds_object_and_scalars():
    A, b, (lb, ub) = _random_case(20, 3, seed=4)
    for bounds in [Bounds(lb, ub), (lb, ub), (-0.1, 0.1), [lb, 0.2]]:
        res = lsq_linear(A, b, bounds)
        ref = scipy_lsq_linear(A, b, bounds)
        assert res.cost == pytest.approx(ref.cost, rel=1e-12)


def test_max_iter_stops_with_status_0():
    A, b, bounds = _vander(9)
    for method in ("trf", "bvls"):
        res = lsq_linear(A, b, bounds, method=method, max_iter=1)
        assert res.status == 0 and not res.success
        assert res.message == "The maximum number of iterations is exceeded."


def test_verbose(capsys):
    A, b, bounds = _random_case(20, 3, seed=4)
    lsq_linear(A, b, bounds, verbose=2)
    out = capsys.readouterr().out
    assert "Iteration" in out and "first-order optimality" in out
    nit = lsq_linear(A, b, bounds).nit
    assert len([ln for ln in out.splitlines() if ln.strip()[:1].isdigit()]) == nit
    lsq_linear(A, b, bounds, verbose=1)
    assert "Iteration" not in capsys.readouterr().out


# ---- the pieces --------------------------------------------------------------------------

@pytest.mark.parametrize("m,n", [(30, 5), (5, 5), (3, 7)])
def test_min_norm_solution_is_numpys(m, n):
    rng = np.random.default_rng(m * n)
    A = rng.standard_normal((m, n))
    A[:, -1] = A[:, 0] * 2.0                            # rank-deficient
    b = rng.standard_normal(m)
    x, rank, s = min_norm_solution(A, b)
    x_np, _, rank_np, s_np = np.linalg.lstsq(A, b)
    np.testing.assert_allclose(x, x_np, rtol=1e-10, atol=1e-12)
    assert rank == rank_np
    np.testing.assert_allclose(s, s_np, rtol=1e-12, atol=1e-14 * s_np[0])
    if m >= n:
        np.testing.assert_allclose(solution(A, b), x_np, rtol=1e-10, atol=1e-12)


def test_factor_is_a_pivoted_qr():
    rng = np.random.default_rng(7)
    A = rng.standard_normal((40, 6)) * np.array([1e-6, 1.0, 1e3, 1e-2, 10.0, 1.0])
    b = rng.standard_normal(40)
    R, perm, QTb = factor(A, b)
    assert sorted(perm) == list(range(6))
    np.testing.assert_allclose(R.T @ R, (A.T @ A)[np.ix_(perm, perm)], rtol=1e-12,
                               atol=1e-12 * np.abs(A).max() ** 2)
    d = np.abs(np.diag(R))
    assert np.all(d[:-1] >= d[1:])
    Q, _ = np.linalg.qr(A[:, perm])
    np.testing.assert_allclose(np.abs(QTb), np.abs(Q.T @ b), rtol=1e-10)


def test_regularized_solution_against_normal_equations():
    rng = np.random.default_rng(8)
    m, n = 25, 6
    A = rng.standard_normal((m, n))
    t = rng.standard_normal(m)
    d = rng.uniform(0.1, 2.0, n)
    e = rng.uniform(0.0, 1.0, n)
    e[2] = 0.0
    R, perm, QTt = factor(A, t)
    z = np.empty(n)
    regularized_solution(R, perm, QTt, d, e, m, z, np.empty((n, n)))
    AD = A * d
    expected = np.linalg.solve(AD.T @ AD + np.diag(e ** 2), AD.T @ t)
    np.testing.assert_allclose(z, expected, rtol=1e-11)


def test_reflect_into_bounds():
    lb = np.array([0.0, -np.inf, 0.0, 0.0, -1.0])
    ub = np.array([np.inf, 1.0, 1.0, 1.0, 1.0])
    y = np.array([-0.5, 3.0, 1.25, 2.5, 0.3])
    reflect_into_bounds(y, lb, ub)
    np.testing.assert_allclose(y, [0.5, -1.0, 0.75, 0.5, 0.3])


def test_make_strictly_feasible_moves_points_near_a_bound():
    """scipy's rule: within ``rstep`` (relative) of a bound is on it."""
    lb, ub = np.array([0.0, -10.0]), np.array([1.0, 10.0])
    x = np.array([0.05, 9.5])
    make_strictly_feasible(x, lb, ub, 0.1)
    np.testing.assert_allclose(x, [0.1, 9.0])


# ---- bad input: scipy's errors, before any work --------------------------------------------

A0 = np.array([[0.171, -0.057], [-0.049, -0.248], [-0.166, 0.054]])
B0 = np.array([0.074, 1.014, -0.383])


@pytest.mark.parametrize("kwargs,match", [
    (dict(method="dogbox"), "`method` must be"),
    (dict(lsq_solver="qr"), "`solver` must be"),
    (dict(verbose=3), "`verbose` must be"),
    (dict(method="bvls", lsq_solver="lsmr"), "bvls"),
    (dict(max_iter=0), "`max_iter` must be"),
    (dict(b=np.ones((3, 1))), "`b` must have at most 1 dimension"),
    (dict(b=np.ones(4)), "Inconsistent shapes"),
    (dict(bounds=(np.zeros(3), 1.0)), "`bounds` must be"),
    (dict(bounds=(1.0, 0.0)), "lower bound must be strictly less"),
    (dict(bounds=(np.nan, 1.0)), "NaN"),
    (dict(lsmr_maxiter=0), "`lsmr_maxiter` must be"),
    (dict(lsmr_tol=1), "`lsmr_tol` must be"),
    (dict(lsmr_tol="foo"), "`lsmr_tol` must be"),
    (dict(b=np.array([1.0, np.nan, 0.0])), "`b` must contain only finite"),
    (dict(A=np.array([[1.0, np.inf], [0.0, 1.0], [1.0, 1.0]])), "`A` must contain only finite"),
    (dict(A=np.ones((2, 2, 2)), b=np.ones(2)), "`A` must have at most 2 dimensions"),
])
def test_bad_input(kwargs, match):
    args = dict(A=A0, b=B0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        lsq_linear(args.pop("A"), args.pop("b"), **args)


def test_sparse_refusals():
    A = sp.csr_array(A0)
    with pytest.raises(ValueError, match="`exact` solver can't be used"):
        lsq_linear(A, B0, lsq_solver="exact")
    with pytest.raises(ValueError, match="method='bvls' can't be used with `A` being sparse"):
        lsq_linear(aslinearoperator(A), B0, method="bvls")
    with pytest.raises(ValueError, match="`A` must contain only finite"):
        lsq_linear(sp.csr_array(np.array([[np.nan, 1.0], [0.0, 1.0], [1.0, 0.0]])), B0)


def test_exported():
    assert lsqcore.lsq_linear is lsq_linear and "lsq_linear" in lsqcore.__all__
