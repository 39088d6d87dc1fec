"""Small compiled adapters generated per call pattern (``exec`` + ``@njit``).

Numba cannot star-unpack an array into scalar arguments, nor index a
heterogeneous tuple with a runtime flag, so the few functions whose shape
depends on the user's call pattern are written as source text for that
pattern and compiled:

* :func:`row_args` -- the per-row argument tuple of ``least_squares_batch``:
  for every extra argument, a flag says whether it is passed whole (shared),
  as row ``k`` (per fit), as the first ``m_k`` points of row ``k`` (per fit,
  after NaN compaction) or as this thread's scratch row.
* :func:`model_residual` -- the residual of ``curve_fit_batch`` for a model
  ``f(x, p0, ..., p_{n-1})`` with scalar parameters (scipy's convention):
  ``(f(x, *p) - y) * w`` with ``w = 1 / sigma``, the same arithmetic as
  :func:`scipy.optimize.curve_fit`; optionally its Jacobian wrapper
  ``w[:, None] * jac(x, *p)``.

The user's jitted model is bound as a *global* of the generated function,
not passed in the argument tuple: a dispatcher inside a tuple becomes a
Numba first-class function (an indirect, non-inlinable call that also
raises ``NumbaExperimentalFeatureWarning``), whereas a global dispatcher is
a direct call that LLVM can inline into the solver's driver loop.

Generated functions have no source file, so they cannot use Numba's disk
cache; they are a few lines each (tens of milliseconds to compile) and
memoised per process.
"""
import numpy as np
from numba import njit

# flags of row_args
WHOLE, ROW, ROW_TRUNC, SCRATCH, BCAST_TRUNC = 0, 1, 2, 3, 4

_ROWS_CACHE = {}
_MODEL_CACHE = {}
_MODEL_CACHE_MAX = 64


def _compile(src, name, glb):
    ns = dict(glb)
    ns["np"] = np
    exec(compile(src, f"<lsqcore.batch generated {name}>", "exec"), ns)
    return njit(error_model="numpy")(ns[name])


def row_args(flags):
    """Compiled ``rows(args, k, tid, mk) -> tuple`` for the given flags.

    ``flags[i]`` is one of ``WHOLE`` (``args[i]``), ``ROW`` (``args[i][k]``),
    ``ROW_TRUNC`` (``args[i][k, :mk]``), ``SCRATCH`` (``args[i][tid, :mk]``)
    or ``BCAST_TRUNC`` (like ``ROW_TRUNC``, but an array with one row is
    shared by every problem: one compiled variant serves both cases).
    """
    flags = tuple(int(f) for f in flags)
    fn = _ROWS_CACHE.get(flags)
    if fn is None:
        parts = []
        for i, f in enumerate(flags):
            parts.append({WHOLE: f"args[{i}]", ROW: f"args[{i}][k]",
                          ROW_TRUNC: f"args[{i}][k, :mk]",
                          SCRATCH: f"args[{i}][tid, :mk]",
                          BCAST_TRUNC: f"args[{i}][k if args[{i}].shape[0] != 1 else 0, :mk]",
                          }[f])
        body = "(" + "".join(p + ", " for p in parts) + ")"
        src = f"def _rows(args, k, tid, mk):\n    return {body}\n"
        fn = _ROWS_CACHE[flags] = _compile(src, "_rows", {})
    return fn


def _params(n):
    return ", ".join(f"p[{j}]" for j in range(n))


