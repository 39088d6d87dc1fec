"""Quick W4 figures without pytest: python benchmarks/w4_quick.py [rows].

W4_THREADS=1,2,16 picks the thread counts (default 1,2); OUT=dir also
writes w4_quick.json there.
"""
import json, os, sys, time, warnings
import numpy as np, numba, scipy
sys.path.insert(0, os.path.dirname(__file__))
from scipy.optimize import curve_fit as sp_curve_fit
from lsqcore.batch import curve_fit_batch
from bench_batch import expdecay, expdecay_ip, expdecay_jac_ip, w4_data, T, P0

K = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
P, Y = w4_data(K)
out = dict(cpu=os.cpu_count(), numba=numba.__version__, numpy=np.__version__,
           scipy=scipy.__version__, K=K)
rows = 1000
t0 = time.perf_counter()
with warnings.catch_warnings(), np.errstate(all="ignore"):
    warnings.simplefilter("ignore")
    ref = np.array([sp_curve_fit(expdecay.py_func, T, Y[k], p0=P0)[0] for k in range(rows)])
out["scipy_fits_per_s"] = rows / (time.perf_counter() - t0)
variants = dict(lm=dict(f=expdecay, method="lm"), trf=dict(f=expdecay, method="trf"),
                lm_inplace=dict(f=expdecay_ip, method="lm", inplace=True),
                lm_inplace_jac=dict(f=expdecay_ip, method="lm", inplace=True, jac=expdecay_jac_ip))
for name, kw in variants.items():
    kw = dict(kw); f = kw.pop("f")
    t0 = time.perf_counter()
    curve_fit_batch(f, T, Y[:64], p0=P0, threads=1, progress=False, **kw)
    out[name + "_first_call_s"] = time.perf_counter() - t0
    thread_list = [int(t) for t in os.environ.get("W4_THREADS", "1,2").split(",")]
    for th in [t for t in thread_list if t <= numba.config.NUMBA_NUM_THREADS]:
        best = 1e9
        for _ in range(3):
            t0 = time.perf_counter()
            r = curve_fit_batch(f, T, Y, p0=P0, threads=th, progress=False, **kw)
            best = min(best, time.perf_counter() - t0)
        agree = np.mean(np.all(np.abs(r.x[:rows] - ref) <= 1e-4 * np.abs(ref) + 1e-6, axis=1))
        out[f"{name}_{th}t_fits_per_s"] = K / best
        out[f"{name}_agree"] = float(agree)
        print(name, th, round(K / best), "fits/s", "agree", agree, flush=True)
print(json.dumps(out, indent=1))
if os.environ.get("OUT"):
    json.dump(out, open(os.path.join(os.environ["OUT"], "w4_quick.json"), "w"), indent=1)
