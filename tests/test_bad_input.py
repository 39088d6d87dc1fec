"""Input validation of lsqcore.least_squares, and NaN residuals mid-run.

Every bad input must raise the exception scipy raises (ValueError, or
TypeError for a non-callable ``fun``) with a message naming the offending
parameter, *before* any real work: ``fun`` may be called at most once (the
validation call at x0).
"""
import warnings

import numpy as np
import pytest
from scipy.optimize import Bounds

import oracle_problems as op
from conftest import ORACLE_TOL, SELF_CHECK, CallCounter, check_result, describe, lsqcore_only, solve

INF = np.inf
ROSEN = op.get("rosenbrock")
UNDER = op.get("underdetermined_2x4")


def _fun2d(x):
    return np.outer(ROSEN.fun(x), np.ones(2))


def _fun_nan_at_x0(x):
    f = ROSEN.fun(x)
    f[1] = np.nan
    return f


def _fun_inf_at_x0(x):
    f = ROSEN.fun(x)
    f[0] = np.inf
    return f


def _jac_bad_shape(x):
    return np.ones((3, 2))


def _jac_nan(x):
    J = ROSEN.jac(x)
    J[0, 1] = np.nan
    return J


def _bad_loss(z):
    return np.ones((3, z.size + 1))


# (id, kwargs, exception, match, stage, lsqcore_only_reason)
#   stage 'pre':  detectable without calling fun -> fun must not be called more
#                 than once (ideally not at all)
#   stage 'post': needs fun(x0) -> at most the one validation call
X0 = np.array([-1.2, 1.0])
CASES = [
    ("x0_nan", dict(x0=np.array([np.nan, 1.0])), ValueError, "x0", "pre",
     "scipy names the bounds, not x0, for a NaN x0"),
    ("x0_inf", dict(x0=np.array([np.inf, 1.0])), ValueError, "x0", "pre",
     "scipy accepts an infinite x0 when unbounded"),
    ("x0_complex", dict(x0=np.array([1.0 + 1j, 1.0])), ValueError, "x0", "pre", None),
    ("x0_2d", dict(x0=np.ones((2, 1))), ValueError, "x0", "pre", None),
    ("bounds_3_elements", dict(bounds=(-1.0, 1.0, 2.0)), ValueError, "bounds", "pre", None),
    ("bounds_wrong_shape", dict(bounds=([-5.0, -5.0, -5.0], [5.0, 5.0, 5.0])), ValueError,
     "bounds", "pre", None),
    ("bounds_lb_eq_ub", dict(bounds=([-5.0, 1.0], [5.0, 1.0])), ValueError, "bound", "pre", None),
    ("bounds_lb_gt_ub", dict(bounds=([5.0, -5.0], [-5.0, 5.0])), ValueError, "bound", "pre", None),
    ("bounds_object_lb_ge_ub", dict(bounds=Bounds([0.0, 2.0], [1.0, 2.0])), ValueError, "bound",
     "pre", None),
    ("x0_outside_bounds", dict(bounds=([-1.0, -1.0], [1.0, 1.0])), ValueError, "x0|bounds", "pre",
     None),
    ("method_unknown", dict(method="newton"), ValueError, "method", "pre", None),
    ("tr_solver_lsmr_gn", dict(method="gn", tr_solver="lsmr"), ValueError, "tr_solver.*gn", "pre",
     "method 'gn'"),
    ("tr_solver_unknown", dict(tr_solver="cholesky"), ValueError, "tr_solver", "pre", None),
    ("loss_unknown", dict(loss="l2"), ValueError, "loss", "pre", None),
    ("jac_unknown", dict(jac="4-point"), ValueError, "jac", "pre", None),
    ("lm_with_bounds", dict(method="lm", bounds=([-5.0, -5.0], [5.0, 5.0])), ValueError, "bounds",
     "pre", None),
    ("lm_with_robust_loss", dict(method="lm", loss="soft_l1"), ValueError, "loss", "pre", None),
    ("gn_with_bounds", dict(method="gn", bounds=([-5.0, -5.0], [5.0, 5.0])), ValueError, "bounds",
     "pre", "method 'gn'"),
    ("tolerances_all_below_eps", dict(ftol=1e-17, xtol=0.0, gtol=1e-20), ValueError, "tol",
     "pre", None),
    ("tolerances_all_below_eps_lm", dict(method="lm", ftol=1e-17, xtol=1e-17, gtol=1e-17),
     ValueError, "tol", "pre", None),
    ("tolerances_all_below_eps_gn", dict(method="gn", ftol=0.0, xtol=0.0, gtol=0.0), ValueError,
     "tol", "pre", "method 'gn'"),
    ("max_nfev_zero", dict(max_nfev=0), ValueError, "max_nfev", "pre", None),
    ("max_nfev_negative", dict(max_nfev=-3), ValueError, "max_nfev", "pre", None),
    ("x_scale_negative", dict(x_scale=[1.0, -1.0]), ValueError, "x_scale", "pre", None),
    ("x_scale_wrong_shape", dict(x_scale=[1.0, 1.0, 1.0]), ValueError, "x_scale", "pre", None),
    ("x_scale_unknown_string", dict(x_scale="auto"), ValueError, "x_scale", "pre", None),
    # ---- need fun(x0)
    ("fun_2d_output", dict(fun=_fun2d), ValueError, "fun", "post", None),
    ("fun_nan_at_x0", dict(fun=_fun_nan_at_x0), ValueError, "fun|[Rr]esidual", "post", None),
    ("fun_inf_at_x0", dict(fun=_fun_inf_at_x0), ValueError, "fun|[Rr]esidual", "post", None),
    ("fun_nan_at_x0_lm", dict(fun=_fun_nan_at_x0, method="lm"), ValueError, "fun|[Rr]esidual",
     "post", None),
    ("fun_nan_at_x0_gn", dict(fun=_fun_nan_at_x0, method="gn"), ValueError, "fun|[Rr]esidual",
     "post", "method 'gn'"),
    ("jac_wrong_shape", dict(jac=_jac_bad_shape), ValueError, "jac", "post", None),
    ("jac_nan_at_x0", dict(jac=_jac_nan), ValueError, "jac", "post",
     "scipy does not check the Jacobian at x0"),
    ("lm_m_less_than_n", dict(fun=UNDER.fun, x0=UNDER.x0, method="lm"), ValueError,
     "lm|method|residuals", "post", None),
    ("loss_callable_wrong_shape", dict(loss=_bad_loss), ValueError, "loss", "post", None),
]


