"""lsqcore: nonlinear least squares compiled with Numba.

A drop-in for :func:`scipy.optimize.least_squares` with Gauss-Newton,
Levenberg-Marquardt and trust-region-reflective solvers written as one
cached ask/tell kernel (:mod:`lsqcore._kernel`).
"""
from ._api import least_squares, InPlace

__all__ = ["least_squares", "InPlace"]
__version__ = "0.1.0"
from ._curve_fit import curve_fit
from ._diagnostics import FitWarning, Diagnostic, diagnose
from ._report import FitReport, fit_report
from ._multistart import multistart

__all__ += ["curve_fit", "FitWarning", "Diagnostic", "diagnose", "FitReport",
            "fit_report", "multistart"]
from .batch import least_squares_batch, curve_fit_batch

__all__ += ["least_squares_batch", "curve_fit_batch"]
