"""Process-wide memos: one class, one eviction rule.

lsqcore remembers what it builds per process: compiled adapters and C
wrappers per model, CUDA kernels, generated row selectors, the frozen
option arrays of repeated calls.  Each memo is a :class:`Memo`, a ``dict``
(so that the repeat-call fast path keeps ``dict.get``'s speed) from a key
to what was built for it, holding at most ``maxsize`` entries, the oldest
dropped first.  ``maxsize=None`` is for memos whose values must outlive
every use of them elsewhere: the C wrappers, whose addresses the
repeat-call memo and the drivers hold as plain integers, and the compiled
entries and kernels, which are few.
"""

__all__ = ["Memo"]


class Memo(dict):
    """A ``dict`` with :meth:`build` (get or make) and a size limit.

    Parameters
    ----------
    maxsize : int or None
        Most entries held; the oldest is dropped to make room.  None: no
        limit.
    """

    __slots__ = ("maxsize",)

    def __init__(self, maxsize=None):
        super().__init__()
        self.maxsize = maxsize

    def put(self, key, value):
        """Store ``value`` under ``key`` (dropping the oldest entry if full); return it."""
        if self.maxsize is not None and len(self) >= self.maxsize and key not in self:
            del self[next(iter(self))]
        self[key] = value
        return value

    def build(self, key, make):
        """The value for ``key``, made by ``make()`` and stored the first time."""
        hit = self.get(key)
        if hit is None:
            hit = self.put(key, make())
        return hit
