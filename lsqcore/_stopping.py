r"""Termination tests: named predicates shared by every method, and why a solve stopped.

A solve stops for one of a few reasons, each a predicate on numbers the
methods already compute:

``gtol``
    first-order optimality: a measure of the gradient is below ``gtol``.
    'trf' measures ``||v g||_inf`` with the Coleman-Li scaling ``v``
    (Branch, Coleman & Li 1999), 'gn' ``||g||_inf``, 'lm' the largest
    cosine between ``f`` and a column of ``J`` (More 1978, MINPACK's
    ``gtol``) -- :func:`gtol_reached`, :func:`cosine_gtol_reached`;
``ftol``
    the cost stopped decreasing.  scipy's form for 'trf' and 'gn' (a step of
    good quality, ``ratio > 0.25``, reduced the cost ``F`` by less than
    ``ftol F``: :func:`ftol_reached`); More's form for 'lm' (both the
    actual and the predicted *relative* reductions are at most ``ftol``:
    :func:`relative_ftol_reached`); for 'gn' also "the full Gauss-Newton
    step predicts a gain below ``ftol F``" (:func:`predicted_ftol_reached`);
``xtol``
    the step stopped moving ``x``.  scipy's form ``||dx|| < xtol (xtol +
    ||x||)`` for 'trf' and 'gn' (:func:`xtol_reached`); More's form
    ``Delta <= xtol ||D x||`` for 'lm' (:func:`radius_xtol_reached`).

Each test that fires is *recorded*: :func:`record` keeps the test's form,
the measured value and the threshold in the workspace (``S[STOP1]``,
``W[STOP_V1]``, ``W[STOP_T1]``, and a second record for ``ftol`` and
``xtol`` together).  The measured value is computed for the record only:
every predicate compares exactly as its formula says (``dF < ftol F``, not
``dF / F < ftol``), so recording changes no decision.  :func:`describe`
turns the record into the line ``verbose=2`` prints and the trace keeps,
e.g. ``ftol: dF/F = 3.1e-09 < 1e-08``, while ``result.message`` keeps
scipy's text.

References
----------
J. J. More, "The Levenberg-Marquardt algorithm: implementation and
theory", Numerical Analysis, LNM 630, 1978.
M. A. Branch, T. F. Coleman, Y. Li, "A subspace, interior, and conjugate
gradient method for large-scale bound-constrained minimization problems",
SIAM J. Sci. Comput. 21, 1999.
"""
import math

from numba import njit

from . import _layout as L
from ._jit import kernel_jit
from ._linalg import EPS
from ._status import RUNNING, FTOL, XTOL, FTOL_XTOL


#: scipy's ``ftol`` counts only a step of good quality: ``ratio > 0.25`` (the
#: trust-region ratio below which a radius shrinks, Nocedal & Wright Alg. 4.1)
FTOL_MIN_RATIO = 0.25

#: the predicates are one comparison each: compiled into their callers (each
#: compiled on its own would cost the first import after installation time
#: for nothing)
_inline = njit(error_model="numpy", inline="always")

# forms of the recorded tests (S[STOP1], S[STOP2]); 0: nothing recorded
(NONE, F_SCIPY, X_SCIPY, F_MORE, X_MORE, F_GN_PREDICTED, X_GN_FULL, F_GN_ROUNDING,
 LS_FAILED, G_SCALED, G_INF, G_COSINE, G_FLAT, NFEV, J_NONFINITE, NONSTATIONARY_ANGLE,
 NONSTATIONARY_LOST, COST_INF, PROBE_FIRST_ORDER, PROBE_DESCENT) = range(20)

