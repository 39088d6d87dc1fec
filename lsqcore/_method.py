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

How the kernel reaches them
---------------------------
The kernel names each hook once, as the five functions below
(``gtol_test``, ``factorize``, ``compute_step``, ``assess_trial``,
``converged``), and each has two implementations, chosen by Numba by the
target the kernel is compiled for (``numba.extending.overload``):

* **CPU** (``target='cpu'``): every method's hooks are compiled into one C
  entry of their own, ``entry(W, S, hook, a, b)`` (:func:`_run`), on the
  first solve that uses the method (:func:`method_entry`, then Numba's disk
  cache), and the kernel calls the entry through its address, which
  ``setup`` stores in ``S[HOOKS]`` from the options record.  The kernel's
  own compiled code then holds no method at all: the first fit after
  installation compiles the kernel and the one method it uses, not all four,
  and a new method costs only its entry.  The call is indirect (one per
  hook, five or six per iteration): nothing in the arithmetic changes.
* **GPU** (``target='generic'``, which numba-cuda resolves for its device
  functions): a C address means nothing on the device, so there the hooks
  dispatch on ``S[METHOD]`` to the method's functions directly
  (:func:`_by_method`), compiled into the CUDA kernel.

A fourth method is a new module with the hooks, a code in
:data:`lsqcore._layout.METHOD_CODES`, its C entry below and one more
branch in :func:`_by_method`.
"""
import numpy as np
from numba import carray, cfunc, njit, types
from numba.extending import overload

from . import _layout as L
from . import _warm
from ._cabi import ccall
from ._log import first_use
from .methods import trf, lm, gn, dogbox, trf_lsmr

#: the hook a C entry is asked for (its ``hook`` argument)
GTOL_TEST, FACTORIZE, COMPUTE_STEP, ASSESS_TRIAL, CONVERGED = range(5)

_inline = njit(error_model="numpy", inline="always")


# ---- the five hooks, as the kernel calls them --------------------------------

def gtol_test(W, S):
    """First-order optimality at ``x``: sets ``G_NORM``; whether ``gtol`` holds."""


def factorize(W, S):
    """The step's linear algebra at the current Jacobian (may set a status)."""


def compute_step(W, S):
    """The trial point ``x_new`` and its predicted reduction."""


def assess_trial(W, S, valid):
    """``step_quality`` and ``is_successful`` of a valid trial, then the
    matching radius hook (``step_invalid`` for an invalid one); whether the
    trial is taken."""


def converged(W, S, accepted, valid):
    """The method's ``ftol``/``xtol`` tests after the trial: a status or ``RUNNING``."""


# ---- one method's hooks, by number -------------------------------------------

@_inline
def _take_or_reject(mod, W, S):
    """A valid trial through method ``mod``'s hooks: its quality, the decision,
    and the radius update that goes with it; whether the trial is taken."""
    mod.step_quality(W, S)
    accepted = mod.is_successful(W, S)
    if accepted:
        mod.step_accepted(W, S)
    else:
        mod.step_rejected(W, S)
    return accepted


@_inline
def _run(mod, W, S, hook, a, b):
    """Hook number ``hook`` of method module ``mod`` (``a``, ``b``: its flags
    ``valid`` or ``accepted, valid``), its answer as an int64."""
    if hook == GTOL_TEST:
        return np.int64(mod.gtol_test(W, S))
    if hook == FACTORIZE:
        mod.factorize(W, S)
        return np.int64(0)
    if hook == COMPUTE_STEP:
        mod.compute_step(W, S)
        return np.int64(0)
    if hook == ASSESS_TRIAL:
        if a == 0:
            mod.step_invalid(W, S)
            return np.int64(0)
        return np.int64(_take_or_reject(mod, W, S))
    return np.int64(mod.converged(W, S, a != 0, b != 0))


# ---- CPU: each method's C entry, compiled on first use -----------------------

_ENTRY_SIG = types.int64(types.CPointer(types.float64), types.int64,
                         types.CPointer(types.int64), types.int64,
                         types.int64, types.int64, types.int64)


def _entry_trf(wp, wn, sp, sn, hook, a, b):
    return _run(trf, carray(wp, (wn,)), carray(sp, (sn,)), hook, a, b)


def _entry_lm(wp, wn, sp, sn, hook, a, b):
    return _run(lm, carray(wp, (wn,)), carray(sp, (sn,)), hook, a, b)


def _entry_gn(wp, wn, sp, sn, hook, a, b):
    return _run(gn, carray(wp, (wn,)), carray(sp, (sn,)), hook, a, b)


def _entry_dogbox(wp, wn, sp, sn, hook, a, b):
    return _run(dogbox, carray(wp, (wn,)), carray(sp, (sn,)), hook, a, b)


