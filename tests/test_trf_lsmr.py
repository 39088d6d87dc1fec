"""``method='trf', tr_solver='lsmr'``: the 2-D subspace step, against scipy.

scipy's trf with ``tr_solver='lsmr'`` takes LSMR's (regularized)
Gauss-Newton direction, minimizes the model over the plane it spans with the
gradient, and selects a step in the box as with the exact solver; lsqcore's
does the same in the kernel (lsqcore.methods.lsmr_model).  These tests check
the 2-by-2 trust-region solver against brute force and against scipy's, and
the fits against scipy's on well and badly conditioned problems, with and
without bounds, ``x_scale``, ``regularize``, LSMR's options and robust losses.
"""
import itertools
import math

import numpy as np
import pytest
from scipy.optimize import least_squares as scipy_least_squares
from scipy.optimize._lsq.common import solve_trust_region_2d as scipy_tr_2d

import lsqcore
from lsqcore.methods.lsmr_model import solve_tr_2d
from lsmr_cases import rosen, rosen_jac, mgh_cases, outlier_fit, judge, three_ways, mgh_as_scipy


def _value(B, g, y):
    return g @ y + 0.5 * y @ B @ y


def _brute_force(B, g, Delta):
    """The least model value over the disc: a fine scan of the circle, and the
    interior Newton point when ``B`` is positive definite."""
    phi = np.linspace(0.0, 2.0 * np.pi, 200001)
    Y = Delta * np.stack([np.cos(phi), np.sin(phi)])
    best = np.min(g @ Y + 0.5 * np.sum(Y * (B @ Y), axis=0))
    lam = np.linalg.eigvalsh(B)
    if lam[0] > 1e-12 * abs(lam[1]):
        y = -np.linalg.solve(B, g)
        if y @ y <= Delta ** 2:
            best = min(best, _value(B, g, y))
    return best


def _random_2x2(rng, kind):
    Q, _ = np.linalg.qr(rng.standard_normal((2, 2)))
    lam = {"pd": rng.uniform(0.1, 5.0, 2), "indefinite": [-rng.uniform(0.1, 3), rng.uniform(0.1, 3)],
           "singular": [0.0, rng.uniform(0.1, 3)], "negative": -rng.uniform(0.1, 3, 2),
           "ill": [1e-9, 1.0]}[kind]
    return Q @ np.diag(lam) @ Q.T, Q


@pytest.mark.parametrize("kind", ["pd", "indefinite", "singular", "negative", "ill"])
def test_tr_2d_is_the_minimum_over_the_disc(kind):
    """Random B of each kind, random g and radius: ``||y|| <= Delta`` and no
    point of the disc (scan of the circle, interior Newton point) does better
    than 1e-9 relative."""
    rng = np.random.default_rng(["pd", "indefinite", "singular", "negative", "ill"].index(kind))
    for _ in range(40):
        B, _ = _random_2x2(rng, kind)
        g = rng.standard_normal(2) * 10.0 ** rng.uniform(-3, 2)
        Delta = 10.0 ** rng.uniform(-2, 2)
        y = np.array(solve_tr_2d(B[0, 0], B[0, 1], B[1, 1], g[0], g[1], Delta))
        assert np.linalg.norm(y) <= Delta * (1 + 1e-12)
        best = _brute_force(B, g, Delta)
        assert _value(B, g, y) <= best + 1e-9 * max(abs(best), 1e-300)


def test_tr_2d_hard_case():
    """``g`` orthogonal to the eigenvector of the negative eigenvalue: the
    solution is on the circle with a component along that eigenvector."""
    rng = np.random.default_rng(7)
    B, Q = _random_2x2(rng, "indefinite")      # column 0: eigenvalue < 0
    g = 0.1 * Q[:, 1]
    lam = np.linalg.eigvalsh(B)
    y = np.array(solve_tr_2d(B[0, 0], B[0, 1], B[1, 1], g[0], g[1], 2.0))
    assert np.linalg.norm(y) == pytest.approx(2.0, rel=1e-12)
    assert abs(y @ Q[:, 0]) > 1.0
    assert _value(B, g, y) <= _brute_force(B, g, 2.0) + 1e-12
    assert y @ Q[:, 1] == pytest.approx(-(g @ Q[:, 1]) / (lam[1] - lam[0]), rel=1e-10)


