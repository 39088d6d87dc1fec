"""Checks of the solvers' input, shared by every front end.

``least_squares``, ``curve_fit`` (through ``least_squares``), both batch
front ends and the repeat-call fast path validate their options with these
functions, in scipy's ``_lsq`` style: one small ``check_*`` per concern,
each raising ``ValueError`` (``TypeError`` for a non-callable ``fun``) with
a message that names the parameter (in backquotes) and says what was
expected, before any work starts.  ``lsqcore.jit.least_squares`` applies
the same rules in compiled code (:func:`check_compiled_options`), with
constant messages naming the same parameters; ``tests/test_validation.py``
runs one table of bad inputs through every front end.
"""
import math
import numbers
import sys

import numpy as np
from numba import njit

from . import _layout as L
from ._jacobian import SQRT_EPS, CBRT_EPS
from ._linalg import EPS
from ._loss import LOSS_CODES
from ._memo import Memo

METHODS = ("trf", "lm", "gn", "dogbox")
#: the methods that take no bounds (and no sparse Jacobian)
UNBOUNDED = ("lm", "gn")
_DEFAULT_RSTEP = {L.JAC_2POINT: SQRT_EPS, L.JAC_3POINT: CBRT_EPS}


class Unsupported(ValueError):
    """A valid scipy argument lsqcore does not serve (yet).

    A ``ValueError`` for a direct caller; under :func:`lsqcore.patch_scipy`
    the call falls back to scipy's own function instead (:mod:`lsqcore._patch`).
    Raised before any work, so that the fallback starts afresh.
    """


def check_options(fun, x0, jac, method, loss, verbose, max_nfev, tr_solver,
                   jac_sparsity):
    if not callable(fun):
        raise TypeError(f"`fun` must be callable, got {type(fun).__name__}.")
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, got {method!r}.")
    if tr_solver not in (None, "exact", "lsmr"):
        raise ValueError(f"`tr_solver` must be None, 'exact' or 'lsmr', got {tr_solver!r}.")
    if not (callable(jac) or jac in L.JAC_CODES):
        raise ValueError("`jac` must be '2-point', '3-point', 'cs' or a callable, "
                         f"got {jac!r}.")
    if not (callable(loss) or loss in LOSS_CODES):
        raise ValueError(f"`loss` must be one of {tuple(LOSS_CODES)} or a callable, "
                         f"got {loss!r}.")
    if method == "lm" and loss != "linear":
        raise ValueError("`method`='lm' supports only `loss`='linear'; "
                         "use 'trf' or 'gn' with a robust loss.")
    if verbose not in (0, 1, 2):
        raise ValueError(f"`verbose` must be 0, 1 or 2, got {verbose!r}.")
    if max_nfev is not None:
        if not isinstance(max_nfev, numbers.Integral) or max_nfev <= 0:
            raise ValueError(f"`max_nfev` must be None or a positive integer, got {max_nfev!r}.")
    if jac_sparsity is not None and not callable(jac):
        # (with a callable jac, jac_sparsity is unused, as in scipy)
        if method in UNBOUNDED:
            raise ValueError(f"method={method!r} does not support `jac_sparsity` (a sparse "
                             "Jacobian needs tr_solver='lsmr': use 'trf' or 'dogbox').")
        if tr_solver == "exact":
            raise ValueError("tr_solver='exact' is incompatible with `jac_sparsity` (the "
                             "exact solver factors a dense J; use tr_solver='lsmr' or None).")


def check_sparse_jacobian(J0, method, tr_solver, jac_scale):
    """A sparse ``J`` or ``LinearOperator`` from ``jac`` at ``x0``: the methods and
    solvers that can take it (scipy's rules and messages)."""
    from ._sparse_jac import is_operator
    if method in UNBOUNDED:
        raise ValueError(f"method={method!r} works only with dense Jacobian matrices (a "
                         "sparse J needs tr_solver='lsmr': use 'trf' or 'dogbox').")
    if tr_solver == "exact":
        raise ValueError("tr_solver='exact' works only with dense Jacobian matrices.")
    if is_operator(J0) and jac_scale:
        raise ValueError("x_scale='jac' can't be used when `jac` returns LinearOperator.")


