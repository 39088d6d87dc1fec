"""Shared fixtures and helpers of the lsqcore oracle test suite.

The oracle tests compare ``lsqcore.least_squares`` with
``scipy.optimize.least_squares`` on the problems of ``oracle_problems.py``
(test_oracle.py), check input validation (test_bad_input.py) and run the NIST
StRD accuracy suite (test_nist.py).

Harness self-check: ``LSQ_ORACLE_SELF=1``
-----------------------------------------
With the environment variable ``LSQ_ORACLE_SELF=1`` the *solver under test*
becomes scipy's ``least_squares`` itself (``method='gn'`` is mapped to
``'trf'``; lsqcore-only options such as ``nit`` are not required).  Every
test that checks behaviour scipy does not have (Gauss-Newton, the Hahn1 win
of relative finite-difference steps, NaN residuals mid-run for 'lm', the
``nit`` field, the cheaper input validation, ...) is marked
``@pytest.mark.lsqcore_only`` and is skipped in that mode; everything else
must pass.  This proves the harness (problem definitions, analytic
Jacobians, comparison logic, result-consistency checks) independently of
the solver:

    LSQ_ORACLE_SELF=1 python -m pytest tests/test_oracle.py tests/test_bad_input.py tests/test_nist.py

Without the variable, and while ``lsqcore.least_squares`` cannot be
imported, the oracle tests are skipped (not failed) with that reason.

Numba compile cost is bounded: every jitted function of the suite is
``@njit(cache=True)`` (the cache lives in ``tests/__pycache__``), so only the
first run on a machine pays for compilation.
"""
from __future__ import annotations

import math
import os
import sys
import warnings

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # make `import oracle_problems` / `from conftest import` work
    sys.path.insert(0, HERE)

SELF_CHECK = os.environ.get("LSQ_ORACLE_SELF", "") not in ("", "0")

EPS = np.finfo(float).eps

# Tolerances used for the oracle comparisons: tight, so that "converged"
# means converged to ~1e-12 relative cost change on both sides and x can be
# compared meaningfully (with the defaults, ftol=1e-8 only pins the cost to
# ~1e-8 and x to ~1e-4).  max_nfev is generous so that both solvers finish.
ORACLE_TOL = dict(ftol=1e-12, xtol=1e-12, gtol=1e-12)
ORACLE_MAX_NFEV = 5000

STATUS_VALUES = {-6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4}  # scipy's + lsqcore's -3 .. -6


# --------------------------------------------------------------------------
# The solver under test
# --------------------------------------------------------------------------

def _scipy_as_solver():
    from scipy.optimize import least_squares as _sp

    def least_squares(fun, x0, *a, method="trf", **kw):
        if method == "gn":
            method = "trf"
        return _sp(fun, x0, *a, method=method, **kw)

    least_squares.__name__ = "scipy_least_squares_selfcheck"
    return least_squares


def _load_solver():
    if SELF_CHECK:
        return _scipy_as_solver(), None
    try:
        import lsqcore
        fn = getattr(lsqcore, "least_squares")
    except Exception as e:  # noqa: BLE001 - solver still being written
        return None, "lsqcore.least_squares not importable (%s: %s)" % (type(e).__name__, e)
    return fn, None


# loaded in pytest_sessionstart (importing lsqcore compiles its kernel on the
# first run after installation: that wait is announced there, not spent
# silently while pytest loads this file)
LSQ, LSQ_UNAVAILABLE = None, "lsqcore not loaded yet"


def scipy_least_squares(*a, **kw):
    from scipy.optimize import least_squares as _sp
    return _sp(*a, **kw)


