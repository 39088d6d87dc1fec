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
  zero Jacobian at positive cost) or, on a non-convex problem, by a different
  local minimum (lsqcore's gradient test holds there, or it lies > 1e-3
  away, or a second-order certificate plus a scipy restart show it is one),
  or by two stalled solvers (ftol/xtol at non-stationary points, costs within
  the first-order bound ``2 max|g| |dx|``) - see docs/hardening.md;
* ``success`` is never True at a point whose gradient test fails: a
  ``gtol`` claim (status 1) is re-checked from ``result.jac`` and the
  residuals recomputed at ``result.x`` with the method's own gtol semantics
  (trf: ``||v * g||_inf < gtol`` with the Coleman-Li scaling ``v``; lm: the
  largest cosine between ``f`` and a column of ``J``; gn: ``||g||_inf``);
  a tolerance claim (status 2, 3, 4; linear loss) is re-checked for
  stationarity (:func:`stationary_stop`): residuals at their rounding floor,
  or no Jacobian column lost, and the largest cosine between ``f`` and a
  free column of ``J`` at most ``max(1e-2, sqrt(max(ftol, xtol)))``;
* determinism: the same call twice gives bitwise the same answer.

Profiles (``HYPOTHESIS_PROFILE``):

* ``ci`` (default): 40 + 20 generated examples, derandomized (reproducible in CI);
* ``long``: 20000 (random problems) + 10000 (linear) examples, random seed,
  for a soak run::

      HYPOTHESIS_PROFILE=long python -m pytest tests/test_properties.py -q -p no:cacheprovider \
          -W ignore::DeprecationWarning --hypothesis-show-statistics

Failures found by the long runs are kept below as plain ``test_regression_*``
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
    method = draw(st.sampled_from(["trf", "dogbox", "lm", "gn"]))
    bounded = bool(np.any(np.isfinite(case.bounds[0])) or np.any(np.isfinite(case.bounds[1])))
    if (bounded and method in ("lm", "gn")) or (method == "lm" and case.m < case.n):
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


def solver_row_scale(res, method, loss, f_scale):
    """The row scaling the solver applied to its Jacobian for a robust loss
    (res.jac = diag(scale) J): Triggs' sqrt(max(rho' + 2 rho'' f^2, eps))
    for trf and lm (as scipy), sqrt(rho') for gn (IRLS, methods/gn.py).
    Computed with lsqcore's own rho (lsqcore._loss) and the kernel's
    expression, so that dividing res.jac by it gives back, to an ulp, the
    Jacobian the solver used: for huber beyond its threshold rho' + 2 rho''
    f^2 is 0 up to rounding, and whether it is clipped to eps is decided by
    that rounding (an independent formula differed by sqrt(1.5) on a row)."""
    from lsqcore._loss import LOSS_CODES, evaluate_rho
    f = np.ascontiguousarray(res.fun, dtype=np.float64)
    rho = np.empty((3, f.size))
    evaluate_rho(LOSS_CODES[loss], f, float(f_scale), rho)
    with np.errstate(all="ignore"):
        if method == "gn":
            return np.sqrt(rho[1])
        w = rho[1] + 2.0 * rho[2] * f * f
        return np.sqrt(np.where(w < EPS, EPS, w))


def gtol_measure(res, case, method, loss, f_scale, jac="analytic"):
    """The method's own first-order optimality at res.x, from f(res.x)
    (recomputed), this module's rho' and a Jacobian: for the linear loss the
    solver's own res.jac (the one its gtol test used, finite differences
    included); for a robust loss (res.jac is then loss-scaled) the model's
    analytic Jacobian when the solver used it, else res.jac unscaled by
    :func:`solver_row_scale` (the solver's finite-difference Jacobian).
    Less the rounding floor of J'f."""
    with np.errstate(all="ignore"):
        f = case.fun(res.x, *case.args)
    _, r1 = rho01(loss, f, f_scale)
    J = np.asarray(res.jac)
    if loss != "linear":
        if jac == "analytic":
            with np.errstate(all="ignore"):
                J = case.jac(res.x, *case.args)
        else:
            # a row scaled by 0 (rho' = 0: a residual whose f^2 overflowed, on
            # a saturating loss's plateau) cannot be unscaled, and adds
            # rho' f = 0 to the gradient: it is taken as 0
            sc = solver_row_scale(res, method, loss, f_scale)[:, None]
            with np.errstate(all="ignore"):
                J = np.where(sc > 0, J / np.where(sc > 0, sc, 1.0), 0.0)
    with np.errstate(all="ignore"):
        return _gtol_measure(res, case, method, f, J, r1, 0.0)


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
    if method == "dogbox":
        # ||g_free||_inf: a variable on a bound its gradient pushes against is held
        held = ((res.x == lb) & (g > 0)) | ((res.x == ub) & (g < 0))
        return float(np.max(np.where(held, 0.0, np.maximum(np.abs(g) - gerr, 0.0))))
    v = np.ones_like(g)
    up = (g < 0) & np.isfinite(ub)
    lo = (g > 0) & np.isfinite(lb)
    v[up] = (ub - res.x)[up]
    v[lo] = (res.x - lb)[lo]
    return float(np.max(np.maximum(np.abs(g) - gerr, 0.0) * v))


