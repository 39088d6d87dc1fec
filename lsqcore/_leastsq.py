"""``leastsq``: scipy's MINPACK-style interface on lsqcore's Levenberg-Marquardt.

``scipy.optimize.leastsq(func, x0, ...)`` is the older interface to MINPACK's
``lmdif``/``lmder`` (More, Garbow and Hillstrom 1980), still the default of
lmfit and the engine of ``curve_fit``'s unbounded path.  This module gives
it the same signature and return values and solves with
``least_squares(method='lm')`` (the same kernel as every other front end):

* options translate one to one: ``Dfun`` (transposed when ``col_deriv``) is
  the Jacobian, ``diag`` gives ``x_scale = 1 / diag`` (``None``: MINPACK's
  scaling by the Jacobian's column norms, ``x_scale='jac'``), ``epsfcn``
  the relative difference step ``sqrt(max(epsfcn, eps))``;
* ``maxfev`` counts every call of ``func``, the finite-difference ones
  included when ``Dfun`` is None (as ``lmdif`` counts them; default
  ``200 (n + 1)``, or ``100 (n + 1)`` with ``Dfun``); the solve is stopped
  at the end of the iteration in which the count reaches it (ier 5);
* the return value: ``x`` and ``ier``, and with ``full_output`` also
  ``cov_x = (R^T R)^{-1}`` permuted back (None when ``R`` is singular to
  working precision), the
  ``infodict`` (``nfev``, ``fvec``, ``fjac``, ``ipvt``, ``qtf``) and the
  message ``mesg``;
* ``ier``: 1 ftol, 2 xtol, 3 both, 4 gtol (the cosine test), 5 maxfev, as
  MINPACK; and 9 where lsqcore shows the point is not a minimum (a flat
  region, or a tolerance stop at a non-stationary point: scipy would report
  1-4 there), with lsqcore's explanation in ``mesg``.

``fjac``, ``ipvt`` and ``qtf`` come from a Householder QR with column
pivoting (Golub and Van Loan 2013, sec. 5.4.1) of the final Jacobian:
``fjac.T[:n]`` holds ``R`` in its upper triangle and ``J P = Q R`` with
``P`` the permutation ``ipvt`` (1-based, as MINPACK's); ``qtf`` is the first
``n`` entries of ``Q^T f``.  The strictly lower part of ``fjac.T`` is zero
(MINPACK keeps its Householder vectors there).
"""
import warnings

import numpy as np

from ._linalg import EPS
from ._status import (FTOL, XTOL, FTOL_XTOL, GTOL, MAX_NFEV, CALLBACK_STOP, IMPROPER_INPUT,
                      MESSAGES)

__all__ = ["leastsq"]

IER_OF_STATUS = {FTOL: 1, XTOL: 2, FTOL_XTOL: 3, GTOL: 4, MAX_NFEV: 5, CALLBACK_STOP: 5,
                 IMPROPER_INPUT: 0}
#: not a MINPACK code: lsqcore's verdict that the point is not a minimum
IER_NOT_A_MINIMUM = 9


def _message(ier, ftol, xtol, gtol, maxfev, status):
    """MINPACK's message for ``ier`` (clients match these sentences)."""
    if ier == 1:
        return ("Both actual and predicted relative reductions in the sum of squares\n"
                f"  are at most {ftol:f}")
    if ier == 2:
        return f"The relative error between two consecutive iterates is at most {xtol:f}"
    if ier == 3:
        return ("Both actual and predicted relative reductions in the sum of squares\n"
                f"  are at most {ftol:f} and the relative error between two consecutive "
                f"iterates is at \n  most {xtol:f}")
    if ier == 4:
        return ("The cosine of the angle between func(x) and any column of the\n"
                f"  Jacobian is at most {gtol:f} in absolute value")
    if ier == 5:
        return f"Number of calls to function has reached maxfev = {maxfev}."
    return MESSAGES[status]


def minpack_outcome(status, ftol, xtol, gtol, maxfev):
    """``(ier, mesg)`` of a solve that ended with lsqcore ``status``, in
    MINPACK's codes and words (also curve_fit's 'lm' path)."""
    ier = IER_OF_STATUS.get(int(status), IER_NOT_A_MINIMUM)
    return ier, _message(ier, ftol, xtol, gtol, maxfev, int(status))


