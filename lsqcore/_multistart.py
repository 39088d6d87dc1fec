"""Multi-start: solve from many starting points, keep the best, list the minima.

A local solver finds the minimum whose basin holds its start.  Multi-start
draws ``N`` starting points, solves from each and returns the lowest cost
together with the distinct minima found and how often each was reached
(the frequency estimates the relative size of the basins; Rinnooy Kan &
Timmer, "Stochastic global optimization methods", Math. Prog. 39, 1987).

Starting points (start 0 is always ``x0`` itself, so multi-start is never
worse than a single start):

* coordinates with finite lower *and* upper bounds: a scrambled Sobol
  sequence (Owen scrambling, :class:`scipy.stats.qmc.Sobol`) mapped onto
  ``[lb, ub]``: low discrepancy covers the box evenly;
* other coordinates: a spread around ``x0``,
  ``x0_j + r_k * s_j * z_kj`` with ``z`` standard normal (the inverse normal
  CDF of the same Sobol points), ``s_j = spread_j`` (default ``|x0_j|``, or 1
  where ``x0_j = 0``) and a radius ``r_k = 10**(decades * (2u_k - 1))``
  log-uniform per start: some starts probe close to ``x0``, others a
  ``10**decades`` times wider region (which lets a coordinate change sign);
  a coordinate with one finite bound is reflected into the feasible side.

Everything depends on ``seed`` only: the same seed gives the same starts and
the same answer.  Each start is solved with :func:`lsqcore.least_squares`;
for a jitted residual every solve runs compiled (the driver is compiled once
for the model and reused for all starts).
"""
from __future__ import annotations

import math

import numpy as np
from ._optimize_result import OptimizeResult

#: results whose costs agree to this relative tolerance and whose x agree to
#: X_RTOL are counted as the same minimum
COST_RTOL = 1e-6
X_RTOL = 1e-3


def draw_starts(x0, n_starts, bounds=(-np.inf, np.inf), seed=None, spread=None, decades=1.0):
    """``n_starts`` starting points (row 0 is ``x0``); see the module docstring.

    Returns
    -------
    ndarray, shape (n_starts, n)
    """
    x0 = np.atleast_1d(np.asarray(x0, float))
    n = x0.size
    n_starts = int(n_starts)
    if n_starts < 1:
        raise ValueError(f"`multistart` must be a positive number of starts, got {n_starts}.")
    lb, ub = (np.broadcast_to(np.asarray(b, float), (n,)).copy() for b in bounds)
    X = np.empty((n_starts, n))
    X[0] = x0
    k = n_starts - 1
    if k == 0:
        return X
    from scipy.stats import qmc   # imported here: scipy.stats is slow to import
    rng = np.random.default_rng(seed)
    try:
        sob = qmc.Sobol(d=n + 1, scramble=True, rng=rng)
    except TypeError:                       # scipy < 1.15 calls it `seed`
        sob = qmc.Sobol(d=n + 1, scramble=True, seed=rng)
    u = sob.random_base2(max(0, math.ceil(math.log2(k))))[:k]
    u = np.clip(u, 1e-12, 1 - 1e-12)
    box = np.isfinite(lb) & np.isfinite(ub)
    X[1:, box] = lb[box] + u[:, :n][:, box] * (ub[box] - lb[box])
    free = ~box
    if np.any(free):
        if spread is None:
            s = np.where(x0 != 0, np.abs(x0), 1.0)
        else:
            s = np.broadcast_to(np.asarray(spread, float), (n,))
            if not np.all(np.isfinite(s)) or np.any(s <= 0):
                raise ValueError(f"`spread` must be positive and finite, got {spread!r}.")
        r = 10.0 ** (float(decades) * (2 * u[:, n] - 1))
        from scipy.special import ndtri   # imported here: scipy.special is slow to import
        z = ndtri(u[:, :n])
        Y = x0 + r[:, None] * s * z
        lo = np.isfinite(lb)
        hi = np.isfinite(ub)
        Y = np.where(lo & (Y < lb), 2 * lb - Y, Y)
        Y = np.where(hi & (Y > ub), 2 * ub - Y, Y)
        Y = np.clip(Y, lb, ub)   # a reflection can overshoot a narrow interval
        X[1:, free] = Y[:, free]
    return X


def _same(c1, x1, c2, x2, c_atol, x_scale):
    if abs(c1 - c2) > COST_RTOL * max(abs(c1), abs(c2)) + c_atol:
        return False
    return bool(np.all(np.abs(x1 - x2) <= X_RTOL * (np.abs(x2) + x_scale)))


def cluster_minima(X, cost, ok, x_floor):
    """Group converged solutions into distinct minima, lowest cost first.

    Returns a list of dicts ``{x, cost, count, starts}``.
    """
    idx = [i for i in np.argsort(cost, kind="stable") if ok[i]]
    if not idx:
        return []
    c_atol = 1e-12 * max(1.0, float(np.max(np.abs(cost[idx]))))
    minima = []
    for i in idx:
        for mn in minima:
            if _same(cost[i], X[i], mn["cost"], mn["x"], c_atol, x_floor):
                mn["count"] += 1
                mn["starts"].append(int(i))
                break
        else:
            minima.append({"x": X[i].copy(), "cost": float(cost[i]), "count": 1,
                           "starts": [int(i)]})
    return minima


