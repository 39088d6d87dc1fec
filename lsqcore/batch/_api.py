"""Front ends of the batch solvers: ``least_squares_batch`` and ``curve_fit_batch``.

Validation happens here, once for the whole batch, before any work, with the
single solver's checks (:mod:`lsqcore._api`) reused for every shared option
and messages that name the parameter and, for per-row data, the row.
Failures that belong to one fit's *data* (NaN or inf in its row, nothing
left after omitting NaNs) do not raise: they mark that row's status.
"""
import inspect
import numbers

import numpy as np
import numba

from .. import _layout as L
from .._kernel import int_options, float_options
from .._api import _is_jitted, _native_args, InPlace
from .._validate import (UNBOUNDED, bounds_pair, check_options, check_x_scale,
                         check_tolerances, check_diff_step, check_f_scale, refuse_bounds,
                         check_nan_policy)
from .._loss import LOSS_CODES, CALLABLE
from . import cpu, _dask
from ._model import (row_args, model_residual, inplace_residual, curve_fit_inplace,
                     WHOLE, ROW, ROW_TRUNC, SCRATCH, BCAST_TRUNC)
from ._result import BatchResult, BAD_SHAPE, USER_RAISED, blank_unfitted
from ._cwrap import cacheable, batch_pointers
from . import cuda as _gpu
from ..models._bind import bind
from ..models._model import Model
from .._poisson import check_estimator, check_poisson, fisher_covariance
from .cuda import is_cuda_array as _is_cuda_array, as_device, array_shape


# ---------------------------------------------------------------- validation

def _check_threads(threads):
    max_threads = numba.config.NUMBA_NUM_THREADS
    if threads is None:
        return numba.get_num_threads()
    if (not isinstance(threads, numbers.Integral) or isinstance(threads, bool)
            or not 1 <= threads <= max_threads):
        raise ValueError(f"`threads` must be None or an integer in [1, {max_threads}] "
                         f"(numba.config.NUMBA_NUM_THREADS), got {threads!r}.")
    return int(threads)


def _check_progress(progress):
    if progress not in (None, True, False):
        raise ValueError(f"`progress` must be None, True or False, got {progress!r}.")
    try:
        import tqdm  # noqa: F401
    except ImportError:
        if progress is True:
            raise ImportError("progress=True needs the optional dependency tqdm: "
                              "pip install 'lsqcore[progress]' (or tqdm).") from None
        return False
    return progress


def _check_x0_batch(x0, name="x0"):
    if np.iscomplexobj(x0):
        raise ValueError(f"`{name}` must be real.")
    try:
        x0 = np.asarray(x0, dtype=float)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`{name}` must be a real array_like: {e}") from None
    if x0.ndim != 2:
        raise ValueError(f"`{name}` must have shape (K, n), one row per fit, "
                         f"got shape {x0.shape}.")
    if x0.shape[1] == 0:
        raise ValueError(f"`{name}` must have at least one column (parameter), "
                         f"got shape {x0.shape}.")
    return np.ascontiguousarray(x0)


def _check_bounds_batch(bounds, X0, K, n, method, x0_name="x0"):
    """Bounds shared ``(n,)``/scalar or per fit ``(K, n)``; returned as (1|K, n)."""
    lb, ub = bounds_pair(bounds)
    out = []
    for name, b in (("lb", lb), ("ub", ub)):
        b = np.asarray(b, dtype=float)
        if b.ndim == 0:
            b = np.full((1, n), float(b))
        elif b.shape == (n,):
            b = b.reshape(1, n)
        elif b.shape != (K, n) and b.shape != (1, n):
            raise ValueError(f"`bounds` {name} must be a scalar, shape ({n},) (shared) or "
                             f"({K}, {n}) (one row per fit), got shape {b.shape}.")
        if np.any(np.isnan(b)):
            raise ValueError(f"`bounds` {name} must not contain NaN.")
        out.append(np.ascontiguousarray(b))
    LB, UB = out
    bad = np.broadcast_to(LB >= UB, (max(LB.shape[0], UB.shape[0]), n))
    if np.any(bad):
        r, i = np.argwhere(bad)[0]
        lbv = LB[r if LB.shape[0] > 1 else 0, i]
        ubv = UB[r if UB.shape[0] > 1 else 0, i]
        where = f"row {r}, " if bad.shape[0] > 1 else ""
        raise ValueError("Each lower bound must be strictly less than each upper bound "
                         f"(`bounds`): {where}lb[{i}] = {lbv} >= ub[{i}] = {ubv}.")
    bounded = bool(np.any(np.isfinite(LB)) or np.any(np.isfinite(UB)))
    if bounded and method in UNBOUNDED:
        raise ValueError(f"`method`={method!r} does not support `bounds`; use 'trf'.")
    if K and X0 is not None:
        with np.errstate(invalid="ignore"):
            outside = (X0 < LB) | (X0 > UB)
        if np.any(outside):
            r, i = np.argwhere(outside)[0]
            raise ValueError("Initial guess is outside of provided bounds: "
                             f"`{x0_name}` is infeasible: {x0_name}[{r}, {i}] = {X0[r, i]} "
                             f"is outside the `bounds` [{LB[min(r, LB.shape[0] - 1), i]}, "
                             f"{UB[min(r, UB.shape[0] - 1), i]}].")
    return LB, UB, bounded


def _per_row_flags(args, K, per_row, device_arrays=False):
    """Which extra arguments are split by row (the documented rule); with
    ``device_arrays`` (device='cuda') device arrays follow the rule too."""
    def is_array(a):
        return isinstance(a, np.ndarray) or (device_arrays and _is_cuda_array(a))

    def splittable(a):
        return is_array(a) and len(array_shape(a)) >= 1 and array_shape(a)[0] == K

    if per_row is None:
        return tuple(splittable(a) for a in args)
    per_row = tuple(bool(p) for p in per_row)
    if len(per_row) != len(args):
        raise ValueError(f"`per_row` must have one flag per element of `args` "
                         f"({len(args)}), got {len(per_row)}.")
    for i, (a, p) in enumerate(zip(args, per_row)):
        if p and not splittable(a):
            shape = array_shape(a) if is_array(a) else type(a).__name__
            raise ValueError(f"`args[{i}]` is marked per row but is not an array with "
                             f"leading dimension K = {K} (got {shape}).")
    return per_row


def _check_jitted(obj, name):
    if callable(obj) and not _is_jitted(obj):
        raise TypeError(f"`{name}` must be a Numba-jitted function (numba.njit) for "
                        f"the batch solvers, got {type(obj).__name__}; loop over "
                        "lsqcore.least_squares for plain Python callables.")