def minpack_factors(J, f):
    """MINPACK's ``fjac``, ``ipvt``, ``qtf`` of the Jacobian ``J`` (m, n) and
    residuals ``f`` at the solution, with the pivoted ``R`` and permutation."""
    R, perm, qtf = pivoted_qr(J, f)
    m, n = np.shape(J)
    fjac = np.zeros((n, m))
    fjac[:, :min(m, n)] = R.T[:, :min(m, n)]
    return dict(fjac=fjac, ipvt=perm + 1, qtf=qtf), R, perm


class FirstCall:
    """``g(*a)``, except that its first call, when it is at ``p0``
    (``params(*a)``), returns ``value``, already computed there by an input
    check: the model is not run twice at the start (scipy gh-13670:
    expensive models, and models that count their calls).  ``calls`` counts
    every call, the first included."""

    def __init__(self, g, p0, value, params):
        self.g, self.value, self.params = g, value, params
        self.p0 = np.array(p0, dtype=float).tolist()   # (compared as lists: ~10x
        #                                                 cheaper than np.array_equal)
        self.calls = 0

    def __call__(self, *a):
        self.calls += 1
        value, self.value = self.value, None
        if value is not None and np.asarray(self.params(*a), dtype=float).tolist() == self.p0:
            return value
        return self.g(*a)


def _first_arg(x, *args):
    """The parameters in a call ``func(x, *args)``."""
    return x


def _check_shapes(func, Dfun, x0, args, col_deriv):
    """MINPACK's input checks, raising ``TypeError`` as scipy does: ``m >= n``
    and a Jacobian of shape (m, n) (``(n, m)`` with ``col_deriv``).  Returns
    ``m`` and ``func`` and ``Dfun`` serving their first call at ``x0`` from
    the evaluations made here."""
    n = x0.size
    f0 = np.atleast_1d(np.asarray(func(x0.copy(), *args)))
    m = f0.size
    if n > m:
        raise TypeError(f"Improper input: func input vector length N={n} must not exceed "
                        f"func output vector length M={m}")
    if Dfun is not None:
        J0 = np.atleast_2d(np.asarray(Dfun(x0.copy(), *args)))
        want = (n, m) if col_deriv else (m, n)
        if J0.shape != want:
            raise TypeError(f"Improper input: `Dfun` must return an array of shape {want} "
                            f"{'(col_deriv)' if col_deriv else ''}, got {J0.shape}.")
        Dfun = FirstCall(Dfun, x0, J0, _first_arg)
    return m, FirstCall(func, x0, f0, _first_arg), Dfun


def pivoted_qr(J, f):
    """Householder QR with column pivoting: ``J[:, perm] = Q R``.

    Returns ``R`` (n, n), ``perm`` (0-based) and the first ``n`` entries of
    ``Q^T f``: :func:`lsqcore.linear.dense.factor` (the one pivoted QR, which
    ``lsq_linear`` uses too)."""
    from .linear.dense import factor
    return factor(np.ascontiguousarray(J, dtype=np.float64), np.array(f, dtype=np.float64))


def _covariance(R, perm, m):
    """``(J^T J)^{-1} = P (R^T R)^{-1} P^T``; None when ``R`` is singular to
    working precision (``|R_kk| <= eps max(m, n) |R_00|``; pivoting orders
    the diagonal, so this is the numerical rank test of the QR)."""
    n = R.shape[0]
    d = np.abs(np.diag(R))
    if n == 0 or not np.all(np.isfinite(R)) or d[-1] <= EPS * max(m, n) * d[0]:
        return None
    try:
        R_inv = np.linalg.solve(R, np.eye(n))
    except np.linalg.LinAlgError:
        return None
    C = np.empty((n, n))
    C[np.ix_(perm, perm)] = R_inv @ R_inv.T
    return C


