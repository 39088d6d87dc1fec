r"""Batch fits on Dask arrays: one task per chunk of rows, solved by the CPU engine.

A batch of ``K`` independent fits is embarrassingly parallel over its rows,
so the distributed form needs no new algorithm, only a partition: the rows
of ``ydata`` (or ``x0``) are cut along Dask's chunks, every per-row input is
cut the same way, and each chunk ``c`` of ``K_c`` rows becomes *one* task that
calls the in-memory front end (:func:`lsqcore.curve_fit_batch` or
:func:`lsqcore.least_squares_batch`) on its slices.  Because a row's answer is
bitwise independent of the rows around it and of the number of threads (the
CPU engine's contract, :mod:`lsqcore.batch.cpu`), the chunked result equals
the in-memory one bit for bit, whatever the chunking, the scheduler or the
number of workers -- and a chunk recomputed after a worker died equals the
lost one.

The task packs its :class:`~lsqcore.batch.BatchResult` into one float array
of ``K_c`` rows and ``w`` columns (``x``, ``cost``, ``status``, ``nfev``,
``njev``, ``nit``, ``optimality``, then ``pcov`` and ``stderr`` when asked;
the counters are small integers, exact in float64), and every field of the
lazy result is a column slice of that one array: computing several fields
together (:meth:`BatchResult.compute`, ``dask.compute(res.x, res.cost)``)
solves each chunk once.

Validation happens in the caller's process before any task exists: the
in-memory front end is run on zero-row slices of the inputs (every option,
shape and form check, the same messages), the per-row inputs must share the
leading chunks of ``ydata``/``x0`` (a numpy per-row input is cut to them),
and the model is called once on the first row when its inputs are in memory.
What is *data* -- NaN rows, a row whose fit fails -- becomes that row's status
inside its task, as in memory.

Threads: the CPU engine is itself a parallel ``prange`` driver.  Inside a
``dask.distributed`` worker each task runs it on the worker's thread count
(``nthreads``), elsewhere on Numba's; the tasks of one process take turns
(a process-wide lock), so a process never runs more engine threads than it
was given and Numba's threading layer is never entered concurrently.
"""
import threading
import uuid

import numpy as np
import numba

#: one engine call per process at a time (see the module docstring)
_ENGINE_LOCK = threading.Lock()


# ---------------------------------------------------------------- detection

def is_dask(a):
    """True for a ``dask.array.Array`` (without importing Dask when absent)."""
    return type(a).__module__.startswith("dask.") and hasattr(a, "chunks") \
        and hasattr(a, "__dask_graph__")


def any_dask(*objs):
    """Whether any argument (or element of a tuple/list argument) is a Dask array."""
    for o in objs:
        if isinstance(o, (tuple, list)):
            if any_dask(*o):
                return True
        elif is_dask(o):
            return True
    return False


def require_dask():
    """Import ``dask.array``, or say which extra installs it."""
    try:
        import dask.array as da
    except ImportError:
        raise ImportError("Dask inputs need the optional dependency dask: "
                          "pip install 'lsqcore[dask]'.") from None
    return da


# ---------------------------------------------------------------- rows and chunks

class _Row:
    """Placeholder for the ``i``-th per-row input in a call template."""
    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i


class _Shared:
    """Placeholder for the ``i``-th shared Dask input (whole, in every task)."""
    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i


def _fill(template, rows, shared):
    """The template with its placeholders replaced by the task's arrays."""
    if isinstance(template, _Row):
        return rows[template.i]
    if isinstance(template, _Shared):
        return shared[template.i]
    if isinstance(template, tuple):
        return tuple(_fill(t, rows, shared) for t in template)
    if isinstance(template, list):
        return [_fill(t, rows, shared) for t in template]
    if isinstance(template, dict):
        return {k: _fill(v, rows, shared) for k, v in template.items()}
    return template


def _zero_rows(template, rows, shared):
    """The template filled with zero-row slices (and zero-filled shared
    inputs): the in-memory front end validates it without solving anything."""
    return _fill(template, [np.zeros((0,) + tuple(r.shape[1:])) for r in rows],
                 [np.zeros(s.shape) for s in shared])


