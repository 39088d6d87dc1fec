"""Block-Jacobi preconditioning of LSMR (``tr_options['preconditioner']``).

The preconditioner changes LSMR's variables, not the problem: a solve with
it must reach scipy's answer (scipy's LSMR has no preconditioner) and
lsqcore's own unpreconditioned answer, with fewer LSMR iterations where
the columns come in blocks.  Checked here: the blocks and factors against
numpy (each diagonal block of the preconditioned normal matrix is the
identity), the solves against scipy on a small bundle adjustment (well
scaled, and badly scaled: parameters of very different units), on
Broyden tridiagonal with bounds (blocks of one column: Jacobi), with trf
and dogbox, and the errors of a preconditioner that cannot apply.
"""
import functools

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import least_squares as scipy_ls
from scipy.sparse.linalg import aslinearoperator

import lsqcore
from lsqcore import _precond as P
from test_sparse import Broyden

BJ = {"preconditioner": "block-jacobi"}


# ---- a small bundle adjustment -----------------------------------------------------

def _rotate(p, r):
    """Rodrigues' rotation of the rows of ``p`` by the rotation vectors ``r``."""
    theta = np.linalg.norm(r, axis=1)[:, None]
    with np.errstate(invalid="ignore"):
        k = np.nan_to_num(r / theta)
    cos, sin = np.cos(theta), np.sin(theta)
    return (cos * p + sin * np.cross(k, p)
            + (np.sum(p * k, axis=1)[:, None] * (1 - cos)) * k)


def bundle(n_cam=4, n_pt=30, n_obs=90, seed=3, unit=1.0):
    """Cameras of 9 parameters (rotation, translation, focal length, two
    distortion terms) and points of 3; ``unit`` scales the focal length's
    units (a badly scaled problem for ``unit`` far from 1)."""
    rng = np.random.default_rng(seed)
    cams = np.zeros((n_cam, 9))
    cams[:, :3] = 0.1 * rng.standard_normal((n_cam, 3))
    cams[:, 3:5] = rng.standard_normal((n_cam, 2))
    cams[:, 5] = -8.0 - rng.random(n_cam)
    cams[:, 6] = (500.0 + 50.0 * rng.random(n_cam)) / unit
    cams[:, 7] = -1e-2 * rng.random(n_cam)
    cams[:, 8] = 1e-3 * rng.random(n_cam)
    pts = rng.standard_normal((n_pt, 3)) * [1.0, 1.0, 0.5]
    ci = np.concatenate([rng.integers(0, n_cam, n_pt), rng.integers(0, n_cam, n_obs - n_pt)])
    pi = np.concatenate([np.arange(n_pt), rng.integers(0, n_pt, n_obs - n_pt)])

    def project(c, p):
        q = _rotate(p, c[:, :3]) + c[:, 3:6]
        q = -q[:, :2] / q[:, 2, None]
        r2 = np.sum(q ** 2, axis=1)
        return q * (unit * c[:, 6] * (1 + c[:, 7] * r2 + c[:, 8] * r2 ** 2))[:, None]

    obs = project(cams[ci], pts[pi]) + 0.5 * rng.standard_normal((n_obs, 2))

    def fun(x):
        c = x[:9 * n_cam].reshape(n_cam, 9)
        p = x[9 * n_cam:].reshape(n_pt, 3)
        return (project(c[ci], p[pi]) - obs).ravel()

    m, n = 2 * n_obs, 9 * n_cam + 3 * n_pt
    A = sp.lil_array((m, n), dtype=int)
    i = np.arange(n_obs)
    for s in range(9):
        A[2 * i, ci * 9 + s] = 1
        A[2 * i + 1, ci * 9 + s] = 1
    for s in range(3):
        A[2 * i, 9 * n_cam + pi * 3 + s] = 1
        A[2 * i + 1, 9 * n_cam + pi * 3 + s] = 1
    x_true = np.concatenate([cams.ravel(), pts.ravel()])
    x0 = x_true + 0.02 * np.abs(x_true) * rng.standard_normal(n)
    return fun, x0, A.tocsr()


# ---- the blocks and their factors ---------------------------------------------------