def stationary_stop(res, case, f, jac):
    """The stationarity rule of tolerance stops, recomputed in numpy from
    ``result.jac`` (the solver's Jacobian at ``result.x``), the residuals
    recomputed there, the bounds and the tolerances (linear loss): returns
    ``(ok, reason)``.  Lost columns are compared with the analytic Jacobian
    at ``x0`` when the solver used it (a difference Jacobian at ``x0`` is
    the solver's own business)."""
    J = np.asarray(res.jac, dtype=float)
    x = np.asarray(res.x, dtype=float)
    with np.errstate(all="ignore"):
        f_norm = float(np.linalg.norm(f))
        floor = EPS * float(np.linalg.norm(np.abs(J) @ np.abs(x)))
    # 1 % slack: the solver sums in another order
    if f_norm <= 1e4 * floor * 1.01:
        return True, "residuals at their rounding floor"
    if jac == "analytic":
        with np.errstate(all="ignore"):
            J0 = case.jac(case.x0, *case.args)
        lost = int(np.sum(np.all(J == 0, axis=0)))
        if lost > int(np.sum(np.all(J0 == 0, axis=0))):
            return False, f"{lost} Jacobian columns vanished"
    lb, ub = case.bounds
    g = J.T @ f
    free = ~(((g > 0) & np.isfinite(lb)) | ((g < 0) & np.isfinite(ub)))
    norms = np.linalg.norm(J, axis=0) * f_norm
    with np.errstate(all="ignore"):
        cos = np.where(free & (norms > 0), np.abs(g) / np.where(norms > 0, norms, 1.0), 0.0)
    tau = max(1e-2, math.sqrt(max(TOL["ftol"], TOL["xtol"])))
    worst = float(np.max(cos)) if cos.size else 0.0
    # 1e-6 relative slack for the order of summation
    return worst <= tau * (1 + 1e-6), f"largest cosine {worst!r} > {tau!r}"


def same(a, b):
    for k in ("x", "cost", "fun", "jac", "grad", "optimality", "nfev", "njev", "status", "nit"):
        va, vb = np.asarray(a[k]), np.asarray(b[k])
        if va.shape != vb.shape or va.tobytes() != vb.tobytes():
            return k
    return None


def local_minimum_certified(res, case, method, jac, loss, f_scale, x_scale, atol):
    """lsqcore's point is a local minimum (another one than scipy's, on a
    non-convex problem) to the accuracy of the comparison.  Both must hold:

    1. second order, from the analytic Jacobian at ``x``: with
       ``g = J' rho' f`` and the Hessian of the robust cost
       ``H = J' diag(rho' + 2 rho'' f^2) J`` (the model's own curvature
       left out), restricted to the variables not held by a bound (those
       must have the gradient pointing out of the box): ``H`` positive
       definite, the Newton step ``d = H^-1 g`` to the nearby minimum below
       ``1e-6 ||x||`` and the cost that minimum would save,
       ``0.5 g' d``, within the comparison tolerance
       (``1e-8 cost + atol``) - with a finite-difference Jacobian both
       widened by its resolution: ``2 |H^-1 dg|`` and ``2 * 0.5 dg' H^-1 dg``,
       ``dg = (J_fd - J)' rho' f`` the error of the solver's Jacobian at x;
    2. scipy itself, restarted at lsqcore's ``x`` with the same options,
       cannot lower the cost by more than that tolerance (no slope, saddle
       or collapsed trust region: the model's curvature is not left out).
    """
    with np.errstate(all="ignore"):
        f = case.fun(res.x, *case.args)
        J = case.jac(res.x, *case.args)
        r1 = rho01(loss, f, f_scale)[1]
        w = r1 + 2.0 * rho2(loss, (f / f_scale) ** 2) / f_scale ** 2 * f ** 2
        g = J.T @ (r1 * f)
        H = J.T @ (w[:, None] * J)
    dg = np.zeros_like(g)
    if jac != "analytic":
        # the solver's finite-difference Jacobian: its error dg = (J_fd - J)' rho' f
        # limits how well any solver using it can place the minimum - by
        # |H^-1 dg| in x and 0.5 dg' H^-1 dg in cost (a flat valley: two
        # nearly equal exponential rates, cond(H) ~ 1e11, a 2-point Jacobian
        # good to 1e-8 resolves the cost only to ~5e-14)
        Jfd = np.asarray(res.jac)
        if loss != "linear":
            with np.errstate(all="ignore"):
                Jfd = Jfd / solver_row_scale(res, method, loss, f_scale)[:, None]
        with np.errstate(all="ignore"):
            dg = (Jfd - J).T @ (r1 * f)
    am = np.asarray(res.active_mask)
    if np.any(g[am == -1] < 0) or np.any(g[am == 1] > 0):
        note("local-minimum certificate: the gradient points into the box at an active bound")
        return False
    free = am == 0
    tol = 1e-8 * res.cost + atol
    if np.any(free):
        Hf, gf = H[np.ix_(free, free)], g[free]
        if not (np.all(np.isfinite(Hf)) and np.all(np.isfinite(gf))):
            return False
        ev = np.linalg.eigvalsh(0.5 * (Hf + Hf.T))
        if not ev[0] > 0:
            note(f"local-minimum certificate: H not positive definite (eigenvalues {ev!r})")
            return False
        d = np.linalg.solve(Hf, gf)
        dec = 0.5 * float(gf @ d)
        dd = np.linalg.solve(Hf, dg[free])
        fd_step, fd_gap = float(np.linalg.norm(dd)), 0.5 * float(dg[free] @ dd)
        tol += 2.0 * max(fd_gap, 0.0)
        note(f"local-minimum certificate: |H^-1 g| = {float(np.linalg.norm(d))!r}, "
             f"0.5 g' H^-1 g = {dec!r} (tolerance {tol!r}; finite differences: "
             f"|H^-1 dg| = {fd_step!r}, 0.5 dg' H^-1 dg = {fd_gap!r})")
        if not (np.linalg.norm(d) <= 1e-6 * np.linalg.norm(res.x) + 2.0 * fd_step + 1e-300
                and dec <= tol):
            return False
    restart = Case(case.family, case.x_true, np.array(res.x, copy=True), case.args, case.bounds,
                   case.convex)
    again = call(sp_least_squares, restart, "trf" if method == "gn" else method, jac, loss,
                 f_scale, x_scale)
    note(f"scipy restarted at lsqcore's x: status={again.status} cost={again.cost!r}")
    return bool(again.cost >= res.cost - tol)


