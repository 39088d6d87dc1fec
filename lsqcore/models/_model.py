"""A model of the library: one compiled point function, every calling form.

Each model is written once, as a *point function*

    point(x_i, p) -> (f_i, (df_i/dp_0, ..., df_i/dp_{n-1}))

of one data point ``x_i`` (a float, or a tuple ``(u_i, v_i)`` for a model of
two predictors) and the parameter tuple ``p``: the value and its exact
gradient, computed together so that they share their sub-expressions (one
``exp`` gives a Gaussian's value and its three derivatives).  Everything a
solver calls is generated from it (:func:`_build`) as small ``@njit`` loops
over the points:

* ``f(x, p_0, ..., p_{n-1}) -> (m,)`` and ``jac(x, p_0, ...) -> (m, n)``,
  scipy's ``curve_fit`` convention, whose signature carries the parameter
  names (``curve_fit`` and :func:`lsqcore.fit_report` read them there);
* ``f_inplace(x, p_0, ..., out)`` and ``jac_inplace(x, p_0, ..., out)``,
  the allocation-free forms of the CPU batch and the GPU (where ``point``
  is compiled again as a CUDA device function), and ``fj_inplace(x, p_0,
  ..., out, J)``, both from one call of ``point`` per point (the CPU batch
  evaluates each trial point with it and keeps ``J`` for the step's
  acceptance: :func:`lsqcore.batch._model.curve_fit_inplace`);
* ``residual(p, x, y)`` and ``residual_jac(p, x, y)`` for
  :func:`lsqcore.least_squares` (``f - y`` and its Jacobian).

In ``f`` alone the derivatives are dead code and LLVM removes them; in
``jac`` the value is.  The value and the Jacobian are two calls of the
model per iteration, against ``n + 1`` with forward differences.

A sum of models (``gaussian + gaussian + linear``) is a model whose point
function adds the components' values and concatenates their gradients
(generated source, :func:`_sum_point`): its Jacobian is exact too, and no
user writes Numba code for it.  Its guess peels the data with the
components' own guesses (:func:`_sum_guess`).  Generated source is written to a file
named by its digest (:func:`lsqcore._wrapcache.cached_njit`), so that
Numba's disk cache serves it, and the wrappers built on it, in later
processes.
"""
import itertools
import keyword

import numpy as np

from .._memo import Memo
from .._wrapcache import cached_njit
from ._guess import edge_baseline, sum_of_squares

_RESERVED = {"np", "POINT"}
_BUILT = Memo(256)


def _compile(src, names, glb):
    """Compile the functions ``names`` of ``src``: from a generated source file,
    so that Numba's disk cache serves them in later processes
    (:func:`lsqcore._wrapcache.cached_njit`), whenever the dispatchers in
    ``glb`` can be identified across processes."""
    return cached_njit(src, names, dict(glb, np=np))


def _source(n, names, predictors):
    """The source of the seven calling forms of a point function ``POINT``."""
    P = ", ".join(names)
    T = f"({P},)"
    xi = "_x[_i]" if predictors == 1 else ", ".join(f"_x[{j}, _i]" for j in range(predictors))
    xi = xi if predictors == 1 else f"({xi})"
    T_idx = "(" + "".join(f"_p[{j}], " for j in range(n)) + ")"
    fill = "".join(f"        _J[_i, {j}] = _g[{j}]\n" for j in range(n))
    return (
        f"def f(_x, {P}):\n"
        "    _out = np.empty(_x.shape[-1])\n"
        "    for _i in range(_out.shape[0]):\n"
        f"        _out[_i] = POINT({xi}, {T})[0]\n"
        "    return _out\n"
        f"def f_inplace(_x, {P}, _out):\n"
        "    for _i in range(_out.shape[0]):\n"
        f"        _out[_i] = POINT({xi}, {T})[0]\n"
        f"def jac(_x, {P}):\n"
        f"    _J = np.empty((_x.shape[-1], {n}))\n"
        "    for _i in range(_J.shape[0]):\n"
        f"        _g = POINT({xi}, {T})[1]\n"
        f"{fill}"
        "    return _J\n"
        f"def jac_inplace(_x, {P}, _J):\n"
        "    for _i in range(_J.shape[0]):\n"
        f"        _g = POINT({xi}, {T})[1]\n"
        f"{fill}"
        f"def fj_inplace(_x, {P}, _out, _J):\n"
        "    for _i in range(_out.shape[0]):\n"
        f"        _v, _g = POINT({xi}, {T})\n"
        "        _out[_i] = _v\n"
        f"{fill}"
        "def residual(_p, _x, _y):\n"
        "    _out = np.empty(_y.shape[0])\n"
        "    for _i in range(_out.shape[0]):\n"
        f"        _out[_i] = POINT({xi}, {T_idx})[0] - _y[_i]\n"
        "    return _out\n"
        "def residual_jac(_p, _x, _y):\n"
        f"    _J = np.empty((_y.shape[0], {n}))\n"
        "    for _i in range(_J.shape[0]):\n"
        f"        _g = POINT({xi}, {T_idx})[1]\n"
        f"{fill}"
        "    return _J\n")


