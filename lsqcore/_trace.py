"""Per-trial records of a solve: the "execution table" of ``trace=True``.

With ``trace=True`` the front end gives the workspace room for one record
per residual evaluation (``max_nfev + 1``); the kernel appends a record
after it has judged each trial step (:func:`lsqcore._kernel._record`) and
this module turns the records into a :class:`Trace`.  With ``trace=False``
the workspace has no trace space at all (``TRACE_CAP = 0``) and the kernel
skips the one ``if`` that guards the recording, so tracing costs nothing
when it is off.

What the kernel stores, per trial (12 floats plus the trial point):
iteration, nfev, current cost, trial cost, actual and predicted reduction,
their ratio, step norm, gradient norm, radius after the update, damping
and the verdict.  Everything else in a :class:`Trace` is derived here, in
Python, from those records and from data the workspace keeps anyway:

* ``trial_radius``, the radius (or step fraction) in force when the step
  was computed: the previous record's updated radius (for ``'gn'``, 1 at
  the first trial of each iteration).  The initial radius of ``'trf'`` and
  ``'lm'`` is set inside the kernel and not recorded, so the first entry is
  NaN for those methods.
* ``active``: which bounds the trial point touches, with the rule of
  ``result.active_mask`` (relative distance ``xtol``), from the bounds and
  ``xtol`` the workspace holds.
* ``residual_norm`` and ``residual_rms``: ``sqrt(2 * cost_new)`` and
  ``sqrt(2 * cost_new / m)``.  For the linear loss these are ``||f||`` and
  the root-mean-square residual at the trial point; for a robust loss they
  are the same functions of the robust cost.  Nothing per residual is
  stored, so the trace stays O(n) per trial whatever ``m`` is.
"""
import math

import numpy as np

from . import _layout as L
from ._stopping import describe
from ._loss import LINEAR

#: Record fields in the order the kernel writes them.
FIELDS = ("iteration", "nfev", "cost", "cost_new", "actual_reduction",
          "predicted_reduction", "ratio", "step_norm", "gradient_norm",
          "radius", "damping", "outcome")
#: Fields computed in Python from the records.
DERIVED = ("trial_radius", "residual_norm", "residual_rms", "active")
OUTCOMES = {1: "accepted", 0: "rejected", -1: "invalid"}


