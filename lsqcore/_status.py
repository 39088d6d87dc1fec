"""Termination status codes and their messages.

The integers are scipy's (``scipy.optimize.least_squares``) so that code
written against scipy keeps working; lsqcore adds its own negative ones:
-3 (non-finite Jacobian), -4 (Gauss-Newton line search failed), -5 (the
Jacobian is identically zero where the cost is positive: scipy would report
``gtol`` success there), -6 (an ``ftol``/``xtol`` stop at a point that is not
stationary, or where a parameter no longer moves the residuals, or a zero
Jacobian at a point the probe of :func:`lsqcore._kernel._probe_flat` shows is
not a minimum: scipy would report success there; see
:func:`lsqcore._kernel._vet_tolerance_stop`).
The tests that set them are in :mod:`lsqcore._stopping`.
"""
RUNNING = -99
CALLBACK_STOP = -2
IMPROPER_INPUT = -1
MAX_NFEV = 0
GTOL = 1
FTOL = 2
XTOL = 3
FTOL_XTOL = 4
NONFINITE_JAC = -3
LINE_SEARCH_FAIL = -4
FLAT = -5
NONSTATIONARY = -6

#: the statuses of the tolerance stops, which claim convergence because progress stalled
TOLERANCE_STOPS = (FTOL, XTOL, FTOL_XTOL)

MESSAGES = {
    CALLBACK_STOP: "Stopped because `callback` raised StopIteration or returned True.",
    IMPROPER_INPUT: "Improper input parameters.",
    MAX_NFEV: "The maximum number of function evaluations is exceeded.",
    GTOL: "`gtol` termination condition is satisfied.",
    FTOL: "`ftol` termination condition is satisfied.",
    XTOL: "`xtol` termination condition is satisfied.",
    FTOL_XTOL: "Both `ftol` and `xtol` termination conditions are satisfied.",
    NONFINITE_JAC: "The Jacobian is not finite at the current point; "
                   "the last finite point is returned.",
    FLAT: "The Jacobian is identically zero at a point of positive cost: the residuals "
          "do not depend on the parameters here (a flat region, e.g. an underflowing "
          "model), so this is not a fitted minimum.",
    NONSTATIONARY: "The `ftol`/`xtol` test stopped the solve (progress stalled), or the "
                   "Jacobian vanished, but this is "
                   "not a fitted minimum: the gradient is not small relative to the residuals "
                   "and the Jacobian, or a parameter that moved the residuals at the start no "
                   "longer does (the parameters diverged into a flat region, e.g. an "
                   "underflowing exponential). Try another start, bounds, or method.",
    LINE_SEARCH_FAIL: "The line search found no decrease along the Gauss-Newton "
                      "direction; the last point is returned (try 'lm' or 'trf').",
}
