"""Per-call timing shared by the benchmarks that compare one call with its scipy twin."""
import time

import numpy as np


def per_call(f, repeat, fill):
    """Seconds per call of ``f``: after a warm-up call, the best of ``repeat`` loops
    of as many calls as fill about ``fill`` seconds."""
    f()
    t0 = time.perf_counter()
    f()
    one = time.perf_counter() - t0
    k = max(1, int(fill / max(one, 1e-7)))
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(k):
            f()
        best = min(best, (time.perf_counter() - t0) / k)
    return best


def best_of(call, reps):
    """Seconds of the fastest of ``reps`` single calls of ``call``."""
    best = np.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t0)
    return best