class Partition:
    """The per-row and shared inputs of one lazy batch call.

    ``row(a, name)`` registers an array whose leading dimension is ``K``
    (the fits) and returns its placeholder; Dask arrays must be chunked
    along rows exactly as the leading input, numpy arrays are cut to those
    chunks.  ``shared(a)`` registers a whole Dask array read by every task.
    """

    def __init__(self, lead, lead_name):
        # (a Dask array: _partition cuts a numpy lead first)
        self.K = int(lead.shape[0])
        self.lead_name = lead_name
        self.chunks = lead.chunks[0]
        self.rows = []
        self.shared_arrays = []
        self._lead = self.row(lead, lead_name)

    def row(self, a, name):
        da = require_dask()
        if is_dask(a):
            if a.chunks[0] != self.chunks:
                raise ValueError(
                    f"`{name}` and `{self.lead_name}` must be chunked alike along their "
                    f"rows (the fits): `{name}` has row chunks {a.chunks[0]}, "
                    f"`{self.lead_name}` {self.chunks}; rechunk one of them, e.g. "
                    f"{name}.rechunk({{0: {self.lead_name}.chunks[0]}}).")
            # a fit needs its whole row: one chunk along every other axis
            a = a.rechunk({i: -1 for i in range(1, a.ndim)})
        else:
            a = np.asarray(a)
            a = da.from_array(a, chunks=(self.chunks,) + tuple(-1 for _ in a.shape[1:]))
        self.rows.append(a)
        return _Row(len(self.rows) - 1)

    def shared(self, a):
        self.shared_arrays.append(a.rechunk(-1))
        return _Shared(len(self.shared_arrays) - 1)


# ---------------------------------------------------------------- the task

def engine_threads(requested=None):
    """Threads for one engine call: ``requested``, else the distributed
    worker's ``nthreads``, else Numba's; never more than Numba has."""
    top = numba.config.NUMBA_NUM_THREADS
    if requested is not None:
        return max(1, min(int(requested), top))
    try:
        from distributed import get_worker
        return max(1, min(int(get_worker().state.nthreads), top))
    except (ImportError, ValueError, AttributeError):
        return top


def engine_call(solve, *args, threads=None, **kwargs):
    """``solve(*args, threads=..., **kwargs)`` under the process-wide engine lock."""
    with _ENGINE_LOCK:
        return solve(*args, threads=engine_threads(threads), **kwargs)


def _columns(n, pcov, stderr):
    """``(field, start, stop)`` of the packed array's columns."""
    cols, at = [], 0
    for name, w in (("x", n), ("cost", 1), ("status", 1), ("nfev", 1), ("njev", 1),
                    ("nit", 1), ("optimality", 1), ("pcov", n * n if pcov else 0),
                    ("stderr", n if stderr else 0)):
        if w:
            cols.append((name, at, at + w))
            at += w
    return cols, at


def pack(res, n, pcov, stderr):
    """A :class:`BatchResult` as one ``(K, w)`` float array (see :func:`_columns`)."""
    cols, width = _columns(n, pcov, stderr)
    K = len(res)
    out = np.empty((K, width))
    for name, a, b in cols:
        out[:, a:b] = np.asarray(getattr(res, name), dtype=float).reshape(K, b - a)
    return out


def _solve_block(offset, *arrays, solve, template, n_rows, n, pcov, stderr, threads):
    rows, shared = arrays[:n_rows], arrays[n_rows:]
    args, kwargs = _fill(template, list(rows), list(shared))
    try:
        res = engine_call(solve, *args, threads=threads, **kwargs)
    except (ValueError, TypeError, RuntimeError) as e:
        start = int(offset[0]) if len(offset) else 0
        raise type(e)(f"in the chunk of rows {start}..{start + rows[0].shape[0] - 1}: "
                      f"{e}") from e
    return pack(res, n, pcov, stderr)


# ---------------------------------------------------------------- the lazy batch

