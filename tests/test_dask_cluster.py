"""Batch fits on a ``dask.distributed`` LocalCluster of two worker processes.

One cluster (2 processes, 1 thread each) serves the module: rows bitwise
equal to the in-memory batch, the distributed progress bar, xarray's
chunked curvefit (lsqcore's against the in-memory one and against
xarray's own, both on the cluster), and -- last, since it restarts a worker -- a worker killed
with SIGKILL while the fit runs: Dask recomputes its chunks and the result
equals the undisturbed run.  A model defined in ``__main__`` of a script
(pickled by value to the workers) runs in a subprocess with its own cluster,
on the other core (tests/_background.py).
"""
import os
import signal
import sys
import textwrap
import time

import numpy as np
import pytest
import numba
from numba import njit

import _background

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

import lsqcore  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


@njit(cache=True)
def gauss_slow(x, a, mu, s, c):
    """A Gaussian whose evaluation costs ~40 of them (tasks long enough to
    kill a worker in the middle of the run)."""
    out = np.empty(x.size)
    for i in range(x.size):
        v = 0.0
        for r in range(40):
            v += np.exp(-(x[i] - mu - 1e-300 * r) ** 2 / (2.0 * s * s))
        out[i] = a * v / 40.0 + c
    return out


def data(K, m=40, seed=0):
    rng = np.random.default_rng(seed)
    x = np.linspace(-3.0, 3.0, m)
    P = np.column_stack([rng.uniform(1, 3, K), rng.uniform(-0.5, 0.5, K),
                         rng.uniform(0.5, 1.2, K), rng.uniform(0, 0.5, K)])
    Y = P[:, :1] * np.exp(-(x - P[:, 1:2]) ** 2 / (2 * P[:, 2:3] ** 2)) + P[:, 3:] \
        + 0.02 * rng.standard_normal((K, m))
    Y[1] = np.nan
    return x, Y


P0 = np.array([2.0, 0.0, 1.0, 0.2])


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=50)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def same(a, b):
    for f in ("x", "cost", "status", "nfev", "njev", "nit", "optimality", "pcov"):
        u, v = getattr(a, f), getattr(b, f)
        if u is None:
            assert v is None
            continue
        assert np.array_equal(u, v, equal_nan=True), f


def test_rows_equal_the_in_memory_batch(client, capsys):
    x, Y = data(400)
    ref = lsqcore.curve_fit_batch(gauss_slow, x, Y, p0=P0, return_pcov=True)
    lazy = lsqcore.curve_fit_batch(gauss_slow, x, da.from_array(Y, chunks=(50, -1)), p0=P0,
                                   return_pcov=True, progress=True)
    out = lazy.compute()
    same(ref, out)
    assert out.status[1] == lsqcore.batch.NONFINITE_START
    # a task's engine runs on its worker's thread count (one here), in the worker process
    who = [client.submit(lambda: (os.getpid(), lsqcore.batch._dask.engine_threads()),
                         workers=[w], pure=False).result()
           for w in client.scheduler_info()["workers"]]
    assert len(who) == 2 and {t for _, t in who} == {1}
    assert all(pid != os.getpid() for pid, _ in who)
    assert lsqcore.batch._dask.engine_threads() == numba.config.NUMBA_NUM_THREADS


def test_xarray_curvefit_on_the_cluster(client):
    xr = pytest.importorskip("xarray")
    from lsqcore.xarray import curvefit
    x, Y = data(120, seed=1)
    arr = xr.DataArray(Y.reshape(10, 12, -1), dims=("row", "col", "x"), coords={"x": x})
    p0 = dict(zip(("a", "mu", "s", "c"), P0))
    mem = curvefit(arr, "x", gauss_slow, p0=p0, errors="ignore")
    dist = curvefit(arr.chunk({"row": 3}), "x", gauss_slow, p0=p0, errors="ignore").compute()
    for v in mem.data_vars:
        assert np.array_equal(mem[v].values, dist[v].values, equal_nan=True)


def test_equals_xarray_curvefit_on_the_cluster(client):
    """The acceptance case of tests/test_xarray_curvefit.py with both sides on
    the cluster: xarray's own ``curvefit`` (scipy, pixel by pixel, in the
    workers) and lsqcore's on the same chunks, with NaN pixels (``skipna``)
    and a failed fit (``errors='ignore'``): the same dims, coords and NaN
    pixels, coefficients and covariances to 1e-10 relative."""
    txc = pytest.importorskip("test_xarray_curvefit")
    from lsqcore.xarray import curvefit
    data = txc.cube().chunk({"y": 3, "x": 4})
    ref = data.curvefit("t", txc.decay, p0=txc.P0, kwargs=txc.TRF_JAC, errors="ignore")
    out = curvefit(data, "t", txc.decay, p0=txc.P0, kwargs=txc.TRF_JAC, errors="ignore")
    assert out.curvefit_coefficients.chunks is not None
    ref, out = ref.compute(), out.compute()
    txc.same_structure(ref, out)
    c = ref.curvefit_coefficients.values
    assert np.isnan(c[2, 3]).all() and np.isnan(c[6, 1]).all()   # empty and failed pixels
    assert np.isfinite(c[4, 5]).all()
    assert txc.rel(c, out.curvefit_coefficients.values) <= 1e-10
    assert txc.rel(ref.curvefit_covariance.values, out.curvefit_covariance.values) <= 1e-10