#: what :func:`describe` prints for each form: (name, text with the value ``v``
#: and the threshold ``t``)
FORMS = {
    F_SCIPY: ("ftol", "dF/F = {v:.3g} < {t:.3g} (a step with ratio > 0.25)"),
    X_SCIPY: ("xtol", "||dx||/(xtol + ||x||) = {v:.3g} < {t:.3g}"),
    F_MORE: ("ftol", "max(|actred|, prered) = {v:.3g} <= {t:.3g} (relative reductions)"),
    X_MORE: ("xtol", "Delta/||D x|| = {v:.3g} <= {t:.3g}"),
    F_GN_PREDICTED: ("ftol", "predicted gain of the full Gauss-Newton step / F = {v:.3g} "
                             "< {t:.3g}"),
    X_GN_FULL: ("xtol", "line search failed; full step ||dx||/(xtol + ||x||) = {v:.3g} "
                        "< {t:.3g}"),
    F_GN_ROUNDING: ("ftol", "line search failed; predicted gain / F = {v:.3g} <= sqrt(eps) "
                            "= {t:.3g}"),
    LS_FAILED: ("line search", "no decrease down to the step fraction t = {v:.3g} < {t:.3g}"),
    G_SCALED: ("gtol", "||v g||_inf = {v:.3g} < {t:.3g}"),
    G_INF: ("gtol", "||g||_inf = {v:.3g} < {t:.3g}"),
    G_COSINE: ("gtol", "max cos(f, J_j) = {v:.3g} <= {t:.3g}"),
    G_FLAT: ("flat", "J = 0 where cost = {v:.3g} > {t:.3g}"),
    NFEV: ("max_nfev", "nfev = {v:.0f} >= {t:.0f}"),
    J_NONFINITE: ("jacobian", "non-finite entries of J = {v:.0f} > 0 (iteration {t:.0f})"),
    NONSTATIONARY_ANGLE: ("not stationary", "relative gradient max cos(f, J_j) = {v:.3g} "
                                            "> {t:.3g}"),
    NONSTATIONARY_LOST: ("not stationary", "zero columns of J = {v:.0f} > {t:.0f} (their "
                                           "number at x0)"),
    COST_INF: ("improper input", "cost = {v:.3g} >= {t:.3g} (0.5 ||f||^2 overflowed)"),
    PROBE_FIRST_ORDER: ("not stationary", "J = 0 from differences, but f changes at first "
                                          "order over probe steps: |a d| = {v:.3g} > |b d^2| "
                                          "= {t:.3g}"),
    PROBE_DESCENT: ("not a minimum", "J = 0, but the cost at a probe point is lower: "
                                     "{v:.6g} < {t:.6g}"),
}


@kernel_jit
def record(W, S, second, form, value, threshold):
    """Keep the test ``form`` that fired, its measured ``value`` and ``threshold``
    (in the second record when ``second``: ``xtol`` next to ``ftol``)."""
    if second:
        S[L.STOP2] = form
        W[L.STOP_V2] = value
        W[L.STOP_T2] = threshold
    else:
        S[L.STOP1] = form
        W[L.STOP_V1] = value
        W[L.STOP_T1] = threshold


@_inline
def clear(S):
    """Forget the recorded tests (a later stop decides the status)."""
    S[L.STOP1] = NONE
    S[L.STOP2] = NONE


@kernel_jit
def record_only(W, S, form, value, threshold):
    """The stop is this test alone: clear, then record it."""
    clear(S)
    record(W, S, False, form, value, threshold)


@kernel_jit
def record_gtol(W, S):
    """Record the method's ``gtol`` test (its measure is in ``W[G_TEST]``)."""
    method = S[L.METHOD]
    form = G_SCALED if method == L.TRF else (G_COSINE if method == L.LM else G_INF)
    record_only(W, S, form, W[L.G_TEST], W[L.GTOL])


@_inline
def _ratio(a, b):
    """``a / b`` for a record (inf for ``b == 0 < a``, 0 for ``0 / 0``)."""
    if b != 0.0:
        return a / b
    return math.inf if a > 0.0 else 0.0


# ---- the predicates ------------------------------------------------------------------

@_inline
def gtol_reached(measure, gtol):
    """``measure < gtol`` (scipy's ``gtol`` for 'trf' and 'gn')."""
    return measure < gtol


@_inline
def gtol_verdict(W, g_norm):
    """Keep ``g_norm``, the gradient norm that is also the measure of the gtol
    test (trf's scaled, dogbox's free, gn's plain one), and run that test."""
    W[L.G_NORM] = g_norm
    W[L.G_TEST] = g_norm
    return gtol_reached(g_norm, W[L.GTOL])


