"""Diagnostics for the classic fitting pitfalls.

Every diagnostic has a test that triggers it (a FitWarning naming the
problem, and an entry with a plain-language explanation in the report) and
a test where the same kind of fit is healthy and stays quiet.  pyproject
turns warnings into errors, so a quiet fit is one that raises no warning at
all.
"""
import warnings

import numpy as np
import pytest

import lsqcore
from lsqcore import FitWarning, diagnose
import cf_models as cm

DECAY = cm.BY_NAME["exp_decay"]
X, Y = DECAY.x, DECAY.y


def codes(diags):
    return [d.code for d in diags]


def _signed(p):
    return p[0] * np.exp(-p[1] * X) + p[2] - Y


def _squared(p):
    return (p[0] * np.exp(-p[1] * X) + p[2] - Y) ** 2


def _explained(d):
    assert isinstance(d.explanation, str) and len(d.explanation) > 80
    assert d.message and d.code in str(d) and d.to_dict()["code"] == d.code


# ------------------------------------------------------------ squared residuals
def test_squared_residuals_triggers():
    res = lsqcore.least_squares(_squared, [1.0, 1.0, 0.0])
    with pytest.warns(FitWarning, match="squared errors"):
        diags = diagnose(res)
    assert codes(diags) == ["squared_residuals"]
    _explained(diags[0])
    rep = lsqcore.fit_report(res)
    assert "[squared_residuals]" in str(rep) and "(y - model)**2" in str(rep)


def test_squared_residuals_quiet_on_signed_residuals():
    res = lsqcore.least_squares(_signed, [1.0, 1.0, 0.0])
    assert diagnose(res) == []
    assert lsqcore.fit_report(res).diagnostics == []


# ------------------------------------------------------------ parameter at a bound
def test_at_bound_triggers():
    with pytest.warns(FitWarning, match="b at its upper bound 1"):
        p, C, info, _, _ = lsqcore.curve_fit(DECAY.f, X, Y, p0=[1, 0.5, 0.1],
                                             bounds=([0, 0, 0], [5, 1.0, 2]), full_output=True)
    (d,) = info["diagnostics"]
    assert d.code == "at_bound" and d.details["parameters"] == ["b"]
    assert d.details["sides"] == ["upper"]
    _explained(d)
    assert "(at upper bound)" in str(info["report"])


def test_at_bound_from_least_squares_active_mask():
    res = lsqcore.least_squares(_signed, [1.0, 0.5, 0.1], bounds=([0, 0, 0], [5, 1.0, 2]))
    with pytest.warns(FitWarning, match="p1 at its upper bound"):
        diags = diagnose(res, bounds=([0, 0, 0], [5, 1.0, 2]))
    assert codes(diags) == ["at_bound"]


def test_at_bound_quiet_with_inactive_bounds():
    p, C = lsqcore.curve_fit(DECAY.f, X, Y, p0=[1, 0.5, 0.1], bounds=([0, 0, 0], [5, 3, 2]))
    assert np.all(np.isfinite(C))


# ------------------------------------------------------------ rank deficiency
def over_param(x, a, b, c, d):
    return a * d * np.exp(-b * x) + c


def test_rank_deficient_triggers_and_names_the_combination():
    with pytest.warns(FitWarning, match=r"cannot determine .*\*a .*\*d"):
        p, C, info, _, _ = lsqcore.curve_fit(over_param, X, Y, p0=[1, 1, 0, 1],
                                             full_output=True)
    (d,) = info["diagnostics"]
    assert d.code == "rank_deficient"
    assert d.details["combinations"][0]["parameters"] == ["a", "d"]
    _explained(d)


def test_rank_quiet_on_identifiable_model():
    p, C, info, _, _ = lsqcore.curve_fit(DECAY.f, X, Y, p0=[1, 1, 0], full_output=True)
    assert info["rank"] == 3 and info["null_space"] == [] and info["diagnostics"] == []


# ------------------------------------------------------------ ill-conditioning
XQ = np.linspace(1000.0, 1001.0, 30)
YQ = 1 + 2 * (XQ - 1000) + 0.5 * (XQ - 1000) ** 2 + 0.01 * np.cos(7 * XQ)


def quad(x, a, b, c):
    return a + b * x + c * x * x


def quad_jac(x, a, b, c):
    return np.stack([np.ones_like(x), x, x * x], axis=1)


def test_ill_conditioned_triggers():
    """A parabola in x on [1000, 1001]: 1, x and x^2 are nearly collinear
    (condition ~5e7 after column scaling) although the Jacobian has full rank."""
    with pytest.warns(FitWarning, match=r"ill-conditioned.*combination \(.*a.*\)"):
        p, C, info, _, _ = lsqcore.curve_fit(quad, XQ, YQ, p0=[5e5, -1000, 0.5], jac=quad_jac,
                                             full_output=True)
    (d,) = info["diagnostics"]
    assert d.code == "ill_conditioned" and d.details["cond"] > 1e6
    assert info["rank"] == 3
    _explained(d)


def test_ill_conditioning_quiet_after_centering():
    """The same parabola in (x - 1000) is well conditioned."""
    xc = XQ - 1000
    p, C, info, _, _ = lsqcore.curve_fit(quad, xc, YQ, p0=[1, 1, 1], jac=quad_jac,
                                         full_output=True)
    assert info["diagnostics"] == [] and info["cond"] < 100