class Trace:
    """Records of every trial step of a solve (``result.trace``).

    One record per residual evaluation after the first (so
    ``len(trace) == result.nfev - 1`` and the last ``nfev`` equals
    ``result.nfev``), in the order the solver made them.  ``print(trace)``
    shows the execution table; :meth:`as_dict` returns the columns.

    Attributes
    ----------
    method : str
        ``'trf'``, ``'dogbox'``, ``'lm'`` or ``'gn'``.
    m, n : int
        Number of residuals and of parameters.
    iteration : ndarray of int
        Iteration the trial belongs to (number of accepted steps before it).
    nfev : ndarray of int
        Residual evaluations so far, this trial included (finite-difference
        evaluations are not counted, as in ``result.nfev``).
    cost : ndarray
        Cost at the current point (before the trial).
    cost_new : ndarray
        Cost at the trial point; NaN for an invalid trial.
    actual_reduction, predicted_reduction, ratio : ndarray
        ``cost - cost_new``, the reduction the local model predicted, and
        their ratio (NaN where the trial is invalid).
    step_norm : ndarray
        Euclidean norm of the step ``x_trial - x`` in the original variables.
    gradient_norm : ndarray
        Infinity norm of the gradient at the current point (for 'trf' the
        Coleman-Li scaled gradient ``v * g``, for 'dogbox' the gradient of
        the variables not held at a bound).
    radius : ndarray
        Trust radius after this trial's update, i.e. the radius for the next
        trial (the scaled-step radius for 'trf', 'dogbox' and 'lm'; for 'gn' the
        line-search step fraction ``t``).
    trial_radius : ndarray
        Radius (or step fraction) in force when the trial step was computed;
        NaN for the first trial of 'trf', 'dogbox' and 'lm' (the initial radius is not
        recorded).
    damping : ndarray
        Levenberg-Marquardt parameter of the trust-region subproblem (0 for
        'gn' and whenever the Gauss-Newton step fits in the region).
    outcome : ndarray of str
        ``'accepted'``, ``'rejected'`` or ``'invalid'`` (the residual was not
        finite at the trial point).
    x : ndarray, shape (k, n)
        The trial points.
    active : ndarray of int, shape (k, n)
        Bounds the trial point is on: -1 lower, +1 upper, 0 none (the rule of
        ``result.active_mask``).
    residual_norm, residual_rms : ndarray
        ``sqrt(2 cost_new)`` and ``sqrt(2 cost_new / m)``: ``||f||`` and the
        RMS residual at the trial point for the linear loss.
    """

    def __init__(self, columns, x, active, *, method, m, loss_linear=True):
        self._columns = dict(columns)
        self.x = x
        self.active = active
        self.method = method
        self.m = int(m)
        self.n = int(x.shape[1])
        self.loss_linear = bool(loss_linear)
        #: why the solve stopped, with the numbers that decided it (e.g.
        #: ``'ftol: dF/F = 3.1e-09 < 1e-08 (a step with ratio > 0.25)'``;
        #: :func:`lsqcore._stopping.describe`), '' when not known
        self.stop_reason = ""
        #: with a sparse J by differences: the groups of columns differenced
        #: together, so residual evaluations per Jacobian (0: not grouped)
        self.ngroups = 0
        for k, v in self._columns.items():
            setattr(self, k, v)

    # ------------------------------------------------------------ building
    @classmethod
    def from_workspace(cls, W, S):
        """Read the records the kernel wrote into the workspace ``(W, S)``."""
        n = int(S[L.N])
        m = int(S[L.M])
        k = int(S[L.TRACE_LEN])
        method = L.METHOD_NAMES[int(S[L.METHOD])]
        width = L.TRACE_FIELDS + n
        o = int(S[L.O_TRACE])
        rec = W[o:o + k * width].reshape(k, width).copy()
        x = rec[:, L.TRACE_FIELDS:]
        lb = W[int(S[L.O_LB]):int(S[L.O_LB]) + n].copy()
        ub = W[int(S[L.O_UB]):int(S[L.O_UB]) + n].copy()
        trace = cls.from_records(rec[:, :L.TRACE_FIELDS], x, method=method, m=m,
                                 lb=lb, ub=ub, xtol=float(W[L.XTOL]),
                                 loss_linear=int(S[L.LOSS]) == LINEAR)
        trace.stop_reason = describe(W, S)
        return trace

    @classmethod
    def from_records(cls, rec, x, *, method, m, lb=None, ub=None, xtol=1e-8,
                     loss_linear=True):
        """Build a trace from raw records (``rec[:, j]`` is ``FIELDS[j]``)."""
        rec = np.asarray(rec, dtype=float).reshape(-1, len(FIELDS))
        x = np.asarray(x, dtype=float).reshape(rec.shape[0], -1)
        k, n = x.shape
        cols = {name: rec[:, i].copy() for i, name in enumerate(FIELDS[:-1])}
        for name in ("iteration", "nfev"):
            cols[name] = cols[name].astype(np.int64)
        code = rec[:, len(FIELDS) - 1].astype(int)
        cols["outcome"] = np.array([OUTCOMES[c] for c in code], dtype="<U8")
        invalid = code == -1
        for name in ("cost_new", "actual_reduction", "ratio"):
            cols[name][invalid] = np.nan
        cols["trial_radius"] = _trial_radius(method, cols["iteration"], cols["radius"])
        with np.errstate(invalid="ignore"):
            norm = np.sqrt(2.0 * cols["cost_new"])
        cols["residual_norm"] = norm
        cols["residual_rms"] = norm / math.sqrt(max(int(m), 1))
        lb = np.full(n, -np.inf) if lb is None else np.asarray(lb, dtype=float)
        ub = np.full(n, np.inf) if ub is None else np.asarray(ub, dtype=float)
        active = active_bounds(x, lb, ub, xtol)
        return cls(cols, x, active, method=method, m=m, loss_linear=loss_linear)

    # ------------------------------------------------------------ access
    def __len__(self):
        return len(self.x)

    @property
    def accepted(self):
        """Boolean mask of the accepted trials."""
        return self.outcome == "accepted"

    def as_dict(self):
        """The records as a dict of arrays (one entry per trial).

        Keys: every field of :attr:`FIELDS`, ``trial_radius``,
        ``residual_norm``, ``residual_rms``, ``x`` (k, n) and ``active``
        (k, n).  The arrays are copies.
        """
        d = {key: np.array(v, copy=True) for key, v in self._columns.items()}
        d["x"] = self.x.copy()
        d["active"] = self.active.copy()
        return d

    def cost_history(self):
        """Cost after each iteration: ``[cost at x0, after iteration 1, ...]``."""
        if len(self) == 0:
            return np.empty(0)
        return np.concatenate(([self.cost[0]], self.cost_new[self.accepted]))

    def iterates(self, x0=None):
        """Accepted points, one row per iteration, preceded by ``x0`` if given."""
        xs = self.x[self.accepted]
        if x0 is not None:
            xs = np.vstack((np.asarray(x0, dtype=float).reshape(1, -1), xs))
        return xs

    def summary(self):
        """One line: counts of trials by outcome."""
        acc = int(np.sum(self.outcome == "accepted"))
        rej = int(np.sum(self.outcome == "rejected"))
        inv = int(np.sum(self.outcome == "invalid"))
        groups = f", J by {self.ngroups} groups of columns" if self.ngroups else ""
        return (f"{self.method} trace: {len(self)} trials ({acc} accepted, {rej} rejected, "
                f"{inv} invalid), m = {self.m}, n = {self.n}{groups}")

    # ------------------------------------------------------------ table
    def table(self, max_params=4, precision=6):
        """The execution table as a string.

        One row per trial: trial number, iteration, nfev, the trial
        parameters (the first ``max_params`` of them), the RMS residual and
        the cost at the trial point, the ratio of actual to predicted
        reduction, the radius in force (the step fraction ``t`` for 'gn'),
        and the action taken, with the new radius and the bounds the trial
        point is on.
        """
        shown = min(self.n, max_params)
        pw = precision + 7
        rad = "t" if self.method == "gn" else "radius"
        res = "rms f" if self.loss_linear else "rms rho"
        head = (f"{'step':>4} {'iter':>4} {'nfev':>5}  "
                + " ".join(f"{'x[%d]' % j:>{pw}}" for j in range(shown))
                + (f" {'...':>3}" if shown < self.n else "")
                + f"  {res:>10} {'cost':>12} {'ratio':>8} {rad:>9}  action")
        lines = [self.summary(), head, "-" * len(head)]
        if len(self):
            lines.insert(1, f"start: cost {self.cost[0]:.6e}")
        for i in range(len(self)):
            xs = " ".join(f"{v:>{pw}.{precision}g}" for v in self.x[i, :shown])
            if shown < self.n:
                xs += f" {'...':>3}"
            lines.append(
                f"{i + 1:>4d} {self.iteration[i]:>4d} {self.nfev[i]:>5d}  {xs}  "
                f"{_num(self.residual_rms[i], 10, 3)} {_num(self.cost_new[i], 12, 5)} "
                f"{_fix(self.ratio[i], 8)} {_num(self.trial_radius[i], 9, 2)}  "
                f"{self._action(i)}")
        return "\n".join(lines)

    def _action(self, i):
        out = self.outcome[i]
        word = {"accepted": "accept", "rejected": "reject",
                "invalid": "invalid f, reject"}[out]
        before, after = self.trial_radius[i], self.radius[i]
        name = "t" if self.method == "gn" else "radius"
        if not (after == before):
            word += f", {name} -> {after:.3g}"
        on = [f"x[{j}] at {'lb' if a < 0 else 'ub'}"
              for j, a in enumerate(self.active[i]) if a != 0]
        if on:
            word += " [" + ", ".join(on) + "]"
        return word

    def __str__(self):
        return self.table()

    def __repr__(self):
        return f"<Trace: {self.summary()}>"


