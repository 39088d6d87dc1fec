"""Test problems for nonlinear least squares.

Two libraries of problems, each returned as a :class:`Problem` with a
Numba-compiled residual ``fun(x, *args)``, its analytic Jacobian
``jac(x, *args)``, data ``args``, starting points, bounds and the known
solution:

``nist``
    The 27 NIST Statistical Reference Datasets (StRD) nonlinear regression
    problems (lower / average / higher difficulty), with parameters and
    residual sum of squares certified to 11 digits and two starts each.
    Residual ``f = y - model(x, b)``.  See :mod:`lsqcore.problems._nist`.
``mgh``
    The 35 problems of More, Garbow & Hillstrom (1981), with fixed
    dimensions, the standard start ``x0`` plus ``10 x0`` and ``100 x0``,
    and the known minima.  See :mod:`lsqcore.problems._mgh`.

The functions are ``numba.njit(cache=True, error_model="numpy")`` without
explicit signatures: they can be called from Python or passed into another
``@njit`` function, and they accept complex128 ``x`` (returning complex128)
for complex-step differentiation.  Problems that share a formula share one
compiled function (e.g. Lanczos1/2/3, Gauss1/2/3).

Examples
--------
>>> from scipy.optimize import least_squares
>>> from lsqcore import problems
>>> p = problems.get("Misra1a")
>>> res = least_squares(p.fun, p.starts[1], jac=p.jac, args=p.args,
...                     xtol=1e-15, ftol=1e-15, gtol=1e-15)
>>> p.lre(res.x) >= 4
True

References
----------
.. [1] NIST Statistical Reference Datasets, Nonlinear Regression.
   https://www.itl.nist.gov/div898/strd/nls/nls_main.shtml
.. [2] J. J. More, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
   optimization software", ACM Trans. Math. Software 7(1):17-41, 1981.
"""
from ._mgh import mgh, mgh_names
from ._nist import nist, nist_names
from ._problem import Problem, log_relative_error

__all__ = ["Problem", "nist", "nist_names", "mgh", "mgh_names", "get",
           "all_problems", "log_relative_error"]


def get(name):
    """Return the problem ``name`` from either library.

    NIST names (``"Misra1a"``, ``"MGH09"``, ...) are tried first, then MGH
    names (``"rosenbrock"``, ``"kowalik_osborne"``, ...); both are
    case-insensitive.  A prefix ``"nist:"`` or ``"mgh:"`` selects the
    library explicitly.

    Raises
    ------
    KeyError
        If no problem has that name.
    """
    s = str(name)
    lib, sep, rest = s.partition(":")
    if sep and lib.strip().lower() in ("nist", "mgh"):
        return (nist if lib.strip().lower() == "nist" else mgh)(rest.strip())
    try:
        return nist(s)
    except KeyError:
        pass
    try:
        return mgh(s)
    except KeyError:
        raise KeyError("unknown problem %r (see nist_names() and mgh_names())"
                       % (name,)) from None


def all_problems(library=None):
    """All problems, NIST first (in NIST's order) then MGH (paper order).

    Parameters
    ----------
    library : {None, "nist", "mgh"}
        Restrict to one library.

    Returns
    -------
    list of Problem
    """
    out = []
    if library in (None, "nist"):
        out.extend(nist(n) for n in nist_names())
    if library in (None, "mgh"):
        out.extend(mgh(n) for n in mgh_names())
    if library not in (None, "nist", "mgh"):
        raise ValueError("library must be None, 'nist' or 'mgh'")
    return out
