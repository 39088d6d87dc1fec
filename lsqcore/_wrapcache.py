"""Per-model C wrappers served from Numba's disk cache.

The solver drivers are compiled once and cached on disk for every model
(:mod:`lsqcore._cabi`); what remains per model is a small ``cfunc`` that
unpacks the arguments and calls the user's jitted function.  Numba caches a
function on disk only if it has a source file (its cache index is keyed by
the file's path, modification time and size, and by the function's
bytecode), so a wrapper built with ``exec`` was compiled again in every
process: the first fit took 0.40-0.94 s for a jitted residual and 0.87-4.02 s
with a jitted ``jac`` on this project's 2-core machine, each time (issue 14),
even when the user's own functions were cached.

Here each wrapper's source is written, once, to a file named by a digest of
everything its compiled code depends on, and compiled from that file with
``cache=True``.  A new process with an already-seen model then loads the
wrapper (the user's function linked inside it) from the cache instead of
compiling it.  The digest covers:

* the wrapper's source and C signature (which hold the argument types);
* for every Numba dispatcher the wrapper calls, its *identity*
  (:func:`identity`): module, qualified name, source path, the file's
  modification time and size (Numba's own staleness rule for the user's
  function), the function's bytecode and constants, its compile options,
  the values of the simple global constants it reads, and, recursively, the
  identities of the dispatchers it calls;
* the versions of Python and Numba and the stamps of the lsqcore modules
  that generate wrappers.

A function that cannot be identified across processes (defined in an
interactive session without a source file, or closing over or reading
values that are neither numbers nor strings nor dispatchers) keeps the
per-process compile.  As with Numba's own cache, a global *array* the model
reads is frozen into the compiled code: it is part of the identity through
its bytes, so changing it gives a new wrapper.

The files live in ``$NUMBA_CACHE_DIR/lsqcore_wrappers`` when that is set,
else in ``$XDG_CACHE_HOME/lsqcore/wrappers`` (``~/.cache/lsqcore/wrappers``);
the compiled code goes where Numba puts the cache of any source file.  The
directory can be deleted at any time.
"""
import hashlib
import importlib.util
import os
import sys
import tempfile
import warnings

import numpy as np
from numba import cfunc
from numba.core.dispatcher import Dispatcher
from numba.core.errors import NumbaWarning

__all__ = ["identity", "wrapper_cfunc", "wrapper_dir", "cached_njit"]

#: lsqcore modules whose code shapes the generated wrappers
_GENERATORS = ("_cabi.py", "_wrapcache.py", "batch/_cwrap.py", "batch/_model.py",
               "models/_model.py", "_curve_fit.py")

_DIR = []


def wrapper_dir():
    """The directory of the generated wrapper sources, or None when no
    writable place exists (then wrappers are compiled in every process)."""
    if not _DIR:
        base = os.environ.get("NUMBA_CACHE_DIR")
        if base:
            d = os.path.join(base, "lsqcore_wrappers")
        else:
            xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                    ".cache")
            d = os.path.join(xdg, "lsqcore", "wrappers")
        try:
            os.makedirs(d, exist_ok=True)
            ok = os.access(d, os.W_OK)
        except OSError:
            ok = False
        _DIR.append(d if ok else None)
    return _DIR[0]


def _stamp(path):
    st = os.stat(path)
    return f"{path}:{st.st_mtime_ns}:{st.st_size}"


def _code_digest(code, h):
    """Feed a code object's bytecode, names and constants (nested code too) to ``h``."""
    h.update(code.co_code)
    h.update(repr((code.co_names, code.co_varnames, code.co_freevars)).encode())
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            _code_digest(c, h)
        else:
            h.update(repr(c).encode())


def _code_names(code):
    names = set(code.co_names)
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            names |= _code_names(c)
    return names


def _value_digest(v, seen):
    """A stable text for a value a compiled function reads, or None when it has none."""
    if isinstance(v, Dispatcher):
        return identity(v, seen)
    if v is None or isinstance(v, (bool, int, float, complex, str, bytes)):
        return repr(v)
    if isinstance(v, np.ndarray) and v.dtype.kind in "biufc":
        return f"array{v.dtype.str}{v.shape}:" + hashlib.sha256(
            np.ascontiguousarray(v).tobytes()).hexdigest()
    if isinstance(v, tuple):
        parts = [_value_digest(x, seen) for x in v]
        return None if None in parts else "(" + ",".join(parts) + ")"
    if type(v).__name__ == "module":
        return "module:" + v.__name__
    mod = getattr(v, "__module__", None) or ""
    if callable(v) and mod.startswith("lsqcore_wrapper_"):
        # defined by a generated source file, whose name is the digest of its text
        return f"{mod}.{getattr(v, '__qualname__', '')}"
    if callable(v) and mod.split(".")[0] in ("numpy", "math", "cmath", "numba"):
        return f"{mod}.{getattr(v, '__qualname__', repr(v))}"
    return None


