"""``trace=True``: the records against the invariants of each algorithm.

Every test runs the real solver on problems of :mod:`lsqcore.problems`.
Most use plain-Python wrappers of the problem functions, which run the
Python driver around the same cached kernel (no per-model compilation); one
test runs the compiled driver and checks that it records exactly the same
trace.
"""
import math
import re

import numpy as np
import pytest

import lsqcore
from lsqcore import _layout as L
from lsqcore import problems
from lsqcore._trace import FIELDS, Trace, active_bounds

METHODS = ("trf", "dogbox", "lm", "gn")

# (problem, start index): zero-residual, large-residual, badly scaled,
# rank-deficient-at-start and a local-minimum trap, NIST and MGH.
CASES = [("rosenbrock", 0), ("rosenbrock", 1), ("freudenstein_roth", 0),
         ("beale", 0), ("brown_badly_scaled", 0), ("jennrich_sampson", 0),
         ("helical_valley", 0), ("bard", 0), ("Misra1a", 0), ("BoxBOD", 0),
         ("MGH09", 0), ("Thurber", 1)]


def python_funs(p):
    """Plain-Python wrappers: the solve runs the Python driver."""
    def fun(x):
        return p.fun(x, *p.args)

    def jac(x):
        return p.jac(x, *p.args)
    return fun, jac


def solve(fun, x0, **kw):
    with np.errstate(all="ignore"):
        return lsqcore.least_squares(fun, x0, trace=True, **kw)


#: the name the stop reason starts with, for each status
REASON_NAMES = {1: ("gtol",), 2: ("ftol",), 3: ("xtol",), 4: ("ftol",), 0: ("max_nfev",),
                -3: ("jacobian",), -4: ("line search",), -5: ("flat",), -6: ("ftol", "xtol"),
                -1: ("improper input",)}
_RELATION = re.compile(r"= ([-+0-9.e]+|inf|nan) (<=|<|>=|>) ([-+0-9.e]+|inf)")


def check_stop_reason(res):
    """``trace.stop_reason`` names the test that decided the status, and the
    numbers it prints satisfy the inequality it prints."""
    reason = res.trace.stop_reason
    assert reason.split(":")[0] in REASON_NAMES[res.status], (res.status, reason)
    if res.status == 4:
        assert "; xtol: " in reason, reason
    if res.status == -6:
        assert "not stationary" in reason, reason
    if res.status == 0:
        assert reason == f"max_nfev: nfev = {res.nfev} >= {res.nfev}", reason
    pairs = _RELATION.findall(reason)
    assert pairs, reason
    for v, op, t in pairs:
        v, t = float(v), float(t)
        ok = {"<": v < t, "<=": v <= t, ">": v > t, ">=": v >= t}[op]
        # the printed value is rounded to 3 digits: allow equality at that precision
        assert ok or float(f"{v:.3g}") == float(f"{t:.3g}"), reason


