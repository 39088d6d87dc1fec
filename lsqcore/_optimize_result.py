"""The result type of the single solvers: scipy's ``OptimizeResult``, without scipy's import.

``import scipy.optimize`` takes 0.3-0.8 s (the whole of scipy.optimize is
loaded), which alone was a third of lsqcore's start-up.  lsqcore's
:class:`OptimizeResult` behaves as scipy's: a ``dict`` whose keys are also
attributes (``res.x``, ``res['x']``), with the same fields and the same
aligned ``repr``.  (It is not a subclass of ``scipy.optimize.OptimizeResult``:
``isinstance`` against scipy's class is False.)
"""
import numpy as np


class OptimizeResult(dict):
    """Result of a solve: a ``dict`` whose keys are also attributes.

    The fields, attribute access and ``repr`` of
    ``scipy.optimize.OptimizeResult``; not a subclass of it (lsqcore does not
    import ``scipy.optimize`` at start-up), so ``isinstance`` against scipy's
    class is False.
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(name) from e

    __setattr__ = dict.__setitem__
    __delattr__ = dict.__delitem__

    def __dir__(self):
        return list(self.keys())

    def __repr__(self):
        if not self:
            return self.__class__.__name__ + "()"
        width = max(map(len, self.keys())) + 1
        with np.printoptions(threshold=6, edgeitems=3):
            lines = []
            for k, v in self.items():
                text = repr(v).replace("\n", "\n" + " " * (width + 2))
                lines.append(k.rjust(width) + ": " + text)
        return "\n".join(lines)
