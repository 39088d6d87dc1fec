"""How fast could any solver be?  The model-evaluation bound of W1-W4.

A least-squares solve with a finite-difference Jacobian calls the user's model
``nfev + n * njev`` times.  lsqcore and scipy make the *same* calls on W1-W3
(same iterates, same counts), so the time of those model calls alone, run
back to back in compiled code, is a floor under any solver that gives scipy's
answers with the same Jacobian, however cheap its linear algebra:

    best possible ratio = scipy time / model-evaluation time.

For W4 (many fits of m = 30) the floor is per fit: ``threads / (evaluations
per fit * time of one evaluation)`` fits per second.

Run::

    python benchmarks/eval_bound.py            # W1-W4
    python benchmarks/eval_bound.py W2 W4

Prints one line per workload (the figures go into docs/benchmarks.md).
"""
import os
import sys
import warnings

import numba
import numpy as np
import scipy.optimize as so
from numba import njit

sys.path.insert(0, os.path.dirname(__file__))
import lsqcore  # noqa: E402
from lsqcore._workloads import WORKLOADS  # noqa: E402
from lsqcore.cli.demo import _median_time as _median  # noqa: E402

TARGETS = {"W1": "<= 10 us and >= 100x trf", "W2": ">= 50x trf", "W3": ">= 3x trf",
           "W4": ">= 500000 fits/s (2 cores)"}


def _evaluation_loop(fun):
    """A compiled loop calling ``fun(x, *args)`` ``k`` times per repetition, at
    slightly different ``x`` (so nothing is hoisted out of the loop)."""
    @njit
    def loop(x, args, k, reps):
        acc = 0.0
        for _ in range(reps):
            for i in range(k):
                x[0] += 1e-12
                r = fun(x, *args)
                acc += r[0]
        return acc
    return loop


def single(name):
    w = WORKLOADS[name]()
    big = w.m > 10000
    r = lsqcore.least_squares(w.fun, w.x0, args=w.args)
    s = so.least_squares(w.py_fun, w.x0, args=w.args)
    k = r.nfev + w.n * r.njev
    loop = _evaluation_loop(w.fun)
    x = w.x0.copy()
    loop(x, w.args, 1, 1)
    reps = 1 if big else 2000
    t_model = _median(lambda: loop(x, w.args, k, reps), 5 if big else 7) / reps
    t_ls = _median(lambda: lsqcore.least_squares(w.fun, w.x0, args=w.args), 5 if big else 300)
    t_sp = _median(lambda: so.least_squares(w.py_fun, w.x0, args=w.args), 3 if big else 30)
    print(f"{name}: {k} model calls (lsqcore nfev {r.nfev} njev {r.njev}; scipy nfev {s.nfev} "
          f"njev {s.njev}); model calls alone {t_model * 1e6:.1f} us; lsqcore {t_ls * 1e6:.1f} us; "
          f"scipy trf {t_sp * 1e6:.1f} us; ratio {t_sp / t_ls:.1f}x; best possible ratio "
          f"{t_sp / t_model:.1f}x; target {TARGETS[name]}", flush=True)


def w4():
    from bench_batch import T, P0, expdecay, expdecay_ip, w4_data
    from lsqcore.batch import curve_fit_batch
    K = 20000
    _, Y = w4_data(K)
    threads = min(2, numba.config.NUMBA_NUM_THREADS)

    @njit
    def calls_alloc(p, t, y, k):
        acc = 0.0
        out = np.empty(t.shape[0])
        for i in range(k):
            f = expdecay(t, p[0] + i * 1e-12, p[1], p[2])
            for j in range(t.shape[0]):      # the residual, as the batch forms it
                out[j] = f[j] - y[j]
            acc += out[0]
        return acc

    @njit
    def calls_inplace(p, t, y, k):
        acc = 0.0
        out = np.empty(t.shape[0])
        for i in range(k):
            expdecay_ip(t, p[0] + i * 1e-12, p[1], p[2], out)
            for j in range(t.shape[0]):
                out[j] -= y[j]
            acc += out[0]
        return acc

    p = np.asarray(P0, float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = curve_fit_batch(expdecay, T, Y, p0=P0, threads=threads, progress=False)
    per_fit = float(np.mean(r.nfev + 3 * r.njev))
    for label, fn in (("allocating model", calls_alloc), ("in-place model", calls_inplace)):
        fn(p, T, Y[0], 2)
        n = 200000
        t_call = _median(lambda: fn(p, T, Y[0], n), 5) / n
        bound = threads / (per_fit * t_call)
        print(f"W4 ({label}): {per_fit:.1f} model calls per fit (lm, 2-point), "
              f"{t_call * 1e9:.0f} ns each -> at most {bound:,.0f} fits/s on {threads} threads with "
              f"a solver of zero cost; target {TARGETS['W4']}", flush=True)


def main(argv):
    names = argv or ["W1", "W2", "W3", "W4"]
    print(f"numba {numba.__version__}, numpy {np.__version__}, cores {os.cpu_count()}")
    for name in names:
        w4() if name == "W4" else single(name)


if __name__ == "__main__":
    main(sys.argv[1:])
