"""The scipy front ends with a plain-numpy model: lsqcore against scipy, same run.

    python benchmarks/python_calls.py [rounds]

What most users call: ``curve_fit`` (default 'lm', and 'trf' with bounds),
``leastsq`` and ``least_squares`` ('lm', 'trf') on a model written in
numpy, not jitted.  Every call goes through lsqcore's Python driver, where
the model's own time (about 2.5 us a call here) and the driver's per-call
and per-fit overheads decide the speed, not the compiled solver.

Two problems: W1's exponential decay (m = 50, n = 3) and a Gaussian on a
background (m = 40, n = 4).  Each round times every case (per call: the best of 5 loops of ~0.05 s,
``benchmarks/_timing.per_call``),
in turn; the report gives, per case, the median and range over
rounds of the time per fit and of the ratio scipy / lsqcore, and the model
calls each makes (``nfev`` as MINPACK counts them: every call).  Answers are
checked against scipy's first (parameters within 1e-5 relative: the default
tolerances stop both a little short of the exact minimum).
"""
import sys

import numpy as np
import scipy.optimize as so

import lsqcore

from _timing import per_call   # benchmarks/_timing.py

RNG = np.random.default_rng(0)
T = np.linspace(0.0, 4.0, 50)
Y = 2.5 * np.exp(-1.3 * T) + 0.5 + 0.02 * RNG.standard_normal(50)
XG = np.linspace(-5.0, 5.0, 40)
YG = 3.0 * np.exp(-(XG - 0.3) ** 2 / (2 * 1.2 ** 2)) + 0.1 + 0.05 * RNG.standard_normal(40)


def decay(t, a, k, c):
    return a * np.exp(-k * t) + c


def decay_resid(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] - y


def gauss(x, a, mu, s, c):
    return a * np.exp(-(x - mu) ** 2 / (2 * s * s)) + c


def gauss_resid(p, x, y):
    return gauss(x, *p) - y


def cases(lib):
    """``name -> call returning the fitted parameters``, for ``lib`` scipy.optimize or lsqcore."""
    b3 = ([0, 0, -1], [10, 10, 1])
    return {
        "curve_fit W1 (lm)": lambda: lib.curve_fit(decay, T, Y, p0=[1, 1, 0])[0],
        "curve_fit W1 bounds (trf)": lambda: lib.curve_fit(decay, T, Y, p0=[1, 1, 0],
                                                           bounds=b3)[0],
        "curve_fit Gaussian (lm)": lambda: lib.curve_fit(gauss, XG, YG, p0=[1, 0, 1, 0])[0],
        "leastsq W1": lambda: lib.leastsq(decay_resid, [1, 1, 0], args=(T, Y))[0],
        "leastsq Gaussian": lambda: lib.leastsq(gauss_resid, [1, 0, 1, 0], args=(XG, YG))[0],
        "least_squares W1 lm": lambda: lib.least_squares(decay_resid, [1, 1, 0], args=(T, Y),
                                                         method="lm").x,
        "least_squares W1 trf": lambda: lib.least_squares(decay_resid, [1, 1, 0],
                                                          args=(T, Y)).x,
    }


CALLS = [0]


def calls_of(call):
    """The model calls one run of ``call`` makes (the module's models counted)."""
    global decay, decay_resid, gauss
    saved = decay, decay_resid, gauss

    def counting(g):
        def h(*a):
            CALLS[0] += 1
            return g(*a)
        return h
    decay, decay_resid, gauss = (counting(g) for g in saved)
    try:
        CALLS[0] = 0
        call()
        return CALLS[0]
    finally:
        decay, decay_resid, gauss = saved


def main(rounds=5):
    sp, lc = cases(so), cases(lsqcore)
    for name in sp:
        np.testing.assert_allclose(lc[name](), sp[name](), rtol=1e-5, atol=1e-8, err_msg=name)
    calls = {name: (calls_of(sp[name]), calls_of(lc[name])) for name in sp}
    t = {(lib, name): [] for lib in ("scipy", "lsqcore") for name in sp}
    for _ in range(rounds):
        for name in sp:
            t["scipy", name].append(per_call(sp[name], 5, 0.05))
            t["lsqcore", name].append(per_call(lc[name], 5, 0.05))
    print(f"{'case':28s} {'scipy us':>18s} {'lsqcore us':>18s} {'scipy/lsqcore':>20s} "
          "model calls (scipy, lsqcore)")
    for name in sp:
        a, b = np.array(t["scipy", name]) * 1e6, np.array(t["lsqcore", name]) * 1e6
        r = a / b
        print(f"{name:28s} {np.median(a):8.1f} [{a.min():.0f}-{a.max():.0f}] "
              f"{np.median(b):8.1f} [{b.min():.0f}-{b.max():.0f}] "
              f"{np.median(r):8.2f}x [{r.min():.2f}-{r.max():.2f}]  {calls[name]}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
