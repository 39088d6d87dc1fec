"""``callback`` (scipy 1.16+ style) and ``verbose`` for every method.

scipy offers the callback only for 'trf' and 'dogbox'; lsqcore calls it
after every iteration of 'trf', 'lm' and 'gn'.  The callback receives an
``OptimizeResult`` with ``x, fun, cost, nit, nfev`` when its only parameter
is named ``intermediate_result``, else the current ``x``; raising
``StopIteration`` ends the solve with status -2.
"""
import re

import numpy as np
import pytest
import scipy.optimize

import lsqcore
from lsqcore import problems

METHODS = ("trf", "dogbox", "lm", "gn")


def rosen():
    p = problems.get("rosenbrock")
    return p, (lambda x: p.fun(x)), (lambda x: p.jac(x))


class Recorder:
    def __init__(self, stop_at=None):
        self.results = []
        self.stop_at = stop_at

    def __call__(self, intermediate_result):
        r = intermediate_result
        self.results.append({k: np.copy(r[k]) for k in ("x", "fun", "cost", "nit", "nfev")})
        if self.stop_at is not None and int(r.nit) >= self.stop_at:
            raise StopIteration


@pytest.mark.parametrize("method", METHODS)
def test_callback_once_per_iteration(method):
    p, fun, jac = rosen()
    cb = Recorder()
    res = lsqcore.least_squares(fun, p.starts[0], jac=jac, method=method, callback=cb,
                                trace=True)
    assert res.success
    rs = cb.results
    assert len(rs) == res.nit > 3
    assert [int(r["nit"]) for r in rs] == list(range(1, res.nit + 1))
    # each intermediate result is the point after that iteration ...
    acc = np.flatnonzero(res.trace.accepted)
    for r, i in zip(rs, acc):
        np.testing.assert_array_equal(r["x"], res.trace.x[i])
        assert float(r["cost"]) == res.trace.cost_new[i]
        assert int(r["nfev"]) == res.trace.nfev[i]
        np.testing.assert_allclose(r["fun"], p.fun(r["x"]), rtol=0, atol=0)
        assert float(r["cost"]) == pytest.approx(0.5 * float(r["fun"] @ r["fun"]), rel=1e-14)
    # ... the cost never increases, and the last one is the answer
    costs = [float(r["cost"]) for r in rs]
    assert all(b <= a for a, b in zip(costs, costs[1:]))
    np.testing.assert_array_equal(rs[-1]["x"], res.x)
    assert int(rs[-1]["nfev"]) == res.nfev


@pytest.mark.parametrize("method", METHODS)
def test_callback_plain_x(method):
    p, fun, jac = rosen()
    xs = []
    res = lsqcore.least_squares(fun, p.starts[0], jac=jac, method=method,
                                callback=lambda x: xs.append(np.array(x, copy=True)))
    assert len(xs) == res.nit
    assert all(isinstance(x, np.ndarray) and x.shape == (2,) for x in xs)
    np.testing.assert_array_equal(xs[-1], res.x)


@pytest.mark.parametrize("method", METHODS)
def test_callback_copies_x(method):
    """Mutating what the callback receives does not disturb the solve."""
    p, fun, jac = rosen()
    ref = lsqcore.least_squares(fun, p.starts[0], jac=jac, method=method)

    def vandal(intermediate_result):
        intermediate_result.x[:] = 1e6
        intermediate_result.fun[:] = np.nan

    res = lsqcore.least_squares(fun, p.starts[0], jac=jac, method=method, callback=vandal)
    np.testing.assert_array_equal(res.x, ref.x)
    assert res.nfev == ref.nfev


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("form", ("intermediate_result", "x"))
def test_stop_iteration(method, form):
    p, fun, jac = rosen()
    seen = []
    if form == "x":
        def cb(x):
            seen.append(np.array(x, copy=True))
            if len(seen) == 3:
                raise StopIteration
    else:
        def cb(intermediate_result):
            seen.append(np.array(intermediate_result.x, copy=True))
            if intermediate_result.nit == 3:
                raise StopIteration
    res = lsqcore.least_squares(fun, p.starts[1], jac=jac, method=method, callback=cb,
                                trace=True)
    assert res.status == -2
    assert not res.success
    assert "callback" in res.message
    assert res.nit == 3 and len(seen) == 3
    np.testing.assert_array_equal(res.x, seen[-1])
    assert res.cost == pytest.approx(0.5 * float(res.fun @ res.fun), rel=1e-14)
    # the trace stops where the solve stopped
    assert res.trace.nfev[-1] == res.nfev
    assert int(res.trace.accepted.sum()) == 3