def _empty_result(K, n, return_pcov, return_stderr, threads):
    return BatchResult(
        x=np.empty((K, n)), cost=np.empty(K), status=np.empty(K, dtype=np.int64),
        nfev=np.empty(K, dtype=np.int64), njev=np.empty(K, dtype=np.int64),
        nit=np.empty(K, dtype=np.int64), optimality=np.empty(K),
        pcov=np.empty((K, n, n)) if return_pcov else None,
        stderr=np.empty((K, n)) if return_stderr else None, threads=threads)


def _check_flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"`{name}` must be True or False, got {value!r}.")
    return bool(value)


# ---------------------------------------------------------------- least_squares_batch

def least_squares_batch(fun, x0, jac="2-point", bounds=(-np.inf, np.inf), method="trf",
                        ftol=1e-8, xtol=1e-8, gtol=1e-8, x_scale=None, loss="linear",
                        f_scale=1.0, diff_step=None, max_nfev=None, args=(), *,
                        per_row=None, threads=None, progress=None, return_pcov=False,
                        return_stderr=False, device="cpu", dtype=None, _block_hook=None):
    """Solve ``K`` independent least-squares problems on every CPU core (or a GPU).

    Row ``k`` is the problem ``least_squares(fun, x0[k], args=row_k(args),
    ...)`` with the same options; on the CPU its answer is bitwise identical
    to that single solve, whatever the number of threads.

    Parameters
    ----------
    fun : numba dispatcher or lsqcore.InPlace
        ``fun(x, *row_args) -> (m,) array``, compiled with ``numba.njit``
        (the whole batch runs in compiled code).  Every row must return the
        same ``m``.  Or the allocation-free form ``lsqcore.InPlace(fun, m)``
        with a jitted ``fun(x, out, *row_args)`` writing the ``m`` residuals
        into ``out`` (each thread owns ``out``; nothing is allocated per
        evaluation); ``device='cuda'`` needs this form.  It is called once
        before the batch, at the first row, into a guarded buffer: writing
        fewer than ``m`` values or past the end raises ValueError.
    x0 : array_like, shape (K, n)
        One starting point per problem.  A row with a non-finite ``x0``
        gets status ``NONFINITE_START`` (the others still run).
    jac : {'2-point', '3-point', 'cs'}, numba dispatcher or lsqcore.InPlace, optional
        As in :func:`lsqcore.least_squares`; a callable is ``jac(x,
        *row_args) -> (m, n)``.  With an in-place ``fun`` it may also be
        ``lsqcore.InPlace(jac, m)``, a jitted ``jac(x, out, *row_args)``
        filling ``out`` of shape (m, n) (the only callable form on the
        GPU); ``'cs'`` needs complex residuals and is refused with an
        in-place ``fun``.
    bounds : 2-tuple or `scipy.optimize.Bounds`, optional
        ``lb``, ``ub`` each a scalar or shape (n,) (shared by all rows) or
        (K, n) (one row per problem).  ``x0`` must be inside.
    method, ftol, xtol, gtol, x_scale, loss, f_scale, diff_step, max_nfev
        As in :func:`lsqcore.least_squares` and shared by all rows
        (``x_scale``, ``diff_step``: scalar or (n,)); a callable ``loss``
        must be jitted.
    args : tuple, optional
        Extra arguments of ``fun`` / ``jac``.  **Row rule:** an element that
        is a numpy array whose leading dimension is ``K`` is split by row
        (problem ``k`` receives ``args[i][k]``, so a (K, m) array gives a
        (m,) row and a (K,) array a scalar); anything else is passed whole
        to every problem.  ``per_row`` overrides the rule.  With
        ``device='cuda'`` the same rule applies to device arrays
        (``__cuda_array_interface__``: Numba, CuPy), which are used in
        place; every element must then be an array or a number.
    per_row : sequence of bool, optional
        One flag per element of ``args``: True splits it by row (it must be
        an array with leading dimension ``K``), False passes it whole.  Use
        it when a shared array happens to have length ``K``.
    threads : int, optional
        Number of threads (default ``numba.get_num_threads()``); the
        results do not depend on it.
    progress : bool or None, optional
        tqdm progress bar updated per block of rows: True always (needs
        tqdm, the ``progress`` extra), False never, None (default) only
        when the batch is expected to take more than 2 s (estimated from
        the first block).  Ctrl-C stops the batch between blocks and
        returns what finished (``result.interrupted``; unfinished rows have
        status ``NOT_RUN``).
    return_pcov, return_stderr : bool, optional
        Also return ``pcov`` (K, n, n) / ``stderr`` (K, n), computed as
        :func:`scipy.optimize.curve_fit` does from the final Jacobian:
        ``pinv(J^T J)`` through the SVD of ``J`` (singular values below
        ``eps max(m, n) s_max`` dropped), times ``2 cost / (m - n)``
        (``inf`` when ``m <= n`` or not finite).

    Returns
    -------
    result : BatchResult
        ``x (K, n), cost, status, success, nfev, njev, nit, optimality``
        (K,), and ``pcov`` / ``stderr`` when asked; ``result.message(code)``
        explains a status.

    Notes
    -----
    Memory: the results (``O(K n)``, ``O(K n^2)`` with ``pcov``) plus one
    workspace per thread (``O(threads m n)``), allocated once per call.
    The parallel driver comes from Numba's disk cache (compiled once, for
    every model and argument signature): a new ``fun`` costs its compile
    and that of two small C wrappers, about a second.  A callable ``loss``,
    ``jac='cs'`` or ``args`` other than C-contiguous numeric arrays and
    Python numbers take a driver compiled per model (several seconds, once
    per process).  An exception raised by ``fun`` or ``jac`` marks its row;
    after the run the batch raises it (calling the function again at the
    point where it raised, with a note naming the row).
    """
    if _dask.any_dask(x0, bounds, args):
        # one task per chunk of rows, each this function on its slices
        return _dask.least_squares_batch(
            least_squares_batch, fun, x0, bounds, args, per_row,
            dict(jac=jac, method=method, ftol=ftol, xtol=xtol, gtol=gtol, x_scale=x_scale,
                 loss=loss, f_scale=f_scale, diff_step=diff_step, max_nfev=max_nfev,
                 threads=threads, progress=progress, return_pcov=return_pcov,
                 return_stderr=return_stderr, device=device, dtype=dtype))
    return _least_squares_batch(
        fun, x0, jac, bounds, method, ftol, xtol, gtol, x_scale, loss, f_scale,
        diff_step, max_nfev, args, per_row, threads, progress, return_pcov,
        return_stderr, _block_hook, device=device, dtype=dtype)


