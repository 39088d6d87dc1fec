"""The fit report: "is my fit any good?", as text and as a dict.

Statistics (``r = W (model - y)`` the weighted residuals, ``m`` points, ``n``
parameters, ``nu = m - k`` degrees of freedom with ``k`` the rank of the
Jacobian, i.e. ``m - n`` unless some parameter combination is undetermined):

* ``chisq = ||r||^2`` and ``redchi = chisq / nu``.  With correct absolute
  ``sigma``, ``redchi`` should be near 1 (Bevington & Robinson, *Data
  Reduction and Error Analysis*, ch. 11).
* ``R^2 = 1 - chisq / chisq_0`` with ``chisq_0`` the chi-square of the best
  constant model under the same weights (the generalised-least-squares mean);
  unweighted it is the usual ``1 - SS_res / SS_tot``.
* ``RMSE = sqrt(mean((y - model)^2))`` in the units of ``y`` (unweighted).
* ``AIC``/``BIC`` for Gaussian errors (Burnham & Anderson, *Model Selection
  and Multimodel Inference*, 2nd ed., 2002, sec. 2.2 and 6.4; Schwarz 1978),
  up to the additive constant shared by all models of the same data:
  with an estimated noise level (``absolute_sigma=False``)
  ``AIC = m log(chisq/m) + 2K`` and ``BIC = m log(chisq/m) + K log m`` with
  ``K = k + 1`` (the variance counts as a parameter); with known sigma
  ``AIC = chisq + 2k`` and ``BIC = chisq + k log m``, where ``k`` is the
  number of parameters the data determine (the rank of ``J``, i.e. ``n``
  for a well-posed fit).  ``AICc`` adds the small-sample term
  ``2K(K+1)/(m-K-1)``.
* standard errors ``sqrt(diag(pcov))``, relative errors ``stderr/|value|``
  and correlations ``pcov_ij / (se_i se_j)`` (Seber & Wild 1989, sec. 2.1).
  The text shows no percentage (``--``) for a parameter held at a bound
  (whose error assumes an interior optimum, marked ``(at lower bound)`` /
  ``(at upper bound)``) or one that is zero within its error
  (``|value| < stderr / 100``, marked ``(zero within its error)``): only the
  absolute error is meaningful there.
"""
from __future__ import annotations

import math

import numpy as np

from ._diagnostics import (STRONG_CORRELATION, Diagnostic, _plain, analyse_jacobian,
                           bounds_for_checks, correlation, covariance,
                           covariance_unavailable, default_rcond, param_names, run_checks)

SHOW_CORRELATION = 0.5
#: relative errors above this (|value| below 1/100 of its std. error) are not
#: shown as a percentage: the value is zero within its error and the ratio
#: (e.g. 5e+23% for a value of 8e-24 at a bound of 0) says nothing
MAX_SHOWN_RELERR = 100.0


def information_criteria(chisq, m, n, absolute_sigma):
    """``(aic, bic, aicc)`` as described in the module docstring."""
    if absolute_sigma:
        K = n
        aic = chisq + 2 * n
        bic = chisq + n * math.log(m)
    else:
        K = n + 1
        ll = m * math.log(chisq / m) if chisq > 0 else -math.inf
        aic = ll + 2 * K
        bic = ll + K * math.log(m)
    aicc = aic + 2 * K * (K + 1) / (m - K - 1) if m - K - 1 > 0 else math.nan
    return aic, bic, aicc