def model_residual(model, n, jac=None, inplace=False):
    """Compiled residual (and Jacobian) wrappers of a ``curve_fit`` model.

    Parameters
    ----------
    model : numba dispatcher
        ``model(x, p0, ..., p_{n-1}) -> (m,) array``, or with
        ``inplace=True`` ``model(x, p0, ..., p_{n-1}, out)`` writing the
        model values into ``out`` (length ``m``) and returning nothing.
    n : int
        Number of parameters.
    jac : numba dispatcher, optional
        ``jac(x, p0, ..., p_{n-1}) -> (m, n) array`` (``inplace``:
        ``jac(x, p0, ..., out)`` filling ``out`` of shape (m, n)).

    Returns
    -------
    residual, jacobian : dispatchers
        ``residual(p, x, y, w)`` and ``jacobian(p, x, y, w)``; with
        ``inplace`` both take the thread's buffers ``(p, x, y, w, buf[, jbuf])``
        (None without ``jac``).  A residual or Jacobian of the wrong length
        returns an array of the wrong length so that the driver reports
        it (it never reads past the model's output).
    """
    key = (model, jac, int(n), bool(inplace))
    hit = _MODEL_CACHE.get(key)
    if hit is not None:
        return hit
    P = _params(n)
    # the in-place model gets real parameters (``.real`` is the identity on
    # float64): a complex-step driver would type it with complex ones, and
    # jac='cs' is refused with inplace
    PR = ", ".join(f"p[{j}].real" for j in range(n))
    glb = {"model": model, "jacf": jac}
    if inplace:
        # fun and jac receive the same argument tuple: (x, y, w, buf[, jbuf])
        sig = "p, x, y, w, buf, jbuf" if jac is not None else "p, x, y, w, buf"
        res_src = (
            f"def _residual({sig}):\n"
            f"    model(x, {PR}, buf)\n"
            "    for i in range(y.shape[0]):\n"
            "        buf[i] = (buf[i] - y[i]) * w[i]\n"
            "    return buf\n")
        jac_src = (
            f"def _jacobian({sig}):\n"
            f"    jacf(x, {PR}, jbuf)\n"
            "    for i in range(y.shape[0]):\n"
            f"        for j in range({n}):\n"
            "            jbuf[i, j] = w[i] * jbuf[i, j]\n"
            "    return jbuf\n")
    else:
        res_src = (
            "def _residual(p, x, y, w):\n"
            f"    r = model(x, {P})\n"
            "    m = y.shape[0]\n"
            "    if r.shape[0] != m:\n"
            "        return np.empty_like(r)\n"
            "    out = np.empty_like(r)\n"
            "    for i in range(m):\n"
            "        out[i] = (r[i] - y[i]) * w[i]\n"
            "    return out\n")
        jac_src = (
            "def _jacobian(p, x, y, w):\n"
            f"    Jm = jacf(x, {P})\n"
            "    m = y.shape[0]\n"
            f"    if Jm.shape[0] != m or Jm.shape[1] != {n}:\n"
            "        return np.empty((Jm.shape[0], Jm.shape[1]))\n"
            f"    out = np.empty((m, {n}))\n"
            "    for i in range(m):\n"
            f"        for j in range({n}):\n"
            "            out[i, j] = w[i] * Jm[i, j]\n"
            "    return out\n")
    residual = _compile(res_src, "_residual", glb)
    jacobian = _compile(jac_src, "_jacobian", glb) if jac is not None else None
    if len(_MODEL_CACHE) >= _MODEL_CACHE_MAX:
        _MODEL_CACHE.pop(next(iter(_MODEL_CACHE)))
    _MODEL_CACHE[key] = (residual, jacobian)
    return residual, jacobian


# ---------------------------------------------------------------- in-place forms

_INPLACE_CACHE = {}


def _memo(cache, key, build):
    hit = cache.get(key)
    if hit is None:
        hit = build()
        if len(cache) >= _MODEL_CACHE_MAX:
            cache.pop(next(iter(cache)))
        cache[key] = hit
    return hit