def test_tr_2d_as_scipy():
    """The same solution as scipy's ``solve_trust_region_2d`` (which finds the
    boundary point from a quartic's roots) on random well-posed problems."""
    rng = np.random.default_rng(11)
    for kind in ("pd", "indefinite", "negative"):
        for _ in range(30):
            B, _ = _random_2x2(rng, kind)
            g = rng.standard_normal(2)
            Delta = 10.0 ** rng.uniform(-1, 1)
            y = np.array(solve_tr_2d(B[0, 0], B[0, 1], B[1, 1], g[0], g[1], Delta))
            ys, _ = scipy_tr_2d(B, g, Delta)
            assert np.allclose(y, ys, rtol=1e-8, atol=1e-10 * Delta)


ROSEN_CASES = list(itertools.product(
    ["2-point", "3-point", "cs", rosen_jac],
    [1.0, np.array([1.0, 0.2]), "jac"],
    [(-np.inf, np.inf), ([-50.0, 0.0], [0.5, 100.0]), ([-2.5, -np.inf], [0.5, 1.2])],
    [True, False]))


@pytest.mark.parametrize("jac,x_scale,bounds,regularize", ROSEN_CASES)
def test_rosenbrock_as_scipy(jac, x_scale, bounds, regularize):
    """scipy's Rosenbrock cases: the same minimizer and cost as scipy's
    trf+lsmr; without bounds also the same number of evaluations (with
    bounds the reflective choice can differ on a tie rounded differently)."""
    free = np.isscalar(bounds[0])
    x0 = [-2.0, 1.0] if free else [-0.5, 1.0]
    kw = dict(jac=jac, x_scale=x_scale, bounds=bounds, method="trf", tr_solver="lsmr",
              tr_options={"regularize": regularize})
    r = lsqcore.least_squares(rosen, x0, **kw)
    s = scipy_least_squares(rosen, x0, **kw)
    assert r.status > 0 and s.status > 0
    assert np.allclose(r.x, s.x, rtol=1e-6, atol=1e-8)
    assert r.cost == pytest.approx(s.cost, rel=1e-6, abs=1e-14)
    if free:
        assert r.nfev == s.nfev


@pytest.mark.parametrize("bounded", [False, True], ids=["free", "bounded"])
@pytest.mark.parametrize("p", list(mgh_cases()))
def test_mgh_as_scipy(p, bounded):
    """MGH problems from the standard start, free and in a box around the
    start that the path meets, judged by :func:`lsmr_cases.judge`."""
    mgh_as_scipy(p, "trf", bounded)


@pytest.mark.parametrize("bounds", [(-np.inf, np.inf), ([0.0, 0.0, -1.0], [10.0, 10.0, 1.0])])
def test_tight_lsmr_equals_the_exact_solver(bounds):
    """With LSMR's tolerances at 1e-14 and no regularization, the subspace
    holds the exact Gauss-Newton step: the same minimum (cost to 1e-12, x to
    1e-7) as tr_solver='exact'."""
    rng = np.random.default_rng(2)
    t = np.linspace(0.0, 3.0, 40)
    y = 2.0 * np.exp(-1.1 * t) + 0.3 + 0.01 * rng.standard_normal(40)

    def fun(x):
        return x[0] * np.exp(-x[1] * t) + x[2] - y
    kw = dict(method="trf", bounds=bounds)
    a = lsqcore.least_squares(fun, [1.0, 1.0, 0.0], **kw)
    b = lsqcore.least_squares(fun, [1.0, 1.0, 0.0], tr_solver="lsmr",
                              tr_options=dict(atol=1e-14, btol=1e-14, regularize=False), **kw)
    assert a.status > 0 and b.status > 0
    assert b.cost == pytest.approx(a.cost, rel=1e-12)
    assert np.allclose(a.x, b.x, rtol=1e-7)