def _factor(C, d, c):
    C = sp.csc_array(C)
    C.sort_indices()
    n = C.shape[1]
    Pm = np.zeros((3, n))
    Li = np.zeros((n, P.BMAX))
    Pm[P.P_C] = c
    P.factor(C.indptr.astype(np.int64), C.indices.astype(np.int64), C.data.copy(), d,
             Pm[P.P_C], Pm, Li)
    return Pm, Li


def _block_diagonal(Pm, Li):
    """The blocks (start, size) and ``L^{-1}`` as a dense matrix."""
    n = Pm.shape[1]
    Linv = np.zeros((n, n))
    blocks = []
    j = 0
    while j < n:
        k = int(Pm[P.P_SIZE, j])
        assert (Pm[P.P_SIZE, j:j + k] == k).all()
        Linv[j:j + k, j:j + k] = np.tril(Li[j:j + k, :k])
        blocks.append((j, k))
        j += k
    return blocks, Linv


def test_blocks_whiten_the_normal_matrix():
    """Blocks are the runs of columns with the same rows (9 per camera, 3 per
    point), and ``L^{-1} G L^{-T}`` is the identity on each."""
    rng = np.random.default_rng(0)
    _, _, A = bundle()
    C = sp.csc_array(A, dtype=float)
    C.data = rng.standard_normal(C.nnz)
    n = C.shape[1]
    d = rng.random(n) + 0.5
    c = 0.1 * rng.random(n)
    Pm, Li = _factor(C, d, c)
    blocks, Linv = _block_diagonal(Pm, Li)
    assert [k for _, k in blocks] == [9] * 4 + [3] * 30
    Ad = C.toarray() * d
    G = Ad.T @ Ad + np.diag(c ** 2)
    H = Linv @ G @ Linv.T
    for s, k in blocks:
        np.testing.assert_allclose(H[s:s + k, s:s + k], np.eye(k), atol=1e-12)
    y = rng.standard_normal(n)
    out = np.empty(n)
    P.times(Pm, Li, y, out, False)
    np.testing.assert_allclose(out, Linv @ y, rtol=1e-13, atol=1e-13)
    P.times(Pm, Li, y, out, True)
    np.testing.assert_allclose(out, Linv.T @ y, rtol=1e-13, atol=1e-13)


def test_long_runs_are_cut_and_singular_blocks_stay_finite():
    """A run of 20 equal columns is cut into BMAX and the rest; a zero column
    (a singular block) gets a finite, nonsingular factor."""
    rng = np.random.default_rng(1)
    C = sp.csc_array(rng.standard_normal((30, 20)))
    v = C.toarray()
    v[:, 4] = 0.0
    Pm, Li = _factor(sp.csc_array(np.where(v == 0.0, 1e-300, v)), np.ones(20), np.zeros(20))
    blocks, _ = _block_diagonal(Pm, Li)
    assert [k for _, k in blocks] == [P.BMAX, 20 - P.BMAX]
    C2 = sp.csc_array(v)               # column 4 stored with no entries: its own block
    Pm, Li = _factor(C2, np.ones(20), np.zeros(20))
    blocks, Linv = _block_diagonal(Pm, Li)
    assert (4, 1) in blocks
    assert np.isfinite(Linv).all() and np.all(np.diag(Linv) != 0.0)


# ---- solves against scipy ---------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _exact_minimum(unit):
    """scipy's trf with its exact (dense) solver and tight tolerances: the
    reference minimum (its dogbox, and scipy's and lsqcore's unpreconditioned
    LSMR, stop short of it: measured still above it after max_nfev = 12 600)."""
    fun, x0, _ = bundle(unit=unit)
    return scipy_ls(fun, x0, tr_solver="exact", x_scale="jac", ftol=1e-12, xtol=1e-12,
                    gtol=1e-12)