def _entry_trf_lsmr(wp, wn, sp, sn, hook, a, b):
    return _run(trf_lsmr, carray(wp, (wn,)), carray(sp, (sn,)), hook, a, b)


#: the entries by (method, subproblem solver); 'trf' with LSMR has its own
#: (lsqcore.methods.trf_lsmr), the other methods one for both solvers
_ENTRY_SOURCES = {(L.TRF, L.TR_EXACT): _entry_trf, (L.TRF, L.TR_LSMR): _entry_trf_lsmr,
                  (L.LM, L.TR_EXACT): _entry_lm, (L.GN, L.TR_EXACT): _entry_gn,
                  (L.DOGBOX, L.TR_EXACT): _entry_dogbox}
_ENTRIES = {}

#: said once if a method's entry is still compiling after a few seconds
METHOD_MESSAGE = ("compiling method '{}' for its first use after installation (about 10 s "
                  "on 2 cores, once: Numba caches it on disk)")


def method_entry(code, tr_solver=L.TR_EXACT):
    """The C address of method ``code``'s hooks (its :func:`_run` entry) for the
    subproblem solver ``tr_solver``, compiled on the first call in the first
    process after installation and loaded from Numba's disk cache in later ones."""
    # (LSMR preconditioned or not: the same hooks; lsmr_model.lsmr_solve reads TR_SOLVER)
    tr_solver = L.TR_LSMR if tr_solver == L.TR_LSMR_BJ else tr_solver
    key = (code, tr_solver if (code, tr_solver) in _ENTRY_SOURCES else L.TR_EXACT)
    entry = _ENTRIES.get(key)
    if entry is None:
        name = L.METHOD_NAMES[code] + (" (lsmr)" if key[1] == L.TR_LSMR else "")
        _warm.wait_for(name)            # (it may be compiling in the helper: lsqcore._warm)
        with first_use("method " + name, METHOD_MESSAGE.format(name)):
            entry = cfunc(_ENTRY_SIG, cache=True, error_model="numpy")(_ENTRY_SOURCES[key])
        _ENTRIES[key] = entry
    return entry.address


@_inline
def _call(W, S, hook, a, b):
    """Hook ``hook`` of the solve's method, through the C entry at ``S[HOOKS]``."""
    return ccall(S[L.HOOKS], (W, S, np.int64(hook), np.int64(a), np.int64(b)))


@overload(gtol_test, target="cpu", inline="always")
def _gtol_test_cpu(W, S):
    return lambda W, S: _call(W, S, GTOL_TEST, 0, 0) != 0


@overload(factorize, target="cpu", inline="always")
def _factorize_cpu(W, S):
    return lambda W, S: _call(W, S, FACTORIZE, 0, 0)


@overload(compute_step, target="cpu", inline="always")
def _compute_step_cpu(W, S):
    return lambda W, S: _call(W, S, COMPUTE_STEP, 0, 0)


@overload(assess_trial, target="cpu", inline="always")
def _assess_trial_cpu(W, S, valid):
    return lambda W, S, valid: _call(W, S, ASSESS_TRIAL, valid, 0) != 0


@overload(converged, target="cpu", inline="always")
def _converged_cpu(W, S, accepted, valid):
    return lambda W, S, accepted, valid: _call(W, S, CONVERGED, accepted, valid)


# ---- GPU: the hooks compiled in, by a branch on the method -------------------
# (not inline="always": numba-cuda 0.30 mistypes the arguments of an inlined
# overload, ``eq(omitted, omitted)``)

@_inline
def _by_method(W, S, hook, a, b):
    """Hook ``hook`` of the solve's method, called directly."""
    method = S[L.METHOD]
    if method == L.TRF:
        return _run(trf, W, S, hook, a, b)
    if method == L.LM:
        return _run(lm, W, S, hook, a, b)
    if method == L.DOGBOX:
        return _run(dogbox, W, S, hook, a, b)
    return _run(gn, W, S, hook, a, b)


@overload(gtol_test, target="generic")
def _gtol_test_direct(W, S):
    return lambda W, S: _by_method(W, S, GTOL_TEST, 0, 0) != 0


@overload(factorize, target="generic")
def _factorize_direct(W, S):
    return lambda W, S: _by_method(W, S, FACTORIZE, 0, 0)


@overload(compute_step, target="generic")
def _compute_step_direct(W, S):
    return lambda W, S: _by_method(W, S, COMPUTE_STEP, 0, 0)


@overload(assess_trial, target="generic")
def _assess_trial_direct(W, S, valid):
    return lambda W, S, valid: _by_method(W, S, ASSESS_TRIAL, valid, 0) != 0


@overload(converged, target="generic")
def _converged_direct(W, S, accepted, valid):
    return lambda W, S, accepted, valid: _by_method(W, S, CONVERGED, accepted, valid)