def perturbed_costs(solver, case, method, jac, loss, f_scale, x_scale, k=4):
    """Final costs from k starts x0 (1 + 4 i eps), i = 1..k (kept in the box)."""
    costs = []
    for i in range(1, k + 1):
        x0 = np.clip(case.x0 * (1.0 + 4 * i * EPS), case.bounds[0], case.bounds[1])
        c = Case(case.family, case.x_true, x0, case.args, case.bounds, case.convex)
        costs.append(float(call(solver, c, method, jac, loss, f_scale, x_scale).cost))
    return costs


def check_case(case, method, jac, loss, f_scale, x_scale):
    note(repr(case))
    note(f"method={method} jac={jac} loss={loss} f_scale={f_scale} x_scale={x_scale}")
    res = call(lsqcore.least_squares, case, method, jac, loss, f_scale, x_scale)
    note(f"lsqcore: status={res.status} cost={res.cost!r} nfev={res.nfev} x={res.x!r}")
    # ---- never garbage
    for k in ("x", "fun", "jac", "grad"):
        assert np.all(np.isfinite(res[k])), k
    assert res.status in (-6, -5, -4, -3, 0, 1, 2, 3, 4)
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
    # ---- a success claim by a tolerance test is at a stationary point
    if res.status in (2, 3, 4) and loss == "linear":
        ok, why = stationary_stop(res, case, f_at, jac)
        assert ok, f"status {res.status} (tolerance stop) at a non-stationary point: {why}"
    # ---- against scipy
    try:
        ref = call(sp_least_squares, case, "trf" if method == "gn" else method, jac, loss,
                   f_scale, x_scale)
    except (ValueError, np.linalg.LinAlgError) as exc:
        # scipy itself fails: its arctan rho'' at f^2 = inf is NaN, its Triggs
        # weight too (NaN < EPS is false), and scipy.linalg.svd refuses the
        # NaN Jacobian.  lsqcore's own result was checked above.
        note(f"scipy raised {exc!r}: no comparison")
        return
    note(f"scipy: status={ref.status} cost={ref.cost!r} nfev={ref.nfev} x={ref.x!r}")
    if not ref.success:
        return
    # rounding floor of the cost: residuals s (model - y) known to a few ulps
    # of their terms (zero-residual fits end there, on either side)
    y_s = case.args[2] * np.maximum(np.abs(f_at / case.args[2] + case.args[1]),
                                    np.abs(case.args[1]))
    # (the cost of rounding-level residuals d under the loss: d^2 for the
    # linear loss, bounded for saturating ones; d capped so that it cannot
    # overflow - residual terms ~1e265 occur on arctan's plateau)
    with np.errstate(all="ignore"):
        d = np.minimum(16 * EPS * y_s, 1e150 * f_scale)
        atol = 1e-20 * c0 + 0.5 * float(np.sum(rho01(loss, d, f_scale)[0])) + 1e-300
    if loss == "soft_l1":
        # rho = 2 (sqrt(1 + z) - 1) cancels for z << 1 (scipy's formula, and
        # lsqcore's): each term is known to ~eps of f_scale^2 sqrt(1 + z), not
        # of itself (for z << 1 the cost comes in quanta of eps f_scale^2);
        # 2 eps f_scale^2 sum sqrt(1 + z) covers both solvers' rounding
        with np.errstate(all="ignore"):
            atol += 2 * EPS * f_scale ** 2 * float(np.sum(np.sqrt(1.0 + (f_at / f_scale) ** 2)))
    if res.status == 1 and loss == "linear":
        # a gtol stop leaves 0.5 g' (J'J)^+ g above the minimum of the linear
        # model (zero-residual fits end at cost ~ (gtol/sigma)^2), with g
        # bounded by the method's own gtol test: trf |g_i| < gtol / v_i
        # (Coleman-Li v: near a bound |g| may be far above gtol), lm
        # |g_j| < gtol |J_j| |f|, gn |g_i| < gtol.  Allowed: the bound
        # sum_i gmax_i^2 / sigma_min^2 (2x margin), or the exact gap
        # 0.5 sum (u_i' f)^2 over sigma_i > 0 if smaller (finite when
        # sigma_min^2 underflows: exp(-400 t) columns, sigma_min ~ 1e-175)
        Jr = np.asarray(res.jac)
        U, sv, _ = np.linalg.svd(Jr, full_matrices=False)
        with np.errstate(all="ignore"):
            if method == "trf":
                g = Jr.T @ f_at
                v = np.ones(case.n)
                up = (g < 0) & np.isfinite(ub)
                lo = (g > 0) & np.isfinite(lb)
                v[up] = (ub - res.x)[up]
                v[lo] = (res.x - lb)[lo]
                gmax = TOL["gtol"] / v
            elif method == "lm":
                gmax = TOL["gtol"] * np.linalg.norm(Jr, axis=0) * np.linalg.norm(f_at)
            else:
                gmax = np.full(case.n, TOL["gtol"])
            bound = float(np.sum((gmax / sv[-1]) ** 2)) if sv.size else 0.0
            exact = 0.5 * float(np.sum((U.T @ f_at)[sv > 0] ** 2))
        atol += min(bound, exact)
    if res.cost <= ref.cost * (1 + 1e-8) + atol:
        return
    if method == "gn" and res.status in (0, -4):
        return                                        # gn failed honestly
    if res.status in (0, -3, -5, -6):
        return                          # max_nfev / non-finite J / flat region / not stationary
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
        # both stopped for lack of progress (ftol or xtol: statuses 2, 3, 4)
        # within 1e-3 of each other, and either scipy's own point is far from
        # stationary (relative gradient |J' rho' f| / (|J|' |rho' f|) > 1e-6:
        # a trust region collapsed on the plateau of a saturating loss, or on
        # the flat Triggs model of huber beyond its threshold, where
        # rho' + 2 rho'' f^2 = 0 is clipped to eps - scipy alike) or both are
        # at the same point (to 1e-6): the two stops are path noise, and the
        # costs may differ by what the gradient gives over the distance
        # between them, to first order (2x margin):
        #     cost - cost_scipy <= 2 max(|g|, |g_scipy|) |x - x_scipy|
        dx = np.linalg.norm(res.x - ref.x)
        if res.status in (2, 3, 4) and ref.status in (2, 3, 4):
            with np.errstate(all="ignore"):
                f_ref = case.fun(ref.x, *case.args)
                Jr = case.jac(ref.x, *case.args)
                r1r = rho01(loss, f_ref, f_scale)[1]
                g_ref = Jr.T @ (r1r * f_ref)
                g_mag = np.abs(Jr).T @ np.abs(r1r * f_ref)
                g = case.jac(res.x, *case.args).T @ (rho01(loss, f_at, f_scale)[1] * f_at)
            rel = float(np.max(np.abs(g_ref) / np.maximum(g_mag, 1e-300)))
            bound = 2.0 * max(np.linalg.norm(g), np.linalg.norm(g_ref)) * dx + 1e-8 * ref.cost
            note(f"no-progress stops: scipy's relative gradient {rel!r}, |dx| {dx!r}, "
                 f"first-order bound {bound!r}")
            if (rel > 1e-6 or dx <= 1e-6 * np.linalg.norm(ref.x)) and res.cost - ref.cost <= bound:
                return
        # another local minimum, close to scipy's: narrow basins (a robust loss
        # at residual scale 1e8 has one per subset of residuals fitted to ~0,
        # within 5e-5 of each other in x); the paths may choose different ones
        if local_minimum_certified(res, case, method, jac, loss, f_scale, x_scale, atol):
            return
        # path noise, measured: both stopped for lack of progress and the
        # outcome moves with ulp-level changes of x0 (a flat valley crawled
        # with a finite-difference Jacobian).  Accepted when lsqcore's and
        # scipy's outcomes over 4 starts x0 (1 + 4 i eps) each, plus the
        # original ones, overlap: min(lsqcore) <= max(scipy) (1 + 1e-8) + atol.
        # A systematic difference (each solver keeping its own minimum, as the
        # cauchy/1e8 finding did before 4ef4e71) is still reported.
        if res.status in (2, 3, 4) and ref.status in (2, 3, 4):
            sp_method = "trf" if method == "gn" else method
            c_lsq = [float(res.cost)] + perturbed_costs(lsqcore.least_squares, case, method, jac,
                                                        loss, f_scale, x_scale)
            c_sp = [float(ref.cost)] + perturbed_costs(sp_least_squares, case, sp_method, jac,
                                                       loss, f_scale, x_scale)
            note(f"perturbed starts: lsqcore {c_lsq!r}, scipy {c_sp!r}")
            if min(c_lsq) <= max(c_sp) * (1 + 1e-8) + atol:
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
       logs=st.integers(-8, 8), method=st.sampled_from(["trf", "dogbox", "lm", "gn"]),
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
    for method in ("trf", "dogbox", "lm", "gn"):
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


