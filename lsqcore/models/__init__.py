"""A library of compiled models with exact Jacobians and starting guesses.

Each model (:class:`Model`) is one compiled point function giving a data
point's value and its gradient together (:mod:`lsqcore.models._model`),
from which every calling form is generated: scipy's ``f(x, *p)`` and
``jac(x, *p)``, the allocation-free forms of the batch and the GPU, and a
``least_squares`` residual.  Models add (``gaussian + gaussian + linear``)
into a compiled model with an exact Jacobian.  Pass a model wherever
lsqcore takes a ``curve_fit`` model::

    from lsqcore import curve_fit, curve_fit_batch, models
    popt, pcov = curve_fit(models.gaussian, x, y)          # p0 from its guess
    res = curve_fit_batch(models.gaussian, x, Y)           # a guess per row

Formulas, parameters and guesses: ``docs/models.md``.
"""
from ._model import Model
from ._peaks import gaussian, lorentzian, pseudo_voigt, voigt
from ._curves import (exponential, double_exponential, stretched_exponential, power_law,
                      logistic, sine, constant, linear, polynomial)
from ._surfaces import gaussian2d, gaussian2d_elliptic, gaussian2d_rotated
from ._faddeeva import faddeeva

__all__ = ["Model", "gaussian", "lorentzian", "pseudo_voigt", "voigt", "exponential",
           "double_exponential", "stretched_exponential", "power_law", "logistic", "sine",
           "constant", "linear", "polynomial", "gaussian2d", "gaussian2d_elliptic",
           "gaussian2d_rotated", "faddeeva", "LIBRARY"]

#: every named model of the library (``polynomial`` is a family: degree 3 here)
LIBRARY = {m.name: m for m in (gaussian, lorentzian, pseudo_voigt, voigt, exponential,
                               double_exponential, stretched_exponential, power_law,
                               logistic, sine, constant, linear, polynomial(3), gaussian2d,
                               gaussian2d_elliptic, gaussian2d_rotated)}