def _check_device(device, dtype):
    """``(dtype, on_gpu)`` from the ``device`` / ``dtype`` options."""
    if device not in ("cpu", "cuda"):
        raise ValueError(f"`device` must be 'cpu' or 'cuda', got {device!r}.")
    try:
        dt = np.dtype(np.float64 if dtype is None else dtype)
    except TypeError:
        dt = None
    if dt not in (np.float64, np.float32) or (device == "cpu" and dt != np.float64):
        raise ValueError(f"`dtype` must be float64 (or float32 with device='cuda'), "
                         f"got {dtype!r} with device={device!r}.")
    return dt, device == "cuda"


def _check_gpu_args(args, dt):
    for i, a in enumerate(args):
        _gpu.check_device_dtype(a, dt, f"args[{i}]")
        if not (isinstance(a, (np.ndarray, numbers.Number)) or _is_cuda_array(a)):
            raise ValueError(f"`args[{i}]` must be an array (numpy, or a device array with "
                             f"__cuda_array_interface__) or a number for device='cuda', "
                             f"got {type(a).__name__}.")
        if isinstance(a, numbers.Complex) and not isinstance(a, numbers.Real):
            raise ValueError(f"`args[{i}]` must be real for device='cuda', got {a!r}.")
        if isinstance(a, np.ndarray) and a.dtype.kind not in "biuf":
            raise ValueError(f"`args[{i}]` must hold booleans, integers or real floats for "
                             f"device='cuda', got dtype {a.dtype}.")


def _host_row(a, r, flag):
    """What problem ``r`` receives of argument ``a`` under ``flag``, on the host."""
    if _is_cuda_array(a):
        d = as_device(a)
        if flag == WHOLE or (flag == BCAST_TRUNC and d.shape[0] == 1):
            return d.copy_to_host()[0] if flag == BCAST_TRUNC else d.copy_to_host()
        return d[r:r + 1].copy_to_host()[0]
    if flag == WHOLE:
        return a
    return a[r if (flag != BCAST_TRUNC or a.shape[0] != 1) else 0]


_LABELS = {"fun": ("`fun` (lsqcore.InPlace)", "fun(x, out, *args) writing (m,) residuals"),
           "jac": ("`jac` (lsqcore.InPlace)", "jac(x, out, *args) filling out of shape (m, n)")}
_CF_LABELS = {"fun": ("the model `f`", "f(x, p0, ..., p_{n-1}, out) writing (m,) values "
                      "(inplace=True), or an elementwise f(x_i, p0, ..., p_{n-1}) -> float "
                      "(device='cuda')"),
              "jac": ("`jac`", "jac(x, p0, ..., p_{n-1}, out) filling out of shape (m, n) "
                      "(inplace=True)")}


def _probe_inplace(fun, jac, m, n, X0, LB, UB, args, flags, mrow, method, labels=_LABELS):
    """Call the in-place ``fun`` (and in-place ``jac``) once, at the first row
    that can run, into guarded buffers: writing fewer than ``m_k`` values or
    past the end raises ValueError naming the function, before any work."""
    from numba.core.errors import TypingError
    from .._driver import GUARD_BITS, GUARD
    rows = range(X0.shape[0]) if mrow is None else np.flatnonzero(mrow > 0)
    if len(rows) == 0:
        return
    r = int(rows[0])
    mk = m if mrow is None else int(mrow[r])
    x = X0[r].copy()
    if method == "trf":
        from .._bounds import make_strictly_feasible
        with np.errstate(invalid="ignore"):
            make_strictly_feasible(x, LB[min(r, LB.shape[0] - 1)], UB[min(r, UB.shape[0] - 1)],
                                   1e-10)
    ra = []
    for a, f in zip(args, flags):
        v = _host_row(a, r, f)
        if f in (ROW_TRUNC, BCAST_TRUNC):
            v = v[:mk]
        ra.append(v)
    for name, fn, shape in (("fun", fun, (mk,)), ("jac", jac, (mk, n))):
        if fn is None:
            continue
        buf = np.empty((shape[0] + GUARD,) + shape[1:])
        buf.view(np.int64)[...] = GUARD_BITS
        try:
            with np.errstate(all="ignore"):
                fn(x.copy(), buf[:shape[0]], *ra)
        except (TypingError, TypeError) as e:   # wrong types, or wrong number of arguments
            who, form = labels[name]
            raise TypeError(f"{who} could not be called as {form} with the arguments of "
                            f"row {r}. Numba said: "
                            f"{str(e).splitlines()[0] if str(e) else type(e).__name__}"
                            ) from e
        bits = buf.view(np.int64)
        if np.any(bits[shape[0]:] != GUARD_BITS):
            raise ValueError(f"`{name}` (in-place form) wrote past the end of `out` "
                             f"(shape {shape}) for row {r}.")
        if np.any(bits[:shape[0]] == GUARD_BITS):
            raise ValueError(f"`{name}` (in-place form) wrote fewer values than `out` holds "
                             f"(shape {shape}, m = {mk} from lsqcore.InPlace) for row {r}.")


# how the GPU driver selects a row's part of each extra argument


def _check_forms(fun, jac, loss, args, x0, on_gpu, dt):
    """The rules on the forms of ``fun`` and ``jac`` (allocating or
    :class:`InPlace`) and on what ``device='cuda'`` can run; returns ``x0``
    (on the host)."""
    inplace = isinstance(fun, InPlace)
    jac_ip = isinstance(jac, InPlace)
    ujac = jac.fun if jac_ip else jac
    if jac_ip and not inplace:
        raise ValueError("`jac` in the in-place form (lsqcore.InPlace(jac, m): jac(x, out, "
                         "*args) filling out (m, n)) needs `fun` in the in-place form too: "
                         "lsqcore.InPlace(fun, m).")
    if jac_ip and jac.m != fun.m:
        raise ValueError(f"`jac` and `fun` must have the same m (lsqcore.InPlace): "
                         f"got {jac.m} and {fun.m}.")
    if inplace and jac == "cs":
        raise ValueError("jac='cs' needs complex residuals; it cannot be used with an "
                         "in-place `fun` (lsqcore.InPlace writes into a real buffer).")
    if on_gpu:
        if not inplace:
            raise ValueError("device='cuda' needs the allocation-free residual "
                             "lsqcore.InPlace(fun, m), fun(x, out, *args) writing m values "
                             "into out (a GPU thread cannot allocate a returned array); got "
                             "a `fun` that returns its residuals.")
        if callable(ujac) and not jac_ip:
            raise ValueError("device='cuda' needs `jac` '2-point', '3-point' or "
                             "lsqcore.InPlace(jac, m), jac(x, out, *args) filling out of "
                             "shape (m, n); got a `jac` that returns its matrix.")
        if callable(loss):
            raise NotImplementedError("a callable `loss` is not implemented for "
                                      "device='cuda'; use a built-in loss.")
        if not isinstance(args, tuple):
            raise ValueError(f"`args` must be a tuple, got {type(args).__name__}.")
        _check_gpu_args(args, dt)
        if _is_cuda_array(x0):
            x0 = as_device(x0).copy_to_host()
    return x0