def identity(disp, seen=None):
    """Text that identifies what a Numba dispatcher compiles to, across processes,
    or None when it cannot be identified (see the module docstring)."""
    seen = set() if seen is None else seen
    if id(disp) in seen:
        return "recursive:" + disp.py_func.__qualname__
    seen.add(id(disp))
    f = disp.py_func
    path = f.__code__.co_filename
    if not os.path.isfile(path):
        return None
    h = hashlib.sha256()
    h.update(repr((f.__module__, f.__qualname__, _stamp(path),
                   sorted((k, repr(v)) for k, v in disp.targetoptions.items()))).encode())
    _code_digest(f.__code__, h)
    for c in f.__closure__ or ():
        d = _value_digest(c.cell_contents, seen)
        if d is None:
            return None
        h.update(d.encode())
    g = f.__globals__
    for name in sorted(_code_names(f.__code__)):
        if name in g:
            d = _value_digest(g[name], seen)
            if d is None:
                return None
            h.update(f"{name}={d}".encode())
    return h.hexdigest()


def _base_digest():
    here = os.path.dirname(os.path.abspath(__file__))
    import numba
    parts = [sys.version, numba.__version__, np.__version__]
    parts += [_stamp(os.path.join(here, p)) for p in _GENERATORS]
    return "\n".join(parts)


_BASE = []


def _digest(src, sig, ns, names):
    """The digest of a wrapper, or None when one of its callees has no identity."""
    if not _BASE:
        _BASE.append(_base_digest())
    h = hashlib.sha256()
    h.update(_BASE[0].encode())
    h.update(src.encode())
    h.update(repr(sig).encode())
    for name in sorted(names):
        v = ns[name]
        d = names[name] if isinstance(names[name], str) else identity(v)
        if d is None:
            return None
        h.update(f"{name}={d}".encode())
    return h.hexdigest()[:32]


def _write_once(path, text):
    """Write ``text`` to ``path`` unless it is there (never rewritten: its stamp
    keys Numba's cache index)."""
    if os.path.exists(path):
        return
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    try:
        os.link(tmp, path)          # atomic, and fails if another process won
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


def _compiled_here(src, name, ns, sig):
    """The wrapper compiled in this process only (no source file, no disk cache)."""
    exec(compile(src, f"<lsqcore C wrapper {name}>", "exec"), ns)
    return cfunc(sig, error_model="numpy")(ns[name])


def _cached_module(src, ns, ids, sig, tag):
    """The module defined by ``src`` (globals ``ns``) loaded from a source file
    named by its digest, or None when it cannot have one (no writable
    directory, or a callee without an identity)."""
    d = wrapper_dir()
    digest = _digest(src, sig, ns, ids) if d is not None else None
    if digest is None:
        return None
    path = os.path.join(d, f"w{digest}.py")
    try:
        _write_once(path, f"# lsqcore {tag} (generated; safe to delete)\n" + src)
    except OSError:
        return None
    modname = f"lsqcore_wrapper_{digest}"
    mod = sys.modules.get(modname)
    if mod is None:
        # registered, because Numba's cached code names its module and
        # imports it by that name when it is loaded
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        mod.__dict__.update(ns)
        spec.loader.exec_module(mod)
        sys.modules[modname] = mod
    return mod


def wrapper_cfunc(src, name, ns, sig, models, named=None):
    """The cfunc ``name`` defined by ``src`` with globals ``ns`` and C signature
    ``sig``, served from the disk cache when possible.

    Parameters
    ----------
    src : str
        Python source defining ``name``.
    name : str
    ns : dict
        The globals the source needs.
    sig : numba signature
    models : sequence of str
        Names in ``ns`` of the dispatchers the wrapper calls (the user's
        functions), identified by :func:`identity`.
    named : dict, optional
        Names in ``ns`` whose identity the caller gives as a string (e.g. a
        generated row selector, identified by the flags it was built from).
    """
    ids = dict(named or {})
    ids.update({k: None for k in models})
    mod = _cached_module(src, ns, ids, sig, "C wrapper")
    if mod is None:
        return _compiled_here(src, name, ns, sig)
    with warnings.catch_warnings():
        # a model reading a large global array cannot be cached: it is then
        # compiled in every process, as before
        warnings.simplefilter("ignore", NumbaWarning)
        return cfunc(sig, error_model="numpy", cache=True)(getattr(mod, name))


def cached_njit(src, names, ns):
    """``@njit`` functions ``names`` defined by ``src`` (globals ``ns``, which
    must hold numbers, strings, modules and dispatchers only), compiled from
    a source file so that Numba caches them on disk; the dispatchers in
    ``ns`` are identified by :func:`identity`.  Without a file (see
    :func:`wrapper_cfunc`) they are compiled in this process only."""
    from numba import njit
    ids = {k: None for k, v in ns.items() if isinstance(v, Dispatcher)}
    mod = _cached_module(src, ns, ids, "njit", "generated functions")
    if mod is None:
        glb = dict(ns)
        exec(compile(src, "<lsqcore generated>", "exec"), glb)
        return tuple(njit(error_model="numpy")(glb[n]) for n in names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaWarning)
        return tuple(njit(error_model="numpy", cache=True)(getattr(mod, n)) for n in names)
