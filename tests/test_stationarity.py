"""No success without a fitted minimum: the vetting of tolerance stops.

An ``ftol``/``xtol`` stop says that progress stalled, not that the point is
optimal; scipy reports it as a success wherever it happens.  lsqcore reports
it as a success only where the final point is first-order stationary in a
scale-free sense (:func:`lsqcore._kernel._vet_tolerance_stop`), else as
status -6 (``NONSTATIONARY``) with ``success=False``.  Checked here:

* the More-Garbow-Hillstrom cases (1x/10x/100x starts) where scipy and
  lsqcore stop at the same non-stationary point: scipy claims success,
  lsqcore reports -6, and the point itself is unchanged (same x and cost as
  before the vetting: only the verdict moves).  Non-stationarity is checked
  independently from the analytic Jacobian at ``res.x``;
* MGH17 (NIST) from start 1 with 'gn' and 2-point differences, which on
  AVX-512 CPUs crawled to b2 = -b3 = 9.4e8 and claimed ``ftol`` success: a
  failure on every CPU, also with numpy's SIMD paths disabled (a subprocess);
* true minima keep their success and scipy's status: zero-residual
  solutions (where the angle between f and J is rounding noise), other local
  minima, a parameter that never influences the residuals, and loose
  tolerances (the threshold grows with sqrt(ftol), sqrt(xtol)).

The property test of the same rule over generated problems, for every
method, is in test_properties.py (``check_case``).
"""
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.optimize import least_squares as sp_least_squares

import lsqcore
from lsqcore.problems import mgh
from conftest import quiet_call

HERE = os.path.dirname(os.path.abspath(__file__))


def _python(p):
    """The problem's residual and Jacobian as plain Python callables (no compile per model)."""
    def fun(x):
        return p.fun(np.asarray(x, float), *p.args)

    def jac(x):
        return p.jac(np.asarray(x, float), *p.args)
    return fun, jac


def relative_gradient(J, f):
    """max_j |J_j^T f| / (||J_j|| ||f||) over the non-zero columns (numpy)."""
    norms = np.linalg.norm(J, axis=0) * np.linalg.norm(f)
    g = np.abs(J.T @ f)
    return float(np.max(np.where(norms > 0, g / np.where(norms > 0, norms, 1.0), 0.0)))


# (problem, start index 0/1/2 = 1x/10x/100x, method, jac): scipy 1.17.1 and
# lsqcore stop at the same point; scipy says success there
NON_STATIONARY = [
    ("chebyquad", 1, "lm", "2-point"),          # xtol stop at cost 1e22
    ("powell_badly_scaled", 2, "lm", "analytic"),
    ("bard", 1, "trf", "analytic"),             # parameters diverging, cost 8.71 vs 4.1e-3
    ("biggs_exp6", 2, "trf", "analytic"),
    ("jennrich_sampson", 1, "lm", "2-point"),
]


@pytest.mark.parametrize("name,start,method,jac", NON_STATIONARY,
                         ids=["%s-s%d-%s-%s" % c for c in NON_STATIONARY])
def test_stalled_tolerance_stop_is_a_failure(name, start, method, jac):
    p = mgh(name)
    fun, jac_fn = _python(p)
    kw = dict(method=method, jac=jac_fn if jac == "analytic" else jac)
    x0 = np.asarray(p.starts[start], float)
    ref = quiet_call(sp_least_squares, fun, x0.copy(), **kw)
    with np.errstate(all="ignore"):
        res = lsqcore.least_squares(fun, x0.copy(), trace=True, **kw)
    assert ref.success and ref.status in (2, 3, 4), "premise: scipy claims a tolerance stop"
    assert res.status == -6 and not res.success, (res.status, res.message)
    assert "not a fitted minimum" in res.message
    # the stop reason names the tolerance test that fired and why it was overruled
    reason = res.trace.stop_reason
    assert reason.split(":")[0] in ("ftol", "xtol") and "; not stationary: " in reason, reason
    # the same point as scipy's (the vetting changes the verdict, not the path)
    assert res.cost == pytest.approx(ref.cost, rel=1e-6)
    # not stationary, independently: the analytic Jacobian at the final point
    # (or a parameter whose column vanished on the way)
    with np.errstate(all="ignore"):
        J = jac_fn(res.x)
        f = fun(res.x)
    J0 = jac_fn(x0)
    lost = np.sum(np.all(res.jac == 0, axis=0)) > np.sum(np.all(J0 == 0, axis=0))
    assert lost or relative_gradient(J, f) > 1e-2
    # above the problem's minimum
    assert res.cost > p.cost_star * (1 + 1e-3) + 1e-6