_FORMS = ("f", "f_inplace", "jac", "jac_inplace", "fj_inplace", "residual", "residual_jac")


def _build(point, names, predictors):
    """The compiled calling forms of ``point`` (memoised per process)."""
    key = (point, names, predictors)
    return _BUILT.build(key, lambda: dict(zip(_FORMS, _compile(
        _source(len(names), names, predictors), _FORMS, {"POINT": point}))))


def _sum_point(components):
    """The point function of a sum of models: values added, gradients joined."""
    lines, glb, off = [], {}, 0
    for c, model in enumerate(components):
        glb[f"P{c}"] = model.point
        args = "".join(f"_p[{off + j}], " for j in range(model.n))
        lines.append(f"    _v{c}, _g{c} = P{c}(_x, ({args}))\n")
        off += model.n
    src = ("def point(_x, _p):\n" + "".join(lines)
           + "    return " + " + ".join(f"_v{c}" for c in range(len(components)))
           + ", " + " + ".join(f"_g{c}" for c in range(len(components))) + "\n")
    return _compile(src, ("point",), glb)[0]


#: components that are a background under the others (:func:`_sum_guess`)
BACKGROUNDS = ("constant", "linear")
#: components that are peaks: zero at both ends of a range that holds them
PEAKS = ("gaussian", "lorentzian", "pseudo_voigt", "voigt")


def _is_background(model):
    return model.name in BACKGROUNDS or model.name.startswith("polynomial")


#: at most this many orders of the components are tried by :func:`_sum_guess`
MAX_ORDERS = 24


def _peeling_orders(components, front):
    """The orders in which :func:`_sum_guess` peels the components ``front``:
    one for each distinct sequence of their models (components of the same
    model are interchangeable), the given order first, at most
    :data:`MAX_ORDERS`."""
    seen, out = set(), []
    for order in itertools.permutations(front):
        key = tuple(components[c].name for c in order)
        if key not in seen:
            seen.add(key)
            out.append(list(order))
            if len(out) == MAX_ORDERS:
                break
    return out


