"""The batch result: one array per field, and the batch-only status codes.

A batch of ``K`` fits returns a :class:`BatchResult` whose fields are arrays
with the fit index first (``x[K, n]``, ``cost[K]``, ``status[K]``...), the
layout Gpufit uses.  Memory is ``O(K n)`` (``O(K n^2)`` only when ``pcov``
is asked for); no per-row residual or Jacobian is kept.

Status codes
------------
A row's ``status`` is the single solver's status (scipy's integers plus
lsqcore's, see :mod:`lsqcore._status`) when the row ran, or one of the
batch-only codes below when it could not run:

===========================  ====  ===========================================
``NOT_RUN``                   -10  the batch was interrupted (Ctrl-C) before
                                   this row ran
``NONFINITE_START``           -11  ``x0`` or the residuals at ``x0`` are not
                                   finite (NaN in the row's data): the single
                                   solver would raise
``TOO_FEW_POINTS``            -12  after ``nan_policy='omit'`` the row has no
                                   point left, or fewer points than parameters
                                   for ``method='lm'``
``BAD_SHAPE``                 -13  the residual, Jacobian or loss of this row
                                   returned an array of the wrong shape (the
                                   batch raises ``ValueError`` after the run
                                   naming the first such row)
``USER_RAISED``               -14  the residual or Jacobian raised an
                                   exception for this fit (the batch re-raises
                                   it after the run, naming the first such
                                   row)
===========================  ====  ===========================================

These rows have no fitted result: :func:`blank_unfitted` gives them NaN in
``x``, ``cost``, ``optimality``, ``pcov`` and ``stderr`` (never the
starting point, which would mix guesses into averages of ``x``); their
counters (``nfev``, ``njev``, ``nit``) say what was evaluated.  A row that
ran keeps its last iterate whatever its status, as scipy does: ``0``
(``max_nfev``), ``-3`` .. ``-6`` (non-finite Jacobian, line search failed,
flat Jacobian, tolerance stop at a non-stationary point) as well as the
successes ``1`` .. ``4``.

``success`` is ``status > 0``, as in scipy.
"""
import numpy as np

from .._status import MESSAGES

NOT_RUN = -10
NONFINITE_START = -11
TOO_FEW_POINTS = -12
BAD_SHAPE = -13
USER_RAISED = -14

BATCH_MESSAGES = dict(MESSAGES)
BATCH_MESSAGES.update({
    NOT_RUN: "Not run: the batch was interrupted before this fit started.",
    NONFINITE_START: "The starting point or the residuals there are not finite "
                     "(NaN or inf in this fit's data or x0).",
    TOO_FEW_POINTS: "Too few data points left in this fit after omitting NaNs.",
    BAD_SHAPE: "The residual, Jacobian or loss returned an array of the wrong "
               "shape for this fit.",
    USER_RAISED: "The residual or Jacobian raised an exception for this fit.",
})

#: the statuses of rows that have no fitted result (the batch-only codes)
NO_RESULT = (NOT_RUN, NONFINITE_START, TOO_FEW_POINTS, BAD_SHAPE, USER_RAISED)


def blank_unfitted(out):
    """NaN in the result fields of the rows that have no fitted result.

    The one place where both drivers' outputs (:func:`lsqcore.batch.cpu.solve`,
    :func:`lsqcore.batch.cuda.solve`) get this rule, before they become a
    :class:`BatchResult`.

    Parameters
    ----------
    out : dict
        The driver's output arrays (``x``, ``cost``, ``status``,
        ``optimality``, and ``pcov`` / ``stderr`` or None), changed in place.

    Returns
    -------
    out : dict
        The same dict.  Rows whose status is in :data:`NO_RESULT` have NaN in
        ``x``, ``cost``, ``optimality``, ``pcov`` and ``stderr``; every other
        row (one that ran, whatever its status) is left as the solver ended it.
    """
    rows = np.isin(out["status"], NO_RESULT)
    if np.any(rows):
        for name in ("x", "cost", "optimality", "pcov", "stderr"):
            a = out.get(name)
            if a is not None:
                a[rows] = np.nan
    return out


