"""Figures of the ``study`` and ``bench`` commands (matplotlib, optional).

matplotlib is an optional dependency (``pip install "lsqcore[plot]"``);
:func:`require_matplotlib` raises :class:`MissingMatplotlib` with that hint
when it is absent.  The figures are drawn with matplotlib's object API on an
Agg canvas, so they never open a window and never touch pyplot's global
state.

* :func:`plot_study`: cost versus iteration (log scale) for each method
  and, for two-parameter problems, the iterates over the contours of the
  cost.
* :func:`plot_profiles`: Dolan-More performance profiles, one panel per
  measure (E. D. Dolan, J. J. More, "Benchmarking optimization software
  with performance profiles", Math. Program. 91, 2002).
"""
import sys

import numpy as np

__all__ = ["MissingMatplotlib", "require_matplotlib", "plot_study", "plot_profiles",
           "cost_grid"]

COLORS = {"gn": "#1b9e77", "lm": "#d95f02", "trf": "#7570b3", "dogbox": "#e7298a"}
_CYCLE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
          "#a6761d", "#666666")


class MissingMatplotlib(ImportError):
    """matplotlib is needed for plots but is not installed."""


def require_matplotlib():
    """Import matplotlib's Figure and Agg canvas, or explain how to get them."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError as e:   # pragma: no cover - depends on the environment
        raise MissingMatplotlib(
            "plots need matplotlib, which is not installed: "
            "pip install 'lsqcore[plot]' (or pip install matplotlib)") from e
    return Figure, FigureCanvasAgg


def matplotlib_missing(prog):
    """For a command-line tool: False if plots can be drawn, else print why
    (``prog: ...`` on stderr) and return True."""
    try:
        require_matplotlib()
    except MissingMatplotlib as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return True
    return False


def _new_figure(ncols, width=5.2, height=4.2):
    Figure, Canvas = require_matplotlib()
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    Canvas(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def _color(label, i):
    return COLORS.get(label, _CYCLE[i % len(_CYCLE)])


def cost_grid(problem, xlim, ylim, num=160):
    """``cost(x)`` of a two-parameter problem on a ``num x num`` grid (NaN where not finite)."""
    xs = np.linspace(xlim[0], xlim[1], num)
    ys = np.linspace(ylim[0], ylim[1], num)
    Z = np.empty((num, num))
    x = np.empty(2)
    with np.errstate(all="ignore"):
        for j, yv in enumerate(ys):
            for i, xv in enumerate(xs):
                x[0], x[1] = xv, yv
                f = np.asarray(problem.fun(x, *problem.args), dtype=float)
                c = 0.5 * float(f @ f)
                Z[j, i] = c if np.isfinite(c) else np.nan
    return xs, ys, Z


def _limits(points, x_star):
    pts = [np.asarray(p, dtype=float) for p in points]
    if x_star is not None:
        pts.append(np.asarray(x_star, dtype=float).reshape(1, 2))
    P = np.vstack(pts)
    P = P[np.all(np.isfinite(P), axis=1)]
    lo, hi = P.min(axis=0), P.max(axis=0)
    span = np.maximum(hi - lo, 1e-3 * np.maximum(1.0, np.abs(hi)))
    return (lo[0] - 0.15 * span[0], hi[0] + 0.15 * span[0]), \
        (lo[1] - 0.15 * span[1], hi[1] + 0.15 * span[1])


def plot_study(problem, runs, x0, path, title=None):
    """Write the study figure for ``runs = [(method, result_with_trace), ...]``.

    Left: the cost after each iteration (log scale) for each method, with the
    costs of the rejected or invalid trials as small crosses and the known
    minimum as a dashed line.  Right (two-parameter problems only): the
    iterates of each method from ``x0`` over the contours of ``log10 cost``.
    """
    two_d = problem.n == 2
    fig, axes = _new_figure(2 if two_d else 1)
    ax = axes[0]
    positive = [c for _, r in runs for c in r.trace.cost_history() if c > 0]
    floor = (min(positive) if positive else 1.0) * 1e-2
    for i, (label, res) in enumerate(runs):
        t = res.trace
        hist = t.cost_history() if len(t) else np.array([res.cost])
        col = _color(label, i)
        shown = np.maximum(hist, floor)
        ax.semilogy(np.arange(len(hist)), shown, "-o", ms=3, lw=1.5, color=col,
                    label=f"{label}: {res.nit} it, {res.nfev} nfev, cost {res.cost:.3g}")
        zero = hist <= 0
        if zero.any():
            ax.semilogy(np.flatnonzero(zero), shown[zero], "v", ms=7, color=col)
        bad = ~t.accepted
        if bad.any():
            with np.errstate(invalid="ignore"):
                tc = np.where(np.isfinite(t.cost_new[bad]), t.cost_new[bad], np.nan)
            ax.semilogy(t.iteration[bad], np.maximum(tc, floor), "x", ms=4, color=col,
                        alpha=0.6)
    if problem.cost_star:
        ax.axhline(problem.cost_star, ls="--", lw=1, color="0.3",
                   label=f"known minimum {problem.cost_star:.6g}")
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost  0.5 ||f||^2")
    ax.set_title("cost per iteration (x: rejected trials" +
                 (", v: exactly 0)" if any((r.trace.cost_history() <= 0).any()
                                           for _, r in runs) else ")"))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    if two_d:
        ax2 = axes[1]
        paths = [(label, r.trace.iterates(x0)) for label, r in runs]
        xlim, ylim = _limits([p for _, p in paths], problem.x_star)
        xs, ys, Z = cost_grid(problem, xlim, ylim)
        with np.errstate(divide="ignore", invalid="ignore"):
            L = np.log10(np.where(Z > 0, Z, np.nan))
        finite = L[np.isfinite(L)]
        if finite.size:
            levels = np.linspace(finite.min(), finite.max(), 25)
            cs = ax2.contourf(xs, ys, L, levels=levels, cmap="Greys_r", alpha=0.55)
            ax2.contour(xs, ys, L, levels=levels, colors="0.35", linewidths=0.4)
            fig.colorbar(cs, ax=ax2, label="log10 cost")
        for i, (label, P) in enumerate(paths):
            col = _color(label, i)
            ax2.plot(P[:, 0], P[:, 1], "-o", ms=3.5, lw=1.6, color=col, label=label)
            rej = runs[i][1].trace.x[~runs[i][1].trace.accepted]
            inside = ((rej[:, 0] >= xlim[0]) & (rej[:, 0] <= xlim[1])
                      & (rej[:, 1] >= ylim[0]) & (rej[:, 1] <= ylim[1]))
            ax2.plot(rej[inside, 0], rej[inside, 1], "x", ms=5, color=col, alpha=0.7)
        ax2.plot([x0[0]], [x0[1]], "ks", ms=7, label="start")
        if problem.x_star is not None:
            ax2.plot([problem.x_star[0]], [problem.x_star[1]], "*", ms=14, color="gold",
                     markeredgecolor="k", label="known minimiser")
        ax2.set_xlim(*xlim)
        ax2.set_ylim(*ylim)
        ax2.set_xlabel("x[0]")
        ax2.set_ylabel("x[1]")
        ax2.set_title("iterates over the cost contours (x: rejected)")
        ax2.legend(fontsize=8, loc="best")
    fig.suptitle(title or f"{problem.name}: m = {problem.m}, n = {problem.n}")
    fig.savefig(path, dpi=110)
    return path


def plot_profiles(profiles, path, title=None):
    """Write Dolan-More performance profiles.

    Parameters
    ----------
    profiles : list of (measure, taus, curves)
        ``taus`` is an increasing array of ratios ``>= 1``; ``curves`` maps a
        solver name to the fraction of problems it solved within a factor
        ``tau`` of the best solver (see :func:`lsqcore.cli.bench.performance_profile`).
    path : str
        Output file (any format matplotlib writes, e.g. ``.png``, ``.svg``).
    """
    fig, axes = _new_figure(len(profiles))
    for ax, (measure, taus, curves) in zip(axes, profiles):
        for i, (name, rho) in enumerate(curves.items()):
            base = name.split()[-1]
            col = _color(base, i)           # one colour per algorithm ...
            ls = "--" if name.startswith("scipy") else "-"   # ... dashed for scipy
            ax.step(taus, rho, where="post", lw=1.8, ls=ls, color=col, label=name)
        ax.set_xscale("log", base=2)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(1, taus[-1])
        ax.set_xlabel("tau (within this factor of the best solver)")
        ax.set_ylabel("fraction of problems solved")
        ax.set_title(f"performance profile: {measure}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
    return path