# The cauchy finding (docs/hardening.md): a 4 x 2 linear model, residual scale
# 1e8, far start.  Each pair of residuals fitted to ~0 is a local minimum of
# the cauchy cost; the six lie within 5e-5 (relative) of each other in x.
_CAUCHY_A = np.array([[0.1257302210933933, -0.1321048632913019],
                      [0.6404226504432821, 0.10490011715303971],
                      [-0.535669373161111, 0.36159505490948474],
                      [1.3040000451301372, 0.9470809631292422]])
_CAUCHY_Y = np.array([0.07868622472104649, -0.5834307580355093, -0.08060565373166623,
                      -2.116127827805731])
_CAUCHY_X0 = np.array([2.5285973591477435, -9.474068305098626])


def _cauchy_case():
    return Case("linear", np.array([-0.7037352358069926, -1.2654214710460525]), _CAUCHY_X0.copy(),
                (_CAUCHY_A, _CAUCHY_Y, 1e8), (np.full(2, -np.inf), np.full(2, np.inf)),
                convex=True)


def test_regression_cauchy_huge_scale_other_local_minimum():
    """trf + cauchy at residual scale 1e8: lsqcore ended (xtol) in the local
    minimum fitting residuals 0 and 1 (cost 13.3369), scipy in the one fitting
    1 and 2 (12.2872); both are local minima to working precision (the global
    one fits 2 and 3, 10.998).  Accepted by the local-minimum certificate
    (stationary within the gradient's rounding floor, scipy restarted there
    cannot improve); the test fails if lsqcore stops anywhere else."""
    check_case(_cauchy_case(), "trf", "analytic", "cauchy", 1.0, None)


