"""Tests of the problem library :mod:`lsqcore.problems`.

* registry: names, lookup, counts, the :class:`Problem` record;
* every problem: shapes and dtypes of ``fun``/``jac`` for float64 and
  complex128 input, the analytic Jacobian against complex-step and
  Richardson-extrapolated central differences at every start and at
  ``x_star``;
* the known minima: NIST certified RSS at the certified parameters, MGH
  ``cost_star`` against the values printed in More, Garbow & Hillstrom
  (1981) (restated here independently of the library);
* scipy's ``least_squares`` (trf, analytic Jacobian) from each MGH standard
  start reaches ``cost_star`` -- except the two problems where it is known
  to stop in a local minimum, which are asserted to reach exactly that
  local minimum;
* the LRE helpers, and calling the functions from inside an ``@njit``
  function (how the compiled drivers use them).

Numba compiles each residual/Jacobian lazily for float64 and complex128 and
caches the machine code on disk (``cache=True``), so only the first run on a
machine pays the compile time.
"""
import dataclasses
import math
import warnings

import numba
import numpy as np
import pytest
from scipy.optimize import least_squares

from lsqcore.problems import (Problem, all_problems, get, log_relative_error,
                              mgh, mgh_names, nist, nist_names)

NIST = list(nist_names())
MGH = list(mgh_names())
ALL = [("nist", n) for n in NIST] + [("mgh", n) for n in MGH]
IDS = ["%s:%s" % a for a in ALL]


def _prob(lib_name):
    lib, name = lib_name
    return nist(name) if lib == "nist" else mgh(name)


def _points(p):
    pts = [("start%d" % (k + 1), np.asarray(s, float)) for k, s in enumerate(p.starts)]
    if p.x_star is not None:
        pts.append(("x_star", np.asarray(p.x_star, float)))
    return pts


# ------------------------------------------------------------------ registry
def test_registry_counts_and_lookup():
    assert len(NIST) == 27 and len(set(NIST)) == 27
    assert len(MGH) == 35 and len(set(MGH)) == 35
    diff = [nist(n).difficulty for n in NIST]
    assert (diff.count("lower"), diff.count("average"), diff.count("higher")) == (8, 11, 8)
    probs = all_problems()
    assert len(probs) == 62
    assert [p.name for p in probs] == NIST + MGH
    assert len(all_problems("nist")) == 27 and len(all_problems("mgh")) == 35
    # case-insensitive lookup, library prefixes, same cached object
    assert get("misra1a") is nist("Misra1a")
    assert get("Rosenbrock") is mgh("rosenbrock")
    assert get("mgh:freudenstein-roth") is mgh("freudenstein_roth")
    assert get("nist:MGH09") is nist("MGH09")
    with pytest.raises(KeyError):
        get("no_such_problem")
    with pytest.raises(KeyError):
        nist("rosenbrock")
    with pytest.raises(KeyError):
        mgh("Misra1a")
    with pytest.raises(ValueError):
        all_problems("cute")


def test_problem_is_frozen():
    p = nist("Misra1a")
    assert isinstance(p, Problem)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.name = "x"


@pytest.mark.parametrize("lib_name", ALL, ids=IDS)
def test_problem_fields(lib_name):
    p = _prob(lib_name)
    assert p.library == lib_name[0] and p.name == lib_name[1]
    assert isinstance(p.m, int) and isinstance(p.n, int) and p.m >= p.n >= 1
    for a in p.args:
        assert isinstance(a, np.ndarray) and a.dtype == np.float64
        assert a.flags.c_contiguous
    lb, ub = p.bounds
    assert lb.shape == ub.shape == (p.n,)
    assert np.all(lb == -np.inf) and np.all(ub == np.inf)
    for s in p.starts:
        assert s.shape == (p.n,) and s.dtype == np.float64
    np.testing.assert_array_equal(p.x0, p.starts[0])
    assert p.x_star is not None and p.x_star.shape == (p.n,)
    assert p.cost_star is not None and p.cost_star >= 0.0
    assert p.sig_digits.shape == (p.n,)
    assert p.source
    if p.library == "nist":
        assert len(p.starts) == 2
        assert p.difficulty in ("lower", "average", "higher")
        assert p.certified_stddev.shape == (p.n,)
        assert p.cost_star == 0.5 * p.certified_rss
        assert np.all(p.sig_digits == 11) and p.rss_sig_digits == 11
    else:
        assert p.difficulty == ""
        assert 1 <= len(p.starts) <= 3
        for k, s in enumerate(p.starts[1:]):
            np.testing.assert_array_equal(s, 10.0 ** (k + 1) * p.starts[0])
        for c in p.local_minima:
            assert c > p.cost_star