def _params():
    for cid, kw, exc, match, stage, only in CASES:
        for jk in (("analytic", "2-point") if stage == "post" else ("analytic",)):
            marks = [lsqcore_only(only)] if only else []
            if cid in ("jac_wrong_shape", "jac_nan_at_x0") and jk != "analytic":
                continue
            if cid == "fun_2d_output" and jk != "analytic" and not only:
                marks = [lsqcore_only("scipy's finite differences fail first, naming `f0`")]
            yield pytest.param(kw, exc, match, stage, jk, marks=marks,
                               id=cid if stage == "pre" else "%s-%s" % (cid, jk))


@pytest.mark.parametrize("kw,exc,match,stage,jac_kind", list(_params()))
def test_bad_input_raises(kw, exc, match, stage, jac_kind, needs_solver):
    kw = dict(kw)
    fun = kw.pop("fun", ROSEN.fun)
    x0 = kw.pop("x0", X0.copy())
    if "jac" not in kw:
        kw["jac"] = ROSEN.jac if jac_kind == "analytic" else jac_kind
        if fun is UNDER.fun and jac_kind == "analytic":
            kw["jac"] = UNDER.jac
    counter = CallCounter(fun)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. scipy warns about each tol < eps first
        with pytest.raises(exc, match=match):
            needs_solver(counter, x0, **kw)
    # Under the self-check scipy estimates J(x0) by finite differences before
    # validating f(x0): the call count is lsqcore's promise only.
    if not (SELF_CHECK and stage == "post" and jac_kind != "analytic"):
        assert counter.calls <= 1, "fun called %d times before raising" % counter.calls


@pytest.mark.parametrize("fun", [None, 3.0, "fun"], ids=["None", "float", "str"])
def test_fun_not_callable(fun, needs_solver):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TypeError):
            needs_solver(fun, X0.copy())


def test_valid_edge_inputs_accepted(needs_solver):
    """Things that look odd but are valid: a scalar x0, list x0, one tolerance
    below eps (the others still active), bounds as scalars, Bounds object."""
    res = solve(lambda x: np.array([x[0] - 2.0, 3.0 * (x[0] - 2.0)]), 0.0)
    assert res.x.shape == (1,) and abs(res.x[0] - 2.0) < 1e-6
    res = solve(ROSEN.fun, [-1.2, 1.0], jac=ROSEN.jac, ftol=0.0)
    assert res.success and np.allclose(res.x, 1.0)
    res = solve(ROSEN.fun, [-1.2, 1.0], jac=ROSEN.jac, bounds=(-2.0, 2.0))
    assert res.success and np.allclose(res.x, 1.0)
    res = solve(ROSEN.fun, [-1.2, 1.0], jac=ROSEN.jac, bounds=Bounds([-2.0, -2.0], [2.0, 2.0]))
    assert res.success and np.allclose(res.x, 1.0)


