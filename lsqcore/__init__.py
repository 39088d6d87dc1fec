"""lsqcore: nonlinear least squares compiled with Numba.

A drop-in for :func:`scipy.optimize.least_squares` (and ``curve_fit``,
``leastsq``) with Gauss-Newton, Levenberg-Marquardt, trust-region-reflective
and dogbox solvers written as one cached ask/tell kernel
(:mod:`lsqcore._kernel`).
"""
from ._api import least_squares, InPlace
from ._optimize_result import OptimizeResult
from ._sparse_jac import PatternJacobian
from ._prepared import prepare, Prepared

__all__ = ["least_squares", "InPlace", "OptimizeResult", "PatternJacobian", "prepare",
           "Prepared"]
__version__ = "0.1.0"
from ._curve_fit import curve_fit
from ._leastsq import leastsq
from ._lsq_linear import lsq_linear
from ._patch import patch_scipy, unpatch_scipy
from ._diagnostics import Diagnostic, diagnose
from ._report import FitReport, fit_report
from ._multistart import multistart

__all__ += ["curve_fit", "leastsq", "lsq_linear", "patch_scipy", "unpatch_scipy", "FitWarning", "Diagnostic", "diagnose", "FitReport",
            "fit_report", "multistart"]
from .batch import least_squares_batch, curve_fit_batch

__all__ += ["least_squares_batch", "curve_fit_batch"]


def __getattr__(name):
    # FitWarning subclasses scipy.optimize.OptimizeWarning: its module-level
    # class (lsqcore._fitwarning) is imported on first use so that
    # `import lsqcore` does not import scipy.optimize (0.3-0.8 s)
    if name == "FitWarning":
        from ._fitwarning import FitWarning
        return FitWarning
    raise AttributeError(f"module 'lsqcore' has no attribute {name!r}")
