"""``lsq_linear``: bounded linear least squares, scipy's signature and semantics.

The front end of :mod:`lsqcore.linear`: it checks the input (scipy's
rules, before any work), computes the unbounded solution (the
minimum-norm one of a dense ``A``, or LSMR's), returns it when it lies in
the box (status 3), and otherwise runs trf (:mod:`lsqcore.linear.trf`) or
BVLS (:mod:`lsqcore.linear.bvls`) from it.  A dense ``A`` and a sparse one
run compiled; a ``LinearOperator`` runs trf's source as Python with its
products (:mod:`lsqcore.linear._python`).
"""
import sys

import numpy as np

from ._optimize_result import OptimizeResult
from ._validate import box

#: the meaning of each ``status`` (scipy's)
TERMINATION_MESSAGES = {
    -1: "The algorithm was not able to make progress on the last iteration.",
    0: "The maximum number of iterations is exceeded.",
    1: "The first-order optimality measure is less than `tol`.",
    2: "The relative change of the cost function is less than `tol`.",
    3: "The unconstrained solution is optimal.",
}


def _kind(A):
    """``('dense' | 'sparse' | 'operator', A)``, ``A`` converted for the solvers."""
    sp = sys.modules.get("scipy.sparse")
    if sp is not None and sp.issparse(A):
        return "sparse", A
    spla = sys.modules.get("scipy.sparse.linalg")
    if spla is not None and isinstance(A, spla.LinearOperator):
        return "operator", A
    return "dense", np.atleast_2d(np.asarray(A))


def _check(A, kind, b, bounds, method, tol, lsq_solver, lsmr_tol, max_iter, verbose,
           lsmr_maxiter):
    """scipy's checks, in scipy's order; returns ``(lsq_solver, b, lb, ub)``."""
    if method not in ("trf", "bvls"):
        raise ValueError("`method` must be 'trf' or 'bvls'")
    if lsq_solver not in (None, "exact", "lsmr"):
        raise ValueError("`solver` must be None, 'exact' or 'lsmr'.")
    if verbose not in (0, 1, 2):
        raise ValueError("`verbose` must be in [0, 1, 2].")
    if method == "bvls":
        if lsq_solver == "lsmr":
            raise ValueError("method='bvls' can't be used with lsq_solver='lsmr'")
        if kind != "dense":
            raise ValueError("method='bvls' can't be used with `A` being sparse or "
                             "LinearOperator.")
    if lsq_solver is None:
        lsq_solver = "exact" if kind == "dense" else "lsmr"
    elif lsq_solver == "exact" and kind != "dense":
        raise ValueError("`exact` solver can't be used when `A` is sparse or LinearOperator.")
    if len(A.shape) != 2:
        raise ValueError("`A` must have at most 2 dimensions.")
    if max_iter is not None and max_iter <= 0:
        raise ValueError("`max_iter` must be None or positive integer.")
    m, n = A.shape
    b = np.atleast_1d(np.asarray(b))
    if b.ndim != 1:
        raise ValueError("`b` must have at most 1 dimension.")
    if b.size != m:
        raise ValueError(f"Inconsistent shapes between `A` and `b`: `A` has {m} rows, "
                         f"`b` has {b.size} entries.")
    lb, ub = box(bounds, n, "(one per column of `A`)")
    if lsmr_maxiter is not None and lsmr_maxiter < 1:
        raise ValueError("`lsmr_maxiter` must be None or positive integer.")
    if not ((isinstance(lsmr_tol, float) and lsmr_tol > 0) or lsmr_tol in ("auto", None)):
        raise ValueError("`lsmr_tol` must be None, 'auto', or positive float.")
    if not (isinstance(tol, (int, float)) and tol >= 0):
        raise ValueError(f"`tol` must be a non-negative number, got {tol!r}.")
    b = b.astype(np.float64)
    if not np.isfinite(b).all():
        raise ValueError("`b` must contain only finite values.")
    values = A if kind == "dense" else (A.data if kind == "sparse" else None)
    if values is not None and not np.isfinite(values).all():
        raise ValueError("`A` must contain only finite values.")
    return lsq_solver, b, lb, ub


