"""The model library's figures (issue 21): python benchmarks/models.py [study|speed|all].

speed: W4 (100 000 fits of a exp(-b t) + c, m = 30) by finite differences
against the library's exponential (exact Jacobian, a decay time tau = 1/b),
and Gpufit's 2-D Gaussian benchmark (5 x 5 pixels, 5 parameters) in fits/s
per core, one thread, float64; best of 3 runs, interleaved, repeated
ROUNDS times (medians and ranges).  study: for every model, the fraction of
10 000 noisy curves whose fit from the model's guess (and from a fixed p0,
scipy's default p0 of ones) reaches the optimum found from the true
values (the generator of tests/_models_suite.py).  OUT=dir writes models.json.
"""
import json
import os
import sys
import time

import numpy as np
import numba
import scipy

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from lsqcore import curve_fit_batch, models as M  # noqa: E402
from lsqcore._workloads import expdecay, expdecay_ip, w4_data, W4_T  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "3"))


def best_rate(fn, K, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return K / best


def speed(out):
    K = 100000
    P, Y = w4_data(K)
    p0 = np.array([2.0, 1.0, 0.0])
    tau0 = np.array([2.0, 1.0, 0.0])           # b = 1 is tau = 1
    variants = {
        "w4_fd_lm": lambda th: curve_fit_batch(expdecay, W4_T, Y, p0=p0, method="lm",
                                               threads=th, progress=False),
        "w4_fd_inplace_lm": lambda th: curve_fit_batch(expdecay_ip, W4_T, Y, p0=p0, method="lm",
                                                       inplace=True, threads=th, progress=False),
        "w4_library_lm": lambda th: curve_fit_batch(M.exponential, W4_T, Y, p0=tau0, method="lm",
                                                    threads=th, progress=False),
        "w4_library_default": lambda th: curve_fit_batch(M.exponential, W4_T, Y, threads=th,
                                                         progress=False),
    }
    # Gpufit's benchmark: a 5 x 5 spot, 5 parameters
    u, v = np.meshgrid(np.arange(5.0), np.arange(5.0))
    X2 = np.vstack([u.ravel(), v.ravel()])[None]
    rng = np.random.default_rng(0)
    T2 = np.column_stack([rng.uniform(500, 1500, K), rng.uniform(1.5, 2.5, K),
                          rng.uniform(1.5, 2.5, K), rng.uniform(0.8, 1.2, K),
                          rng.uniform(5, 15, K)])
    Y2 = np.array([M.gaussian2d(X2[0], *p) for p in T2])
    Y2 = rng.poisson(Y2).astype(float)
    variants["g2d_5x5_p0"] = lambda th: curve_fit_batch(M.gaussian2d, X2, Y2, p0=[1000, 2, 2, 1, 10],
                                                        method="lm", threads=th, progress=False)
    variants["g2d_5x5_guess_lm"] = lambda th: curve_fit_batch(M.gaussian2d, X2, Y2, method="lm",
                                                              threads=th, progress=False)
    variants["g2d_5x5_poisson"] = lambda th: curve_fit_batch(M.gaussian2d, X2, Y2,
                                                             estimator="poisson", method="lm",
                                                             threads=th, progress=False)
    for fn in variants.values():
        fn(1)                                   # compile
    rates = {f"{k}_{th}t": [] for k in variants for th in (1, 2)}
    for _ in range(ROUNDS):
        for name, fn in variants.items():
            for th in (1, 2):
                rates[f"{name}_{th}t"].append(best_rate(lambda: fn(th), K))
    for k, v in rates.items():
        out[k] = dict(median=float(np.median(v)), lo=float(min(v)), hi=float(max(v)))
        print(f"{k:28s} {np.median(v):10.0f} fits/s [{min(v):.0f}-{max(v):.0f}]", flush=True)
    for th in (1, 2):
        r = [a / b for a, b in zip(rates[f"w4_library_lm_{th}t"], rates[f"w4_fd_lm_{th}t"])]
        out[f"w4_library_over_fd_{th}t"] = dict(median=float(np.median(r)), lo=min(r), hi=max(r))
        print(f"W4 library / FD, {th} thread(s): {np.median(r):.2f}x [{min(r):.2f}-{max(r):.2f}]")
    ref = curve_fit_batch(M.gaussian2d, X2, Y2[:2000], p0=[1000, 2, 2, 1, 10], method="lm")
    out["g2d_success"] = float(ref.success.mean())


def study(out, K=10000):
    from _models_suite import _study
    for name in sorted(M.LIBRARY):
        if name in ("constant", "linear", "polynomial3"):
            continue
        t0 = time.perf_counter()
        g, f = _study(name, K)
        out[f"guess_{name}"] = dict(guess=float(g), fixed=float(f))
        print(f"{name:24s} guess {100 * g:6.2f} %  fixed p0 {100 * f:6.2f} %  "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    out = dict(cpu=os.cpu_count(), numba=numba.__version__, numpy=np.__version__,
               scipy=scipy.__version__, rounds=ROUNDS)
    if what in ("speed", "all"):
        speed(out)
    if what in ("study", "all"):
        study(out)
    if os.environ.get("OUT"):
        json.dump(out, open(os.path.join(os.environ["OUT"], "models.json"), "w"), indent=1)
