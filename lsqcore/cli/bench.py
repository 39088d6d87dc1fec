"""``python -m lsqcore bench``: lsqcore's methods against scipy's on a test suite.

Runs every chosen solver (lsqcore ``trf``, ``dogbox``, ``lm``, ``gn`` and
scipy's ``trf``, ``lm``, ``dogbox`` by default) on every problem and starting point
of a suite of :mod:`lsqcore.problems` and prints, per solver, how many cases
it solved, its residual evaluations, its time, and lsqcore's speed-up over
scipy's implementation of the same method.  ``--profile FILE`` draws
Dolan-More performance profiles on time and on nfev.

Solved means
    NIST StRD: the minimum log relative error of the parameters against the
    certified values is at least 4 (four correct significant digits);
    MGH: the final cost is within ``1e-6`` relative (+ ``1e-12`` absolute) of
    the known minimum or of one of the problem's listed local minima.

Timing: every solver gets one untimed warm-up call per case (for lsqcore the
first call on a new model compiles its small driver; those first calls are
reported separately), then the median of ``--repeat`` calls.  All solvers
call the same Numba-compiled residuals and analytic Jacobians, so lsqcore
runs entirely compiled and scipy pays only its own Python overhead.

Performance profiles (E. D. Dolan, J. J. More, "Benchmarking optimization
software with performance profiles", Math. Program. 91:201-213, 2002): for
solver ``s`` and case ``p`` let ``r_ps = t_ps / min_s t_ps`` (infinite when
``s`` failed on ``p``); the profile ``rho_s(tau)`` is the fraction of cases
with ``r_ps <= tau``.  ``rho_s(1)`` is how often ``s`` was the fastest,
``rho_s`` at large ``tau`` how often it solved the case at all.
"""
import math
import sys
import time
import warnings

import numpy as np

LSQ_METHODS = ("trf", "dogbox", "lm", "gn")
SCIPY_METHODS = ("trf", "lm", "dogbox")
DEFAULT_SOLVERS = "trf,dogbox,lm,gn,scipy-trf,scipy-lm,scipy-dogbox"
#: scipy method whose time lsqcore's method is compared with
SCIPY_PEER = {"trf": "trf", "dogbox": "dogbox", "lm": "lm", "gn": "trf"}


def add_parser(sub):
    p = sub.add_parser(
        "bench", help="benchmark lsqcore against scipy on the NIST / MGH test problems",
        description="Run lsqcore's and scipy's least-squares solvers on a suite of test "
                    "problems and compare solved counts, function evaluations and time.")
    p.add_argument("--suite", choices=("nist", "mgh", "all"), default="nist",
                   help="NIST StRD (27 problems x 2 starts), More-Garbow-Hillstrom "
                        "(35 problems x up to 3 starts) or both (default nist)")
    p.add_argument("--methods", default=DEFAULT_SOLVERS,
                   help="comma-separated solvers: trf, dogbox, lm, gn (lsqcore) and scipy-trf, "
                        f"scipy-lm, scipy-dogbox (default {DEFAULT_SOLVERS})")
    p.add_argument("--problems", default=None,
                   help="comma-separated problem names: run only these (default: the suite)")
    p.add_argument("--starts", default=None,
                   help="comma-separated 1-based starting points (default: all of each problem)")
    p.add_argument("--jac", choices=("analytic", "2-point", "3-point"), default="analytic",
                   help="Jacobian (default: the problems' analytic Jacobians)")
    p.add_argument("--tol", type=float, default=1e-12,
                   help="ftol = xtol = gtol (default 1e-12)")
    p.add_argument("--max-nfev", type=int, default=1000,
                   help="evaluation budget per parameter: max_nfev = this * n (default 1000)")
    p.add_argument("--repeat", type=int, default=5,
                   help="timed calls per case after the warm-up (median; default 5)")
    p.add_argument("--driver", choices=("compiled", "python"), default="compiled",
                   help="lsqcore with the jitted problem functions (compiled driver, "
                        "default) or with plain-Python wrappers of them (Python driver)")
    p.add_argument("--detail", action="store_true", help="print one row per case")
    p.add_argument("--profile", metavar="FILE",
                   help="write Dolan-More performance profiles (time, nfev); needs matplotlib")


