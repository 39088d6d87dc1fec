"""Issue 3 benchmarks: single fits W1-W3 against scipy in the same run.

    python -m pytest benchmarks/bench_single.py --benchmark-enable -s

Every lsqcore case and its scipy reference are timed by pytest-benchmark in
the same session; ``test_summary`` prints the ratios (median scipy time /
median lsqcore time) and writes them to ``benchmarks/bench_single.json``,
which docs/benchmarks.md records.  W3 (m = 200000) is slow on scipy's side
(seconds per fit): set ``LSQ_BENCH_W3=0`` to leave it out.
"""
import json
import os
import platform

import numba
import numpy as np
import pytest
import scipy
from scipy.optimize import curve_fit as scipy_curve_fit
from scipy.optimize import least_squares as scipy_ls

import lsqcore
from lsqcore._workloads import WORKLOADS, exp_decay_inplace

RESULTS = {}
NAMES = ["W1", "W2"] + (["W3"] if os.environ.get("LSQ_BENCH_W3", "1") != "0" else [])


def _record(key, benchmark, cost):
    RESULTS[key] = dict(median_s=benchmark.stats.stats.median, cost=float(cost))


def _rounds(w):
    return dict(rounds=200, iterations=1, warmup_rounds=3) if w.m <= 100 else \
        dict(rounds=20, iterations=1, warmup_rounds=1) if w.m <= 5000 else \
        dict(rounds=2, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("method", ["trf", "lm"])
def test_scipy(benchmark, name, method):
    w = WORKLOADS[name]()
    kw = _rounds(w)
    kw["rounds"] = max(2, kw["rounds"] // 10)
    res = benchmark.pedantic(scipy_ls, args=(w.py_fun, w.x0), kwargs=dict(args=w.args, method=method),
                             **kw)
    _record((name, method, "scipy"), benchmark, res.cost)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("method", ["trf", "lm"])
def test_lsqcore_jitted(benchmark, name, method):
    w = WORKLOADS[name]()
    res = benchmark.pedantic(lsqcore.least_squares, args=(w.fun, w.x0),
                             kwargs=dict(args=w.args, method=method), **_rounds(w))
    assert res.success
    _record((name, method, "jitted"), benchmark, res.cost)


@pytest.mark.parametrize("method", ["trf", "lm"])
def test_lsqcore_python_w1(benchmark, method):
    w = WORKLOADS["W1"]()
    res = benchmark.pedantic(lsqcore.least_squares, args=(w.py_fun, w.x0),
                             kwargs=dict(args=w.args, method=method), **_rounds(w))
    _record(("W1", method, "python"), benchmark, res.cost)


def test_lsqcore_inplace_w1(benchmark):
    w = WORKLOADS["W1"]()
    f = lsqcore.InPlace(exp_decay_inplace, w.m)
    res = benchmark.pedantic(lsqcore.least_squares, args=(f, w.x0), kwargs=dict(args=w.args),
                             **_rounds(w))
    _record(("W1", "trf", "inplace"), benchmark, res.cost)


def _model(t, a, b, c):
    return a * np.exp(-b * t) + c


def test_scipy_curve_fit_w1(benchmark):
    w = WORKLOADS["W1"]()
    t, y = w.args
    benchmark.pedantic(scipy_curve_fit, args=(_model, t, y + 0.0), kwargs=dict(p0=w.x0),
                       rounds=50, iterations=1, warmup_rounds=3)
    RESULTS[("W1", "curve_fit", "scipy")] = dict(median_s=benchmark.stats.stats.median, cost=0.0)


def test_summary():
    rows = []
    for (name, method, kind), v in sorted(RESULTS.items()):
        if kind == "scipy":
            continue
        ref = RESULTS.get((name, "trf", "scipy")) if kind != "scipy" else None
        ref_m = RESULTS.get((name, method, "scipy"))
        rows.append(dict(workload=name, method=method, kind=kind, lsqcore_us=v["median_s"] * 1e6,
                         scipy_same_method_us=ref_m["median_s"] * 1e6 if ref_m else None,
                         ratio_same_method=ref_m["median_s"] / v["median_s"] if ref_m else None,
                         ratio_vs_scipy_trf=ref["median_s"] / v["median_s"] if ref else None,
                         lsqcore_cost=v["cost"], scipy_cost=ref_m["cost"] if ref_m else None))
    cf = RESULTS.get(("W1", "curve_fit", "scipy"))
    out = dict(machine=platform.processor() or platform.machine(), cpus=os.cpu_count(),
               numba=numba.__version__, numpy=np.__version__, scipy=scipy.__version__,
               scipy_curve_fit_w1_us=cf["median_s"] * 1e6 if cf else None, rows=rows)
    for r in rows:
        print(f"{r['workload']} {r['method']:<4} {r['kind']:<8} {r['lsqcore_us']:>10.1f} us  "
              f"x{(r['ratio_same_method'] or float('nan')):>6.1f} vs scipy {r['method']}  "
              f"x{(r['ratio_vs_scipy_trf'] or float('nan')):>6.1f} vs scipy trf"
              + (f"  x{cf['median_s'] * 1e6 / r['lsqcore_us']:.1f} vs curve_fit"
                 if cf and r['workload'] == 'W1' else ""))
    with open(os.path.join(os.path.dirname(__file__), "bench_single.json"), "w") as fh:
        json.dump(out, fh, indent=1)
    assert rows
