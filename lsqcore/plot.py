"""Plots of a ``curve_fit`` result (needs matplotlib: ``pip install lsqcore[plot]``).

>>> popt, pcov, info, mesg, ier = lsqcore.curve_fit(f, x, y, full_output=True)
>>> fig, (ax_fit, ax_res) = lsqcore.plot.plot_fit(info)

The upper panel shows the data (with error bars for 1-D ``sigma``) and the
fitted model on a fine grid; the lower panel the residuals ``y - f(x)``
(divided by ``sigma`` when the fit was weighted, so that they should look
like unit-variance noise), with a zero line and the +-1 band of the RMS.
"""
from __future__ import annotations

import numpy as np

__all__ = ["plot_fit"]


def _report_of(fit):
    from ._report import FitReport
    if isinstance(fit, tuple) and len(fit) == 5:
        fit = fit[2]
    if isinstance(fit, dict):
        fit = fit.get("report")
    if not isinstance(fit, FitReport) or not hasattr(fit, "_plot"):
        raise TypeError("plot_fit needs the report of lsqcore.curve_fit: pass the "
                        "infodict (full_output=True), the 5-tuple or infodict['report'].")
    return fit


def plot_fit(fit, *, ax=None, residuals=True, n_curve=400, title=None, xlabel="x",
             ylabel="y", data_kw=None, curve_kw=None):
    """Data, fitted curve and (optionally) a residual panel.

    Parameters
    ----------
    fit : dict, tuple or FitReport
        ``infodict`` of ``curve_fit(..., full_output=True)``, the 5-tuple
        itself, or ``infodict['report']``.
    ax : matplotlib Axes or (Axes, Axes), optional
        Where to draw (one Axes: no residual panel unless two are given).
    residuals : bool, optional
        Draw the residual panel (default True).
    n_curve : int, optional
        Points of the fitted curve for 1-D ``xdata`` (the model is evaluated
        on a uniform grid over the data range; other ``xdata`` are plotted
        against the data index).
    title, xlabel, ylabel : str, optional
    data_kw, curve_kw : dict, optional
        Extra keyword arguments for the data / curve artists.

    Returns
    -------
    fig, axes
        The figure and a tuple of its axes ``(fit,)`` or ``(fit, residuals)``.
    """
    import matplotlib.pyplot as plt

    rep = _report_of(fit)
    ctx = rep._plot
    f, xdata, ydata, sigma, kind = (ctx[k] for k in ("f", "xdata", "ydata", "sigma", "kind"))
    popt = rep.values
    if ax is None:
        if residuals:
            fig, axes = plt.subplots(2, 1, sharex=True, figsize=(6.4, 5.2),
                                     gridspec_kw={"height_ratios": [3, 1], "hspace": 0.06})
        else:
            fig, a = plt.subplots(figsize=(6.4, 4.2))
            axes = (a,)
    else:
        axes = tuple(ax) if isinstance(ax, (tuple, list, np.ndarray)) else (ax,)
        fig = axes[0].figure
        residuals = residuals and len(axes) > 1
    axes = tuple(axes)
    a0 = axes[0]
    one_d = isinstance(xdata, np.ndarray) and xdata.ndim == 1
    xs = xdata if one_d else np.arange(ydata.size)
    yfit = np.broadcast_to(np.asarray(f(xdata, *popt), dtype=float), ydata.shape)
    dkw = dict(fmt="o", ms=3.5, color="0.25", ecolor="0.6", elinewidth=0.8, capsize=0,
               label="data", zorder=2)
    dkw.update(data_kw or {})
    err = None
    if sigma is not None and kind == "diag":
        err = np.broadcast_to(np.asarray(sigma, float), ydata.shape)
    elif sigma is not None and kind == "chol":
        err = np.sqrt(np.diag(np.asarray(sigma, float)))
    a0.errorbar(xs, ydata, yerr=err, **dkw)
    ckw = dict(color="C3", lw=1.8, label="fit", zorder=3)
    ckw.update(curve_kw or {})
    if one_d and n_curve:
        xg = np.linspace(float(np.min(xdata)), float(np.max(xdata)), int(n_curve))
        try:
            yg = np.broadcast_to(np.asarray(f(xg, *popt), dtype=float), xg.shape)
            a0.plot(xg, yg, **ckw)
        except Exception:   # noqa: BLE001 - a model tied to the data grid
            order = np.argsort(xdata)
            a0.plot(xdata[order], yfit[order], **ckw)
    else:
        a0.plot(xs, yfit, **ckw)
    a0.set_ylabel(ylabel)
    stats = f"$\\chi^2_\\nu$ = {rep.redchi:.3g}"
    if rep.r2 is not None:
        stats += f",  $R^2$ = {rep.r2:.4f}"
    a0.legend(title=stats, loc="best", frameon=False)
    a0.set_title(title if title is not None else
                 ", ".join(f"{nm} = {v:.4g} ± {se:.2g}" for nm, v, se in
                           zip(rep.names, rep.values, rep.stderr))[:110], fontsize=9)
    if residuals:
        a1 = axes[1]
        r = ydata - yfit
        lab = "residual"
        if kind == "diag":
            r = r / np.broadcast_to(np.asarray(sigma, float), r.shape)
            lab = "residual / σ"
        elif kind == "chol":
            from scipy.linalg import solve_triangular
            r = solve_triangular(np.linalg.cholesky(np.asarray(sigma, float)), r, lower=True)
            lab = "whitened residual"
        rms = float(np.sqrt(np.mean(r * r)))
        a1.axhspan(-rms, rms, color="C0", alpha=0.12, lw=0)
        a1.axhline(0.0, color="0.3", lw=0.8)
        a1.plot(xs, r, "o", ms=3, color="C0")
        a1.set_ylabel(lab)
        a1.set_xlabel(xlabel if one_d else "data index")
    else:
        a0.set_xlabel(xlabel if one_d else "data index")
    return fig, axes
