"""lsqcore.curve_fit against scipy.optimize.curve_fit (the oracle), the
compiled path, rank-deficient covariances and input validation.

Oracle rule (17 models: 8 synthetic + 9 NIST StRD, see cf_models.py; 7
configurations each), with both solvers run to tight tolerances
(ftol = xtol = gtol = 1e-15):

* the cost (half chi-square) must not be above scipy's (1e-12 relative);
  where it is lower, scipy stopped early and nothing else is compared
  (happens once: Kirby2 with bounds, scipy's trf stops 5e-10 above);
* ``popt``: ``|p - p_scipy| <= 1e-6 * (|p_scipy| + se)`` with ``se`` scipy's
  standard error (measured worst case 1.4e-7: Kirby2, limited by the
  finite-difference gradient);
* ``pcov``: ``|C_ij - S_ij| <= rtol * sqrt(S_ii S_jj)`` (relative to the
  scale of the entry's row and column), ``rtol = 3e-4`` for
  finite-difference Jacobians (measured worst 5.3e-5, Misra1a with bounds:
  scipy's '2-point' step ``sqrt(eps)*max(1, |x|)`` is coarse for
  b2 = 5.5e-4, lsqcore's is relative to ``|x|``) and ``1e-6`` for an
  analytic ``jac`` (measured worst 9e-8, MGH09).

NIST fits are additionally checked against the certified parameters and
standard deviations.
"""
import math
import warnings

import numpy as np
import pytest
from numba import njit
from scipy.optimize import curve_fit as sp_curve_fit

import lsqcore
from lsqcore import FitWarning
import cf_models as cm

TIGHT = dict(ftol=1e-15, xtol=1e-15, gtol=1e-15, maxfev=20000)
POPT_RTOL = 1e-6
PCOV_RTOL_FD = 3e-4
PCOV_RTOL_JAC = 1e-6

CONFIGS = ("plain", "sigma1d", "sigma2d", "absolute", "bounds", "omit", "jac",
           "jac_sigma2d")


def _kwargs(case, config):
    kw = dict(p0=case.p0)
    if config == "sigma1d":
        kw["sigma"] = case.sigma
    elif config == "sigma2d":
        kw["sigma"] = case.cov
    elif config == "absolute":
        kw.update(sigma=case.sigma, absolute_sigma=True)
    elif config == "bounds":
        kw["bounds"] = (case.lb, case.ub)
    elif config == "jac":
        kw["jac"] = case.jac
    elif config == "jac_sigma2d":
        kw.update(jac=case.jac, sigma=case.cov, absolute_sigma=True)
    return kw