def pytest_sessionstart(session):
    """Load (or, on the first run after installation, compile) the solver
    kernel before collection, saying so, so that the first ~30 s of a
    fresh run are not silent (issue 14)."""
    global LSQ, LSQ_UNAVAILABLE
    import time
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    write = tr.write_line if tr is not None else print
    if not SELF_CHECK:
        write("lsqcore: loading the solver kernel (the first run after installation compiles "
              "it, with the methods and a driver: about 30 s on 2 cores; Numba caches it on "
              "disk)")
    t0 = time.perf_counter()
    LSQ, LSQ_UNAVAILABLE = _load_solver()
    if LSQ_UNAVAILABLE is not None or SELF_CHECK:
        return
    from numba import njit

    @njit
    def _line(p, t):
        return p[0] + p[1] * t - 2.0 * t

    for method in ("trf", "lm", "gn"):
        LSQ(_line, np.array([1.0, 1.0]), args=(np.linspace(0.0, 1.0, 5),), method=method)
    write(f"lsqcore: kernel ready ({time.perf_counter() - t0:.1f} s)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "lsqcore_only(reason): checks lsqcore behaviour that scipy does not have; "
        "skipped under LSQ_ORACLE_SELF=1")
    config.addinivalue_line(
        "markers",
        "background(name): the test waits for the slow subprocess check `name` of "
        "tests/_background.py, started after collection on the second core")


def pytest_collection_finish(session):
    """Start the background checks of the selected tests (tests/_background.py)."""
    if session.config.option.collectonly:
        return
    import _background
    names = [m.args[0] for item in session.items for m in item.iter_markers("background")]
    _background.start(names)


def pytest_collection_modifyitems(config, items):
    # tests that wait for a background check run last, when it has had the
    # whole suite's time on the other core (tests/_background.py)
    items.sort(key=lambda item: item.get_closest_marker("background") is not None)
    for item in items:
        if LSQ_UNAVAILABLE is not None and "needs_solver" in item.fixturenames:
            item.add_marker(pytest.mark.skip(reason=LSQ_UNAVAILABLE))
            continue
        if SELF_CHECK:
            mk = item.get_closest_marker("lsqcore_only")
            if mk is not None:
                why = mk.args[0] if mk.args else mk.kwargs.get("reason", "")
                item.add_marker(pytest.mark.skip(
                    reason="LSQ_ORACLE_SELF=1: lsqcore-specific (%s)" % why))


@pytest.fixture(scope="session")
def needs_solver():
    """Marks a test as needing the solver under test (skipped if unavailable)."""
    return LSQ


@pytest.fixture(scope="session")
def lsq(needs_solver):
    """The solver under test: lsqcore.least_squares (or scipy under self-check)."""
    return needs_solver


@pytest.fixture(scope="session")
def self_check():
    return SELF_CHECK


_NIST_KEY = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def nist_summary(request):
    """List collecting one dict per NIST run; summarised at session end."""
    return request.config.stash.setdefault(_NIST_KEY, [])


def _nist_summary_lines(rows):
    if not rows:
        return []
    out = ["NIST StRD summary (min parameter LRE; problems from %s; solver %s)"
           % (rows[0]["source"], "scipy (LSQ_ORACLE_SELF=1)" if SELF_CHECK else "lsqcore")]
    groups = {}
    for r in rows:
        groups.setdefault((r["jac"], r["method"]), []).append(r)
    for (jac, method), rs in sorted(groups.items()):
        bar = 6.0 if jac == "analytic" else 4.0
        ok = [r for r in rs if r["lre"] >= bar]
        succ = [r for r in rs if r["success"]]
        succ_ok = [r for r in succ if r["lre"] >= bar]
        failed = ["%s/%d(%.1f%s)" % (r["problem"], r["start"], r["lre"], "" if r["success"] else ",fail")
                  for r in rs if r["lre"] < bar]
        out.append("  %-8s %-5s LRE>=%g: %2d/%-2d  success: %2d/%-2d  (LRE>=%g among successes: %d/%d)  %s"
                   % (jac, method, bar, len(ok), len(rs), len(succ), len(rs), bar, len(succ_ok),
                      len(succ), " ".join(failed)))
    return out


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = _nist_summary_lines(config.stash.get(_NIST_KEY, []))
    if lines:
        terminalreporter.section("lsqcore NIST summary")
        for ln in lines:
            terminalreporter.write_line(ln)


