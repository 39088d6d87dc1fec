"""LSMR (lsqcore._lsmr) against scipy's lsmr, and the column groups of grouped
finite differences (lsqcore._groups) against their definition and scipy's."""
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize._numdiff import group_columns as scipy_group_columns
from scipy.sparse.linalg import LinearOperator, aslinearoperator
from scipy.sparse.linalg import lsmr as scipy_lsmr

from lsqcore._groups import group_columns
from lsqcore._lsmr import lsmr, sym_ortho


def _random_sparse(m, n, density, seed, col_scale=None):
    rng = np.random.default_rng(seed)
    A = sp.random(m, n, density=density, random_state=rng, format="csr")
    A = A + sp.eye(m, n, format="csr")              # no empty column: full rank
    if col_scale is not None:
        A = A @ sp.diags(col_scale)
    return A.tocsr(), rng.standard_normal(m)


def _true_normar(A, b, x):
    return np.linalg.norm(A.T @ (b - A @ x))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_well_conditioned_as_scipy(seed):
    """Same iterations and stop as scipy on a random sparse well-conditioned
    problem; x within 1e-8 ||x|| of scipy's and of the dense least-squares
    solution (both sides stop with ||A^T r|| ~ 1e-10 ||A|| ||r||, where
    the iterates of two orderings of the same sums differ by ~1e-10).
    ||r|| and ||x|| agree to 1e-10; ||A|| (summed from the late, noisy
    alpha and beta) to 1e-3; both ||A^T r|| meet the tolerance."""
    A, b = _random_sparse(300, 100, 0.05, seed)
    ours = lsmr(A, b, atol=1e-10, btol=1e-10)
    ref = scipy_lsmr(A, b, atol=1e-10, btol=1e-10)
    assert ours[1] == ref[1] == 2 and ours[2] == ref[2]
    x_ls = np.linalg.lstsq(A.toarray(), b, rcond=None)[0]
    size = np.linalg.norm(x_ls)
    assert np.linalg.norm(ours[0] - ref[0]) <= 1e-8 * size
    assert np.linalg.norm(ours[0] - x_ls) <= 1e-8 * size
    assert ours[3] == pytest.approx(ref[3], rel=1e-10)
    assert ours[7] == pytest.approx(ref[7], rel=1e-10)
    assert ours[5] == pytest.approx(ref[5], rel=1e-3)
    for r in (ours, ref):
        assert r[4] <= 1e-10 * r[5] * r[3]
        assert _true_normar(A, b, r[0]) <= 1e-9 * sp.linalg.norm(A) * r[3]


def test_ill_conditioned_as_scipy():
    """Columns scaled over 8 decades (cond(A) ~1e8, atol 1e-8): both stop
    by the least-squares test after ~600 iterations (within 10 % of each
    other: rounding steers the two orderings apart) at a residual a few
    per cent above the minimum; lsqcore's excess and its true ||A^T r||
    are no worse than 1.5x scipy's, and ||A^T r|| meets the tolerance."""
    n = 60
    A, b = _random_sparse(200, n, 0.08, 5, col_scale=np.logspace(0, 8, n))
    ours = lsmr(A, b, atol=1e-8, btol=1e-8, maxiter=5000)
    ref = scipy_lsmr(A, b, atol=1e-8, btol=1e-8, maxiter=5000)
    assert ours[1] == ref[1] == 2
    assert abs(ours[2] - ref[2]) <= 0.1 * ref[2]
    x_ls = np.linalg.lstsq(A.toarray(), b, rcond=None)[0]
    r_min = np.linalg.norm(b - A @ x_ls)
    excess = [np.linalg.norm(b - A @ r[0]) / r_min - 1.0 for r in (ours, ref)]
    assert 0.0 <= excess[0] <= 1.5 * excess[1] + 1e-9
    normar = [_true_normar(A, b, r[0]) for r in (ours, ref)]
    assert normar[0] <= 1.5 * normar[1]
    assert normar[0] <= 10 * 1e-8 * sp.linalg.norm(A) * np.linalg.norm(b - A @ ours[0])


def test_damped_solves_the_augmented_problem():
    A, b = _random_sparse(80, 40, 0.1, 3)
    damp = 0.7
    x, istop, *_ = lsmr(A, b, damp=damp, atol=1e-12, btol=1e-12)
    K = np.vstack([A.toarray(), damp * np.eye(40)])
    x_ref = np.linalg.lstsq(K, np.concatenate([b, np.zeros(40)]), rcond=None)[0]
    assert istop in (1, 2) and np.allclose(x, x_ref, rtol=1e-9, atol=1e-11)
    ref = scipy_lsmr(A, b, damp=damp, atol=1e-12, btol=1e-12)
    assert np.allclose(x, ref[0], rtol=1e-9, atol=1e-11)