def check_x0(x0):
    if type(x0) is not np.ndarray or x0.dtype != np.float64:
        if np.iscomplexobj(x0):
            raise ValueError("`x0` must be real.")
        try:
            x0 = np.asarray(x0, dtype=float)
        except (TypeError, ValueError) as e:
            raise ValueError(f"`x0` must be a real array_like: {e}") from None
    if x0.ndim != 1:
        if x0.ndim > 1:
            raise ValueError(f"`x0` must have at most 1 dimension, got shape {x0.shape}.")
        x0 = x0.reshape(1)
    if x0.size <= 16:
        finite = all(map(math.isfinite, x0.tolist()))
    else:
        # one reduction: a NaN or inf anywhere makes the sum of x0 * 0 NaN
        finite = math.isfinite(float(np.dot(x0, constant(x0.size, 0.0))))
    if not finite and not np.isfinite(x0).all():
        raise ValueError(f"`x0` must be finite, got {x0!r}.")
    if not (x0.flags.c_contiguous and x0.flags.writeable):
        x0 = x0.copy()                   # one compiled signature: C-contiguous, writeable
    return x0


_CONSTANTS = Memo()      # (unbounded: is_unbounded tests identity)


def constant(n, value):
    """A cached, read-only array of ``n`` copies of ``value`` (defaults reused across calls)."""
    key = (n, value)
    a = _CONSTANTS.get(key)
    if a is None:
        a = _CONSTANTS[key] = np.full(n, value)
        a.flags.writeable = False
    return a


def unbounded(n):
    """The cached (-inf, +inf) bounds; :func:`is_unbounded` recognises them by identity."""
    return constant(n, -np.inf), constant(n, np.inf)


def is_unbounded(lb):
    return lb is _CONSTANTS.get((lb.size, -np.inf))


def bounds_pair(bounds):
    """``(lb, ub)`` from a 2-sequence or a `scipy.optimize.Bounds` (not yet arrays)."""
    so = sys.modules.get("scipy.optimize")   # a Bounds object means scipy.optimize is loaded
    if so is not None and isinstance(bounds, so.Bounds):
        return bounds.lb, bounds.ub
    try:
        nb = len(bounds)
    except TypeError:
        raise ValueError("`bounds` must be a 2-tuple (lb, ub) or a scipy.optimize.Bounds.") from None
    if nb != 2:
        raise ValueError(f"`bounds` must contain 2 elements (lb, ub), got {nb}.")
    return bounds[0], bounds[1]


def check_bounds(bounds, x0, method):
    n = x0.size
    if (type(bounds) is tuple and len(bounds) == 2 and type(bounds[0]) is float
            and type(bounds[1]) is float and bounds[0] == -np.inf and bounds[1] == np.inf):
        return unbounded(n)
    lb, ub = _box_arrays(bounds, n, "like `x0`")
    if n <= _SMALL:
        # Python floats: a few comparisons cost less than one numpy reduction
        lbl, ubl, xl = lb.tolist(), ub.tolist(), x0.tolist()
        if any(map(math.isnan, lbl)) or any(map(math.isnan, ubl)):
            _raise_nan_bounds()
        i = next((i for i in range(n) if lbl[i] >= ubl[i]), -1)
        if i >= 0:
            _raise_crossed_bounds(lb, ub, i)
        bounded = any(map(math.isfinite, lbl)) or any(map(math.isfinite, ubl))
        if bounded and method in UNBOUNDED:
            refuse_bounds(method)
        i = next((i for i in range(n) if xl[i] < lbl[i] or xl[i] > ubl[i]), -1)
        if i >= 0:
            _raise_infeasible(x0, lb, ub, i)
        return lb, ub
    _check_box(lb, ub)
    bounded = bool(np.isfinite(lb).any() or np.isfinite(ub).any())
    if bounded and method in UNBOUNDED:
        refuse_bounds(method)
    outside = (x0 < lb) | (x0 > ub)
    if outside.any():
        _raise_infeasible(x0, lb, ub, int(np.argmax(outside)))
    return lb, ub


def box(bounds, n, what):
    """``(lb, ub)``, float arrays of shape ``(n,)`` from ``bounds`` (a pair of
    scalars or arrays, or a ``Bounds``), checked: no NaN, ``lb < ub``; ``what``
    names the vector they bound in the error."""
    lb, ub = _box_arrays(bounds, n, what)
    _check_box(lb, ub)
    return lb, ub


