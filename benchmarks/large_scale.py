"""Large sparse problems: lsqcore against scipy's trf+lsmr with ``jac_sparsity``, same run.

Problems (issue 18):

* a synthetic bundle adjustment of the size of the BAL "Ladybug" example of
  scipy's cookbook: 49 cameras (rotation vector, translation, focal length,
  two radial distortion terms: 9 parameters), 7 776 points (3), 31 843
  observations (2 residuals each): n = 23 769, m = 63 686.  Ground truth
  from a fixed seed; observations with 0.5 px noise; the start perturbs
  every parameter.  Solved with ``jac_sparsity`` and ``x_scale='jac'``,
  ``ftol=1e-4`` (the cookbook's settings);
* extended Rosenbrock and Broyden banded (More, Garbow and Hillstrom 1981)
  at n = 10^3, 10^4, 10^5 with ``jac_sparsity``.

Each solve runs in a fresh process, so that its peak memory (the growth of
the resident set over the process after imports and a warm-up fit) is its
own; runs of the libraries alternate, and each figure is the median of
``--repeat`` runs (range in brackets).  The residuals are the same numpy
functions for both libraries (lsqcore: also a Numba-compiled residual,
``lsqcore (jit)``, which runs the whole solve in compiled code, and the same
with ``tr_options={'preconditioner': 'block-jacobi'}``, ``lsqcore (jit, BJ)``:
lsqcore's block-Jacobi preconditioned LSMR, which scipy does not have).

Usage: ``python benchmarks/large_scale.py [--repeat 3] [--quick] [--only PROBLEM]``
"""
import argparse
import functools
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _jit():
    from numba import njit
    return njit(cache=True, error_model="numpy")


# ---- the residuals compiled with Numba (lsqcore's fully compiled path) --------------

@functools.lru_cache(maxsize=None)
def jitted():
    """The three residuals as Numba functions: ``{name: fun}`` (fun(x, *args)); the
    bundle adjustment's written here, the MGH problems' from lsqcore.problems."""
    import math
    jit = _jit()

    @jit
    def bundle_jit(x, cam_idx, pt_idx, obs, n_cameras):
        f = np.empty(2 * obs.shape[0])
        for k in range(obs.shape[0]):
            c = cam_idx[k] * 9
            p = n_cameras * 9 + pt_idx[k] * 3
            X, Y, Z = x[p], x[p + 1], x[p + 2]
            theta = math.sqrt(x[c] ** 2 + x[c + 1] ** 2 + x[c + 2] ** 2)
            if theta > 0.0:
                v0, v1, v2 = x[c] / theta, x[c + 1] / theta, x[c + 2] / theta
                cs, sn = math.cos(theta), math.sin(theta)
                d = (X * v0 + Y * v1 + Z * v2) * (1.0 - cs)
                X, Y, Z = (cs * X + sn * (v1 * Z - v2 * Y) + d * v0,
                           cs * Y + sn * (v2 * X - v0 * Z) + d * v1,
                           cs * Z + sn * (v0 * Y - v1 * X) + d * v2)
            X += x[c + 3]
            Y += x[c + 4]
            Z += x[c + 5]
            u = -X / Z
            w = -Y / Z
            r2 = u * u + w * w
            s = x[c + 6] * (1.0 + x[c + 7] * r2 + x[c + 8] * r2 * r2)
            f[2 * k] = u * s - obs[k, 0]
            f[2 * k + 1] = w * s - obs[k, 1]
        return f
    # the two MGH residuals are the library's own (lsqcore.problems)
    from lsqcore import problems
    return {"extended_rosenbrock": problems.get("extended_rosenbrock").fun,
            "broyden_banded": problems.get("broyden_banded").fun, "bundle_adjustment": bundle_jit}


# ---- problems ---------------------------------------------------------------------

