"""Batch fits on Dask arrays (lsqcore.batch._dask): the in-memory answers, chunk by chunk.

The contract is bitwise: every field of every row computed from Dask inputs
equals the in-memory batch on the same numpy inputs (which equals the single
solver on that row), whatever the chunking and the scheduler -- Dask's local
threads here, a ``LocalCluster`` of two worker processes in
``test_dask_cluster.py``.  Bad input is refused when the lazy result is built,
before any task exists.
"""
import numpy as np
import pytest
from numba import njit

da = pytest.importorskip("dask.array")

import lsqcore  # noqa: E402
from lsqcore.batch import NONFINITE_START, TOO_FEW_POINTS  # noqa: E402

FIELDS = ("x", "cost", "status", "success", "nfev", "njev", "nit", "optimality")


@njit(cache=True)
def gauss(x, a, mu, s, c):
    return a * np.exp(-(x - mu) ** 2 / (2.0 * s * s)) + c


@njit(cache=True)
def decay_residual(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] - y


def gauss_cube(K=300, m=40, seed=0):
    """``K`` noisy Gaussians on a shared grid; row 3 all NaN, row 5 partly NaN,
    row 7 an ill-conditioned peak far outside the grid."""
    rng = np.random.default_rng(seed)
    x = np.linspace(-3.0, 3.0, m)
    P = np.column_stack([rng.uniform(1, 3, K), rng.uniform(-0.5, 0.5, K),
                         rng.uniform(0.5, 1.2, K), rng.uniform(0, 0.5, K)])
    Y = np.array([gauss(x, *p) for p in P]) + 0.02 * rng.standard_normal((K, m))
    Y[3] = np.nan
    Y[5, ::4] = np.nan
    Y[7] = gauss(x, 1.0, 9.0, 0.3, 0.2) + 1e-3 * rng.standard_normal(m)
    return x, Y, P


def assert_same(a, b, pcov=False):
    for f in FIELDS + (("pcov",) if pcov else ()):
        u, v = getattr(a, f), getattr(b, f)
        assert u.dtype == v.dtype and u.shape == v.shape, f
        assert np.array_equal(u, v, equal_nan=True), f


@pytest.mark.parametrize("method", ["lm", "trf"])
@pytest.mark.parametrize("chunks", [64, 300])
def test_curve_fit_batch_equals_in_memory(method, chunks):
    x, Y, _ = gauss_cube()
    p0 = np.array([2.0, 0.0, 1.0, 0.2])
    ref = lsqcore.curve_fit_batch(gauss, x, Y, p0=p0, method=method, return_pcov=True)
    res = lsqcore.curve_fit_batch(gauss, x, da.from_array(Y, chunks=(chunks, -1)), p0=p0,
                                  method=method, return_pcov=True)
    assert res.lazy and isinstance(res.x, da.Array) and len(res) == Y.shape[0]
    assert "lazy" in repr(res)
    out = res.compute()
    assert not out.lazy
    assert_same(ref, out, pcov=True)
    assert out.status[3] == NONFINITE_START and np.isnan(out.x[3]).all()
    assert out.success.sum() >= Y.shape[0] - 2
    # a field alone, through dask.compute, is the same column
    assert np.array_equal(res.cost.compute(), ref.cost, equal_nan=True)


def test_per_row_inputs_dask_and_numpy_and_nan_omit():
    """Per-fit p0 (Dask), sigma (numpy, cut to the chunks), bounds (numpy per
    row), xdata per row (Dask), and nan_policy='omit'."""
    x, Y, P = gauss_cube(K=200, seed=1)
    K, m = Y.shape
    X = np.tile(x, (K, 1)) + 0.01 * np.arange(K)[:, None]
    sigma = 0.02 * (1.0 + np.random.default_rng(2).random((K, m)))
    P0 = np.clip(P * 0.9, 0.05, None)
    lb = np.tile([0.0, -2.0, 0.05, -1.0], (K, 1))
    ub = np.tile([10.0, 2.0, 5.0, 2.0], (K, 1))
    kw = dict(sigma=sigma, bounds=(lb, ub), nan_policy="omit", return_stderr=True)
    ref = lsqcore.curve_fit_batch(gauss, X, Y, p0=P0, **kw)
    ch = (50, -1)
    res = lsqcore.curve_fit_batch(gauss, da.from_array(X, chunks=ch),
                                  da.from_array(Y, chunks=ch), p0=da.from_array(P0, chunks=ch),
                                  **kw).compute()
    assert_same(ref, res)
    assert np.array_equal(ref.stderr, res.stderr, equal_nan=True)
    assert res.status[3] == TOO_FEW_POINTS
    assert np.all(res.success[np.arange(K) != 3] | (res.status[np.arange(K) != 3] <= 0))