def _least_squares_batch(fun, x0, jac, bounds, method, ftol, xtol, gtol, x_scale, loss,
                         f_scale, diff_step, max_nfev, args, per_row, threads, progress,
                         return_pcov, return_stderr, block_hook, *, flags=None,
                         mrow=None, m=None, absolute=False, x0_name="x0", device="cpu",
                         dtype=None, labels=_LABELS):
    dt, on_gpu = _check_device(device, dtype)
    inplace = isinstance(fun, InPlace)
    jac_ip = isinstance(jac, InPlace)
    ufun = fun.fun if inplace else fun
    ujac = jac.fun if jac_ip else jac
    check_options(ufun, x0, ujac, method, loss, 0, max_nfev, None, None)
    _check_jitted(ufun, "fun")
    _check_jitted(ujac, "jac")
    _check_jitted(loss, "loss")
    x0 = _check_forms(fun, jac, loss, args, x0, on_gpu, dt)
    return_pcov = _check_flag(return_pcov, "return_pcov")
    return_stderr = _check_flag(return_stderr, "return_stderr")
    X0 = _check_x0_batch(x0, x0_name)
    K, n = X0.shape
    LB, UB, _ = _check_bounds_batch(bounds, X0, K, n, method, x0_name)
    xs, jac_scale = check_x_scale(x_scale, n, method)
    ftol, xtol, gtol = check_tolerances(ftol, xtol, gtol, method)
    check_f_scale(f_scale)
    # float32 on the GPU: float64's default steps are below float32's resolution
    rstep = check_diff_step(diff_step, n, jac, dt if on_gpu else None)
    threads = _check_threads(threads)
    progress = _check_progress(progress)
    if not isinstance(args, tuple):
        raise ValueError(f"`args` must be a tuple, got {type(args).__name__}.")
    args = _native_args(args)               # compiled code reads native bytes only
    if flags is None:
        split = _per_row_flags(args, K, per_row, device_arrays=on_gpu)
        args = tuple(np.ascontiguousarray(a) if s and isinstance(a, np.ndarray) else a
                     for a, s in zip(args, split))
        flags = tuple(ROW if s else WHOLE for s in split)
    if max_nfev is None:
        max_nfev = 100 * n
    if K == 0:
        return _empty_result(0, n, return_pcov, return_stderr, threads)

    if on_gpu:
        _gpu._import_cuda()     # no numba-cuda or no GPU: say so before any work
    if inplace:
        m = fun.m
        _probe_inplace(ufun, ujac if jac_ip else None, m, n, X0, LB, UB, args, flags,
                       mrow, method, labels)
    elif m is None:
        m = _probe_m(fun, X0, LB, UB, args, flags, method)
    if method == "lm" and m < n:
        raise ValueError(f"`method`='lm' needs at least as many residuals as variables, "
                         f"got m = {m} < n = {n}.")
    loss_code = CALLABLE if callable(loss) else LOSS_CODES[loss]
    jac_code = L.JAC_CALLABLE if callable(jac) else L.JAC_CODES[jac]
    fopts = np.array(float_options(ftol, xtol, gtol, f_scale))
    iopts = np.array(int_options(L.METHOD_CODES[method], jac_code, loss_code, max_nfev,
                                 jac_scale, 0), dtype=np.int64)
    x_scale_a = np.array(xs, dtype=float)
    rstep_a = np.array(rstep, dtype=float)
    cov = return_pcov or return_stderr
    if on_gpu:
        out = _gpu.solve(
            ufun, ujac if jac_ip else None, args, flags, X0, LB,
            UB, mrow, fopts, iopts, x_scale_a, rstep_a, int(m), n, dt, cov, absolute,
            return_pcov, return_stderr, loss_code)
    else:
        out = _solve_on_cpu(fun, jac, loss, args, flags, K, X0, LB, UB, mrow, m, n, fopts,
                            iopts, x_scale_a, rstep_a, cov, absolute, return_pcov,
                            return_stderr, threads, progress, block_hook)
    bad = np.flatnonzero(out["status"] == BAD_SHAPE)
    if bad.size:
        k = int(bad[0])
        mk = int(m if mrow is None else mrow[k])
        raise ValueError(f"Row {k} (and {bad.size - 1} more): `fun`, `jac` or `loss` "
                         f"returned an array of the wrong shape (expected ({mk},), "
                         f"({mk}, {n}) and (3, {mk}) as for row 0).")
    # rows without a fitted result (not run, NaN data, raised...): NaN, not x0,
    # for both devices (the drivers leave x0 or the point of failure in x)
    blank_unfitted(out)
    interrupted = out.pop("interrupted")
    return BatchResult(interrupted=interrupted, threads=threads, **out)