# ------------------------------------------------------------------ solvers

class Solver:
    """One solver of the benchmark: lsqcore or scipy, one method."""

    def __init__(self, spec, driver="compiled"):
        lib, _, method = spec.partition("-") if spec.startswith("scipy-") else ("lsqcore", "", spec)
        allowed = SCIPY_METHODS if lib == "scipy" else LSQ_METHODS
        if method not in allowed:
            raise ValueError(f"unknown solver {spec!r}: choose among {DEFAULT_SOLVERS}")
        self.lib, self.method, self.driver = lib, method, driver
        self.name = f"{lib} {method}"

    def call(self, problem, x0, jac, opts):
        if self.lib == "scipy":
            from scipy.optimize import least_squares
            fun, args = problem.fun, problem.args
            j = problem.jac if jac == "analytic" else jac
        else:
            from .. import least_squares
            if self.driver == "compiled":
                fun, args = problem.fun, problem.args
                j = problem.jac if jac == "analytic" else jac
            else:
                fun, j, args = _python_funs(problem, jac)
        return least_squares(fun, x0, jac=j, args=args, method=self.method,
                             bounds=problem.bounds, **opts)


def _python_funs(problem, jac):
    pargs = problem.args

    def fun(x):
        return problem.fun(x, *pargs)

    def jac_py(x):
        return problem.jac(x, *pargs)
    return fun, (jac_py if jac == "analytic" else jac), ()


def solved(problem, res):
    """The suite's success criterion for ``res`` (see the module docstring)."""
    if res is None or not np.all(np.isfinite(res.x)):
        return False
    if problem.library == "nist":
        return problem.lre(res.x) >= 4.0
    targets = [problem.cost_star] + list(problem.local_minima)
    for c in targets:
        if c is None:
            continue
        if abs(res.cost - c) <= 1e-6 * abs(c) + 1e-12 or (c == problem.cost_star
                                                          and res.cost <= c):
            return True
    return False


def _quiet(fn):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn()


def run_case(solver, problem, x0, jac, opts, repeat):
    """Warm-up call, then the median time of ``repeat`` calls; returns a record."""
    rec = {"solver": solver.name, "problem": problem.name, "library": problem.library}
    call = lambda: solver.call(problem, x0.copy(), jac, opts)  # noqa: E731
    t0 = time.perf_counter()
    try:
        res = _quiet(call)
    except Exception as e:          # noqa: BLE001 - a failing solver is a result
        rec.update(ok=False, error=f"{type(e).__name__}: {e}", nfev=math.nan,
                   njev=math.nan, time=math.nan, first=time.perf_counter() - t0,
                   cost=math.nan, status=None)
        return rec
    first = time.perf_counter() - t0
    times = []
    # slow cases are not repeated as often: about 2 s per case at most
    n_rep = max(1, min(repeat, int(2.0 / max(first, 1e-9))))
    for _ in range(n_rep):
        t0 = time.perf_counter()
        _quiet(call)
        times.append(time.perf_counter() - t0)
    rec.update(ok=bool(solved(problem, res)), error=None, nfev=int(res.nfev),
               njev=int(res.njev) if res.njev is not None else math.nan,
               time=float(np.median(times)), first=first, cost=float(res.cost),
               status=int(res.status))
    if problem.library == "nist":
        rec["lre"] = float(problem.lre(res.x))
    return rec


# ------------------------------------------------------------------ profiles