def test_regression_cauchy_huge_scale_trf_path_follows_scipy():
    """trf's iterates follow scipy's: the first 20 agree to 1e-9 relative.
    (Before solve_trust_region applied the Newton update of the iteration
    that met the tolerance, as scipy does, they parted at iteration 7, the
    second trial of a shrunk region, by 5e-6, and ended in another local
    minimum.)"""
    case = _cauchy_case()
    its = {"lsq": [], "sp": []}
    kw = dict(jac=lin_jac, method="trf", loss="cauchy", args=case.args, max_nfev=400, **TOL)
    with np.errstate(all="ignore"):
        lsqcore.least_squares(lin_fun, case.x0.copy(),
                              callback=lambda x, *a, **k: its["lsq"].append(np.array(x)), **kw)
        sp_least_squares(lin_fun, case.x0.copy(),
                         callback=lambda x, *a, **k: its["sp"].append(np.array(x)), **kw)
    assert len(its["lsq"]) >= 20 and len(its["sp"]) >= 20
    for k in range(20):
        np.testing.assert_allclose(its["lsq"][k], its["sp"][k], rtol=1e-9, atol=0,
                                   err_msg=f"iterate {k}")


def test_regression_gn_robust_gtol_recheck_uses_irls_scaling():
    """gn + soft_l1, a rational fit blown up to x ~ 2.6e9: gn's gtol claim
    (|J' rho' f|_inf = 8.7e-13 < 1e-12, true) was re-checked with Triggs'
    scaled residuals against gn's IRLS-scaled result.jac and read 1.3e-12."""
    t = np.array([0.0, 1.0, 2.0])
    case = Case("rational", np.array([-0.9535514630027344, -0.8060354263435068, 2.461254647723413]),
                np.array([-6.905599224859902, -7.977386984302252, 8.61589913470461]),
                (t, np.array([-3.39501884564259, 1.291340600027354, 0.7109673428830109]), 1.0),
                (np.full(3, -np.inf), np.full(3, np.inf)), convex=False)
    check_case(case, "gn", "analytic", "soft_l1", 1.0, None)


def test_regression_huber_flat_model_ftol_stops_apart():
    """trf + huber, x_scale='jac', a bounded degree-4 polynomial at residual
    scale 1e6: every residual is beyond huber's threshold, so the Triggs
    weight rho' + 2 rho'' f^2 is 0 (clipped to eps) and the model is flat.
    The first steps differ at 1e-6 by rounding (the augmented J_h has
    condition 1.4e4; a numpy replica of scipy's step differs from scipy's
    too); both crawl and stop by ftol 2% above the optimum (1.3783e8), at
    non-stationary points 5e-6 apart: 140792948.9 vs scipy's 140792932.4,
    within the first-order bound 2 |g| |dx| (~380)."""
    A = np.vander(np.linspace(-1.0, 1.0, 43), 5, increasing=True)
    case = Case("poly", np.array([0.9666902094739914, -1.1824777413607532, 2.413820088541571,
                                  0.4397782037684889, 0.07280178506610857]),
                np.array([0.4833451047369957, -1.1859851207555805, 2.4794174837119205,
                          0.4290161714724998, 0.07844871657593877]),
                (A, np.array(_HUBER_Y), 1e6),
                (np.array([-8.773634053368351, -13.010762534363112, -21.724380796874136,
                           -3.9687658662123892, -0.6552160655949771]),
                 np.array([0.4833451047369957, 10.642299672246779, 26.617618369127626,
                           4.837560241453378, 0.8064665672370245])), convex=True)
    check_case(case, "trf", "analytic", "huber", 1.0, "jac")


_HUBER_Y = [7.380865407734065, 7.78836761670977, 0.3961802843303377, 4.370278422076679,
            5.697491028870164, 7.6971573717192125, 4.322717849523205, -2.425545209966796,
            5.359883820035732, 1.7751757590927664, -3.901537844551747, -2.648999884054446,
            3.70642847090845, 1.6302336358011877, 0.36373003352570743, 6.715603172702023,
            -1.1318632482430175, 3.304443066081028, 2.20029861587585, -2.3219980467558146,
            12.192369022745314, 3.2688395286313217, 5.912645710559778, -1.3869334184115576,
            0.615193597347295, 3.557900212153332, 7.720457986143753, 0.09559481762840794,
            -7.145006090462081, 6.879618165496268, 1.380997932962261, 4.140485457340062,
            2.867781458048297, -1.9473233325768506, 7.87295476271705, 4.176150639697806,
            -2.7319775680525664, 3.9381542862337175, -4.301464809584417, 7.396755598105637,
            8.68394535853592, 4.1526583375935715, -1.0763161432940938]


def test_regression_gtol_slack_with_underflowing_singular_value():
    """gn, a two-point exponential fit whose rate runs off to x1 = 402:
    the Jacobian's smallest singular value is ~1e-175 and the gtol slack
    n gtol^2 / sigma_min^2 divided by an underflowed 0 (ZeroDivisionError in
    the harness).  The slack is now the finite exact value when the bound
    overflows; lsqcore's cost (3.197547997900531) is below scipy's anyway."""
    t = np.array([0.0, 1.0])
    case = Case("exp", np.array([1.7795540617506418, 0.6622224896065715]),
                np.array([-0.9493405214433184, 5.002463040212651]),
                (t, np.array([-0.5394846828506206, 2.528852703460813]), 1.0),
                (np.full(2, -np.inf), np.full(2, np.inf)), convex=False)
    check_case(case, "gn", "analytic", "linear", 1.0, None)