def _box_arrays(bounds, n, what):
    lb, ub = bounds_pair(bounds)
    lb = np.asarray(lb, dtype=float)
    ub = np.asarray(ub, dtype=float)
    if lb.ndim == 0:
        lb = np.full(n, float(lb))
    if ub.ndim == 0:
        ub = np.full(n, float(ub))
    if lb.shape != (n,) or ub.shape != (n,):
        raise ValueError(f"`bounds` must be scalars or arrays of shape ({n},) {what}, "
                         f"got lb {lb.shape} and ub {ub.shape}.")
    return lb, ub


def _check_box(lb, ub):
    if np.isnan(lb).any() or np.isnan(ub).any():
        _raise_nan_bounds()
    crossed = lb >= ub
    if crossed.any():
        _raise_crossed_bounds(lb, ub, int(np.argmax(crossed)))


# up to this many variables the checks loop over Python floats
_SMALL = 32


def _raise_nan_bounds():
    raise ValueError("`bounds` must not contain NaN.")


def _raise_crossed_bounds(lb, ub, i):
    raise ValueError("Each lower bound must be strictly less than each upper bound "
                     f"(`bounds`): lb[{i}] = {lb[i]} >= ub[{i}] = {ub[i]}.")


def refuse_bounds(method):
    """The error of bounds given to a method that takes none (every front end)."""
    raise ValueError(f"`method`={method!r} does not support `bounds`; use 'trf' or 'dogbox'.")


def _raise_infeasible(x0, lb, ub, i):
    raise ValueError("Initial guess is outside of provided bounds: `x0` is infeasible: "
                     f"x0[{i}] = {x0[i]} is outside the `bounds` [{lb[i]}, {ub[i]}].")


def check_x_scale(x_scale, n, method):
    if x_scale is None:
        x_scale = "jac" if method == "lm" else 1.0
    if isinstance(x_scale, str):
        if x_scale != "jac":
            raise ValueError(f"`x_scale` must be 'jac' or positive numbers, got {x_scale!r}.")
        return constant(n, 1.0), True
    if type(x_scale) is float and x_scale == 1.0:
        return constant(n, 1.0), False
    try:
        xs = np.asarray(x_scale, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("`x_scale` must be 'jac' or array_like of positive numbers.") from None
    return _positive_vector(xs, n, "x_scale", "have shape ({n},) like `x0`"), False


def check_tolerances(ftol, xtol, gtol, method):
    if (type(ftol) is float and type(xtol) is float and type(gtol) is float
            and ftol >= EPS and xtol >= EPS and gtol >= EPS):
        return ftol, xtol, gtol
    tols = {}
    for name, t in (("ftol", ftol), ("xtol", xtol), ("gtol", gtol)):
        t = 0.0 if t is None else float(t)
        if not t >= 0.0:
            raise ValueError(f"`{name}` must be a non-negative number, got {t!r}.")
        tols[name] = t
    if method == "lm" and min(tols.values()) < EPS:
        raise ValueError("All tolerances (`ftol`, `xtol`, `gtol`) must be at least machine "
                         f"epsilon ({EPS:.2e}) for `method`='lm'.")
    if max(tols.values()) < EPS:
        raise ValueError("At least one of the tolerances `ftol`, `xtol`, `gtol` must be at "
                         f"least machine epsilon ({EPS:.2e}).")
    return tols["ftol"], tols["xtol"], tols["gtol"]


def check_nan_policy(nan_policy):
    """curve_fit's ``nan_policy`` (scipy's sentences, which clients match)."""
    if nan_policy in (None, "raise", "omit"):
        return
    if nan_policy == "propagate":
        raise ValueError("`nan_policy='propagate'` is not supported by this function; "
                         "use 'raise' or 'omit'.")
    raise ValueError("nan_policy must be one of {'raise', 'omit', None}: `nan_policy` got "
                     f"{nan_policy!r}.")


def check_f_scale(f_scale):
    try:
        ok = math.isfinite(f_scale) and f_scale > 0
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"`f_scale` must be a positive number, got {f_scale!r}.")


def check_callback(callback):
    if callback is not None and not callable(callback):
        raise ValueError("`callback` must be callable or None.")


