"""``patch_scipy()``: existing code runs on lsqcore, unchanged.

After ``lsqcore.patch_scipy()`` the four least-squares functions of
``scipy.optimize`` are lsqcore's, wherever the program reaches them:

* the attributes ``scipy.optimize.least_squares``, ``curve_fit``,
  ``leastsq`` and ``lsq_linear`` (code that looks them up at call time, and
  every ``from scipy.optimize import ...`` that runs later);
* the modules that define them inside scipy (``scipy.optimize._lsq``,
  ``scipy.optimize._minpack_py``), so that scipy's own callers use them too;
* every module already imported whose globals hold one of scipy's function
  objects (a ``from scipy.optimize import least_squares`` that ran before the
  call: lmfit's ``minimizer``, xarray, astropy, a lab's own module).  Found
  by identity, so nothing else that happens to share a name is touched.

Each patched name is a thin function that calls lsqcore's (and returns scipy's
result fields, no more: :data:`LSQCORE_FIELDS`) and, when lsqcore
refuses a valid scipy argument it does not serve
(:class:`lsqcore._validate.Unsupported`, raised before any work, or a
keyword scipy has and lsqcore lacks), calls scipy's own function instead,
with a one-time ``FitWarning`` per reason that says why.  Every other error
is lsqcore's, which raises the exception types scipy raises.

``unpatch_scipy()`` restores every binding the patch changed, and those
that modules imported later copied from the patched attributes.  Patching
twice is harmless (the second call does nothing), and the context manager
form restores on exit only what it patched itself::

    with lsqcore.patch_scipy():
        lmfit.minimize(residual, params)     # on lsqcore
"""
import functools
import inspect
import sys
import warnings

#: the names patched, in ``scipy.optimize``
NAMES = ("least_squares", "curve_fit", "leastsq", "lsq_linear")

#: fields of lsqcore's results that scipy's do not have, dropped from a patched
#: call's result: clients copy every field (lmfit's ``for attr in ret:
#: setattr(result, attr, ret[attr])`` would overwrite its own ``method``)
LSQCORE_FIELDS = {"least_squares": ("method", "nit", "ngroups")}

_state = {"originals": None, "patched": None, "bindings": []}
_warned = set()


def _ours(name):
    import lsqcore
    return getattr(lsqcore, name)


def _unsupported_keywords(ours, theirs, kwargs):
    """The keywords scipy's function takes and lsqcore's does not."""
    p_ours = inspect.signature(ours).parameters
    if any(p.kind == p.VAR_KEYWORD for p in p_ours.values()):
        return []
    p_theirs = inspect.signature(theirs).parameters
    return [k for k in kwargs if k not in p_ours and k in p_theirs]


def _fallback(name, original, why, args, kwargs):
    if (name, why) not in _warned:
        _warned.add((name, why))
        from ._fitwarning import FitWarning
        warnings.warn(f"lsqcore.patch_scipy: scipy.optimize.{name} ran scipy's own "
                      f"function: {why}", FitWarning, stacklevel=3)
    return original(*args, **kwargs)


def _patched_function(name, original):
    ours = _ours(name)

    @functools.wraps(original)
    def patched(*args, **kwargs):
        from ._validate import Unsupported
        extra = _unsupported_keywords(ours, original, kwargs)
        if extra:
            return _fallback(name, original, f"lsqcore's {name} has no keyword "
                             f"{', '.join(map(repr, extra))}", args, kwargs)
        try:
            out = ours(*args, **kwargs)
        except Unsupported as e:
            return _fallback(name, original, str(e), args, kwargs)
        for key in LSQCORE_FIELDS.get(name, ()):
            out.pop(key, None)
        return out
    patched.__lsqcore_patch__ = True
    patched.__wrapped_scipy__ = original
    return patched


def _holders(functions):
    """``(module, attr, name)`` for every global of an imported module that is
    one of ``functions`` (``{name: function}``), by identity."""
    by_id = {id(fn): name for name, fn in functions.items()}
    for module in list(sys.modules.values()):
        try:
            items = list(vars(module).items())
        except TypeError:
            continue
        for attr, value in items:
            name = by_id.get(id(value))
            if name is not None and value is functions[name]:
                yield module, attr, name


def _rebind(module, attr, old, new):
    setattr(module, attr, new)
    _state["bindings"].append((module, attr, old, new))


class _Patch:
    """The handle :func:`patch_scipy` returns: a context manager that undoes the
    patch on exit if it made it."""

    def __init__(self, made):
        self.made = made

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.made:
            unpatch_scipy()
        return False


def patch_scipy():
    """Make ``scipy.optimize``'s ``least_squares``, ``curve_fit``, ``leastsq`` and
    ``lsq_linear`` lsqcore's, for the whole program (module docstring).

    Returns
    -------
    context manager
        ``with lsqcore.patch_scipy(): ...`` restores scipy's functions on exit
        (if this call patched them; a second patch is a no-op).
    """
    if is_patched():
        return _Patch(False)
    import scipy.optimize
    originals = {name: getattr(scipy.optimize, name) for name in NAMES}
    patched = {name: _patched_function(name, fn) for name, fn in originals.items()}
    _state["originals"], _state["patched"] = originals, patched
    for module, attr, name in _holders(originals):
        _rebind(module, attr, originals[name], patched[name])
    return _Patch(True)


def unpatch_scipy():
    """Restore scipy's own functions everywhere :func:`patch_scipy` (or a later
    import copying a patched name) put lsqcore's.  Harmless when not patched."""
    if not is_patched():
        return
    for module, attr, old, new in reversed(_state["bindings"]):
        if getattr(module, attr, None) is new:
            setattr(module, attr, old)
    for module, attr, name in _holders(_state["patched"]):  # later `from ... import`s
        setattr(module, attr, _state["originals"][name])
    _state.update(originals=None, patched=None, bindings=[])


def is_patched():
    """Whether :func:`patch_scipy` is in effect."""
    return _state["patched"] is not None
