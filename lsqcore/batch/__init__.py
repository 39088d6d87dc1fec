"""Batch fitting: many independent problems on every CPU core.

* :func:`least_squares_batch` -- ``K`` problems ``fun(x, *row_args)`` with
  starting points ``x0[K, n]``;
* :func:`curve_fit_batch` -- one model ``f(x, *params)`` fitted to every row
  of ``ydata[K, m]``.

Both run every row through the single solver's cached kernel
(:mod:`lsqcore._kernel`) in a ``numba.prange`` driver (:mod:`.cpu`), so
each row's answer is bitwise identical to :func:`lsqcore.least_squares` on
that row.  Results come back as a :class:`BatchResult` with one array per
field; the batch-only status codes are below.  See ``docs/batch.md``.
"""
from ._api import least_squares_batch, curve_fit_batch
from ._result import BatchResult, NOT_RUN, NONFINITE_START, TOO_FEW_POINTS, BAD_SHAPE

__all__ = ["least_squares_batch", "curve_fit_batch", "BatchResult", "NOT_RUN",
           "NONFINITE_START", "TOO_FEW_POINTS", "BAD_SHAPE"]