def test_condition_limit_stops_as_scipy():
    """A nearly rank-deficient matrix with conlim=1e3: istop 3 on both sides."""
    rng = np.random.default_rng(7)
    U = rng.standard_normal((50, 10))
    A = U @ np.diag(np.logspace(0, -9, 10)) @ rng.standard_normal((10, 10))
    b = rng.standard_normal(50)
    ours = lsmr(A, b, conlim=1e3, atol=0.0, btol=0.0, maxiter=200)
    ref = scipy_lsmr(A, b, conlim=1e3, atol=0.0, btol=0.0, maxiter=200)
    assert ours[1] == ref[1] == 3 and ours[2] == ref[2]


def test_every_operator_form_agrees():
    """CSR, CSC, dense and a LinearOperator give the same solution."""
    A, b = _random_sparse(120, 50, 0.06, 11)
    base = lsmr(A, b, atol=1e-12, btol=1e-12)
    for form in (A.tocsc(), A.toarray(), aslinearoperator(A),
                 LinearOperator(A.shape, matvec=lambda v: A @ v, rmatvec=lambda u: A.T @ u)):
        r = lsmr(form, b, atol=1e-12, btol=1e-12)
        assert r[1] == base[1] and abs(r[2] - base[2]) <= 1
        assert np.allclose(r[0], base[0], rtol=1e-11, atol=1e-13)


def test_zero_right_hand_side_and_compatible_system():
    A, _ = _random_sparse(30, 30, 0.1, 4)
    x, istop, itn, *_ = lsmr(A, np.zeros(30))
    assert istop == 0 and itn == 0 and not x.any()
    x_true = np.linspace(-1.0, 1.0, 30)
    x, istop, *_ = lsmr(A, A @ x_true, atol=1e-12, btol=1e-12, maxiter=500)
    assert istop in (1, 4) and np.allclose(x, x_true, rtol=1e-8, atol=1e-9)


def test_maxiter_and_bad_b():
    A, b = _random_sparse(100, 40, 0.1, 9)
    r = lsmr(A, b, atol=0.0, btol=0.0, conlim=0.0, maxiter=3)
    assert r[1] == 7 and r[2] == 3
    assert scipy_lsmr(A, b, atol=0.0, btol=0.0, conlim=0.0, maxiter=3)[1] == 7
    with pytest.raises(ValueError, match="`b` must have 100 entries"):
        lsmr(A, np.ones(99))


@pytest.mark.parametrize("a,b", [(3.0, 4.0), (-3.0, 4.0), (4.0, -3.0), (0.0, -2.0),
                                 (-2.0, 0.0), (0.0, 0.0), (1e300, 1e300), (1e-300, 3e-300)])
def test_plane_rotation(a, b):
    c, s, r = sym_ortho(a, b)
    assert np.isfinite([c, s, r]).all() and r >= 0.0
    if a or b:
        assert c * c + s * s == pytest.approx(1.0)
        assert c * a + s * b == pytest.approx(r, rel=1e-14)
        assert -s * a + c * b == pytest.approx(0.0, abs=1e-14 * r)


# ---- column groups ------------------------------------------------------------

def _valid(pattern, groups):
    P = sp.csc_matrix(pattern)
    for g in np.unique(groups):
        rows = P[:, groups == g].getnnz(axis=1)
        if rows.max(initial=0) > 1:
            return False
    return True


@pytest.mark.parametrize("w", [1, 2, 3, 5])
def test_banded_pattern_gets_the_optimal_groups(w):
    n = 200
    pattern = sp.diags([np.ones(n - abs(k)) for k in range(-w + 1, w)],
                       list(range(-w + 1, w)), format="csr")
    groups = group_columns(pattern)
    assert _valid(pattern, groups) and groups.max() + 1 == 2 * w - 1


@pytest.mark.parametrize("seed", range(4))
def test_random_pattern_groups_are_valid_and_no_more_than_scipys(seed):
    rng = np.random.default_rng(seed)
    pattern = sp.random(400, 150, density=0.02, random_state=rng, format="csr")
    order = rng.permutation(150)
    groups = group_columns(pattern, order)
    ref = scipy_group_columns(pattern, order)
    assert _valid(pattern, groups) and _valid(pattern, ref)
    assert groups.max() + 1 <= ref.max() + 1


