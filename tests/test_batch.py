"""Batch solvers: every row equals the single solver, bitwise, on any thread count.

Compile cost dominates this file (each (model, call pattern) compiles one
parallel driver that links the solver kernel: ~25 s of CPU on a 2-core
machine), so it uses three compiled variants only:

* ``resid(p, t, y)`` through ``least_squares_batch`` (t shared, y per row):
  methods, Jacobian kinds, losses, bounds, statuses, threads, progress,
  Ctrl-C and pcov all reuse it (they are run-time options);
* the model ``expdecay(x, a, b, c)`` through ``curve_fit_batch``: shared and
  per-fit xdata / p0 / sigma / bounds and NaN omission reuse it;
* the in-place model with its in-place Jacobian (``inplace=True``);
* the in-place residual ``resid_ip(p, out, t, y)`` (``lsqcore.InPlace``)
  through ``least_squares_batch``, with finite differences and with its
  in-place Jacobian (two drivers).
"""
import math
import signal
import threading
import warnings

import numpy as np
import numba
import pytest
from numba import njit
from scipy.optimize import least_squares as sp_least_squares, curve_fit as sp_curve_fit

import lsqcore
from lsqcore import least_squares, InPlace
from lsqcore.batch import (least_squares_batch, curve_fit_batch, BatchResult, NOT_RUN,
                           NONFINITE_START, TOO_FEW_POINTS)
from lsqcore.batch._model import model_residual
from lsqcore._status import NONFINITE_JAC

M = 30
T = np.linspace(0.0, 4.0, M)
K = 48
TWO_THREADS = numba.config.NUMBA_NUM_THREADS >= 2


@njit(cache=True)
def resid(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] - y


from lsqcore._workloads import expdecay, expdecay_ip, expdecay_jac_ip  # noqa: E402  (the W4 model)


@njit(cache=True)
def resid_ip(p, out, t, y):
    """``resid`` in the allocation-free form ``fun(x, out, *args)``."""
    for i in range(t.shape[0]):
        out[i] = p[0] * math.exp(-p[1] * t[i]) + p[2] - y[i]


@njit(cache=True)
def jac_ip(p, out, t, y):
    for i in range(t.shape[0]):
        e = math.exp(-p[1] * t[i])
        out[i, 0] = e
        out[i, 1] = -p[0] * t[i] * e
        out[i, 2] = 1.0


@njit(cache=True)
def jac_alloc(p, t, y):
    out = np.empty((t.shape[0], 3))
    jac_ip(p, out, t, y)
    return out


def make_data(K=K, seed=0, noise=0.05):
    rng = np.random.default_rng(seed)
    P = np.column_stack([rng.uniform(1, 3, K), rng.uniform(0.5, 2, K),
                         rng.uniform(-0.5, 0.5, K)])
    Y = P[:, :1] * np.exp(-P[:, 1:2] * T) + P[:, 2:3] + noise * rng.standard_normal((K, M))
    return P, Y


P_TRUE, Y = make_data()
X0 = np.tile([1.0, 1.0, 0.0], (K, 1))
# special rows: NaN data, a singular start (a = 0 makes J's b-column zero),
# a non-finite x0
NAN_ROW, SING_ROW, BADX0_ROW = 3, 7, 11
Y_SPECIAL = Y.copy()
Y_SPECIAL[NAN_ROW, 5] = np.nan
X0_SPECIAL = X0.copy()
X0_SPECIAL[SING_ROW] = [0.0, 1.0, 0.0]
X0_SPECIAL[BADX0_ROW, 1] = np.nan


def quiet(fn, *a, **k):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def assert_row_equals_single(res, k, single):
    """Bitwise equality of batch row ``k`` with a single-solver result."""
    assert np.array_equal(res.x[k], single.x), (k, res.x[k], single.x)
    assert res.cost[k] == single.cost, (k, res.cost[k], single.cost)
    assert res.status[k] == single.status, (k, res.status[k], single.status)
    # (a single 'lm' solve reports njev None, as scipy's: nit is compared instead)
    assert res.nfev[k] == single.nfev and single.njev in (None, res.njev[k]), k
    assert res.nit[k] == single.nit, k
    assert res.optimality[k] == single.optimality, (k, res.optimality[k], single.optimality)
    assert res.success[k] == single.success


def assert_same_batch(a, b):
    for f in ("x", "cost", "status", "nfev", "njev", "nit", "optimality"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


# ------------------------------------------------------------------ least_squares_batch

OPTION_SETS = [
    dict(method="trf"),
    dict(method="lm"),
    dict(method="gn"),
    dict(method="trf", jac="3-point", loss="soft_l1", f_scale=0.1),
    dict(method="trf", jac="cs"),
    dict(method="trf", bounds=([0.0, 0.0, -1.0], [5.0, 5.0, 1.0])),
    dict(method="trf", max_nfev=3),
    dict(method="lm", x_scale=1.0, ftol=1e-12, xtol=1e-12, gtol=1e-12),
]


@pytest.fixture(scope="module")
def special_batch():
    return quiet(least_squares_batch, resid, X0_SPECIAL, args=(T, Y_SPECIAL), threads=1,
                 progress=False, return_pcov=True, return_stderr=True)


@pytest.mark.parametrize("opts", OPTION_SETS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items() if k != "bounds") + ("-bounds" if "bounds" in o else ""))
def test_rows_equal_single_solver(opts):
    res = quiet(least_squares_batch, resid, X0, args=(T, Y), threads=1, progress=False, **opts)
    assert isinstance(res, BatchResult) and len(res) == K
    for k in range(0, K, 5):
        single = quiet(least_squares, resid, X0[k], args=(T, Y[k]), **opts)
        assert_row_equals_single(res, k, single)
    if opts.get("max_nfev") == 3:
        assert np.all(res.status == 0) and np.all(res.nfev == 3)
        assert res.message(0) == lsqcore._status.MESSAGES[0]
    else:
        assert np.all(res.success)


