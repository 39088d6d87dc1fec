"""``python -m lsqcore study PROBLEM``: watch the algorithms work on one problem.

Runs the chosen methods on one problem of :mod:`lsqcore.problems` with
``trace=True`` and prints, for each method, its execution table (one row
per trial step: parameters, residual, cost, ratio, radius, action) and a
summary line, then the costs of all methods side by side, iteration by
iteration.  ``--plot FILE`` writes a figure: cost versus iteration (log
scale) for every method and, for two-parameter problems, the iterates over
the contours of the cost.

The solves run the Python driver around the compiled kernel (the records
are identical to those of the compiled driver, and a study of one problem
does not pay the per-model compilation); ``--compiled`` runs the jitted
problem functions through the compiled driver instead.

Example::

    python -m lsqcore study rosenbrock --methods gn,lm,trf --plot rosenbrock.png
"""
import sys

import numpy as np

METHODS = ("trf", "lm", "gn")


def add_parser(sub):
    p = sub.add_parser(
        "study", help="run methods on one test problem and show their iteration traces",
        description="Run lsqcore's methods on one problem of lsqcore.problems (NIST StRD or "
                    "More-Garbow-Hillstrom) and print their iteration traces.")
    p.add_argument("problem", help="problem name, e.g. rosenbrock, beale, Misra1a, MGH09 "
                                   "(prefix nist: or mgh: to choose the library)")
    p.add_argument("--methods", default="gn,lm,trf",
                   help="comma-separated methods among trf, lm, gn (default gn,lm,trf)")
    p.add_argument("--start", type=int, default=1,
                   help="starting point, 1-based (NIST: 1 or 2; MGH: 1 = x0, 2 = 10 x0, "
                        "3 = 100 x0); default 1")
    p.add_argument("--jac", default="analytic", choices=("analytic", "2-point", "3-point", "cs"),
                   help="Jacobian: the problem's analytic one (default) or finite differences")
    p.add_argument("--loss", default="linear",
                   help="loss for trf and gn (lm supports only linear); default linear")
    p.add_argument("--f-scale", type=float, default=1.0, help="f_scale of a robust loss")
    p.add_argument("--x-scale", default=None,
                   help="x_scale: 'jac' or one positive number (default: the method's)")
    p.add_argument("--tol", type=float, default=1e-8,
                   help="ftol = xtol = gtol (default 1e-8, scipy's)")
    p.add_argument("--max-nfev", type=int, default=None,
                   help="maximum residual evaluations (default 100 n)")
    p.add_argument("--max-params", type=int, default=4,
                   help="parameters shown per row of the trace tables (default 4)")
    p.add_argument("--summary-only", action="store_true",
                   help="print the summary and the side-by-side costs, not the full traces")
    p.add_argument("--compiled", action="store_true",
                   help="use the jitted problem functions (compiled driver)")
    p.add_argument("--plot", metavar="FILE",
                   help="write a figure (cost per iteration; iterate paths for n = 2); "
                        "needs matplotlib")


def _method_list(text, allowed=METHODS):
    out = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in out if m not in allowed]
    if bad or not out:
        raise ValueError(f"--methods must be a comma-separated list of {', '.join(allowed)}; "
                         f"got {text!r}")
    return out


def solve_traced(problem, method, x0, *, jac="analytic", loss="linear", f_scale=1.0,
                 x_scale=None, tol=1e-8, max_nfev=None, compiled=False):
    """One traced solve of ``problem`` from ``x0``; returns the result."""
    from .. import least_squares
    if compiled:
        fun, args = problem.fun, problem.args
        jac_arg = problem.jac if jac == "analytic" else jac
    else:
        pargs = problem.args

        def fun(x):
            return problem.fun(x, *pargs)

        def jac_py(x):
            return problem.jac(x, *pargs)
        args = ()
        jac_arg = jac_py if jac == "analytic" else jac
    opts = dict(jac=jac_arg, args=args, method=method, ftol=tol, xtol=tol, gtol=tol,
                max_nfev=max_nfev, bounds=problem.bounds, trace=True)
    if loss != "linear":
        opts.update(loss=loss, f_scale=f_scale)
    if x_scale is not None:
        opts["x_scale"] = x_scale
    with np.errstate(all="ignore"):
        return least_squares(fun, np.array(x0, dtype=float), **opts)


