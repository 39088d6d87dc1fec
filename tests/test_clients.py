"""lmfit and xarray on lsqcore, as a user runs them: ``lsqcore.patch_scipy()`` and nothing else.

lmfit's ``minimizer`` module binds ``least_squares`` and ``leastsq`` when it
is imported (``from scipy.optimize import ...``); the patch rebinds them
there.  Each fit is run twice in this process, on scipy and on lsqcore,
and the two are compared with tolerances that follow from the solvers'
stopping rules (the same minimum, not the same iterates).  lmfit's own
released test suite runs on lsqcore in ``test_lmfit_suite``.
"""
import os
import subprocess
import sys
import tarfile
import warnings

import numpy as np
import pytest

import lmfit
import lsqcore
from scipy_swap import run_pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LMFIT_VERSION = "1.3.4"

X = np.linspace(-5.0, 5.0, 201)
RNG = np.random.default_rng(4)
PEAK = 3.0 * np.exp(-((X - 0.7) ** 2) / (2 * 0.9 ** 2)) + 0.2 + 0.05 * RNG.standard_normal(X.size)


def _both(fit):
    """``fit()`` on scipy, then on lsqcore (patched)."""
    on_scipy = fit()
    with lsqcore.patch_scipy():
        on_lsqcore = fit()
    return on_scipy, on_lsqcore


def _params():
    p = lmfit.Parameters()
    p.add("amp", value=1.0, min=0.0)
    p.add("cen", value=0.0, min=-2.0, max=2.0)
    p.add("sig", value=1.5, min=0.1)
    p.add("off", value=0.2, vary=False)
    p.add("fwhm", expr="2.3548200 * sig")
    return p


def _residual(p):
    v = p.valuesdict()
    return v["amp"] * np.exp(-((X - v["cen"]) ** 2) / (2 * v["sig"] ** 2)) + v["off"] - PEAK


def _same_fit(a, b, rtol_value=1e-6, rtol_err=1e-3):
    assert a.success and b.success
    assert b.chisqr == pytest.approx(a.chisqr, rel=1e-8)
    for name in a.params:
        pa, pb = a.params[name], b.params[name]
        assert pb.value == pytest.approx(pa.value, rel=rtol_value, abs=1e-12), name
        if pa.stderr is not None:
            assert pb.stderr == pytest.approx(pa.stderr, rel=rtol_err), name
    if a.covar is not None:
        np.testing.assert_allclose(b.covar, a.covar, rtol=rtol_err,
                                   atol=1e-8 * np.abs(a.covar).max())


@pytest.mark.parametrize("method", ["leastsq", "least_squares"])
def test_minimize_with_bounds_fixed_and_expressions(method):
    a, b = _both(lambda: lmfit.minimize(_residual, _params(), method=method))
    _same_fit(a, b)
    assert b.params["off"].value == 0.2 and not b.params["off"].vary
    assert b.params["fwhm"].value == pytest.approx(2.35482 * b.params["sig"].value)


def test_model_fit_gaussian():
    model = lmfit.models.GaussianModel() + lmfit.models.ConstantModel()
    params = model.make_params(amplitude=5.0, center=0.0, sigma=1.0, c=0.0)
    a, b = _both(lambda: model.fit(PEAK, params, x=X))
    _same_fit(a, b)
    assert "[[Fit Statistics]]" in b.fit_report()


def test_conf_interval():
    def run():
        mini = lmfit.Minimizer(_residual, _params())
        result = mini.minimize(method="leastsq")
        return lmfit.conf_interval(mini, result, p_names=["cen", "sig"], sigmas=[1, 2])
    a, b = _both(run)
    for name in ("cen", "sig"):
        for (pa, va), (pb, vb) in zip(a[name], b[name]):
            assert pa == pytest.approx(pb)
            assert vb == pytest.approx(va, rel=1e-5, abs=1e-9), name


def test_iter_cb_abort_and_max_nfev():
    def abort_after_5(params, it, resid, *args, **kws):
        return it >= 5
    for method in ("leastsq", "least_squares"):
        a, b = _both(lambda: lmfit.minimize(_residual, _params(), method=method,
                                            iter_cb=abort_after_5))
        assert a.aborted and b.aborted and not b.success
        a, b = _both(lambda: lmfit.minimize(_residual, _params(), method=method, max_nfev=4))
        assert not a.success and not b.success and a.aborted == b.aborted
        assert a.message == b.message and a.nfev == b.nfev


def test_bad_input_through_lmfit_raises_as_scipy():
    def broken(p):
        return np.array([np.nan, 1.0, 2.0, 3.0, 4.0, 5.0])
    for method in ("leastsq", "least_squares"):
        outcomes = []
        for patched in (False, True):
            try:
                with (lsqcore.patch_scipy() if patched else _nothing()):
                    lmfit.minimize(broken, _params(), method=method)
                outcomes.append(None)
            except Exception as e:                      # noqa: BLE001
                outcomes.append(type(e))
        assert outcomes[0] == outcomes[1], (method, outcomes)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ---- lmfit's own released test suite ----------------------------------------------------