def test_regression_soft_l1_cost_quantum():
    """gn + soft_l1 (f_scale 10) on a two-exponential fit with residuals
    ~1e-4: z = (f / 10)^2 ~ 5e-10, and 2 (sqrt(1 + z) - 1) is quantized to
    ulp(1), so the cost comes in steps of eps f_scale^2 = 2.2e-14.  lsqcore
    (ftol, "no better point can be resolved") ended one step above scipy:
    2.7052196038823695e-07 vs 2.7052193818377646e-07 (8e-8 relative)."""
    t = np.linspace(0.0, 1.0, 10)
    y = np.array([-3.2656897183137032, -2.8667685041453086, -2.58187590014396, -2.3777308147305978,
                  -2.223419319477877, -2.1024835531285966, -2.007598191223659, -1.940959116335819,
                  -1.8726416187781767, -1.8237278930805172])
    case = Case("exp", np.array([-2.0924042183036358, 0.16445777856126348, -1.1744667844096757,
                                 3.2717539328810625]),
                np.array([-2.2281361278304916, 0.17640329831925067, -1.1647278192049453,
                          3.1406952509123376]),
                (t, y, 0.1), (np.full(4, -np.inf), np.full(4, np.inf)), convex=False)
    check_case(case, "gn", "analytic", "soft_l1", 10.0, None)


def test_regression_gtol_slack_coleman_li_near_bound():
    """trf, 2-point, a 1 x 1 linear fit with a bound 1.3e-5 away: the gtol
    test is on v g (Coleman-Li v ~ 1.3e-5), so |g| may be 1e-12 / 1.3e-5 at
    a gtol stop; both solvers stop there (status 1) at costs 5.0381222e-19
    vs 5.0381075e-19.  The slack n gtol^2 / sigma^2 ignored v."""
    case = Case("linear", np.array([-1.321048632913019e-05]), np.array([-1.4487867341402713e-05]),
                (np.array([[1257.3022109339329]]), np.array([-0.016609573669127884]), 0.001),
                (np.array([-2.76983536705329e-05]), np.array([0.0])), convex=True)
    check_case(case, "trf", "2-point", "linear", 1.0, None)


def test_regression_huber_gtol_recheck_clip_by_rounding():
    """trf, 3-point, huber (f_scale 0.1), a bounded 31 x 1 linear fit: for the
    13 residuals beyond huber's threshold rho' + 2 rho'' f^2 is 0 up to
    rounding; the kernel got 3.3e-16 on one row (kept), the test's own
    formula 0 (clipped to eps), and the re-check of a true gtol claim
    (|v g| = 2.4e-13) read 1e-3.  The solver's finite-difference Jacobian is
    now recovered with the solver's own row scaling (solver_row_scale)."""
    A = np.random.default_rng(0).standard_normal((31, 1))
    y = np.array([-0.0422221922674059, 0.08171766919088791, -0.11249486381670558,
                  0.013594728594395013, 0.04666608813031163, -0.08859821685073707,
                  -0.19436741206670327, -0.04876309039053883, 0.021297669296996197,
                  0.4160876411349731, 0.2649613363823391, 0.06948675458294654,
                  0.5127852119124329, 0.014373590626586129, 0.40641620698431635,
                  0.34919827652487956, 0.29400917260488413, 0.19767264351396763,
                  -0.05036501301491523, -0.3389001965928358, 0.026440898700251916,
                  -0.2201832884857931, 0.010306331853208422, -0.03401511496670273,
                  -0.14599752514424508, 0.049939195967145245, 0.037110086224551087,
                  0.1266321782487974, 0.05210153800327306, -0.16303963231308183,
                  0.3851242516556632])
    case = Case("linear", np.array([-0.20917557487171307]), np.array([-0.2058148602677899]),
                (A, y, 1.0), (np.array([-0.41835114974342613]), np.array([0.003360714603923176])),
                convex=True)
    res = call(lsqcore.least_squares, case, "trf", "3-point", "huber", 0.1, None)
    assert res.status == 1
    assert gtol_measure(res, case, "trf", "huber", 0.1, "3-point") <= TOL["gtol"]
    check_case(case, "trf", "3-point", "huber", 0.1, None)


def test_regression_arctan_plateau_rounding_floor_no_overflow():
    """gn + arctan (f_scale 0.1) ran a two-exponential fit to x ~ 3e4 where
    the residual terms are ~1e265: the cost's rounding floor (16 eps |y_s|)^2
    overflowed (RuntimeWarning).  The floor is now the loss of the
    rounding-level residuals, capped."""
    t = np.linspace(0.0, 5.0, 8)
    case = Case("exp", np.array([-1.3174306915139018, 3.175340849698113, -2.9681921083448137,
                                 3.4925963956152426]),
                np.array([-1.3980931393206846, 3.374642813859878, -3.013911653338429,
                          3.322102162829649]),
                (t, np.array(_ARCTAN_Y), 1.0), (np.full(4, -np.inf), np.full(4, np.inf)),
                convex=False)
    check_case(case, "gn", "analytic", "arctan", 0.1, None)


_ARCTAN_Y = [-5.095164930228293, -4.483624725247081, 3.7953061648341566, 4.097557401300144,
             5.966404745067853, 3.2890604036418156, -0.2272681864282271, 3.6847524771460525]


def test_regression_lm_step_after_unbracketed_alpha():
    """lm on a two-exponential fit from a far start (the property run after
    4ef4e71): cost must never rise above the start, and success must be true.
    With the previous order (MINPACK lmpar: test, then update) lm ends with
    status 1 at cost 4.81."""
    t = np.linspace(0.0, 5.0, 7)
    y = np.array([-4.771401198253025, -2.139527456420992, -1.463930653653283, -1.130130044609901,
                  -0.8938765052638301, -0.7101817449376187, -0.5646944718280518])
    case = Case("exp", np.array([-2.231858419912881, 0.27486888519263336, -2.539542778340144,
                                 2.3292293024315507]),
                np.array([0.22829162320290575, 2.702628317417357, -27.004186516717063,
                          20.459200455193276]),
                (t, y, 1.0), (np.full(4, -np.inf), np.full(4, np.inf)), convex=False)
    check_case(case, "lm", "analytic", "linear", 1.0, None)