def _solve_on_cpu(fun, jac, loss, args, flags, K, X0, LB, UB, mrow, m, n, fopts, iopts,
                  x_scale_a, rstep_a, cov, absolute, return_pcov, return_stderr, threads,
                  progress, block_hook):
    """The CPU batch: the cached parallel driver through per-model C wrappers
    when it can run the model, else the per-model adapters; re-raises the
    first row's exception from the user's function."""
    inplace = isinstance(fun, InPlace)
    jac_ip = isinstance(jac, InPlace)
    ufun = fun.fun if inplace else fun
    ujac = jac.fun if jac_ip else jac
    robust = loss != "linear"
    loss_code = CALLABLE if callable(loss) else LOSS_CODES[loss]
    user_args, user_flags = args, flags
    key = cacheable(ufun, ujac if callable(ujac) else None,
                    loss if callable(loss) else None, jac == "cs", args)
    pointers = None
    if key is not None:
        # the cached parallel driver, reaching the user's functions (or
        # curve_fit's wrappers of them) through per-model C wrappers
        pointers = batch_pointers(ufun, ujac if callable(ujac) else None, inplace,
                                  jac_ip, row_args(flags), flags, args, key)
    elif inplace:
        # the thread's output rows travel as SCRATCH arguments of the adapters
        fun, jw = inplace_residual(ufun, len(args), ujac if callable(ujac) else None,
                                   jac_ip)
        args = args + (np.zeros((threads, m)),)
        flags = flags + (SCRATCH,)
        if jac_ip:
            args = args + (np.zeros((threads, m, n)),)
            flags = flags + (SCRATCH,)
        if callable(ujac):
            jac = jw
    P = cpu.Problem(
        K=K, fun=fun, jac=jac if callable(jac) else None,
        loss=loss if callable(loss) else None, rows=row_args(flags), args=args,
        X0=X0, LB=LB, UB=UB,
        mrow=np.zeros(0, dtype=np.int64) if mrow is None else mrow, m=int(m),
        fopts=fopts, iopts=iopts, x_scale=x_scale_a, rstep=rstep_a, robust=robust,
        callable_loss=loss_code == CALLABLE, cov=cov, absolute=bool(absolute),
        return_pcov=return_pcov, return_stderr=return_stderr, pointers=pointers)
    out = cpu.solve(P, threads, progress, block_hook)
    raised = np.flatnonzero(out["status"] == USER_RAISED)
    if raised.size:
        _reraise_row(int(raised[0]), raised.size, out["x"][raised[0]], ufun,
                     ujac if callable(ujac) else None, inplace, jac_ip, user_args,
                     user_flags, m if mrow is None else int(mrow[raised[0]]), n)
    return out


def _reraise_row(k, count, x, fun, jac, inplace, jac_inplace, args, flags, mk, n):
    """Row ``k``'s residual or Jacobian raised inside compiled code (behind a C
    frame, which an exception cannot cross): call them again in Python at the
    point where it happened, with the row's arguments, so that the user's own
    exception reaches the caller (with a note naming the row)."""
    ra = []
    for a, f in zip(args, flags):
        v = _host_row(a, k, f)
        ra.append(v[:mk] if f in (ROW_TRUNC, BCAST_TRUNC) else v)
    x = np.array(x, dtype=float)
    try:
        with np.errstate(all="ignore"):
            if inplace:
                fun(x.copy(), np.empty(mk), *ra)
            else:
                fun(x.copy(), *ra)
            if jac is not None:
                if jac_inplace:
                    jac(x.copy(), np.empty((mk, n)), *ra)
                else:
                    jac(x.copy(), *ra)
    except Exception as e:
        if hasattr(e, "add_note"):
            e.add_note(f"(lsqcore batch: raised by row {k}"
                       + (f" and {count - 1} more" if count > 1 else "")
                       + f", at x = {x!r})")
        raise
    raise RuntimeError(f"Row {k} (and {count - 1} more): `fun` or `jac` raised an exception "
                       f"in compiled code at x = {x!r}, but not when called again there "
                       "from Python.")


def _probe_m(fun, X0, LB, UB, args, flags, method):
    """``m`` from ``fun`` at the first row (also compiles ``fun`` for the row types)."""
    x = X0[0].copy()
    if method == "trf":
        from .._bounds import make_strictly_feasible
        with np.errstate(invalid="ignore"):
            make_strictly_feasible(x, LB[0], UB[0], 1e-10)
    ra = tuple(a[0] if f == ROW else a for a, f in zip(args, flags))
    f0 = np.asarray(fun(x, *ra))
    if f0.ndim != 1:
        raise ValueError(f"`fun` must return a 1-d array, got shape {f0.shape} for row 0.")
    if f0.size == 0:
        raise ValueError("`fun` returned no residuals for row 0.")
    return f0.shape[0]


# ---------------------------------------------------------------- curve_fit_batch

_LSQ_KWARGS = ("ftol", "xtol", "gtol", "x_scale", "loss", "f_scale", "diff_step",
               "max_nfev")


def _n_params(f, inplace):
    if isinstance(f, Model):
        return f.n
    try:
        sig = inspect.signature(getattr(f, "py_func", f))
    except (TypeError, ValueError):
        raise ValueError("Unable to determine the number of fit parameters of `f`; "
                         "give `p0`.") from None
    params = list(sig.parameters.values())
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        raise ValueError("`f` takes *args: give `p0` to fix the number of parameters.")
    n = len(params) - 1 - (1 if inplace else 0)
    if n < 1:
        raise ValueError("`f` must take the independent variable and at least one "
                         "parameter: f(x, p0, ...).")
    return n


def _initial_p0(LB, UB, n):
    """scipy's default start: 1, moved inside one-sided bounds, midpoint of finite ones."""
    lb, ub = np.broadcast_arrays(LB, UB)
    p0 = np.ones(lb.shape)
    lf, uf = np.isfinite(lb), np.isfinite(ub)
    both = lf & uf
    p0[lf & ~uf] = lb[lf & ~uf] + 1
    p0[uf & ~lf] = ub[uf & ~lf] - 1
    p0[both] = 0.5 * (lb[both] + ub[both])
    return p0


def _per_fit(shape, name, what, K, m):
    """Whether data of ``shape`` is per fit ``(K, m)`` rather than shared ``(m,)``."""
    if shape == (m,):
        return False
    if shape == (K, m):
        return True
    raise ValueError(f"`{name}` must {what} ({m},) (shared) or ({K}, {m}) (one row per fit) "
                     f"to match `ydata` ({K}, {m}), got shape {shape}.")