# ------------------------------------------------------------ max_nfev
def test_max_nfev_triggers_in_diagnose_and_curve_fit():
    res = lsqcore.least_squares(_signed, [1.0, 1.0, 0.0], max_nfev=2)
    assert res.status == 0
    with pytest.warns(FitWarning, match="before converging"):
        diags = diagnose(res)
    assert "max_nfev" in codes(diags)
    _explained(diags[codes(diags).index("max_nfev")])
    # curve_fit keeps scipy's RuntimeError, with the explanation appended
    with pytest.raises(RuntimeError, match="ran out of function evaluations"):
        lsqcore.curve_fit(DECAY.f, X, Y, p0=[1, 1, 0], maxfev=2)


def test_max_nfev_quiet_when_converged():
    res = lsqcore.least_squares(_signed, [1.0, 1.0, 0.0])
    assert res.status > 0 and "max_nfev" not in codes(diagnose(res))


# ------------------------------------------------------------ scaling
YS = 2.5e9 * np.exp(-1.3 * X) + 0.5 + 0.03 * np.sin(5 * X)


def test_bad_scaling_triggers():
    """a ~ 2.5e9 next to c ~ 0.5: d model/d b ~ a*x*exp(-b x) is 1e9 times
    d model/d a.  (With the analytic Jacobian: 2-point differences cannot
    resolve c next to model values of 2.5e9, so the fit stalls at a
    non-stationary point and fails, see test_stationarity.)"""
    with pytest.warns(FitWarning, match="orders of magnitude"):
        p, C, info, _, _ = lsqcore.curve_fit(DECAY.f, X, YS, p0=[2e9, 1, 0], jac=DECAY.jac,
                                             full_output=True)
    (d,) = info["diagnostics"]
    assert d.code == "bad_scaling" and d.details["ratio"] > 1e8
    assert d.details["largest"] == "b"
    _explained(d)


def test_scaling_quiet_when_rescaled():
    """Measuring y in units of 1e9 puts the sensitivities within a factor ~3."""
    p, C, info, _, _ = lsqcore.curve_fit(DECAY.f, X, YS / 1e9, p0=[2, 1, 0], full_output=True)
    assert info["diagnostics"] == [] and info["report"].scaling_ratio < 10


# ------------------------------------------------------------ no degrees of freedom
def test_covariance_unavailable_triggers_and_quiet():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([1.0, 0.5, 0.3, 0.25])
    with pytest.warns(FitWarning, match="no degrees of freedom"):
        p, C, info, _, _ = lsqcore.curve_fit(DECAY.f, x[:3], y[:3], p0=[1, 1, 0],
                                             full_output=True)
    assert codes(info["diagnostics"]) == ["covariance_unavailable"]
    assert np.all(np.isinf(C))
    _explained(info["diagnostics"][0])
    p, C = lsqcore.curve_fit(DECAY.f, x, y, p0=[1, 1, 0])
    assert np.all(np.isfinite(C))


# ------------------------------------------------------------ healthy fits are silent
@pytest.mark.parametrize("case", cm.SYNTHETIC, ids=lambda c: c.name)
def test_healthy_fits_raise_no_warning(case):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kw in (dict(), dict(sigma=case.sigma), dict(bounds=(case.lb, case.ub))):
            p, C, info, _, _ = lsqcore.curve_fit(case.f, case.x, case.y, p0=case.p0,
                                                 full_output=True, **kw)
            assert info["diagnostics"] == [], [str(d) for d in info["diagnostics"]]


def test_warn_false_keeps_diagnostics_in_report_only():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p, C, info, _, _ = lsqcore.curve_fit(over_param, X, Y, p0=[1, 1, 0, 1],
                                             full_output=True, warn=False)
    assert codes(info["diagnostics"]) == ["rank_deficient"]


def test_fitwarning_is_scipy_optimizewarning():
    from scipy.optimize import OptimizeWarning
    assert issubclass(FitWarning, OptimizeWarning) and issubclass(FitWarning, UserWarning)


def test_fitwarning_pickles():
    """lsqcore.FitWarning is a module-level class under its public name: the
    class pickles by reference and an instance round-trips (as multiprocessing
    and joblib need for warnings raised as errors in workers)."""
    import pickle
    assert FitWarning.__module__ == "lsqcore" and FitWarning.__qualname__ == "FitWarning"
    assert pickle.loads(pickle.dumps(FitWarning)) is FitWarning
    w = pickle.loads(pickle.dumps(FitWarning("x at its bound")))
    assert type(w) is FitWarning and w.args == ("x at its bound",)
    from lsqcore._diagnostics import fit_warning
    assert fit_warning() is FitWarning is lsqcore._diagnostics.FitWarning


def test_import_lsqcore_leaves_scipy_optimize_unimported():
    """`import lsqcore` does not import scipy.optimize (0.3-0.8 s); asking for
    lsqcore.FitWarning does, and the class then unpickles in that process."""
    import subprocess
    import sys
    code = ("import sys, pickle, lsqcore\n"
            "before = 'scipy.optimize' in sys.modules\n"
            "W = lsqcore.FitWarning\n"
            "ok = pickle.loads(pickle.dumps(W('m'))).args == ('m',)\n"
            "print(before, 'scipy.optimize' in sys.modules, ok)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.split() == ["False", "True", "True"], out.stdout