def test_regression_fd_jacobian_flat_valley():
    """trf, 2-point, two nearly equal exponential rates at residual scale 100:
    cond(J'J) ~ 1e11, both solvers crawl ~365 evaluations and stop by xtol
    5e-4 apart in a flat valley, 8.227429870e-7 vs scipy's 8.227429712e-7
    (2e-8 relative).  lsqcore's point is 4.2e-14 above the local minimum;
    its 2-point Jacobian (error 1.1e-8) resolves the cost only to 5.3e-14
    (0.5 dg' H^-1 dg).  With the analytic Jacobian both reach 8.2274294496e-7."""
    _flat_valley(_VALLEY_Y, [1.3016851783756425, 3.0971298922288755, 1.1058146984228174,
                             3.2142203937492053])


def _flat_valley(y, x0):
    """trf, 2-point, on the two-exponential flat valley with data ``y`` (m = len(y))."""
    t = np.linspace(0.0, 1.0, len(y))
    case = Case("exp", np.array([1.2360197889288, 3.036674116981429, 1.105046730436254,
                                 3.2349532569123807]),
                np.array(x0), (t, np.array(y), 100.0),
                (np.full(4, -np.inf), np.full(4, np.inf)), convex=False)
    check_case(case, "trf", "2-point", "linear", 1.0, None)


_VALLEY_Y = [2.341062268735467, 2.0655711378848487, 1.8225150852486787, 1.6080833783139934,
             1.418910972595506, 1.2520110427268403, 1.1047512362675338, 0.9748396953271121,
             0.8602123746162205, 0.7590738280611912, 0.6698371401604978, 0.5911055024527716,
             0.5216308185745223, 0.46033188072727327, 0.4062374829035395, 0.3585093172126899,
             0.31639251797307677, 0.2792301438772853, 0.24643555441583678, 0.21749632899257804,
             0.19195792716199753, 0.16942214111490303, 0.14953383377041607, 0.13197704233101,
             0.11648733048598507, 0.10281551981075714]


def test_regression_fd_flat_valley_path_noise():
    """As test_regression_fd_jacobian_flat_valley, m = 29: lsqcore stopped
    (xtol) 1.9e-13 above scipy (8.455045783e-7 vs 8.455043862e-7), 1.9e-13
    above the local minimum - more than its 2-point Jacobian's resolution
    there (2.2e-14).  But the outcome is path noise: from x0 (1 + 1e-15)
    scipy ends at 8.455044219e-7 and lsqcore at 8.455043874e-7.  Accepted by
    the overlap of the two solvers' outcomes over ulp-perturbed starts."""
    _flat_valley(_VALLEY29_Y, [1.2280981198610692, 2.948864260662459, 1.032698243884704,
                               2.9454461440222732])


_VALLEY29_Y = [2.341062268735467, 2.093464961948349, 1.8720647096943541, 1.6740989783620963,
               1.4970940730517857, 1.3388197123812997, 1.1972843464888685, 1.0707376555774797,
               0.9575720991804666, 0.8563759856356158, 0.7658839967207244, 0.6849678929483959,
               0.6126029787870664, 0.5478930408398106, 0.49001927225082526, 0.4382681581785508,
               0.39198629858164297, 0.35059855547217694, 0.3135835648440106, 0.2804803345711474,
               0.25087418985825677, 0.2243971720775186, 0.20071643171650502, 0.17953173628109204,
               0.16058901178431068, 0.14364507900198334, 0.1284944634029239, 0.11493896671383409,
               0.10281850088898935]


def test_regression_arctan_overflowing_residual_jacobian_finite():
    """trf + arctan, x_scale='jac', bounded two-exponential fit: the solver
    ended (gtol, on arctan's plateau) where a residual is ~1e164, so
    z = f^2 = inf: rho'' = -2 z / (1 + z^2)^2 was inf / inf = NaN, the
    Triggs weight rho' + 2 rho'' f^2 NaN escaped the eps clip (NaN < eps is
    false) and result.jac had a NaN row under success=True.  lsqcore._loss
    now gives arctan's limits at z = inf and clips a NaN weight to eps."""
    t = np.linspace(0.0, 5.0, 4)
    case = Case("exp", np.array([1.6762027436057276, 1.2303968347557945, 2.696109609009204,
                                 3.7051010284032926]),
                np.array([8.806940369271596, -10.030502396727789, 25.906483838202703,
                          17.89627995925811]),
                (t, np.array([4.372312352614932, 0.2212522632155054, 0.027754112036309717,
                              0.0035690836101811905]), 1.0),
                (np.array([-165.94407161696702, -133.07018587230723, -266.91485129191113,
                           -366.80500181192593]),
                 np.array([176.42721472984434, 124.27008031033525, 295.51744473912305,
                           388.40638279958733])), convex=False)
    res = call(lsqcore.least_squares, case, "trf", "analytic", "arctan", 1.0, "jac")
    assert np.all(np.isfinite(res.jac)) and np.all(np.isfinite(res.grad))
    check_case(case, "trf", "analytic", "arctan", 1.0, "jac")


