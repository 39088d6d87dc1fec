"""``lsqcore.patch_scipy()``: scipy's names become lsqcore's, everywhere, and back.

Every test patches inside ``with lsqcore.patch_scipy():``, which restores
scipy's functions on exit (this process's other test modules hold scipy's
functions too, and are rebound while the patch is on).
"""
import sys
import types
import warnings

import numpy as np
import pytest
import scipy.optimize
import scipy.optimize._minpack_py as minpack
from scipy.optimize import least_squares as scipy_least_squares, leastsq as scipy_leastsq

import lsqcore
from lsqcore._patch import NAMES, is_patched

ORIGINALS = {name: getattr(scipy.optimize, name) for name in NAMES}

T = np.linspace(0.0, 4.0, 40)
Y = 2.5 * np.exp(-1.3 * T) + 0.4 + 0.01 * np.sin(7.0 * T)


def decay(p):
    return p[0] * np.exp(-p[1] * T) + p[2] - Y


def model(t, a, b, c):
    return a * np.exp(-b * t) + c


@pytest.fixture(autouse=True)
def _never_left_patched():
    yield
    assert not is_patched()
    assert all(getattr(scipy.optimize, n) is fn for n, fn in ORIGINALS.items())


def test_every_binding_is_patched_and_restored():
    user = types.ModuleType("lsqcore_test_user_module")
    user.least_squares = scipy_least_squares            # bound before the patch
    user.fit = scipy.optimize.curve_fit                 # under another name
    user.unrelated = len
    sys.modules[user.__name__] = user
    try:
        with lsqcore.patch_scipy():
            for name in NAMES:
                assert getattr(scipy.optimize, name).__lsqcore_patch__
            assert user.least_squares.__lsqcore_patch__ and user.fit.__lsqcore_patch__
            assert user.unrelated is len
            # scipy's own curve_fit calls the patched solvers
            assert minpack.least_squares.__lsqcore_patch__ and minpack.leastsq.__lsqcore_patch__
            # and this module's early import is patched too
            assert globals()["scipy_least_squares"].__lsqcore_patch__
            later = types.ModuleType("lsqcore_test_later")
            exec("from scipy.optimize import lsq_linear", vars(later))
            sys.modules[later.__name__] = later
            assert later.lsq_linear.__lsqcore_patch__
        assert user.least_squares is ORIGINALS["least_squares"]
        assert user.fit is ORIGINALS["curve_fit"]
        assert later.lsq_linear is ORIGINALS["lsq_linear"]
        assert minpack.leastsq is ORIGINALS["leastsq"]
    finally:
        sys.modules.pop(user.__name__, None)
        sys.modules.pop("lsqcore_test_later", None)


def test_patching_twice_is_harmless():
    with lsqcore.patch_scipy():
        first = scipy.optimize.least_squares
        with lsqcore.patch_scipy():                     # no-op: already patched
            assert scipy.optimize.least_squares is first
        assert scipy.optimize.least_squares is first    # the inner exit undid nothing
    lsqcore.unpatch_scipy()                             # harmless when not patched
    lsqcore.patch_scipy()
    lsqcore.patch_scipy()
    lsqcore.unpatch_scipy()


def test_patched_names_give_lsqcore_results():
    direct = lsqcore.least_squares(decay, [1.0, 1.0, 0.0])
    popt_direct, pcov_direct = lsqcore.curve_fit(model, T, Y, p0=[1.0, 1.0, 0.0])
    reference = ORIGINALS["least_squares"](decay, [1.0, 1.0, 0.0])
    with lsqcore.patch_scipy():
        res = scipy.optimize.least_squares(decay, [1.0, 1.0, 0.0])
        popt, pcov = scipy.optimize.curve_fit(model, T, Y, p0=[1.0, 1.0, 0.0])
        x, ier = scipy.optimize.leastsq(decay, [1.0, 1.0, 0.0])
        lin = scipy.optimize.lsq_linear(np.eye(3), [1.0, 2.0, 3.0], bounds=(0.0, 1.5))
    assert isinstance(res, lsqcore.OptimizeResult)
    assert np.array_equal(res.x, direct.x) and res.nfev == direct.nfev
    assert np.array_equal(popt, popt_direct) and np.array_equal(pcov, pcov_direct)
    np.testing.assert_allclose(res.x, reference.x, rtol=1e-7)
    np.testing.assert_allclose(x, reference.x, rtol=1e-6)
    assert ier in (1, 2, 3, 4)
    np.testing.assert_allclose(lin.x, [1.0, 1.5, 1.5], atol=1e-8)


