"""Messages about first-use compiles: said once, only when they take a while.

Numba compiles lsqcore's kernel on first use after installation (about
10 s on 2 cores, at import), each method on its first use (about 10 s:
:func:`lsqcore._method.method_entry`), a jitted model's wrappers on its
first use (about 1-5 s), and caches them all on disk.  Silence during such a wait looks like a hang
(issue 14: the demo printed nothing for 21 s).  :func:`first_use` wraps a
call that may compile: if, ``DELAY`` seconds or more into the call, Numba
is compiling (its compiler lock is held:
:func:`lsqcore._numba_internals.compiling`; it looks every ``POLL`` seconds
while the call lasts), the message is said once per process and key; a
call served from the cache, or one that is merely slow in the user's own
code, says nothing.  Only the first call per key is watched: once it is
over, what it compiled is loaded, and later calls cost a set lookup instead
of a timer thread (~0.1 ms, which doubled a small fit with a Python
residual before this rule).  Calls nest (the solve around a model's wrappers): the
innermost speaks, and an outer call speaks for a compile that starts after
the inner one ended (the demo's first run: the model's wrappers, then the
kernel).

Messages go to the ``"lsqcore"`` logger at level INFO.  When the
application has configured no logging handler they are written to stderr
instead, so that they are seen by default; configure logging (e.g.
``logging.getLogger("lsqcore").setLevel(logging.WARNING)`` with a handler)
to route or silence them.
"""
import logging
import sys
import threading
from contextlib import contextmanager, nullcontext

from ._numba_internals import compiling

__all__ = ["first_use", "say", "logger", "DELAY", "KERNEL_MESSAGE"]

#: said once if the kernel (its C entries at ``import lsqcore``, or the
#: drivers on the first solve) is still compiling after a few seconds
KERNEL_MESSAGE = ("compiling the solver kernel for its first use after installation (about "
                  "10 s on 2 cores, once: Numba caches it on disk, and later processes load "
                  "it in under a second)")

logger = logging.getLogger("lsqcore")

#: seconds into a call after which a running compile is announced
DELAY = 2.0

#: seconds between later looks while the call is not (yet) compiling or an
#: inner call has the word
POLL = 0.5

_SAID = set()           # keys announced, or whose first call is over
_ACTIVE = []            # (key, token) of the calls in progress, innermost last
_TIMERS = {}            # token -> its pending timer
_LOCK = threading.Lock()


def say(msg):
    """Log ``msg`` (INFO, logger ``"lsqcore"``), or write it to stderr when
    logging is not configured."""
    if logger.hasHandlers():
        logger.info(msg)
    else:
        print(f"lsqcore: {msg}", file=sys.stderr, flush=True)


def _arm(token, key, msg, delay):
    t = threading.Timer(delay, _fire, (token, key, msg))
    t.daemon = True
    _TIMERS[token] = t
    t.start()


def _fire(token, key, msg):
    with _LOCK:
        if key in _SAID or token not in _TIMERS:
            return
        if _ACTIVE[-1][1] is not token or not compiling():
            # an inner call has the word (its message is the more specific),
            # or nothing compiles now: look again later, while the call lasts
            _arm(token, key, msg, POLL)
            return
        _SAID.add(key)
        del _TIMERS[token]
    say(msg)


_UNWATCHED = nullcontext()


def first_use(key, msg):
    """Announce ``msg`` if the body is compiling :data:`DELAY` seconds or more
    into it; only the first call per process and ``key`` is watched (see the
    module docstring), later ones cost a set lookup and an empty context
    (a generator-based one cost every general-path solve ~1.5 us)."""
    if key in _SAID:
        return _UNWATCHED
    return _watch(key, msg)


@contextmanager
def _watch(key, msg):
    """The watch of the first call with ``key`` (see :func:`first_use`)."""
    token = object()
    with _LOCK:
        _ACTIVE.append((key, token))
        _arm(token, key, msg, DELAY)
    try:
        yield
    finally:
        with _LOCK:
            _ACTIVE.remove((key, token))
            t = _TIMERS.pop(token, None)
            # the first call with this key is over: what it compiled is loaded,
            # and later calls skip the watch (a timer thread costs ~0.1 ms)
            _SAID.add(key)
        if t is not None:
            t.cancel()