def rosenbrock(n):
    def fun(x):
        f = np.empty(n)
        f[0::2] = 10.0 * (x[1::2] - x[0::2] ** 2)
        f[1::2] = 1.0 - x[0::2]
        return f
    import scipy.sparse as sp
    i = np.arange(n)
    pattern = sp.csr_array((np.ones(2 * n), (np.repeat(i, 2), np.stack([i - i % 2, i - i % 2 + 1], 1).ravel())),
                           shape=(n, n))
    return fun, np.tile([-1.2, 1.0], n // 2), pattern, {}, ()


def broyden_banded(n):
    ml, mu = 5, 1

    def fun(x):
        f = x * (2.0 + 5.0 * x * x) + 1.0
        for k in range(1, ml + 1):
            f[k:] -= x[:-k] * (1.0 + x[:-k])
        for k in range(1, mu + 1):
            f[:-k] -= x[k:] * (1.0 + x[k:])
        return f
    import scipy.sparse as sp
    pattern = sp.diags_array([np.ones(n - abs(k)) for k in range(-ml, mu + 1)],
                             offsets=list(range(-ml, mu + 1)), shape=(n, n), format="csr")
    return fun, -np.ones(n), pattern, {}, ()


def _rotate(points, rot_vecs):
    """Rodrigues' formula: each point rotated by its rotation vector."""
    theta = np.linalg.norm(rot_vecs, axis=1)[:, None]
    with np.errstate(invalid="ignore"):
        v = np.nan_to_num(rot_vecs / theta)
    dot = np.sum(points * v, axis=1)[:, None]
    cos, sin = np.cos(theta), np.sin(theta)
    return cos * points + sin * np.cross(v, points) + dot * (1 - cos) * v


def bundle_adjustment(seed=0, n_cameras=49, n_points=7776, n_obs=31843, spread=0.05):
    rng = np.random.default_rng(seed)
    cams = np.zeros((n_cameras, 9))
    cams[:, :3] = 0.1 * rng.standard_normal((n_cameras, 3))
    cams[:, 3:5] = rng.standard_normal((n_cameras, 2))
    cams[:, 5] = -8.0 - rng.random(n_cameras)
    cams[:, 6] = 500.0 + 50.0 * rng.random(n_cameras)
    cams[:, 7] = -1e-7 * rng.random(n_cameras)
    cams[:, 8] = 1e-13 * rng.random(n_cameras)
    pts = rng.standard_normal((n_points, 3)) * [1.0, 1.0, 0.5]
    # every point seen by at least one camera, the rest of the observations at random
    cam_idx = np.concatenate([rng.integers(0, n_cameras, n_points),
                              rng.integers(0, n_cameras, n_obs - n_points)])
    pt_idx = np.concatenate([np.arange(n_points), rng.integers(0, n_points, n_obs - n_points)])

    def project(c, p):
        q = _rotate(p, c[:, :3]) + c[:, 3:6]
        q = -q[:, :2] / q[:, 2, None]
        r2 = np.sum(q ** 2, axis=1)
        return q * (c[:, 6] * (1 + c[:, 7] * r2 + c[:, 8] * r2 ** 2))[:, None]

    obs = project(cams[cam_idx], pts[pt_idx]) + 0.5 * rng.standard_normal((n_obs, 2))

    def fun(x):
        c = x[:n_cameras * 9].reshape(n_cameras, 9)
        p = x[n_cameras * 9:].reshape(n_points, 3)
        return (project(c[cam_idx], p[pt_idx]) - obs).ravel()

    import scipy.sparse as sp
    m, n = 2 * n_obs, 9 * n_cameras + 3 * n_points
    A = sp.lil_array((m, n), dtype=int)
    i = np.arange(n_obs)
    for s in range(9):
        A[2 * i, cam_idx * 9 + s] = 1
        A[2 * i + 1, cam_idx * 9 + s] = 1
    for s in range(3):
        A[2 * i, n_cameras * 9 + pt_idx * 3 + s] = 1
        A[2 * i + 1, n_cameras * 9 + pt_idx * 3 + s] = 1
    x_true = np.concatenate([cams.ravel(), pts.ravel()])
    scale = np.abs(x_true) * spread
    x0 = x_true + scale * rng.standard_normal(n)
    return (fun, x0, A.tocsr(), dict(x_scale="jac", ftol=1e-4, method="trf"),
            (cam_idx.astype(np.int64), pt_idx.astype(np.int64), obs, n_cameras))


PROBLEMS = {"bundle_adjustment": lambda n: (bundle_adjustment() if n > 100 else
                                            bundle_adjustment(1, 3, 20, 40)),
            "extended_rosenbrock": rosenbrock, "broyden_banded": broyden_banded}


# ---- one solve in this process -----------------------------------------------------

def _rss_kb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM"):
                return int(line.split()[1])
    return 0


def child(name, n, lib):
    """One timed solve (after a warm-up on a small instance of the same problem)."""
    import time
    import warnings
    warnings.simplefilter("ignore")
    if lib == "scipy":
        from scipy.optimize import least_squares
    else:
        sys.path.insert(0, os.path.dirname(HERE))
        from lsqcore import least_squares

    def solve(size):
        fun, x0, pattern, kw, args = PROBLEMS[name](size)
        if lib.startswith("lsqcore (jit"):
            fun = jitted()[name]
        else:
            args = ()
        if lib == "lsqcore (jit, BJ)":
            kw = dict(kw, tr_options={"preconditioner": "block-jacobi"})
        return pattern, least_squares(fun, x0, jac_sparsity=pattern, tr_solver="lsmr",
                                      args=args, **kw)
    solve(10)                       # warm up: compiled code loaded (or compiled) here
    base = _rss_kb()
    t0 = time.perf_counter()
    pattern, r = solve(n)
    t = time.perf_counter() - t0
    print(json.dumps(dict(time=t, peak_mb=(_rss_kb() - base) / 1024.0, cost=float(r.cost),
                          nfev=int(r.nfev), njev=int(r.njev or 0), status=int(r.status),
                          m=int(pattern.shape[0]), n=int(pattern.shape[1]))))


def run(name, n, lib):
    out = subprocess.run([sys.executable, __file__, "--child", name, str(n), lib],
                         capture_output=True, text=True, timeout=3600)
    for line in out.stdout.splitlines()[::-1]:
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(out.stderr[-3000:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="n = 10^3 and 10^4 only, no BA")
    ap.add_argument("--only", help="one problem: extended_rosenbrock, broyden_banded or "
                    "bundle_adjustment")
    ap.add_argument("--child", nargs=3)
    a = ap.parse_args()
    if a.child:
        child(a.child[0], int(a.child[1]), a.child[2])
        return
    cases = [(p, n) for p in ("extended_rosenbrock", "broyden_banded")
             for n in ((10 ** 3, 10 ** 4) if a.quick else (10 ** 3, 10 ** 4, 10 ** 5))]
    if not a.quick:
        cases.append(("bundle_adjustment", 23769))
    if a.only:
        cases = [(p, n) for p, n in cases if p == a.only]
    libs = ("scipy", "lsqcore", "lsqcore (jit)", "lsqcore (jit, BJ)")
    names = " | ".join(libs)
    print(f"| problem | n | m | nnz(J) | time (s): {names} | speed-up ({' / '.join(libs[1:])}) | "
          f"peak MB: {names} | final cost: {names} | nfev ({' / '.join(libs)}) |")
    print("|" + "---|" * 18)
    for name, n in cases:
        res = {lib: [] for lib in libs}
        for _ in range(a.repeat):
            for lib in libs:
                res[lib].append(run(name, n, lib))
        t = {lib: float(np.median([r["time"] for r in rs])) for lib, rs in res.items()}
        lo = {lib: min(r["time"] for r in rs) for lib, rs in res.items()}
        hi = {lib: max(r["time"] for r in rs) for lib, rs in res.items()}
        mb = {lib: float(np.median([r["peak_mb"] for r in rs])) for lib, rs in res.items()}
        r0 = {lib: rs[0] for lib, rs in res.items()}
        nnz = PROBLEMS[name](n)[2].nnz
        cells = [name, r0["scipy"]["n"], r0["scipy"]["m"], nnz]
        cells += [f"{t[lib]:.3g} [{lo[lib]:.3g}-{hi[lib]:.3g}]" for lib in libs]
        cells.append(" / ".join(f"{t['scipy'] / t[lib]:.1f}x" for lib in libs[1:]))
        cells += [f"{mb[lib]:.0f}" for lib in libs]
        cells += [f"{r0[lib]['cost']:.7g}" for lib in libs]
        cells.append(" / ".join(str(r0[lib]["nfev"]) for lib in libs))
        print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