# ------------------------------------------------------------------ shapes/dtypes
@pytest.mark.parametrize("lib_name", ALL, ids=IDS)
def test_shapes_and_dtypes(lib_name):
    p = _prob(lib_name)
    x = p.starts[-1]
    f = p.fun(x, *p.args)
    J = p.jac(x, *p.args)
    assert f.shape == (p.m,) and f.dtype == np.float64
    assert J.shape == (p.m, p.n) and J.dtype == np.float64
    xc = x.astype(np.complex128)
    fc = p.fun(xc, *p.args)
    Jc = p.jac(xc, *p.args)
    assert fc.shape == (p.m,) and fc.dtype == np.complex128
    assert Jc.shape == (p.m, p.n) and Jc.dtype == np.complex128
    # a zero imaginary part changes nothing
    # (complex arithmetic may round differently: compare to the array scale)
    np.testing.assert_allclose(fc.real, f, rtol=1e-13, atol=1e-13 * np.max(np.abs(f)))
    np.testing.assert_allclose(Jc.real, J, rtol=1e-13, atol=1e-13 * np.max(np.abs(J)))
    assert np.all(fc.imag == 0) and np.all(Jc.imag == 0)
    # residual, Jacobian and cost helpers agree with the raw functions
    np.testing.assert_array_equal(p.residual(x), f)
    np.testing.assert_array_equal(p.jacobian(x), J)
    assert p.cost(x) == pytest.approx(0.5 * float(f @ f), rel=1e-15)


# ------------------------------------------------------------------ Jacobians
def _complex_step_jac(p, x):
    J = np.empty((p.m, p.n))
    for j in range(p.n):
        h = 1e-20 * max(1.0, abs(x[j]))
        xc = x.astype(np.complex128)
        xc[j] += 1j * h
        J[:, j] = p.fun(xc, *p.args).imag / h
    return J


def _xscale(xj):
    # steps relative to the parameter itself (NIST parameters range over
    # 1e-9 .. 1e4); 1 for a zero component
    return abs(xj) if xj != 0.0 else 1.0


def _richardson_column_error(p, x, j, col):
    """Smallest max-abs deviation of analytic column ``col`` from a
    Richardson-extrapolated central difference, over a few step sizes.

    A wrong derivative does not agree with any of them; trying several steps
    only avoids a false alarm where one step is too large for the curvature
    (or too small for rounding)."""
    best = np.inf
    for rel in (1e-2, 1e-3, 1e-4, 1e-5):
        h = rel * _xscale(x[j])
        cols = []
        for hh in (h, h / 2):
            xp = x.copy()
            xm = x.copy()
            xp[j] += hh
            xm[j] -= hh
            cols.append((p.fun(xp, *p.args) - p.fun(xm, *p.args)) / (2 * hh))
        d = (4 * cols[1] - cols[0]) / 3
        if np.all(np.isfinite(d)):
            best = min(best, float(np.max(np.abs(d - col))))
    return best