def lazy_batch(solve, part, template, n, *, pcov, stderr, threads, progress, label,
               probe=None):
    """The lazy :class:`BatchResult` of ``solve`` run chunk by chunk.

    ``template`` is ``(args, kwargs)`` of the in-memory call with
    placeholders from ``part``.  Before building the graph the in-memory
    front end validates the call on zero-row slices (nothing is solved),
    then ``probe()`` checks what needs the user's function.
    """
    da = require_dask()
    from ._result import BatchResult
    zargs, zkwargs = _zero_rows(template, part.rows, part.shared_arrays)
    solve(*zargs, threads=None, **zkwargs)
    if probe is not None:
        probe()
    # each task reads its first row's index from a lazy arange (error messages)
    offsets = da.arange(part.K, chunks=(part.chunks,))
    cols, width = _columns(n, pcov, stderr)
    name = f"lsqcore-{label}-{uuid.uuid4().hex}"
    # index names: the rows "i" align every per-row input; each input's other
    # axes (one chunk each) get their own names, so they are passed whole
    blockwise_args = [offsets, ("i",)]
    for j, a in enumerate(part.rows):
        blockwise_args += [a, ("i",) + tuple(f"r{j}.{d}" for d in range(1, a.ndim))]
    for j, a in enumerate(part.shared_arrays):
        blockwise_args += [a, tuple(f"s{j}.{d}" for d in range(a.ndim))]
    packed = da.blockwise(
        _solve_block, ("i", "z"), *blockwise_args, new_axes={"z": width}, dtype=np.float64,
        concatenate=True, name=name, meta=np.empty((0, 0)),
        solve=solve, template=template, n_rows=len(part.rows), n=n, pcov=pcov,
        stderr=stderr, threads=threads)
    f = {}
    for field, a, b in cols:
        col = packed[:, a:b]
        if field in ("status", "nfev", "njev", "nit"):
            f[field] = col[:, 0].astype(np.int64)
        elif field == "pcov":
            f[field] = col.reshape((part.K, n, n))
        elif field in ("x", "stderr"):
            f[field] = col
        else:
            f[field] = col[:, 0]
    return BatchResult(threads=0 if threads is None else threads, lazy=True,
                       progress=bool(progress), **f)


# ---------------------------------------------------------------- the two front ends

def _row_chunks_from(candidates):
    """The leading chunks of the first Dask array among per-row candidates."""
    for a in candidates:
        if is_dask(a):
            return a
    return None


def _register(part, a, row_name):
    """The placeholder of a per-row input (``row_name``: its name) or of a
    shared Dask input, or ``a`` itself."""
    if a is None:
        return None
    if row_name:
        return part.row(a, row_name)
    return part.shared(a) if is_dask(a) else a


def _bounds_template(part, bounds, K):
    from .._validate import bounds_pair
    lb, ub = bounds_pair(bounds)
    out = []
    for name, b in (("bounds lb", lb), ("bounds ub", ub)):
        per_row = np.ndim(b) == 2 and b.shape[0] == K
        out.append(_register(part, b, name if per_row else None))
    return tuple(out)


def _check_cpu(device):
    if device != "cpu":
        raise ValueError(f"`device`={device!r} is not available with Dask inputs: each "
                         "chunk runs on its worker's CPU engine (device='cpu').")


def _lazy_options(kw):
    """Pop and check the options that a lazy batch handles itself:
    ``(threads, progress)``; refuse a device other than the CPU."""
    require_dask()
    from ._api import _check_threads
    _check_cpu(kw.get("device", "cpu"))
    threads = kw.pop("threads", None)
    if threads is not None:
        _check_threads(threads)
    progress = kw.pop("progress", None)
    if progress not in (None, True, False):
        raise ValueError(f"`progress` must be None, True or False, got {progress!r}.")
    return threads, progress


def _check_lead(lead, name, what):
    if np.ndim(lead) != 2:
        raise ValueError(f"`{name}` must have shape (K, {what}), one row per fit, got shape "
                         f"{np.shape(lead)}.")


def _partition(lead, name, what, row_inputs):
    """The :class:`Partition` led by ``lead`` (``(K, what)``); a numpy
    ``lead`` takes the row chunks of the first Dask array of ``row_inputs``
    (one chunk when only shared inputs are Dask arrays)."""
    _check_lead(lead, name, what)
    if not is_dask(lead):
        src = _row_chunks_from([a for a in row_inputs if np.ndim(a) >= 2])
        rows = src.chunks[0] if src is not None else -1
        lead = require_dask().from_array(np.asarray(lead, dtype=float), chunks=(rows, -1))
    return Partition(lead, name)