def lsq_linear(A, b, bounds=(-np.inf, np.inf), method="trf", tol=1e-10, lsq_solver=None,
               lsmr_tol=None, max_iter=None, verbose=0, *, lsmr_maxiter=None):
    """Solve ``min 1/2 ||A x - b||^2`` subject to ``lb <= x <= ub``.

    The signature, the semantics and the result of
    ``scipy.optimize.lsq_linear``.

    Parameters
    ----------
    A : array_like, sparse matrix or array, or LinearOperator, shape (m, n)
    b : array_like, shape (m,)
    bounds : 2-tuple of array_like or `scipy.optimize.Bounds`
        Lower and upper bounds on ``x`` (scalars apply to every variable).
    method : {'trf', 'bvls'}
        Trust-region reflective (:mod:`lsqcore.linear.trf`), for every
        ``A``; or bounded-variable least squares, an active-set method for
        a dense ``A`` (:mod:`lsqcore.linear.bvls`).
    tol : float
        Stop when the first-order optimality (trf: ``||v g||_inf``, BVLS:
        the KKT violation) is below ``tol``, or when an iteration decreases
        the cost by less than ``tol`` times it.
    lsq_solver : {None, 'exact', 'lsmr'}
        The linear solves: the pivoted QR of a dense ``A`` (``'exact'``,
        the default for dense ``A``) or LSMR (the default, and the only
        choice, for sparse and ``LinearOperator`` ``A``).
    lsmr_tol : None, 'auto' or float
        LSMR's ``atol = btol`` (default ``1e-2 tol``; ``'auto'`` adapts it
        to the optimality at each iteration).
    max_iter : int, optional
        Default 100 for trf, ``n`` for BVLS (after its start-up passes).
    verbose : {0, 1, 2}
        1: the termination report; 2: also a line per iteration.
    lsmr_maxiter : int, optional
        LSMR's iteration limit (default ``min(m, n)`` for the unbounded
        solution, ``n`` in trf's steps).

    Returns
    -------
    OptimizeResult
        ``x``, ``cost``, ``fun`` (``A x - b``), ``optimality``,
        ``active_mask`` (-1, 0, +1 per variable), ``unbounded_sol`` (the
        tuple ``numpy.linalg.lstsq`` or ``scipy.sparse.linalg.lsmr``
        returns, as scipy's), ``nit``, ``status``, ``message``,
        ``success`` (scipy's fields, no more).

    Raises
    ------
    ValueError
        For every invalid argument, before any work, naming it.
    """
    kind, A = _kind(A)
    lsq_solver, b, lb, ub = _check(A, kind, b, bounds, method, tol, lsq_solver, lsmr_tol,
                                   max_iter, verbose, lsmr_maxiter)
    m, n = A.shape
    if kind == "dense":
        A = np.ascontiguousarray(A, dtype=np.float64)
    auto_tol = lsmr_tol == "auto"
    if lsmr_tol is None or auto_tol:
        lsmr_tol = 1e-2 * tol
    unbounded, QR = _unbounded_solution(A, kind, b, lsq_solver, lsmr_tol, lsmr_maxiter)
    x = np.array(unbounded[0], dtype=np.float64)
    if np.all((lb <= x) & (x <= ub)):
        r = _times(A, kind, x) - b
        g = _times_transpose(A, kind, r)
        res = OptimizeResult(x=x, fun=r, cost=0.5 * float(r @ r),
                             optimality=float(np.max(np.abs(g), initial=0.0)),
                             active_mask=np.zeros(n), unbounded_sol=unbounded, nit=0, status=3,
                             message=TERMINATION_MESSAGES[3], success=True)
        if verbose:
            print(res.message)
            print(f"Final cost {res.cost:.4e}, first-order optimality {res.optimality:.2e}")
        return res
    if method == "bvls":
        from .linear import bvls
        history = np.empty((2 * n + (max_iter or n) + 2, 4))
        out = bvls.solve(A, b, x, lb, ub, float(tol), int(max_iter or 0), history)
    else:
        max_iter = 100 if max_iter is None else int(max_iter)
        history = np.empty((max_iter + 1, 4))
        out = _trf(A, kind, b, x, lb, ub, QR, float(tol), float(lsmr_tol), auto_tol,
                   int(lsmr_maxiter or 0), max_iter, history)
    status, nit, cost, optimality, initial_cost, r, active = out
    res = OptimizeResult(x=x, fun=r, cost=float(cost), optimality=float(optimality),
                         active_mask=active.astype(np.float64), unbounded_sol=unbounded,
                         nit=int(nit), status=int(status), message=TERMINATION_MESSAGES[status],
                         success=status > 0)
    if verbose:
        _report(res, history, verbose, initial_cost)
    return res


