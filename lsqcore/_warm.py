"""The first use after installation: method entries compiled on the other core.

With an empty Numba cache, ``import lsqcore`` compiles the solver kernel
(about 14 s on this project's 2-core machine) and the first fit then
compiles its method's entry (:func:`lsqcore._method.method_entry`, about
13 s for ``'trf'``) and, for a jitted model, the cached driver (about 6 s):
one after another, in one process, on one core, about 36 s in all.

The method entries do not need the kernel's compiled code (the kernel
reaches them through an address, ``S[HOOKS]``), so they can be compiled
elsewhere at the same time.  On that first import, when the process may
run on a second core, :func:`start` launches a *helper*: a second Python
that imports lsqcore without compiling the kernel and compiles the entries
of :data:`METHODS` (``'trf'``, the default of ``least_squares`` and of a
bounded ``curve_fit``; then ``'lm'``, ``curve_fit``'s and ``leastsq``'s)
into Numba's disk cache, while this process compiles the kernel.  When a
fit needs one of them, :func:`wait_for` waits for the helper to finish it
if the helper has started it; the entry then loads from the cache.  One
the helper has not started is compiled here, as before (the helper may
compile it too: the cache files are written whole, by rename, and are the
same).  Measured with an empty cache, ``import lsqcore`` plus a first W1
fit with a jitted model: 20.9-23.9 s (median 21.5 s), against 36.6-38.1 s
(median 37.3 s) before, alternated (docs/benchmarks.md).

The helper compiles into a Numba cache of its own (a temporary
``NUMBA_CACHE_DIR``) and then copies each entry's files (its index and
data, :func:`lsqcore._numba_internals.cache_files`; data first, each file
written whole and renamed into place) into this process's cache.  Both
processes compile many of the same kernel functions at the same time, and
Numba's cache gives two processes that save *different* signatures of one
function at once no guarantee that the index and the data files agree;
with separate caches that cannot happen.  Only an entry, which this
process compiles (for the same signature) only if the helper has not begun
it, is ever written by both.

*First use* means that Numba's disk cache holds no compiled code of the
kernel's C entry for the current ``lsqcore/_kernel.py`` (its index is
missing, or stale, which Numba reads from the file's size and modification
time): exactly when this import is about to compile the kernel.  A kernel
already in the cache starts no helper, whatever the methods' state (then a
method compiles here, with its callees from the cache, as before this
module).

The helper never solves anything: ``LSQCORE_WARM_HELPER=1`` in its
environment makes :mod:`lsqcore._kernel` skip the kernel (its addresses are
zero there).  It reports ``begin NAME`` and ``done NAME`` on its standard
output, which a daemon thread here reads; it is terminated, and its cache
removed, when this process exits.  ``LSQCORE_WARM=0`` never starts one.
"""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import threading

#: set in the helper's environment (lsqcore._kernel then skips the kernel)
HELPER_ENV = "LSQCORE_WARM_HELPER"
#: ``LSQCORE_WARM=0``: never start a helper
SWITCH_ENV = "LSQCORE_WARM"
#: the helper's environment: where this process's cache of the entries is
DEST_ENV = "LSQCORE_WARM_DEST"
#: the method entries the helper compiles, in this order
METHODS = ("trf", "lm")

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


class _Helper:
    """A running helper and what it has reported (``begun``, ``done``)."""

    def __init__(self, proc, cache):
        self.proc, self.cache = proc, cache
        self.owner = os.getpid()
        self.begun, self.done = set(), set()
        self.over = False
        self.cond = threading.Condition()
        threading.Thread(target=self._read, name="lsqcore-warm", daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            word, _, name = line.decode("ascii", "replace").strip().partition(" ")
            with self.cond:
                (self.begun if word == "begin" else self.done).add(name)
                self.cond.notify_all()
        self.proc.stdout.close()
        self.proc.wait()
        with self.cond:
            self.over = True
            self.cond.notify_all()

    def wait_for(self, name):
        """Wait until the helper has compiled ``name``, if it has started it;
        True when ``name`` is now in the cache by the helper's hand."""
        with self.cond:
            if name not in self.begun or name in self.done or self.over:
                return name in self.done
            from ._log import say
            say(f"waiting for method '{name}', compiling in lsqcore's helper process "
                "(first use after installation)")
            self.cond.wait_for(lambda: name in self.done or self.over)
            return name in self.done

    def stop(self):
        if os.getpid() != self.owner:  # (a forked child: the helper is its parent's)
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()
        shutil.rmtree(self.cache, ignore_errors=True)


_HELPER = []
_popen = subprocess.Popen           # (the tests replace it)
if hasattr(os, "register_at_fork"):
    # a forked child has no thread reading the helper: it compiles for itself
    os.register_at_fork(after_in_child=_HELPER.clear)


def in_helper():
    """Whether this process is the helper."""
    return os.environ.get(HELPER_ENV) == "1"


def _entry_source(name):
    """The Python function of method ``name``'s C entry (lsqcore._method)."""
    from . import _layout as L
    from ._method import _ENTRY_SOURCES
    return _ENTRY_SOURCES[(L.METHOD_CODES[name], L.TR_EXACT)]


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:           # (not on Linux)
        return os.cpu_count() or 1


def start(kernel_entry):
    """Start the helper if the kernel's C entry (the Python function
    ``kernel_entry`` that lsqcore._kernel compiles next) is not in Numba's
    disk cache, the process may use two cores, and nothing says not to."""
    if in_helper() or os.environ.get(SWITCH_ENV) == "0" or _cores() < 2 or not sys.executable:
        return
    from ._numba_internals import cache_files
    try:
        if len(cache_files(kernel_entry)[1]) > 1:       # (an index and its data)
            return
        dest = cache_files(_entry_source(METHODS[0]))[0]
    except Exception:                 # (Numba's cache unreadable: compile here)
        return
    code = (f"import sys; sys.path.insert(0, {os.path.dirname(_PACKAGE)!r}); "
            "from lsqcore._warm import helper_main; helper_main()")
    cache = None
    try:
        cache = tempfile.mkdtemp(prefix="lsqcore-warm-")
        env = dict(os.environ, **{HELPER_ENV: "1", "NUMBA_CACHE_DIR": cache, DEST_ENV: dest})
        proc = _popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    except OSError:                   # (no temporary directory, no process: compile here)
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)
        return
    helper = _Helper(proc, cache)
    _HELPER.append(helper)
    atexit.register(helper.stop)


def _publish(files, dest):
    """Copy cache ``files`` (index first in the list) into ``dest``: the data
    files first, each written whole and renamed into place."""
    for f in files[1:] + files[:1]:
        target = os.path.join(dest, os.path.basename(f))
        tmp = f"{target}.warm.{os.getpid()}"
        shutil.copyfile(f, tmp)
        os.replace(tmp, target)


def wait_for(name):
    """Wait for the helper's compile of method ``name`` when it has begun it
    (see the module docstring); True when the helper has compiled it."""
    return bool(_HELPER) and _HELPER[0].wait_for(name)


def helper_main():
    """The helper: compile each of :data:`METHODS`' entries into this
    process's cache, copy them into the parent's, and say so."""
    from . import _layout as L
    from ._method import method_entry
    from ._numba_internals import cache_files
    dest = os.environ[DEST_ENV]
    try:
        for name in METHODS:
            print("begin", name, flush=True)
            method_entry(L.METHOD_CODES[name])
            _publish(cache_files(_entry_source(name))[1], dest)
            print("done", name, flush=True)
    finally:
        shutil.rmtree(os.environ["NUMBA_CACHE_DIR"], ignore_errors=True)