def _sum_guess(components):
    """The guess of a sum of models by peeling: each component guesses from the
    data minus the components before it, evaluated at their guesses (a
    component whose guess is not finite counts as zero).  Put the most
    prominent component first.

    A background (``constant``, ``linear``, a polynomial) is peeled last.
    When the other components are all peaks (:data:`PEAKS`), they first peel
    from the data minus a baseline: the line through the points at the two
    ends of the x-range (:func:`lsqcore.models._guess.edge_baseline`), since
    a peak's own guess takes the highest point of what it sees, which on a
    sloped background can be the high end of the range.  The background then
    guesses from the data minus the peaks.

    Components of different models (a Gaussian and a Lorentzian) are peeled
    in every distinct order (:func:`_peeling_orders`), since the first takes
    the highest peak whatever its shape; the guess is the order whose final
    residual has the least sum of squares.

    Measured on 10 000 curves each (docs/models.md), the fits from this
    guess reach the optimum for 99.96 % of two Gaussians on a linear
    background (96.1 % before the baseline and the local peak widths of
    :func:`lsqcore.models._guess.peak`; 26.1 % from ``p0 = 1``) and 99.0 %
    of a Gaussian, a Lorentzian and a constant (51.5 % with one order;
    19.5 % from ``p0 = 1``).  Repeating the passes with each component
    seeing the data without all the others (backfitting) did not do better
    (93-96 % on 2 000 curves, before the baseline)."""
    glb, off, slots = {"EDGE": edge_baseline, "SS": sum_of_squares}, 0, []
    for c, model in enumerate(components):
        glb[f"G{c}"], glb[f"F{c}"] = model._guess, model.f
        slots.append(off)
        off += model.n
    back = [c for c, model in enumerate(components) if _is_background(model)]
    front = [c for c in range(len(components)) if c not in back]
    baseline = bool(back and front) and all(components[c].name in PEAKS for c in front)
    lines = ["def guess(_x, _y):", f"    _best = np.zeros({off})", "    _least = np.inf"]
    if baseline:
        lines.append("    _base = EDGE(_x, _y)")
    for order in _peeling_orders(components, front):
        lines += [f"    _p = np.zeros({off})",
                  "    _r = _y - _base" if baseline else "    _r = _y.copy()"]
        for k, c in enumerate(order + back):
            if baseline and k == len(order):
                lines.append("    _r = _r + _base")
            n, o = components[c].n, slots[c]
            args = "".join(f"_g[{j}], " for j in range(n))
            lines += [f"    _g = G{c}(_x, _r)",
                      "    if np.all(np.isfinite(_g)):",
                      f"        _p[{o}:{o + n}] = _g",
                      f"        _r = _r - F{c}(_x, {args})"]
        lines += ["    _s = SS(_r)",
                  "    if _s < _least or not np.isfinite(_least):",
                  "        _least = _s",
                  "        _best[:] = _p"]
    src = "\n".join(lines + ["    return _best", ""])
    return _compile(src, ("guess",), glb)[0]