def _unbounded_solution(A, kind, b, lsq_solver, lsmr_tol, lsmr_maxiter):
    """scipy's ``unbounded_sol`` (``lstsq``'s ``(x, residuals, rank, s)`` or
    ``lsmr``'s ``(x, istop, itn, normr, normar, norma, conda, normx)``), and
    the pivoted QR of a dense ``A`` (:func:`lsqcore.linear.dense.factor`;
    None with LSMR), which trf's exact steps reuse."""
    if lsq_solver == "exact":
        from .linear.dense import factor, min_norm_from_factor
        m, n = A.shape
        QR = factor(A, b)
        x, rank, s = min_norm_from_factor(*QR, m)
        r = A @ x - b
        residuals = np.array([r @ r]) if rank == n and m > n else np.empty(0)
        return (x, residuals, int(rank), s), QR
    from ._lsmr import lsmr
    return lsmr(A, b, atol=lsmr_tol, btol=lsmr_tol, maxiter=lsmr_maxiter), None


def _times(A, kind, x):
    return A.matvec(x).ravel() if kind == "operator" else A @ x


def _times_transpose(A, kind, r):
    return A.rmatvec(r).ravel() if kind == "operator" else A.T @ r


def _trf(A, kind, b, x, lb, ub, QR, tol, lsmr_tol, auto_tol, lsmr_maxiter, max_iter, history):
    """:func:`lsqcore.linear.trf.solve` on the ``A`` at hand (``QR``: the exact
    solver's factor, or None for LSMR)."""
    from .linear import trf
    if kind == "dense":
        exact = QR is not None
        if not exact:
            QR = np.empty((0, 0)), np.empty(0, dtype=np.int64), np.empty(0)
        return trf.solve_dense(A, b, x, lb, ub, *QR, exact, tol, lsmr_tol, auto_tol,
                               lsmr_maxiter, max_iter, history)
    if kind == "sparse":
        C = A.tocsc()
        C.sum_duplicates()
        return trf.solve_csc(C.indptr.astype(np.int64), C.indices.astype(np.int64),
                             C.data.astype(np.float64), b, x, lb, ub, tol, lsmr_tol, auto_tol,
                             lsmr_maxiter, max_iter, history)
    from ._lsmr import lsmr_core
    from .linear._python import python_twin, operator_mv, operator_rmv
    solve = python_twin(trf.solve, trf)
    return solve(operator_mv, operator_rmv, lsmr_core.py_func, A, b, x, lb, ub,
                 np.empty((0, 0)), np.empty(0, dtype=np.int64), np.empty(0), False, tol,
                 lsmr_tol, auto_tol, lsmr_maxiter, max_iter, history)


def _report(res, history, verbose, initial_cost):
    """The iteration table (``verbose=2``) and the termination report."""
    if verbose == 2:
        print(f"{'Iteration':>11}{'Cost':>16}{'Cost reduction':>18}{'Step norm':>14}"
              f"{'Optimality':>14}")
        for k in range(res.nit):
            cost, change, step, opt = history[k]
            cells = [f"{v:14.2e}" if np.isfinite(v) else f"{'':14}" for v in (change, step, opt)]
            print(f"{k:>11}{cost:>16.4e}  {cells[0]}  {cells[1]}{cells[2]}")
    print(res.message)
    print(f"Number of iterations {res.nit}, initial cost {initial_cost:.4e}, final cost "
          f"{res.cost:.4e}, first-order optimality {res.optimality:.2e}.")
