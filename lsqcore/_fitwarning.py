"""The class :class:`lsqcore.FitWarning`, in a module of its own.

``FitWarning`` subclasses ``scipy.optimize.OptimizeWarning`` (filters and
``pytest.warns`` written for scipy's ``curve_fit`` catch it), and importing
``scipy.optimize`` costs 0.3-0.8 s.  So this module is imported on first
use -- ``lsqcore.FitWarning`` (the package's ``__getattr__``), or the
first diagnostic issued -- never by ``import lsqcore``.

The class is defined at module level and carries its public name
(``__module__ = 'lsqcore'``, ``__qualname__ = 'FitWarning'``), so the class
and its instances pickle by reference to ``lsqcore.FitWarning`` and
unpickle to this very class.
"""
from scipy.optimize import OptimizeWarning

__all__ = ["FitWarning"]


class FitWarning(OptimizeWarning):
    """A fit finished but something about it deserves a look.

    Subclass of :class:`scipy.optimize.OptimizeWarning` (itself a
    ``UserWarning``), so filters written for scipy's ``curve_fit`` apply.
    The message names the problem; ``lsqcore.fit_report`` explains it.
    """


# the public name: pickle stores the class as ``lsqcore.FitWarning``, which
# lsqcore's module __getattr__ resolves to this class
FitWarning.__module__ = "lsqcore"