@pytest.mark.parametrize("method", METHODS)
def test_callback_with_jitted_problem(method):
    """A jitted residual plus a callback runs the Python driver: the callback is called."""
    p = problems.get("Misra1a")
    cb = Recorder(stop_at=2)
    res = lsqcore.least_squares(p.fun, p.starts[0], jac=p.jac, args=p.args, method=method,
                                callback=cb)
    assert res.status == -2 and len(cb.results) == 2 and res.nit == 2


def test_other_exceptions_propagate():
    p, fun, jac = rosen()

    def cb(intermediate_result):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        lsqcore.least_squares(fun, p.starts[0], jac=jac, callback=cb)


def test_callback_matches_scipy_trf():
    """The same iterations as scipy's trf (the trust-region subproblems are solved
    to 1 per cent in the radius by both, so the points agree to about 1e-5)."""
    p, fun, jac = rosen()
    ours, theirs = Recorder(), Recorder()
    lsqcore.least_squares(fun, p.starts[0], jac=jac, callback=ours)
    scipy.optimize.least_squares(fun, p.starts[0], jac=jac, callback=theirs)
    assert len(ours.results) == len(theirs.results)
    for a, b in zip(ours.results, theirs.results):
        assert int(a["nit"]) == int(b["nit"]) and int(a["nfev"]) == int(b["nfev"])
        np.testing.assert_allclose(a["x"], b["x"], rtol=1e-3, atol=1e-4)


# ---------------------------------------------------------------- verbose

HEADER = re.compile(r"^\s*Iteration\s+Total nfev\s+Cost\s+Cost reduction\s+Step norm\s+Optimality\s*$")
ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S+e[+-]\d\d)\s+(\S+e[+-]\d\d)?\s*(\S+e[+-]\d\d)?\s+(\S+e[+-]\d\d)\s*$")
SUMMARY = re.compile(r"^Function evaluations (\d+), initial cost (\S+), final cost (\S+), "
                     r"first-order optimality (\S+)\.$")


def test_verbose_header_is_scipys(capsys):
    p, fun, jac = rosen()
    scipy.optimize.least_squares(fun, p.starts[0], jac=jac, verbose=2)
    theirs = capsys.readouterr().out.splitlines()
    lsqcore.least_squares(fun, p.starts[0], jac=jac, verbose=2)
    ours = capsys.readouterr().out.splitlines()
    assert ours[0] == theirs[0]
    assert ours[-2] == theirs[-2]                 # the termination message
    assert SUMMARY.match(ours[-1]) and SUMMARY.match(theirs[-1])