@pytest.mark.parametrize("unit", [1.0, 1e-6], ids=["scaled", "badly-scaled"])
@pytest.mark.parametrize("method", ["trf", "dogbox"])
def test_bundle_adjustment_as_scipy(method, unit):
    """To tight tolerances, the minimum of scipy's exact solve; at the default
    tolerances, a cost no higher than scipy's LSMR reaches.  On the badly
    scaled problem the focal length is 10^8 times the other parameters."""
    fun, x0, A = bundle(unit=unit)
    exact = _exact_minimum(unit)
    res = lsqcore.least_squares(fun, x0, jac_sparsity=A, tr_solver="lsmr", tr_options=BJ,
                                method=method, x_scale="jac", ftol=1e-12, xtol=1e-12,
                                gtol=1e-12)
    assert res.success
    assert abs(res.cost - exact.cost) <= 1e-9 * exact.cost
    # (bundle adjustment's minimum is a set, a rotation, shift or scaling of the
    # whole scene changes x and not the residuals; and a flat one: a cost equal
    # to 1e-9 leaves the residuals equal to about 1e-5)
    assert np.linalg.norm(res.fun - exact.fun) <= 1e-4 * np.linalg.norm(exact.fun)
    np.testing.assert_allclose(res.fun, fun(res.x))

    kw = dict(jac_sparsity=A, tr_solver="lsmr", method=method, x_scale="jac")
    ref = scipy_ls(fun, x0, **kw)
    own = lsqcore.least_squares(fun, x0, **kw)
    res = lsqcore.least_squares(fun, x0, tr_options=BJ, **kw)
    assert res.success and ref.success
    assert exact.cost * (1 - 1e-12) <= res.cost <= ref.cost * (1 + 1e-9)
    assert abs(own.cost - ref.cost) <= 1e-6 * ref.cost


@pytest.mark.parametrize("bounds", ["free", "box"])
@pytest.mark.parametrize("method", ["trf", "dogbox"])
def test_broyden_with_bounds_as_scipy(method, bounds):
    """Blocks of one column (the Jacobi case), with trf's bound rows (the
    operator's extra diagonal) and dogbox's free mask (zero columns)."""
    B = Broyden()
    bnd = (-np.inf, np.inf) if bounds == "free" else (B.lb, B.ub)
    kw = dict(jac_sparsity=B.sparsity, tr_solver="lsmr", method=method, bounds=bnd)
    ref = scipy_ls(B.fun, B.x0, **kw)
    res = lsqcore.least_squares(B.fun, B.x0, tr_options=BJ, **kw)
    assert res.status > 0
    assert abs(res.cost - ref.cost) <= 1e-8 * max(ref.cost, 1e-12) + 1e-20
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-6, atol=1e-8)


def test_jitted_residual_runs_preconditioned_in_compiled_code():
    """A jitted residual with ``jac_sparsity`` (the compiled driver) gives the
    answer of the Python driver."""
    from numba import njit
    B = Broyden(200)

    @njit
    def fun(x):
        f = (3 - x) * x + 1
        f[1:] -= x[:-1]
        f[:-1] -= 2 * x[1:]
        return f
    kw = dict(jac_sparsity=B.sparsity, tr_solver="lsmr", tr_options=BJ)
    a = lsqcore.least_squares(fun, B.x0, **kw)
    b = lsqcore.least_squares(B.fun, B.x0, **kw)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.cost == b.cost and a.nfev == b.nfev


# ---- errors ---------------------------------------------------------------------------

def test_errors_name_the_option():
    B = Broyden(10)
    calls = []

    def fun(x):
        calls.append(1)
        return B.fun(x)
    with pytest.raises(ValueError, match=r"tr_options\['preconditioner'\].*'block-jacobi'"):
        lsqcore.least_squares(fun, B.x0, jac_sparsity=B.sparsity, tr_solver="lsmr",
                              tr_options={"preconditioner": "ilu"})
    with pytest.raises(ValueError, match=r"preconditioner.*sparse.*dense Jacobian"):
        lsqcore.least_squares(fun, B.x0, tr_solver="lsmr", tr_options=BJ)
    assert not calls                    # both before any evaluation
    with pytest.raises(ValueError, match=r"preconditioner.*LinearOperator"):
        lsqcore.least_squares(fun, B.x0, jac=lambda x: aslinearoperator(B.jac(x)),
                              tr_solver="lsmr", tr_options=BJ)