class BatchResult:
    """Results of ``K`` independent fits, one array per field.

    Attributes
    ----------
    x : ndarray, shape (K, n)
        Solutions: the last iterate of each row that ran, whatever its
        status (as scipy); NaN for rows with no fitted result (the
        batch-only statuses -10 .. -14, never the starting point).
    cost : ndarray, shape (K,)
        Final cost ``0.5 * sum(rho(f_i^2))`` (NaN for rows with no fitted
        result; so are their ``optimality``, ``pcov`` and ``stderr``).
    status : ndarray of int, shape (K,)
        Termination status per row; see :mod:`lsqcore.batch._result` for
        the batch-only negative codes.  :meth:`message` turns a code into text.
    success : ndarray of bool, shape (K,)
        ``status > 0``.
    nfev, njev, nit : ndarray of int, shape (K,)
        Residual evaluations (finite differences not counted, as in scipy),
        Jacobian evaluations and iterations per row.
    optimality : ndarray, shape (K,)
        First-order optimality at ``x`` (scipy's definition per method).
    pcov : ndarray, shape (K, n, n), optional
        Parameter covariance (``return_pcov=True``).
    stderr : ndarray, shape (K, n), optional
        ``sqrt(diag(pcov))`` (``return_stderr=True``).
    interrupted : bool
        True when Ctrl-C stopped the batch; unfinished rows have status
        ``NOT_RUN``.
    threads : int
        Number of threads used (for a lazy result: the threads asked of each
        chunk's engine, 0 when they follow each worker).
    lazy : bool
        True when the fields are Dask arrays (a batch given Dask inputs,
        :mod:`lsqcore.batch._dask`): nothing is solved until
        :meth:`compute` (all fields at once, each chunk solved once) or
        ``dask.compute(res.x, ...)``.
    """

    _FIELDS = ("x", "cost", "status", "success", "nfev", "njev", "nit",
               "optimality", "pcov", "stderr")

    def __init__(self, x, cost, status, nfev, njev, nit, optimality, pcov=None,
                 stderr=None, interrupted=False, threads=1, lazy=False, progress=False):
        self.x = x
        self.cost = cost
        self.status = status
        self.success = status > 0
        self.nfev = nfev
        self.njev = njev
        self.nit = nit
        self.optimality = optimality
        self.pcov = pcov
        self.stderr = stderr
        self.interrupted = bool(interrupted)
        self.threads = int(threads)
        self.lazy = bool(lazy)
        self._progress = bool(progress)

    def __len__(self):
        return self.status.shape[0]

    def _fields(self):
        return {k: getattr(self, k) for k in self._FIELDS
                if k != "success" and getattr(self, k) is not None}

    def compute(self, **kwargs):
        """The in-memory result of a lazy one: every field computed in one
        ``dask.compute`` (each chunk of fits solved once), with Dask's
        progress bar when the batch was asked for ``progress=True`` (the
        distributed one when a ``dask.distributed`` client is active).
        ``kwargs`` go to ``dask.compute``.  An in-memory result returns itself."""
        if not self.lazy:
            return self
        f = self._fields()
        values = _compute_with_progress(list(f.values()), self._progress, **kwargs)
        return BatchResult(threads=self.threads, **dict(zip(f, values)))

    def persist(self, **kwargs):
        """A lazy result whose chunks are solved and kept in memory (on the
        cluster's workers with ``dask.distributed``); see ``dask.persist``."""
        if not self.lazy:
            return self
        import dask
        f = self._fields()
        values = dask.persist(*f.values(), **kwargs)
        return BatchResult(threads=self.threads, lazy=True, progress=self._progress,
                           **dict(zip(f, values)))

    def __getitem__(self, key):
        """Fields by name, as on an ``OptimizeResult`` (``res['x']``)."""
        if key in self._FIELDS:
            return getattr(self, key)
        raise KeyError(key)

    @staticmethod
    def message(status):
        """Text of a status code (an int, or an array of them -> list of str)."""
        if np.ndim(status) == 0:
            return BATCH_MESSAGES.get(int(status), f"Unknown status {int(status)}.")
        return [BatchResult.message(s) for s in np.asarray(status).ravel()]

    @property
    def messages(self):
        """One message per row (a list of ``K`` strings)."""
        return self.message(self.status)

    def __repr__(self):
        K = len(self)
        if self.lazy:
            n = self.x.shape[1]
            chunks = len(self.x.chunks[0])
            return (f"BatchResult(K={K}, n={n}, lazy: {chunks} chunks of rows, "
                    "call .compute())")
        n = self.x.shape[1] if self.x.ndim == 2 else 0
        ok = int(np.sum(self.success))
        codes, counts = np.unique(self.status, return_counts=True)
        by = ", ".join(f"{int(c)}: {int(k)}" for c, k in zip(codes, counts))
        extra = " (interrupted)" if self.interrupted else ""
        return (f"BatchResult(K={K}, n={n}, success={ok}/{K}, "
                f"status counts {{{by}}}, threads={self.threads}){extra}")


def _compute_with_progress(values, progress, **kwargs):
    """``dask.compute(*values)``, showing Dask's progress bar when asked: the
    distributed one (``distributed.progress``) when a client is active, else
    the local schedulers' (``dask.diagnostics.ProgressBar``)."""
    import dask
    if not progress:
        return dask.compute(*values, **kwargs)
    try:
        from distributed import default_client, progress as dist_progress
        client = default_client()
    except (ImportError, ValueError):
        client = None
    if client is not None and kwargs.get("scheduler") is None:
        futures = client.compute(values)
        dist_progress(futures)
        return client.gather(futures)
    from dask.diagnostics import ProgressBar
    with ProgressBar():
        return dask.compute(*values, **kwargs)