def check_diff_step(diff_step, n, jac, f_dtype=None):
    """Relative finite-difference steps: ``-diff_step`` (negative: given by
    the user, see :func:`lsqcore._jacobian.fd_steps`), or the default of the
    scheme (``eps**(1/2)``, ``eps**(1/3)``; 0 for complex steps).  ``eps`` is
    float64's unless the residuals come in a narrower float type
    (``f_dtype``): then the steps follow that type's ``eps`` (scipy gh-12991:
    with float64 steps a float32 residual does not change at all)."""
    if diff_step is None:
        code = L.JAC_CODES.get(jac, L.JAC_2POINT) if isinstance(jac, str) else L.JAC_2POINT
        if code == L.JAC_CS:
            return constant(n, 0.0)
        rstep = _DEFAULT_RSTEP[code]
        if (f_dtype is not None and np.issubdtype(f_dtype, np.floating)
                and np.dtype(f_dtype).itemsize < 8):
            rstep = float(np.finfo(f_dtype).eps) ** (0.5 if code == L.JAC_2POINT else 1 / 3)
        return constant(n, rstep)
    # negated: the kernel (setup) reads the sign as "given by the user", whose
    # steps scipy takes as diff_step * |x_j|, without the typical-size floor
    return -_positive_vector(np.asarray(diff_step, dtype=float), n, "diff_step",
                             "be a scalar or have shape ({n},)")


def _positive_vector(a, n, name, shape_rule):
    """``a`` (a scalar broadcast to ``n``) checked to be ``n`` finite positive
    numbers; ``shape_rule`` says the accepted shapes (``{n}`` filled in)."""
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"`{name}` must {shape_rule.format(n=n)}, got {a.shape}.")
    if not np.isfinite(a).all() or (a <= 0).any():
        raise ValueError(f"`{name}` must be finite and positive, got {a!r}.")
    return a




# -- the same rules in compiled code (lsqcore.jit.least_squares) -------------
#
# Numba's exceptions in compiled code carry constant messages: they name the
# same parameter as the Python checks above, without the offending value.

_LINEAR_LOSS = LOSS_CODES["linear"]


@njit(error_model="numpy", cache=True)
def check_compiled_options(x0, method_code, loss_code, ftol, xtol, gtol, f_scale, max_nfev):
    """The rules of :func:`check_options`, :func:`check_x0`,
    :func:`check_tolerances` and :func:`check_f_scale` for the compiled front
    end (``max_nfev`` 0 means the default there)."""
    if x0.shape[0] == 0:
        raise ValueError("`x0` must have at least one element.")
    for i in range(x0.shape[0]):
        if not np.isfinite(x0[i]):
            raise ValueError("`x0` must be finite.")
    if method_code == L.LM and loss_code != _LINEAR_LOSS:
        raise ValueError("`method`='lm' supports only `loss`='linear'; use 'trf' or 'gn' "
                         "with a robust loss.")
    if max_nfev < 0:
        raise ValueError("`max_nfev` must be None or a positive integer.")
    if not ftol >= 0.0:
        raise ValueError("`ftol` must be a non-negative number.")
    if not xtol >= 0.0:
        raise ValueError("`xtol` must be a non-negative number.")
    if not gtol >= 0.0:
        raise ValueError("`gtol` must be a non-negative number.")
    if method_code == L.LM and min(ftol, xtol, gtol) < EPS:
        raise ValueError("All tolerances (`ftol`, `xtol`, `gtol`) must be at least machine "
                         "epsilon for `method`='lm'.")
    if max(ftol, xtol, gtol) < EPS:
        raise ValueError("At least one of the tolerances `ftol`, `xtol`, `gtol` must be at "
                         "least machine epsilon.")
    if not (np.isfinite(f_scale) and f_scale > 0):
        raise ValueError("`f_scale` must be a positive number.")


@njit(error_model="numpy", cache=True)
def check_compiled_x_scale(xs):
    """:func:`check_x_scale`'s rule for an array ``x_scale`` in compiled code."""
    for i in range(xs.shape[0]):
        if not (np.isfinite(xs[i]) and xs[i] > 0):
            raise ValueError("`x_scale` must be finite and positive.")


@njit(error_model="numpy", cache=True)
def check_compiled_bounds(x0, lb, ub, method_code):
    """:func:`check_bounds`'s rules in compiled code (``lb``, ``ub`` arrays
    of ``x0``'s shape, infinite where unbounded)."""
    bounded = False
    for i in range(x0.shape[0]):
        if np.isnan(lb[i]) or np.isnan(ub[i]):
            raise ValueError("`bounds` must not contain NaN.")
        if not lb[i] < ub[i]:
            raise ValueError("Each lower bound must be strictly less than each upper bound "
                             "(`bounds`).")
        if np.isfinite(lb[i]) or np.isfinite(ub[i]):
            bounded = True
    if bounded and (method_code == L.LM or method_code == L.GN):
        raise ValueError("`method` 'lm' and 'gn' do not support `bounds`; use 'trf' or "
                         "'dogbox'.")
    for i in range(x0.shape[0]):
        if x0[i] < lb[i] or x0[i] > ub[i]:
            raise ValueError("Initial guess is outside of provided bounds: `x0` is "
                             "infeasible.")


