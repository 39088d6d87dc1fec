"""The Gram route to ``R`` (lsqcore._gram) against LAPACK's QR, and its guard.

The route must give Householder's ``R`` and ``(Q^T f)[:n]`` (up to the signs
of the rows) to the accuracy its error bound promises, and must refuse
every Jacobian on which squaring the condition number would show: the
kernel then factors by Householder QR as before.
"""
import numpy as np
import pytest
import scipy.linalg

from lsqcore import problems
from lsqcore._gram import gram, gram_factor, GRAM_RTOL


def _route(J, f, d=None, C=None):
    """``(ok, R, uf)`` of the kernel's two steps: :func:`gram` when ``J`` is
    evaluated, :func:`gram_factor` when it is factored."""
    m, n = J.shape
    d = np.ones(n) if d is None else d
    G = np.empty((n, n))
    g = np.empty(n)
    gram(np.ascontiguousarray(J.T), f, G, g)
    R = np.empty((n, n))
    uf = np.empty(n)
    ok = gram_factor(G, g, d, np.zeros(n) if C is None else C, C is not None, m, R, uf,
                     np.empty((n, n)))
    return ok, R, uf


def _qr_reference(A, b):
    """LAPACK's ``R`` and ``(Q^T b)[:n]`` with a positive diagonal."""
    Q, R = scipy.linalg.qr(A, mode="economic")
    s = np.sign(np.diag(R))
    return s[:, None] * R, s * (Q.T @ b)


def _well_conditioned(m, n, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, n)) * rng.uniform(0.5, 2.0, n), rng.normal(size=m)


def test_gram_is_the_sums_of_dot_range():
    """``G[j, j]`` and ``g`` are the four-chain sums of ``dot_range``, bit for bit
    (the column norms of the gtol test and the scaling did not change)."""
    from lsqcore._linalg import dot_range
    J, f = _well_conditioned(37, 5, 1)
    G = np.empty((5, 5))
    g = np.empty(5)
    gram(np.ascontiguousarray(J.T), f, G, g)
    for j in range(5):
        c = np.ascontiguousarray(J[:, j])
        assert G[j, j] == dot_range(c, c, 0, 37)
        assert g[j] == dot_range(c, f, 0, 37)
        for k in range(5):
            if k < j:
                assert G[j, k] == 0.0
            else:
                assert G[j, k] == pytest.approx(c @ J[:, k], rel=1e-14)


@pytest.mark.parametrize("m, n, seed", [(25, 5, 0), (30, 3, 1), (50, 3, 2), (1000, 4, 3),
                                        (24, 8, 4), (200, 12, 5)])
def test_matches_householder_on_well_conditioned(m, n, seed):
    J, f = _well_conditioned(m, n, seed)
    d = np.random.default_rng(seed).uniform(0.5, 2.0, n)
    ok, R, uf = _route(J, f, d)
    assert ok
    R0, uf0 = _qr_reference(J * d, f)
    scale = np.abs(R0).max()
    assert np.abs(R - R0).max() <= 1e-12 * scale
    assert np.abs(uf - uf0).max() <= 1e-12 * max(np.abs(uf0).max(), 1.0)
    assert np.all(np.tril(R, -1) == 0.0)


def test_shifted_is_the_augmented_qr():
    """trf's bound term: ``R`` of ``[J D; C^(1/2)]``, ``uf`` of ``[f; 0]``."""
    J, f = _well_conditioned(40, 4, 7)
    d = np.array([0.5, 1.0, 2.0, 4.0])
    C = np.array([0.0, 0.3, 1.5, 0.01])
    ok, R, uf = _route(J, f, d, C)
    assert ok
    R0, uf0 = _qr_reference(np.vstack([J * d, np.diag(np.sqrt(C))]),
                            np.concatenate([f, np.zeros(4)]))
    assert np.abs(R - R0).max() <= 1e-12 * np.abs(R0).max()
    assert np.abs(uf - uf0).max() <= 1e-12 * np.abs(uf0).max()


def _kappa_bound(A):
    """``(m + n) eps kappa_F(R)^2`` of ``A`` from LAPACK's ``R``."""
    R = scipy.linalg.qr(A, mode="r")[0][:A.shape[1]]
    kappa = np.linalg.norm(R) * np.linalg.norm(np.linalg.inv(R))
    return (A.shape[0] + A.shape[1]) * np.finfo(float).eps * kappa ** 2


