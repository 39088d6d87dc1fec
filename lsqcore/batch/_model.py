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
  ``f(x, p0, ..., p_{n-1}) -> array`` with scalar parameters (scipy's
  convention): ``(f(x, *p) - y) * w`` with ``w = 1 / sigma``, the same
  arithmetic as :func:`scipy.optimize.curve_fit`; optionally its Jacobian
  wrapper ``w[:, None] * jac(x, *p)``.  These are single ``curve_fit``'s own
  wrappers (:func:`lsqcore._curve_fit._compiled_wrapper`);
* :func:`curve_fit_inplace` -- the same residual in the in-place form
  ``r(p, out, x, y, w)`` (an in-place or an elementwise model), which the
  CPU batch (``inplace=True``) and the GPU run;
* :func:`inplace_residual` -- the CPU adapters of an in-place residual
  (``lsqcore.InPlace``) to the batch driver's calling convention.

The user's jitted model is bound as a *global* of the generated function,
not passed in the argument tuple: a dispatcher inside a tuple becomes a
Numba first-class function (an indirect, non-inlinable call that also
raises ``NumbaExperimentalFeatureWarning``), whereas a global dispatcher is
a direct call that LLVM can inline into the solver's driver loop.

Generated source is written to a file named by its digest
(:func:`lsqcore._wrapcache.cached_njit`), so that Numba's disk cache
serves it in later processes whenever the user's functions can be
identified across processes; otherwise it is compiled once per process
(tens of milliseconds).  Either way it is memoised per process.
"""
import numpy as np

from .._memo import Memo
from .._wrapcache import cached_njit

# flags of row_args
WHOLE, ROW, ROW_TRUNC, SCRATCH, BCAST_TRUNC = 0, 1, 2, 3, 4

_ROWS_CACHE = Memo(64)


def _compile(src, name, glb):
    ns = {k: v for k, v in glb.items() if v is not None}
    ns["np"] = np
    return cached_njit(src, (name,), ns)[0]


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
        fn = _ROWS_CACHE.put(flags, _compile(src, "_rows", {}))
    return fn


def model_residual(model, n, jac=None, cs=False, xt=False, poisson=False):
    """Compiled residual (and Jacobian) wrappers of a ``curve_fit`` model.

    The same generated wrappers as :func:`lsqcore.curve_fit` (one generator,
    :func:`lsqcore._curve_fit._compiled_wrapper`): ``residual(p, x, y, T)``
    is ``T[:, 0] * (model(x, *p) - y)`` and ``jacobian(p, x, y, T)`` is
    ``T[:, :1] * jac(x, *p)``, with the weights ``T = 1 / sigma`` as an
    ``(m, 1)`` column -- so a batch row is, by construction, the problem the
    single ``curve_fit`` solves.  A model or Jacobian of the wrong length
    gives an empty array (the driver then reports the shape; nothing is
    read past the row's data).

    Parameters
    ----------
    model : numba dispatcher
        ``model(x, p0, ..., p_{n-1}) -> (m,) array``.
    n : int
        Number of parameters.
    jac : numba dispatcher, optional
        ``jac(x, p0, ..., p_{n-1}) -> (m, n) array``.
    cs : bool, optional
        True when the Jacobian is ``'cs'`` (the residual then propagates
        complex parameters into ``model``).
    xt : bool, optional
        ``x`` is a row of several predictors stored point-major, ``(m, k)``
        (so that a row's first ``m_k`` points are its first ``m_k`` rows);
        ``model`` receives scipy's ``(k, m)``, the transpose.
    poisson : bool, optional
        ``estimator='poisson'``: deviance residuals (:mod:`lsqcore._poisson`).

    Returns
    -------
    residual, jacobian : dispatchers
        ``jacobian`` is None without ``jac``.
    """
    from .._curve_fit import _compiled_wrapper
    return (_compiled_wrapper("resid", model, int(n), cs=bool(cs), xt=bool(xt),
                              poisson=bool(poisson)),
            None if jac is None else _compiled_wrapper("jacw", jac, int(n), xt=bool(xt),
                                                       poisson=bool(poisson), model=model))


# ---------------------------------------------------------------- in-place forms

_INPLACE_CACHE = Memo(64)


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
    return _INPLACE_CACHE.build(("ls", fun, int(nargs), jac, bool(jac_inplace)), build)


def curve_fit_inplace(model, n, jac=None, elementwise=False, xt=False, fused=None):
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
    xt : bool, optional
        ``x`` is a row of several predictors stored point-major, ``(m, k)``;
        the model receives its first ``m`` points transposed, scipy's
        ``(k, m)`` (CPU only).
    fused : numba dispatcher, optional
        ``fused(x, p0, ..., p_{n-1}, out, J)``, the model's values and
        Jacobian from one pass (a library model's ``fj_inplace``; CPU
        only).  The pair then takes one more argument, the thread's scratch
        ``jc`` (m, n + 1): ``residual`` evaluates both at every point it is
        called at and keeps ``J`` in ``jc[:, :n]``, with the point, ``m`` and
        the address of the row's ``y`` down ``jc[:, n]`` (rows of fewer than
        ``n + 2`` points keep nothing); ``jacobian`` at the same point of the
        same row (the kernel asks for ``J`` where it accepted the last trial,
        so always, but it checks) only weights the kept ``J``.  The values are the same bits as the separate forms'
        (one ``point`` function, the same operations); a model evaluation
        per iteration is saved, and the ``J`` of a rejected trial is wasted.
    """
    if fused is not None:
        return _INPLACE_CACHE.build(("cf-fused", model, int(n), jac, fused, bool(xt)),
                                    lambda: _fused_pair(n, jac, fused, xt))

    def build():
        # plain p[j] (no ``.real``: this source is also compiled for the GPU);
        # no driver types it with complex parameters (jac='cs' is refused for
        # in-place residuals, and the CPU driver's complex-step branch is
        # compiled only for jac='cs')
        PR = ", ".join(f"p[{j}]" for j in range(n))
        T = ".T" if xt else ""
        glb = {"model": model, "jacf": jac}
        if elementwise:
            src = ("def _cf_residual(p, out, x, y, w):\n"
                   "    for i in range(out.shape[0]):\n"
                   f"        out[i] = (model(x[i], {PR}) - y[i]) * w[i]\n")
        else:
            src = ("def _cf_residual(p, out, x, y, w):\n"
                   "    m = out.shape[0]\n"
                   f"    model(x[:m]{T}, {PR}, out)\n"
                   "    for i in range(m):\n"
                   "        out[i] = (out[i] - y[i]) * w[i]\n")
        res = _compile(src, "_cf_residual", glb)
        jw = None
        if jac is not None:
            jw = _compile("def _cf_jacobian(p, J, x, y, w):\n"
                          "    m = J.shape[0]\n"
                          f"    jacf(x[:m]{T}, {PR}, J)\n"
                          "    for i in range(m):\n"
                          f"        for j in range({n}):\n"
                          "            J[i, j] = w[i] * J[i, j]\n", "_cf_jacobian", glb)
        return res, jw
    return _INPLACE_CACHE.build(("cf", model, int(n), jac, bool(elementwise), bool(xt)), build)


def _fused_pair(n, jac, fused, xt):
    """The memoising residual/Jacobian pair of :func:`curve_fit_inplace`: the
    thread's scratch ``jc`` (m, n + 1) keeps ``J`` in its first ``n`` columns
    and the point, ``m`` and the address of ``y`` down its last column (rows
    with fewer than ``n + 2`` points are evaluated separately)."""
    PR = ", ".join(f"p[{j}]" for j in range(n))
    T = ".T" if xt else ""
    glb = {"fused": fused, "jacf": jac}
    res = _compile("def _cf_residual(p, out, x, y, w, jc):\n"
                   "    m = out.shape[0]\n"
                   f"    fused(x[:m]{T}, {PR}, out, jc[:m, :{n}])\n"
                   "    for i in range(m):\n"
                   "        out[i] = (out[i] - y[i]) * w[i]\n"
                   f"    if m >= {n + 2}:\n"
                   f"        for j in range({n}):\n"
                   f"            jc[j, {n}] = p[j]\n"
                   f"        jc[{n}, {n}] = m\n"
                   f"        jc[{n + 1}, {n}] = y.ctypes.data\n", "_cf_residual", glb)
    jw = _compile("def _cf_jacobian(p, J, x, y, w, jc):\n"
                  "    m = J.shape[0]\n"
                  f"    kept = m >= {n + 2} and jc[{n}, {n}] == m and "
                  f"jc[{n + 1}, {n}] == y.ctypes.data\n"
                  f"    for j in range({n}):\n"
                  f"        kept = kept and jc[j, {n}] == p[j]\n"
                  "    if not kept:\n"
                  f"        jacf(x[:m]{T}, {PR}, J)\n"
                  "        for i in range(m):\n"
                  f"            for j in range({n}):\n"
                  "                J[i, j] = w[i] * J[i, j]\n"
                  "    else:\n"
                  "        for i in range(m):\n"
                  f"            for j in range({n}):\n"
                  "                J[i, j] = w[i] * jc[i, j]\n", "_cf_jacobian", glb)
    return res, jw