def leastsq(func, x0, args=(), Dfun=None, full_output=False, col_deriv=False,
            ftol=1.49012e-8, xtol=1.49012e-8, gtol=0.0, maxfev=0, epsfcn=None,
            factor=100, diag=None):
    """Minimise the sum of squares of ``func(x, *args)`` (scipy's ``leastsq``).

    Parameters
    ----------
    func : callable
        ``func(x, *args) -> (m,)`` residuals, ``m >= n``.
    x0 : array_like
        Starting point (flattened).
    args : tuple, optional
        Extra arguments of ``func`` and ``Dfun``.
    Dfun : callable, optional
        ``Dfun(x, *args) -> (m, n)`` Jacobian (``(n, m)`` with ``col_deriv``);
        None: forward differences.
    full_output : bool, optional
        Return ``cov_x``, ``infodict`` and ``mesg`` as well.
    col_deriv : bool, optional
        ``Dfun`` returns the derivatives down the rows (the transpose).
    ftol, xtol, gtol : float, optional
        MINPACK's tolerances (``gtol`` on the cosine of the angle between
        ``f`` and the Jacobian's columns; 0 is read as machine epsilon).
    maxfev : int, optional
        Maximum number of calls of ``func``; 0: ``200 (n + 1)`` (``100 (n +
        1)`` with ``Dfun``).
    epsfcn : float, optional
        Relative error of ``func``: the difference step is ``sqrt(max(epsfcn,
        eps))`` relative.
    factor : float, optional
        MINPACK's initial step bound factor; lsqcore's Levenberg-Marquardt
        starts from its own radius, and only the default 100 is accepted.
    diag : array_like, optional
        Scale factors of the variables (``x_scale = 1 / diag``); None: the
        Jacobian's column norms, updated as MINPACK does.

    Returns
    -------
    x : ndarray
        The solution.
    cov_x : ndarray or None
        ``(J^T J)^{-1}`` at the solution (``full_output`` only); multiply by
        the residual variance for the covariance of ``x``.
    infodict : dict
        ``nfev``, ``fvec``, ``fjac``, ``ipvt``, ``qtf`` (``full_output`` only).
    mesg : str
        Why the solve stopped (``full_output`` only).
    ier : int
        1-4: found a solution; 5: ``maxfev`` reached; 9: lsqcore shows the
        point is not a minimum (see ``mesg``).  Without ``full_output`` an
        ``ier`` outside 1-4 also gives a ``RuntimeWarning``.
    """
    from ._api import least_squares
    from ._validate import Unsupported
    x0 = np.asarray(x0, dtype=float).flatten()
    n = x0.size
    args = args if isinstance(args, tuple) else (args,)
    for name, tol in (("ftol", ftol), ("xtol", xtol), ("gtol", gtol)):
        if not tol >= 0.0:
            raise ValueError(f"`{name}` must be a non-negative number, got {tol!r}.")
    if factor != 100:
        raise Unsupported(f"`factor` = {factor!r} is not supported: lsqcore's "
                         "Levenberg-Marquardt chooses its own initial radius (use 100).")
    m, func, Dfun = _check_shapes(func, Dfun, x0, args, col_deriv)
    if not np.isfinite(func.value).all():
        raise Unsupported("`func` is not finite at `x0`: scipy's leastsq runs MINPACK on the "
                          "NaN anyway (its result is NaN); lsqcore refuses such a start.")
    if maxfev is None or maxfev <= 0:
        maxfev = (200 if Dfun is None else 100) * (n + 1)
    func.calls = 0                         # every call of func counts (MINPACK's nfev)

    def stop_at_maxfev(x):
        if func.calls >= maxfev:
            raise StopIteration

    if Dfun is None:
        jac = "2-point"
    elif col_deriv:
        def jac(x, *a):
            return np.asarray(Dfun(x, *a)).T
    else:
        jac = Dfun
    res = least_squares(
        func, x0, jac=jac, method="lm", ftol=max(ftol, EPS), xtol=max(xtol, EPS),
        gtol=max(gtol, EPS), max_nfev=maxfev,
        x_scale="jac" if diag is None else 1.0 / np.asarray(diag, dtype=float),
        diff_step=None if epsfcn is None else float(np.sqrt(max(epsfcn, EPS))),
        args=args, callback=stop_at_maxfev)
    ier, mesg = minpack_outcome(res.status, ftol, xtol, gtol, maxfev)
    if not full_output:
        if ier == 0:
            raise TypeError(mesg)            # MINPACK's improper input, as scipy raises it
        if ier not in (1, 2, 3, 4):
            warnings.warn(mesg, RuntimeWarning, stacklevel=2)
        return res.x, ier
    factors, R, perm = minpack_factors(res.jac, res.fun)
    infodict = dict(nfev=func.calls, fvec=res.fun, **factors)
    if Dfun is not None:
        infodict["njev"] = res.njev
    return res.x, _covariance(R, perm, m), infodict, mesg, ier
