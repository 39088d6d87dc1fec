"""lsqcore.prepare: the repeat call without least_squares' front end, bitwise the same."""
import numpy as np
import pytest
from numba import njit

import lsqcore
from lsqcore._workloads import w1, exp_decay


@njit(cache=True)
def decay_jac(p, t, y):
    J = np.empty((t.size, 3))
    for i in range(t.size):
        e = np.exp(-p[1] * t[i])
        J[i, 0] = e
        J[i, 1] = -p[0] * t[i] * e
        J[i, 2] = 1.0
    return J


def same(a, b):
    for f in ("x", "cost", "fun", "jac", "grad", "optimality", "nfev", "njev", "status", "nit"):
        assert np.array_equal(np.asarray(a[f]), np.asarray(b[f])), f
    assert a.message == b.message and a.success == b.success


@pytest.mark.parametrize("options", [dict(), dict(method="lm"), dict(jac=decay_jac, ftol=1e-12),
                                     dict(method="dogbox", loss="soft_l1", f_scale=0.1)])
def test_prepared_solves_equal_least_squares(options):
    w = w1()
    t, y = w.args
    prob = lsqcore.prepare(w.fun, w.x0, args=w.args, **options)
    same(prob.first, lsqcore.least_squares(w.fun, w.x0, args=w.args, **options))
    rng = np.random.default_rng(0)
    for _ in range(3):
        x0 = w.x0 + rng.uniform(-0.5, 0.5, 3)
        same(prob.solve(x0), lsqcore.least_squares(w.fun, x0, args=w.args, **options))
    # new data of the same types (another length too)
    t2 = np.linspace(0.0, 5.0, 80)
    y2 = 1.5 * np.exp(-0.7 * t2) + 0.2
    same(prob.solve(w.x0, (t2, y2)), lsqcore.least_squares(w.fun, w.x0, args=(t2, y2),
                                                           **options))
    assert prob.solve([1, 1, 0]).success          # a list is read as float64


def test_prepare_errors():
    w = w1()
    with pytest.raises(TypeError, match="unsupported option"):
        lsqcore.prepare(w.fun, w.x0, args=w.args, bounds=(0, 10))
    with pytest.raises(ValueError, match="cached compiled driver"):
        lsqcore.prepare(exp_decay.py_func, w.x0, args=w.args)
    prob = lsqcore.prepare(w.fun, w.x0, args=w.args)
    with pytest.raises(TypeError, match="types the problem was prepared with"):
        prob.solve(w.x0, (w.args[0].astype(np.float32), w.args[1]))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        prob.solve(np.ones(4))
    with pytest.raises(ValueError, match="`x0` must be finite"):
        prob.solve(np.array([np.nan, 1.0, 0.0]))