def curve_fit_batch(solve, f, xdata, ydata, p0, sigma, bounds, method, kw):
    """:func:`lsqcore.curve_fit_batch` on Dask inputs (``solve`` is the
    in-memory front end; ``kw`` its other keyword arguments)."""
    threads, progress = _lazy_options(kw)
    part = _partition(ydata, "ydata", "m", [xdata, sigma, p0] + _bounds_list(bounds))
    K, m = ydata.shape
    x_rows = np.ndim(xdata) == 2 or (np.ndim(xdata) == 3 and np.shape(xdata)[0] == K != 1)
    tx = _register(part, xdata, "xdata" if x_rows else None)
    ts = _register(part, sigma, "sigma" if np.ndim(sigma) == 2 else None)
    tp = _register(part, p0, "p0" if np.ndim(p0) == 2 else None)
    tb = _bounds_template(part, bounds, K)
    if method is None and any(isinstance(b, (_Row, _Shared)) for b in tb):
        method = "trf"      # Dask bounds count as bounds (scipy's rule needs their values)
    template = ((f, tx, part._lead), dict(p0=tp, sigma=ts, bounds=tb, method=method, **kw))
    if p0 is None:
        from ._api import _n_params
        n = _n_params(f, kw.get("inplace", False))
    else:
        n = int(np.shape(p0)[-1])
    return lazy_batch(solve, part, template, n, pcov=kw.get("return_pcov", False),
                      stderr=kw.get("return_stderr", False), threads=threads,
                      progress=progress, label="curve_fit_batch",
                      probe=lambda: _probe_model(f, xdata, p0, m, kw.get("inplace", False)))


def _bounds_list(bounds):
    try:
        from .._validate import bounds_pair
        return list(bounds_pair(bounds))
    except (TypeError, ValueError):
        return []


def _probe_model(f, xdata, p0, m, inplace):
    """Call the model once on the first row when its inputs are in memory:
    its output must have one value per point of a row of ``ydata``."""
    if inplace or is_dask(xdata) or is_dask(p0) or p0 is None:
        return
    x = np.asarray(xdata, dtype=float)
    x = x[0] if x.ndim >= 2 else x          # (a row, or the (k, m) predictors)
    p = np.asarray(p0, dtype=float)
    p = p[0] if p.ndim == 2 else p
    with np.errstate(all="ignore"):
        v = f(x, *[float(q) for q in p])
    if np.shape(v) != (m,):
        raise ValueError(f"`f` returned shape {np.shape(v)} on the first row; expected "
                         f"({m},), one value per point of a row of `ydata`.")


def least_squares_batch(solve, fun, x0, bounds, args, per_row, kw):
    """:func:`lsqcore.least_squares_batch` on Dask inputs (``x0``, per-row
    ``args`` or bounds); ``solve`` is the in-memory front end."""
    threads, progress = _lazy_options(kw)
    _check_lead(x0, "x0", "n")
    K, n = x0.shape
    if not isinstance(args, tuple):
        raise ValueError(f"`args` must be a tuple, got {type(args).__name__}.")
    if per_row is None:
        per_row = tuple((is_dask(a) or isinstance(a, np.ndarray)) and np.ndim(a) >= 1
                        and a.shape[0] == K for a in args)
    elif len(per_row) != len(args):
        raise ValueError(f"`per_row` must have one flag per element of `args` "
                         f"({len(args)}), got {len(per_row)}.")
    per_row = tuple(bool(p) for p in per_row)
    part = _partition(x0, "x0", "n", [a for a, p in zip(args, per_row) if p]
                      + _bounds_list(bounds))
    targs = tuple(_register(part, a, f"args[{i}]" if p else None)
                  for i, (a, p) in enumerate(zip(args, per_row)))
    tb = _bounds_template(part, bounds, K)
    template = ((fun, part._lead), dict(bounds=tb, args=targs, per_row=per_row, **kw))
    return lazy_batch(solve, part, template, n, pcov=kw.get("return_pcov", False),
                      stderr=kw.get("return_stderr", False), threads=threads,
                      progress=progress, label="least_squares_batch")