#: lmfit tests whose outcome differs on lsqcore, and why (docs/clients.md)
LMFIT_KNOWN = {
    "tests/test_parameters.py::test_parameters_usersyms": (
        "asserts nfev > 3: lsqcore's lm fits the one-parameter linear model in 3 "
        "evaluations (MINPACK: 5), to the same a, stderr and chi-square (1e-12)"),
    "tests/test_itercb.py::test_itercb_reset_abort[leastsq]": (
        "asserts success: the fit's amplitude and intercept run onto their bounds through "
        "lmfit's sin transform (a flat direction); both lm's stop on xtol, MINPACK's at "
        "chi-square 931.477 and calls it a success, lsqcore's at 931.807 and reports "
        "that it is not a fitted minimum (ier 9, success False), which it is not"),
}


def _lmfit_sources(tmp_path_factory):
    """lmfit's source distribution of the pinned version, unpacked (its tests)."""
    d = tmp_path_factory.mktemp("lmfit_sdist")
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--no-binary", ":all:", f"lmfit=={LMFIT_VERSION}", "-d", str(d)],
                   check=True, capture_output=True, timeout=300)
    (archive,) = d.glob("lmfit-*.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(d, filter="data")
    return d / f"lmfit-{LMFIT_VERSION}"


#: the lmfit test files CI runs: those whose fits go through ``leastsq`` and
#: ``least_squares`` (the others test scalar and global optimizers, printing and
#: saving, and ``test_max_nfev`` spends 20 s in scalar minimizers; max_nfev
#: through the two is checked above).  ``LSQCORE_CLIENT_SUITE=full`` runs every
#: file, on scipy and on lsqcore, and compares the two.
LMFIT_SUBSET = ("test_NIST_Strd.py", "test_nose.py", "test_basicfit.py", "test_bounds.py",
                "test_itercb.py", "test_least_squares.py", "test_model.py",
                "test_confidence.py", "test_covariance_matrix.py", "test_parameters.py",
                "test_1variable.py", "test_algebraic_constraint.py",
                "test_bounded_jacobian.py", "test_custom_independentvar.py",
                "test_default_kws.py", "test_multidatasets.py", "test_stepmodel.py",
                "test_model_uncertainties.py", "test_params_uvars.py")


def _run_lmfit_suite(src, mode, report, subset):
    files = [f"tests/{f}" for f in LMFIT_SUBSET] if subset else ["tests"]
    return run_pytest(["-o", "addopts=", "-W", "ignore", *files], src, report,
                      {"LSQCORE_SWAP_MODE": mode}, timeout=1200)


@pytest.mark.skipif(lmfit.__version__ != LMFIT_VERSION, reason=f"lmfit {LMFIT_VERSION} pinned")
def test_lmfit_suite(tmp_path_factory, tmp_path):
    """lmfit's released suite with ``patch_scipy()``: every test passes but the
    known, justified differences.  In CI a subset, on lsqcore alone (on scipy
    every test of the suite passes: measured 650 passed, 0 failed, 24 skipped);
    ``LSQCORE_CLIENT_SUITE=full``: the whole suite on both, compared."""
    full = os.environ.get("LSQCORE_CLIENT_SUITE") == "full"
    src = _lmfit_sources(tmp_path_factory)
    ours, out = _run_lmfit_suite(src, "patch", tmp_path / "lsqcore.json", not full)
    failed = {k for k, v in ours.items() if v == "failed"}
    if full:
        base, _ = _run_lmfit_suite(src, "none", tmp_path / "scipy.json", False)
        assert set(base) == set(ours)
        failed = {k for k in failed if base[k] == "passed"}
    assert failed <= set(LMFIT_KNOWN), (sorted(failed - set(LMFIT_KNOWN)), out[-6000:])
    known_here = {k for k in LMFIT_KNOWN if k in ours}
    assert known_here <= failed, "known differences that now pass: update LMFIT_KNOWN " \
        "and docs/clients.md: %s" % sorted(known_here - failed)
    assert sum(v == "passed" for v in ours.values()) >= (648 if full else 300)  # it ran


# ---- xarray's curvefit -----------------------------------------------------------------

def test_xarray_curvefit_on_the_patch():
    """``DataArray.curvefit`` imports ``curve_fit`` from scipy at call time: patched,
    every pixel's fit is lsqcore's, and the coefficients are scipy's."""
    xr = pytest.importorskip("xarray")
    t = np.linspace(0.0, 4.0, 40)
    rates = np.linspace(0.5, 2.0, 12).reshape(3, 4)
    cube = xr.DataArray(2.5 * np.exp(-rates[..., None] * t) + 0.5 + 1e-3 * np.cos(9 * t),
                        dims=("y", "x", "t"), coords={"t": t})

    def decay_model(t, a, b, c):
        return a * np.exp(-b * t) + c
    a, b = _both(lambda: cube.curvefit("t", decay_model, p0={"a": 1.0, "b": 1.0, "c": 0.0}))
    np.testing.assert_allclose(b.curvefit_coefficients, a.curvefit_coefficients, rtol=1e-6)
    np.testing.assert_allclose(b.curvefit_covariance, a.curvefit_covariance, rtol=1e-3,
                               atol=1e-12)
    np.testing.assert_allclose(b.curvefit_coefficients.sel(param="b"), rates, rtol=1e-3)


def test_xarray_curvefit_tests(tmp_path):
    """xarray's own curvefit tests (in its installed package) pass with the patch
    (on scipy all pass: measured 5 passed, the 4 Dask variants skipped without
    Dask; ``LSQCORE_CLIENT_SUITE=full`` runs them on scipy too and compares)."""
    pytest.importorskip("xarray")
    modes = ("none", "patch") if os.environ.get("LSQCORE_CLIENT_SUITE") == "full" else ("patch",)
    outcomes = {}
    for mode in modes:
        outcomes[mode], out = run_pytest(
            ["-W", "ignore", "--pyargs", "xarray.tests.test_dataarray",
             "xarray.tests.test_dataset", "-k", "curvefit"], tmp_path,
            tmp_path / f"{mode}.json", {"LSQCORE_SWAP_MODE": mode}, timeout=600)
        assert sum(v == "passed" for v in outcomes[mode].values()) >= 5, out[-3000:]
        assert "failed" not in outcomes[mode].values(), out[-3000:]
    assert outcomes.get("none", outcomes["patch"]) == outcomes["patch"]


# ---- astropy's fitters ------------------------------------------------------------------

#: astropy tests whose outcome differs on lsqcore, and why (docs/clients.md)
ASTROPY_KNOWN = {
    "::test_fitters_with_weights[LevMarLSQFitter]": (
        "compares the parameters of a Gaussian2D fit: lsqcore's lm converges to the "
        "equivalent ellipse (theta = -pi/2, the two widths swapped), the same model "
        "values and the same sum of squares (4.329636e-02) in 14 evaluations (MINPACK: "
        "20)"),
}

FITTERS = ("LevMarLSQFitter", "TRFLSQFitter", "DogBoxLSQFitter", "LMLSQFitter")


@pytest.mark.parametrize("name", FITTERS)
def test_astropy_fitters_on_the_patch(name):
    """astropy's fitters call ``optimize.leastsq``/``least_squares`` from
    ``scipy`` at fit time: patched, the fit is lsqcore's and equals scipy's."""
    fitting = pytest.importorskip("astropy.modeling.fitting")
    from astropy.modeling import models
    truth = models.Gaussian1D(3.0, 0.7, 0.9)
    y = truth(X) + 0.05 * np.cos(5.0 * X)
    start = models.Gaussian1D(2.0, 0.0, 1.5, bounds={"stddev": (0.1, 5.0)})

    def fit():
        fitter = getattr(fitting, name)()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # (LMLSQFitter: bounds are deprecated there)
            return fitter(start, X, y).parameters
    a, b = _both(fit)
    np.testing.assert_allclose(b, a, rtol=1e-6)
    np.testing.assert_allclose(b, truth.parameters, rtol=0.02)


def test_astropy_fitter_tests(tmp_path):
    """astropy's own fitter tests (in its installed package) with the patch: all
    pass but the known, justified differences (on scipy all pass: measured 167
    passed, 3 xfailed; ``LSQCORE_CLIENT_SUITE=full`` runs them on scipy too and
    compares)."""
    pytest.importorskip("astropy")
    modes = ("none", "patch") if os.environ.get("LSQCORE_CLIENT_SUITE") == "full" else ("patch",)
    outcomes = {}
    for mode in modes:
        outcomes[mode], out = run_pytest(
            ["-W", "ignore", "--pyargs", "astropy.modeling.tests.test_fitters"], tmp_path,
            tmp_path / f"{mode}.json", {"LSQCORE_SWAP_MODE": mode}, timeout=600)
        assert sum(v == "passed" for v in outcomes[mode].values()) >= 150, out[-3000:]
    failed = {k for k, v in outcomes["patch"].items() if v == "failed"}
    assert failed == set(ASTROPY_KNOWN), sorted(failed ^ set(ASTROPY_KNOWN))
    if "none" in outcomes:
        assert "failed" not in outcomes["none"].values()
