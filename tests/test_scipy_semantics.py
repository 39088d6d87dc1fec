"""scipy 1.16-1.17 semantics of ``least_squares``, each compared with scipy.

``workers``, the 1-D Jacobian of a one-residual problem, float32/float16
residuals, a zero Jacobian at a curved minimum, ``njev`` of 'lm', the
infeasible-``x0`` message and a sparse ``jac``.  scipy's own test files run
on lsqcore in test_scipy_suite.py; these are the same behaviours on problems
where a wrong answer shows.
"""
import multiprocessing
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pytest
import scipy.optimize
import scipy.sparse
import scipy.sparse.linalg

import lsqcore
from conftest import lsqcore_only

T = np.linspace(0.0, 3.0, 25)
Y = 2.5 * np.exp(-1.3 * T) + 0.4 + 0.01 * np.cos(5.0 * T)


def decay(p, t, y):
    """Module level, so that a process pool can pickle it."""
    return p[0] * np.exp(-p[1] * t) + p[2] - y


@numba.njit
def _decay_model(t, a, b):
    return a * np.exp(-b * t)


def trivial(x, a=0.0):
    """scipy's fun_trivial: a minimum at x = a where the Jacobian is 0."""
    return (x - a) ** 2 + 5.0


# --------------------------------------------------------------------------
# workers
# --------------------------------------------------------------------------

def _fields(res):
    return (res.x.tobytes(), res.cost, res.nfev, res.njev, res.status, res.jac.tobytes())


@pytest.mark.parametrize("method", ["trf", "dogbox", "lm"])
@pytest.mark.parametrize("jac", ["2-point", "3-point"])
def test_workers_results_bitwise_independent(method, jac):
    kw = dict(args=(T, Y), method=method, jac=jac)
    serial = lsqcore.least_squares(decay, [1.0, 1.0, 0.0], **kw)
    with ThreadPoolExecutor(3) as ex:
        threads = lsqcore.least_squares(decay, [1.0, 1.0, 0.0], workers=ex.map, **kw)
    one = lsqcore.least_squares(decay, [1.0, 1.0, 0.0], workers=1, **kw)
    assert _fields(threads) == _fields(serial) == _fields(one)
    ref = scipy.optimize.least_squares(decay, [1.0, 1.0, 0.0], **kw)
    np.testing.assert_allclose(serial.x, ref.x, rtol=1e-7)


def test_workers_process_pool():
    kw = dict(args=(T, Y))
    serial = lsqcore.least_squares(decay, [1.0, 1.0, 0.0], **kw)
    pooled = lsqcore.least_squares(decay, [1.0, 1.0, 0.0], workers=2, **kw)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        mapped = lsqcore.least_squares(decay, [1.0, 1.0, 0.0], workers=pool.map, **kw)
    assert _fields(pooled) == _fields(serial) == _fields(mapped)


def test_workers_map_sees_the_difference_points():
    calls = []

    def recording_map(f, points):
        points = list(points)
        calls.append(len(points))
        return map(f, points)
    res = lsqcore.least_squares(decay, [1.0, 1.0, 0.0], args=(T, Y), workers=recording_map)
    assert res.success and calls and set(calls) == {3} and len(calls) == res.njev


@pytest.mark.parametrize("bad", [0, -2, 1.5, "all", True])
def test_workers_bad_value(bad):
    with pytest.raises(ValueError, match="`workers` must be"):
        lsqcore.least_squares(decay, [1.0, 1.0, 0.0], args=(T, Y), workers=bad)


# --------------------------------------------------------------------------
# shapes and types
# --------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["trf", "dogbox", "lm"])
def test_one_residual_jacobian_as_a_vector(method):
    """m = n = 1 and ``jac`` returning shape (1,): scipy reads it as (1, 1)."""
    def f(x):
        return np.array([x[0] ** 2 - 2.0])

    def j(x):
        return np.array([2.0 * x[0]])
    res = lsqcore.least_squares(f, [1.0], jac=j, method=method)
    ref = scipy.optimize.least_squares(f, [1.0], jac=j, method=method)
    assert res.success and ref.success
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-8)          # xtol's resolution
    np.testing.assert_allclose(res.x, [np.sqrt(2.0)], rtol=1e-8)