def test_least_squares_batch_with_dask_x0_and_per_row_args():
    rng = np.random.default_rng(3)
    K, m = 150, 30
    t = np.linspace(0.0, 4.0, m)
    truth = np.column_stack([rng.uniform(1, 3, K), rng.uniform(0.5, 2, K), rng.uniform(0, 1, K)])
    Y = truth[:, :1] * np.exp(-truth[:, 1:2] * t) + truth[:, 2:] \
        + 0.01 * rng.standard_normal((K, m))
    X0 = np.tile([1.0, 1.0, 0.0], (K, 1))
    ref = lsqcore.least_squares_batch(decay_residual, X0, args=(t, Y), method="trf",
                                      return_pcov=True)
    res = lsqcore.least_squares_batch(decay_residual, da.from_array(X0, chunks=(40, 3)),
                                      args=(t, da.from_array(Y, chunks=(40, m))),
                                      method="trf", return_pcov=True).compute()
    assert_same(ref, res, pcov=True)
    assert res.success.all()
    # numpy x0, Dask per-row data: the rows follow the Dask argument's chunks
    res2 = lsqcore.least_squares_batch(decay_residual, X0,
                                       args=(t, da.from_array(Y, chunks=(64, m))))
    assert len(res2.x.chunks[0]) == 3
    assert_same(ref, res2.compute())


def test_chunk_boundaries_do_not_matter():
    x, Y, _ = gauss_cube(K=97, seed=4)
    p0 = np.array([2.0, 0.0, 1.0, 0.2])
    outs = [lsqcore.curve_fit_batch(gauss, x, da.from_array(Y, chunks=(c, 20)), p0=p0).compute()
            for c in (1, 13, 97)]
    for o in outs[1:]:
        assert_same(outs[0], o)


class _Counter:
    """A Dask callback counting the tasks that start."""

    def __init__(self):
        from dask.callbacks import Callback
        self.n = 0
        outer = self

        class C(Callback):
            def _pretask(self, key, dask, state):
                outer.n += 1
        self.cb = C()


@pytest.mark.parametrize("case, exc, words", [
    ("chunks", ValueError, ["`p0` and `ydata` must be chunked alike", "(50, 50, 50, 50)"]),
    ("ftol", ValueError, ["`ftol`"]),
    ("python model", TypeError, ["`f` must be a Numba-jitted function"]),
    ("device", ValueError, ["`device`='cuda'", "Dask"]),
    ("shape", ValueError, ["`f` returned shape (10,)", "(40,)"]),
    ("xdata", ValueError, ["`xdata` must have shape (40,)"]),
    ("bounds", ValueError, ["`bounds` lb must be a scalar, shape (4,)"]),
    ("threads", ValueError, ["`threads`"]),
    ("progress", ValueError, ["`progress`"]),
    ("kwarg", TypeError, ["unexpected keyword argument"]),
])
def test_bad_input_is_refused_before_any_task(case, exc, words):
    x, Y, _ = gauss_cube(K=200)
    Yd = da.from_array(Y, chunks=(64, -1))
    p0 = np.array([2.0, 0.0, 1.0, 0.2])
    kw = dict(p0=p0)
    f, xdata = gauss, x
    if case == "chunks":
        kw["p0"] = da.from_array(np.tile(p0, (200, 1)), chunks=(50, 4))
    elif case == "ftol":
        kw["ftol"] = -1.0
    elif case == "python model":
        f = gauss.py_func
    elif case == "device":
        kw["device"] = "cuda"
    elif case == "shape":
        # a model whose output has the wrong length, inputs in memory: probed once
        f = njit(lambda x, a, mu, s, c: a * x[:10])
    elif case == "xdata":
        xdata = np.ones(7)
    elif case == "bounds":
        kw["bounds"] = (np.zeros(3), np.inf)
    elif case == "threads":
        kw["threads"] = 0
    elif case == "progress":
        kw["progress"] = "yes"
    elif case == "kwarg":
        kw["tolerance"] = 1.0
    counter = _Counter()
    with counter.cb:
        with pytest.raises(exc) as e:
            lsqcore.curve_fit_batch(f, xdata, Yd, **kw)
    assert counter.n == 0
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_a_failing_row_marks_only_itself_and_errors_name_the_rows():
    x, Y, _ = gauss_cube(K=120, seed=5)
    clean = lsqcore.curve_fit_batch(gauss, x, Y, p0=[2.0, 0.0, 1.0, 0.2])
    Y[70] = np.inf
    res = lsqcore.curve_fit_batch(gauss, x, da.from_array(Y, chunks=(40, -1)),
                                  p0=[2.0, 0.0, 1.0, 0.2]).compute()
    assert res.status[70] == NONFINITE_START and res.status[3] == NONFINITE_START
    assert np.isnan(res.x[70]).all()
    others = np.setdiff1d(np.arange(120), [70])
    for f in ("x", "cost", "status", "nfev"):          # the other rows untouched
        assert np.array_equal(getattr(res, f)[others], getattr(clean, f)[others],
                              equal_nan=True), f
    # nan_policy='raise' is data: the chunk's task raises, naming its rows
    lazy = lsqcore.curve_fit_batch(gauss, x, da.from_array(Y, chunks=(40, -1)),
                                   p0=[2.0, 0.0, 1.0, 0.2], nan_policy="raise")
    with pytest.raises(ValueError, match=r"in the chunk of rows 0\.\.39: .*nan_policy='raise'"):
        lazy.compute()