def performance_profile(T, taus=None):
    """Dolan-More performance profile of a cost table.

    Parameters
    ----------
    T : ndarray, shape (cases, solvers)
        Measure of each solver on each case (time, nfev, ...); ``inf`` (or
        NaN) where the solver failed.
    taus : ndarray, optional
        Ratios at which to evaluate the profile (default: every distinct
        finite ratio, from 1 to the largest).

    Returns
    -------
    taus : ndarray
    rho : ndarray, shape (len(taus), solvers)
        ``rho[i, s]``: fraction of the cases that solver ``s`` solved within
        a factor ``taus[i]`` of the best solver on that case.
    """
    T = np.array(T, dtype=float)
    T[~np.isfinite(T)] = np.inf
    T = np.maximum(T, np.finfo(float).tiny)       # a measure of 0 still ranks first
    best = T.min(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        R = np.where(np.isfinite(best), T / best, np.inf)
    if taus is None:
        finite = R[np.isfinite(R)]
        top = float(finite.max()) if finite.size else 1.0
        taus = np.unique(np.concatenate(([1.0], finite, [max(top, 1.0) * 1.05])))
    taus = np.asarray(taus, dtype=float)
    rho = (R[None, :, :] <= taus[:, None, None]).mean(axis=1)
    return taus, rho


# ------------------------------------------------------------------ command

def _select(args):
    from .. import problems
    lib = None if args.suite == "all" else args.suite
    if args.problems:
        probs = []
        for w in (w.strip() for w in args.problems.split(",")):
            if not w:
                continue
            try:
                p = problems.get(w if lib is None else f"{lib}:{w}")
            except KeyError:
                raise ValueError(f"not in suite {args.suite}: {w}") from None
            probs.append(p)
    else:
        probs = problems.all_problems(lib)
    starts = None
    if args.starts:
        starts = [int(s) for s in args.starts.split(",") if s.strip()]
        if any(s < 1 for s in starts):
            raise ValueError("--starts are 1-based")
    cases = []
    for p in probs:
        for k in range(len(p.starts)):
            if starts is None or (k + 1) in starts:
                cases.append((p, k))
    return cases


def _gmean(v):
    v = np.asarray([x for x in v if np.isfinite(x) and x > 0])
    return float(np.exp(np.mean(np.log(v)))) if v.size else math.nan


def _fmt_time(t):
    if not np.isfinite(t):
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:.0f} us"
    if t < 1.0:
        return f"{t * 1e3:.2f} ms"
    return f"{t:.2f} s"


def summarize(solvers, records, cases):
    """Summary rows (one per solver) as a list of strings."""
    by = {(r["solver"], r["case"]): r for r in records}
    ncase = len(cases)
    head = (f"{'solver':<14} {'solved':>8} {'nfev med':>9} {'nfev total':>10} "
            f"{'time med':>10} {'time total':>11} {'1st calls':>10}  speed-up vs scipy")
    lines = [head, "-" * (len(head) + 18)]
    for s in solvers:
        rs = [by[(s.name, c)] for c in range(ncase)]
        ok = sum(r["ok"] for r in rs)
        nfev = np.array([r["nfev"] for r in rs], dtype=float)
        t = np.array([r["time"] for r in rs], dtype=float)
        first = np.nansum([r["first"] for r in rs])
        speed = ""
        if s.lib == "lsqcore":
            peer = f"scipy {SCIPY_PEER[s.method]}"
            if any((peer, c) in by for c in range(ncase)):
                ratios = [by[(peer, c)]["time"] / by[(s.name, c)]["time"] for c in range(ncase)]
                both = [by[(peer, c)]["time"] / by[(s.name, c)]["time"] for c in range(ncase)
                        if by[(peer, c)]["ok"] and by[(s.name, c)]["ok"]]
                speed = (f"x{_gmean(ratios):.1f} vs {peer} (geo. mean; x{_gmean(both):.1f} "
                         f"where both solved)")
        lines.append(
            f"{s.name:<14} {ok:>4}/{ncase:<3} {np.nanmedian(nfev):>9.0f} {np.nansum(nfev):>10.0f} "
            f"{_fmt_time(np.nanmedian(t)):>10} {_fmt_time(np.nansum(t)):>11} "
            f"{_fmt_time(first):>10}  {speed}")
    return lines


