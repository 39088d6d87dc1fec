"""``workers``: where the finite-difference columns of a Python residual are evaluated.

scipy 1.16 added ``least_squares(..., workers=...)``: the residual at the
``n`` (or ``2n``) difference points of one Jacobian is evaluated through a
map-like callable, ``workers(fun, points)``, so that an expensive model can
run on several processes.  Each point's residual is the same computation
whichever process runs it, so results do not depend on ``workers`` (bitwise,
on one machine).

Accepted values (scipy's):

* ``None`` or ``1``: the built-in ``map``, in this process;
* an int ``k > 1``, or ``-1`` for every core: a process pool of that size,
  created for the call and closed after it (a pool passed as ``pool.map``
  avoids paying for the start-up on every call);
* a map-like callable, used as given (``multiprocessing.Pool.map``,
  ``concurrent.futures.Executor.map``, ...).

With a process pool the residual, its ``args`` and ``kwargs`` must be
picklable (a module-level function, not a lambda), as in scipy.
"""
import contextlib
import multiprocessing
import numbers
import os

import numpy as np


def check_workers(workers):
    """Raise ``ValueError`` unless ``workers`` is None, an int >= 1 or -1, or callable."""
    if workers is None or callable(workers):
        return
    if (isinstance(workers, numbers.Integral) and not isinstance(workers, bool)
            and (workers >= 1 or workers == -1)):
        return
    raise ValueError("`workers` must be None, an int >= 1 (or -1 for every core) or a "
                     f"map-like callable such as `multiprocessing.Pool.map`, got {workers!r}.")


def worker_count(workers):
    """How many workers an int ``workers`` asks for (-1: every core)."""
    return (os.cpu_count() or 1) if workers == -1 else int(workers)


@contextlib.contextmanager
def mapper(workers):
    """The map-like callable for ``workers`` (None for serial evaluation in the
    driver's own loop), valid inside the ``with`` block."""
    if workers is None or (isinstance(workers, numbers.Integral) and workers == 1):
        yield None
    elif callable(workers):
        yield workers
    else:
        with multiprocessing.get_context().Pool(worker_count(workers)) as pool:
            yield pool.map


class FunAt:
    """``x -> fun(x, *args, **kwargs)`` as a picklable object (for process pools)."""

    def __init__(self, fun, args, kwargs):
        self.fun, self.args, self.kwargs = fun, args, kwargs

    def __call__(self, x):
        return np.atleast_1d(self.fun(x, *self.args, **self.kwargs))