def test_lm_ignores_tr_solver_and_tr_options():
    """'lm' has no subproblem solver to choose: like scipy's, it ignores
    ``tr_solver='lsmr'`` and ``tr_options`` (the same answer, bitwise, as
    without them, and scipy's x to 1e-10)."""
    import lsqcore
    from scipy.optimize import least_squares as scipy_ls
    base = lsqcore.least_squares(ROSEN.fun, [-1.2, 1.0], method="lm")
    for kw in (dict(tr_solver="lsmr"), dict(tr_solver="lsmr", tr_options={"atol": 1e-3}),
               dict(tr_options={"regularize": False})):
        r = lsqcore.least_squares(ROSEN.fun, [-1.2, 1.0], method="lm", **kw)
        assert np.array_equal(r.x, base.x) and r.nfev == base.nfev
        ref = scipy_ls(ROSEN.fun, [-1.2, 1.0], method="lm", **kw)
        assert np.allclose(r.x, ref.x, rtol=1e-10, atol=1e-12) and r.status > 0


# --------------------------------------------------------------------------
# A residual that is NaN at some trial points mid-run
# --------------------------------------------------------------------------

def _nan_cases():
    for method in ("trf", "dogbox", "lm", "gn"):
        for jk in ("analytic", "2-point"):
            marks = []
            if method == "gn":
                marks = [lsqcore_only("method 'gn'")]
            elif method == "lm":
                marks = [lsqcore_only("scipy's MINPACK 'lm' does not reject non-finite trial points")]
            yield pytest.param(method, jk, marks=marks, id="%s-%s" % (method, jk))


@pytest.mark.parametrize("method,jac_kind", list(_nan_cases()))
def test_nan_residual_mid_run(method, jac_kind, needs_solver):
    """Logistic fit: the first trial step overshoots the carrying capacity
    (x[0] goes from 8 to ~10.9; the optimum is ~9.99).  The residual is made
    NaN beyond a threshold between the optimum and the largest trial x[0] of a
    normal run, so the run is identical up to that first overshoot; the solver
    must reject the non-finite trial point and still converge."""
    prob = op.get("logistic")
    jac = prob.jac if jac_kind == "analytic" else jac_kind
    kw = dict(jac=jac, method=method, args=prob.args, **ORACLE_TOL)
    rec = CallCounter(prob.fun, record=True)
    normal = solve(rec, prob.x0.copy(), **kw)
    assert normal.success, describe(normal)
    xmax = max(x[0] for x in rec.xs)
    assert xmax > normal.x[0] * 1.01, "no overshoot in the normal run: %r" % xmax
    threshold = 0.5 * (xmax + normal.x[0])
    hits = [0]

    def fun_nan(x, t, y):
        f = prob.fun(x, t, y)
        if x[0] > threshold:
            hits[0] += 1
            return np.full_like(f, np.nan)
        return f

    res = solve(fun_nan, prob.x0.copy(), **kw)
    assert hits[0] >= 1, "the NaN region was never visited"
    assert res.success and res.status > 0, describe(res)
    assert np.all(np.isfinite(res.x)) and np.isfinite(res.cost)
    check_result(res, prob, jac_kind=jac_kind, where="nan mid-run/%s/%s" % (method, jac_kind))
    np.testing.assert_allclose(res.x, normal.x, rtol=1e-6)
    assert abs(res.cost - normal.cost) <= 1e-8 * normal.cost


@lsqcore_only("NaN residual handling")
@pytest.mark.parametrize("method", ["trf", "dogbox", "lm", "gn"])
def test_nan_residual_everywhere_but_x0(method, needs_solver):
    """A residual that is NaN at every point except x0 must not produce a
    non-finite result: the solver returns x0 (or stops) with finite fields."""
    prob = op.get("rosenbrock")
    x0 = prob.x0.copy()

    def fun(x):
        if np.array_equal(x, x0):
            return prob.fun(x)
        return np.full(2, np.nan)

    res = solve(fun, x0.copy(), jac=prob.jac, method=method, max_nfev=50)
    for k in ("x", "cost", "fun", "jac", "grad", "optimality"):
        assert np.all(np.isfinite(np.asarray(res[k], float))), (k, describe(res))
    np.testing.assert_array_equal(res.x, x0)