def _trial_radius(method, iteration, radius):
    k = len(radius)
    out = np.full(k, np.nan)
    for i in range(k):
        if method == "gn":
            first = i == 0 or iteration[i] != iteration[i - 1]
            out[i] = 1.0 if first else radius[i - 1]
        elif i > 0:
            out[i] = radius[i - 1]
    return out


def active_bounds(x, lb, ub, rtol):
    """Active-bound flags (-1, 0, +1) of each row of ``x``, as ``result.active_mask``.

    A component is on its lower bound when ``x - lb <= rtol * max(1, |lb|)``
    (and it is nearer that bound than the upper one), likewise for the upper.
    """
    x = np.atleast_2d(np.asarray(x, dtype=float))
    out = np.zeros(x.shape, dtype=np.int64)
    if x.size == 0:
        return out
    lb = np.broadcast_to(lb, x.shape[1:])
    ub = np.broadcast_to(ub, x.shape[1:])
    with np.errstate(invalid="ignore"):
        lo_d = x - lb
        up_d = ub - x
        lo_t = rtol * np.maximum(1.0, np.abs(lb))
        up_t = rtol * np.maximum(1.0, np.abs(ub))
        lower = np.isfinite(lb) & (lo_d <= np.minimum(up_d, lo_t))
        upper = ~lower & np.isfinite(ub) & (up_d <= np.minimum(lo_d, up_t))
    out[lower] = -1
    out[upper] = 1
    return out


def _num(v, width, prec):
    if not np.isfinite(v):
        return f"{'-' if np.isnan(v) else v:>{width}}"
    return f"{v:>{width}.{prec}e}"


def _fix(v, width):
    if not np.isfinite(v):
        return f"{'-':>{width}}"
    if abs(v) >= 1e3:
        return f"{v:>{width}.1e}"
    return f"{v:>{width}.3f}"