@pytest.mark.parametrize("method", METHODS)
def test_verbose_2(method, capsys):
    p, fun, jac = rosen()
    res = lsqcore.least_squares(fun, p.starts[0], jac=jac, method=method, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert HEADER.match(lines[0]), lines[0]
    rows = [ROW.match(ln) for ln in lines[1:-3]]
    assert all(rows), lines
    # lsqcore's line before scipy's two: the test that stopped the solve
    assert lines[-3].startswith("Stopped by "), lines[-3]
    its = [int(r.group(1)) for r in rows]
    nfevs = [int(r.group(2)) for r in rows]
    costs = [float(r.group(3)) for r in rows]
    assert its[-1] == res.nit and its == sorted(its)
    assert all(b > a for a, b in zip(nfevs, nfevs[1:])) and nfevs[-1] == res.nfev
    assert all(b <= a for a, b in zip(costs, costs[1:]))
    assert costs[-1] == pytest.approx(res.cost, rel=1e-4, abs=1e-8)
    assert lines[-2] == res.message
    m = SUMMARY.match(lines[-1])
    assert m and int(m.group(1)) == res.nfev
    assert float(m.group(2)) == pytest.approx(12.1, rel=1e-4)


def test_verbose_2_prints_iteration_zero_like_scipy(capsys):
    p, fun, jac = rosen()
    lsqcore.least_squares(fun, p.starts[0], jac=jac, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert ROW.match(lines[1]).group(1) == "0"


def test_verbose_2_optimality_with_bounds(capsys):
    p, fun, jac = rosen()
    res = lsqcore.least_squares(fun, p.starts[0], jac=jac, bounds=([-2, 1.0], [0.5, 3]),
                                verbose=2)
    last = ROW.match(capsys.readouterr().out.splitlines()[-4])
    assert float(last.group(6)) == pytest.approx(res.optimality, rel=1e-2)


@pytest.mark.parametrize("method", METHODS)
def test_verbose_1(method, capsys):
    p, fun, jac = rosen()
    res = lsqcore.least_squares(fun, p.starts[0], jac=jac, method=method, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0] == res.message
    m = SUMMARY.match(lines[1])
    assert m, lines[1]
    assert int(m.group(1)) == res.nfev
    assert float(m.group(3)) == pytest.approx(res.cost, abs=1e-4 * res.cost + 1e-300)
    assert float(m.group(4)) == pytest.approx(res.optimality, rel=1e-2, abs=1e-300)


def test_verbose_0_is_silent(capsys):
    p, fun, jac = rosen()
    lsqcore.least_squares(fun, p.starts[0], jac=jac, verbose=0)
    assert capsys.readouterr().out == ""


def test_dogbox_callback_stop_reports_the_free_gradient():
    """A dogbox stopped by its callback with a variable on a bound that -g points
    out of: ``optimality`` is ||g||_inf over the free variables, the measure
    of dogbox's gtol test (scipy's, whose callback stop reports it for the
    previous iterate), not the full gradient."""
    p, fun, jac = rosen()
    lb, ub = [-np.inf, 1.5], [np.inf, np.inf]      # the minimum (1, 1) is cut off
    res = lsqcore.least_squares(fun, [-1.2, 2.0], jac=jac, bounds=(lb, ub),
                                method="dogbox", callback=Recorder(stop_at=2))
    assert res.status == -2 and res.x[1] == 1.5 and res.active_mask[1] == -1
    g = res.grad
    assert g[1] > 0.0                               # -g points below the bound
    assert res.optimality == pytest.approx(abs(g[0]), rel=1e-12)
    assert res.optimality < abs(g[1])
    ref = scipy.optimize.least_squares(fun, [-1.2, 2.0], jac=jac, bounds=(lb, ub),
                                       method="dogbox")
    full = lsqcore.least_squares(fun, [-1.2, 2.0], jac=jac, bounds=(lb, ub), method="dogbox")
    assert full.optimality == pytest.approx(ref.optimality, rel=1e-6, abs=1e-10)


def _callables():
    import functools

    def plain(intermediate_result):
        pass

    def two(x, intermediate_result=None):
        pass

    def kwonly(*, intermediate_result):
        pass

    def star(*intermediate_result):
        pass

    def kw(**intermediate_result):
        pass

    def posonly(intermediate_result, /):
        pass

    def local_vars(x):
        intermediate_result = x      # a local variable, not a parameter
        return intermediate_result

    @functools.wraps(plain)
    def wrapped(*a, **k):
        pass

    def other(x):
        pass
    other.__signature__ = __import__("inspect").signature(plain)

    class Obj:
        def __call__(self, intermediate_result):
            pass

        def method(self, intermediate_result):
            pass

    return [plain, two, kwonly, star, kw, posonly, local_vars, wrapped, other, Obj(),
            Obj().method, functools.partial(two, 1), lambda intermediate_result: None,
            lambda x: None, print]


@pytest.mark.parametrize("f", _callables(), ids=lambda f: getattr(f, "__name__", type(f).__name__))
def test_callback_form_is_read_as_inspect_reads_it(f):
    """The front end's cheap reading of a callback's parameters (code object
    of a plain function) gives what ``inspect.signature`` gives, which
    decides the callback's form (an ``intermediate_result`` or ``x``)."""
    import inspect
    from lsqcore._api import _parameter_names
    try:
        want = set(inspect.signature(f).parameters)
    except (TypeError, ValueError):
        want = set()
    assert _parameter_names(f) == want