def _batch_data(xdata, ydata, sigma, on_gpu, dt, nan_policy, is_cuda_array):
    """``(X, Y, Wt, x_per_row, w_per_row)``: ``curve_fit_batch``'s data
    checked (``ydata`` (K, m); ``xdata`` and ``sigma`` shared or per fit),
    device arrays kept on the device, ``Wt = 1 / sigma``."""
    if on_gpu:
        for name, a in (("xdata", xdata), ("ydata", ydata)):
            _gpu.check_device_dtype(a, dt, name)
        if nan_policy is not None and (is_cuda_array(xdata) or is_cuda_array(ydata)):
            raise NotImplementedError("nan_policy is not implemented for data on the GPU; "
                                      "use nan_policy=None (rows with NaN get status "
                                      "NONFINITE_START).")
        # any __cuda_array_interface__ object as a Numba device array (a view)
        xdata = as_device(xdata) if is_cuda_array(xdata) else xdata
        ydata = as_device(ydata) if is_cuda_array(ydata) else ydata
    Y = ydata if is_cuda_array(ydata) else np.asarray(ydata, dtype=float)
    if Y.ndim != 2:
        raise ValueError(f"`ydata` must have shape (K, m), one row per fit, got shape {Y.shape}.")
    K, m = Y.shape
    if m == 0:
        raise ValueError("`ydata` must not be empty (m = 0 points per fit).")
    X = xdata if is_cuda_array(xdata) else np.asarray(xdata, dtype=float)
    if X.ndim == 3 and not is_cuda_array(X):
        # k predictors per point, scipy's (k, m) for each fit: (1, k, m)
        # shared or (K, k, m) per fit, stored point-major, (., m, k), so that
        # a row's first m_k points are its first m_k rows
        if X.shape[0] not in (1, K) or X.shape[2] != m or X.shape[1] == 0:
            raise ValueError(f"`xdata` with several predictors must have shape (1, k, {m}) "
                             f"(shared) or ({K}, k, {m}) (one per fit), got {X.shape}.")
        x_per_row = X.shape[0] == K and K != 1
        X = np.ascontiguousarray(X.transpose(0, 2, 1))
    else:
        x_per_row = _per_fit(X.shape, "xdata", "have shape", K, m)
    if sigma is None:
        Wt = np.ones(m)
        w_per_row = False
    else:
        if is_cuda_array(sigma):
            sigma = as_device(sigma).copy_to_host()
        sg = np.asarray(sigma, dtype=float)
        w_per_row = _per_fit(sg.shape, "sigma", "be None, shape", K, m)
        with np.errstate(divide="ignore", invalid="ignore"):
            Wt = 1.0 / sg
    return X, Y, Wt, x_per_row, w_per_row


def _batch_parameters(f, p0, bounds, method, K, inplace):
    """``(P0 (K, n), LB, UB, n, method)`` of ``curve_fit_batch`` (method None:
    'trf' with bounds, else 'lm', as scipy)."""
    if p0 is None:
        n = _n_params(f, inplace)
        LB, UB, bounded = _check_bounds_batch(bounds, None, K, n, "trf")
        P0 = _initial_p0(LB, UB, n)
    else:
        P0 = np.asarray(p0, dtype=float)
        if P0.ndim == 1:
            P0 = P0.reshape(1, -1)
        if P0.ndim != 2 or P0.shape[0] not in (1, K) or P0.shape[1] == 0:
            raise ValueError(f"`p0` must have shape (n,) (shared) or ({K}, n) (per fit), "
                             f"got shape {np.shape(p0)}.")
        n = P0.shape[1]
        LB, UB, bounded = _check_bounds_batch(bounds, None, K, n, "trf")
    if method is None:
        method = "trf" if bounded else "lm"
    if method not in ("trf", "dogbox") and bounded:
        refuse_bounds(method)
    P0 = np.ascontiguousarray(np.broadcast_to(P0, (K, n)))
    return P0, LB, UB, n, method


