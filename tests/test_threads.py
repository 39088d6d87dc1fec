"""Thread safety: concurrent solves from several Python threads give bitwise the
same answers as the same solves run one after the other.

Each call owns its workspace; the shared state is read-only (cached option
arrays, the compiled kernels and drivers).  Problems differ per thread (data,
starts, methods, Jacobian kinds, losses, bounds) and run both through the
Python driver (plain numpy residuals) and the compiled driver (jitted
residuals; first compiled here, sequentially, so the threads race on the
solve itself and on the driver cache lookups rather than on compilation).
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

import lsqcore


def exp2_py(x, t, y):
    return x[0] * np.exp(-x[1] * t) + x[2] - y


@njit(cache=True)
def exp2_jit(x, t, y):
    return x[0] * np.exp(-x[1] * t) + x[2] - y


def rat_py(x, t, y):
    return (x[0] + x[1] * t) / (1.0 + x[2] * t) - y


@njit(cache=True)
def rat_jit(x, t, y):
    return (x[0] + x[1] * t) / (1.0 + x[2] * t) - y


def _tasks():
    tasks = []
    rng = np.random.default_rng(42)
    for k in range(24):
        t = np.linspace(0.0, 3.0, 30 + 7 * k)
        if k % 2:
            xt = np.array([2.0, 1.0 + 0.1 * k, 0.5])
            y = xt[0] * np.exp(-xt[1] * t) + xt[2] + 0.01 * rng.standard_normal(t.size)
            fun = exp2_jit if k % 4 == 1 else exp2_py
        else:
            xt = np.array([1.0, 0.5 + 0.05 * k, 0.8])
            y = (xt[0] + xt[1] * t) / (1.0 + xt[2] * t) + 0.01 * rng.standard_normal(t.size)
            fun = rat_jit if k % 4 == 0 else rat_py
        method = ("trf", "lm", "gn")[k % 3]
        kw = dict(method=method, args=(t, y), jac=("2-point", "3-point")[(k // 3) % 2])
        if method == "trf" and k % 5 == 0:
            kw["bounds"] = ([0.0, 0.0, 0.0], [10.0, 10.0, 10.0])
        if method != "lm" and k % 7 == 3:
            kw["loss"] = "soft_l1"
        tasks.append((fun, xt * 0.5 + 0.1, kw))
    return tasks


def _solve(task):
    fun, x0, kw = task
    with np.errstate(all="ignore"):
        r = lsqcore.least_squares(fun, x0.copy(), **kw)
    return (r.x.tobytes(), r.fun.tobytes(), r.jac.tobytes(), float(r.cost).hex(), r.nfev,
            r.njev, r.status)


def test_concurrent_equals_sequential():
    tasks = _tasks()
    sequential = [_solve(t) for t in tasks]          # also compiles the jitted drivers
    assert all(s[6] > 0 for s in sequential)
    for workers in (2, 4, 8):
        order = list(range(len(tasks)))
        np.random.default_rng(workers).shuffle(order)
        barrier = threading.Barrier(workers)

        def start(i):
            try:
                barrier.wait(timeout=0.5)
            except threading.BrokenBarrierError:
                pass
            return _solve(tasks[i])
        with ThreadPoolExecutor(max_workers=workers) as ex:
            results = dict(zip(order, ex.map(start, order * 3)))
            got = list(ex.map(start, order * 3))
        for j, i in enumerate(order * 3):
            assert got[j] == sequential[i], f"task {i} differs with {workers} threads"
        for i, r in results.items():
            assert r == sequential[i]