def test_sparse_jacobian_and_linear_operator_taken():
    """A sparse J is solved (tr_solver='lsmr', scipy's csr_array back); so is a
    LinearOperator (the operator back as ``jac``), except with the exact
    solver, which scipy refuses too, with the same message."""
    res = lsqcore.least_squares(lambda x: x - 1.0, [0.0, 0.0],
                                jac=lambda x: scipy.sparse.csr_matrix(np.eye(2)))
    assert res.success and np.allclose(res.x, 1.0) and scipy.sparse.issparse(res.jac)
    op = (lambda x: scipy.sparse.linalg.aslinearoperator(np.eye(2)))
    res = lsqcore.least_squares(lambda x: x - 1.0, [0.0, 0.0], jac=op)
    assert res.success and np.allclose(res.x, 1.0)
    assert isinstance(res.jac, scipy.sparse.linalg.LinearOperator)
    with pytest.raises(ValueError, match="works only with dense Jacobian") as ours:
        lsqcore.least_squares(lambda x: x - 1.0, [0.0, 0.0], jac=op, tr_solver="exact")
    with pytest.raises(ValueError) as theirs:
        scipy.optimize.least_squares(lambda x: x - 1.0, [0.0, 0.0], jac=op, tr_solver="exact")
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_narrow_float_residuals(dtype):
    """scipy gh-12991: with float64's steps a float32 (or float16) residual
    does not change, J = 0 and the solve "converges" at x0.  The steps follow
    the residual's eps; the answer is the fit of the rounded data."""
    rng = np.random.default_rng(1978)
    x = np.linspace(0, 1, 100).astype(dtype)
    y = rng.random(100).astype(dtype)

    def err(p):
        return (p[0] + p[1] * x - y).astype(dtype)
    res = lsqcore.least_squares(err, [-1.0, -1.0])
    ref = scipy.optimize.least_squares(err, [-1.0, -1.0])
    A = np.column_stack([np.ones(100), x.astype(float)])
    exact = np.linalg.lstsq(A, y.astype(float), rcond=None)[0]
    # the cost is evaluated in `dtype`: its minimiser is resolved to about
    # sqrt(eps) (measured: 7e-6 for float32); float64 steps leave x0 = -1 (off by 1)
    tol = 0.1 * float(np.finfo(dtype).eps) ** 0.5
    assert res.nfev > 2 and res.success
    np.testing.assert_allclose(res.x, exact, atol=tol)
    np.testing.assert_allclose(res.x, ref.x, atol=tol)


# --------------------------------------------------------------------------
# a zero Jacobian at a curved minimum
# --------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["trf", "dogbox", "lm", "gn"])
@pytest.mark.parametrize("jac", ["2-point", "analytic"])
def test_zero_jacobian_at_a_curved_minimum_is_success(method, jac):
    """(x - a)^2 + 5 has its minimum at a with J = 0 there: a gtol stop
    (scipy's verdict), not a flat region; the probe of eps**(1/4) steps sees
    f change at second order."""
    j = (lambda x: np.atleast_2d(2.0 * x)) if jac == "analytic" else jac
    res = lsqcore.least_squares(trivial, [0.0], jac=j, method=method)
    assert res.success and res.status == 1 and res.x[0] == 0.0 and res.cost == 12.5
    if method != "gn":
        ref = scipy.optimize.least_squares(trivial, [0.0], jac=j, method=method)
        assert ref.success and ref.x[0] == 0.0


@lsqcore_only("status -6 at a stationary point that is not a minimum is lsqcore's")
@pytest.mark.parametrize("method", ["trf", "dogbox", "lm"])
def test_zero_jacobian_at_a_maximum_is_not_success(method):
    """5 - x^2 at 0: the gradient vanishes, but the cost is a maximum there
    (scipy reports gtol success); the probe finds a lower cost: status -6."""
    res = lsqcore.least_squares(lambda x: 5.0 - x ** 2, [0.0], method=method)
    assert res.status == -6 and not res.success and res.x[0] == 0.0


@lsqcore_only("the probe's verdict on a model too coarse for its differences")
@pytest.mark.parametrize("method", ["trf", "dogbox", "lm"])
def test_zero_difference_jacobian_of_a_coarse_model_is_not_success(method):
    """A model that rounds to 1e-6 (a table lookup, a float32 computation):
    2-point steps of 1.5e-8 see no change, J = 0; the probe (steps ~1.2e-4)
    sees a first-order change, so x0 is not stationary: no success claim."""
    t = np.linspace(0.0, 1.0, 8)

    def coarse(p):
        return np.round((p[0] * t - 0.3) * 1e6) / 1e6
    res = lsqcore.least_squares(coarse, [1.0], method=method)
    assert not (res.success and abs(res.x[0] - 1.0) < 1e-3), (res.status, res.x)


