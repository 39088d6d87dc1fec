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
    assert rep.nfev == info["nfev"] and rep.status == ier and rep.message == mesg
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
