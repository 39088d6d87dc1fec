"""One table of bad inputs through every front end (issue 15 item 3).

Each row is an option set that must be refused before any work starts; each
front end (``least_squares`` with a Python and a jitted residual,
``curve_fit``, ``least_squares_batch``, ``curve_fit_batch`` and the compiled
``lsqcore.jit.least_squares``) must raise the same exception type with a
message that names the same parameter (in backquotes).  The rules live in
:mod:`lsqcore._validate`; this test keeps the front ends from drifting apart
(``jit.least_squares`` had hard-coded loss codes and eps, skipped 'lm''s
rule that every tolerance be at least eps, and did not check ``x_scale``).
"""
import numpy as np
import pytest
from numba import njit

import lsqcore
import lsqcore.jit

T = np.linspace(0.0, 4.0, 30)
Y = 2.5 * np.exp(-1.3 * T) + 0.5
X0 = np.array([1.0, 1.0, 0.0])
INF3 = np.full(3, np.inf)


@njit(cache=True)
def resid(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] - y


def resid_py(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] - y


@njit(cache=True)
def model(t, a, b, c):
    return a * np.exp(-b * t) + c


@njit      # (not cacheable: the kernel's C addresses are constants in its code)
def _jit_all(t, y, x0, lb, ub, method, loss, ftol, xtol, gtol, f_scale, x_scale, max_nfev):
    return lsqcore.jit.least_squares(resid, x0, (t, y), lb=lb, ub=ub, method=method,
                                     loss=loss, ftol=ftol, xtol=xtol, gtol=gtol,
                                     f_scale=f_scale, x_scale=x_scale, max_nfev=max_nfev)


# name, options (scipy's names), the parameter the message must name
BAD = [
    ("unknown method", dict(method="bogus"), "method"),
    ("unknown loss", dict(loss="bogus"), "loss"),
    ("lm with a robust loss", dict(method="lm", loss="soft_l1"), "loss"),
    ("negative ftol", dict(ftol=-1.0), "ftol"),
    ("lm with a tolerance below eps", dict(method="lm", xtol=1e-20), "xtol"),
    ("every tolerance zero", dict(ftol=0.0, xtol=0.0, gtol=0.0), "gtol"),
    ("zero f_scale", dict(f_scale=0.0), "f_scale"),
    ("negative x_scale", dict(x_scale=-1.0), "x_scale"),
    ("NaN in x0", dict(x0=np.array([np.nan, 1.0, 0.0])), "x0"),
    ("crossed bounds", dict(bounds=(np.ones(3), np.zeros(3))), "bounds"),
    ("NaN in bounds", dict(bounds=(np.array([np.nan, 0.0, 0.0]), INF3)), "bounds"),
    ("bounds with lm", dict(method="lm", bounds=(np.zeros(3), np.full(3, 10.0))), "bounds"),
    ("x0 outside the bounds", dict(bounds=(np.full(3, 2.0), np.full(3, 10.0))), "x0"),
    ("negative max_nfev", dict(max_nfev=-5), "max_nfev"),
]


def _least_squares(fun):
    def run(x0=X0, **kw):
        return lsqcore.least_squares(fun, x0, args=(T, Y), **kw)
    return run


def _curve_fit(x0=X0, **kw):
    return lsqcore.curve_fit(model, T, Y, p0=x0, method=kw.pop("method", "trf"), **kw)


def _batch(x0=X0, **kw):
    return lsqcore.least_squares_batch(resid, np.vstack([x0, x0]), args=(T, Y), **kw)


def _curve_fit_batch(x0=X0, **kw):
    return lsqcore.curve_fit_batch(model, T, np.vstack([Y, Y]), p0=x0, **kw)


def _jit(x0=X0, method="trf", loss="linear", ftol=1e-8, xtol=1e-8, gtol=1e-8,
         f_scale=1.0, x_scale=None, max_nfev=None, bounds=(-INF3, INF3)):
    xs = np.full(3, float(x_scale)) if x_scale is not None else np.ones(3)
    return _jit_all(T, Y, x0, np.asarray(bounds[0], float), np.asarray(bounds[1], float),
                    method, loss, ftol, xtol, gtol, f_scale, xs,
                    0 if max_nfev is None else max_nfev)


FRONT_ENDS = {
    "least_squares (Python fun)": _least_squares(resid_py),
    "least_squares (jitted fun)": _least_squares(resid),
    "curve_fit": _curve_fit,
    "least_squares_batch": _batch,
    "curve_fit_batch": _curve_fit_batch,
    "jit.least_squares": _jit,
}

# what a front end calls the starting point
X0_NAME = {"curve_fit": "p0", "curve_fit_batch": "p0"}

# the batches refuse options, but mark a row whose own data is bad with its
# status and go on with the others (a failing fit never touches the rest)
BATCH_ROW_STATUS = {"NaN in x0": -11}


@pytest.mark.parametrize("front", sorted(FRONT_ENDS))
@pytest.mark.parametrize("name,options,param", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_alike_by_every_front_end(front, name, options, param):
    expect = X0_NAME.get(front, "x0") if param == "x0" else param
    if "batch" in front and name in BATCH_ROW_STATUS:
        r = FRONT_ENDS[front](**dict(options))
        assert list(r.status) == [BATCH_ROW_STATUS[name]] * 2
        assert np.isnan(r.x).all()
        return
    with pytest.raises(ValueError) as info:
        FRONT_ENDS[front](**dict(options))
    assert f"`{expect}`" in str(info.value), (front, name, str(info.value))


@pytest.mark.parametrize("front", sorted(FRONT_ENDS))
def test_good_input_fits_alike(front):
    """The table's baseline: every front end accepts the defaults and fits."""
    r = FRONT_ENDS[front]()
    x = r[0] if isinstance(r, tuple) else r.x
    x = np.atleast_2d(x)[0]
    np.testing.assert_allclose(x, [2.5, 1.3, 0.5], rtol=1e-6)