def side_by_side(runs):
    """The cost after each iteration, one column per method."""
    hists = {label: r.trace.cost_history() for label, r in runs}
    width = max(len(h) for h in hists.values())
    head = f"{'iter':>4}" + "".join(f"  {label:>14}" for label in hists)
    lines = [head, "-" * len(head)]
    for k in range(width):
        row = f"{k:>4}"
        for h in hists.values():
            row += f"  {h[k]:>14.6e}" if k < len(h) else f"  {'':>14}"
        lines.append(row)
    return "\n".join(lines)


def summary_line(label, res):
    t = res.trace
    njev = "-" if res.njev is None else res.njev     # None: 'lm' with differences (scipy's)
    return (f"{label:<4} iterations {res.nit:>4}  nfev {res.nfev:>5}  njev {njev:>4}  "
            f"rejected {int(np.sum(t.outcome == 'rejected')):>3}  "
            f"invalid {int(np.sum(t.outcome == 'invalid')):>3}  final cost {res.cost:.10e}  "
            f"status {res.status:>2}: {res.message}")


def run(args):
    from .. import problems
    try:
        problem = problems.get(args.problem)
        methods = _method_list(args.methods)
    except (KeyError, ValueError) as e:
        print(f"study: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    if not 1 <= args.start <= len(problem.starts):
        print(f"study: --start must be between 1 and {len(problem.starts)} for "
              f"{problem.name}, got {args.start}", file=sys.stderr)
        return 2
    if args.plot:
        from .._study_plot import matplotlib_missing
        if matplotlib_missing("study"):
            return 2
    x_scale = args.x_scale
    if x_scale is not None and x_scale != "jac":
        x_scale = float(x_scale)
    x0 = np.array(problem.starts[args.start - 1], dtype=float)
    lib = {"nist": "NIST StRD", "mgh": "More-Garbow-Hillstrom"}[problem.library]
    print(f"Problem {problem.name} ({lib}{', ' + problem.difficulty if problem.difficulty else ''}):"
          f" m = {problem.m} residuals, n = {problem.n} parameters, start {args.start}")
    print(f"x0 = {np.array2string(x0, precision=6, max_line_width=100)}")
    if problem.cost_star is not None:
        print(f"known minimum cost {problem.cost_star:.10e}")
    print(f"jac = {args.jac}, loss = {args.loss}, ftol = xtol = gtol = {args.tol:g}\n")
    runs = []
    for method in methods:
        loss = "linear" if method == "lm" else args.loss
        try:
            res = solve_traced(problem, method, x0, jac=args.jac, loss=loss,
                               f_scale=args.f_scale, x_scale=x_scale, tol=args.tol,
                               max_nfev=args.max_nfev, compiled=args.compiled)
        except ValueError as e:
            print(f"== {method}: not run: {e}\n")
            continue
        runs.append((method, res))
        if not args.summary_only:
            print(f"== {method} " + "=" * 60)
            print(res.trace.table(max_params=args.max_params))
            print()
    if not runs:
        return 1
    print("Summary")
    for label, res in runs:
        print("  " + summary_line(label, res))
    print("\nCost after each iteration")
    print(side_by_side(runs))
    if args.plot:
        from .._study_plot import plot_study
        plot_study(problem, runs, x0, args.plot,
                   title=f"{problem.name} ({lib}), start {args.start}: "
                         f"m = {problem.m}, n = {problem.n}")
        print(f"\nwrote {args.plot}")
    return 0