def test_an_argument_lsqcore_does_not_serve_falls_back_to_scipy_once_warned():
    from lsqcore import FitWarning
    expected = ORIGINALS["leastsq"](decay, [1.0, 1.0, 0.0], factor=10.0)[0]
    with lsqcore.patch_scipy():
        with pytest.warns(FitWarning, match="ran scipy's own function: `factor`"):
            x, ier = scipy.optimize.leastsq(decay, [1.0, 1.0, 0.0], factor=10.0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")              # once per reason
            x2, _ = scipy.optimize.leastsq(decay, [1.0, 1.0, 0.0], factor=10.0)
    assert np.array_equal(x, expected) and np.array_equal(x2, expected)


def test_col_deriv_falls_back_through_curve_fit():
    """lsqcore's curve_fit refuses ``col_deriv`` (its ``jac`` returns (m, n));
    patched, the call runs on scipy's curve_fit instead."""
    from lsqcore import FitWarning
    expected = ORIGINALS["curve_fit"](model, T, Y, p0=[1.0, 1.0, 0.0], col_deriv=True)[0]
    with lsqcore.patch_scipy():
        with pytest.warns(FitWarning, match="col_deriv"):
            popt, _ = scipy.optimize.curve_fit(model, T, Y, p0=[1.0, 1.0, 0.0], col_deriv=True)
    np.testing.assert_allclose(popt, expected, rtol=1e-6)


def test_leastsq_col_deriv_is_served_by_lsqcore():
    def jac_t(p, t, y):               # columns as rows (col_deriv=True)
        e = np.exp(-p[1] * t)
        return np.vstack([e, -p[0] * t * e, np.ones_like(t)])

    def resid(p, t, y):
        return model(t, *p) - y
    expected = scipy_leastsq(resid, [1.0, 1.0, 0.0], args=(T, Y), Dfun=jac_t, col_deriv=True)
    with lsqcore.patch_scipy():
        with warnings.catch_warnings():
            warnings.simplefilter("error")              # no fallback
            x, ier = scipy.optimize.leastsq(resid, [1.0, 1.0, 0.0], args=(T, Y), Dfun=jac_t,
                                            col_deriv=True)
    np.testing.assert_allclose(x, expected[0], rtol=1e-7)


@pytest.mark.parametrize("call,exc", [
    (lambda so: so.least_squares(decay, [1.0, 1.0, 0.0], bounds=(1.0, 0.0)), ValueError),
    (lambda so: so.least_squares(decay, [1.0, 1.0, 0.0], method="lm", bounds=(0.0, 5.0)),
     ValueError),
    (lambda so: so.least_squares(decay, [1.0, 1.0, 0.0], no_such_keyword=1), TypeError),
    (lambda so: so.curve_fit(model, T, Y[:-1]), (ValueError, TypeError)),
    (lambda so: so.lsq_linear(np.eye(2), [1.0, 2.0, 3.0]), ValueError),
])
def test_bad_input_raises_what_scipy_raises(call, exc):
    with pytest.raises(exc) as theirs:
        call(types.SimpleNamespace(**ORIGINALS))
    with lsqcore.patch_scipy():
        with pytest.raises(exc) as ours:
            call(scipy.optimize)
    assert type(ours.value) is type(theirs.value)
