"""``method='dogbox', tr_solver='lsmr'``: the Gauss-Newton point by LSMR, against scipy.

scipy's dogbox with ``tr_solver='lsmr'`` takes the Gauss-Newton point from
``scipy.sparse.linalg.lsmr`` on ``J diag(x_scale)`` with the active columns
removed; lsqcore's does the same with its compiled LSMR (lsqcore._lsmr) in
the kernel.  These tests compare the two on dense Jacobians, well and badly
conditioned, with bounds, ``x_scale``, robust losses and LSMR's options,
and check the options' errors.
"""
import itertools

import numpy as np
import pytest
from scipy.optimize import least_squares as scipy_least_squares

import lsqcore
from lsmr_cases import rosen, rosen_jac, mgh_cases, outlier_fit, mgh_as_scipy


ROSEN_CASES = list(itertools.product(
    ["2-point", "3-point", rosen_jac],
    [1.0, np.array([1.0, 0.2]), "jac"],
    [(-np.inf, np.inf), ([-np.inf, 0.5], np.inf), ([-2.5, -np.inf], [0.5, 1.2])]))


@pytest.mark.parametrize("jac,x_scale,bounds", ROSEN_CASES)
def test_rosenbrock_as_scipy(jac, x_scale, bounds):
    """Every Jacobian x x_scale x bounds of scipy's own Rosenbrock tests: the
    same x (1e-8), cost and number of evaluations as scipy's dogbox+lsmr."""
    kw = dict(jac=jac, x_scale=x_scale, bounds=bounds, method="dogbox", tr_solver="lsmr")
    r = lsqcore.least_squares(rosen, [-2.0, 1.0], **kw)
    s = scipy_least_squares(rosen, [-2.0, 1.0], **kw)
    assert r.status == s.status and r.status > 0
    assert np.allclose(r.x, s.x, rtol=1e-8, atol=1e-10)
    assert r.cost == pytest.approx(s.cost, rel=1e-8, abs=1e-20)
    assert r.nfev == s.nfev


@pytest.mark.parametrize("p", list(mgh_cases()))
def test_mgh_as_scipy(p):
    """MGH problems (analytic Jacobian, standard start).  LSMR's default
    limits (tolerances 1e-6, ``min(m, n)`` iterations) make the Gauss-Newton
    points inexact on badly conditioned Jacobians, and two LSMRs that sum in
    different orders then take different paths.  So (:func:`lsmr_cases.judge`):
    where scipy's dogbox+lsmr reaches the minimum the exact solver reaches,
    lsqcore's reaches it too; where scipy's stalls short of it
    (ill-conditioned: Gulf, Osborne 1, Biggs EXP6, Powell badly scaled),
    lsqcore's ends within a factor 2 of scipy's cost or says it did not reach
    a minimum (status -6, where scipy reports success at a cost far above the
    minimum)."""
    mgh_as_scipy(p, "dogbox")


def test_tight_lsmr_equals_the_exact_solver():
    """With LSMR's tolerances at 1e-14 its Gauss-Newton point is the exact
    solver's to rounding: the same minimum (cost to 1e-12, x to 1e-7, both
    stopped by gtol = 1e-8) as tr_solver='exact', bounds active on the way."""
    rng = np.random.default_rng(2)
    t = np.linspace(0.0, 3.0, 40)
    y = 2.0 * np.exp(-1.1 * t) + 0.3 + 0.01 * rng.standard_normal(40)

    def fun(x):
        return x[0] * np.exp(-x[1] * t) + x[2] - y
    kw = dict(method="dogbox", bounds=([0.0, 0.0, -1.0], [10.0, 10.0, 1.0]))
    a = lsqcore.least_squares(fun, [1.0, 1.0, 0.0], **kw)
    b = lsqcore.least_squares(fun, [1.0, 1.0, 0.0], tr_solver="lsmr",
                              tr_options=dict(atol=1e-14, btol=1e-14), **kw)
    assert a.status > 0 and b.status > 0
    assert b.cost == pytest.approx(a.cost, rel=1e-12)
    assert np.allclose(a.x, b.x, rtol=1e-7)


@pytest.mark.parametrize("loss", ["soft_l1", "cauchy"])
@pytest.mark.parametrize("tr_options", [{}, {"maxiter": 1}, {"atol": 1e-10, "btol": 1e-10},
                                        {"damp": 0.5}, {"conlim": 10.0}])
def test_options_and_robust_loss_as_scipy(loss, tr_options):
    """LSMR's options reach it (maxiter 1 is a Cauchy-like point, damp
    shortens it, conlim stops it early): the same cost as scipy's to 1e-8
    and the same number of evaluations, on a fit with outliers."""
    fun = outlier_fit()
    kw = dict(method="dogbox", tr_solver="lsmr", tr_options=tr_options, loss=loss,
              f_scale=0.1, bounds=([0.0, 0.0, -1.0], [10.0, 5.0, 1.0]))
    r = lsqcore.least_squares(fun, [1.0, 1.0, 0.0], **kw)
    s = scipy_least_squares(fun, [1.0, 1.0, 0.0], **kw)
    assert r.status == s.status
    assert r.cost == pytest.approx(s.cost, rel=1e-8)
    assert r.nfev == s.nfev


def test_tr_options_errors():
    args = (rosen, [-2.0, 1.0])
    for method in ("trf", "dogbox"):
        with pytest.raises(TypeError, match="unexpected keyword argument 'tol'"):
            lsqcore.least_squares(*args, method=method, tr_solver="lsmr",
                                  tr_options={"tol": 1e-10})
    with pytest.raises(ValueError, match="`tr_options\\['atol'\\]`"):
        lsqcore.least_squares(*args, method="dogbox", tr_solver="lsmr",
                              tr_options={"atol": -1.0})
    with pytest.raises(ValueError, match="`tr_options\\['maxiter'\\]`"):
        lsqcore.least_squares(*args, method="dogbox", tr_solver="lsmr",
                              tr_options={"maxiter": 0})
    with pytest.raises(ValueError, match="not available for `method`='gn'"):
        lsqcore.least_squares(*args, method="gn", tr_solver="lsmr")
    with pytest.warns(UserWarning, match="'regularize'"):
        r = lsqcore.least_squares(*args, method="dogbox", tr_solver="lsmr",
                                  tr_options={"regularize": True})
    assert r.status > 0
    # the exact solver ignores tr_options, as scipy's does
    r = lsqcore.least_squares(*args, method="dogbox", tr_options={"tol": 1.0})
    assert r.status > 0