def test_progress_bar_on_the_local_scheduler(capsys):
    x, Y, _ = gauss_cube(K=60)
    res = lsqcore.curve_fit_batch(gauss, x, da.from_array(Y, chunks=(20, -1)),
                                  p0=[2.0, 0.0, 1.0, 0.2], progress=True)
    out = res.compute()
    assert "100% Completed" in capsys.readouterr().out
    assert len(out) == 60


def test_persist_keeps_a_lazy_result_and_in_memory_results_compute_to_themselves():
    x, Y, _ = gauss_cube(K=50)
    p0 = [2.0, 0.0, 1.0, 0.2]
    res = lsqcore.curve_fit_batch(gauss, x, da.from_array(Y, chunks=(25, -1)), p0=p0)
    kept = res.persist()
    assert kept.lazy
    assert_same(kept.compute(), res.compute())
    mem = lsqcore.curve_fit_batch(gauss, x, Y, p0=p0)
    assert mem.compute() is mem and mem.persist() is mem


def test_only_shared_inputs_lazy_and_the_missing_extra(monkeypatch):
    """A Dask 1-D xdata with numpy ydata: one chunk, the in-memory answer.
    Without Dask the lazy path names the extra to install."""
    x, Y, _ = gauss_cube(K=40)
    p0 = [2.0, 0.0, 1.0, 0.2]
    ref = lsqcore.curve_fit_batch(gauss, x, Y, p0=p0)
    res = lsqcore.curve_fit_batch(gauss, da.from_array(x, chunks=10), Y, p0=p0)
    assert res.lazy and len(res.x.chunks[0]) == 1
    assert_same(ref, res.compute())
    from lsqcore.batch import _dask
    monkeypatch.setitem(__import__("sys").modules, "dask.array", None)
    with pytest.raises(ImportError, match=r"lsqcore\[dask\]"):
        _dask.require_dask()


@njit(cache=True)
def plane(xy, a, b, c):
    return a * xy[0] + b * xy[1] + c


def test_several_predictors_per_row_on_dask():
    rng = np.random.default_rng(8)
    K, m = 90, 30
    X = rng.uniform(-1, 1, (K, 2, m))
    Y = 2.0 * X[:, 0] - X[:, 1] + 0.5 + 0.01 * rng.standard_normal((K, m))
    ref = lsqcore.curve_fit_batch(plane, X, Y, p0=[1.0, 1.0, 0.0])
    res = lsqcore.curve_fit_batch(plane, da.from_array(X, chunks=(30, 2, 10)),
                                  da.from_array(Y, chunks=(30, -1)), p0=[1.0, 1.0, 0.0])
    assert_same(ref, res.compute())
    assert ref.success.all() and np.allclose(ref.x, [2.0, -1.0, 0.5], atol=0.02)
