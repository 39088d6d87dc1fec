r"""Bounded-variable least squares: an active-set method.

Minimise ``F(x) = 1/2 ||A x - b||^2`` subject to ``lb <= x <= ub``
(``lsq_linear(method='bvls')``, dense ``A``), by the algorithm of Stark
and Parker (1995), the bounded generalisation of Lawson and Hanson's NNLS.

Derivation
----------
Every variable is either *free* or held at one of its bounds
(``on_bound`` = -1 lower, +1 upper, 0 free).  For the free set ``F`` the
unconstrained problem in ``x_F``, with the others fixed, is an ordinary
least-squares problem ``min ||A_F z - (b - A_B x_B)||``, solved from a
pivoted QR (:func:`lsqcore.linear.dense.solution`: the minimum-norm
solution when ``A_F`` is rank-deficient).

*KKT conditions.*  With ``g = A^T (A x - b)``, ``x`` is optimal iff ``g_j =
0`` for free ``j``, ``g_j >= 0`` at a lower bound and ``g_j <= 0`` at an
upper bound; the violation ``max(|g_F|, -g_j on_bound_j ...)`` (written
``max_j g_j on_bound_j`` over held variables, ``|g_j|`` over free ones) is
the optimality reported.

*Outer loop* (Stark and Parker's loop A).  Free the held variable whose
gradient most wants it to move inside the box (the largest ``g_j
on_bound_j``), then run the inner loop; stop when the optimality is below
``tol`` (status 1), when an outer iteration decreases ``F`` by less than
``tol F`` (status 2; the problem is degenerate or rounding dominates), or
after ``max_iter`` outer iterations (0).

*Inner loop* (loop B).  Solve on the free set.  If the solution ``z`` is
inside the box, take it.  Otherwise move from ``x_F`` towards ``z`` only as
far as the first bound crossed (``alpha = min (bound - x_j) / (z_j - x_j)``
over the violating ``j``), hold that variable at its bound and solve again
on the smaller free set.  ``F`` decreases strictly along the way (convex
combination with a better point), so no free set repeats and the loop ends.

*Start.*  The unbounded solution clipped to the box; variables clipped are
held, and the inner loop's rule (without the interpolation: violating
variables are moved to their bounds at once) is repeated until the free
variables' own solution is feasible.  These start-up passes count as
iterations, as in scipy, and ``max_iter`` (default ``n``) counts the outer
iterations after them.

References
----------
P. B. Stark, R. L. Parker, "Bounded-variable least-squares: an algorithm
and applications", Computational Statistics 10(2), 1995.
C. L. Lawson, R. J. Hanson, "Solving Least Squares Problems",
Prentice-Hall, 1974, ch. 23 (NNLS).
"""
import numpy as np
from numba import njit

from .._linalg import dot, norm2
from .dense import solution

_jit = njit(cache=True, error_model="numpy")


@_jit
def _free_solution(A, b, x, on_bound):
    """``(F, z)``: the free variables and the minimum-norm solution on them with
    the held ones fixed at their values in ``x``."""
    m, n = A.shape
    F = np.nonzero(on_bound == 0)[0]
    rhs = b.copy()
    for j in range(n):
        if on_bound[j] != 0:
            for i in range(m):
                rhs[i] -= A[i, j] * x[j]
    A_F = np.empty((m, F.size))
    for k in range(F.size):
        A_F[:, k] = A[:, F[k]]
    z = solution(A_F, rhs) if F.size > 0 else np.empty(0)
    return F, z


@_jit
def _residual(A, b, x, r):
    m, n = A.shape
    for i in range(m):
        acc = -b[i]
        for j in range(n):
            acc += A[i, j] * x[j]
        r[i] = acc


@_jit
def _gradient(A, r, g):
    m, n = A.shape
    for j in range(n):
        g[j] = 0.0
    for i in range(m):
        for j in range(n):
            g[j] += A[i, j] * r[i]


@_jit
def kkt_optimality(g, on_bound):
    """The largest violation of the KKT conditions (module docstring)."""
    opt = 0.0
    for j in range(g.shape[0]):
        opt = max(opt, abs(g[j]) if on_bound[j] == 0 else g[j] * on_bound[j])
    return opt