def solve_starts(fun, starts, args=(), **ls_kwargs):
    """Solve from each row of ``starts``; a start where ``fun`` is not finite is
    skipped.  Returns the list of results (None for skipped).  numpy's
    floating-point warnings are silenced during the solves."""
    from ._api import least_squares
    out = []
    for x in starts:
        with np.errstate(all="ignore"):
            try:
                f = np.asarray(fun(x.copy(), *args), dtype=float)
            except (ArithmeticError, ValueError):
                out.append(None)
                continue
        if not np.all(np.isfinite(f)):
            out.append(None)
            continue
        # far-flung starts overflow or leave the model's domain on trial
        # steps; the solver treats those as invalid steps, so numpy's
        # floating-point warnings are noise here
        with np.errstate(all="ignore"):
            out.append(least_squares(fun, x, args=args, **ls_kwargs))
    return out


def multistart(fun, x0, n_starts=32, *, bounds=(-np.inf, np.inf), seed=None, spread=None,
               decades=1.0, args=(), **ls_kwargs):
    """Solve ``least_squares`` from ``n_starts`` starting points; return the best.

    Parameters
    ----------
    fun, x0, bounds, args
        As for :func:`lsqcore.least_squares`.  A jitted ``fun`` (and ``jac``)
        runs every solve compiled.
    n_starts : int, optional
        Number of starts, ``x0`` included (default 32).
    seed : None, int or numpy Generator, optional
        Makes the starts (hence the result) reproducible.
    spread : float or array_like, optional
        Scale of the spread around ``x0`` for coordinates without finite
        bounds on both sides (default ``|x0_j|``, or 1 where ``x0_j = 0``).
    decades : float, optional
        The spread radius ranges log-uniformly over ``10**-decades ..
        10**decades`` times ``spread`` (default 1).
    **ls_kwargs
        Passed to :func:`lsqcore.least_squares` (``method``, ``jac``,
        tolerances, ``max_nfev``, ...).

    Returns
    -------
    OptimizeResult
        The best solution's fields (``x, cost, fun, jac, status, ...``), plus

        ``minima``: list of ``{x, cost, count, starts}`` for the distinct
        converged minima, lowest first; ``levels``: the same grouped by
        cost, ``{cost, count, n_points}`` (symmetric models reach one cost
        at several points); ``starts``: the starting points
        ``(N, n)``; ``x_all``, ``cost_all``, ``status_all``, ``nfev_all``:
        per start (NaN / -99 for a start where ``fun`` is not finite);
        ``n_starts``, ``n_converged``, ``n_invalid``, ``best_index``,
        ``nfev_total``, ``seed``.
    """
    x0 = np.atleast_1d(np.asarray(x0, float))
    if bounds is None:
        bounds = (-np.inf, np.inf)
    if hasattr(bounds, "lb"):
        bounds = (bounds.lb, bounds.ub)
    starts = draw_starts(x0, n_starts, bounds, seed, spread, decades)
    results = solve_starts(fun, starts, args=args, bounds=bounds, **ls_kwargs)
    return collect(results, starts, seed, spread if spread is not None
                   else np.where(x0 != 0, np.abs(x0), 1.0))


def cost_levels(minima):
    """Minima grouped by cost (symmetric or periodic models reach the same
    cost at several distinct points): list of ``{cost, count, n_points}``."""
    levels = []
    for mn in minima:
        for lv in levels:
            c1, c2 = lv["cost"], mn["cost"]
            if abs(c1 - c2) <= COST_RTOL * max(abs(c1), abs(c2)) + 1e-12 * max(1.0, abs(c1)):
                lv["count"] += mn["count"]
                lv["n_points"] += 1
                break
        else:
            levels.append({"cost": mn["cost"], "count": mn["count"], "n_points": 1})
    return levels


def collect(results, starts, seed, spread):
    N, n = starts.shape
    X = np.full((N, n), np.nan)
    cost = np.full(N, np.nan)
    status = np.full(N, -99, dtype=int)
    nfev = np.zeros(N, dtype=int)
    for i, r in enumerate(results):
        if r is None:
            continue
        X[i], cost[i], status[i], nfev[i] = r.x, r.cost, r.status, r.nfev
    valid = np.array([r is not None for r in results])
    ok = valid & (status > 0)
    if not np.any(valid):
        raise RuntimeError("multistart: the residual is not finite at any starting point.")
    pool = ok if np.any(ok) else valid
    best = int(np.flatnonzero(pool)[np.argmin(cost[pool])])
    x_floor = 1e-8 * np.maximum(np.abs(np.asarray(spread, float)), 1e-300)
    minima = cluster_minima(X, cost, ok, x_floor)
    res = OptimizeResult(results[best])
    res.update(starts=starts, x_all=X, cost_all=cost, status_all=status, nfev_all=nfev,
               minima=minima, levels=cost_levels(minima), n_starts=N, n_converged=int(np.sum(ok)),
               n_invalid=int(np.sum(~valid)), best_index=best,
               nfev_total=int(np.sum(nfev)), seed=seed)
    return res


def summary(res):
    """The plain-data multistart summary stored in a fit report."""
    return {"n_starts": int(res.n_starts), "n_converged": int(res.n_converged),
            "n_invalid": int(res.n_invalid), "best_index": int(res.best_index),
            "nfev_total": int(res.nfev_total),
            "minima": [{"x": m["x"].tolist(), "cost": m["cost"], "count": m["count"]}
                       for m in res.minima],
            "levels": [dict(lv) for lv in res.levels]}