def pytest_sessionfinish(session, exitstatus):
    # also on stdout, so that `pytest -s` shows it in the log
    lines = _nist_summary_lines(session.config.stash.get(_NIST_KEY, []))
    if lines and session.config.getoption("capture") == "no":
        print("\n" + "\n".join(lines))


def lsqcore_only(reason):
    return pytest.mark.lsqcore_only(reason)


# --------------------------------------------------------------------------
# Calling solvers
# --------------------------------------------------------------------------

def quiet_call(solver, fun, x0, **kw):
    """Call a least_squares-like solver with numpy floating-point warnings and
    Python warnings silenced (pyproject turns warnings into errors; overflow in
    exp() on a wild trial step is normal and must not abort a run)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return solver(fun, x0, **kw)


def solve(fun, x0, **kw):
    """Run the solver under test."""
    if LSQ is None:
        pytest.skip(LSQ_UNAVAILABLE)
    return quiet_call(LSQ, fun, x0, **kw)


_REF_CACHE = {}


def reference(prob, method, jac_kind, **kw):
    """scipy's result on ``prob`` (memoised).  'gn' is compared with 'trf'."""
    ref_method = "trf" if method == "gn" else method
    key = (prob.name, ref_method, jac_kind,
           tuple(sorted((k, _hashable(v)) for k, v in kw.items())))
    if key not in _REF_CACHE:
        jac = prob.jac if jac_kind == "analytic" else jac_kind
        opts = dict(kw)
        opts.setdefault("bounds", prob.bounds)
        _REF_CACHE[key] = quiet_call(scipy_least_squares, prob.fun, prob.x0.copy(),
                                     jac=jac, method=ref_method, args=prob.args, **opts)
    return _REF_CACHE[key]


def _hashable(v):
    if isinstance(v, np.ndarray):
        return ("arr", v.tobytes(), v.shape)
    if isinstance(v, (list, tuple)):
        return tuple(_hashable(u) for u in v)
    if callable(v):
        return ("fn", id(v))
    return v


# --------------------------------------------------------------------------
# Loss functions (scipy's definitions), for independent result checks
# --------------------------------------------------------------------------

def rho(loss, f, f_scale=1.0):
    """(rho0, rho1) of scipy's loss at residual f: cost = 0.5*sum(rho0),
    gradient = J^T (rho1 * f)."""
    f = np.asarray(f, float)
    z = (f / f_scale) ** 2
    if callable(loss):
        r = np.asarray(loss(z), float)
        r0, r1 = r[0], r[1]
    elif loss == "linear":
        r0, r1 = z, np.ones_like(z)
    elif loss == "soft_l1":
        t = 1 + z
        r0, r1 = 2 * (t ** 0.5 - 1), t ** -0.5
    elif loss == "huber":
        mask = z <= 1
        r0 = np.where(mask, z, 2 * np.sqrt(z) - 1)
        r1 = np.where(mask, 1.0, 1.0 / np.sqrt(np.maximum(z, 1e-300)))
    elif loss == "cauchy":
        r0, r1 = np.log1p(z), 1 / (1 + z)
    elif loss == "arctan":
        r0, r1 = np.arctan(z), 1 / (1 + z ** 2)
    else:
        raise ValueError(loss)
    return f_scale ** 2 * r0, r1


def cost_of(prob, x, loss="linear", f_scale=1.0):
    f = prob.fun(np.asarray(x, float), *prob.args)
    r0, _ = rho(loss, f, f_scale)
    return 0.5 * float(np.sum(r0))


# --------------------------------------------------------------------------
# Result checks
# --------------------------------------------------------------------------