class FitReport:
    """Summary of one fit.  ``str(report)`` is the text; ``to_dict()`` the data.

    Attributes (all plain numbers / arrays)
    ---------------------------------------
    names, values, stderr, relerr, pcov, correl
        Parameters, standard errors, relative errors ``stderr/|value|``, the
        covariance and correlation matrices.
    at_bound : dict
        ``{name: 'lower' | 'upper'}`` for the parameters held at a bound.
    strong_pairs : list of (name_i, name_j, r)
        Pairs with ``|r| >= 0.95``.
    m, n, dof, chisq, redchi, r2, rmse, aic, bic, aicc
        Goodness of fit (``r2`` and ``rmse`` are None without data ``y``).
    nfev, njev, nit, status, message, success, method
        Solver outcome (``njev``, ``nit`` None when the solver does not
        report them, e.g. ``nit`` of a scipy result; ``method`` None when
        unknown).
    rank, cond, scaling_ratio, null_space
        Jacobian at the solution: numerical rank, condition number of the
        column-equilibrated Jacobian, ratio of largest to smallest column
        norm, and the undetermined parameter directions (rank deficiency).
    diagnostics : list of Diagnostic
        Findings (empty for a healthy fit).
    multistart : dict or None
        Summary of a multi-start run (distinct minima and how often reached).
    """

    def __init__(self, **kw):
        self.__dict__.update(kw)

    # ------------------------------------------------------------------ data
    _FIELDS = ("source", "method", "names", "values", "stderr", "relerr", "pcov",
               "correl", "strong_pairs", "m", "n", "dof", "chisq", "redchi", "r2",
               "rmse", "aic", "bic", "aicc", "absolute_sigma", "weighted", "nfev",
               "njev", "nit", "status", "message", "success", "rank", "cond",
               "scaling_ratio", "null_space", "multistart")

    def to_dict(self):
        """Everything in the report as plain Python (lists, floats, str)."""
        d = {k: _plain(getattr(self, k, None)) for k in self._FIELDS}
        at = self.at_bound
        d["parameters"] = [
            {"name": nm, "value": float(v), "stderr": float(se), "relerr": float(re),
             "at_bound": at.get(nm)}
            for nm, v, se, re in zip(self.names, self.values, self.stderr, self.relerr)]
        d["diagnostics"] = [g.to_dict() for g in self.diagnostics]
        return d

    @property
    def params(self):
        """``{name: (value, stderr)}``."""
        return {nm: (float(v), float(se))
                for nm, v, se in zip(self.names, self.values, self.stderr)}

    # ------------------------------------------------------------------ text
    def __str__(self):
        return self.as_text()

    def __repr__(self):
        return f"<FitReport {self.source} {self.method!r}: chisq={self.chisq:.6g}, " \
               f"{len(self.diagnostics)} diagnostic(s)>"

    def as_text(self, explain=True):
        """The report as text; ``explain=False`` omits the diagnostic explanations."""
        L = []
        w = L.append
        w(f"Fit report ({self.source}"
          + (f", method {self.method!r})" if self.method is not None else ")"))
        w(f"  {self.message}")
        counts = ", ".join(f"{k} {v}" for k, v in (("nfev", self.nfev), ("njev", self.njev),
                                                  ("nit", self.nit)) if v is not None)
        w(f"  status {self.status} ({'success' if self.success else 'FAILED'}), {counts}")
        w(f"  data points {self.m}, parameters {self.n}, degrees of freedom {self.dof}"
          + (", weighted" if self.weighted else "")
          + (", absolute sigma" if self.absolute_sigma else ""))
        w("Goodness of fit")
        rows = [("chi-square", self.chisq), ("reduced chi-square", self.redchi)]
        if self.r2 is not None:
            rows.append(("R^2", self.r2))
        if self.rmse is not None:
            rows.append(("RMSE", self.rmse))
        rows += [("AIC", self.aic), ("BIC", self.bic)]
        if not math.isnan(self.aicc):
            rows.append(("AICc", self.aicc))
        for k, v in rows:
            w(f"  {k:<20}{_num(v)}")
        w("Parameters")
        width = max(8, max(len(s) for s in self.names) + 2)
        w(f"  {'name':<{width}}{'value':>16}{'std. error':>14}{'rel. error':>12}")
        at = self.at_bound
        for nm, v, se, re, flag in zip(self.names, self.values, self.stderr, self.relerr,
                                       self._flags()):
            if nm in at or _zero_within_error(v, se):
                rel = "--"              # only the absolute error means something
            else:
                rel = f"{100 * re:.3g}%" if np.isfinite(re) else "inf"
            w(f"  {nm:<{width}}{_num(v, 16)}{_num(se, 14)}{rel:>12}  {flag}".rstrip())
        shown = [(a, b, r) for a, b, r in self._pairs() if abs(r) >= SHOW_CORRELATION]
        w(f"Correlations (|r| >= {SHOW_CORRELATION}; ** strong: |r| >= {STRONG_CORRELATION})")
        if not shown:
            w("  none")
        for a, b, r in shown:
            w(f"  {a + ', ' + b:<{2 * width}}{r:+.4f}{'  **' if abs(r) >= STRONG_CORRELATION else ''}")
        w(f"Jacobian: rank {self.rank}/{self.n}, scaled condition number {_num(self.cond).strip()}, "
          f"column-norm ratio {_num(self.scaling_ratio).strip()}")
        if self.multistart:
            ms = self.multistart
            w(f"Multistart: {ms['n_starts']} starts, {ms['n_converged']} converged, "
              f"{ms['n_invalid']} invalid; {len(ms['minima'])} distinct minima at "
              f"{len(ms['levels'])} cost level(s)")
            for i, lv in enumerate(ms["levels"][:8]):
                pts = f" at {lv['n_points']} distinct points" if lv["n_points"] > 1 else ""
                w(f"  #{i + 1}  cost {lv['cost']:.10g}  reached {lv['count']}x{pts}")
        w("Diagnostics")
        if not self.diagnostics:
            w("  none: no known pitfall detected")
        for g in self.diagnostics:
            w(f"  [{g.code}] {g.message}")
            if explain:
                for line in _wrap(g.explanation, 74):
                    w("      " + line)
        return "\n".join(L)

    @property
    def at_bound(self):
        """``{name: 'lower' | 'upper'}`` of the parameters held at a bound
        (from the ``at_bound`` diagnostic)."""
        at = {}
        for g in self.diagnostics:
            if g.code == "at_bound":
                at.update({nm: side for nm, side in zip(g.details["parameters"],
                                                        g.details["sides"])})
        return at

    def _flags(self):
        out = []
        at = self.at_bound
        und = set()
        for c in self.null_space:
            und.update(c["parameters"])
        for nm, v, se in zip(self.names, self.values, self.stderr):
            f = []
            if nm in at:
                f.append(f"at {at[nm]} bound")
            elif nm not in und and _zero_within_error(v, se):
                f.append("zero within its error")
            if nm in und:
                f.append("not determined by the data")
            out.append("(" + "; ".join(f) + ")" if f else "")
        return out

    def _pairs(self):
        n = len(self.names)
        for i in range(n):
            for j in range(i + 1, n):
                r = self.correl[i, j]
                if np.isfinite(r):
                    yield self.names[i], self.names[j], float(r)