class Model:
    """A compiled model with its exact Jacobian, names, bounds and guess.

    Parameters
    ----------
    name : str
        Short name (``'gaussian'``).
    param_names : sequence of str
        Parameter names, in order (Python identifiers).
    point : numba dispatcher
        ``point(x_i, p) -> (value, gradient tuple)`` (module docstring).
    guess : numba dispatcher, optional
        ``guess(x, y) -> (n,) array``: a starting point from one curve,
        using its finite points only.
    bounds : (lb, ub), optional
        Default bounds, arrays of length n (default unbounded).
    predictors : int, optional
        1 (``x`` of shape (m,)) or 2 (``x`` of shape (2, m)).
    formula : str, optional
        The formula, for reports and documentation.

    Attributes
    ----------
    f, jac, f_inplace, jac_inplace, fj_inplace, residual, residual_jac : dispatchers
        The generated calling forms (module docstring).
    n : int
        Number of parameters.
    """

    def __init__(self, name, param_names, point, *, guess=None, bounds=None, predictors=1,
                 formula="", components=None):
        names = tuple(param_names)
        for s in names:
            if not s.isidentifier() or keyword.iskeyword(s) or s.startswith("_") \
                    or s in _RESERVED:
                raise ValueError(f"`param_names`: {s!r} is not usable as a parameter name "
                                 "(a Python identifier not starting with '_').")
        if len(set(names)) != len(names):
            raise ValueError(f"`param_names` must be distinct, got {names}.")
        if predictors not in (1, 2):
            raise ValueError(f"`predictors` must be 1 or 2, got {predictors!r}.")
        self.name, self.param_names, self.n = name, names, len(names)
        self.point, self._guess, self.predictors = point, guess, predictors
        self.formula = formula
        self.components = components if components is not None else (self,)
        if bounds is None:
            bounds = (np.full(self.n, -np.inf), np.full(self.n, np.inf))
        self.bounds = tuple(np.array(b, dtype=float).reshape(self.n) for b in bounds)

    def __repr__(self):
        return f"<lsqcore.models.Model {self.name}({', '.join(self.param_names)})>"

    def _form(self, name):
        return _build(self.point, self.param_names, self.predictors)[name]

    f = property(lambda self: self._form("f"))
    jac = property(lambda self: self._form("jac"))
    f_inplace = property(lambda self: self._form("f_inplace"))
    jac_inplace = property(lambda self: self._form("jac_inplace"))
    fj_inplace = property(lambda self: self._form("fj_inplace"))
    residual = property(lambda self: self._form("residual"))
    residual_jac = property(lambda self: self._form("residual_jac"))

    def __call__(self, x, *p):
        """The model's values ``f(x, *p)`` (x of shape (m,) or (2, m))."""
        if len(p) != self.n:
            raise TypeError(f"{self.name} takes {self.n} parameters "
                            f"({', '.join(self.param_names)}), got {len(p)}.")
        return self.f(np.asarray(x, dtype=float), *(float(v) for v in p))

    @property
    def has_guess(self):
        return self._guess is not None

    def guess(self, x, y):
        """A starting point from the data ``(x, y)`` (its finite points).

        Raises
        ------
        ValueError
            For a model without a guess (one of your own defined without one,
            or a sum with such a component): give ``p0``.
        """
        self._require_guess()
        x = np.ascontiguousarray(x, dtype=float)
        y = np.ascontiguousarray(y, dtype=float)
        return np.asarray(self._guess(x, y), dtype=float)

    def _require_guess(self):
        if self._guess is None:
            raise ValueError(f"The model {self.name} has no guess from the data (a model "
                             "defined without `guess`, or a sum with such a component); "
                             "give `p0`.")

    def __reduce__(self):
        """Pickled as its recipe, not its compiled forms.  The calling forms
        (and a sum's point function and guess) are generated in modules made
        by this process (:mod:`lsqcore._wrapcache`), which another process, a
        Dask worker, does not have: there the model is built again from its
        point function and guess (a sum from its components), and the forms
        come from the wrapper cache on disk where the file system is shared."""
        if len(self.components) > 1:
            return _sum_of, (self.components,)
        return _model_from, (self.name, self.param_names, self.point, self._guess,
                             self.bounds, self.predictors, self.formula)

    def prefixed(self, prefix):
        """The same model with every parameter name prefixed (``'g1_'``)."""
        return Model(self.name, [prefix + s for s in self.param_names], self.point,
                     guess=self._guess, bounds=self.bounds, predictors=self.predictors,
                     formula=self.formula, components=None)

    def __add__(self, other):
        if not isinstance(other, Model):
            return NotImplemented
        if other.predictors != self.predictors:
            raise ValueError(f"Cannot add a model of {self.predictors} predictor(s) and one "
                             f"of {other.predictors}.")
        parts = self.components + other.components
        names = [s for c in parts for s in c.param_names]
        if len(set(names)) != len(names):
            parts = tuple(c.prefixed(f"{c.name}{i + 1}_") for i, c in enumerate(parts))
            names = [s for c in parts for s in c.param_names]
        point = _SUMS.build(tuple(c.point for c in parts),
                            lambda: _sum_point(parts))
        guess = (_SUMS.build(("guess",) + tuple((c.point, c._guess, c.name) for c in parts),
                             lambda: _sum_guess(parts))   # (names: the peeling plan)
                 if all(c.has_guess for c in parts) else None)
        bounds = (np.concatenate([c.bounds[0] for c in parts]),
                  np.concatenate([c.bounds[1] for c in parts]))
        return Model(" + ".join(c.name for c in parts), names, point, guess=guess,
                     bounds=bounds, predictors=self.predictors,
                     formula=" + ".join(f"({c.formula})" for c in parts), components=parts)


_SUMS = Memo(64)


def _model_from(name, param_names, point, guess, bounds, predictors, formula):
    """A single model from its parts (:meth:`Model.__reduce__`)."""
    return Model(name, param_names, point, guess=guess, bounds=bounds, predictors=predictors,
                 formula=formula)


def _sum_of(components):
    """The sum of ``components`` (:meth:`Model.__reduce__`): their names are
    already distinct (prefixed where they collided), so adding them again
    gives the same names."""
    total = components[0]
    for c in components[1:]:
        total = total + c
    return total