def curve_fit_batch(f, xdata, ydata, p0=None, sigma=None, absolute_sigma=False,
                    bounds=(-np.inf, np.inf), method=None, jac=None, *, nan_policy=None,
                    inplace=False, threads=None, progress=None, return_pcov=False,
                    return_stderr=False, device="cpu", dtype=None, estimator="ls",
                    _block_hook=None, **kwargs):
    """Fit one model to every row of ``ydata`` (``K`` independent fits).

    Row ``k`` minimises ``sum(((f(x_k, *p) - y_k) / sigma_k)**2)`` exactly as
    ``least_squares`` would on the residual of :func:`scipy.optimize.curve_fit`
    (``(f(x, *p) - y) * (1 / sigma)``); its answer is bitwise identical to
    that single solve, whatever the number of threads.

    Parameters
    ----------
    f : numba dispatcher
        The model ``f(x, p0, ..., p_{n-1}) -> (m,) array`` with scalar
        parameters (scipy's convention), compiled with ``numba.njit``.
        With ``inplace=True``: ``f(x, p0, ..., p_{n-1}, out)`` writes the
        model values into ``out`` (length m) and returns nothing; the batch
        then allocates nothing per evaluation (each thread owns ``out``).
    xdata : array_like, shape (m,) or (K, m); or (1, k, m) or (K, k, m)
        The independent variable, shared by all fits or one row per fit;
        with ``k`` predictors (a model of ``(x, y)``...), a 3-d array: the
        model receives scipy's ``(k, m)`` for each fit (shared or per fit).
    ydata : array_like, shape (K, m)
        One row of data per fit.
    p0 : array_like, shape (n,) or (K, n), optional
        Starting point, shared or per fit.  Default: scipy's (ones, moved
        inside the bounds), with ``n`` taken from the signature of ``f``.
    sigma : None or array_like, shape (m,) or (K, m), optional
        Standard deviations of ``ydata`` (1-D weights ``1 / sigma``), shared
        or per fit.  Covariance matrices are not supported in batch.
    absolute_sigma : bool, optional
        As in curve_fit: ``pcov`` unscaled (True) or scaled by the reduced
        chi-square (False).
    bounds : 2-tuple, optional
        ``lb``, ``ub`` each a scalar, (n,) (shared) or (K, n) (per fit).
    method : {'lm', 'trf', 'dogbox', 'gn'} or None, optional
        None: 'lm' without bounds, 'trf' with them (scipy's rule).  'lm' is
        lsqcore's More-style LM via ``least_squares`` options (not MINPACK's
        ``leastsq`` defaults).
    jac : None, {'2-point', '3-point', 'cs'} or numba dispatcher, optional
        A callable is ``jac(x, p0, ..., p_{n-1}) -> (m, n)`` (``inplace``:
        ``jac(x, p0, ..., out)`` filling ``out`` of shape (m, n)); None is
        '2-point'.
    nan_policy : {None, 'raise', 'omit'}, optional
        None: a row with NaN or inf in its data gets status
        ``NONFINITE_START`` and the others run; 'raise': raise naming the
        first such row; 'omit': drop the points where ``xdata`` or ``ydata``
        is NaN, row by row (the row is then the single fit of its remaining
        points, in order; a row left with no point -- or fewer than ``n``
        for 'lm' -- gets status ``TOO_FEW_POINTS``).
    inplace : bool, optional
        Use the allocation-free model form described under ``f``.
    threads, progress, return_pcov, return_stderr
        As in :func:`least_squares_batch`.
    device : {'cpu', 'cuda'}, optional
        'cuda' runs one fit per GPU thread through numba-cuda (the
        ``cuda`` extra), compiling the same solver kernel and ``f`` as CUDA
        device functions, through :func:`least_squares_batch` with the
        in-place residual ``(f(x, *p) - y) / sigma``.  The model may be
        written the ordinary way, ``f(x, p0, ...) -> array``, if it is
        elementwise (it works for a scalar ``x``): the GPU then evaluates
        it point by point as a scalar device function (checked on the
        first row before any work: a model that is not elementwise raises
        ValueError); or in place (``inplace=True``, see
        :mod:`lsqcore.batch.cuda`).  ``jac``: None, '2-point', '3-point',
        or an in-place callable with ``inplace=True``.  A built-in
        ``loss``.  ``nan_policy='omit'`` compacts host data as on the CPU
        (each GPU row runs its ``m_k`` points).  ``xdata``, ``ydata`` may
        be device arrays (``__cuda_array_interface__``: CuPy, Numba) of the
        batch ``dtype``, used in place (then ``nan_policy`` must be None);
        host arrays are moved in chunks.  Without numba-cuda or a GPU it
        raises RuntimeError saying which is missing.
    dtype : {None, numpy.float64, numpy.float32}, optional
        Arithmetic precision of the solve; float32 only with
        ``device='cuda'`` (give tolerances above float32's resolution,
        e.g. ``ftol=xtol=1e-6``).
    estimator : {'ls', 'poisson'}, optional
        As in :func:`lsqcore.curve_fit`: 'poisson' fits counts by maximum
        likelihood (no ``sigma``; CPU, ``inplace=False``), and ``pcov`` /
        ``stderr`` are the inverse Fisher information per row.
    **kwargs
        ``ftol, xtol, gtol, x_scale, loss, f_scale, diff_step, max_nfev``
        (``maxfev`` is accepted for ``max_nfev``), as in ``least_squares``.

    Returns
    -------
    result : BatchResult
        ``x`` holds the fitted parameters (``popt`` per row); ``pcov`` and
        ``stderr`` when asked.
    """
    poisson = check_estimator(estimator)
    if _dask.any_dask(xdata, ydata, p0, sigma, bounds):
        # one task per chunk of rows, each this function on its slices (a
        # library model is bound there, per chunk)
        return _dask.curve_fit_batch(
            curve_fit_batch, f, xdata, ydata, p0, sigma, bounds, method,
            dict(absolute_sigma=absolute_sigma, jac=jac, nan_policy=nan_policy,
                 inplace=inplace, threads=threads, progress=progress,
                 return_pcov=return_pcov, return_stderr=return_stderr, device=device,
                 dtype=dtype, estimator=estimator, **kwargs))
    model = f if isinstance(f, Model) else None
    f, jac, p0, bounds, inplace = bind(f, xdata, ydata, p0, bounds, method, jac,
                                       batch=True, inplace=inplace, poisson=poisson)
    kwargs = _solver_kwargs(kwargs)
    if not callable(f):
        raise TypeError(f"`f` must be callable, got {type(f).__name__}.")
    _check_jitted(f, "f")
    _check_jitted(jac, "jac")
    inplace = _check_flag(inplace, "inplace")
    absolute_sigma = _check_flag(absolute_sigma, "absolute_sigma")
    check_nan_policy(nan_policy)
    if jac is None:
        jac = "2-point"
    if inplace and jac == "cs":
        raise ValueError("jac='cs' needs complex model values; it cannot be used "
                         "with inplace=True (a real output buffer).")
    dt, on_gpu = _check_device(device, dtype)
    if poisson:
        _check_poisson(ydata, sigma, kwargs.get("loss"), inplace, on_gpu, jac)
    is_cuda_array = _gpu_forms(inplace, jac, kwargs.get("loss")) if on_gpu else _never

    # ---- ydata, xdata, sigma
    X, Y, Wt, x_per_row, w_per_row = _batch_data(xdata, ydata, sigma, on_gpu, dt, nan_policy,
                                                  is_cuda_array)
    K, m = Y.shape

    # ---- parameters and bounds
    P0, LB, UB, n, method = _batch_parameters(f, p0, bounds, method, K, inplace)

    # ---- NaN handling
    mrow = None
    multi = X.ndim == 3             # several predictors, point-major (see _batch_data)
    if multi and on_gpu:
        raise NotImplementedError("`xdata` with several predictors (3-d) needs "
                                  "device='cpu'.")
    if on_gpu and not inplace:
        _check_elementwise(f, X, P0, n)
    if nan_policy is not None:
        has_nan = np.isnan(Y) | (np.isnan(X).any(axis=2) if multi else np.isnan(X))
        if nan_policy == "raise" and np.any(has_nan):
            r = int(np.argmax(np.any(has_nan, axis=1)))
            raise ValueError("The input contains nan values: `xdata` or `ydata` contains NaN "
                             f"(first in row {r}) and nan_policy='raise'.")
        if nan_policy == "omit" and np.any(has_nan):
            # compact every row: its finite points first, in order; m_k of them
            order = np.argsort(has_nan, axis=1, kind="stable")
            Y = np.take_along_axis(Y, order, axis=1)
            X = (np.take_along_axis(np.broadcast_to(X, (K,) + X.shape[1:]), order[:, :, None],
                                    axis=1) if multi else
                 np.take_along_axis(np.broadcast_to(X, (K, m)), order, axis=1))
            Wt = np.take_along_axis(np.broadcast_to(Wt, (K, m)), order, axis=1)
            x_per_row = w_per_row = True
            mrow = (m - np.sum(has_nan, axis=1)).astype(np.int64)
    # Shared xdata / sigma travel as one row and are broadcast at run time,
    # so that shared, per-fit and NaN-compacted data share one compiled driver.
    Y = Y if is_cuda_array(Y) else np.ascontiguousarray(Y)
    X = X if x_per_row else X.reshape((1, m) + X.shape[2:])
    X = X if is_cuda_array(X) else np.ascontiguousarray(X)
    # (a writable view, not np.broadcast_to's read-only one: a read-only array is
    # another Numba type, another entry of the cached driver to compile)
    Wt = np.ascontiguousarray(Wt if w_per_row else Wt.reshape(1, m))

    ujac = jac                      # the model's own (for a Poisson covariance)
    args = (X, Y, Wt)
    flags = (BCAST_TRUNC, ROW_TRUNC, BCAST_TRUNC)
    if inplace or on_gpu:
        # one in-place residual for both devices: the GPU evaluates an ordinary
        # (elementwise) model point by point as a scalar device function
        # a library model on the CPU: values and Jacobian from one pass at every
        # trial, the Jacobian kept for its acceptance (in the thread's scratch)
        fused = (model.fj_inplace if model is not None and inplace and not on_gpu
                 and jac is model.jac_inplace else None)
        residual, jacobian = curve_fit_inplace(f, n, jac if callable(jac) else None,
                                               elementwise=not inplace, xt=multi, fused=fused)
        if fused is not None:
            t = _check_threads(threads)
            args += (np.zeros((t, m, n + 1)),)
            flags += (SCRATCH,)
        fun = InPlace(residual, m)
        jac = InPlace(jacobian, m) if callable(jac) else jac
    else:
        # single curve_fit's wrappers: the weights travel as an (m, 1) column
        residual, jacobian = model_residual(f, n, jac if callable(jac) else None,
                                            cs=(jac == "cs"), xt=multi, poisson=poisson)
        args = (X, Y, np.ascontiguousarray(Wt[..., None]))
        fun = residual
        jac = jacobian if callable(jac) else jac
    res = _least_squares_batch(
        fun, P0, jac, (LB, UB), method,
        kwargs.get("ftol", 1e-8), kwargs.get("xtol", 1e-8), kwargs.get("gtol", 1e-8),
        kwargs.get("x_scale"), kwargs.get("loss", "linear"), kwargs.get("f_scale", 1.0),
        kwargs.get("diff_step"), kwargs.get("max_nfev"), args, None, threads, progress,
        return_pcov and not poisson, return_stderr and not poisson, _block_hook, flags=flags,
        mrow=mrow, m=m, absolute=absolute_sigma, x0_name="p0", device=device, dtype=dt,
        labels=_CF_LABELS)
    if poisson and (return_pcov or return_stderr):
        _fisher_into(res, f, ujac, n, multi, X, Y, mrow, return_pcov, return_stderr)
    return res