@pytest.mark.parametrize("lib_name", ALL, ids=IDS)
def test_jacobian(lib_name):
    p = _prob(lib_name)
    with np.errstate(all="ignore"):
        for where, x in _points(p):
            f = p.fun(x, *p.args)
            J = p.jac(x, *p.args)
            assert np.all(np.isfinite(f)) and np.all(np.isfinite(J)), (p.name, where)
            Jcs = _complex_step_jac(p, x)
            big = float(np.max(np.abs(J)))
            for j in range(p.n):
                # column scale, with a floor so an all-zero column is compared
                # against the size of the whole Jacobian
                scale = max(float(np.max(np.abs(J[:, j]))), 1e-10 * big, 1e-300)
                err_cs = float(np.max(np.abs(J[:, j] - Jcs[:, j])))
                assert err_cs <= 1e-11 * scale, (
                    "%s at %s, column %d: complex step differs by %.3g (scale %.3g)"
                    % (p.name, where, j, err_cs, scale))
                err_fd = _richardson_column_error(p, x, j, J[:, j])
                # rounding floor of a difference quotient: eps*|f|/h
                floor = 1e-9 * float(np.max(np.abs(f))) / _xscale(x[j])
                assert err_fd <= 1e-6 * scale + floor, (
                    "%s at %s, column %d: central difference differs by %.3g "
                    "(scale %.3g)" % (p.name, where, j, err_fd, scale))


# ------------------------------------------------------------------ known minima
@pytest.mark.parametrize("name", NIST)
def test_nist_certified_rss(name):
    p = nist(name)
    f = p.fun(p.x_star, *p.args)
    rss = float(f @ f)
    if name == "Lanczos1":
        # certified 1.4307867721e-25 is below what the 11-digit parameters
        # can reproduce (they give ~4e-21); only a tiny bound is meaningful
        assert p.certified_rss == pytest.approx(1.4307867721e-25, rel=1e-10)
        assert rss < 1e-19
    else:
        assert rss == pytest.approx(p.certified_rss, rel=1e-6)
        assert p.rss_lre(rss) >= 6


# f* = sum f_i**2 as printed by More, Garbow & Hillstrom (1981), restated here
# so the library's values are checked against the paper independently; the
# linear functions use the closed forms with m = 20, n = 10.
PAPER_F = {
    "rosenbrock": 0.0, "freudenstein_roth": 0.0, "powell_badly_scaled": 0.0,
    "brown_badly_scaled": 0.0, "beale": 0.0, "jennrich_sampson": 124.362,
    "helical_valley": 0.0, "bard": 8.21487e-3, "gaussian": 1.12793e-8,
    "meyer": 87.9458, "gulf": 0.0, "box3d": 0.0, "powell_singular": 0.0,
    "wood": 0.0, "kowalik_osborne": 3.07505e-4, "brown_dennis": 85822.2,
    "osborne1": 5.46489e-5, "biggs_exp6": 0.0, "osborne2": 4.01377e-2,
    "watson": 2.28767e-3, "extended_rosenbrock": 0.0,
    "extended_powell_singular": 0.0, "penalty1": 7.08765e-5,
    "penalty2": 2.93660e-4, "variably_dimensioned": 0.0,
    "trigonometric": 0.0, "brown_almost_linear": 0.0,
    "discrete_boundary_value": 0.0, "discrete_integral_equation": 0.0,
    "broyden_tridiagonal": 0.0, "broyden_banded": 0.0,
    "linear_full_rank": 10.0, "linear_rank1": 20 * 19 / (2 * 41),
    "linear_rank1_zero": (400 + 60 - 6) / (2 * 37), "chebyquad": 3.51687e-3,
}


@pytest.mark.parametrize("name", MGH)
def test_mgh_minimum(name):
    p = mgh(name)
    fstar = PAPER_F[name]
    f = p.fun(p.x_star, *p.args)
    cost = 0.5 * float(f @ f)
    if fstar == 0.0:
        assert p.cost_star == 0.0
        assert cost <= 1e-24, (name, cost)
    else:
        # the paper prints 6 significant digits
        assert p.cost_star == pytest.approx(0.5 * fstar, rel=6e-6), name
        assert cost == pytest.approx(p.cost_star, rel=1e-12), name
    # x_star is a stationary point: gradient J^T f ~ 0 relative to its terms
    J = p.jac(p.x_star, *p.args)
    g = J.T @ f
    terms = np.abs(J).T @ np.abs(f)
    assert np.all(np.abs(g) <= 1e-8 * terms + 1e-14), (name, g)


