r"""A problem prepared once and solved many times: the repeat call, without its front end.

``least_squares`` on a jitted residual already remembers a validated call:
a repeat with equal options and argument types skips the checks and goes
to the cached compiled driver (:func:`lsqcore._api._remember_fast`).  What
is left per call is the front end's own work -- building and hashing the
key (the Numba type fingerprint of ``x0`` and ``args``), packing ``args``
-- about 2-4 us of a 20 us W1 fit (docs/benchmarks.md).  :func:`prepare`
does that once: it solves the problem at ``x0`` through ``least_squares``
(every check, the compile, the first answer), keeps the remembered entry
and the packed ``args``, and :meth:`Prepared.solve` then calls the
compiled driver directly.  The answers are bitwise those of
``least_squares`` with the same inputs; only what may change between
calls is checked: ``x0``'s size and type, and ``args``' types.
"""
import inspect

import numpy as np

from ._api import least_squares, fast_key_of, fast_entry, _address_result, _native_args
from ._cabi import packed, arg_key
from ._threads import with_threads

__all__ = ["prepare", "Prepared"]

_F64 = np.dtype(np.float64)

#: least_squares' options that a prepared problem serves (the repeat call's)
OPTIONS = ("jac", "method", "ftol", "xtol", "gtol", "x_scale", "loss", "f_scale",
           "diff_step", "max_nfev", "workers")
#: their defaults, read from least_squares' signature (one source of truth)
_DEFAULTS = {k: p.default for k, p in inspect.signature(least_squares).parameters.items()
             if k in OPTIONS}


class Prepared:
    """A least-squares problem bound to its model, options and argument types.

    Made by :func:`prepare`; :meth:`solve` runs it from a new ``x0``
    and/or with new ``args`` of the same types.

    Attributes
    ----------
    n : int
        Number of unknowns.
    first : OptimizeResult
        The solve made by :func:`prepare`.
    """

    def __init__(self, entry, n, args, method, first):
        self._entry = entry
        self.n = n
        self._args = args
        self._key = arg_key(args)
        self._block = packed(args)
        self._method = method
        self.first = first

    def solve(self, x0, args=None):
        """Solve from ``x0`` (float64, shape (n,)) with the prepared ``args``,
        or with ``args`` of the same types (shapes may differ); returns an
        ``OptimizeResult`` as :func:`lsqcore.least_squares` does."""
        if type(x0) is not np.ndarray or x0.dtype is not _F64 or x0.shape != (self.n,):
            x0 = np.asarray(x0, dtype=float)
            if x0.shape != (self.n,):
                raise ValueError(f"`x0` must have shape ({self.n},), got {x0.shape}.")
            if not x0.flags.c_contiguous:
                x0 = np.ascontiguousarray(x0)
        if args is None:
            args, block = self._args, self._block
        else:
            args = _native_args(tuple(args))
            if arg_key(args) != self._key:
                raise TypeError("`args` must have the types the problem was prepared with "
                                f"({self._key}); got {arg_key(args)}: prepare it again.")
            block = packed(args)
        P, F, fun, jac, m_inplace, solve, threads = self._entry
        parts = with_threads(threads, solve, P, F, x0, block)
        return _address_result(parts, x0, fun, jac, args, m_inplace, method=self._method)

    def __repr__(self):
        return f"Prepared(n={self.n}, method={self._method!r})"


def prepare(fun, x0, args=(), **options):
    """Validate, compile and solve once; return a :class:`Prepared` problem
    whose :meth:`~Prepared.solve` skips ``least_squares``' front end.

    Parameters
    ----------
    fun : numba dispatcher or lsqcore.InPlace
        A jitted residual, as for :func:`lsqcore.least_squares`.
    x0 : array_like, shape (n,)
        The first starting point (the problem is solved from it once).
    args : tuple
        Extra arguments (numpy arrays, floats, ints); later calls may pass
        others of the same types.
    **options
        ``jac, method, ftol, xtol, gtol, x_scale, loss, f_scale, diff_step,
        max_nfev, workers``, as for :func:`lsqcore.least_squares`.

    Raises
    ------
    TypeError, ValueError
        For an option outside those, and for a problem that does not run on
        the cached compiled driver (a plain Python ``fun`` or ``jac``, a
        callable ``loss``, arguments that do not pack, zero tolerances).
    """
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise TypeError(f"prepare() got unsupported option(s) {sorted(unknown)}; a prepared "
                        f"problem takes {list(OPTIONS)} (no bounds, callback, kwargs, "
                        "sparse Jacobians or verbose output: use least_squares).")
    x0 = np.array(x0, dtype=float)
    args = _native_args(tuple(args))
    first = least_squares(fun, x0, args=args, **options)
    o = dict(_DEFAULTS, **options)
    try:
        key = fast_key_of(fun, o["jac"], o["method"], o["ftol"], o["xtol"], o["gtol"],
                          o["x_scale"], o["loss"], o["f_scale"], o["diff_step"],
                          o["max_nfev"], 0, o["workers"], x0, args)
        entry = fast_entry(key)
    except (TypeError, ValueError, NotImplementedError, AttributeError):
        entry = None                        # (AttributeError: a plain Python fun)
    if entry is None:
        raise ValueError("this problem does not run on the cached compiled driver, which a "
                         "prepared problem calls directly: `fun` (and a callable `jac`) must "
                         "be numba.njit functions, `loss` built in, `args` numpy arrays, "
                         "floats or ints, tolerances non-zero; use least_squares.")
    return Prepared(entry, x0.size, args, o["method"], first)
