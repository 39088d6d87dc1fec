"""What a library model means to the ``curve_fit`` front ends.

:func:`bind` is the one place where :func:`lsqcore.curve_fit` and
:func:`lsqcore.curve_fit_batch` (and so the Dask front end, whose chunks
call it) turn a :class:`~lsqcore.models.Model` into what they already
take: its compiled ``f`` and exact ``jac`` (the allocation-free forms in a
batch, which the CPU and, for one predictor, the GPU run), ``p0`` from its
guess when none is given (one guess per row in a batch, in compiled code),
and its default bounds when the caller gives none and the method takes
bounds.
"""
import numpy as np

from .._memo import Memo
from .._validate import UNBOUNDED
from .._wrapcache import cached_njit
from ._model import Model

_ROWS = Memo(64)


def _unbounded(bounds):
    try:
        lb, ub = bounds
        return np.all(np.asarray(lb) == -np.inf) and np.all(np.asarray(ub) == np.inf)
    except (TypeError, ValueError):
        return False


_ROWS_SRC = """def rows(X, Y, n):
    P = np.empty((Y.shape[0], n))
    for k in range(Y.shape[0]):
        P[k] = GUESS(X[k if X.shape[0] > 1 else 0], Y[k])
    return P
"""


def _rows_loop(guess):
    """The compiled loop of one guess over the rows (from a cached source file)."""
    return cached_njit(_ROWS_SRC, ("rows",), {"np": np, "GUESS": guess})[0]


def guess_rows(model, xdata, ydata):
    """``(K, n)`` starting points, one per row of ``ydata`` (shape (K, m)),
    each ``model.guess`` of that row's ``x`` (shared or per row) and ``y``;
    None for data of the wrong shape (then no guess is made)."""
    model._require_guess()
    Y = np.ascontiguousarray(ydata, dtype=float)
    m = Y.shape[-1]
    X = np.asarray(xdata, dtype=float)
    k = model.predictors
    if Y.ndim != 2 or X.size == 0 or X.size % (k * m) or X.shape[-1] != m:
        return None             # the front end names what is wrong with the data
    X = np.ascontiguousarray(X.reshape((-1, m) if k == 1 else (-1, k, m)))
    fn = _ROWS.build(model._guess, lambda: _rows_loop(model._guess))
    return fn(X, Y, model.n)


def bind(f, xdata, ydata, p0, bounds, method, jac, *, batch, inplace=False, poisson=False):
    """``(f, jac, p0, bounds, inplace)`` with a :class:`Model` ``f`` replaced
    by its compiled forms (module docstring); anything else is returned
    unchanged.

    A ``jac`` the caller gives (a finite-difference scheme, say) is kept.
    ``poisson`` (``estimator='poisson'``) takes the allocating forms, which
    its residual wrappers call.
    """
    if not isinstance(f, Model):
        return f, jac, p0, bounds, inplace
    if p0 is None:
        p0 = (guess_rows(f, xdata, ydata) if batch
              else f.guess(xdata, np.asarray(ydata, dtype=float)))
    if _unbounded(bounds) and method not in UNBOUNDED:
        bounds = f.bounds
    alloc_free = batch and not poisson
    if jac is None:
        jac = f.jac_inplace if alloc_free else f.jac
    return (f.f_inplace if alloc_free else f.f), jac, p0, bounds, alloc_free or inplace
