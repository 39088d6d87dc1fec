"""Covariance of the fitted parameters and diagnostics for classic fitting pitfalls.

Covariance
----------
Near a least-squares solution ``x*`` of ``min 0.5 ||r(x)||^2`` the residual is
linear, ``r(x* + d) ~ r* + J d``, so (Seber & Wild, *Nonlinear Regression*,
1989, sec. 2.1) the estimator is approximately Gaussian with covariance

    Cov(x*) = s^2 (J^T J)^{-1},      s^2 = ||r*||^2 / (m - k)

where ``s^2`` estimates the variance of the (weighted) noise and ``k`` is
the rank of ``J`` (``k = n`` for a well-posed fit, which is scipy's
``m - n``; a rank-deficient fit only spends ``k`` degrees of freedom, Seber
& Wild sec. 3.4); with ``absolute_sigma`` the weights are taken as exact
standard deviations and ``s^2 = 1``.  ``(J^T J)^{-1}`` is never formed: with the column-equilibrated
Jacobian ``J D^{-1} = U S V^T`` (``D = diag(||J_j||)``, Golub & Van Loan,
*Matrix Computations*, sec. 5.5) we use

    (J^T J)^+_D = D^{-1} V_k S_k^{-2} V_k^T D^{-1},

keeping the ``k`` singular values above ``rcond * s_max``.  For a full-rank
``J`` this *is* ``(J^T J)^{-1}``, computed stably.  When ``J`` is
(numerically) rank deficient the dropped right singular vectors span the
parameter combinations the data cannot determine; they are returned
(``null_space``) and reported.  A parameter that takes part in such a
combination (weight at least ``UNDETERMINED_WEIGHT`` of the largest in a
dropped right singular vector of ``J D^{-1}``) is not determined by the data:
its variance is infinite, and ``pcov`` has ``inf`` in its row and column, so
``sqrt(diag(pcov))`` never gives it a small, finite error.  The
pseudo-inverse is kept as the covariance of the identifiable combinations
(``pcov_identifiable``; estimable functions ``c^T x`` with ``c`` in the row
space of ``J`` have the same variance for every generalised inverse; Seber &
Wild sec. 3.4).  The equilibration makes the decision independent
of the units of the parameters.  scipy's 'lm' path returns an all-inf or a
wrong matrix here (gh-22568, gh-21995).

``rcond`` reflects how accurately ``J`` is known: ``max(m, n) * eps`` for an
analytic or complex-step Jacobian (the usual numerical-rank rule), and the
error level of finite differences otherwise (``1e-7`` for '2-point',
``1e-9`` for '3-point'): a singular value below the error of ``J`` carries
no information.

Diagnostics
-----------
Each check returns :class:`Diagnostic` records (a code, a one-line message,
a plain-language explanation with the remedy, and details).  They are shown
in the fit report and, by :func:`diagnose` and ``curve_fit``, issued as
:class:`FitWarning`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import math

import numpy as np
from numba import njit

EPS = np.finfo(float).eps

#: scaled condition number above which the fit is called ill-conditioned
ILL_CONDITIONED = 1e6
#: ratio of Jacobian column norms above which parameters are called badly scaled
#: (>= 1/sqrt(eps): the diagonal of J^T J then spans more than 1/eps)
BAD_SCALING = 1e8
#: |correlation| flagged as strong in the report
STRONG_CORRELATION = 0.95

#: singular-value cut-offs of difference Jacobians (their error level)
RCOND_2POINT, RCOND_3POINT = 1e-7, 1e-9
RCOND_BY_JAC = {"2-point": RCOND_2POINT, "3-point": RCOND_3POINT}


def fit_warning():
    """The class :class:`FitWarning` (:mod:`lsqcore._fitwarning`), imported on first use.

    It subclasses ``scipy.optimize.OptimizeWarning``, and importing
    ``scipy.optimize`` costs 0.3-0.8 s: its module is imported when the
    class is first asked for (``lsqcore.FitWarning``, or the first warning
    issued), not at ``import lsqcore``.

    Returns
    -------
    type
        ``lsqcore.FitWarning``, the same class object on every call.
    """
    from ._fitwarning import FitWarning
    return FitWarning


def __getattr__(name):
    if name == "FitWarning":
        return fit_warning()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class Diagnostic:
    """One finding about a fit.

    Attributes
    ----------
    code : str
        ``'squared_residuals'``, ``'at_bound'``, ``'rank_deficient'``,
        ``'ill_conditioned'``, ``'max_nfev'``, ``'bad_scaling'`` or
        ``'covariance_unavailable'``.
    message : str
        One line saying what was found.
    explanation : str
        Why it matters and what to do, in plain language.
    details : dict
        Numbers behind the finding (parameter names, ratios, directions).
    """

    code: str
    message: str
    explanation: str
    details: dict = field(default_factory=dict)

    def __str__(self):
        return f"[{self.code}] {self.message}"

    def to_dict(self):
        return {"code": self.code, "message": self.message,
                "explanation": self.explanation, "details": _plain(self.details)}


def _plain(v):
    if isinstance(v, dict):
        return {k: _plain(u) for k, u in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(u) for u in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def default_rcond(jac_kind, m, n):
    """Relative singular-value cut-off for a Jacobian of the given kind."""
    return RCOND_BY_JAC.get(jac_kind, max(m, n) * EPS)


def param_names(n, names=None):
    if names is None:
        return [f"p{i}" for i in range(n)]
    names = [str(s) for s in names]
    if len(names) != n:
        raise ValueError(f"`names` must have {n} entries (one per parameter), got {len(names)}.")
    return names


# ----------------------------------------------------------------------------
# Jacobian analysis and covariance
# ----------------------------------------------------------------------------

@njit(cache=True, error_model="numpy")
def jacobian_svd(J, rcond):
    """Column norms, SVD of ``J D^{-1}``, rank, condition, column-norm ratio
    and ``(J^T J)^+_D`` in one compiled call (the post-fit analysis runs on
    every ``curve_fit`` call, so it is kept off the numpy small-array path).

    Returns ``(finite, col_norms, sv, Vt, rank, cond, ratio, pinv)``.
    """
    m, n = J.shape
    c = np.zeros(n)
    finite = True
    for j in range(n):
        for i in range(m):
            v = J[i, j]
            if not np.isfinite(v):
                finite = False
            c[j] += v * v
    if not finite:
        return (False, np.full(n, np.nan), np.full(n, np.nan), np.eye(n), 0, np.inf, 1.0,
                np.full((n, n), np.inf))
    D = np.empty(n)
    cmin = np.inf
    cmax = 0.0
    for j in range(n):
        c[j] = np.sqrt(c[j])
        D[j] = c[j] if c[j] > 0 else 1.0
        if c[j] > 0:
            cmin = min(cmin, c[j])
            cmax = max(cmax, c[j])
    ratio = cmax / cmin if cmax > 0 and cmin < np.inf else 1.0
    Js = np.empty((m, n))
    for i in range(m):
        for j in range(n):
            Js[i, j] = J[i, j] / D[j]
    # only V is needed: the thin SVD gives all n right vectors when m >= n
    if m >= n:
        _, s, Vt = np.linalg.svd(Js, full_matrices=False)
    else:
        _, s, Vt = np.linalg.svd(Js, full_matrices=True)
    sv = np.zeros(n)
    for k in range(s.shape[0]):
        sv[k] = s[k]
    rank = 0
    if sv[0] > 0:
        for k in range(n):
            if sv[k] > rcond * sv[0]:
                rank += 1
    cond = sv[0] / sv[n - 1] if sv[n - 1] > 0 else np.inf
    pinv = np.zeros((n, n))
    for k in range(rank):
        w = 1.0 / (sv[k] * sv[k])
        for a in range(n):
            va = Vt[k, a] / D[a]
            for b in range(n):
                pinv[a, b] += w * va * Vt[k, b] / D[b]
    return True, c, sv, Vt, rank, cond, ratio, pinv


@dataclass
class JacobianAnalysis:
    """SVD of the column-equilibrated Jacobian ``J D^{-1} = U S V^T``."""

    col_norms: np.ndarray       # ||J_j|| (0 for a parameter with no effect)
    sv: np.ndarray              # singular values of J D^{-1}, descending
    Vt: np.ndarray              # right singular vectors (rows), scaled space
    rank: int
    rcond: float
    finite: bool
    cond: float                 # condition number of J D^{-1} (inf if singular)
    scaling_ratio: float        # max / min of the nonzero column norms
    pinv: np.ndarray            # (J^T J)^+ through the kept singular values

    def directions(self, start):
        """Right singular vectors ``start..n-1`` as parameter-space directions
        (``D^{-1} v``, each normalised to max |component| = 1) with the
        scaled vectors ``v`` (which say how strongly each parameter takes part)."""
        D = np.where(self.col_norms > 0, self.col_norms, 1.0)
        out = []
        for i in range(start, self.Vt.shape[0]):
            v = self.Vt[i]
            d = v / D
            d = d / np.max(np.abs(d))
            vv = v / np.max(np.abs(v))
            if d[np.argmax(np.abs(d))] < 0:
                vv, d = -vv, -d
            out.append((d, vv))
        return out


def analyse_jacobian(J, rcond):
    J = np.ascontiguousarray(J, dtype=float)
    finite, c, sv, Vt, rank, cond, ratio, pinv = jacobian_svd(J, float(rcond))
    return JacobianAnalysis(c, sv, Vt, int(rank), rcond, bool(finite), float(cond),
                            float(ratio), pinv)


#: a parameter whose weight in a dropped right singular vector (scaled, largest
#: weight 1) is at least this takes part in an undetermined combination
UNDETERMINED_WEIGHT = 0.05


def undetermined(ja):
    """Boolean mask of the parameters that take part in a combination the data
    cannot determine (the dropped right singular vectors of ``J D^{-1}``)."""
    mask = np.zeros(ja.col_norms.size, dtype=bool)
    if ja.finite:
        for _, v in ja.directions(ja.rank):
            mask |= np.abs(v) >= UNDETERMINED_WEIGHT
    return mask


def covariance(ja, rss, m, n, absolute_sigma):
    """``pcov`` from a :class:`JacobianAnalysis` (see the module docstring).

    Returns ``(pcov, pcov_identifiable, reason)``: ``pcov`` has ``inf`` in the
    rows and columns of the :func:`undetermined` parameters, and
    ``pcov_identifiable`` is the scaled pseudo-inverse (the covariance of the
    combinations the data determine; equal to ``pcov`` at full rank).
    ``reason`` is None, or a string saying why the covariance could not be
    estimated (then both are all-inf).
    """
    if not ja.finite:
        inf = np.full((n, n), np.inf)
        return inf, inf.copy(), "the Jacobian at the solution is not finite"
    k = ja.rank
    if not absolute_sigma and m <= k:
        inf = np.full((n, n), np.inf)
        return (inf, inf.copy(),
                f"there are no degrees of freedom to estimate the noise (m = {m} data "
                f"points, {k} determined parameters); pass absolute_sigma=True with known "
                "sigma")
    ident = ja.pinv.copy() if absolute_sigma else ja.pinv * (rss / (m - k))
    pcov = ident.copy()
    if k < n:
        free = undetermined(ja)
        pcov[free, :] = np.inf
        pcov[:, free] = np.inf
    return pcov, ident, None


def correlation(pcov):
    d = np.sqrt(np.diag(pcov))
    with np.errstate(invalid="ignore", divide="ignore"):
        C = pcov / np.outer(d, d)
    C[~np.isfinite(C)] = np.nan
    np.fill_diagonal(C, 1.0)
    return C


def format_direction(d, involved, names):
    """``'+1*a -0.59*d'``: the parameter-space direction ``d`` over ``involved``."""
    parts = []
    for j in np.flatnonzero(involved):
        parts.append(f"{d[j]:+.3g}*{names[j]}")
    return " ".join(parts)


# ----------------------------------------------------------------------------
# The checks
# ----------------------------------------------------------------------------

def check_squared_residuals(f, n):
    """All residuals of one sign with a cost far above rounding: the residual
    function probably returns squared errors (``(y - model)**2``)."""
    f = np.asarray(f, dtype=float)
    m = f.size
    if m < max(8, n + 3) or not np.all(np.isfinite(f)):
        return []
    scale = float(np.max(np.abs(f)))
    if scale == 0.0:
        return []
    nonzero = np.abs(f) > 1e-8 * scale
    if int(np.sum(nonzero)) < max(8, n + 3):
        return []
    if np.all(f >= 0) or np.all(f <= 0):
        sign = "non-negative" if np.all(f >= 0) else "non-positive"
        return [Diagnostic(
            "squared_residuals",
            f"all {m} residuals at the solution are {sign}; `fun` may return squared "
            "errors instead of residuals",
            "least_squares squares the residuals itself: `fun` should return "
            "y - model (signed), not (y - model)**2 or abs(y - model).  Squared "
            "residuals change the problem into minimising sum((y - model)**4), which "
            "weights outliers enormously and leaves the cost far above the noise; a "
            f"genuine fit leaves residuals of both signs (all {sign} by chance has "
            f"probability 2**-{int(np.sum(nonzero))}).",
            {"m": m, "n_nonzero": int(np.sum(nonzero)), "max_residual": scale})]
    return []


def check_at_bound(x, lb, ub, names, active_mask=None, rtol=1e-8):
    if lb is None or ub is None:
        return []
    lbl = np.asarray(lb, float).ravel().tolist()   # (a few Python floats: cheaper
    ubl = np.asarray(ub, float).ravel().tolist()   # than two numpy reductions)
    if not (any(map(math.isfinite, lbl)) or any(map(math.isfinite, ubl))):
        return []
    x = np.asarray(x, float)
    lb = np.broadcast_to(np.asarray(lb, float), x.shape)
    ub = np.broadcast_to(np.asarray(ub, float), x.shape)
    hits = []
    for j in range(x.size):
        am = 0 if active_mask is None else int(active_mask[j])
        lo = np.isfinite(lb[j]) and (am == -1 or x[j] - lb[j] <= rtol * max(1.0, abs(lb[j])))
        hi = np.isfinite(ub[j]) and (am == 1 or ub[j] - x[j] <= rtol * max(1.0, abs(ub[j])))
        if lo:
            hits.append((names[j], "lower", float(lb[j])))
        elif hi:
            hits.append((names[j], "upper", float(ub[j])))
    if not hits:
        return []
    which = ", ".join(f"{nm} at its {side} bound {b:g}" for nm, side, b in hits)
    return [Diagnostic(
        "at_bound",
        f"parameter{'s' if len(hits) > 1 else ''} stuck at a bound: {which}",
        "The best fit inside the bounds lies on the bound, so the unconstrained "
        "optimum is outside them.  Either the bound is wrong (too tight, or the "
        "wrong sign), the model or the data disagree with it, or the parameter is "
        "not needed.  The standard errors assume an interior optimum and are not "
        "meaningful for a parameter held at a bound.",
        {"parameters": [h[0] for h in hits], "sides": [h[1] for h in hits],
         "bounds": [h[2] for h in hits]})]


def check_jacobian(ja, names):
    """Rank deficiency / ill-conditioning of the Jacobian at the solution."""
    n = ja.col_norms.size
    out = []
    if not ja.finite:
        return out
    if ja.rank < n:
        combos = []
        for d, v in ja.directions(ja.rank):
            involved = np.abs(v) >= UNDETERMINED_WEIGHT
            combos.append({"parameters": [names[j] for j in np.flatnonzero(involved)],
                           "direction": d, "text": format_direction(d, involved, names)})
        texts = "; ".join(f"({c['text']})" for c in combos)
        dead = [names[j] for j in range(n) if ja.col_norms[j] == 0]
        extra = (f" Parameter{'s' if len(dead) > 1 else ''} {', '.join(dead)} "
                 "has no effect on the model at all." if dead else "")
        out.append(Diagnostic(
            "rank_deficient",
            f"the Jacobian has rank {ja.rank} < {n}: the data cannot determine the "
            f"parameter combination{'s' if len(combos) > 1 else ''} {texts}",
            "Moving the parameters along the direction(s) shown leaves the model "
            "unchanged (to the accuracy of the Jacobian), so the data cannot tell "
            "those values apart: the model is over-parametrised (e.g. a*d where only "
            "the product matters) or the data do not cover the region where the "
            "parameters act.  Their variances are infinite (inf in pcov); the "
            "pseudo-inverse (infodict['pcov_identifiable']) gives the uncertainty of "
            "the combinations the data do determine.  Remove or fix a parameter, or "
            "reparametrise." + extra,
            {"rank": ja.rank, "n": n, "combinations": combos,
             "singular_values": ja.sv, "rcond": ja.rcond}))
    elif ja.cond > ILL_CONDITIONED:
        (d, v), = ja.directions(n - 1)
        involved = np.abs(v) >= 0.05
        txt = format_direction(d, involved, names)
        out.append(Diagnostic(
            "ill_conditioned",
            f"the Jacobian is ill-conditioned (scaled condition number {ja.cond:.2g}); "
            f"the data barely determine the combination ({txt})",
            "The fit hardly changes when the parameters move together along the "
            "direction shown, so their estimates are strongly correlated and their "
            "standard errors large; small changes in the data move them a lot.  "
            "Consider fixing one of the parameters involved, reparametrising the "
            "model, or collecting data where these parameters act differently.",
            {"cond": ja.cond, "parameters": [names[j] for j in np.flatnonzero(involved)],
             "direction": d, "text": txt}))
    return out


def check_max_nfev(status, nfev):
    if status != 0:
        return []
    return [Diagnostic(
        "max_nfev",
        f"the solver stopped after {nfev} function evaluations (`max_nfev`) "
        "before converging",
        "The returned parameters are where the solver ran out of budget, not a "
        "minimum: the cost may still be decreasing.  Raise `max_nfev` (curve_fit: "
        "`maxfev`), start closer (`p0`), rescale the parameters to similar "
        "magnitudes (or pass x_scale='jac'), or try another method or multistart.",
        {"nfev": int(nfev)})]


def check_scaling(ja, x, names):
    r = ja.scaling_ratio
    if not r > BAD_SCALING:
        return []
    c = ja.col_norms
    nz = np.flatnonzero(c > 0)
    big = nz[np.argmax(c[nz])]
    small = nz[np.argmin(c[nz])]
    return [Diagnostic(
        "bad_scaling",
        f"the parameters' effects differ by {np.log10(r):.1f} orders of magnitude "
        f"(d model/d {names[big]} vs d model/d {names[small]})",
        "Sensitivities this far apart exceed what double precision can balance in "
        "J^T J (its diagonal spans more than 1/eps): steps, damping and finite "
        "differences that treat all parameters alike can stall or lose the small "
        "one.  Rescale the model so that the parameters are of similar size "
        "(e.g. fit k/1000 instead of k), or pass x_scale='jac'.",
        {"ratio": r, "largest": names[big], "smallest": names[small],
         "col_norms": c, "x": np.asarray(x, float)})]


def covariance_unavailable(reason):
    return Diagnostic(
        "covariance_unavailable",
        f"the covariance of the parameters could not be estimated: {reason}",
        "pcov is set to inf because the uncertainty cannot be computed from this "
        "fit; the parameter values themselves may still be fine.",
        {"reason": reason})


def run_checks(*, x, f, J, status, nfev, lb, ub, names, active_mask=None,
               rcond=None, jac_kind=None, residuals_from_user=True):
    """All checks on one solution.  Returns ``(diagnostics, jacobian_analysis)``."""
    x = np.asarray(x, float)
    n = x.size
    J = np.asarray(J, float)
    if rcond is None:
        rcond = default_rcond(jac_kind, J.shape[0], n)
    ja = analyse_jacobian(J, rcond)
    diags = []
    diags += check_max_nfev(status, nfev)
    if residuals_from_user:
        diags += check_squared_residuals(f, n)
    diags += check_at_bound(x, lb, ub, names, active_mask)
    diags += check_jacobian(ja, names)
    diags += check_scaling(ja, x, names)
    return diags, ja


def emit(diags, stacklevel=3):
    for d in diags:
        warnings.warn(f"{d.message}. {d.explanation}", fit_warning(), stacklevel=stacklevel)


def bounds_for_checks(x, bounds, active_mask):
    """``(lb, ub)`` arrays for :func:`check_at_bound`, or ``(None, None)``.

    Parameters
    ----------
    x : ndarray
        The solution.
    bounds : 2-tuple or None
        The bounds of the solve, if known.
    active_mask : array_like or None
        ``active_mask`` of a ``least_squares`` result: without ``bounds``,
        an active constraint (-1 lower, 1 upper) is taken as a bound at
        ``x`` itself, so that a parameter held there is still reported.

    Returns
    -------
    lb, ub : ndarray or None
        Broadcast to the shape of ``x``.
    """
    if bounds is not None:
        lb, ub = (np.broadcast_to(np.asarray(b, float), x.shape) for b in bounds)
        return lb, ub
    if active_mask is not None and np.any(np.asarray(active_mask) != 0):
        am = np.asarray(active_mask)
        return np.where(am == -1, x, -np.inf), np.where(am == 1, x, np.inf)
    return None, None


def diagnose(res, *, bounds=None, names=None, jac="2-point", rcond=None, warn=True):
    """Check a :func:`lsqcore.least_squares` result for the classic pitfalls.

    Parameters
    ----------
    res : OptimizeResult
        From ``lsqcore.least_squares`` (or ``scipy.optimize.least_squares``).
    bounds : 2-tuple, optional
        The bounds of the solve (default: from ``res.active_mask`` only).
    names : sequence of str, optional
        Parameter names used in the messages (default ``p0, p1, ...``).
    jac : str or callable, optional
        The ``jac`` option of the solve (default '2-point', as in
        ``least_squares``); sets the rank cut-off (finite differences are
        less accurate than an analytic Jacobian).
    rcond : float, optional
        Relative singular-value cut-off; overrides the one implied by ``jac``.
    warn : bool, optional
        Issue each finding as a :class:`FitWarning` (default True).

    Returns
    -------
    list of Diagnostic
        Empty for a healthy fit.
    """
    x = np.asarray(res.x, float)
    nm = param_names(x.size, names)
    am = res.get("active_mask")
    lb, ub = bounds_for_checks(x, bounds, am)
    diags, _ = run_checks(x=x, f=res.fun, J=res.jac, status=int(res.status),
                          nfev=int(res.nfev), lb=lb, ub=ub, names=nm, active_mask=am,
                          rcond=rcond, jac_kind=jac if isinstance(jac, str) else None)
    if warn:
        emit(diags)
    return diags