@pytest.mark.skipif(not TWO_THREADS, reason="needs 2 numba threads")
@pytest.mark.parametrize("method", ["trf", "lm"])
def test_thread_count_does_not_change_answers(method, special_batch):
    r1 = quiet(least_squares_batch, resid, X0_SPECIAL, args=(T, Y_SPECIAL), method=method,
               threads=1, progress=False)
    r2 = quiet(least_squares_batch, resid, X0_SPECIAL, args=(T, Y_SPECIAL), method=method,
               threads=2, progress=False)
    assert r2.threads == 2
    assert_same_batch(r1, r2)
    if method == "trf":
        assert_same_batch(r1, special_batch)


def test_failing_rows_mark_their_own_status(special_batch):
    res = special_batch
    assert res.status[NAN_ROW] == NONFINITE_START
    assert res.status[BADX0_ROW] == NONFINITE_START
    assert not res.success[NAN_ROW] and not res.success[BADX0_ROW]
    # no fitted result: NaN, not the starting point (test_unfitted_rows_are_nan)
    assert np.isnan(res.cost[NAN_ROW]) and np.all(np.isnan(res.x[NAN_ROW]))
    assert "not finite" in res.message(res.status[NAN_ROW])
    # the singular start is solved like the single solver does
    single = quiet(least_squares, resid, X0_SPECIAL[SING_ROW], args=(T, Y[SING_ROW]))
    assert_row_equals_single(res, SING_ROW, single)
    # the other rows are untouched by their neighbours
    clean = quiet(least_squares_batch, resid, X0, args=(T, Y), threads=1, progress=False)
    others = np.setdiff1d(np.arange(K), [NAN_ROW, SING_ROW, BADX0_ROW])
    np.testing.assert_array_equal(res.x[others], clean.x[others])
    np.testing.assert_array_equal(res.status[others], clean.status[others])


def test_unfitted_rows_are_nan(special_batch):
    """Rows with no fitted result (NaN data, a non-finite x0, no point left)
    get NaN in x, cost, optimality, pcov and stderr -- never x0, which would
    mix starting guesses into averages of res.x -- and keep their status; a
    row that ran and failed (max_nfev) keeps its last iterate, as scipy."""
    res = special_batch
    for k in (NAN_ROW, BADX0_ROW):
        assert res.status[k] == NONFINITE_START
        for f in ("x", "cost", "optimality", "pcov", "stderr"):
            assert np.all(np.isnan(getattr(res, f)[k])), (k, f, getattr(res, f)[k])
    ok = np.setdiff1d(np.arange(K), [NAN_ROW, BADX0_ROW])
    assert np.all(np.isfinite(res.x[ok])) and np.all(np.isfinite(res.cost[ok]))
    # the mean over all rows is the mean of the fits, with no guesses in it
    np.testing.assert_array_equal(np.nanmean(res.x, axis=0), np.mean(res.x[ok], axis=0))
    # TOO_FEW_POINTS (nothing left after omitting NaNs), with pcov / stderr
    Yn = Y[:4].copy()
    Yn[1, :] = np.nan
    r = quiet(curve_fit_batch, expdecay, T, Yn, p0=[1.0, 1.0, 0.0], nan_policy="omit",
              threads=1, progress=False, return_pcov=True, return_stderr=True)
    assert r.status[1] == TOO_FEW_POINTS and np.all(r.success[[0, 2, 3]])
    for f in ("x", "cost", "optimality", "pcov", "stderr"):
        assert np.all(np.isnan(getattr(r, f)[1])), f
        assert np.all(np.isfinite(getattr(r, f)[[0, 2, 3]])), f
    # a solver failure keeps its last iterate, cost and uncertainties
    r = quiet(least_squares_batch, resid, X0[:3], args=(T, Y[:3]), max_nfev=3, threads=1,
              progress=False, return_stderr=True)
    assert np.all(r.status == 0)
    single = quiet(least_squares, resid, X0[0], args=(T, Y[0]), max_nfev=3)
    assert_row_equals_single(r, 0, single)
    assert not np.array_equal(r.x[0], X0[0]) and np.all(np.isfinite(r.stderr))