def _vandermonde(m, n):
    t = np.linspace(0.0, 1.0, m)
    return np.vander(t, n, increasing=True)


@pytest.mark.parametrize("n", [4, 6, 8])
def test_refuses_ill_conditioned(n):
    """A Vandermonde Jacobian (kappa 1e2 .. 1e5): taken only while the bound
    ``(m + n) eps kappa_F^2 <= GRAM_RTOL`` holds, and then accurate to it."""
    J = _vandermonde(30, n)
    f = np.cos(np.linspace(0.0, 3.0, 30))
    ok, R, uf = _route(J, f)
    assert ok == (_kappa_bound(J) <= GRAM_RTOL)
    if ok:
        R0, uf0 = _qr_reference(J, f)
        assert np.abs(R - R0).max() <= 10 * GRAM_RTOL * np.abs(R0).max()
    if n >= 6:
        assert not ok


@pytest.mark.parametrize("case", ["rank_deficient", "zero_column", "wide", "nan", "inf"])
def test_refuses_what_qr_must_handle(case):
    J, f = _well_conditioned(20, 4, 3)
    if case == "rank_deficient":
        J[:, 3] = J[:, 0] - 2.0 * J[:, 1]
    elif case == "zero_column":
        J[:, 2] = 0.0
    elif case == "wide":
        J = J[:3]
        f = f[:3]
    elif case == "nan":
        J[5, 1] = np.nan
    else:
        J[5, 1] = np.inf
    assert not _route(J, f)[0]


def test_scaled_zero_column_refused():
    """dogbox's free mask: a column scaled by 0 is a zero column."""
    J, f = _well_conditioned(20, 4, 3)
    assert not _route(J, f, np.array([1.0, 0.0, 1.0, 1.0]))[0]


@pytest.mark.parametrize("name", problems.nist_names())
def test_nist_jacobians_route_by_the_bound(name):
    """At each NIST certified solution (``J`` scaled by its column norms, as
    ``x_scale='jac'`` does) the route is taken exactly when the error bound
    holds, and then gives Householder's ``R`` to that bound.  (17 of the 27
    take it; Lanczos, MGH10, Bennett5, Thurber, Hahn1, Kirby2, MGH17 and Nelson
    have kappa_F from 120 to 6e4 and are refused.)"""
    p = problems.get("nist:" + name)
    x = np.asarray(p.x_star, dtype=float)
    J = np.asarray(p.jac(x, *p.args), dtype=float)
    f = np.asarray(p.fun(x, *p.args), dtype=float)
    d = 1.0 / np.sqrt((J ** 2).sum(axis=0))
    bound = _kappa_bound(J * d)
    if 0.5 < bound / GRAM_RTOL < 2.0:
        pytest.skip("too close to the threshold to call")
    ok, R, uf = _route(J, f, d)
    assert ok == (bound <= GRAM_RTOL)
    if ok:
        R0, uf0 = _qr_reference(J * d, f)
        assert np.abs(R - R0).max() <= 10 * GRAM_RTOL * np.abs(R0).max()
        assert np.abs(uf - uf0).max() <= 10 * GRAM_RTOL * np.abs(f).sum()


def test_gram_possible_is_the_bound_at_the_best_conditioning():
    """``kappa_F(R) >= n`` (equality for orthonormal columns), so the route is
    impossible once ``n^2 (m + n) eps > GRAM_RTOL``: then J^T J is not formed
    and the column norms come from J itself."""
    from lsqcore._gram import gram_possible
    eps = np.finfo(float).eps
    for n in (1, 3, 4, 8):
        m_max = int(GRAM_RTOL / (n * n * eps)) - n
        assert gram_possible(m_max, n) and not gram_possible(m_max + 2, n)
    assert not gram_possible(3, 4)
    Q = np.linalg.qr(np.random.default_rng(0).normal(size=(50, 6)))[0]
    ok, R, _ = _route(Q, np.ones(50))
    assert ok
    assert np.linalg.norm(R) * np.linalg.norm(np.linalg.inv(R)) == pytest.approx(6.0, rel=1e-12)
