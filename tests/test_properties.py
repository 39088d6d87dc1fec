"""Property-based tests of ``lsqcore.least_squares`` against scipy (hypothesis).

Random problems are drawn from four families (sums of exponentials, rational
functions, polynomials of random degree, random linear least squares) with
random sizes, noise, scales spanning 1e-8..1e8, bounds that are active or not
and starts near and far from the solution.  For a drawn method, Jacobian kind
(analytic, '2-point', '3-point', 'cs') and loss, every example checks:

* lsqcore never crashes: a finite, feasible, self-consistent result;
* its cost is <= scipy's cost * (1 + 1e-8) (+ a tiny atol for zero-residual
  problems) wherever scipy reports success, unless the difference is
  explained by a documented status (Gauss-Newton failing honestly, status 0
  or -4; ``max_nfev``; -3, a non-finite Jacobian mid-run; -5, an identically
  zero Jacobian at positive cost) or, on a
  non-convex problem, by a different local minimum that lsqcore certifies
  (its own gradient test holds there);
* ``success`` is never True at a point whose gradient test fails: a
  ``gtol`` claim (status 1) is re-checked from ``result.jac`` and the
  residuals recomputed at ``result.x`` with the method's own gtol semantics
  (trf: ``||v * g||_inf < gtol`` with the Coleman-Li scaling ``v``; lm: the
  largest cosine between ``f`` and a column of ``J``; gn: ``||g||_inf``);
* determinism: the same call twice gives bitwise the same answer.

Profiles (``HYPOTHESIS_PROFILE``):

* ``ci`` (default): 80 examples in all, derandomized (reproducible in CI);
* ``long``: 20000 examples per test, random seed, for a soak run::

      HYPOTHESIS_PROFILE=long python -m pytest tests/test_properties.py -q -p no:cacheprovider

Failures found by the long runs are kept below as ``@example`` regression
cases (see docs/hardening.md).
"""
from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import note as _note
from hypothesis import strategies as st

import lsqcore
from scipy.optimize import least_squares as sp_least_squares
from scipy.optimize._lsq.common import make_strictly_feasible

