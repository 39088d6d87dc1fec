"""lsqcore: nonlinear least squares compiled with Numba.

A drop-in for :func:`scipy.optimize.least_squares` with Gauss-Newton,
Levenberg-Marquardt and trust-region-reflective solvers written as one
cached ask/tell kernel (:mod:`lsqcore._kernel`).
"""
from ._api import least_squares

__all__ = ["least_squares"]
__version__ = "0.1.0"