@pytest.mark.parametrize("x_scale", [1.0, "jac"])
@pytest.mark.parametrize("bounded", [False, True])
def test_ill_conditioned_as_scipy(bounded, x_scale):
    """A badly scaled exponential fit (cond(J) ~ 1e7 from the parameters'
    scales), judged by :func:`lsmr_cases.judge` against the exact solver's minimum."""
    t = np.linspace(0.0, 1.0, 80)
    y = 1e4 * np.exp(-3e-3 * t * 1e3) + 1e-3 * t

    def fun(x):
        return x[0] * np.exp(-x[1] * t * 1e3) + x[2] * t - y
    kw = dict(method="trf", x_scale=x_scale, max_nfev=3000)
    if bounded:
        kw["bounds"] = ([0.0, 0.0, -1.0], [1e5, 1.0, 1.0])
    exact, s, r = three_ways(fun, [5e3, 1e-3, 0.0], **kw)
    assert exact.status > 0
    judge(r, s, exact.cost, 1e-16 * 0.5 * np.sum(fun(np.array([5e3, 1e-3, 0.0])) ** 2))


@pytest.mark.parametrize("loss", ["soft_l1", "cauchy"])
@pytest.mark.parametrize("tr_options", [{}, {"maxiter": 1}, {"atol": 1e-10, "btol": 1e-10},
                                        {"damp": 0.5}, {"conlim": 10.0},
                                        {"regularize": False}])
@pytest.mark.parametrize("bounded", [False, True])
def test_options_and_robust_loss_as_scipy(loss, tr_options, bounded):
    """LSMR's options and ``regularize`` with robust losses on a fit with
    outliers.  The loss-scaled Jacobian is so badly scaled here that LSMR
    often stops after one iteration, with its direction parallel to the
    gradient; scipy then completes the plane with the direction of rounding
    errors, lsqcore with the next Krylov direction, so the paths differ.  Both
    must end at the exact solver's minimum: cost within 1e-6 relative, and x
    within 2e-3 (an ``ftol`` stop 1e-8 above the minimum cost leaves x about
    1e-4 away on this problem; a different local minimum would be 1e-1)."""
    fun = outlier_fit()
    kw = dict(method="trf", tr_options=tr_options, loss=loss, f_scale=0.1)
    if bounded:
        kw["bounds"] = ([0.0, 0.0, -1.0], [10.0, 5.0, 1.0])
    exact, s, r = three_ways(fun, [1.0, 1.0, 0.0], **kw)
    assert exact.status > 0 and s.status > 0 and r.status > 0
    assert s.cost == pytest.approx(exact.cost, rel=1e-6)
    assert r.cost == pytest.approx(exact.cost, rel=1e-6)
    assert np.allclose(r.x, exact.x, rtol=2e-3, atol=1e-6)


def test_regularize_is_read():
    """``regularize`` changes the Gauss-Newton direction, and so the path:
    on a linear-loss fit each setting gives scipy's own path (the same
    evaluations, cost to 1e-12), and the two paths differ."""
    fun = outlier_fit()
    runs = {}
    for reg in (True, False):
        kw = dict(method="trf", tr_solver="lsmr", tr_options={"regularize": reg})
        r = lsqcore.least_squares(fun, [1.0, 1.0, 0.0], **kw)
        s = scipy_least_squares(fun, [1.0, 1.0, 0.0], **kw)
        assert r.nfev == s.nfev
        assert r.cost == pytest.approx(s.cost, rel=1e-12)
        runs[reg] = r
    assert not np.array_equal(runs[True].x, runs[False].x)


def test_one_variable():
    """n = 1: the subspace is a line (the gradient); the minimum as scipy's exact solver."""
    def fun(x):
        return np.array([x[0] ** 2 - 2.0, 0.1 * x[0] - 0.15])
    r = lsqcore.least_squares(fun, [3.0], tr_solver="lsmr")
    s = scipy_least_squares(fun, [3.0])
    assert r.status > 0
    assert r.x[0] == pytest.approx(s.x[0], rel=1e-8)
    assert math.isfinite(r.cost)
