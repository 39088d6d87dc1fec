"""The seam between the minimizer and a method: one dispatch per method hook.

The kernel (:mod:`lsqcore._kernel`) owns the loop, as Ceres Solver's
``TrustRegionMinimizer`` does; a method owns its step and what happens to
its radius (or line-search fraction) after a trial, as Ceres'
``TrustRegionStrategy`` does (``ComputeStep``, ``StepAccepted``,
``StepRejected``, ``StepIsInvalid``).  Every method module
(``methods/{trf,lm,gn,dogbox}.py``) supplies the same hooks:

==================  ===============================================================
``gtol_test``       first-order optimality at ``x``: sets ``G_NORM`` (scipy's
                    ``optimality``) and returns whether ``gtol`` holds
``factorize``       prepare the step's linear algebra at the current Jacobian
                    (may set a status: 'gn' stops when even the full step
                    predicts no useful gain)
``compute_step``    the trial point ``x_new`` and its predicted reduction
``step_quality``    after a valid trial: actual reduction, ratio, step norm
``is_successful``   whether the trial is taken
``step_accepted``   the radius after a taken trial
``step_rejected``   the radius after a valid trial that is not taken
``step_invalid``    after a trial with a non-finite residual
``converged``       the method's ``ftol``/``xtol`` tests after the trial, built
                    from the shared predicates of :mod:`lsqcore._stopping`;
                    a status or ``RUNNING``
==================  ===============================================================

A fourth method is a new module with these hooks, a code in
:data:`lsqcore._layout.METHOD_CODES`, and one more branch in each dispatch
below.  Numba has no function tables in compiled code that would be cheaper
than these branches on a constant per solve.
"""
from numba import njit

from . import _layout as L
from ._jit import kernel_jit
from .methods import trf, lm, gn, dogbox

#: the dispatches are compiled into the kernel's phase functions (no call of their own)
_hook = njit(error_model="numpy", inline="always")


@_hook
def gtol_test(W, S):
    method = S[L.METHOD]
    if method == L.TRF:
        return trf.gtol_test(W, S)
    if method == L.LM:
        return lm.gtol_test(W, S)
    if method == L.DOGBOX:
        return dogbox.gtol_test(W, S)
    return gn.gtol_test(W, S)


@_hook
def factorize(W, S):
    method = S[L.METHOD]
    if method == L.TRF:
        trf.factorize(W, S)
    elif method == L.LM:
        lm.factorize(W, S)
    elif method == L.DOGBOX:
        dogbox.factorize(W, S)
    else:
        gn.factorize(W, S)


@_hook
def compute_step(W, S):
    method = S[L.METHOD]
    if method == L.TRF:
        trf.compute_step(W, S)
    elif method == L.LM:
        lm.compute_step(W, S)
    elif method == L.DOGBOX:
        dogbox.compute_step(W, S)
    else:
        gn.compute_step(W, S)


@kernel_jit
def assess_trial(W, S, valid):
    """``step_quality`` and ``is_successful`` of a valid trial, then the
    matching radius hook (``step_invalid`` for an invalid one); whether the
    trial is taken."""
    method = S[L.METHOD]
    if not valid:
        if method == L.TRF:
            trf.step_invalid(W, S)
        elif method == L.LM:
            lm.step_invalid(W, S)
        elif method == L.DOGBOX:
            dogbox.step_invalid(W, S)
        else:
            gn.step_invalid(W, S)
        return False
    if method == L.TRF:
        return _take_or_reject(trf.step_quality, trf.is_successful, trf.step_accepted,
                               trf.step_rejected, W, S)
    if method == L.LM:
        return _take_or_reject(lm.step_quality, lm.is_successful, lm.step_accepted,
                               lm.step_rejected, W, S)
    if method == L.DOGBOX:
        return _take_or_reject(dogbox.step_quality, dogbox.is_successful,
                               dogbox.step_accepted, dogbox.step_rejected, W, S)
    return _take_or_reject(gn.step_quality, gn.is_successful, gn.step_accepted,
                           gn.step_rejected, W, S)


@_hook
def _take_or_reject(step_quality, is_successful, step_accepted, step_rejected, W, S):
    """A valid trial through one method's hooks: its quality, the decision, and the
    radius update that goes with it; whether the trial is taken."""
    step_quality(W, S)
    accepted = is_successful(W, S)
    if accepted:
        step_accepted(W, S)
    else:
        step_rejected(W, S)
    return accepted


@kernel_jit
def converged(W, S, accepted, valid):
    method = S[L.METHOD]
    if method == L.TRF:
        return trf.converged(W, S, accepted, valid)
    if method == L.LM:
        return lm.converged(W, S, accepted, valid)
    if method == L.DOGBOX:
        return dogbox.converged(W, S, accepted, valid)
    return gn.converged(W, S, accepted, valid)