#: check_tr_options' answer for the exact solver (LSMR's options unused: its defaults)
_EXACT_SOLVER = (L.TR_EXACT, L.LSMR_DEFAULTS, 0, True)

#: the keywords of tr_options that LSMR takes (scipy passes them to its lsmr)
_LSMR_KEYS = ("atol", "btol", "conlim", "damp", "maxiter", "show")
#: ``tr_options['preconditioner']``: lsqcore's own keyword (not scipy's) and its codes
PRECONDITIONERS = {None: L.TR_LSMR, "block-jacobi": L.TR_LSMR_BJ}


def check_tr_options(method, tr_solver, tr_options):
    """``(tr_solver code, (atol, btol, conlim, damp), maxiter, regularize)`` for
    the kernel (:func:`lsqcore._kernel.float_options`,
    :func:`~lsqcore._kernel.int_options`).

    As scipy: ``tr_options`` are ignored with the exact solver and by 'lm';
    with 'lsmr' they are LSMR's keywords (an unknown one is a ``TypeError``,
    as from scipy's ``lsmr``; ``regularize`` is trf's, default True, and
    ignored by dogbox with a warning; ``show`` is accepted and prints nothing).
    lsqcore adds ``preconditioner``: None (scipy's LSMR) or ``'block-jacobi'``
    (:mod:`lsqcore._precond`; a sparse Jacobian only, checked once its form is
    known: :func:`check_preconditioner`).
    """
    if tr_solver != "lsmr" or method == "lm":
        return _EXACT_SOLVER
    opts = dict(tr_options or {})
    for k in opts:
        if k not in _LSMR_KEYS + ("regularize", "preconditioner"):
            raise TypeError(f"`tr_options`: lsmr() got an unexpected keyword argument {k!r} "
                            f"(it takes {', '.join(_LSMR_KEYS)}, and lsqcore's "
                            f"'regularize' and 'preconditioner').")
    pre = opts.pop("preconditioner", None)
    if not (pre is None or isinstance(pre, str)) or pre not in PRECONDITIONERS:
        raise ValueError(f"`tr_options['preconditioner']` must be None or 'block-jacobi', "
                         f"got {pre!r}.")
    if method == "gn":
        raise ValueError("`tr_solver`='lsmr' is not available for `method`='gn' (a line "
                         "search on the exact Gauss-Newton step); use 'trf' or 'dogbox'.")
    regularize = bool(opts.pop("regularize", True)) if method == "trf" else True
    if "regularize" in opts:
        import warnings
        warnings.warn("The keyword 'regularize' in `tr_options` is not relevant for "
                      "'dogbox' method.", stacklevel=4)
        del opts["regularize"]
    vals = []
    for k, default in zip(("atol", "btol", "conlim", "damp"), L.LSMR_DEFAULTS):
        v = opts.get(k, default)
        if not isinstance(v, numbers.Real) or not v >= 0.0:
            raise ValueError(f"`tr_options['{k}']` must be a non-negative number, got {v!r}.")
        vals.append(float(v))
    maxiter = opts.get("maxiter")
    if maxiter is None:
        maxiter = 0
    elif not isinstance(maxiter, numbers.Integral) or maxiter <= 0:
        raise ValueError(f"`tr_options['maxiter']` must be None or a positive integer, "
                         f"got {maxiter!r}.")
    return PRECONDITIONERS[pre], tuple(vals), int(maxiter), regularize


def check_preconditioner(tr_code, pattern):
    """A block-Jacobi preconditioner needs the stored pattern of a sparse ``J``
    (``pattern``: :class:`lsqcore._sparse_jac.Pattern`; None for a dense ``J``, an
    operator for a ``LinearOperator``): raise before the solve starts if not."""
    from ._sparse_jac import Pattern
    if tr_code == L.TR_LSMR_BJ and not isinstance(pattern, Pattern):
        what = "a dense Jacobian" if pattern is None else "a LinearOperator Jacobian"
        raise ValueError("`tr_options['preconditioner']`='block-jacobi' needs a sparse "
                         "Jacobian (`jac_sparsity`, or a `jac` that returns a scipy.sparse "
                         f"matrix); this problem has {what}.")