def inplace_residual(fun, nargs, jac=None, jac_inplace=False):
    """CPU adapters of an in-place residual ``fun(x, out, *args)``.

    The CPU batch driver calls ``fun(x, *args) -> array``; this wraps the
    in-place form (:class:`lsqcore.InPlace`) as ``residual(x, a_0, ...,
    a_{nargs-1}, buf[, jbuf]) -> buf``, where ``buf`` (and ``jbuf``, shape
    (m, n), for an in-place ``jac``) are the thread's scratch rows appended
    to the argument tuple by the front end: nothing is allocated per
    evaluation, and the values are the ones ``fun`` writes (the same
    arithmetic as the single solver's in-place path).

    Parameters
    ----------
    fun : numba dispatcher
        ``fun(x, out, *args)`` writing ``m`` residuals into ``out``.
    nargs : int
        Number of the user's extra arguments.
    jac : numba dispatcher, optional
        ``jac(x, out, *args)`` filling ``out`` (m, n) when ``jac_inplace``,
        else ``jac(x, *args) -> (m, n)``.

    Returns
    -------
    residual, jacobian : dispatchers
        ``jacobian`` is None without ``jac``; both take the same argument
        tuple.
    """
    def build():
        a = "".join(f"a{i}, " for i in range(nargs))
        sig = f"p, {a}buf, jbuf" if jac_inplace else f"p, {a}buf"
        glb = {"FUN": fun, "JACF": jac}
        res = _compile(f"def _residual({sig}):\n"
                       f"    FUN(p, buf, {a})\n"
                       "    return buf\n", "_residual", glb)
        jw = None
        if jac is not None and jac_inplace:
            jw = _compile(f"def _jacobian({sig}):\n"
                          f"    JACF(p, jbuf, {a})\n"
                          "    return jbuf\n", "_jacobian", glb)
        elif jac is not None:
            jw = _compile(f"def _jacobian({sig}):\n"
                          f"    return JACF(p, {a})\n", "_jacobian", glb)
        return res, jw
    return _memo(_INPLACE_CACHE, ("ls", fun, int(nargs), jac, bool(jac_inplace)), build)


def curve_fit_inplace(model, n, jac=None, elementwise=False):
    """curve_fit's residual in the in-place form, for the CPU and the GPU.

    ``residual(p, out, x, y, w)`` writes ``(f(x, *p) - y) * w`` into ``out``
    and ``jacobian(p, J, x, y, w)`` writes ``w[:, None] * jac(x, *p)`` into
    ``J`` (m, n): the in-place residual of :class:`lsqcore.InPlace`, which
    :func:`lsqcore.least_squares_batch` runs on either device.  The number
    of points is ``out.shape[0]`` (``x``, ``y``, ``w`` may be longer: a GPU
    row after ``nan_policy='omit'`` keeps its full length, its first ``m_k``
    points being the finite ones).

    Parameters
    ----------
    model : numba dispatcher
        ``model(x, p0, ..., p_{n-1}, out)`` writing ``m`` values into
        ``out``, or with ``elementwise=True`` a scalar model
        ``model(x_i, p0, ..., p_{n-1}) -> float`` evaluated point by point
        (the ordinary ``f(x, *p)`` of a model that works elementwise).
    n : int
        Number of parameters.
    jac : numba dispatcher, optional
        ``jac(x, p0, ..., p_{n-1}, out)`` filling ``out`` (m, n).
    """
    def build():
        # real parameters: ``.real`` is the identity on float64 / float32 and
        # keeps a complex-typed branch of a driver from reaching the model
        PR = ", ".join(f"p[{j}].real" for j in range(n))
        glb = {"model": model, "jacf": jac}
        if elementwise:
            src = ("def _cf_residual(p, out, x, y, w):\n"
                   "    for i in range(out.shape[0]):\n"
                   f"        out[i] = (model(x[i], {PR}) - y[i]) * w[i]\n")
        else:
            src = ("def _cf_residual(p, out, x, y, w):\n"
                   "    m = out.shape[0]\n"
                   f"    model(x[:m], {PR}, out)\n"
                   "    for i in range(m):\n"
                   "        out[i] = (out[i] - y[i]) * w[i]\n")
        res = _compile(src, "_cf_residual", glb)
        jw = None
        if jac is not None:
            jw = _compile("def _cf_jacobian(p, J, x, y, w):\n"
                          "    m = J.shape[0]\n"
                          f"    jacf(x[:m], {PR}, J)\n"
                          "    for i in range(m):\n"
                          f"        for j in range({n}):\n"
                          "            J[i, j] = w[i] * J[i, j]\n", "_cf_jacobian", glb)
        return res, jw
    return _memo(_INPLACE_CACHE, ("cf", model, int(n), jac, bool(elementwise)), build)