JAC_RTOL = {"analytic": 1e-12, "cs": 1e-10, "3-point": 1e-6, "2-point": 1e-4}


def describe(res):
    if res is None:
        return "None"
    return ("status=%s success=%s cost=%.15g nfev=%s njev=%s x=%s" % (
        res.status, res.success, res.cost, res.nfev, res.njev,
        np.array2string(np.asarray(res.x), precision=12, max_line_width=400)))


def assert_finite_result(res, where=""):
    for k in ("x", "cost", "fun", "jac", "grad", "optimality"):
        v = np.asarray(res[k], dtype=float)
        assert np.all(np.isfinite(v)), "%s: result.%s is not finite: %r" % (where, k, v)


def check_result(res, prob, *, loss="linear", f_scale=1.0, jac_kind="analytic",
                 fd_column_check=True, check_optimality=True, where=""):
    """Consistency of an OptimizeResult with the problem at res.x.

    ``fd_column_check``: True compares result.jac with the analytic Jacobian
    column by column (relative to each column: tiny parameters count), False
    normwise, None skips the Jacobian comparison."""
    m, n = prob.m, prob.n
    tag = where or prob.name
    # ---- fields present, shapes, finiteness
    for k in ("x", "cost", "fun", "jac", "grad", "optimality", "active_mask",
              "nfev", "njev", "status", "message", "success"):
        assert k in res, "%s: result has no field %r" % (tag, k)
    if not SELF_CHECK:
        assert "nit" in res, "%s: lsqcore result has no 'nit'" % tag
        assert int(res.nit) >= 0
    x = np.asarray(res.x)
    assert x.shape == (n,) and x.dtype == np.float64, "%s: x shape/dtype %s %s" % (tag, x.shape, x.dtype)
    assert np.asarray(res.fun).shape == (m,), tag
    assert np.asarray(res.jac).shape == (m, n), tag
    assert np.asarray(res.grad).shape == (n,), tag
    assert np.asarray(res.active_mask).shape == (n,), tag
    assert_finite_result(res, tag)
    assert res.status in STATUS_VALUES, "%s: unknown status %r" % (tag, res.status)
    assert bool(res.success) == (res.status > 0), "%s: success/status mismatch" % tag
    assert isinstance(res.message, str) and res.message
    assert int(res.nfev) >= 1
    if res.njev is not None:
        assert int(res.njev) >= 0
    # ---- x feasible
    lb, ub = prob.lb, prob.ub
    assert np.all(x >= lb) and np.all(x <= ub), "%s: x outside bounds: %r" % (tag, x)
    # ---- fun and cost recomputed at x
    f_true = np.asarray(prob.fun(x, *prob.args), float)
    fscale = max(1.0, float(np.max(np.abs(f_true))))
    np.testing.assert_allclose(res.fun, f_true, rtol=1e-10, atol=1e-12 * fscale,
                               err_msg="%s: result.fun != fun(result.x)" % tag)
    r0, r1 = rho(loss, f_true, f_scale)
    cost_true = 0.5 * float(np.sum(r0))
    assert math.isclose(res.cost, cost_true, rel_tol=1e-9, abs_tol=1e-14 * max(1.0, fscale) ** 2 + 1e-300), \
        "%s: result.cost %r != 0.5*sum(rho(fun(x))) %r" % (tag, res.cost, cost_true)
    # ---- cost never above the starting cost
    c0 = cost_of(prob, prob.x0, loss, f_scale)
    assert res.cost <= c0 * (1 + 1e-12) + 1e-300, "%s: cost went up %r > %r" % (tag, res.cost, c0)
    # ---- gradient
    J_true = np.asarray(prob.jac(x, *prob.args), float)
    g = np.asarray(res.grad, float)
    if loss == "linear":
        Jr = np.asarray(res.jac, float)
        g_expect = Jr.T @ np.asarray(res.fun, float)
        scale = np.abs(Jr).T @ np.abs(np.asarray(res.fun, float)) + 1e-300
        assert np.all(np.abs(g - g_expect) <= 1e-10 * scale + 1e-300), \
            "%s: grad != jac.T @ fun: %r vs %r" % (tag, g, g_expect)
        # the returned Jacobian is the (approximate) Jacobian at x
        tol = JAC_RTOL[jac_kind]
        if fd_column_check is None:
            pass
        elif fd_column_check:
            col = np.linalg.norm(J_true, axis=0)
            err = np.linalg.norm(Jr - J_true, axis=0)
            big = np.max(col)
            bad = err > tol * col + 1e-13 * big
            assert not np.any(bad), ("%s: result.jac differs from the Jacobian at x "
                                     "(column rel. err %s, tol %g, jac=%s)"
                                     % (tag, err / np.maximum(col, 1e-300), tol, jac_kind))
        else:
            err = np.linalg.norm(Jr - J_true)
            assert err <= tol * np.linalg.norm(J_true) + 1e-300, \
                "%s: result.jac differs from the Jacobian at x (%g)" % (tag, err)
    else:
        g_expect = J_true.T @ (r1 * f_true)
        scale = np.abs(J_true).T @ np.abs(r1 * f_true) + 1e-300
        tol = max(JAC_RTOL[jac_kind], 1e-10)
        assert np.all(np.abs(g - g_expect) <= tol * scale), \
            "%s: grad != J^T (rho'(z) f) for loss %s: %r vs %r" % (tag, loss, g, g_expect)
    # ---- optimality (first-order measure, scipy's definition) and active set
    am = np.asarray(res.active_mask)
    if not prob.has_bounds:
        assert np.all(am == 0), "%s: active_mask %r without bounds" % (tag, am)
        if check_optimality:
            assert math.isclose(res.optimality, float(np.max(np.abs(g))), rel_tol=1e-10,
                                abs_tol=1e-300), "%s: optimality != ||grad||_inf" % tag
    else:
        if check_optimality and getattr(res, "method", None) == "dogbox":
            # dogbox: ||g||_inf over the variables not held at a bound with the
            # anti-gradient pointing out (scipy's definition; active_mask is on_bound)
            held = am * g < 0
            opt = float(np.max(np.where(held, 0.0, np.abs(g))))
            assert math.isclose(res.optimality, opt, rel_tol=1e-10, abs_tol=1e-300), \
                "%s: optimality %r != ||g_free||_inf %r" % (tag, res.optimality, opt)
        elif check_optimality:
            # Coleman-Li scaling: v_i = distance to the bound the gradient points at
            v = np.ones(n)
            neg = (g < 0) & np.isfinite(ub)
            pos = (g > 0) & np.isfinite(lb)
            v[neg] = (ub - x)[neg]
            v[pos] = (x - lb)[pos]
            opt = float(np.max(np.abs(g * v)))
            assert math.isclose(res.optimality, opt, rel_tol=1e-8,
                                abs_tol=1e-14 * max(1.0, float(np.max(np.abs(g))))), \
                "%s: optimality %r != ||v*g||_inf %r" % (tag, res.optimality, opt)
        assert set(np.unique(am)).issubset({-1, 0, 1}), tag
        for i in range(n):
            if am[i] == -1:
                assert math.isclose(x[i], lb[i], rel_tol=1e-6, abs_tol=1e-10), (tag, i, x[i], lb[i])
            elif am[i] == 1:
                assert math.isclose(x[i], ub[i], rel_tol=1e-6, abs_tol=1e-10), (tag, i, x[i], ub[i])