def detail(solvers, records, cases):
    by = {(r["solver"], r["case"]): r for r in records}
    w = max([len(p.name) + 4 for p, _ in cases] + [26])
    head = f"{'problem':<{w}}" + "".join(f" {s.name:>22}" for s in solvers)
    lines = [head, "-" * len(head)]
    for c, (p, k) in enumerate(cases):
        row = f"{p.name + ' /' + str(k + 1):<{w}}"
        for s in solvers:
            r = by[(s.name, c)]
            mark = "ok" if r["ok"] else ("ERR" if r["error"] else "--")
            nfev = "-" if not np.isfinite(r["nfev"]) else str(int(r["nfev"]))
            row += f" {mark:>3} {nfev:>6} {_fmt_time(r['time']):>11}"
        lines.append(row)
    return lines


def run(args):
    if args.profile:
        from .._study_plot import matplotlib_missing
        if matplotlib_missing("bench"):
            return 2
    try:
        solvers = [Solver(s.strip(), args.driver) for s in args.methods.split(",") if s.strip()]
        if not solvers:
            raise ValueError("--methods is empty")
        cases = _select(args)
    except ValueError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    import scipy
    import numba
    from .. import __version__
    nprob = len({p.name for p, _ in cases})
    print(f"lsqcore {__version__} | scipy {scipy.__version__} | numba {numba.__version__} | "
          f"numpy {np.__version__}")
    print(f"suite {args.suite}: {nprob} problems, {len(cases)} cases (problem x start); "
          f"jac {args.jac}; ftol = xtol = gtol = {args.tol:g}; max_nfev = {args.max_nfev} n; "
          f"lsqcore driver: {args.driver}")
    print("solved: NIST min LRE >= 4; MGH cost within 1e-6 rel. (+1e-12) of the known "
          "minimum or a listed local minimum")
    print(f"time: median of up to {args.repeat} calls after a warm-up call; '1st calls' is "
          "the total of the warm-up calls (lsqcore compiles its driver once per model)\n")
    records = []
    t_start = time.perf_counter()
    done = 0
    for c, (p, k) in enumerate(cases):
        x0 = np.array(p.starts[k], dtype=float)
        opts = dict(ftol=args.tol, xtol=args.tol, gtol=args.tol, max_nfev=args.max_nfev * p.n)
        for s in solvers:
            rec = run_case(s, p, x0, args.jac, opts, args.repeat)
            rec["case"] = c
            rec["start"] = k + 1
            records.append(rec)
        if c + 1 == len(cases) or cases[c + 1][0].name != p.name:
            # a line per problem as it goes (on stderr: stdout keeps the tables)
            done += 1
            mine = [r for r in records if r["problem"] == p.name]
            solved_by = ", ".join(
                f"{s.name} {sum(r['ok'] for r in mine if r['solver'] == s.name)}"
                f"/{sum(r['solver'] == s.name for r in mine)}" for s in solvers)
            print(f"  [{done}/{nprob}] {p.name}: solved {solved_by} "
                  f"({time.perf_counter() - t_start:.1f} s)", file=sys.stderr, flush=True)
    if args.detail:
        print("\n".join(detail(solvers, records, cases)))
        print()
    print("\n".join(summarize(solvers, records, cases)))
    errors = [r for r in records if r["error"]]
    for r in errors[:10]:
        print(f"  error: {r['solver']} on {r['problem']} start {r['start']}: {r['error']}")
    if args.profile:
        from .._study_plot import plot_profiles
        by = {(r["solver"], r["case"]): r for r in records}
        profiles = []
        for measure in ("time", "nfev"):
            T = np.array([[by[(s.name, c)][measure] if by[(s.name, c)]["ok"] else np.inf
                           for s in solvers] for c in range(len(cases))])
            taus, rho = performance_profile(T)
            profiles.append((measure, taus, {s.name: rho[:, i] for i, s in enumerate(solvers)}))
        plot_profiles(profiles, args.profile,
                      title=f"suite {args.suite}: {len(cases)} cases, jac {args.jac}, "
                            f"tol {args.tol:g}")
        print(f"\nwrote {args.profile}")
    return 0