def _zero_within_error(value, stderr):
    """``|value|`` below ``stderr / MAX_SHOWN_RELERR`` (a finite, positive error)."""
    return bool(np.isfinite(stderr) and stderr > 0
                and abs(value) * MAX_SHOWN_RELERR < stderr)


def _num(v, width=0):
    if v is None:
        s = "n/a"
    elif isinstance(v, (int, np.integer)):
        s = str(v)
    elif not np.isfinite(v):
        s = str(float(v))
    elif v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
        s = f"{v:.6e}"
    else:
        s = f"{v:.7g}"
    return f"{s:>{width}}" if width else s


def _wrap(text, width):
    import textwrap
    return textwrap.wrap(text, width)


def analyse_fit(*, x, fun, J, status, nfev, names, absolute_sigma=False, lb=None, ub=None,
                active_mask=None, rcond=None, jac_kind=None, residuals_from_user=True,
                cost=None):
    """The part of a report that ``curve_fit`` always needs: the diagnostics,
    the Jacobian analysis and ``pcov``.  Returns ``(diags, ja, pcov, chisq,
    pcov_identifiable)`` (see :func:`lsqcore._diagnostics.covariance`)."""
    x = np.asarray(x, float)
    n = x.size
    f = np.asarray(fun, float)
    m = f.size
    diags, ja = run_checks(x=x, f=f, J=J, status=status, nfev=nfev, lb=lb, ub=ub,
                           names=names, active_mask=active_mask, rcond=rcond,
                           jac_kind=jac_kind, residuals_from_user=residuals_from_user)
    chisq = float(f @ f)
    # scale by 2*cost (equal to chisq for the linear loss; rho-based for a
    # robust loss, as scipy does)
    rss = chisq if cost is None else 2.0 * float(cost)
    pcov, ident, why = covariance(ja, rss, m, n, absolute_sigma)
    if why is not None:
        diags.append(covariance_unavailable(why))
    return diags, ja, pcov, chisq, ident


def build_report(*, x, fun, J, status, nfev, njev, nit, message, method, names,
                 absolute_sigma=False, lb=None, ub=None, active_mask=None,
                 rcond=None, jac_kind=None, ydata=None, yfit=None, weights=None,
                 chol=None, source="least_squares", residuals_from_user=True,
                 multistart=None, cost=None, analysis=None):
    """Assemble a :class:`FitReport` (see :func:`fit_report` for the public entry);
    ``analysis`` is a ready result of :func:`analyse_fit`."""
    x = np.asarray(x, float)
    n = x.size
    f = np.asarray(fun, float)
    m = f.size
    names = param_names(n, names)
    if analysis is None:
        analysis = analyse_fit(x=x, fun=f, J=J, status=status, nfev=nfev, names=names,
                               absolute_sigma=absolute_sigma, lb=lb, ub=ub,
                               active_mask=active_mask, rcond=rcond, jac_kind=jac_kind,
                               residuals_from_user=residuals_from_user, cost=cost)
    diags, ja, pcov, chisq, _ = analysis
    diags = list(diags)
    pcov = np.asarray(pcov, float)
    stderr = np.sqrt(np.abs(np.diag(pcov))).copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        relerr = np.where(x != 0, stderr / np.abs(x), np.inf).astype(float)
    correl = correlation(pcov)
    dof = m - ja.rank        # = m - n unless J is rank deficient
    redchi = chisq / dof if dof > 0 else math.inf
    aic, bic, aicc = information_criteria(chisq, m, ja.rank, absolute_sigma)
    r2 = rmse = None
    if ydata is not None and yfit is not None:
        y = np.asarray(ydata, float)
        raw = y - np.asarray(yfit, float)
        rmse = float(np.sqrt(np.mean(raw * raw)))
        chisq0 = _constant_model_chisq(y, weights, chol)
        r2 = 1.0 - chisq / chisq0 if chisq0 > 0 else math.nan
    null_space = []
    for g in diags:
        if g.code == "rank_deficient":
            null_space = [{"parameters": c["parameters"], "direction": c["direction"],
                           "text": c["text"]} for c in g.details["combinations"]]
    # (a parameter in an undetermined combination already has inf in pcov:
    # lsqcore._diagnostics.covariance)
    rep = FitReport(
        source=source, method=method, names=names, values=x.copy(), stderr=stderr,
        relerr=relerr, pcov=pcov, correl=correl, m=m, n=n, dof=dof, chisq=chisq,
        redchi=redchi, r2=r2, rmse=rmse, aic=aic, bic=bic, aicc=aicc,
        absolute_sigma=bool(absolute_sigma),
        weighted=weights is not None or chol is not None,
        nfev=int(nfev), njev=None if njev is None else int(njev),
        nit=None if nit is None else int(nit), status=int(status), message=message,
        success=status > 0, rank=ja.rank, cond=ja.cond, scaling_ratio=ja.scaling_ratio,
        null_space=null_space, diagnostics=diags, multistart=multistart)
    rep.strong_pairs = [(a, b, r) for a, b, r in rep._pairs() if abs(r) >= STRONG_CORRELATION]
    return rep