GN_FAILURE_STATUSES = {0, -4, -5}


def gn_failed_honestly(res, method, where=""):
    """Gauss-Newton may fail where scipy's trust-region method succeeds (far
    from a solution its steps can be useless; that is what 'lm' and 'trf' are
    for), but only honestly: a failure status (max_nfev or line-search
    failure), a finite point, and never a cost above the start.  Returns True
    for such a failure, after checking it; the caller then skips the
    comparison with scipy.  Success claims are always compared.
    """
    if method != "gn" or res.success:
        return False
    assert res.status in GN_FAILURE_STATUSES, "%s: gn failed with status %r" % (where, res.status)
    assert np.all(np.isfinite(res.x)) and math.isfinite(res.cost), where
    return True


#: lsqcore's status for a tolerance stop that is not a minimum
NOT_STATIONARY = -6


def stationary(res, tau=1e-2):
    """Whether no Jacobian column makes an angle with the residuals whose
    cosine exceeds ``tau`` (the kernel's own test, lsqcore._kernel.TAU_STATIONARY)."""
    J = np.asarray(res.jac, float)
    f = np.asarray(res.fun, float)
    denom = np.linalg.norm(J, axis=0) * np.linalg.norm(f)
    cos = np.abs(J.T @ f) / np.where(denom > 0, denom, 1.0)
    return bool(np.all(cos <= tau))


