"""Messages about first-use compiles: said once, only when they take a while.

Numba compiles lsqcore's kernel on first use after installation (about
30 s on 2 cores), a jitted model's wrappers on its first use (about 1-5 s),
and caches both on disk.  Silence during such a wait looks like a hang
(issue 14: the demo printed nothing for 21 s).  :func:`first_use` wraps a
call that may compile: if, ``DELAY`` seconds into the call, Numba is
compiling (its compiler lock is held: :func:`lsqcore._numba_internals.compiling`),
the message is said once per process and key; a call served from the cache,
or one that is merely slow in the user's own code, says nothing.

Messages go to the ``"lsqcore"`` logger at level INFO.  When the
application has configured no logging handler they are written to stderr
instead, so that they are seen by default; configure logging (e.g.
``logging.getLogger("lsqcore").setLevel(logging.WARNING)`` with a handler)
to route or silence them.
"""
import logging
import sys
import threading
from contextlib import contextmanager

from ._numba_internals import compiling

__all__ = ["first_use", "say", "logger", "DELAY"]

logger = logging.getLogger("lsqcore")

#: seconds into a call after which a running compile is announced
DELAY = 2.0

_SAID = set()
_ACTIVE = []
_LOCK = threading.Lock()


def say(msg):
    """Log ``msg`` (INFO, logger ``"lsqcore"``), or write it to stderr when
    logging is not configured."""
    if logger.hasHandlers():
        logger.info(msg)
    else:
        print(f"lsqcore: {msg}", file=sys.stderr, flush=True)


def _fire(key, msg):
    with _LOCK:
        # the innermost active call speaks (its message is the more specific)
        if key in _SAID or not _ACTIVE or _ACTIVE[-1] != key or not compiling():
            return
        _SAID.add(key)
    say(msg)


@contextmanager
def first_use(key, msg):
    """Announce ``msg`` once per process and ``key`` if the body is still
    compiling after :data:`DELAY` seconds (see the module docstring)."""
    if key in _SAID:
        yield
        return
    timer = threading.Timer(DELAY, _fire, (key, msg))
    timer.daemon = True
    _ACTIVE.append(key)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        _ACTIVE.remove(key)
