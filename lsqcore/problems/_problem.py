"""The :class:`Problem` record shared by the NIST StRD and MGH test sets.

A problem bundles a Numba-compiled residual ``fun(x, *args) -> (m,)`` and
its analytic Jacobian ``jac(x, *args) -> (m, n)`` with the data, the starting
points and the known solution, so that a solver can be called as::

    p = lsqcore.problems.get("Misra1a")
    res = least_squares(p.fun, p.starts[0], jac=p.jac, args=p.args,
                        bounds=p.bounds)
    p.lre(res.x)      # correct significant digits against p.x_star

The objective is always ``cost(x) = 0.5 * sum(fun(x, *args)**2)`` (the
scipy convention), so ``cost_star`` is half the "f*" or RSS quoted by the
original sources.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

__all__ = ["Problem", "log_relative_error"]


def log_relative_error(estimate, certified, sig_digits):
    """Elementwise log relative error (LRE), as in the NIST StRD README.

    ``LRE = -log10(|estimate - certified| / |certified|)`` clipped to
    ``[0, sig_digits]``; where ``certified == 0`` the absolute error is used
    instead.  An exact match scores ``sig_digits`` and a non-finite estimate
    scores 0.

    Parameters
    ----------
    estimate, certified, sig_digits : array_like
        Broadcastable arrays.

    Returns
    -------
    ndarray of float
    """
    est = np.asarray(estimate, dtype=float)
    cert = np.asarray(certified, dtype=float)
    sig = np.asarray(sig_digits, dtype=float)
    est, cert, sig = np.broadcast_arrays(est, cert, sig)
    out = np.empty(est.shape, dtype=float)
    for idx in np.ndindex(est.shape):
        e, c, s = float(est[idx]), float(cert[idx]), float(sig[idx])
        if not math.isfinite(e):
            out[idx] = 0.0
            continue
        err = abs(e - c)
        if err == 0.0:
            out[idx] = s
            continue
        rel = err / abs(c) if c != 0.0 else err
        out[idx] = min(max(-math.log10(rel), 0.0), s)
    return out


@dataclass(frozen=True, eq=False)
class Problem:
    """One nonlinear least-squares test problem.

    Attributes
    ----------
    name : str
        Problem name (NIST spelling such as ``"Misra1a"``; MGH names are
        lower-case identifiers such as ``"rosenbrock"``).
    library : str
        ``"nist"`` or ``"mgh"``.
    fun : numba dispatcher
        Residual ``fun(x, *args) -> ndarray (m,)``.  Compiled lazily with
        ``numba.njit(cache=True, error_model="numpy")``; it accepts float64
        or complex128 ``x`` (complex step) and returns the same dtype.  It can
        be called from Python or from another ``@njit`` function.
    jac : numba dispatcher
        Analytic Jacobian ``jac(x, *args) -> ndarray (m, n)`` of ``fun``;
        same calling and dtype conventions.
    args : tuple of ndarray
        Extra arguments (data) for ``fun`` and ``jac``: float64, C-contiguous.
    m, n : int
        Number of residuals and of parameters.
    starts : tuple of ndarray
        Starting points.  ``starts[0]`` is the standard one (NIST ``start1``,
        MGH ``x0``).
    bounds : tuple (lb, ub) of ndarray
        Bounds; ``-inf``/``inf`` where unbounded.
    x_star : ndarray or None
        Certified (NIST) or known (MGH) minimiser.
    cost_star : float or None
        ``0.5 * sum(fun(x_star)**2)``: the certified RSS / 2 (NIST) or the
        known minimum f* / 2 (MGH).
    difficulty : str
        NIST level ``"lower"``, ``"average"``, ``"higher"``; ``""`` for MGH.
    source : str
        Citation / origin of the problem.
    certified_stddev : ndarray or None
        NIST certified standard deviations of the parameters.
    certified_rss : float or None
        NIST certified residual sum of squares (``2 * cost_star``).
    sig_digits : ndarray of int or None
        Significant digits of each ``x_star`` component (the LRE clip).
    rss_sig_digits : int or None
        Significant digits of ``certified_rss`` / ``cost_star``.
    local_minima : tuple of float
        Costs (0.5 * sum f**2) of known non-global local minima (or limits at
        infinity) that a local solver may legitimately reach.
    notes : str
        Free-text remarks (conventions, caveats).
    """

    name: str
    library: str
    fun: Callable[..., Any]
    jac: Callable[..., Any]
    args: tuple
    m: int
    n: int
    starts: tuple
    bounds: tuple
    x_star: Optional[np.ndarray]
    cost_star: Optional[float]
    difficulty: str = ""
    source: str = ""
    certified_stddev: Optional[np.ndarray] = None
    certified_rss: Optional[float] = None
    sig_digits: Optional[np.ndarray] = None
    rss_sig_digits: Optional[int] = None
    local_minima: tuple = field(default=())
    notes: str = ""

    # ------------------------------------------------------------ helpers
    @property
    def x0(self) -> np.ndarray:
        """The standard starting point (a copy of ``starts[0]``)."""
        return np.array(self.starts[0], dtype=float)

    def residual(self, x) -> np.ndarray:
        """``fun(x, *args)`` for float64 ``x``."""
        return self.fun(np.asarray(x, dtype=float), *self.args)

    def jacobian(self, x) -> np.ndarray:
        """``jac(x, *args)`` for float64 ``x``."""
        return self.jac(np.asarray(x, dtype=float), *self.args)

    def cost(self, x) -> float:
        """``0.5 * sum(fun(x)**2)``."""
        f = self.residual(x)
        return 0.5 * float(np.dot(f, f))

    def lre(self, x) -> float:
        """Minimum log relative error of ``x`` against ``x_star``.

        Each component's LRE is clipped to ``[0, sig_digits[i]]`` (see
        :func:`log_relative_error`); components of ``x_star`` that are zero
        use the absolute error.  Raises ``ValueError`` if no ``x_star`` is
        known.  For MGH problems whose minimiser is not unique (e.g.
        ``box3d``, ``linear_rank1``) this measures the distance to one
        representative minimiser only; compare costs instead.
        """
        if self.x_star is None:
            raise ValueError("problem %r has no known minimiser" % self.name)
        x = np.asarray(x, dtype=float).ravel()
        if x.shape != self.x_star.shape:
            return 0.0
        sig = self.sig_digits if self.sig_digits is not None else 15
        return float(np.min(log_relative_error(x, self.x_star, sig)))

    def rss_lre(self, rss) -> float:
        """LRE of a residual sum of squares ``rss = sum(f**2)`` against
        ``2 * cost_star`` (the certified RSS for NIST problems)."""
        if self.cost_star is None:
            raise ValueError("problem %r has no known minimum" % self.name)
        sig = self.rss_sig_digits if self.rss_sig_digits is not None else 15
        return float(log_relative_error(rss, 2.0 * self.cost_star, sig))

    def __repr__(self):
        return "Problem(%r, library=%r, m=%d, n=%d)" % (
            self.name, self.library, self.m, self.n)