@_inline
def cosine_gtol_reached(cosine, gtol):
    """``cosine <= gtol`` (MINPACK's ``gtol``, 'lm')."""
    return cosine <= gtol


@_inline
def ftol_reached(dF, F, ratio, ftol):
    """scipy's ``ftol``: ``dF < ftol F`` for a step with ``ratio > 0.25``."""
    return dF < ftol * F and ratio > FTOL_MIN_RATIO


@_inline
def xtol_reached(dx_norm, x_norm, xtol):
    """scipy's ``xtol``: ``||dx|| < xtol (xtol + ||x||)``."""
    return dx_norm < xtol * (xtol + x_norm)


@_inline
def relative_ftol_reached(actred, prered, ratio, ftol):
    """More's ``ftol`` (MINPACK ``lmder``): ``|actred| <= ftol``, ``prered <=
    ftol`` and ``ratio <= 2``, with ``ftol`` no finer than ``eps``."""
    tol = max(ftol, EPS)
    return abs(actred) <= tol and prered <= tol and 0.5 * ratio <= 1.0


@_inline
def radius_xtol_reached(Delta, x_norm, xtol):
    """More's ``xtol``: ``Delta <= xtol ||D x||``, with ``xtol`` no finer than ``eps``."""
    return Delta <= max(xtol, EPS) * x_norm


@_inline
def predicted_ftol_reached(predicted, F, ftol):
    """'gn': the full Gauss-Newton step predicts a gain below ``ftol F``."""
    return predicted < ftol * F


# ---- tests that set a status -----------------------------------------------------------

@kernel_jit
def check_termination(W, S, dF, F, dx_norm, x_norm, ratio):
    """scipy's ``ftol``/``xtol`` tests ('trf', 'gn'); a status or ``RUNNING``.
    A test that fires is recorded (``ftol`` first)."""
    ftol = W[L.FTOL]
    xtol = W[L.XTOL]
    f_ok = ftol_reached(dF, F, ratio, ftol)
    x_ok = xtol_reached(dx_norm, x_norm, xtol)
    if f_ok:
        record(W, S, False, F_SCIPY, _ratio(dF, F), ftol)
    if x_ok:
        record(W, S, f_ok, X_SCIPY, _ratio(dx_norm, xtol + x_norm), xtol)
    return _status_of(f_ok, x_ok)


@kernel_jit
def check_termination_more(W, S, actred, prered, ratio, Delta, x_norm):
    """More's ``ftol``/``xtol`` tests ('lm'); a status or ``RUNNING``."""
    ftol = max(W[L.FTOL], EPS)
    xtol = max(W[L.XTOL], EPS)
    f_ok = relative_ftol_reached(actred, prered, ratio, ftol)
    x_ok = radius_xtol_reached(Delta, x_norm, xtol)
    if f_ok:
        record(W, S, False, F_MORE, max(abs(actred), prered), ftol)
    if x_ok:
        record(W, S, f_ok, X_MORE, _ratio(Delta, x_norm), xtol)
    return _status_of(f_ok, x_ok)


@_inline
def _status_of(f_ok, x_ok):
    if f_ok and x_ok:
        return FTOL_XTOL
    if f_ok:
        return FTOL
    if x_ok:
        return XTOL
    return RUNNING


# ---- reading the record (Python) -----------------------------------------------------------

def _line(form, value, threshold):
    name, text = FORMS[form]
    return f"{name}: " + text.format(v=value, t=threshold)


def describe(W, S):
    """Why the solve in ``(W, S)`` stopped, with the numbers that decided it
    (``''`` when nothing was recorded, e.g. a callback stop)."""
    parts = []
    if int(S[L.STOP1]) != NONE:
        parts.append(_line(int(S[L.STOP1]), float(W[L.STOP_V1]), float(W[L.STOP_T1])))
    if int(S[L.STOP2]) != NONE:
        parts.append(_line(int(S[L.STOP2]), float(W[L.STOP_V2]), float(W[L.STOP_T2])))
    return "; ".join(parts)