def test_pcov_and_stderr_as_curve_fit(special_batch):
    res = special_batch
    assert res.pcov.shape == (K, 3, 3) and res.stderr.shape == (K, 3)
    np.testing.assert_array_equal(res.stderr, np.sqrt(np.diagonal(res.pcov, axis1=1, axis2=2)))
    assert np.all(np.isnan(res.pcov[NAN_ROW]))
    for k in (0, 1, 20):
        # the same formula as scipy's curve_fit, from the single solver's Jacobian
        single = quiet(least_squares, resid, X0[k], args=(T, Y[k]))
        _, s, VT = np.linalg.svd(single.jac, full_matrices=False)
        keep = s > np.finfo(float).eps * max(single.jac.shape) * s[0]
        pcov = (VT[keep].T / s[keep] ** 2) @ VT[keep] * (2 * single.cost / (M - 3))
        np.testing.assert_allclose(res.pcov[k], pcov, rtol=1e-9, atol=1e-15)
        # and scipy's curve_fit on the same data (trf, same tolerances)
        popt, pcov_sp = sp_curve_fit(expdecay.py_func, T, Y[k], p0=X0[k], method="trf")
        np.testing.assert_allclose(res.x[k], popt, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(res.pcov[k], pcov_sp, rtol=1e-3, atol=1e-10)


@njit(cache=True)
def resid_over(p, t, y):
    # only the product p[0] * p[3] is identifiable
    return p[0] * p[3] * np.exp(-p[1] * t) + p[2] - y


def test_pcov_of_undetermined_parameters_is_inf():
    """As curve_fit: a parameter in a combination the data cannot determine has
    inf in its row and column; the others keep the pseudo-inverse's values."""
    x0 = np.column_stack([X0, np.ones(K)])[:3]
    res = quiet(least_squares_batch, resid_over, x0, args=(T, Y[:3]), threads=1,
                progress=False, return_pcov=True, return_stderr=True)
    for k in range(3):
        assert np.all(np.isinf(res.pcov[k][[0, 3], :])) and np.all(np.isinf(res.pcov[k][:, [0, 3]]))
        assert np.all(np.isinf(res.stderr[k][[0, 3]]))
        single = quiet(least_squares, resid_over, x0[k], args=(T, Y[k]))
        # curve_fit's rule: equilibrated columns, cut-off 1e-7 for '2-point'
        D = np.linalg.norm(single.jac, axis=0)
        _, s, VT = np.linalg.svd(single.jac / D, full_matrices=False)
        keep = s > 1e-7 * s[0]
        assert keep.sum() == 3
        V = VT[keep].T / D[:, None]
        pinv = (V / s[keep] ** 2) @ V.T * (2 * single.cost / (M - 4))
        np.testing.assert_allclose(res.pcov[k][1:3, 1:3], pinv[1:3, 1:3], rtol=1e-6)


def test_rows_agree_with_scipy():
    res = quiet(least_squares_batch, resid, X0, args=(T, Y), method="trf", threads=1,
                progress=False)
    for k in range(0, K, 4):
        ref = quiet(sp_least_squares, resid.py_func, X0[k], args=(T, Y[k]), method="trf")
        assert res.cost[k] <= ref.cost * (1 + 1e-8) + 1e-14
        np.testing.assert_allclose(res.x[k], ref.x, rtol=1e-5, atol=1e-7)


def test_per_row_bounds_and_per_row_rule():
    rng = np.random.default_rng(3)
    lb = np.tile([0.0, 0.0, -1.0], (K, 1))
    ub = np.tile([5.0, 5.0, 1.0], (K, 1))
    ub[::3, 1] = 0.8                    # some rows: b capped below its true value
    res = quiet(least_squares_batch, resid, X0 * [1.0, 0.5, 1.0], args=(T, Y),
                bounds=(lb, ub), threads=1, progress=False)
    for k in (0, 1, 3, 4):
        single = quiet(least_squares, resid, X0[k] * [1.0, 0.5, 1.0], args=(T, Y[k]),
                       bounds=(lb[k], ub[k]))
        assert_row_equals_single(res, k, single)
    assert np.all(res.x[::3, 1] <= 0.8)
    # a shared array of length K is split only when per_row says so
    x0_one = np.tile([1.0, 1.0, 0.0], (1, 1))
    r = quiet(least_squares_batch, resid, x0_one, args=(T, Y[:1]), threads=1, progress=False)
    single = quiet(least_squares, resid, x0_one[0], args=(T, Y[0]))
    assert_row_equals_single(r, 0, single)
    del rng


def test_empty_batch():
    res = least_squares_batch(resid, np.zeros((0, 3)), args=(T, np.zeros((0, M))))
    assert len(res) == 0 and res.x.shape == (0, 3) and res.status.shape == (0,)
    res = curve_fit_batch(expdecay, T, np.zeros((0, M)), p0=[1.0, 1.0, 0.0],
                          return_pcov=True)
    assert res.x.shape == (0, 3) and res.pcov.shape == (0, 3, 3)


# ------------------------------------------------------------------ progress and Ctrl-C

def test_progress_bar(capsys):
    pytest.importorskip("tqdm")
    res = quiet(least_squares_batch, resid, X0, args=(T, Y), threads=1, progress=True)
    assert np.all(res.success) and not res.interrupted
    assert "fit" in capsys.readouterr().err   # tqdm writes to stderr


def test_interrupt_keeps_finished_rows():
    calls = []

    def hook(done):
        calls.append(done)
        raise KeyboardInterrupt         # Ctrl-C during the first block

    big = np.tile(Y, (20, 1))
    res = quiet(least_squares_batch, resid, np.tile(X0, (20, 1)), args=(T, big), threads=1,
                progress=False, _block_hook=hook)
    assert res.interrupted and "interrupted" in repr(res)
    done = calls[-1]
    assert 0 < done < big.shape[0]
    assert np.all(res.status[done:] == NOT_RUN) and np.all(np.isnan(res.x[done:]))
    assert np.all(res.success[:done])
    assert res.message(NOT_RUN).startswith("Not run")


def test_real_sigint_stops_between_blocks():
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals need the main thread")
    reps = 1000                         # 48000 fits: about a second or more of work
    big = np.tile(Y, (reps, 1))
    x0 = np.tile(X0, (reps, 1))
    quiet(least_squares_batch, resid, x0[:4], args=(T, big[:4]), threads=1, progress=False)
    timers = []

    def hook(done):
        if not timers:
            timers.append(threading.Timer(0.2, signal.raise_signal, (signal.SIGINT,)))
            timers[0].start()

    try:
        res = quiet(least_squares_batch, resid, x0, args=(T, big), threads=1,
                    progress=False, _block_hook=hook)
        timers[0].cancel()
        timers[0].join()
    except KeyboardInterrupt:           # arrived after the batch had returned
        pytest.skip("the batch finished before SIGINT")
    if not res.interrupted:
        assert np.all(res.status != NOT_RUN)
        return
    finished = res.status != NOT_RUN
    assert 0 < finished.sum() < big.shape[0]
    # finished rows are complete answers
    k = int(np.flatnonzero(finished)[-1])
    single = quiet(least_squares, resid, x0[k], args=(T, big[k]))
    assert_row_equals_single(res, k, single)


# ------------------------------------------------------------------ curve_fit_batch

def _single_cf(k, x, y, p0, sigma=None, inplace=False, **opts):
    """The single solve that batch row k must reproduce bitwise (Python driver)."""
    residual, _ = model_residual(expdecay, 3)
    w = (np.ones(y.size) if sigma is None else 1.0 / np.asarray(sigma, float))[:, None]
    return quiet(least_squares, lambda p, *a: residual(p, *a), p0,
                 args=(np.ascontiguousarray(x), np.ascontiguousarray(y), w), **opts)


@pytest.mark.parametrize("xkind", ["shared", "per_fit"])
@pytest.mark.parametrize("skind", ["none", "shared", "per_fit"])
def test_curve_fit_batch_shared_and_per_fit(xkind, skind):
    rng = np.random.default_rng(1)
    Xd = T if xkind == "shared" else T * rng.uniform(0.8, 1.2, (K, 1))
    Yd = np.array([expdecay.py_func(Xd if Xd.ndim == 1 else Xd[k], *P_TRUE[k]) for k in range(K)])
    Yd += 0.05 * rng.standard_normal(Yd.shape)
    sigma = {"none": None, "shared": np.linspace(0.5, 1.5, M),
             "per_fit": rng.uniform(0.5, 1.5, (K, M))}[skind]
    p0 = [1.0, 1.0, 0.0] if skind != "shared" else np.tile([1.0, 1.0, 0.0], (K, 1))
    res = quiet(curve_fit_batch, expdecay, Xd, Yd, p0=p0, sigma=sigma, threads=1,
                progress=False, return_stderr=True)
    assert res.stderr.shape == (K, 3) and np.all(res.success)
    for k in (0, 13, K - 1):
        xk = Xd if Xd.ndim == 1 else Xd[k]
        sk = None if sigma is None else (sigma if sigma.ndim == 1 else sigma[k])
        single = _single_cf(k, xk, Yd[k], np.array([1.0, 1.0, 0.0]), sk, method="lm")
        assert_row_equals_single(res, k, single)
        if skind == "none" and k == 0 and hasattr(lsqcore, "curve_fit"):
            # lsqcore's single curve_fit builds the same residual: same answer
            popt1, _ = quiet(lsqcore.curve_fit, expdecay, xk, Yd[k], p0=[1.0, 1.0, 0.0])
            assert np.array_equal(popt1, res.x[k])
        popt, pcov = sp_curve_fit(expdecay.py_func, xk, Yd[k], p0=[1.0, 1.0, 0.0], sigma=sk)
        np.testing.assert_allclose(res.x[k], popt, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(res.stderr[k], np.sqrt(np.diag(pcov)), rtol=1e-3)


def test_curve_fit_batch_bounds_and_p0_default():
    lb = np.tile([0.0, 0.0, -1.0], (K, 1))
    ub = np.tile([4.0, 3.0, 1.0], (K, 1))
    ub[1::2, 0] = 1.5
    res = quiet(curve_fit_batch, expdecay, T, Y, bounds=(lb, ub), threads=1, progress=False)
    p0 = 0.5 * (lb + ub)                # scipy's default start inside finite bounds
    for k in (0, 1, 2):
        single = _single_cf(k, T, Y[k], p0[k], method="trf", bounds=(lb[k], ub[k]))
        assert_row_equals_single(res, k, single)
    assert np.all(res.x[1::2, 0] <= 1.5)
    # shared bounds, per-fit p0, method chosen by the bounds (trf)
    res2 = quiet(curve_fit_batch, expdecay, T, Y, p0=p0, bounds=(lb[0], ub[0]), threads=1,
                 progress=False)
    single = _single_cf(4, T, Y[4], p0[4], method="trf", bounds=(lb[0], ub[0]))
    assert_row_equals_single(res2, 4, single)


def test_curve_fit_batch_nan_policy():
    Yn = Y.copy()
    Yn[2, [0, 7, 8]] = np.nan
    Yn[5, :] = np.nan
    Xn = np.tile(T, (K, 1))
    Xn[9, 3] = np.nan
    res = quiet(curve_fit_batch, expdecay, Xn, Yn, p0=[1.0, 1.0, 0.0], nan_policy="omit",
                threads=1, progress=False, return_pcov=True)
    for k in (2, 9, 10):
        keep = ~(np.isnan(Yn[k]) | np.isnan(Xn[k]))
        single = _single_cf(k, Xn[k][keep], Yn[k][keep], np.array([1.0, 1.0, 0.0]),
                            method="lm")
        assert_row_equals_single(res, k, single)
        popt, _ = sp_curve_fit(expdecay.py_func, Xn[k], Yn[k], p0=[1.0, 1.0, 0.0],
                               nan_policy="omit")
        np.testing.assert_allclose(res.x[k], popt, rtol=1e-4, atol=1e-6)
    assert res.status[5] == TOO_FEW_POINTS
    assert res.message(TOO_FEW_POINTS).startswith("Too few")
    # None: the NaN row fails alone; 'raise': names the row
    res = quiet(curve_fit_batch, expdecay, T, Yn, p0=[1.0, 1.0, 0.0], threads=1,
                progress=False)
    assert res.status[2] == NONFINITE_START and res.status[5] == NONFINITE_START
    assert np.all(res.success[[0, 1, 3, 4]])
    with pytest.raises(ValueError, match="row 2"):
        curve_fit_batch(expdecay, T, Yn, p0=[1.0, 1.0, 0.0], nan_policy="raise")


def test_curve_fit_batch_inplace_model_and_jac():
    res = quiet(curve_fit_batch, expdecay_ip, T, Y, p0=[1.0, 1.0, 0.0], jac=expdecay_jac_ip,
                inplace=True, threads=1, progress=False)

    def f(p, x, y, w):
        out = np.empty(y.size)
        expdecay_ip(x, p[0], p[1], p[2], out)
        return (out - y) * w

    def j(p, x, y, w):
        out = np.empty((y.size, 3))
        expdecay_jac_ip(x, p[0], p[1], p[2], out)
        return w[:, None] * out

    for k in (0, 9):
        single = quiet(least_squares, f, np.array([1.0, 1.0, 0.0]), jac=j, method="lm",
                       args=(T, Y[k], np.ones(M)))
        assert_row_equals_single(res, k, single)
    if TWO_THREADS:
        r2 = quiet(curve_fit_batch, expdecay_ip, T, Y, p0=[1.0, 1.0, 0.0],
                   jac=expdecay_jac_ip, inplace=True, threads=2, progress=False)
        assert_same_batch(res, r2)


# ------------------------------------------------------------------ InPlace residuals

@pytest.mark.parametrize("opts", [dict(method="trf", loss="soft_l1", f_scale=0.1),
                                  dict(method="lm", jac="inplace", return_pcov=True)],
                         ids=["trf-fd-soft_l1", "lm-inplace_jac"])
def test_inplace_residual_rows_equal_single_solver(opts):
    """least_squares_batch(InPlace(fun, m)): each row is the single solver's
    least_squares(InPlace(fun, m), ...) bit for bit (an in-place jac against
    the same Jacobian returned by an allocating jac), on 1 and 2 threads."""
    opts = dict(opts)
    bj = InPlace(jac_ip, M) if opts.pop("jac", None) == "inplace" else "2-point"
    res = quiet(least_squares_batch, InPlace(resid_ip, M), X0_SPECIAL, jac=bj,
                args=(T, Y_SPECIAL), threads=1, progress=False, **opts)
    opts.pop("return_pcov", None)
    sj = jac_alloc if isinstance(bj, InPlace) else "2-point"
    for k in [0, 1, 9, SING_ROW, K - 1]:
        single = quiet(least_squares, InPlace(resid_ip, M), X0_SPECIAL[k], jac=sj,
                       args=(T, Y_SPECIAL[k]), **opts)
        assert_row_equals_single(res, k, single)
    assert res.status[NAN_ROW] == NONFINITE_START and res.status[BADX0_ROW] == NONFINITE_START
    if isinstance(bj, InPlace):
        assert res.pcov.shape == (K, 3, 3) and np.all(np.isfinite(res.pcov[0]))
    else:
        # the allocating residual of the same problems: the same answers (bitwise
        # here; np.exp on arrays may differ from math.exp by an ulp with SVML)
        ref = quiet(least_squares_batch, resid, X0_SPECIAL, args=(T, Y_SPECIAL), threads=1,
                    progress=False, **opts)
        np.testing.assert_array_equal(res.status, ref.status)
        np.testing.assert_allclose(res.x, ref.x, rtol=1e-10, atol=1e-14)
    if TWO_THREADS:
        r2 = quiet(least_squares_batch, InPlace(resid_ip, M), X0_SPECIAL, jac=bj,
                   args=(T, Y_SPECIAL), threads=2, progress=False, **opts)
        assert_same_batch(res, r2)


def test_inplace_adapters():
    """The CPU adapters of an InPlace residual return the thread's buffers
    filled by fun / jac (in-place or allocating jac): the same values."""
    from lsqcore.batch._model import inplace_residual
    p = P_TRUE[0]
    buf, jbuf = np.zeros(M), np.zeros((M, 3))
    r, j = inplace_residual(resid_ip, 2, jac_ip, True)
    assert r(p, T, Y[0], buf, jbuf) is not None     # returns the filled buffer
    ref = np.empty(M)
    resid_ip(p, ref, T, Y[0])
    np.testing.assert_array_equal(buf, ref)
    np.testing.assert_array_equal(j(p, T, Y[0], buf, jbuf), jac_alloc(p, T, Y[0]))
    np.testing.assert_array_equal(jbuf, jac_alloc(p, T, Y[0]))
    r2, j2 = inplace_residual(resid_ip, 2, jac_alloc, False)
    np.testing.assert_array_equal(r2(p, T, Y[0], buf), ref)
    np.testing.assert_array_equal(j2(p, T, Y[0], buf), jac_alloc(p, T, Y[0]))


def test_inplace_residual_agrees_with_scipy():
    """A well-conditioned problem (x agrees) and an ill-conditioned one
    (t in [0, 2e-3]: cond(J) ~ 1e7, x ill-determined; the cost agrees)."""
    Ti = np.linspace(0.0, 2e-3, M)
    rng = np.random.default_rng(5)
    Yi = P_TRUE[:, :1] * np.exp(-P_TRUE[:, 1:2] * Ti) + P_TRUE[:, 2:3] \
        + 1e-6 * rng.standard_normal((K, M))
    for t, y, opts, check_x in ((T, Y, dict(loss="soft_l1", f_scale=0.1), True),
                                (Ti, Yi, dict(jac="3-point"), False)):
        res = quiet(least_squares_batch, InPlace(resid_ip, M), X0, args=(t, y),
                    method="trf", threads=1, progress=False, **opts)
        assert np.all(res.success)
        for k in range(0, K, 6):
            ref = quiet(sp_least_squares, resid.py_func, X0[k], args=(t, y[k]), method="trf",
                        **opts)
            if check_x:
                assert res.cost[k] <= ref.cost * (1 + 1e-8), (k, res.cost[k], ref.cost)
                np.testing.assert_allclose(res.x[k], ref.x, rtol=1e-5, atol=1e-7)
            else:
                # both stop where the gradient is below gtol on a flat valley:
                # costs within 1e-3 relative (measured: up to 1.6e-4, either
                # side), fitted values to 10% of the noise (measured 9e-9)
                assert res.cost[k] <= ref.cost * (1 + 1e-3), (k, res.cost[k], ref.cost)
                f = resid.py_func(res.x[k], t, y[k])
                np.testing.assert_allclose(f, ref.fun, rtol=0, atol=1e-7)


def test_model_of_the_wrong_length_gives_an_empty_residual():
    """curve_fit's compiled wrappers (one generator for lsqcore.curve_fit and
    the batch) return an empty array for a model or Jacobian of the wrong
    length, never reading past the row's data; the batch driver then marks
    the row BAD_SHAPE and the call raises naming it."""
    @njit
    def short(x, a, b):
        return a * x[1:] + b

    @njit
    def short_jac(x, a, b):
        return np.ones((x.shape[0], 3))

    residual, jacobian = model_residual(short, 2, short_jac)
    w = np.ones((M, 1))
    assert residual(np.array([1.0, 0.0]), T, Y[0], w).shape == (0,)
    assert jacobian(np.array([1.0, 0.0]), T, Y[0], w).shape == (0, 3)
    good, _ = model_residual(expdecay, 3)
    np.testing.assert_array_equal(good(P_TRUE[0], T, Y[0], w),
                                  expdecay(T, *P_TRUE[0]) - Y[0])


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("call, match", [
    (lambda: least_squares_batch(resid, np.ones(3), args=(T, Y)), r"`x0` must have shape \(K, n\)"),
    (lambda: least_squares_batch(resid.py_func, X0, args=(T, Y)), "Numba-jitted"),
    (lambda: least_squares_batch(resid, X0, args=(T, Y), method="lm",
                                 bounds=(0, 10)), "does not support `bounds`"),
    (lambda: least_squares_batch(resid, X0, args=(T, Y), bounds=(np.zeros((K + 1, 3)), 10)),
     r"`bounds` lb must be .* \(48, 3\)"),
    (lambda: least_squares_batch(resid, X0, args=(T, Y), bounds=(2.0, 3.0)),
     r"`x0` is infeasible: x0\[0, 0\]"),
    (lambda: least_squares_batch(resid, X0, args=(T, Y), per_row=(True, True)),
     r"`args\[0\]` is marked per row"),
    (lambda: least_squares_batch(resid, X0, args=(T, Y), threads=0), "`threads`"),
    (lambda: least_squares_batch(resid, X0, args=(T, Y), progress="yes"), "`progress`"),
    (lambda: least_squares_batch(resid, X0, args=[T, Y]), "`args` must be a tuple"),
    (lambda: curve_fit_batch(expdecay, T, Y[0], p0=[1, 1, 0]), r"`ydata` must have shape \(K, m\)"),
    (lambda: curve_fit_batch(expdecay, T[:-1], Y, p0=[1, 1, 0]),
     r"`xdata` must have shape \(30,\) \(shared\) or \(48, 30\)"),
    (lambda: curve_fit_batch(expdecay, T, Y, p0=[1, 1, 0], sigma=np.ones(M - 1)),
     r"`sigma` must be None, shape \(30,\)"),
    (lambda: curve_fit_batch(expdecay, T, Y, p0=np.ones((K - 1, 3))), r"`p0` must have shape"),
    (lambda: curve_fit_batch(expdecay, T, Y, p0=[1, 1, 0], nan_policy="drop"), "`nan_policy`"),
    (lambda: curve_fit_batch(expdecay, T, Y, p0=[1, 1, 0], method="lm", bounds=(0, 5)),
     "`method`=.lm. does not support `bounds`"),
    (lambda: curve_fit_batch(expdecay_ip, T, Y, p0=[1, 1, 0], inplace=True, jac="cs"),
     "jac='cs'"),
    (lambda: curve_fit_batch(expdecay, T, Y, p0=[1, 1, 0], foo=1), "unexpected keyword"),
    (lambda: curve_fit_batch(expdecay, T, np.zeros((K, 0)), p0=[1, 1, 0]), "must not be empty"),
    # lsqcore.InPlace residuals
    (lambda: least_squares_batch(InPlace(resid_ip, M + 1), X0, args=(T, Y)),
     r"`fun` \(in-place form\) wrote fewer values than `out` holds \(shape \(31,\), m = 31"),
    (lambda: least_squares_batch(InPlace(resid_ip, M - 1), X0, args=(T, Y)),
     r"`fun` \(in-place form\) wrote past the end of `out` \(shape \(29,\)\) for row 0"),
    (lambda: least_squares_batch(resid, X0, jac=InPlace(jac_ip, M), args=(T, Y)),
     r"`jac` in the in-place form .* needs `fun` in the in-place form too"),
    (lambda: least_squares_batch(InPlace(resid_ip, M), X0, jac=InPlace(jac_ip, M - 1),
                                 args=(T, Y)), "`jac` and `fun` must have the same m"),
    (lambda: least_squares_batch(InPlace(resid_ip, M), X0, jac="cs", args=(T, Y)),
     "jac='cs' needs complex residuals"),
    (lambda: least_squares_batch(InPlace(resid_ip.py_func, M), X0, args=(T, Y)),
     "`fun` must be a Numba-jitted function"),
    (lambda: least_squares_batch(InPlace(resid_ip, M), X0, args=(T, Y), dtype=np.float32),
     r"`dtype` must be float64 \(or float32 with device='cuda'\)"),
    (lambda: least_squares_batch(InPlace(resid_ip, M), X0, args=(T, Y), device="gpu"),
     "`device` must be 'cpu' or 'cuda'"),
    (lambda: least_squares_batch(InPlace(resid, M), X0, args=(T, Y)),
     r"`fun` \(lsqcore.InPlace\) could not be called as fun\(x, out, \*args\)"),
    (lambda: curve_fit_batch(expdecay, T, Y, p0=[1, 1, 0], inplace=True),
     r"the model `f` could not be called as f\(x, p0, ..., p_\{n-1\}, out\)"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_progress_true_without_tqdm(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def fake_import(name, *a, **k):
        if name == "tqdm" or name.startswith("tqdm."):
            raise ImportError("no tqdm")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"lsqcore\[progress\]"):
        least_squares_batch(resid, X0, args=(T, Y), progress=True)


def test_public_names():
    assert lsqcore.least_squares_batch is least_squares_batch
    assert lsqcore.curve_fit_batch is curve_fit_batch
    assert BatchResult.message(-999).startswith("Unknown status")
    assert BatchResult.message(np.array([1, -10]))[1].startswith("Not run")
    assert math.isfinite(1.0)


@njit(cache=True)
def _gauss2d(xy, a, x0, y0, s, c):
    return a * np.exp(-((xy[0] - x0) ** 2 + (xy[1] - y0) ** 2) / (2.0 * s * s)) + c


def test_curve_fit_batch_several_predictors():
    """xdata (1, k, m) shared or (K, k, m) per fit: the model gets scipy's
    (k, m); rows bitwise the single curve_fit, and scipy's answers."""
    import scipy.optimize as so
    rng = np.random.default_rng(11)
    K = 24
    gx, gy = np.meshgrid(np.arange(9.0), np.arange(9.0))
    XY = np.vstack([gx.ravel(), gy.ravel()])
    P = np.column_stack([rng.uniform(1, 3, K), rng.uniform(3, 5, K), rng.uniform(3, 5, K),
                         rng.uniform(1, 2, K), rng.uniform(0, 0.5, K)])
    Y = np.array([_gauss2d(XY, *p) for p in P]) + 0.02 * rng.standard_normal((K, 81))
    Y[4, ::5] = np.nan
    Y[6] = np.nan
    p0 = [2.0, 4.0, 4.0, 1.5, 0.2]
    res = lsqcore.curve_fit_batch(_gauss2d, XY[None], Y, p0=p0, nan_policy="omit",
                                  return_pcov=True)
    per_row = lsqcore.curve_fit_batch(_gauss2d, np.ascontiguousarray(np.broadcast_to(
        XY, (K, 2, 81))), Y, p0=p0, nan_policy="omit", return_pcov=True)
    assert np.array_equal(res.x, per_row.x, equal_nan=True)
    assert res.status[6] == lsqcore.batch.TOO_FEW_POINTS and res.success.sum() == K - 1
    for k in (0, 4, 10):
        keep = ~np.isnan(Y[k])
        single, _ = lsqcore.curve_fit(_gauss2d, XY[:, keep], Y[k, keep], p0=p0)
        assert np.array_equal(single, res.x[k])
        popt, pcov = so.curve_fit(_gauss2d.py_func, XY[:, keep], Y[k, keep], p0=p0)
        assert np.max(np.abs(popt - res.x[k]) / np.abs(popt)) <= 1e-7
        # (MINPACK's pcov comes from its last finite-difference J, lsqcore's
        # from one at the final x: measured 1.7e-5 of sqrt(C_ii C_jj) apart)
        d = np.sqrt(np.diag(pcov))
        assert np.max(np.abs(pcov - res.pcov[k]) / np.outer(d, d)) <= 1e-4
    with pytest.raises(ValueError, match=r"several predictors must have shape \(1, k, 81\)"):
        lsqcore.curve_fit_batch(_gauss2d, XY[None, :, :80], Y, p0=p0)
    # the allocation-free form of a model of several predictors: the same rows
    from lsqcore import models
    g2 = models.gaussian2d
    alloc = lsqcore.curve_fit_batch(g2.f, XY[None], Y, p0=p0, jac=g2.jac, nan_policy="omit")
    inpl = lsqcore.curve_fit_batch(g2.f_inplace, XY[None], Y, p0=p0, jac=g2.jac_inplace,
                                   inplace=True, nan_policy="omit")
    assert np.array_equal(alloc.x, inpl.x, equal_nan=True) and alloc.success.sum() == K - 1
    with pytest.raises(NotImplementedError, match="several predictors"):
        lsqcore.curve_fit_batch(_gauss2d, XY[None], Y, p0=p0, device="cuda")


def test_row_covariance_direct_and_svd_routes():
    """The row covariance takes ``R^{-1}`` directly when ``kappa_F(R) <=
    DIRECT_KAPPA`` (nothing can fall below a rank cut-off then) and the
    Jacobi SVD otherwise; both agree with a LAPACK QR reference to
    rounding, on either side of the switch, and ``_inverse_r`` returns the
    Frobenius condition number.  Given ``J^T J``, it takes the Gram route
    where lsqcore._gram's bound ``(m + n) eps kappa_F^2 <= 1e-10`` holds,
    and agrees with the reference to that bound."""
    from lsqcore.batch._pcov import covariance, _inverse_r, _from_gram, DIRECT_KAPPA
    from lsqcore._gram import GRAM_RTOL
    eps = np.finfo(float).eps
    rng = np.random.default_rng(5)
    routes = set()
    gram_routes = set()
    for trial in range(400):
        m, n = int(rng.integers(6, 50)), int(rng.integers(1, 6))
        J = rng.standard_normal((m, n)) * 10.0 ** rng.uniform(-3, 3, n)
        if n > 1 and trial % 2:
            J[:, -1] = J[:, 0] + 10.0 ** rng.uniform(-6, -1) * np.abs(J[:, 0]).max() \
                * rng.standard_normal(m)
        D = np.linalg.norm(J, axis=0)
        R = np.linalg.qr(J / D, mode="r")
        kappa = np.linalg.norm(R) * np.linalg.norm(np.linalg.inv(R))
        if kappa > 1e7:
            continue
        Ri = np.empty((n, n))
        assert _inverse_r(np.ascontiguousarray(R), Ri, np.empty(n)) == pytest.approx(kappa,
                                                                      rel=1e-8)
        routes.add(bool(kappa <= DIRECT_KAPPA))
        A, V, s, pc, small = (np.empty(m * n), np.empty((n, n)), np.empty(n),
                              np.empty((n, n)), np.empty(3 * n))
        covariance(J, 0.37, m, n, False, 0, A.reshape((m, n)), V, s, pc, small,
                   np.empty((0, 0)))
        Rinv = np.linalg.inv(R)
        ref = (Rinv @ Rinv.T) / np.outer(D, D) * (2 * 0.37 / (m - n))
        sd = np.sqrt(np.diag(ref))
        assert np.max(np.abs(pc - ref) / np.outer(sd, sd)) <= 1e-15 * kappa ** 2 + 1e-13
        # the same J with its Gram matrix (upper triangle, garbage below)
        G = np.triu(J.T @ J) + np.tril(np.full((n, n), np.nan), -1)
        pg = np.full((n, n), 7.0)
        covariance(J, 0.37, m, n, False, 0, A.reshape((m, n)), V, s, pg, small, G)
        bound = (m + n) * eps * kappa ** 2
        took = _from_gram(G, m, n, 1.0, np.empty(n), np.empty((n, n)), np.empty((n, n)),
                          np.empty(n), np.empty((n, n)))
        if bound <= 0.5 * GRAM_RTOL or bound >= 2 * GRAM_RTOL:     # (kappa is LAPACK's)
            assert took == (bound < GRAM_RTOL)
        gram_routes.add(took)
        assert np.max(np.abs(pg - ref) / np.outer(sd, sd)) <= 10 * bound + 1e-13
    assert routes == {True, False}
    assert gram_routes == {True, False}


@njit(cache=True)
def _jac_nan_past(t, a, b, c):
    """``expdecay``'s Jacobian, with a NaN once ``a`` passes 1.8."""
    out = np.empty((t.shape[0], 3))
    expdecay_jac_ip(t, a, b, c, out)
    if a > 1.8:
        out[0, 0] = np.nan
    return out


def test_row_covariance_never_uses_a_stale_gram_matrix():
    """A solve that ends on a non-finite Jacobian has an earlier ``J``'s Gram
    matrix in its workspace (the kernel forms none of a non-finite ``J``):
    the covariance must not come from it, but from the ``J`` the row ends
    with (``inf``, as scipy's ``curve_fit`` gives of a non-finite ``J``)."""
    t = np.linspace(0, 4, 30)
    Y = np.array([2.5 * np.exp(-1.3 * t) + 0.1 + 0.01 * np.sin(7 * t + k) for k in range(3)])
    res = curve_fit_batch(expdecay, t, Y, p0=[1.0, 1.0, 0.0], jac=_jac_nan_past,
                          return_pcov=True, threads=1)
    assert np.all(res.status == NONFINITE_JAC) and np.all(res.njev >= 2)
    assert np.all(np.isinf(res.pcov))