def _constant_model_chisq(y, weights, chol):
    """Chi-square of the best constant model ``y ~ c`` under the fit's weights."""
    m = y.size
    if chol is not None:
        from scipy.linalg import solve_triangular
        a = solve_triangular(chol, np.ones(m), lower=True)
        b = solve_triangular(chol, y, lower=True)
        c = (a @ b) / (a @ a)
        r = b - c * a
        return float(r @ r)
    w = np.ones(m) if weights is None else np.broadcast_to(np.asarray(weights, float), (m,))
    w2 = w * w
    c = float(np.sum(w2 * y) / np.sum(w2))
    return float(np.sum(w2 * (y - c) ** 2))


def fit_report(result, *, names=None, bounds=None, jac="2-point", absolute_sigma=False,
               rcond=None, method=None):
    """A :class:`FitReport` for a fit.

    Parameters
    ----------
    result : OptimizeResult or dict or tuple
        * the ``infodict`` of ``lsqcore.curve_fit(..., full_output=True)``
          (or the whole 5-tuple it returns): its ready report is returned;
        * a ``lsqcore.least_squares`` / ``scipy.optimize.least_squares``
          result: the residuals are ``result.fun`` and the covariance is
          ``s^2 (J^T J)^+`` (``s^2 = 2 cost/(m - rank)``, or 1 with
          ``absolute_sigma``); R^2 and RMSE need data and are left out.
    names : sequence of str, optional
        Parameter names (default ``p0, p1, ...``).
    bounds : 2-tuple, optional
        Bounds of a ``least_squares`` solve (to detect parameters at a bound;
        default: the bounds active at the solution, from
        ``result.active_mask``, as :func:`lsqcore.diagnose` does).
    jac : str, optional
        The ``jac`` option of a ``least_squares`` solve (sets the rank cut-off).
    absolute_sigma : bool, optional
        Residuals are already divided by known standard deviations.
    rcond : float, optional
        Relative singular-value cut-off for the covariance.
    method : str, optional
        The method of a ``least_squares`` solve, named in the report's
        header.  Default: ``result.method``, which ``lsqcore.least_squares``
        results carry; a ``scipy.optimize.least_squares`` result does not,
        and its header then names no method unless this is given.

    Returns
    -------
    FitReport
        ``print(report)`` for the text, ``report.to_dict()`` for the data.
    """
    if isinstance(result, tuple) and len(result) == 5 and isinstance(result[2], dict):
        result = result[2]
    if isinstance(result, dict) and "report" in result and isinstance(result["report"], FitReport):
        return result["report"]
    if isinstance(result, FitReport):
        return result
    res = result
    x = np.asarray(res.x, float)
    lb, ub = bounds_for_checks(x, bounds, res.get("active_mask"))
    if method is None:
        method = res.get("method")
    return build_report(
        x=x, fun=res.fun, J=res.jac, status=int(res.status), nfev=int(res.nfev),
        njev=res.get("njev"), nit=res.get("nit"), message=res.message, method=method,
        names=names, absolute_sigma=absolute_sigma, lb=lb, ub=ub,
        active_mask=res.get("active_mask"), rcond=rcond,
        jac_kind=jac if isinstance(jac, str) else None, source="least_squares",
        cost=res.get("cost"))