@lsqcore_only("status -5 (flat region) is lsqcore's")
@pytest.mark.parametrize("method", ["trf", "dogbox", "lm"])
def test_underflowed_model_stays_flat(method):
    """An exponential that underflows everywhere is flat at every scale the
    probe looks at: status -5, not success (scipy reports gtol)."""
    t = np.linspace(1.0, 2.0, 5)
    res = lsqcore.least_squares(lambda p: np.exp(-p[0] * t) + 1.0, [800.0], method=method)
    assert res.status == -5 and not res.success


# --------------------------------------------------------------------------
# result fields and messages
# --------------------------------------------------------------------------

@pytest.mark.parametrize("jac", ["2-point", "callable"])
@pytest.mark.parametrize("method", ["trf", "dogbox", "lm"])
def test_njev_as_scipy(method, jac):
    j = (lambda p, t, y: np.column_stack([np.exp(-p[1] * t), -p[0] * t * np.exp(-p[1] * t),
                                          np.ones_like(t)])) if jac == "callable" else jac
    res = lsqcore.least_squares(decay, [1.0, 1.0, 0.0], jac=j, args=(T, Y), method=method)
    ref = scipy.optimize.least_squares(decay, [1.0, 1.0, 0.0], jac=j, args=(T, Y),
                                       method=method)
    assert (res.njev is None) == (ref.njev is None)


def test_infeasible_x0_message_in_every_front_end():
    msg = "Initial guess is outside of provided bounds"
    with pytest.raises(ValueError, match=msg):
        lsqcore.least_squares(decay, [5.0, 1.0, 0.0], args=(T, Y), bounds=(0.0, 3.0))
    with pytest.raises(ValueError, match=msg):
        lsqcore.curve_fit(lambda t, a, b: a * np.exp(-b * t), T, Y, p0=[5.0, 1.0],
                          bounds=(0.0, 3.0))
    with pytest.raises(ValueError, match=msg):
        lsqcore.curve_fit_batch(_decay_model, T, np.vstack([Y, Y]), p0=[5.0, 1.0],
                                bounds=(0.0, 3.0))
    with pytest.raises(ValueError, match=msg):
        scipy.optimize.least_squares(decay, [5.0, 1.0, 0.0], args=(T, Y), bounds=(0.0, 3.0))


@pytest.mark.parametrize("method", ["trf", "dogbox", "lm"])
def test_zero_jacobian_probe_with_a_non_finite_side(method):
    """One residual is NaN left of the minimum: the probe there costs no less
    (it is not a descent), the other side shows second order only: gtol, as
    scipy.  (Before, the NaN residual was left out of that probe's cost,
    which then looked lower: status -6.)"""
    def f(x):
        r = x[0] ** 2 + 5.0
        return np.array([r, r if x[0] >= 0 else np.nan])
    res = lsqcore.least_squares(f, [0.0], method=method)
    ref = scipy.optimize.least_squares(f, [0.0], method=method)
    assert res.status == 1 and res.x[0] == 0.0 and ref.success


def _two_constants(x):
    return np.array([1.0, 2.0])


@pytest.mark.parametrize("method", ["trf", "dogbox", "lm"])
def test_no_variables_as_scipy(method):
    """An empty ``x0``: scipy evaluates f once and stops (status 1; 'lm':
    MINPACK's improper input, -1); lmfit's conf_interval2d fixes every
    parameter and fits so."""
    res = lsqcore.least_squares(_two_constants, np.array([]), method=method)
    ref = scipy.optimize.least_squares(_two_constants, np.array([]), method=method)
    for key in ("status", "nfev", "njev", "cost", "success", "optimality"):
        assert res[key] == ref[key], key
    assert res.jac.shape == ref.jac.shape == (2, 0) and res.x.size == 0


def test_leastsq_no_variables_as_scipy():
    x, cov, info, mesg, ier = lsqcore.leastsq(_two_constants, np.array([]), full_output=True)
    ref = scipy.optimize.leastsq(_two_constants, np.array([]), full_output=True)
    assert ier == ref[4] == 0 and mesg == ref[3] and cov is None is ref[1]
    np.testing.assert_array_equal(info["fvec"], ref[2]["fvec"])
    for leastsq in (lsqcore.leastsq, scipy.optimize.leastsq):
        with pytest.raises(TypeError, match="Improper input parameters"):
            leastsq(_two_constants, np.array([]))