def same_minimum(c, c_ref, atol):
    return abs(c - c_ref) <= 1e-8 * max(abs(c), abs(c_ref)) + atol


def compare_with_reference(res, ref, prob, *, x_rtol=None, x_atol=None, where="",
                           check_status=True):
    """The oracle rule.

    * lsqcore's cost must not be above scipy's:  cost <= ref*(1+1e-8) + atol.
    * Where both reach the same minimum (costs equal to 1e-8 relative +
      ``prob.cost_atol``), the success class must match, x must agree to the
      problem's tolerance (or, for non-unique minimisers, the identifiable
      combinations ``prob.invariant(x)``), and for bounded problems the
      active sets must be equal.
    * Where lsqcore's cost is lower, only the lower cost is asserted (scipy
      stopped early or in a worse local minimum).
    Returns 'same' or 'lower'.
    """
    tag = where or prob.name
    atol = prob.cost_atol
    detail = "\n  lsqcore: %s\n  scipy:   %s" % (describe(res), describe(ref))
    assert res.cost <= ref.cost * (1 + 1e-8) + atol, \
        "%s: cost above scipy's (%.15g > %.15g)%s" % (tag, res.cost, ref.cost, detail)
    if not same_minimum(res.cost, ref.cost, atol):
        return "lower"
    if check_status and not (res.status == NOT_STATIONARY and ref.success
                             and not stationary(ref)):
        # (lsqcore refuses a tolerance stop that is not a minimum, where scipy
        # may claim success: allowed when scipy's point is not stationary)
        assert bool(res.success) == bool(ref.success), \
            "%s: success class differs at the same minimum%s" % (tag, detail)
    rtol = prob.x_rtol if x_rtol is None else x_rtol
    xatol = prob.x_atol if x_atol is None else x_atol
    if prob.unique_x:
        np.testing.assert_allclose(res.x, ref.x, rtol=rtol, atol=xatol,
                                   err_msg="%s: x differs from scipy's at the same minimum%s" % (tag, detail))
    elif prob.invariant is not None:
        np.testing.assert_allclose(prob.invariant(res.x), prob.invariant(ref.x), rtol=rtol,
                                   atol=xatol, err_msg="%s: identifiable parameters differ%s" % (tag, detail))
    if prob.has_bounds:
        np.testing.assert_array_equal(res.active_mask, ref.active_mask,
                                      err_msg="%s: active_mask differs%s" % (tag, detail))
    return "same"


class CallCounter:
    """Wraps a residual and counts its calls (optionally recording x)."""

    def __init__(self, fun, record=False):
        self.fun = fun
        self.calls = 0
        self.record = record
        self.xs = []

    def __call__(self, x, *a, **k):
        self.calls += 1
        if self.record:
            self.xs.append(np.array(x, copy=True))
        return self.fun(x, *a, **k)