def test_library_sums_travel_to_the_workers(client):
    """A sum of library models lives in a module generated by this process,
    which the workers do not have: it travels as its recipe (components)
    and is built again there.  Rows bitwise equal to the in-memory batch,
    with the sum's guess (no p0) and a user-defined single Model too."""
    from lsqcore import models as M
    x, Y = data(200, seed=2)
    own = M.Model("bump", ("a", "mu", "s"), M.gaussian.point, guess=M.gaussian._guess)
    for model in (M.gaussian + M.constant, own + M.linear):
        ref = lsqcore.curve_fit_batch(model, x, Y)
        lazy = lsqcore.curve_fit_batch(model, x, da.from_array(Y, chunks=(50, -1)))
        # (before the recipe the workers could not unpickle the model and the
        # computation hung: give up after a while rather than hang the suite)
        import concurrent.futures
        pool = concurrent.futures.ThreadPoolExecutor(1)
        try:
            out = pool.submit(lazy.compute).result(timeout=300)
        finally:
            pool.shutdown(wait=False)
        same(ref, out)
        assert ref.success.sum() == 199


def test_a_killed_worker_loses_no_fit(client):
    """SIGKILL one worker while chunks run: the result equals the undisturbed one."""
    x, Y = data(480, seed=2)
    ref = lsqcore.curve_fit_batch(gauss_slow, x, Y, p0=P0)
    lazy = lsqcore.curve_fit_batch(gauss_slow, x, da.from_array(Y, chunks=(30, -1)), p0=P0)
    futures = client.compute([lazy.x, lazy.cost, lazy.status, lazy.nfev])
    pids = client.run(os.getpid)
    deadline = time.time() + 120
    victim = None
    while victim is None and time.time() < deadline:
        busy = [w for w, keys in client.processing().items() if keys]
        done = sum(1 for f in futures if f.done())
        if busy and done == 0:
            victim = busy[0]
        else:
            time.sleep(0.05)
    assert victim is not None, "no worker was busy"
    os.kill(pids[victim], signal.SIGKILL)
    assert not all(f.done() for f in futures)          # killed mid-run
    x_, cost, status, nfev = client.gather(futures, errors="raise")
    assert np.array_equal(x_, ref.x, equal_nan=True)
    assert np.array_equal(cost, ref.cost, equal_nan=True)
    assert np.array_equal(status, ref.status) and np.array_equal(nfev, ref.nfev)
    assert set(client.run(os.getpid).values()) != set(pids.values())   # a worker was replaced


MAIN_SCRIPT = textwrap.dedent('''
    import numpy as np
    from numba import njit
    import dask.array as da
    from distributed import Client, LocalCluster
    import lsqcore

    @njit
    def line_model(x, a, b):          # defined in __main__: pickled by value
        return a * x + b

    if __name__ == "__main__":
        x = np.linspace(0.0, 1.0, 20)
        Y = 2.0 * x + 1.0 + 0.01 * np.random.default_rng(0).standard_normal((64, 20))
        ref = lsqcore.curve_fit_batch(line_model, x, Y, p0=[1.0, 0.0])
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=":0", silence_logs=50) as cluster, \\
                Client(cluster) as client:
            out = lsqcore.curve_fit_batch(line_model, x, da.from_array(Y, chunks=(16, -1)),
                                          p0=[1.0, 0.0]).compute()
            pids = set(client.run(lambda: __import__("os").getpid()).values())
        assert np.array_equal(out.x, ref.x) and out.success.all()
        print("MAIN_MODEL_OK", len(pids))
''')
_background.job("dask-main-model", [sys.executable, "-c", MAIN_SCRIPT], cwd=ROOT, timeout=600,
                env=dict(os.environ, PYTHONPATH=ROOT + os.pathsep
                         + os.environ.get("PYTHONPATH", "")))


@pytest.mark.background("dask-main-model")
def test_a_model_defined_in_main_runs_on_the_workers():
    p = _background.result("dask-main-model")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    assert "MAIN_MODEL_OK 2" in p.stdout