def _data(case, config):
    x, y = case.x, case.y
    if config != "omit":
        return x, y, {}
    x = x.copy()
    y = y.copy()
    m = y.size
    y[[1, m // 2, m - 2]] = np.nan
    x[m // 3 + 1] = np.nan
    return x, y, dict(nan_policy="omit", sigma=case.sigma)


def _quiet(fn, *a, **k):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def _cost(case, x, y, kw, p):
    """0.5 * chi-square of ``p`` under the weights of ``kw`` (NaN rows dropped)."""
    r = case.f(x, *p) - y
    keep = np.isfinite(r)
    s = kw.get("sigma")
    if s is None:
        z = r[keep]
    elif np.ndim(s) == 1:
        z = r[keep] / np.asarray(s)[keep]
    else:
        z = np.linalg.solve(np.linalg.cholesky(s), r)
    return 0.5 * float(z @ z)


def assert_pcov_close(C, S, rtol, msg=""):
    d = np.sqrt(np.outer(np.diag(S), np.diag(S)))
    err = np.abs(C - S) / d
    assert np.all(err <= rtol), f"{msg}: pcov differs from scipy's by {err.max():.2e} " \
                                f"(relative to sqrt(S_ii S_jj); tol {rtol:g})"


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("case", cm.ALL, ids=lambda c: c.name)
def test_oracle_scipy(case, config):
    x, y, extra = _data(case, config)
    kw = _kwargs(case, config)
    kw.update(extra)
    ps, Cs = _quiet(sp_curve_fit, case.f, x, y, **kw, **TIGHT)
    p, C, info, mesg, ier = _quiet(lsqcore.curve_fit, case.f, x, y, full_output=True,
                                   **kw, **TIGHT)
    assert ier > 0, mesg
    c, c_sp = _cost(case, x, y, kw, p), _cost(case, x, y, kw, ps)
    assert c <= c_sp * (1 + 1e-12), f"{case.name}/{config}: cost {c} above scipy's {c_sp}"
    if c < c_sp * (1 - 1e-12):
        return          # scipy stopped early (Kirby2 with bounds): lower cost is enough
    se = np.sqrt(np.diag(Cs))
    np.testing.assert_array_less(np.abs(p - ps), POPT_RTOL * (np.abs(ps) + se) + 1e-300,
                                 err_msg=f"{case.name}/{config}: popt {p} vs scipy {ps}")
    rtol = PCOV_RTOL_JAC if config.startswith("jac") else PCOV_RTOL_FD
    assert_pcov_close(C, Cs, rtol, f"{case.name}/{config}")
    expected_method = "trf" if config == "bounds" else "lm"
    assert info["method"] == expected_method
    if config == "omit":
        nbad = int(np.sum(np.isnan(x) | np.isnan(y)))
        assert info["omitted"] == nbad and info["fvec"].size == y.size - nbad
    if case.certified is not None and config in ("plain", "jac"):
        # NIST certified values (unweighted fit only for the parameters' sd)
        np.testing.assert_allclose(p, case.certified, rtol=1e-6)
        if config == "plain":
            np.testing.assert_allclose(np.sqrt(np.diag(C)), case.certified_stddev, rtol=1e-4)


def test_at_least_ten_models():
    assert len(cm.ALL) >= 10 and len(cm.NIST) >= 5


def test_active_bound_matches_scipy():
    c = cm.BY_NAME["exp_decay"]
    bounds = ([0, 0, 0], [3, 1.0, 0.6])     # b is held at 1.0 < 1.3
    ps, Cs = _quiet(sp_curve_fit, c.f, c.x, c.y, p0=[1, 0.5, 0.1], bounds=bounds, **TIGHT)
    with pytest.warns(FitWarning, match="b at its upper bound"):
        p, C = lsqcore.curve_fit(c.f, c.x, c.y, p0=[1, 0.5, 0.1], bounds=bounds, **TIGHT)
    np.testing.assert_allclose(p, ps, rtol=1e-7)
    assert p[1] == pytest.approx(1.0, abs=1e-9)
    assert_pcov_close(C, Cs, PCOV_RTOL_FD, "active bound")


def test_defaults_match_scipy():
    """Default tolerances, p0=None (all ones), scalar sigma: same answer."""
    c = cm.BY_NAME["rational"]
    ps, Cs = sp_curve_fit(c.f, c.x, c.y)
    p, C = lsqcore.curve_fit(c.f, c.x, c.y)
    np.testing.assert_allclose(p, ps, rtol=1e-6)
    assert_pcov_close(C, Cs, 1e-3, "defaults")
    p2, C2 = lsqcore.curve_fit(c.f, c.x, c.y, sigma=0.5)
    np.testing.assert_allclose(p2, p, rtol=1e-6)
    np.testing.assert_allclose(C2, C, rtol=1e-6)     # a scalar sigma cancels
    ps3, Cs3 = sp_curve_fit(c.f, c.x, c.y, sigma=0.5, absolute_sigma=True)
    p3, C3 = lsqcore.curve_fit(c.f, c.x, c.y, sigma=0.5, absolute_sigma=True)
    assert_pcov_close(C3, Cs3, 1e-3, "scalar absolute sigma")


def test_p0_none_inside_bounds_like_scipy():
    c = cm.BY_NAME["exp_decay"]
    bounds = ([0, 0.5, -1], [5, np.inf, 1])
    ps, _ = _quiet(sp_curve_fit, c.f, c.x, c.y, bounds=bounds, **TIGHT)
    p, _ = lsqcore.curve_fit(c.f, c.x, c.y, bounds=bounds, **TIGHT)
    np.testing.assert_allclose(p, ps, rtol=1e-7)


def test_bounds_object_same_as_tuple():
    from scipy.optimize import Bounds
    c = cm.BY_NAME["michaelis"]
    p1, C1 = lsqcore.curve_fit(c.f, c.x, c.y, p0=c.p0, bounds=(c.lb, c.ub))
    p2, C2 = lsqcore.curve_fit(c.f, c.x, c.y, p0=c.p0, bounds=Bounds(c.lb, c.ub))
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(C1, C2)


@pytest.mark.parametrize("jac", ["3-point", "cs"])
def test_finite_difference_options(jac):
    c = cm.BY_NAME["gauss_peak"]
    p, C = lsqcore.curve_fit(c.f, c.x, c.y, p0=c.p0, jac=jac, **TIGHT)
    pj, Cj = lsqcore.curve_fit(c.f, c.x, c.y, p0=c.p0, jac=c.jac, **TIGHT)
    np.testing.assert_allclose(p, pj, rtol=1e-8)
    assert_pcov_close(C, Cj, 1e-6, jac)


def test_full_output_and_runtime_error():
    c = cm.BY_NAME["logistic"]
    p, C, info, mesg, ier = lsqcore.curve_fit(c.f, c.x, c.y, p0=c.p0, full_output=True)
    for k in ("nfev", "fvec", "jac", "rank", "null_space", "diagnostics", "report",
              "multistart", "driver"):
        assert k in info
    assert info["fvec"].shape == c.y.shape and info["jac"].shape == (c.y.size, 3)
    assert isinstance(mesg, str) and ier in (1, 2, 3, 4)
    assert info["driver"] == "python" and info["multistart"] is None
    with pytest.raises(RuntimeError, match="Optimal parameters not found.*maxfev"):
        lsqcore.curve_fit(c.f, c.x, c.y, p0=[1, 0.1, 3], maxfev=3)


@pytest.mark.parametrize("method", ["lm", "trf", "dogbox"])
def test_full_output_reports_as_scipy(method):
    """scipy's 'lm' path reports through leastsq: MINPACK's ier and message
    and fjac/ipvt/qtf in infodict; trf/dogbox return the solver's status."""
    c = cm.BY_NAME["logistic"]
    p, C, info, mesg, ier = lsqcore.curve_fit(c.f, c.x, c.y, p0=c.p0, method=method,
                                              full_output=True)
    ps, Cs, info_s, mesg_s, ier_s = sp_curve_fit(c.f, c.x, c.y, p0=c.p0, method=method,
                                                 full_output=True)
    assert ier in (1, 2, 3, 4) and ier_s in (1, 2, 3, 4)
    assert (set(info_s) - {"njev"}) <= set(info)
    if method == "lm":
        assert mesg.split()[:3] == mesg_s.split()[:3] or ier != ier_s   # MINPACK's wording
        n = p.size
        R = np.triu(info["fjac"].T[:n])
        P = info["ipvt"] - 1
        J = info["jac"]
        np.testing.assert_allclose(R.T @ R, (J.T @ J)[np.ix_(P, P)], rtol=1e-9,
                                   atol=1e-12 * np.abs(J.T @ J).max())
    with pytest.raises(RuntimeError, match="Number of calls to function has reached "
                                           "maxfev = 3."):
        lsqcore.curve_fit(c.f, c.x, c.y, p0=[1, 0.1, 3], maxfev=3)


# ------------------------------------------------------------ compiled path
@njit(cache=True)
def jit_decay(x, a, b, c):
    # float-only on purpose (math.exp has no complex overload): the compiled
    # residual must not need complex support unless jac='cs'
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = a * math.exp(-b * x[i]) + c
    return out


@njit(cache=True)
def jit_decay_jac(x, a, b, c):
    J = np.empty((x.shape[0], 3))
    for i in range(x.shape[0]):
        e = math.exp(-b * x[i])
        J[i, 0] = e
        J[i, 1] = -a * x[i] * e
        J[i, 2] = 1.0
    return J


def assert_popt_close(p, ps, Cs, msg=""):
    """The oracle rule of this module: ``|p - p_ref| <= POPT_RTOL (|p_ref| + se)``."""
    se = np.sqrt(np.abs(np.diag(Cs)))
    np.testing.assert_array_less(np.abs(p - ps), POPT_RTOL * (np.abs(ps) + se) + 1e-300,
                                 err_msg=f"{msg}: popt {p} vs {ps}")


def test_compiled_model_matches_python_and_scipy():
    """One compiled solve serves every weighting (the weights travel as one
    2-D array), so this costs a single compilation of the model.

    The compiled driver and the Python driver must agree to rounding when
    they evaluate the same compiled function (a Python wrapper of
    ``jit_decay``: the same bits on every CPU).  Against the numpy model and
    scipy the residuals themselves differ by an ulp (``math.exp`` in compiled
    code, numpy's SIMD ``exp`` on AVX-512 CPUs), which moves the
    finite-difference optimum: the module's oracle rule applies."""
    c = cm.BY_NAME["exp_decay"]

    def wrapped(x, a, b, cc):
        return jit_decay(x, a, b, cc)

    for kw in (dict(), dict(sigma=c.sigma), dict(sigma=c.cov, absolute_sigma=True)):
        p, C, info, _, _ = lsqcore.curve_fit(jit_decay, c.x, c.y, p0=c.p0, full_output=True,
                                             **kw, **TIGHT)
        assert info["driver"] == "compiled"
        pw, Cw = lsqcore.curve_fit(wrapped, c.x, c.y, p0=c.p0, **kw, **TIGHT)
        np.testing.assert_allclose(p, pw, rtol=1e-12)
        np.testing.assert_allclose(C, Cw, rtol=1e-9)
        pp, Cp = lsqcore.curve_fit(c.f, c.x, c.y, p0=c.p0, **kw, **TIGHT)
        assert_popt_close(p, pp, Cp, "compiled vs numpy model")
        assert_pcov_close(C, Cp, PCOV_RTOL_FD, "compiled vs numpy model")
        ps, Cs = _quiet(sp_curve_fit, c.f, c.x, c.y, p0=c.p0, **kw, **TIGHT)
        assert_popt_close(p, ps, Cs, "compiled vs scipy")
        assert_pcov_close(C, Cs, PCOV_RTOL_FD, "compiled")


def test_compiled_model_with_jac_and_covariance():
    c = cm.BY_NAME["exp_decay"]
    for sigma in (c.sigma, c.cov):
        p, C, info, _, _ = lsqcore.curve_fit(jit_decay, c.x, c.y, p0=c.p0, jac=jit_decay_jac,
                                             sigma=sigma, full_output=True, **TIGHT)
        assert info["driver"] == "compiled"
        ps, Cs = _quiet(sp_curve_fit, c.f, c.x, c.y, p0=c.p0, jac=c.jac, sigma=sigma, **TIGHT)
        np.testing.assert_allclose(p, ps, rtol=1e-9)
        assert_pcov_close(C, Cs, PCOV_RTOL_JAC, "compiled jac")


# ------------------------------------------------------------ rank deficiency
def over_param(x, a, b, c, d):
    return a * d * np.exp(-b * x) + c


def test_rank_deficient_pcov_is_honest_with_named_direction():
    """Only the product k = a*d is identifiable.  a and d get infinite
    variances in pcov (the pseudo-inverse, lsqcore's pcov before issue 14,
    gives them small finite errors); b and c, and the estimable function a*d through
    ``pcov_identifiable``, have the variances of the reduced model
    k*exp(-b x) + c (invariant under any generalised inverse, Seber & Wild
    sec. 3.4); the dropped direction (a up, d down) is named."""
    c = cm.BY_NAME["exp_decay"]
    with pytest.warns(FitWarning, match=r"rank 3 < 4.*\*a.*\*d"):
        p, C, info, _, _ = lsqcore.curve_fit(over_param, c.x, c.y, p0=[1, 1, 0, 1],
                                             full_output=True, jac="3-point", **TIGHT)
    assert info["rank"] == 3
    (ns,) = info["null_space"]
    assert sorted(ns["parameters"]) == ["a", "d"]
    a, b, cc, d = p
    direction = ns["direction"]
    # J @ direction == 0: moving along it leaves the model unchanged
    np.testing.assert_allclose(direction[[1, 2]], 0, atol=1e-6)
    assert direction[0] / direction[3] == pytest.approx(-a / d, rel=1e-5)
    # pcov: inf in the rows and columns of a and d, so the usual
    # sqrt(diag(pcov)) idiom cannot give them small errors
    se = np.sqrt(np.diag(C))
    assert np.isinf(se[0]) and np.isinf(se[3])
    assert np.all(np.isinf(C[[0, 3], :])) and np.all(np.isinf(C[:, [0, 3]]))
    pr, Cr = lsqcore.curve_fit(c.f, c.x, c.y, p0=[1, 1, 0], **TIGHT)
    np.testing.assert_allclose(C[1:3, 1:3], Cr[1:3, 1:3], rtol=1e-6)
    # the identifiable combinations keep their covariance under its own name
    P = info["pcov_identifiable"]
    assert np.all(np.isfinite(P))
    np.testing.assert_allclose(P[1:3, 1:3], C[1:3, 1:3], rtol=0)
    assert a * d == pytest.approx(pr[0], rel=1e-7)
    g = np.array([d, 0, 0, a])                     # gradient of a*d
    # (s^2 uses m - rank degrees of freedom, as for the reduced model)
    assert g @ P @ g == pytest.approx(Cr[0, 0], rel=1e-6)
    rep = info["report"]
    assert np.isinf(rep.stderr[0]) and np.isinf(rep.stderr[3])
    assert "not determined by the data" in str(rep)
    # scipy: the same optimum of the over-parametrised model; its pcov there
    # is not a reference (MINPACK's, of a singular problem: it varied by 30 %
    # between runs here), so the variances are compared with scipy's fit of
    # the reduced model, a well-posed problem
    ps, _ = _quiet(sp_curve_fit, over_param, c.x, c.y, p0=[1, 1, 0, 1], **TIGHT)
    assert ps[0] * ps[3] == pytest.approx(a * d, rel=1e-6)
    pr_s, Cr_s = sp_curve_fit(c.f, c.x, c.y, p0=[1, 1, 0], **TIGHT)
    np.testing.assert_allclose(se[1:3], np.sqrt(np.diag(Cr_s)[1:3]), rtol=1e-4)
    assert g @ P @ g == pytest.approx(Cr_s[0, 0], rel=1e-4)


def test_near_rank_deficient_but_identifiable_stays_finite():
    """Two close decay rates: badly conditioned (cond ~ 1e5) but of full rank,
    so every variance is finite and equals scipy's to the accuracy the
    conditioning allows."""
    x = np.linspace(0.0, 4.0, 60)

    def two(x, a, b, cc, d):
        return a * np.exp(-b * x) + cc * np.exp(-d * x)
    y = two(x, 1.0, 1.0, 1.0, 1.3) + 1e-3 * np.sin(9 * x)
    p, C, info, _, _ = _quiet(lsqcore.curve_fit, two, x, y, p0=[1, 0.9, 1, 1.4],
                              full_output=True, jac="3-point", **TIGHT)
    ps, Cs = _quiet(sp_curve_fit, two, x, y, p0=[1, 0.9, 1, 1.4], **TIGHT)
    assert info["rank"] == 4 and np.all(np.isfinite(C))
    np.testing.assert_array_equal(C, info["pcov_identifiable"])
    np.testing.assert_allclose(np.sqrt(np.diag(C)), np.sqrt(np.diag(Cs)), rtol=1e-3)


def dead_param(x, a, b, c):
    return a * np.exp(-b * x) + 0.0 * c


def test_parameter_without_effect_is_named():
    c = cm.BY_NAME["exp_decay"]
    with pytest.warns(FitWarning, match=r"rank 2 < 3.*\*c.*c has no effect"):
        p, C, info, _, _ = lsqcore.curve_fit(dead_param, c.x, c.y - 0.5, p0=[1, 1, 0],
                                             full_output=True, **TIGHT)
    assert info["null_space"][0]["parameters"] == ["c"]
    assert np.all(np.isinf(C[2, :])) and np.all(np.isinf(C[:, 2]))
    assert np.all(np.isfinite(C[:2, :2]))
    P = info["pcov_identifiable"]
    assert np.all(np.isfinite(P)) and P[2, 2] == 0.0
    np.testing.assert_array_equal(P[:2, :2], C[:2, :2])


def test_no_degrees_of_freedom_warns():
    x = np.array([0.0, 1.0, 2.0])
    y = np.array([1.0, 0.5, 0.3])
    with pytest.warns(FitWarning, match="no degrees of freedom"):
        p, C = lsqcore.curve_fit(cm.exp_decay, x, y, p0=[1, 1, 0])
    assert np.all(np.isinf(C))
    p, C = lsqcore.curve_fit(cm.exp_decay, x, y, p0=[1, 1, 0], sigma=[0.1] * 3,
                             absolute_sigma=True)
    assert np.all(np.isfinite(C))


# ------------------------------------------------------------ bad input
class Counting:
    def __init__(self):
        self.calls = 0

    def __call__(self, x, a, b, c):
        self.calls += 1
        return a * np.exp(-b * x) + c


X = np.linspace(0, 4, 20)
Y = 2.5 * np.exp(-1.3 * X) + 0.5
YNAN = Y.copy()
YNAN[3] = np.nan

BAD = [
    ("xy_length", dict(xdata=X[:-1]), ValueError, r"`xdata` and `ydata`.*19.*20"),
    ("x2d_mismatch", dict(xdata=np.ones((2, 7))), ValueError, "xdata"),
    ("sigma_shape", dict(sigma=np.ones(7)), ValueError, r"`sigma`.*shape"),
    ("sigma_zero", dict(sigma=np.where(np.arange(20) == 4, 0.0, 1.0)), ValueError,
     r"sigma\[4\] = 0"),
    ("sigma_negative", dict(sigma=-np.ones(20)), ValueError, "sigma"),
    ("sigma_2d_not_pd", dict(sigma=-np.eye(20)), ValueError, "positive definite"),
    ("sigma_2d_asym", dict(sigma=np.eye(20) + np.triu(np.ones((20, 20)), 1)), ValueError,
     "symmetric"),
    ("nan_raise", dict(ydata=YNAN, nan_policy="raise"), ValueError, r"`ydata`.*NaN"),
    ("nan_check_finite", dict(ydata=YNAN), ValueError, r"`ydata`.*NaN"),
    ("nan_policy_bad", dict(nan_policy="propagate"), ValueError, "nan_policy"),
    ("p0_short", dict(p0=[1, 1]), ValueError, r"`p0` has 2 value.*3.*\(a, b, c\)"),
    ("p0_long", dict(p0=[1, 1, 1, 1]), ValueError, r"`p0` has 4"),
    ("p0_nan", dict(p0=[1, np.nan, 1]), ValueError, "`p0` must be finite"),
    ("p0_outside", dict(p0=[1, 5, 1], bounds=(0, 2)), ValueError, r"b = p0\[1\]"),
    ("bounds_shape", dict(bounds=([0, 0], [1, 1])), ValueError, "bounds"),
    ("lm_bounds", dict(bounds=(0, 10), method="lm"), ValueError, "bounds"),
    ("method", dict(method="newton"), ValueError, "method"),
    ("args", dict(args=(1,)), ValueError, "args"),
    ("jac", dict(jac="4-point"), ValueError, "jac"),
    ("multistart", dict(multistart=0), ValueError, "multistart"),
    ("ydata_empty", dict(xdata=np.array([]), ydata=np.array([])), ValueError, "ydata"),
]


@pytest.mark.parametrize("name,kw,exc,match", BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises_before_any_work(name, kw, exc, match):
    f = Counting()
    args = dict(xdata=X, ydata=Y, p0=[1.0, 1.0, 0.0])
    args.update(kw)
    with pytest.raises(exc, match=match):
        lsqcore.curve_fit(f, **args)
    assert f.calls == 0, f"{name}: the model was called {f.calls} times before the error"


def test_lm_more_parameters_than_points_is_type_error_like_scipy():
    f = Counting()
    with pytest.raises(TypeError, match="must not exceed"):
        lsqcore.curve_fit(f, X[:2], Y[:2], p0=[1, 1, 0])
    assert f.calls == 0


def test_model_output_shape_checked():
    with pytest.raises(ValueError, match=r"f\(xdata, \*p0\)"):
        lsqcore.curve_fit(lambda x, a, b: np.ones(3) * a, X, Y, p0=[1, 1])
    with pytest.raises(ValueError, match=r"jac\(xdata, \*p0\)"):
        lsqcore.curve_fit(cm.exp_decay, X, Y, p0=[1, 1, 0], jac=lambda x, a, b, c: np.ones((3, 3)))


# ------------------------------------------------------------ gh-21995
def quad_even(x, a, b):
    return a + b * x ** 2


@pytest.mark.parametrize("a,b", [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0)])
@pytest.mark.parametrize("noise", [1e-2, 1e-3])
def test_parameter_at_zero_gets_the_right_covariance(a, b, noise):
    """scipy gh-21995: with a parameter converging to ~0, scipy's 'lm' returns
    an all-inf or a wrong pcov (the relative finite-difference step vanishes).
    The model is linear, so the exact covariance is s^2 (X^T X)^{-1}."""
    x = np.linspace(-1, 1, 20)
    y = quad_even(x, a, b) + noise * x ** 3
    X = np.stack([np.ones_like(x), x ** 2], axis=1)
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    r = y - X @ beta
    exact = (r @ r) / (x.size - 2) * np.linalg.inv(X.T @ X)
    p, C = lsqcore.curve_fit(quad_even, x, y)
    assert np.all(np.abs(p - beta) <= 1e-5 * np.sqrt(np.diag(exact)))   # default tolerances
    assert_pcov_close(C, exact, 1e-6, "gh-21995")


@pytest.mark.parametrize("case", cm.SYNTHETIC[:6], ids=lambda c: c.name)
def test_lm_and_trf_give_the_same_pcov(case):
    """scipy gh-22568: scipy's 'lm' and 'trf' disagree on pcov (leastsq's
    covariance comes from the permuted R of the previous iterate).  Here both
    methods form pcov the same way from the Jacobian at the solution."""
    p1, C1 = lsqcore.curve_fit(case.f, case.x, case.y, p0=case.p0, method="lm", **TIGHT)
    p2, C2 = lsqcore.curve_fit(case.f, case.x, case.y, p0=case.p0, method="trf", **TIGHT)
    np.testing.assert_allclose(p1, p2, rtol=1e-7)
    assert_pcov_close(C1, C2, 1e-5, "lm vs trf")


@pytest.mark.parametrize("method", ["lm", "trf", "dogbox"])
def test_scalar_ydata_broadcasts_as_scipy(method):
    """ydata=0 with a model that subtracts its own target: scipy broadcasts
    the scalar against the model's output; so does lsqcore (same popt and
    pcov as with an explicit zero vector, and as scipy's)."""
    x = np.arange(10.0)
    target = 4.7 * x ** 2 + 3.5 * x + np.random.default_rng(123).random(10)

    def model(x, a, b):
        return a * x ** 2 + b * x - target
    p0, C0 = lsqcore.curve_fit(model, x, np.zeros(10), method=method)
    p1, C1 = lsqcore.curve_fit(model, x, 0, method=method)
    ps, Cs = sp_curve_fit(model, x, 0, method=method)
    np.testing.assert_array_equal(p1, p0)
    np.testing.assert_array_equal(C1, C0)
    np.testing.assert_allclose(p1, ps, rtol=1e-7)
    np.testing.assert_allclose(C1, Cs, rtol=1e-5)


@pytest.mark.parametrize("jac", [None, "callable"])
def test_model_not_run_twice_at_p0(jac):
    """scipy gh-13670: the check of f (and jac) at p0 and the solver's first
    call share one evaluation; no two consecutive calls at the same p."""
    x = np.linspace(0, 3, 101)
    y = 2 * x + 1 + np.random.default_rng(8).normal(size=101) * 0.5
    calls = {"f": [], "jac": []}

    def line(x, a, b):
        calls["f"].append((a, b))
        return a * x + b

    def dline(x, a, b):
        calls["jac"].append((a, b))
        return np.column_stack([x, np.ones_like(x)])
    j = dline if jac else None
    p, C = lsqcore.curve_fit(line, x, y, p0=[1.0, 5.0], method="lm", jac=j)
    ours = {k: list(v) for k, v in calls.items()}
    ps, Cs = sp_curve_fit(line, x, y, p0=[1.0, 5.0], method="lm", jac=j)
    np.testing.assert_allclose(p, ps, rtol=1e-7)
    for seq in ours.values():
        assert all(a != b for a, b in zip(seq, seq[1:])), seq[:4]
    assert ours["f"].count((1.0, 5.0)) == 1