def test_mgh17_gn_start1_is_never_a_success():
    """The issue's case with the oracle's numpy model (as test_nist solves it)."""
    import oracle_problems as op
    c = op.nist_case("MGH17")
    with np.errstate(all="ignore"):
        res = lsqcore.least_squares(c.fun, np.array(c.starts[1], float), args=c.args, method="gn",
                                    ftol=1e-15, xtol=1e-15, gtol=1e-15, max_nfev=10000 * c.n)
    assert not res.success or c.min_lre(res.x) >= 4, (res.status, res.x)


_MGH17_SCRIPT = r"""
import sys, numpy as np
sys.path.insert(0, {here!r})
import oracle_problems as op, lsqcore
c = op.nist_case("MGH17")
with np.errstate(all="ignore"):
    r = lsqcore.least_squares(c.fun, np.array(c.starts[1], float), args=c.args, method="gn",
                              ftol=1e-15, xtol=1e-15, gtol=1e-15, max_nfev=10000 * c.n)
from numpy._core._multiarray_umath import __cpu_features__ as feat
print(int(r.success), float(c.min_lre(r.x)), int(r.status), int(feat.get("AVX512F", False)))
"""


@pytest.mark.parametrize("simd", ["numpy-simd-on", "numpy-simd-off"])
def test_mgh17_gn_start1_under_both_numpy_paths(simd):
    """The same claim in a fresh process with numpy's SIMD dispatch on and off
    (NPY_DISABLE_CPU_FEATURES: every target numpy dispatches to)."""
    env = dict(os.environ)
    env.pop("NPY_DISABLE_CPU_FEATURES", None)
    if simd == "numpy-simd-off":
        from numpy._core._multiarray_umath import __cpu_dispatch__
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(__cpu_dispatch__)
    out = subprocess.run([sys.executable, "-c", _MGH17_SCRIPT.format(here=HERE)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    success, lre, status, _ = out.stdout.split()
    assert int(success) == 0 or float(lre) >= 4, (simd, status, lre)


def test_badly_scaled_fit_with_differences_fails_honestly():
    """y = 2.5e9 exp(-1.3 x) + 0.5 + noise from a = 2e9, c = 0: 2-point
    differences cannot resolve c next to model values of 2.5e9, and both
    solvers stall (scipy's lm: xtol 'success' at c = 0.88, cost 9.85, where
    the fit's cost is 0.0104).  lsqcore reports -6; curve_fit raises as
    scipy's does on a failed fit; the analytic Jacobian converges."""
    import cf_models as cm
    D = cm.BY_NAME["exp_decay"]
    y = 2.5e9 * np.exp(-1.3 * D.x) + 0.5 + 0.03 * np.sin(5 * D.x)

    def fun(p):
        return D.f(D.x, *p) - y
    ref = quiet_call(sp_least_squares, fun, np.array([2e9, 1.0, 0.0]), method="lm")
    res = lsqcore.least_squares(fun, [2e9, 1.0, 0.0], method="lm")
    assert ref.success and res.status == -6
    with pytest.raises(RuntimeError, match="not a fitted minimum"):
        lsqcore.curve_fit(D.f, D.x, y, p0=[2e9, 1.0, 0.0])
    def jac(p):
        e = np.exp(-p[1] * D.x)
        return np.column_stack([e, -p[0] * D.x * e, np.ones_like(D.x)])
    # the model that jac differentiates
    assert np.allclose(D.f(D.x, 2.0, 1.0, 0.5), 2.0 * np.exp(-D.x) + 0.5)
    ok = lsqcore.least_squares(fun, [2e9, 1.0, 0.0], method="lm", jac=jac)
    assert ok.success and ok.cost < 0.011 < res.cost


# ---- true minima keep their success and scipy's verdict ----------------------------

KEPT = [
    ("helical_valley", 0, "lm", "analytic"),       # zero residual: xtol stop, angle of noise
    ("discrete_boundary_value", 1, "lm", "2-point"),
    ("freudenstein_roth", 0, "trf", "2-point"),     # the other local minimum (cost 24.49)
    ("osborne2", 1, "trf", "analytic"),
    ("kowalik_osborne", 0, "lm", "analytic"),
]


@pytest.mark.parametrize("name,start,method,jac", KEPT, ids=["%s-s%d-%s-%s" % c for c in KEPT])
def test_true_minimum_keeps_success(name, start, method, jac):
    p = mgh(name)
    fun, jac_fn = _python(p)
    kw = dict(method=method, jac=jac_fn if jac == "analytic" else jac)
    x0 = np.asarray(p.starts[start], float)
    ref = quiet_call(sp_least_squares, fun, x0.copy(), **kw)
    res = lsqcore.least_squares(fun, x0.copy(), **kw)
    assert ref.success and res.success and res.status == ref.status, (res.status, ref.status)
    assert res.cost == pytest.approx(ref.cost, rel=1e-6, abs=1e-20)


def _decay(x, t, y):
    return x[0] * np.exp(-x[1] * t) + x[2] - y


def _decay_unused(x, t, y):
    return x[0] * np.exp(-x[1] * t) + x[2] - y + 0.0 * x[3]


T = np.linspace(0.0, 4.0, 40)
Y = 2.5 * np.exp(-1.3 * T) + 0.5 + 0.01 * np.sin(7.0 * T)


@pytest.mark.parametrize("method", ["trf", "dogbox", "lm", "gn"])
def test_unused_parameter_keeps_success(method):
    """A parameter whose column is zero from the start is left alone (scipy's verdict)."""
    x0 = np.array([1.0, 1.0, 0.0, 3.0])
    res = lsqcore.least_squares(_decay_unused, x0, args=(T, Y), method=method)
    ref = quiet_call(sp_least_squares, _decay_unused, x0, args=(T, Y),
                     method="trf" if method == "gn" else method)
    assert res.success and ref.success
    assert res.x[3] == 3.0
    np.testing.assert_allclose(res.x[:3], ref.x[:3], rtol=1e-5)


@pytest.mark.parametrize("tol", [1e-1, 1e-2, 1e-3, 1e-5])
@pytest.mark.parametrize("method", ["trf", "lm"])
def test_loose_tolerances_keep_scipy_verdict(tol, method):
    """A user's loose ftol/xtol stops early by design: the threshold on the
    angle grows with sqrt(tol), and the verdict stays scipy's."""
    x0 = np.array([1.0, 0.5, 0.0])
    kw = dict(args=(T, Y), method=method, ftol=tol, xtol=tol)
    res = lsqcore.least_squares(_decay, x0, **kw)
    ref = quiet_call(sp_least_squares, _decay, x0, **kw)
    assert ref.success
    # the same kind of stop (lm's 3 vs scipy's 4 at tol=1e-2 is an older
    # difference of lm's ftol test, not of the vetting: see the parity issue)
    assert res.success and (res.status == ref.status or {res.status, ref.status} <= {2, 3, 4}), \
        (res.status, ref.status, res.message)
    assert res.cost == pytest.approx(ref.cost, rel=1e-2)


def test_batch_rows_are_vetted_like_single_solves():
    """The batch runs the same kernel: a row that stalls gets -6, the others their
    own status, each bitwise equal to its single solve."""
    p = mgh("biggs_exp6")
    x0 = np.array([p.starts[0], p.starts[2]], float)
    batch = lsqcore.least_squares_batch(p.fun, x0, jac=p.jac, args=p.args)
    for k in range(2):
        single = lsqcore.least_squares(p.fun, x0[k], jac=p.jac, args=p.args)
        assert batch.status[k] == single.status
        np.testing.assert_array_equal(batch.x[k], single.x)
    assert batch.status[1] == -6 and not batch.success[1]
    assert batch.success[0]


@pytest.mark.parametrize("loss", ["soft_l1", "arctan"])
def test_robust_loss_at_its_cost_floor_keeps_success(loss):
    """A zero-residual fit with a robust loss: ``rho(z)`` cannot resolve a cost
    below ~eps per residual (soft_l1's ``2 (sqrt(1 + z) - 1)`` is 0 for ``z <
    eps``), so the tolerance tests stop with residuals ~1e-9; the stop stands,
    as scipy's (before the floor rule: -6 on Broyden tridiagonal, n = 60)."""
    from scipy.optimize import least_squares as scipy_least_squares

    def f(x):
        r = (3.0 - x) * x + 1.0
        r[1:] -= x[:-1]
        r[:-1] -= 2.0 * x[1:]
        return r

    def jac(x):
        return (np.diag(3.0 - 2.0 * x) - np.diag(np.ones(x.size - 1), -1)
                - 2.0 * np.diag(np.ones(x.size - 1), 1))
    x0 = -np.ones(60)
    res = lsqcore.least_squares(f, x0, jac, loss=loss, tr_solver="lsmr")
    ref = scipy_least_squares(f, x0, jac, loss=loss, tr_solver="lsmr")
    assert res.success and ref.success and res.status == ref.status
    assert res.cost <= 60 * np.finfo(float).eps and np.abs(res.fun).max() < 1e-7