def check_invariants(res, method, *, x_scale_one=True, bounded=False):
    """The properties every trace must have; returns the trace."""
    check_stop_reason(res)
    t = res.trace
    k = len(t)
    assert isinstance(t, Trace)
    assert t.method == method
    # one record per residual evaluation after the one at x0
    assert k == res.nfev - 1
    if k == 0:
        return t
    assert t.nfev[0] == 2
    assert np.all(np.diff(t.nfev) == 1), t.nfev
    assert t.nfev[-1] == res.nfev
    acc = t.outcome == "accepted"
    assert set(np.unique(t.outcome)) <= {"accepted", "rejected", "invalid"}
    # iterations count the accepted steps
    assert t.iteration[0] == 0
    assert np.array_equal(t.iteration[1:], np.cumsum(acc)[:-1])
    assert int(acc.sum()) == res.nit
    # accepted steps never increase the cost; the current cost follows them
    assert np.all(t.cost_new[acc] <= t.cost[acc])
    assert np.all(t.actual_reduction[acc] >= 0.0)
    for i in range(1, k):
        expect = t.cost_new[i - 1] if acc[i - 1] else t.cost[i - 1]
        assert t.cost[i] == expect, (i, t.cost[i], expect)
    # the solve ends where the last accepted trial was
    if acc.any():
        last = np.flatnonzero(acc)[-1]
        np.testing.assert_array_equal(t.x[last], res.x)
        assert t.cost_new[last] == res.cost
        assert t.cost_history()[-1] == res.cost
    else:
        assert t.cost[0] == res.cost
    assert t.cost_history().shape == (res.nit + 1,)
    assert np.all(np.diff(t.cost_history()) <= 0.0)
    # the cost history is monotone and consistent with the residual summary
    valid = t.outcome != "invalid"
    np.testing.assert_allclose(t.residual_norm[valid] ** 2, 2 * t.cost_new[valid],
                               rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(t.residual_rms[valid], t.residual_norm[valid] / math.sqrt(t.m),
                               rtol=1e-12)
    # ratio = actual / predicted reduction where the model predicts a decrease
    if method in ("trf", "dogbox", "gn"):
        ok = valid & (t.predicted_reduction > 0)
        np.testing.assert_allclose(t.ratio[ok],
                                   t.actual_reduction[ok] / t.predicted_reduction[ok],
                                   rtol=1e-12, atol=0)
    # the radius (step fraction for 'gn') shrinks after a rejected or invalid step
    for i in range(k):
        if acc[i]:
            continue
        if np.isfinite(t.trial_radius[i]):
            assert t.radius[i] < t.trial_radius[i], (method, i, t.radius[i], t.trial_radius[i])
        elif method == "trf" and x_scale_one:
            assert t.radius[i] <= 0.25 * t.step_norm[i] * (1 + 1e-12)
    if method == "gn":
        # a new iteration restarts the line search at the full step
        starts = np.r_[True, np.diff(t.iteration) > 0]
        assert np.all(t.trial_radius[starts] == 1.0)
        # an accepted fraction is the one that was tried
        assert np.all(t.radius[acc] == t.trial_radius[acc])
        assert np.all(t.damping == 0.0)
    else:
        assert np.all(t.damping >= 0.0)
        assert np.isnan(t.trial_radius[0])
        np.testing.assert_array_equal(t.trial_radius[1:], t.radius[:-1])
    assert np.all(t.step_norm >= 0.0) and np.all(t.gradient_norm >= 0.0)
    if not bounded:
        assert not t.active.any()
    return t


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name,start", CASES)
def test_trace_invariants(name, start, method):
    p = problems.get(name)
    fun, jac = python_funs(p)
    res = solve(fun, p.starts[start], jac=jac, method=method, max_nfev=200 * p.n)
    check_invariants(res, method)


@pytest.mark.parametrize("method", METHODS)
def test_trace_invariants_finite_differences(method):
    """Finite-difference evaluations are not trials: nfev stays consecutive."""
    p = problems.get("Misra1a")
    fun, _ = python_funs(p)
    res = solve(fun, p.starts[0], jac="3-point", method=method)
    t = check_invariants(res, method)
    assert len(t) == res.nfev - 1 and (res.njev is None if method == "lm" else res.njev > 0)


@pytest.mark.parametrize("method", ("trf", "gn"))
@pytest.mark.parametrize("loss", ("soft_l1", "cauchy"))
def test_trace_invariants_robust_loss(method, loss):
    p = problems.get("Chwirut2")
    fun, jac = python_funs(p)
    res = solve(fun, p.starts[0], jac=jac, method=method, loss=loss, f_scale=5.0)
    t = check_invariants(res, method)
    assert not t.loss_linear
    assert "rms rho" in str(t)


@pytest.mark.parametrize("method", METHODS)
def test_trace_x_scale_jac(method):
    p = problems.get("brown_badly_scaled")
    fun, jac = python_funs(p)
    res = solve(fun, p.starts[0], jac=jac, method=method, x_scale="jac")
    check_invariants(res, method, x_scale_one=False)


@pytest.mark.parametrize("method", METHODS)
def test_trace_max_nfev(method):
    p = problems.get("rosenbrock")
    fun, jac = python_funs(p)
    res = solve(fun, p.starts[2], jac=jac, method=method, max_nfev=4)
    assert res.status == 0
    t = check_invariants(res, method)
    assert len(t) == 3 and t.nfev[-1] == 4


class NaNAtCalls:
    """Residual that is NaN on chosen calls (call 1 is the front end's ``fun(x0)``)."""

    def __init__(self, fun, bad_calls):
        self.fun, self.bad, self.calls = fun, set(bad_calls), 0

    def __call__(self, x):
        self.calls += 1
        f = np.array(self.fun(x), dtype=float)
        if self.calls in self.bad:
            f[0] = np.nan
        return f


@pytest.mark.parametrize("method", METHODS)
def test_invalid_trial_is_recorded(method):
    """A NaN residual at a trial point is an 'invalid' step, not a rejected one."""
    p = problems.get("rosenbrock")
    fun, jac = python_funs(p)
    bad = NaNAtCalls(fun, {2, 4})
    res = solve(bad, p.starts[0], jac=jac, method=method)
    t = check_invariants(res, method)
    assert t.outcome[0] == "invalid"
    assert t.outcome[2] == "invalid"
    assert np.isnan(t.cost_new[0]) and np.isnan(t.ratio[0])
    assert np.isnan(t.residual_norm[0]) and np.isnan(t.actual_reduction[0])
    # the trial after an invalid one is shorter
    assert t.step_norm[1] < t.step_norm[0]
    assert "invalid f" in str(t).splitlines()[4]
    # the run recovers and still solves the problem
    assert res.success and res.cost < 1e-20


@pytest.mark.parametrize("method", METHODS)
def test_invalid_region(method):
    """NaN in a region of parameter space (here x[1] < -1): trials there are invalid."""
    p = problems.get("rosenbrock")
    fun, jac = python_funs(p)

    def guarded(x):
        f = fun(x)
        if x[1] < -1.0:
            f = f * np.nan
        return f

    res = solve(guarded, p.starts[0], jac=jac, method=method)
    t = check_invariants(res, method)
    inv = t.outcome == "invalid"
    np.testing.assert_array_equal(inv, t.x[:, 1] < -1.0)
    if method == "gn":
        assert inv[0]          # the first Gauss-Newton step lands at x[1] = -3.84
    assert res.success and res.cost < 1e-20


def test_active_bounds_in_trace():
    p = problems.get("rosenbrock")
    fun, jac = python_funs(p)
    lb, ub = np.array([-2.0, 1.0]), np.array([0.5, 3.0])
    res = solve(fun, p.starts[0], jac=jac, method="trf", bounds=(lb, ub))
    t = check_invariants(res, "trf", bounded=True)
    acc = np.flatnonzero(t.accepted)
    np.testing.assert_array_equal(t.active[acc[-1]], res.active_mask)
    assert res.active_mask[1] == -1
    assert np.all(t.x >= lb) and np.all(t.x <= ub)
    assert "x[1] at lb" in str(t)
    # the rule is the one of result.active_mask
    np.testing.assert_array_equal(
        active_bounds(np.array([[1.0, 2.0 - 1e-12, 0.5], [1.5, 0.0, 1e-3]]),
                      np.array([1.0, -np.inf, 0.0]), np.array([2.0, 2.0, np.inf]), 1e-8),
        [[-1, 1, 0], [0, 0, 0]])


def test_compiled_driver_records_the_same_trace():
    """The kernel records; both drivers give identical traces."""
    p = problems.get("Misra1a")          # the model tests/test_cli.py compiles too
    fun, jac = python_funs(p)
    a = solve(p.fun, p.starts[1], jac=p.jac, args=p.args, method="trf")
    b = solve(fun, p.starts[1], jac=jac, method="trf")
    da, db = a.trace.as_dict(), b.trace.as_dict()
    assert da.keys() == db.keys()
    for key in da:
        np.testing.assert_array_equal(da[key], db[key], err_msg=key)
    check_invariants(a, "trf")


def test_no_trace_space_in_the_layout():
    """Without tracing the workspace has no record area and the kernel writes none."""
    from lsqcore._driver import run_python
    from lsqcore._kernel import setup, int_options, float_options
    p = problems.get("rosenbrock")
    fun, jac = python_funs(p)
    m, n = p.m, p.n
    for robust, cl in ((False, False), (True, False), (True, True)):
        base = L.workspace_shape(m, n, robust, cl, L.TR_EXACT, 0, -1, 0)[0]
        assert (L.workspace_shape(m, n, robust, cl, L.TR_EXACT, 9, -1, 0)[0]
                == base + 9 * (L.TRACE_FIELDS + n))
    W, S = L.allocate(m, n, False, False, 0)
    assert S[L.TRACE_CAP] == 0 and S[L.O_TRACE] == W.size     # an empty record area
    x0 = p.starts[0].copy()
    setup(W, S, x0, fun(x0), np.full(n, -np.inf), np.full(n, np.inf), np.ones(n),
          np.full(n, 1e-8), np.array(float_options(1e-8, 1e-8, 1e-8, 1.0)),
          np.array(int_options(L.TRF, L.JAC_CALLABLE, 0, 200, 0, 0), dtype=np.int64))
    run_python(fun, jac, None, W, S, (), {})
    assert S[L.NFEV] > 5 and S[L.TRACE_LEN] == 0


def test_no_trace_space_when_off(monkeypatch):
    """trace=False through the front end: no record area, and no ``result.trace``."""
    seen = []
    real = L.allocate

    def spy(m, n, robust, callable_loss, trace_cap=0, lsmr=False, nnz=-1, ngroups=0):
        W, S = real(m, n, robust, callable_loss, trace_cap, lsmr, nnz, ngroups)
        seen.append((m, n, robust, callable_loss, trace_cap, W, S))
        return W, S

    monkeypatch.setattr(L, "allocate", spy)
    p = problems.get("rosenbrock")
    fun, jac = python_funs(p)
    for trace in (False, True):
        seen.clear()
        res = lsqcore.least_squares(fun, p.starts[0], jac=jac, trace=trace)
        assert ("trace" in res) == trace
        if not seen:
            pytest.skip("the front end no longer allocates through _layout.allocate")
        m, n, robust, cl, cap, W, S = seen[-1]
        no_trace = L.workspace_shape(m, n, robust, cl, L.TR_EXACT, 0, -1, 0)[0]
        if trace:
            assert cap == 100 * n + 1            # max_nfev + 1 records
            assert W.size == no_trace + cap * (L.TRACE_FIELDS + n)
            assert S[L.TRACE_LEN] == len(res.trace)
        else:
            assert cap == 0 and S[L.TRACE_CAP] == 0
            assert W.size == no_trace            # not one float more
            assert S[L.O_TRACE] == W.size        # the record area is empty
            assert S[L.TRACE_LEN] == 0


def test_as_dict_and_table():
    p = problems.get("rosenbrock")
    fun, jac = python_funs(p)
    res = solve(fun, p.starts[0], jac=jac, method="lm")
    t = res.trace
    d = t.as_dict()
    k = len(t)
    assert set(FIELDS) <= set(d)
    assert {"x", "active", "trial_radius", "residual_norm", "residual_rms"} <= set(d)
    for key, v in d.items():
        assert isinstance(v, np.ndarray) and v.shape[0] == k, key
    assert d["x"].shape == (k, 2) and d["active"].shape == (k, 2)
    assert d["outcome"].dtype.kind == "U"
    d["cost"][0] = -1.0                          # a copy
    assert t.cost[0] != -1.0
    text = str(t)
    lines = text.splitlines()
    assert lines[0].startswith("lm trace:") and "accepted" in lines[0]
    assert lines[1].startswith("start: cost")
    for word in ("step", "iter", "nfev", "x[0]", "x[1]", "rms f", "cost", "ratio",
                 "radius", "action"):
        assert word in lines[2]
    assert len(lines) == 4 + k
    assert sum(("accept" in ln) for ln in lines[4:]) == res.nit
    assert repr(t).startswith("<Trace: lm trace")
    # many parameters: the table shows the first ones and an ellipsis
    q = problems.get("Thurber")
    fun, jac = python_funs(q)
    wide = solve(fun, q.starts[1], jac=jac, method="trf").trace.table(max_params=3)
    assert "x[2]" in wide and "x[3]" not in wide and "..." in wide


def test_curve_fit_trace():
    """``trace=True`` passes through ``curve_fit``; the trace comes back in ``infodict``."""
    curve_fit = getattr(lsqcore, "curve_fit", None)
    if curve_fit is None:
        pytest.skip("lsqcore.curve_fit does not exist yet")
    xdata = np.linspace(0.0, 4.0, 40)
    ydata = 2.5 * np.exp(-1.3 * xdata) + 0.5 + 0.01 * np.cos(7 * xdata)

    def model(t, a, b, c):
        return a * np.exp(-b * t) + c

    for method in METHODS:
        popt, pcov, info, mesg, ier = curve_fit(model, xdata, ydata, p0=[1.0, 1.0, 0.0],
                                                method=method, full_output=True,
                                                trace=True)
        if "trace" not in info:
            pytest.xfail("curve_fit runs with trace=True but drops result.trace: "
                         "infodict has no 'trace' key")
        t = info["trace"]
        assert isinstance(t, Trace) and t.method == method
        assert t.nfev[-1] == info["nfev"]
        np.testing.assert_array_equal(t.iterates()[-1], popt)


@pytest.mark.parametrize("method", METHODS)
def test_verbose_2_says_why_it_stopped(method, capsys):
    """``verbose=2`` prints the deciding test with its numbers after scipy's
    message; ``result.message`` stays scipy's text."""
    p = problems.get("Misra1a")
    fun, jac = python_funs(p)
    res = lsqcore.least_squares(fun, p.starts[0], jac=jac, method=method, verbose=2,
                                trace=True)
    out = capsys.readouterr().out.splitlines()
    i = out.index(res.message)
    assert out[i - 1] == f"Stopped by {res.trace.stop_reason}."
    from lsqcore._status import MESSAGES
    assert res.message == MESSAGES[res.status]
    check_stop_reason(res)


def test_stop_reasons_of_each_kind():
    """Every kind of stop names its test: gtol, ftol, xtol, max_nfev (on Bard's
    problem, a nonzero-residual fit, with tolerances chosen to end each way)
    and the failed 'gn' line search (Jennrich-Sampson)."""
    seen = {}
    p = problems.get("bard")
    fun, jac = python_funs(p)
    for method in METHODS:
        for kw in (dict(gtol=1e-2), dict(ftol=1e-3, gtol=1e-15),
                   dict(xtol=1e-3, ftol=1e-15, gtol=1e-15), dict(max_nfev=3)):
            res = solve(fun, p.starts[0], jac=jac, method=method, **kw)
            check_stop_reason(res)
            seen.setdefault(res.trace.stop_reason.split(":")[0], set()).add(method)
    assert all(seen.get(k) == set(METHODS) for k in ("gtol", "ftol", "xtol", "max_nfev")), seen
    p = problems.get("jennrich_sampson")
    fun, jac = python_funs(p)
    res = solve(fun, p.starts[0], jac=jac, method="gn")
    assert res.status == -4
    check_stop_reason(res)