def test_regression_scipy_reference_crashes_on_arctan_overflow():
    """trf + arctan, x_scale='jac', residual scale 10: scipy's own trf
    raises (its arctan rho'' at f^2 = inf is NaN, and so is its Triggs
    weight; scipy.linalg.svd refuses the NaN Jacobian).  lsqcore ends
    honestly (max_nfev, finite result); the comparison is skipped."""
    t = np.linspace(0.0, 5.0, 4)
    case = Case("exp", np.array([0.7303895761622216, 1.0640595090472433, -1.6157788473449037,
                                 2.653514571555022]),
                np.array([2.4718649102521812, 6.445565093994052, -5.558053110409835,
                          -2.5357393496463883]),
                (t, np.array([-0.8853892711826822, 0.1045874983136224, 0.02081322967636955,
                              0.0035697583813742314]), 10.0),
                (np.array([-72.30856804005992, -105.3418913956771, -167.1359378449002,
                           -267.8871965051486]),
                 np.array([75.51082252647433, 112.85151599871838, 159.96210588714547,
                           268.00497172705724])), convex=False)
    check_case(case, "trf", "analytic", "arctan", 1.0, "jac")


def test_regression_trf_cauchy_jac_scale_crawl_open():
    """trf, analytic, cauchy (f_scale 10), x_scale='jac', bounded, m = 57: both
    solvers crawl a degenerate two-exponential valley (a = -c, b = d) and stop
    for lack of progress after ~800 evaluations at non-stationary points
    (docs/hardening.md: a documented limitation, scipy alike).  Which crawl
    ends lower is path noise that the harness's cost order cannot judge:
    lsqcore ended 1.1e-7 relative above scipy (a strict xfail until the
    four-chain sums of 3d4d5ca), 4.5e-8 after (then inside the harness's
    path-noise rule); from 5 ulp-perturbed starts each, 0.7e-7 to 0.9e-7
    above, on both sides of that change.  What is checked instead: no success
    beyond xtol is claimed, the two end points agree to 1e-5, the cost gap
    stays below 2e-7 relative and lsqcore's point is no less stationary than
    scipy's (first-order optimality 3.1e5 against 4.0e5 measured)."""
    t = np.linspace(0.0, 5.0, 57)
    case = Case("exp", np.array([1.6607402745949438, 0.8883790912402322, 2.6524561194451337,
                                 2.031310277936902]),
                np.array([-0.042216594443875044, 3.68026332648412, 26.113368331444402,
                          -3.4063845862881856]),
                (t, np.array(_CRAWL_Y), 10.0),
                (np.array([-166.11624405393826, -87.94953003278297, -262.59315582506827,
                           -206.53741237997838]),
                 np.array([0.8303701372974719, 92.51817245050734, 291.3589802759578,
                           205.1623380716271])), convex=False)
    res = call(lsqcore.least_squares, case, "trf", "analytic", "cauchy", 10.0, "jac")
    ref = call(sp_least_squares, case, "trf", "analytic", "cauchy", 10.0, "jac")
    assert res.status in (0, 3) and ref.status == 3
    assert np.linalg.norm(res.x - ref.x) <= 1e-5 * np.linalg.norm(ref.x)
    assert abs(res.cost - ref.cost) <= 2e-7 * ref.cost
    assert res.optimality <= 2.0 * ref.optimality


_CRAWL_Y = [4.378595571952955, 3.2095084530719347, 2.985650086674579, 3.1824471033503574,
            2.664876339030509, 3.0166650089051577, 3.002721660678779, 1.1306059648542042,
            2.0215825527432356, 1.4948400060212759, 1.3142688011937784, 1.806816668548898,
            0.2536857371295288, 1.017841189536755, 0.17840011740157702, 0.717461306598129,
            1.6812846891852355, 1.112656424859062, -0.061006254861417586, 0.6521598670061857,
            0.4594138319292604, -0.42551157282812146, 0.5274678509674888, -0.11903871663488663,
            0.016755927244432867, 0.726656949032537, -0.34430016057053975, 0.05471216014927219,
            1.165614416677528, 0.27642906246784205, 0.5228248414903639, 0.06739523723420142,
            0.48306274515689585, -0.015365496497090986, 0.2344402912148496, -0.6125695158342246,
            0.2096336593749356, 0.22841910938064697, 0.43036505063673286, -0.5948595063415286,
            -0.5327360754439928, -0.6357647845183485, -0.6585690422107128, 0.588084691016876,
            0.029412480864492073, 0.2036039289445538, 0.4393397133963202, 0.18093961313370382,
            -0.250930649867091, 0.13491995163763537, -0.09531914906520769, 0.08250472684186706,
            0.22456653141886035, 0.006795626986961643, 0.5517679242975184, 0.0900338661029304,
            -0.4345010529784685]


def test_regression_gn_arctan_plateau_zero_row_scale():
    """gn, 2-point, arctan: gn's gtol stop (true) on arctan's plateau with
    seven residuals ~1e241 (f^2 = inf, rho' = 0): gn's IRLS row scale
    sqrt(rho') is 0 there, and unscaling result.jac gave 0/0 = NaN in the
    re-check.  Such rows add rho' f = 0 to the gradient and are taken as 0."""
    t = np.linspace(0.0, 5.0, 8)
    case = Case("exp", np.array([-1.7795540617506418, 1.3161426628408934, -2.876159240814838,
                                 3.799732843835251]),
                np.array([-1.6768991676083442, 1.2643379265535033, -2.9029087357923617,
                          3.5216240873464204]),
                (t, np.array([-2.577521268083375, -3.385561251966837, 2.4214029586706314,
                              1.5904680982746273, 1.3279233324792172, 0.11614483949349746,
                              2.5390200240301497, -3.431187097486561]), 10.0),
                (np.full(4, -np.inf), np.full(4, np.inf)), convex=False)
    check_case(case, "gn", "2-point", "arctan", 1.0, None)