def _solver_kwargs(kwargs):
    """curve_fit_batch's ``**kwargs``: least_squares' options (``maxfev`` read
    as ``max_nfev``), anything else refused by name."""
    if "maxfev" in kwargs:
        if "max_nfev" in kwargs:
            raise ValueError("Give `max_nfev` or `maxfev`, not both.")
        kwargs["max_nfev"] = kwargs.pop("maxfev")
    unknown = set(kwargs) - set(_LSQ_KWARGS)
    if unknown:
        raise TypeError(f"curve_fit_batch() got unexpected keyword argument(s) "
                        f"{sorted(unknown)}; accepted: {list(_LSQ_KWARGS)}.")
    return kwargs


def _never(a):
    return False


def _gpu_forms(inplace, jac, loss):
    """The rules of ``device='cuda'`` on the model's forms; returns the
    device-array test."""
    from .cuda import is_cuda_array
    if not inplace and callable(jac):
        raise ValueError("device='cuda' with the ordinary model form (inplace=False) "
                         "takes `jac` None, '2-point' or '3-point'; an analytic `jac` "
                         "needs the in-place forms f(x, p0, ..., out) and jac(x, p0, "
                         "..., out) with inplace=True.")
    if jac == "cs":
        raise ValueError("jac='cs' is not available with device='cuda'; use '2-point', "
                         "'3-point' or an in-place analytic `jac` (inplace=True).")
    if callable(loss):
        raise NotImplementedError("a callable `loss` is not implemented for "
                                  "device='cuda'; use a built-in loss.")
    return is_cuda_array


def _check_poisson(ydata, sigma, loss, inplace, on_gpu, jac):
    """The rules of ``estimator='poisson'`` in a batch."""
    if inplace or on_gpu:
        raise ValueError("estimator='poisson' runs on the CPU with the model form "
                         "f(x, p0, ..., p_{n-1}) -> array (inplace=False, device='cpu').")
    check_poisson(ydata, sigma, loss, jac)


def _fisher_into(res, f, jac, n, multi, X, Y, mrow, return_pcov, return_stderr):
    """A Poisson batch's covariance: the inverse Fisher information per
    fitted row (:func:`lsqcore._poisson.fisher_covariance`)."""
    PC = fisher_covariance(f, jac if callable(jac) else None, n, multi, X, Y, res.x, mrow,
                           np.all(np.isfinite(res.x), axis=1))
    res.pcov = PC if return_pcov else None
    if return_stderr:
        with np.errstate(invalid="ignore"):
            res.stderr = np.sqrt(np.diagonal(PC, axis1=1, axis2=2))


def _check_elementwise(f, X, P0, n):
    """The GPU evaluates an ordinary model ``f(x, *p) -> array`` point by point
    as a scalar device function: check, before any work, that ``f`` accepts a
    scalar ``x`` and agrees with its array form on the first row."""
    if _is_cuda_array(X):
        d = as_device(X)
        X = d[0:1].copy_to_host() if d.ndim == 2 else d.copy_to_host()
    x = np.asarray(X, dtype=float).reshape(-1, X.shape[-1])[0]
    p = [float(v) for v in P0[0]]
    what = ("device='cuda' with inplace=False compiles the model `f` as a scalar CUDA "
            "device function evaluated point by point, so `f` must be elementwise: "
            f"f(x_i, p_0, ..., p_{n - 1}) -> float for a scalar x_i, equal to f(x, *p)[i] "
            "(math.* or np.* functions of scalars; no x.shape, indexing, reductions or "
            "allocation); or write the allocation-free form f(x, p0, ..., out) and pass "
            "inplace=True")
    x0 = float(x[0])
    try:
        with np.errstate(all="ignore"):
            v = f(x0, *p)
    except Exception as e:   # noqa: BLE001 - numba typing errors of the user's model
        msg = str(e).strip().splitlines()
        raise ValueError(f"{what}. Calling f({x0!r}, *p0) with a scalar x failed: "
                         f"{type(e).__name__}: {msg[0] if msg else ''}") from None
    if np.ndim(v) != 0 or not isinstance(np.asarray(v).item(), (float, int)):
        raise ValueError(f"{what}. f({x0!r}, *p0) returned {type(v).__name__} of shape "
                         f"{np.shape(v)}, not a real scalar.")
    # at p0 and at a second point (a term multiplied by a zero in p0 is invisible there)
    for q in (p, [v + 0.125 * (abs(v) + 1.0) for v in p]):
        try:
            with np.errstate(all="ignore"):
                full = np.asarray(f(x, *q), dtype=float)
                pts = np.array([f(float(xi), *q) for xi in x], dtype=float)
        except Exception as e:   # noqa: BLE001
            raise ValueError(f"{what}. Evaluating f on the first row failed: "
                             f"{type(e).__name__}: {e}") from None
        if full.shape != pts.shape or not np.allclose(full, pts, rtol=1e-12, atol=0.0,
                                                      equal_nan=True):
            raise ValueError(f"{what}. On the first row of `xdata`, f(x, *p) (shape "
                             f"{full.shape}) differs from f evaluated point by point at "
                             f"p = {q}: `f` is not elementwise.")