settings.register_profile(
    "ci", max_examples=40, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.register_profile(
    "long", max_examples=20000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
if os.environ.get("LSQ_MAX_EXAMPLES"):       # time-boxed soak runs
    settings.register_profile("override", max_examples=int(os.environ["LSQ_MAX_EXAMPLES"]),
                              parent=settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci")))
    settings.load_profile("override")

TOL = dict(ftol=1e-12, xtol=1e-12, gtol=1e-12)
LOSSES = ("linear", "soft_l1", "huber", "cauchy", "arctan")
JACS = ("analytic", "2-point", "3-point", "cs")
EPS = np.finfo(float).eps


# --------------------------------------------------------------------------
# Problem families.  Every residual is plain numpy and complex-safe (for
# jac='cs'); fun(x, t, y, s) = s * (model(x, t) - y).
# --------------------------------------------------------------------------

def exp_fun(x, t, y, s):
    k = x.size // 2
    r = -y.astype(x.dtype)
    for i in range(k):
        r = r + x[2 * i] * np.exp(-x[2 * i + 1] * t)
    return s * r


def exp_jac(x, t, y, s):
    k = x.size // 2
    J = np.empty((t.size, x.size))
    for i in range(k):
        e = np.exp(-x[2 * i + 1] * t)
        J[:, 2 * i] = e
        J[:, 2 * i + 1] = -x[2 * i] * t * e
    return s * J


def rat_fun(x, t, y, s):
    return s * ((x[0] + x[1] * t) / (1.0 + x[2] * t) - y)


def rat_jac(x, t, y, s):
    d = 1.0 + x[2] * t
    J = np.empty((t.size, 3))
    J[:, 0] = 1.0 / d
    J[:, 1] = t / d
    J[:, 2] = -(x[0] + x[1] * t) * t / d ** 2
    return s * J


def lin_fun(x, A, y, s):
    return s * (A @ x - y)


def lin_jac(x, A, y, s):
    return s * A


FAMILIES = {"exp": (exp_fun, exp_jac), "rational": (rat_fun, rat_jac),
            "poly": (lin_fun, lin_jac), "linear": (lin_fun, lin_jac)}


class Case:
    def __init__(self, family, x_true, x0, data, bounds, convex):
        self.family = family
        self.fun, self.jac = FAMILIES[family]
        self.x_true = x_true
        self.x0 = x0
        self.args = data
        self.bounds = bounds
        self.convex = convex
        self.n = x0.size
        self.m = data[1].size

    def __repr__(self):
        def a(v):
            return np.array2string(np.asarray(v), precision=17, separator=", ",
                                   max_line_width=10 ** 6)
        return (f"Case({self.family!r}, m={self.m}, n={self.n}, x0={a(self.x0)}, "
                f"x_true={a(self.x_true)}, s={self.args[2]!r}, bounds=({a(self.bounds[0])}, "
                f"{a(self.bounds[1])}), y={a(self.args[1])}, "
                f"t_or_A={a(self.args[0]) if self.args[0].ndim == 1 else self.args[0].shape})")


@st.composite
def problems(draw):
    family = draw(st.sampled_from(sorted(FAMILIES)))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    m = draw(st.integers(1, 60))
    noise = draw(st.sampled_from([0.0, 1e-6, 1e-3, 0.1, 1.0]))
    s = 10.0 ** draw(st.integers(-8, 8))            # residual scale
    far = draw(st.booleans())
    if family == "exp":
        k = draw(st.integers(1, 2))
        n = 2 * k
        t = np.linspace(0.0, draw(st.sampled_from([1.0, 5.0])), max(m, n))
        x_true = np.empty(n)
        x_true[0::2] = rng.uniform(0.5, 3.0, k) * rng.choice([-1, 1], k)
        x_true[1::2] = np.sort(rng.uniform(0.1, 4.0, k))
        y = exp_fun(x_true, t, np.zeros_like(t), 1.0)
        data = t
    elif family == "rational":
        n = 3
        t = np.linspace(0.0, 2.0, max(m, n))
        x_true = np.array([rng.uniform(-2, 2), rng.uniform(-2, 2), rng.uniform(0.1, 3.0)])
        y = rat_fun(x_true, t, np.zeros_like(t), 1.0)
        data = t
    else:
        if family == "poly":
            n = draw(st.integers(1, 6))
            tt = np.linspace(-1.0, 1.0, max(m, 1))
            A = np.vander(tt, n, increasing=True)
        else:
            n = draw(st.integers(1, 8))
            A = rng.standard_normal((m, n))
        ps = 10.0 ** draw(st.integers(-8, 8))       # parameter scale
        A = A / ps
        x_true = rng.standard_normal(n) * ps
        y = A @ x_true
        data = A
    y = y + noise * rng.standard_normal(y.size) * max(1.0, float(np.max(np.abs(y))))
    mm = y.size
    scale = np.maximum(np.abs(x_true), 1e-300)
    if far:
        x0 = x_true + scale * rng.uniform(-10.0, 10.0, n)
    else:
        x0 = x_true + scale * rng.uniform(-0.1, 0.1, n)
    if family == "rational":        # stay off the pole 1 + x2 t = 0 on [0, 2]
        x0[2] = abs(x0[2])
    if family == "exp":             # keep exp(-b t) finite at x0
        x0[1::2] = np.clip(x0[1::2], -20.0, 50.0)
    bounded = draw(st.sampled_from(["none", "inactive", "active"]))
    lb = np.full(n, -np.inf)
    ub = np.full(n, np.inf)
    if bounded != "none":
        width = scale * 10.0 ** draw(st.integers(-1, 2))
        if bounded == "inactive":
            lb = np.minimum(x_true, x0) - width
            ub = np.maximum(x_true, x0) + width
        else:                        # the unconstrained minimum is outside [lb, ub]
            j = draw(st.integers(0, n - 1))
            lb = np.minimum(x_true, x0) - width
            ub = np.maximum(x_true, x0) + width
            ub[j] = x_true[j] - 0.5 * scale[j]
            lb[j] = min(lb[j], ub[j] - scale[j])
            x0[j] = min(x0[j], ub[j])
            x0[j] = max(x0[j], lb[j])
        if family == "rational":
            lb[2] = max(lb[2], 0.0) if np.isfinite(lb[2]) else lb[2]
    case = Case(family, x_true, x0, (data, y, s), (lb, ub), convex=family in ("poly", "linear"))
    with np.errstate(all="ignore"):
        f0 = case.fun(x0, *case.args)
    assume(np.all(np.isfinite(f0)) and f0.size == mm)
    return case


@st.composite
def configs(draw, case):
    method = draw(st.sampled_from(["trf", "lm", "gn"]))
    bounded = bool(np.any(np.isfinite(case.bounds[0])) or np.any(np.isfinite(case.bounds[1])))
    if bounded or (method == "lm" and case.m < case.n):
        method = "trf"
    jac = draw(st.sampled_from(JACS))
    loss = "linear" if method == "lm" else draw(st.sampled_from(LOSSES))
    f_scale = draw(st.sampled_from([1.0, 0.1, 10.0])) if loss != "linear" else 1.0
    x_scale = draw(st.sampled_from([None, "jac"]))
    return method, jac, loss, f_scale, x_scale


def note(msg):
    try:
        _note(msg)
    except Exception:      # a plain (regression) test: print instead
        print(msg)


def call(solver, case, method, jac, loss, f_scale, x_scale, **extra):
    kw = dict(TOL, max_nfev=200 * case.n)
    kw.update(extra)
    if x_scale is not None:
        kw["x_scale"] = x_scale
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return solver(case.fun, case.x0.copy(), jac=case.jac if jac == "analytic" else jac,
                      bounds=case.bounds if np.any(np.isfinite(np.r_[case.bounds[0], case.bounds[1]]))
                      else (-np.inf, np.inf),
                      method=method, loss=loss, f_scale=f_scale, args=case.args, **kw)


def rho2(loss, z):
    """rho''(z) of scipy's losses (f_scale = 1)."""
    if loss == "linear":
        return np.zeros_like(z)
    if loss == "soft_l1":
        return -0.5 * (1 + z) ** -1.5
    if loss == "huber":
        return np.where(z <= 1, 0.0, -0.5 * np.maximum(z, 1.0) ** -1.5)
    if loss == "cauchy":
        return -1 / (1 + z) ** 2
    return -2 * z / (1 + z ** 2) ** 2


def rho01(loss, f, f_scale):
    with np.errstate(all="ignore"):     # huge residuals on a saturating loss's plateau
        return _rho01(loss, f, f_scale)


def _rho01(loss, f, f_scale):
    z = (f / f_scale) ** 2
    if loss == "linear":
        r0, r1 = z, np.ones_like(z)
    elif loss == "soft_l1":
        r0, r1 = 2 * ((1 + z) ** 0.5 - 1), (1 + z) ** -0.5
    elif loss == "huber":
        small = z <= 1
        r0 = np.where(small, z, 2 * np.sqrt(z) - 1)
        r1 = np.where(small, 1.0, 1.0 / np.sqrt(np.maximum(z, 1e-300)))
    elif loss == "cauchy":
        r0, r1 = np.log1p(z), 1 / (1 + z)
    else:
        r0, r1 = np.arctan(z), 1 / (1 + z ** 2)
    return f_scale ** 2 * r0, r1


FD_REL = {"analytic": 0.0, "cs": 1e-12, "3-point": 1e-9, "2-point": 1e-6}


def gtol_measure(res, case, method, loss, f_scale, jac="analytic"):
    """The method's own first-order optimality at res.x, from f(res.x) and the
    Jacobian: res.jac for the linear loss (the Jacobian the solver used), the
    analytic one for a robust loss (res.jac is then the loss-scaled Jacobian,
    as in scipy), less the finite-difference error of the solver's Jacobian."""
    with np.errstate(all="ignore"):
        f = case.fun(res.x, *case.args)
    J, rel = np.asarray(res.jac), 0.0
    _, r1 = rho01(loss, f, f_scale)
    if loss != "linear":
        # res.jac is the loss-scaled J_s = J sqrt(rho' + 2 rho'' f^2) (scipy's
        # scale_for_robust_loss_function); the gradient is J_s' f_s with
        # f_s = rho' f / sqrt(...) - computed here independently of the solver
        with np.errstate(all="ignore"):
            z = (f / f_scale) ** 2
            r2 = rho2(loss, z) / f_scale ** 2
            js = r1 + 2.0 * r2 * f ** 2
            js = np.sqrt(np.where(js < EPS, EPS, js))
            f = r1 * f / js
            r1 = np.ones_like(f)
    with np.errstate(all="ignore"):
        return _gtol_measure(res, case, method, f, J, r1, rel)


def _gtol_measure(res, case, method, f, J, r1, rel):
    g = J.T @ (r1 * f)
    # rounding floor of g = J'f (the solver sums in another order): an
    # absolute gtol below it is decided by rounding, on either side
    gerr = (4 * (f.size + 1) * EPS + rel) * (np.abs(J).T @ np.abs(r1 * f))
    if method == "lm":
        fn = np.linalg.norm(f)
        cn = np.linalg.norm(J, axis=0)
        if fn == 0:
            return 0.0
        with np.errstate(all="ignore"):
            c = np.where(cn > 0, np.abs(J.T @ f) / (cn * fn), 0.0)
        return float(np.max(c))
    if method == "gn":
        return float(np.max(np.maximum(np.abs(g) - gerr, 0.0)))
    lb, ub = case.bounds
    v = np.ones_like(g)
    up = (g < 0) & np.isfinite(ub)
    lo = (g > 0) & np.isfinite(lb)
    v[up] = (ub - res.x)[up]
    v[lo] = (res.x - lb)[lo]
    return float(np.max(np.maximum(np.abs(g) - gerr, 0.0) * v))


def same(a, b):
    for k in ("x", "cost", "fun", "jac", "grad", "optimality", "nfev", "njev", "status", "nit"):
        va, vb = np.asarray(a[k]), np.asarray(b[k])
        if va.shape != vb.shape or va.tobytes() != vb.tobytes():
            return k
    return None


def check_case(case, method, jac, loss, f_scale, x_scale):
    note(repr(case))
    note(f"method={method} jac={jac} loss={loss} f_scale={f_scale} x_scale={x_scale}")
    res = call(lsqcore.least_squares, case, method, jac, loss, f_scale, x_scale)
    note(f"lsqcore: status={res.status} cost={res.cost!r} nfev={res.nfev} x={res.x!r}")
    # ---- never garbage
    for k in ("x", "fun", "jac", "grad"):
        assert np.all(np.isfinite(res[k])), k
    assert res.status in (-5, -4, -3, 0, 1, 2, 3, 4)
    assert math.isfinite(res.cost) and math.isfinite(res.optimality)
    assert bool(res.success) == (res.status > 0)
    lb, ub = case.bounds
    assert np.all(res.x >= lb) and np.all(res.x <= ub)
    with np.errstate(all="ignore"):
        f_at = case.fun(res.x, *case.args)
        f_x0 = case.fun(case.x0, *case.args)
    r0, _ = rho01(loss, f_at, f_scale)
    c_true = 0.5 * float(np.sum(r0))
    assert np.array_equal(res.fun, f_at) or np.allclose(res.fun, f_at, rtol=1e-12, atol=0)
    assert math.isclose(res.cost, c_true, rel_tol=1e-9, abs_tol=1e-300)
    c0 = 0.5 * float(np.sum(rho01(loss, f_x0, f_scale)[0]))
    if method == "trf" and np.any(np.isfinite(np.r_[lb, ub])):
        # trf starts from x0 moved strictly inside the bounds (as scipy does):
        # a start exactly on a bound may cost a little more than f(x0) says
        with np.errstate(all="ignore"):
            f_in = case.fun(make_strictly_feasible(case.x0, lb, ub, rstep=1e-10), *case.args)
        c0 = max(c0, 0.5 * float(np.sum(rho01(loss, f_in, f_scale)[0])))
    assert res.cost <= c0 * (1 + 1e-12) + 1e-300
    # ---- determinism
    res2 = call(lsqcore.least_squares, case, method, jac, loss, f_scale, x_scale)
    diff = same(res, res2)
    assert diff is None, f"second identical call differs in {diff}"
    # ---- a success claim by the gradient test is true
    if res.status == 1:
        gm = gtol_measure(res, case, method, loss, f_scale, jac)
        assert gm <= TOL["gtol"] * (1 + 1e-6) + 1e-300 or (method == "lm" and gm <= TOL["gtol"] + 1e-14), \
            f"status 1 (gtol) but the gradient test fails: {gm!r}"
    # ---- against scipy
    ref = call(sp_least_squares, case, "trf" if method == "gn" else method, jac, loss, f_scale,
               x_scale)
    note(f"scipy: status={ref.status} cost={ref.cost!r} nfev={ref.nfev} x={ref.x!r}")
    if not ref.success:
        return
    # rounding floor of the cost: residuals s (model - y) known to a few ulps
    # of their terms (zero-residual fits end there, on either side)
    y_s = case.args[2] * np.maximum(np.abs(f_at / case.args[2] + case.args[1]),
                                    np.abs(case.args[1]))
    atol = 1e-20 * c0 + 0.5 * float(np.sum((16 * EPS * y_s) ** 2)) + 1e-300
    if res.status == 1 and loss == "linear":
        # an absolute gtol stop: ||g|| < gtol leaves up to 0.5 g' (J'J)^-1 g
        # above the minimum (zero-residual fits end at cost ~ (gtol/sigma)^2)
        sv = np.linalg.svd(np.asarray(res.jac), compute_uv=False)
        smin = float(sv[-1]) if sv.size and sv[-1] > 0 else 0.0
        atol += case.n * TOL["gtol"] ** 2 / smin ** 2 if smin > 0 else 0.0
    if res.cost <= ref.cost * (1 + 1e-8) + atol:
        return
    if method == "gn" and res.status in (0, -4):
        return                                        # gn failed honestly
    if res.status in (0, -3, -5):
        return                                        # max_nfev / non-finite J / flat region
    convex = case.convex and loss == "linear"
    if not convex and res.success:
        # a different local minimum of a non-convex problem: lsqcore must have
        # stopped at a stationary point by its own gradient test
        gm = gtol_measure(res, case, method, loss, f_scale, jac)
        note(f"local-minimum check: gtol measure {gm!r}")
        if res.status == 1:
            return
        # ftol / xtol stop: accept when the point is a local minimum to the
        # accuracy of the (relative) cost, i.e. scipy's lower cost is elsewhere
        if np.linalg.norm(res.x - ref.x) > 1e-3 * (np.linalg.norm(ref.x) + 1e-300):
            return
        # both stopped by xtol at the same point (to 1e-6) where the gradient is
        # not small (the trust region collapsed on a plateau of a saturating
        # loss, scipy alike): the costs differ by |g| times a rounding-level step
        # both stopped by xtol where scipy's own point is far from stationary
        # (relative gradient > 1e-6: a trust region collapsed on the plateau of
        # a saturating loss at residual scale ~1e8): the two stopping points
        # are path noise, neither a minimum - no ordering of the costs holds
        if res.status in (3, 4) and ref.status in (3, 4):
            with np.errstate(all="ignore"):
                f_ref = case.fun(ref.x, *case.args)
                Jr = case.jac(ref.x, *case.args)
                r1r = rho01(loss, f_ref, f_scale)[1]
                g_ref = np.abs(Jr.T @ (r1r * f_ref))
                g_mag = np.abs(Jr).T @ np.abs(r1r * f_ref)
            if np.any(g_ref > 1e-6 * g_mag):
                note("both xtol at non-stationary points (scipy's relative gradient "
                     f"{float(np.max(g_ref / np.maximum(g_mag, 1e-300)))!r})")
                return
        dx = np.linalg.norm(res.x - ref.x)
        if res.status in (3, 4) and ref.status in (3, 4) and dx <= 1e-6 * (np.linalg.norm(ref.x)
                                                                         + 1e-300):
            with np.errstate(all="ignore"):
                g = case.jac(res.x, *case.args).T @ (rho01(loss, f_at, f_scale)[1] * f_at)
            # first order: the cost difference is at most |g| |dx| (2x margin)
            if res.cost - ref.cost <= 2.0 * np.linalg.norm(g) * dx + 1e-8 * ref.cost:
                return
    raise AssertionError(f"cost {res.cost!r} > scipy's {ref.cost!r} (status {res.status} vs "
                         f"{ref.status})")


@settings()
@given(data=st.data(), case=problems())
def test_random_problem_vs_scipy(case, data):
    check_case(case, *data.draw(configs(case)))


# --------------------------------------------------------------------------
# Smaller, fixed-family properties: convex (linear) problems must match
# scipy's minimum for every method/Jacobian kind; costs exactly comparable.
# --------------------------------------------------------------------------

@settings(max_examples=max(settings().max_examples // 2, 1))
@given(seed=st.integers(0, 2 ** 32 - 1), m=st.integers(1, 40), n=st.integers(1, 6),
       logs=st.integers(-8, 8), method=st.sampled_from(["trf", "lm", "gn"]),
       jac=st.sampled_from(JACS))
def test_linear_least_squares(seed, m, n, logs, method, jac):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n)) * 10.0 ** logs
    y = rng.standard_normal(m) * 10.0 ** logs
    x_true = np.zeros(n)
    if method == "lm" and m < n:
        method = "trf"
    case = Case("linear", x_true, rng.standard_normal(n), (A, y, 1.0),
                (np.full(n, -np.inf), np.full(n, np.inf)), convex=True)
    check_case(case, method, jac, "linear", 1.0, None)
    res = call(lsqcore.least_squares, case, method, jac, "linear", 1.0, None)
    c_ls = 0.5 * float(np.sum((A @ np.linalg.lstsq(A, y, rcond=None)[0] - y) ** 2))
    smin = np.linalg.svd(A, compute_uv=False)[-1]
    slack = n * TOL["gtol"] ** 2 / smin ** 2 if smin > 0 else np.inf   # absolute gtol stop
    if res.success:
        assert res.cost <= c_ls * (1 + 1e-6) + 1e-12 * 0.5 * float(y @ y) + slack + 1e-300


# --------------------------------------------------------------------------
# Regression examples found by the long runs (docs/hardening.md)
# --------------------------------------------------------------------------

def test_regression_start_on_upper_bound_exp():
    """x0[0] == ub[0]: trf (like scipy) starts from x0 moved strictly inside,
    whose cost is a hair above f(x0)'s (the test's start cost was wrong)."""
    t = np.linspace(0.0, 1.0, 2)
    x_true = np.array([-1.8813487132694209, 3.98550672459595])
    case = Case("exp", x_true, np.array([-2.822023069904131, 40.953930723944104]),
                (t, exp_fun(x_true, t, np.zeros(2), 1.0), 1.0),
                (np.array([-4.7033717831735515, 0.0]), np.array([-2.822023069904131, 44.939437448540055])),
                convex=False)
    check_case(case, "trf", "analytic", "linear", 1.0, "jac")


def test_regression_gtol_below_rounding_floor():
    """|g| ~ 1e4 * 5e4 * eps: an absolute gtol of 1e-12 is decided by rounding
    of J'f; the check allows the rounding floor of the recomputed gradient."""
    rng = np.random.default_rng(116)
    A = rng.standard_normal((33, 1)) * 1e4
    y = rng.standard_normal(33) * 1e4
    case = Case("linear", np.zeros(1), np.array([-0.2670662956999471]), (A, y, 1.0),
                (np.full(1, -np.inf), np.full(1, np.inf)), convex=True)
    check_case(case, "trf", "cs", "linear", 1.0, None)


def test_regression_lm_overflowing_initial_cost():
    """f(x0) finite (~1e260) but 0.5 ||f||^2 = inf: 'lm' read every cosine
    g_j / (|J_j| inf) as 0 and claimed gtol (then xtol) at x0 with cost inf.
    The kernel now never reports success at a non-finite cost (status -1)."""
    t = np.linspace(0.0, 10.0, 50)
    y = np.exp(0.5 * t)
    for method in ("trf", "lm", "gn"):
        with np.errstate(all="ignore"):
            res = lsqcore.least_squares(lambda x: np.exp(x[0] * t) - y, [60.0], method=method)
        assert not res.success and res.status in (-4, -1, 0), (method, res.status)


def test_regression_robust_loss_gtol_uses_unscaled_jacobian():
    """With a robust loss result.jac is the loss-scaled Jacobian (as scipy's):
    the gtol re-check must use the model's Jacobian and rho'(f) f."""
    t = np.linspace(0.0, 1.0, 4)
    x_true = np.array([2.0924042183036358, 0.2597967433511593])
    case = Case("exp", x_true, np.array([2.1884441327614548, 0.2620634694934471]),
                (t, exp_fun(x_true, t, np.zeros(4), 1.0), 1.0),
                (np.full(2, -np.inf), np.full(2, np.inf)), convex=False)
    check_case(case, "trf", "analytic", "soft_l1", 1.0, None)


@pytest.mark.parametrize("loss", ["linear", "huber", "soft_l1"])
@pytest.mark.parametrize("s", [1.0, 1e5])
def test_regression_bounded_trf_x_scale_jac_follows_scipy(loss, s):
    """trf with bounds and x_scale='jac': the Coleman-Li vector must be taken
    in the x_scale'd variables in every iteration (scipy's trf_bounds); the
    kernel did it only for the initial radius and took other steps from the
    first iteration (huber, s=1e5: cost 0.086 instead of scipy's 2e-22)."""
    t = np.array([0.0, 1.0])
    x_true = np.array([2.0924042183036358, 0.2597967433511593])
    args = (t, exp_fun(x_true, t, np.zeros(2), 1.0), s)
    bounds = (np.array([0.0, 0.0]), np.array([4.3575387388121225, 0.5251342121561262]))
    x0 = np.array([2.265134520508487, 0.2653374688049669])
    kw = dict(jac=exp_jac, bounds=bounds, loss=loss, args=args, x_scale="jac", **TOL)
    its = {"lsq": [], "sp": []}
    with np.errstate(all="ignore"):
        r = lsqcore.least_squares(exp_fun, x0.copy(), callback=lambda x: its["lsq"].append(x.copy()), **kw)
        ref = sp_least_squares(exp_fun, x0.copy(), callback=lambda x: its["sp"].append(x.copy()), **kw)
    np.testing.assert_allclose(its["lsq"][0], its["sp"][0], rtol=1e-8)
    assert r.cost <= ref.cost * (1 + 1e-8) + 1e-20


def test_regression_arctan_plateau_huge_residuals():
    """gn + arctan from a far start ends on the loss's plateau (residuals
    ~1e250, each rho = pi/2): the harness's own rho must not overflow-warn."""
    t = np.linspace(0.0, 5.0, 15)
    x_true = np.array([-2.0924042183036358, 0.16445777856126348, -1.1744667844096757,
                       3.2717539328810625])
    case = Case("exp", x_true, np.array([-21.831322414025223, -1.0713329757427,
                                         2.833387368930544, 12.903111200318971]),
                (t, exp_fun(x_true, t, np.zeros(15), 1.0), 1.0),
                (np.full(4, -np.inf), np.full(4, np.inf)), convex=False)
    check_case(case, "gn", "analytic", "arctan", 1.0, None)


def test_regression_zero_residual_cost_at_rounding_floor():
    """Zero-residual exponential fit with residual scale 1e7: both solvers end
    at costs of rounding noise (1.5e-17 vs 2.5e-18; residual terms ~2e7, ulp
    ~4e-9): the comparison allows the cost's rounding floor."""
    t = np.linspace(0.0, 1.0, 7)
    x_true = np.array([2.0924042183036358, 0.2597967433511593])
    case = Case("exp", x_true, np.array([2.2245828801056535, 0.23395935970121762]),
                (t, exp_fun(x_true, t, np.zeros(7), 1.0), 1e7),
                (np.full(2, -np.inf), np.full(2, np.inf)), convex=False)
    check_case(case, "trf", "analytic", "cauchy", 1.0, None)