# Problems where scipy's trf (like most local solvers) stops in a known
# non-global minimum from the standard start; asserted explicitly below.
KNOWN_LOCAL = {
    "freudenstein_roth": 24.49212683962,     # f = 48.9842..., global f = 0
    "trigonometric": 1.3975280609389e-05,    # f = 2.79506e-5, global f = 0
}


def _scipy_trf(p, x0):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return least_squares(p.fun, x0, jac=p.jac, args=p.args, method="trf",
                             x_scale="jac", ftol=1e-12, xtol=1e-12, gtol=1e-12,
                             max_nfev=5000)


@pytest.mark.parametrize("name", [n for n in MGH if n not in KNOWN_LOCAL])
def test_scipy_reaches_mgh_minimum(name):
    p = mgh(name)
    res = _scipy_trf(p, p.x0)
    tol = 1e-8 * p.cost_star + 1e-12
    assert res.cost <= p.cost_star + tol, (name, res.cost, p.cost_star, res.status)


@pytest.mark.parametrize("name", sorted(KNOWN_LOCAL))
def test_scipy_stops_in_known_local_minimum(name):
    p = mgh(name)
    res = _scipy_trf(p, p.x0)
    assert res.cost == pytest.approx(KNOWN_LOCAL[name], rel=1e-8), (name, res.cost)
    assert any(math.isclose(res.cost, c, rel_tol=1e-8) for c in p.local_minima)
    assert res.cost > p.cost_star


@pytest.mark.parametrize("name", NIST)
def test_scipy_nist_from_start2(name):
    # conventions check: scipy + analytic Jacobian + args solves every NIST
    # problem from the closer start to the usual LRE >= 4 bar
    p = nist(name)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        res = least_squares(p.fun, p.starts[1], jac=p.jac, args=p.args,
                            method="trf", ftol=1e-15, xtol=1e-15, gtol=1e-15,
                            max_nfev=10000 * p.n)
    assert p.lre(res.x) >= 4, (name, p.lre(res.x), res.x)


# ------------------------------------------------------------------ LRE
def test_lre():
    p = nist("Misra1a")
    assert p.lre(p.x_star) == 11.0
    assert p.lre(p.x_star * (1 + 1e-6)) == pytest.approx(6.0, abs=1e-6)
    assert p.lre(p.x_star * (1 + 1e-13)) == 11.0          # clipped
    assert p.lre(p.x_star * 3.0) == 0.0                   # clipped at 0
    assert p.lre(np.full(p.n, np.nan)) == 0.0
    assert p.lre(np.zeros(p.n + 1)) == 0.0                # wrong shape
    assert p.rss_lre(p.certified_rss) == 11.0
    assert p.rss_lre(p.certified_rss * (1 + 1e-4)) == pytest.approx(4.0, abs=1e-6)
    assert p.rss_lre(np.inf) == 0.0
    # per-component values, and the absolute error where certified == 0
    np.testing.assert_allclose(
        log_relative_error([1.001, 1e-7, 2.0], [1.0, 0.0, 2.0], 11), [3.0, 7.0, 11.0])
    q = mgh("powell_singular")                             # x_star = 0
    assert q.lre(np.full(4, 1e-9)) == pytest.approx(9.0)
    assert mgh("rosenbrock").lre([1.0, 1.0]) == 15.0


# ------------------------------------------------------------------ @njit use
@numba.njit
def _njit_eval(fun, jac, x, args):
    f = fun(x, *args)
    J = jac(x, *args)
    return 0.5 * np.sum(f * f), J.T @ f


@pytest.mark.parametrize("name", ["Misra1a", "Nelson", "rosenbrock"])
def test_callable_from_njit(name):
    p = get(name)
    x = p.starts[0]
    cost, g = _njit_eval(p.fun, p.jac, x, p.args)
    f = p.fun(x, *p.args)
    assert cost == pytest.approx(0.5 * float(f @ f), rel=1e-14)
    np.testing.assert_allclose(g, p.jac(x, *p.args).T @ f, rtol=1e-14)