def test_dense_pattern_needs_one_group_per_column_and_bad_order():
    groups = group_columns(np.ones((5, 4)))
    assert sorted(groups) == [0, 1, 2, 3]
    assert np.array_equal(group_columns(np.eye(6)), np.zeros(6))
    with pytest.raises(ValueError, match="`order` must be a permutation of the 4 columns"):
        group_columns(np.ones((5, 4)), order=[0, 1, 1, 2])


# ---- grouped differences --------------------------------------------------------

def _banded_pattern(n, lower, upper):
    return sp.diags([np.ones(n - abs(k)) for k in range(-lower, upper + 1)],
                    list(range(-lower, upper + 1)), format="csc")


def _grouped_and_dense(fun, x, lb, ub, pattern, three_point):
    """The Jacobian on the pattern by grouped differences, and the dense
    differences at the same steps (lsqcore._jacobian)."""
    from lsqcore._groups import grouped_points, grouped_assemble
    from lsqcore._jacobian import fd_steps, fd_points, fd_assemble, SQRT_EPS, CBRT_EPS
    n = x.size
    f = fun(x)
    rstep = np.full(n, CBRT_EPS if three_point else SQRT_EPS)
    typ = np.where(x == 0.0, 1.0, np.minimum(1.0, np.abs(x)))
    h, scheme = np.empty(n), np.empty(n)
    fd_steps(x, lb, ub, rstep, typ, three_point, h, scheme)
    P = sp.csc_matrix(pattern)
    P.sort_indices()
    groups = group_columns(P)
    ng = groups.max() + 1
    cp, cr = P.indptr.astype(np.int64), P.indices.astype(np.int64)
    vals = np.empty(P.nnz)
    J = np.empty((f.size, n))
    XQ, XD = np.empty((ng, n)), np.empty((n, n))
    for stage in ((1, 2) if three_point else (1,)):
        grouped_points(x, h, scheme, groups, stage, XQ)
        grouped_assemble(f, np.array([fun(p) for p in XQ]), h, scheme, three_point, stage,
                         groups, cp, cr, vals)
        fd_points(x, h, scheme, stage, XD)
        fd_assemble(f, np.array([fun(p) for p in XD]), h, scheme, three_point, stage, J)
    return sp.csc_matrix((vals, cr, cp), shape=J.shape), J, ng


@pytest.mark.parametrize("three_point", [False, True])
@pytest.mark.parametrize("name", ["broyden_banded", "extended_rosenbrock"])
def test_grouped_differences_equal_the_dense_ones_bitwise(name, three_point):
    """On MGH's banded problems (n = 60), with bounds that make some columns
    one-sided: the grouped Jacobian's values are the dense differences'
    bitwise, from 7 (Broyden banded) or 2 (extended Rosenbrock) evaluations
    per stage instead of 60, and agree with scipy's grouped
    ``approx_derivative`` and with the analytic Jacobian."""
    from scipy.optimize._numdiff import approx_derivative
    from lsqcore.problems import _mgh_vardim as V
    n = 60
    if name == "broyden_banded":
        fun, jac, pattern, expect_groups = V.broyden_banded_fun, V.broyden_banded_jac, \
            _banded_pattern(n, 5, 1), 7
    else:
        fun, jac = V.ext_rosenbrock_fun, V.ext_rosenbrock_jac
        rows = np.repeat(np.arange(n), 2)
        cols = np.repeat(np.arange(0, n, 2), 4) + np.tile([0, 1, 0, 0], n // 2)
        pattern, expect_groups = sp.csc_matrix((np.ones(2 * n), (rows, cols)), (n, n)), 2
    x = np.linspace(-1.2, 1.3, n)
    lb, ub = np.full(n, -np.inf), np.full(n, np.inf)
    ub[::7] = x[::7] + 1e-9                   # against the upper bound: one-sided steps
    G, J, ng = _grouped_and_dense(fun, x, lb, ub, pattern, three_point)
    assert ng == expect_groups
    assert np.array_equal(G.toarray()[pattern.toarray() != 0], J[pattern.toarray() != 0])
    if not three_point:
        # the pattern holds every non-zero (3-point differences are not exact
        # zeros off it: one-sided, -3 f + 4 f - f rounds, divided by a tiny h)
        assert not J[pattern.toarray() == 0].any()
    method = "3-point" if three_point else "2-point"
    S = approx_derivative(fun, x, method=method, bounds=(lb, ub),
                          sparsity=(pattern, group_columns(pattern)))
    Ja = jac(x)
    scale = np.abs(Ja).max()
    assert np.abs(G.toarray() - S.toarray()).max() <= (1e-6 if three_point else 1e-5) * scale
    assert np.abs(G.toarray() - Ja).max() <= (1e-7 if three_point else 1e-5) * scale