@_jit
def _start_up(A, b, x, lb, ub, on_bound, r, cost, history):
    """The start-up passes (module docstring): until the free variables' own
    solution is feasible.  Returns ``(passes, cost)``."""
    it = 0
    while (on_bound == 0).any():
        F, z = _free_solution(A, b, x, on_bound)
        violated = False
        for k in range(F.size):
            j = F[k]
            if z[k] < lb[j]:
                x[j] = lb[j]
                on_bound[j] = -1
                violated = True
            elif z[k] > ub[j]:
                x[j] = ub[j]
                on_bound[j] = 1
                violated = True
            else:
                x[j] = z[k]
        _residual(A, b, x, r)
        cost_new = 0.5 * dot(r, r)
        it += 1
        history[it, 0] = cost_new
        history[it, 1] = cost - cost_new
        cost = cost_new
        if not violated:
            break
    return it, cost


@_jit
def _inner_loop(A, b, x, lb, ub, on_bound):
    """Stark and Parker's loop B (module docstring): solve on the free set, and
    while that solution leaves the box, move to the first bound it crosses and
    hold the variable there."""
    while True:
        F, z = _free_solution(A, b, x, on_bound)
        alpha = 2.0
        hit = -1
        for k in range(F.size):
            j = F[k]
            if z[k] < lb[j] or z[k] > ub[j]:
                bound = lb[j] if z[k] < lb[j] else ub[j]
                a = (bound - x[j]) / (z[k] - x[j])
                if a < alpha:
                    alpha = a
                    hit = k
        if hit < 0:
            for k in range(F.size):
                x[F[k]] = z[k]
            return
        for k in range(F.size):
            j = F[k]
            x[j] = (1.0 - alpha) * x[j] + alpha * z[k]
        j = F[hit]
        if z[hit] < lb[j]:
            x[j] = lb[j]
            on_bound[j] = -1
        else:
            x[j] = ub[j]
            on_bound[j] = 1


@_jit
def solve(A, b, x, lb, ub, tol, max_iter, history):
    """BVLS from the unbounded solution ``x`` (overwritten with the solution).

    ``max_iter <= 0``: ``n``.  ``history`` (rows >= iterations + 1, 4
    columns) receives ``(cost, cost_change, step_norm, optimality)`` per
    iteration.  Returns ``(status, nit, cost, optimality, initial_cost, r,
    on_bound)``.
    """
    m, n = A.shape
    on_bound = np.zeros(n, dtype=np.int64)
    for j in range(n):
        if x[j] <= lb[j]:
            x[j] = lb[j]
            on_bound[j] = -1
        elif x[j] >= ub[j]:
            x[j] = ub[j]
            on_bound[j] = 1
    r = np.empty(m)
    g = np.empty(n)
    _residual(A, b, x, r)
    cost = 0.5 * dot(r, r)
    initial_cost = cost
    history[:] = np.nan
    history[0, 0] = cost
    it, cost = _start_up(A, b, x, lb, ub, on_bound, r, cost, history)
    max_iter = (max_iter if max_iter > 0 else n) + it
    status = -2
    optimality = 0.0
    nit = it + 1
    step = np.empty(n)
    for it in range(it, max_iter):
        nit = it + 1
        _gradient(A, r, g)
        optimality = kkt_optimality(g, on_bound)
        history[it, 3] = optimality
        if optimality < tol:
            status = 1
        if status != -2:
            break
        best = 0
        for j in range(1, n):
            if g[j] * on_bound[j] > g[best] * on_bound[best]:
                best = j
        on_bound[best] = 0
        for j in range(n):
            step[j] = x[j]
        _inner_loop(A, b, x, lb, ub, on_bound)
        for j in range(n):
            step[j] = x[j] - step[j] if on_bound[j] == 0 else 0.0
        _residual(A, b, x, r)
        cost_new = 0.5 * dot(r, r)
        if cost - cost_new < tol * cost:
            status = 2
        history[it + 1, 0] = cost_new
        history[it + 1, 1] = cost - cost_new
        history[it + 1, 2] = norm2(step)
        cost = cost_new
    if status == -2:
        status = 0
    return status, nit, cost, optimality, initial_cost, r, on_bound
