"""The fit report: every number recomputed independently, text and dict forms,
reports of least_squares results, and the plot."""
import json
import math

import numpy as np
import pytest

import lsqcore
from lsqcore import FitReport, fit_report
import cf_models as cm

C = cm.BY_NAME["exp_decay"]


def _fit(**kw):
    return lsqcore.curve_fit(C.f, C.x, C.y, p0=C.p0, full_output=True, **kw)


def test_unweighted_statistics():
    p, pcov, info, mesg, ier = _fit()
    rep = info["report"]
    m, n = C.y.size, 3
    r = C.y - C.f(C.x, *p)
    chisq = float(r @ r)
    assert rep.m == m and rep.n == n and rep.dof == m - n
    assert rep.chisq == pytest.approx(chisq, rel=1e-12)
    assert rep.redchi == pytest.approx(chisq / (m - n), rel=1e-12)
    sst = float(np.sum((C.y - C.y.mean()) ** 2))
    assert rep.r2 == pytest.approx(1 - chisq / sst, rel=1e-12)
    assert rep.rmse == pytest.approx(math.sqrt(chisq / m), rel=1e-12)
    # Burnham & Anderson, least squares with estimated variance: K = n + 1
    K = n + 1
    aic = m * math.log(chisq / m) + 2 * K
    assert rep.aic == pytest.approx(aic, rel=1e-12)
    assert rep.bic == pytest.approx(m * math.log(chisq / m) + K * math.log(m), rel=1e-12)
    assert rep.aicc == pytest.approx(aic + 2 * K * (K + 1) / (m - K - 1), rel=1e-12)
    se = np.sqrt(np.diag(pcov))
    np.testing.assert_allclose(rep.stderr, se, rtol=1e-14)
    np.testing.assert_allclose(rep.relerr, se / np.abs(p), rtol=1e-14)
    np.testing.assert_allclose(rep.correl, pcov / np.outer(se, se), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(rep.values, p)
    assert rep.names == ["a", "b", "c"]
    # curve_fit's 'lm' path returns MINPACK's ier and words (scipy's leastsq);
    # the report keeps lsqcore's status and message
    from lsqcore._leastsq import IER_OF_STATUS
    assert rep.nfev == info["nfev"] and IER_OF_STATUS[rep.status] == ier
    assert rep.success and rep.method == "lm" and rep.rank == 3


def test_weighted_statistics_1d_and_2d_agree():
    s = C.sigma
    p, pcov, info, _, _ = _fit(sigma=s, absolute_sigma=True)
    rep = info["report"]
    w2 = 1 / s ** 2
    r = C.y - C.f(C.x, *p)
    chisq = float(np.sum(w2 * r * r))
    ybar = np.sum(w2 * C.y) / np.sum(w2)
    assert rep.chisq == pytest.approx(chisq, rel=1e-12)
    assert rep.r2 == pytest.approx(1 - chisq / np.sum(w2 * (C.y - ybar) ** 2), rel=1e-12)
    # known sigma: AIC = chisq + 2n (up to a constant shared by all models)
    assert rep.aic == pytest.approx(chisq + 6, rel=1e-12)
    assert rep.bic == pytest.approx(chisq + 3 * math.log(C.y.size), rel=1e-12)
    assert rep.weighted and rep.absolute_sigma
    # the same weights as a diagonal covariance matrix give the same report
    p2, pcov2, info2, _, _ = _fit(sigma=np.diag(s ** 2), absolute_sigma=True)
    rep2 = info2["report"]
    for k in ("chisq", "r2", "aic", "bic", "rmse"):
        assert getattr(rep2, k) == pytest.approx(getattr(rep, k), rel=1e-9), k
    np.testing.assert_allclose(pcov2, pcov, rtol=1e-5)   # FD noise at default tolerances


def test_strongly_correlated_pairs_are_flagged():
    case = cm.BY_NAME["NIST:Misra1a"]
    p, pcov, info, _, _ = lsqcore.curve_fit(case.f, case.x, case.y, p0=case.p0, jac=case.jac,
                                            full_output=True)
    rep = info["report"]
    (a, b, r), = rep.strong_pairs
    assert (a, b) == ("p0", "p1") and r < -0.95
    assert "**" in str(rep)
    # NIST certified standard deviations
    np.testing.assert_allclose(rep.stderr, case.certified_stddev, rtol=1e-6)


def test_text_and_dict():
    p, pcov, info, _, _ = _fit()
    rep = info["report"]
    text = str(rep)
    for section in ("Fit report (curve_fit, method 'lm')", "Goodness of fit", "chi-square",
                    "reduced chi-square", "R^2", "RMSE", "AIC", "BIC", "Parameters",
                    "std. error", "rel. error", "Correlations", "Diagnostics",
                    "degrees of freedom 47", "nfev"):
        assert section in text, section
    assert "none: no known pitfall detected" in text
    d = rep.to_dict()
    json.dumps(d)                                   # plain data only
    assert [q["name"] for q in d["parameters"]] == ["a", "b", "c"]
    assert d["parameters"][1]["stderr"] == pytest.approx(rep.stderr[1])
    assert d["chisq"] == rep.chisq and d["diagnostics"] == []
    assert rep.params["b"][0] == p[1]
    assert repr(rep).startswith("<FitReport")


def test_fit_report_entry_points():
    out = _fit()
    rep = out[2]["report"]
    assert fit_report(out) is rep
    assert fit_report(out[2]) is rep
    assert fit_report(rep) is rep
    assert isinstance(rep, FitReport)


def test_report_of_least_squares_result():
    def resid(q):
        return C.f(C.x, *q) - C.y
    res = lsqcore.least_squares(resid, C.p0, ftol=1e-15, xtol=1e-15, gtol=1e-15)
    rep = fit_report(res, names=["a", "b", "c"])
    p, pcov = lsqcore.curve_fit(C.f, C.x, C.y, p0=C.p0, ftol=1e-15, xtol=1e-15, gtol=1e-15,
                                method="trf")
    np.testing.assert_allclose(rep.values, p, rtol=1e-10)
    np.testing.assert_allclose(rep.pcov, pcov, rtol=1e-6)
    assert rep.chisq == pytest.approx(2 * res.cost, rel=1e-12)
    assert rep.r2 is None and rep.rmse is None and rep.source == "least_squares"
    assert "R^2" not in str(rep)
    with pytest.raises(ValueError, match="names"):
        fit_report(res, names=["a"])


def test_report_shows_multistart_summary():
    case = cm.BY_NAME["sine"]
    p, pcov, info, _, _ = lsqcore.curve_fit(case.f, case.x, case.y, p0=[1, 1, 0, 0],
                                            multistart=16, seed=3, full_output=True)
    ms = info["report"].multistart
    assert ms["n_starts"] == 16 and sum(lv["count"] for lv in ms["levels"]) == ms["n_converged"]
    assert "Multistart: 16 starts" in str(info["report"])


def test_plot(tmp_path):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt
    import lsqcore.plot
    for kw in (dict(), dict(sigma=C.sigma), dict(sigma=C.cov)):
        out = _fit(**kw)
        fig, axes = lsqcore.plot.plot_fit(out)
        assert len(axes) == 2
        assert len(axes[0].lines) >= 1 and len(axes[1].lines) >= 2
        path = tmp_path / "fit.png"
        fig.savefig(path, dpi=50)
        assert path.stat().st_size > 1000
        plt.close(fig)
    fig, axes = lsqcore.plot.plot_fit(out[2], residuals=False)
    assert len(axes) == 1
    plt.close(fig)
    with pytest.raises(TypeError, match="curve_fit"):
        lsqcore.plot.plot_fit({"nothing": 1})


# ------------------------------------------------------------ header, counters, bounds
T_B = np.linspace(0.0, 4.0, 40)
Y_B = 2.0 * np.exp(-1.3 * T_B) - 0.3 + 0.02 * np.random.default_rng(1).standard_normal(40)
BOUNDS_B = ([0.0, 0.0, 0.0], [10.0, 10.0, 10.0])


def _resid_b(p):
    return p[0] * np.exp(-p[1] * T_B) + p[2] - Y_B


def _param_line(text, name):
    (line,) = [ln for ln in text.splitlines() if ln.split()[:1] == [name]]
    return line


def test_report_parameter_at_bound_has_no_absurd_percentage():
    """The offset c wants to be -0.3 but is bounded below by 0: trf ends with
    c ~ 1e-23 (std. error 0.04), a relative error of ~1e+23%.  The report shows
    the absolute error, '--' for the percentage and '(at lower bound)', found
    from res.active_mask alone or from the bounds."""
    res = lsqcore.least_squares(_resid_b, [1.0, 1.0, 0.5], bounds=BOUNDS_B)
    assert res.active_mask[2] == -1 and abs(res.x[2]) < 1e-12
    for rep in (fit_report(res, names=["a", "b", "c"]),
                fit_report(res, names=["a", "b", "c"], bounds=BOUNDS_B)):
        text = str(rep)
        line = _param_line(text, "c")
        assert "(at lower bound)" in line and line.split()[3] == "--", line
        assert f"{rep.stderr[2]:.7g}" in line          # the absolute error is shown
        assert "e+" not in line and "%" not in line, line
        assert "%" in _param_line(text, "a")         # interior parameters keep theirs
        assert rep.at_bound == {"c": "lower"}
        assert rep.to_dict()["parameters"][2]["at_bound"] == "lower"
        assert rep.relerr[2] > 1e20                  # the number itself is still there
    assert "c at its lower bound 0" in str(fit_report(res, names=["a", "b", "c"],
                                                      bounds=BOUNDS_B))


def test_report_value_zero_within_its_error():
    """Unbounded, a parameter that is zero up to rounding (the data's offset is
    exactly 0): no percentage, the mark '(zero within its error)'."""
    t = np.linspace(-1.0, 1.0, 21)
    noise = np.sin(7.0 * t) * 0.05
    basis = np.column_stack([np.ones_like(t), t])
    noise -= basis @ np.linalg.lstsq(basis, noise, rcond=None)[0]   # orthogonal to 1, t
    y = 2.0 * t + noise

    def resid(p):
        return p[0] * t + p[1] - y

    res = lsqcore.least_squares(resid, [1.0, 1.0], method="lm")
    assert abs(res.x[1]) < 1e-12
    rep = fit_report(res, names=["slope", "offset"])
    line = _param_line(str(rep), "offset")
    assert "(zero within its error)" in line and line.split()[3] == "--", line
    assert "%" not in line and "%" in _param_line(str(rep), "slope")
    assert rep.at_bound == {}


@pytest.mark.parametrize("method", ["trf", "lm", "gn"])
def test_report_header_names_the_method(method):
    res = lsqcore.least_squares(_resid_b, [1.0, 1.0, 0.0], method=method)
    assert res.method == method
    rep = fit_report(res)
    assert rep.method == method
    assert str(rep).splitlines()[0] == f"Fit report (least_squares, method '{method}')"
    assert "least_squares'" not in str(rep)


def test_report_of_scipy_result_omits_what_scipy_does_not_report():
    """scipy's least_squares result has no nit (and no method): the report
    leaves them out instead of printing None; method= names the method."""
    from scipy.optimize import least_squares as sp_least_squares
    res = sp_least_squares(_resid_b, [1.0, 1.0, 0.5], bounds=BOUNDS_B)
    assert "nit" not in res and "method" not in res
    rep = fit_report(res)
    text = str(rep)
    assert rep.nit is None and rep.method is None
    assert "None" not in text and "nit" not in text
    assert text.splitlines()[0] == "Fit report (least_squares)"
    assert f"status {res.status} (success), nfev {res.nfev}, njev {res.njev}" in text
    assert "(at lower bound)" in _param_line(text, "p2")
    rep = fit_report(res, method="trf")
    assert str(rep).splitlines()[0] == "Fit report (least_squares, method 'trf')"
    json_ready = rep.to_dict()
    assert json_ready["nit"] is None and json_ready["method"] == "trf"
    # scipy's 'lm' with a difference Jacobian reports njev None: left out too
    res = sp_least_squares(_resid_b, [1.0, 1.0, 0.0], method="lm")
    text = str(fit_report(res, method="lm"))
    assert "None" not in text and "njev" not in text.splitlines()[2]
