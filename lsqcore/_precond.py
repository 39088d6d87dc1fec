r"""Block-Jacobi preconditioning of LSMR on a compressed-column Jacobian.

LSMR's iteration count grows with the spread of the singular values of its
operator.  On a problem whose unknowns come in groups that enter the same
residuals (the 9 parameters of a camera and the 3 coordinates of a point in
bundle adjustment, the coefficients of one element of a mesh), most of that
spread is *inside* the diagonal blocks of the normal matrix: each group has
its own units and its own correlations.  A change of variables that makes
every diagonal block the identity removes it, and LSMR then converges in
the number of iterations that the coupling *between* groups needs (on the
bundle adjustment's ``J`` at ``x0``: 647 iterations without, 40 with; see
``docs/benchmarks.md``).

Derivation
----------
LSMR solves ``min ||A x - b||`` with ``A = [J D; diag(c)]`` (``D`` the
scaling of the step variables, ``c`` the diagonal rows of trf's bound term
and of the damping; a solve without them has ``c = 0``).  Its normal matrix
is ``G = A^T A = D J^T J D + diag(c^2)``.  Let the columns be partitioned
into blocks ``B_1, B_2, ...`` of consecutive columns, and let ``G_b``, the
diagonal block of ``G`` on ``B_b``, have the Cholesky factor ``G_b = L_b
L_b^T``.  With ``L = diag(L_1, L_2, ...)`` and ``x = L^{-T} y``,

.. math::  \min_y \| A L^{-T} y - b \|, \qquad
           (A L^{-T})^T (A L^{-T}) = L^{-1} G L^{-T},

whose diagonal blocks are all the identity.  LSMR runs on ``A L^{-T}``
through the products

.. math::  A L^{-T} v = A (L^{-T} v), \qquad (A L^{-T})^T u = L^{-1} (A^T u),

and the step is ``x = L^{-T} y``.  In exact arithmetic the least-squares
solution is the same for any nonsingular ``L``; only the iterations to reach
it change (and LSMR's stopping tests, which measure the transformed system).

*The blocks* are maximal runs of consecutive columns with the same row
pattern (the same stored rows), at most :data:`BMAX` long: columns that
share all their rows are the ones whose correlations the block captures,
and the pattern is what a Jacobian given by ``jac_sparsity`` or by a sparse
``jac`` knows about the model.  A problem without such runs gets blocks of
one column: the Jacobi preconditioner ``diag(G)^{-1/2}``.

*The factors* are computed for every new ``J`` (every outer iteration): the
Gram block ``G_b`` costs ``|B_b|^2 / 2`` products of columns, O(nnz
|B_b|) in all, then a ``|B_b|^3 / 6`` Cholesky and the inverse ``L_b^{-1}``
(lower triangular), kept so that both products are a triangular matrix
times a vector.  A pivot that is not positive (a zero column, or a block
that is singular to rounding) is replaced by the column's own norm (1 for a
zero column) with the rest of its column of ``L_b`` zeroed: ``L`` stays
nonsingular, and the preconditioner only weakens there.

The block structure (the size of each column's block) and ``L^{-1}`` are
kept in the workspace (``O_PRE``, ``O_PREC``), so nothing is allocated.

References
----------
C. Fong, M. Saunders, "LSMR: An iterative algorithm for sparse least-squares
problems", SIAM J. Sci. Comput. 33(5), 2011 (section 1: preconditioning by
a change of variables).
A. Bjorck, "Numerical Methods for Least Squares Problems", SIAM, 1996,
section 7.2 (preconditioners for the normal equations, block-diagonal
scaling).
B. Triggs, P. McLauchlan, R. Hartley, A. Fitzgibbon, "Bundle adjustment: a
modern synthesis", Vision Algorithms: Theory and Practice, 2000 (the block
structure of bundle adjustment's normal matrix).
"""
import math

from ._jit import hook_jit
from ._csc import uindex
from ._layout import PRECOND_BMAX

#: the longest block of columns (a camera of bundle adjustment has 6 to 12): the
#: layout's, which sizes ``O_PREC`` by it
BMAX = PRECOND_BMAX
#: the rows of ``O_PRE`` (3 x n): the size of each column's block, the diagonal
#: ``c`` of the operator's extra rows, a scratch vector
P_SIZE, P_C, P_TMP = 0, 1, 2
#: a pivot below this fraction of its diagonal entry counts as zero
PIVOT_RTOL = 1e-13


@hook_jit
def same_rows(cp, ri, a, b):
    """Whether columns ``a`` and ``b`` store the same rows."""
    pa, end = uindex(cp[a]), uindex(cp[a + 1])
    pb = uindex(cp[b])
    if uindex(cp[b + 1]) - pb != end - pa:
        return False
    while pa < end:
        if ri[pa] != ri[pb]:
            return False
        pa += uindex(1)
        pb += uindex(1)
    return True


@hook_jit
def find_blocks(cp, ri, size):
    """``size[j]``: the size of the block that starts at column ``j`` (maximal
    runs of at most :data:`BMAX` columns with the same rows; the other entries
    of a block are set to its size too)."""
    n = cp.shape[0] - 1
    j = 0
    while j < n:
        k = 1
        while j + k < n and k < BMAX and same_rows(cp, ri, j, j + k):
            k += 1
        for t in range(k):
            size[j + t] = k
        j += k


@hook_jit
def _column_dot(cp, v, a, b):
    """``sum_p v[cp[a] + p] v[cp[b] + p]`` of two columns with the same rows."""
    pa, end = uindex(cp[a]), uindex(cp[a + 1])
    pb = uindex(cp[b])
    acc = 0.0
    while pa < end:
        acc += v[pa] * v[pb]
        pa += uindex(1)
        pb += uindex(1)
    return acc


@hook_jit
def _factor_block(s, k, cp, v, d, c, Li):
    """``Li[s:s+k, :k] = L_b^{-1}`` for the block of columns ``s .. s+k-1``
    (module docstring): the Gram block, its Cholesky factor, its inverse, in
    place (row ``s + r`` holds row ``r`` of the block's matrix)."""
    # G_b (lower triangle) and, on the way, its diagonal
    for r in range(k):
        for t in range(r + 1):
            Li[s + r, t] = d[s + r] * d[s + t] * _column_dot(cp, v, s + r, s + t)
        Li[s + r, r] += c[s + r] * c[s + r]
    # Cholesky, by columns; a non-positive pivot: the column's own norm, column zeroed
    for j in range(k):
        gjj = Li[s + j, j]
        piv = gjj
        for q in range(j):
            piv -= Li[s + j, q] * Li[s + j, q]
        if piv > PIVOT_RTOL * gjj:
            ljj = math.sqrt(piv)
            Li[s + j, j] = ljj
            for i in range(j + 1, k):
                acc = Li[s + i, j]
                for q in range(j):
                    acc -= Li[s + i, q] * Li[s + j, q]
                Li[s + i, j] = acc / ljj
        else:
            Li[s + j, j] = math.sqrt(gjj) if gjj > 0.0 else 1.0
            for i in range(j + 1, k):
                Li[s + i, j] = 0.0
    # the inverse of the lower triangle, in place, from the last column back:
    # column j of L^-1 is -(L^-1)_jj times the inverted trailing block times L[j+1:, j]
    for j in range(k - 1, -1, -1):
        Li[s + j, j] = 1.0 / Li[s + j, j]
        ajj = -Li[s + j, j]
        for i in range(k - 1, j, -1):
            acc = 0.0
            for q in range(j + 1, i + 1):
                acc += Li[s + i, q] * Li[s + q, j]
            Li[s + i, j] = acc * ajj


@hook_jit
def factor(cp, ri, v, d, c, P, Li):
    """The blocks of the pattern ``(cp, ri)`` and ``L^{-1}`` for the values ``v``,
    the column scaling ``d`` and the extra rows' diagonal ``c`` (``P``: the rows
    of ``O_PRE``; ``Li``: ``O_PREC``, n x :data:`BMAX`)."""
    size = P[P_SIZE]
    find_blocks(cp, ri, size)
    n = size.shape[0]
    j = 0
    while j < n:
        k = int(size[j])
        _factor_block(j, k, cp, v, d, c, Li)
        j += k


@hook_jit
def times(P, Li, y, out, transpose):
    """``out = L^{-T} y`` (``transpose``) or ``out = L^{-1} y``, block by block
    (``out_b = (L_b^{-1})^T y_b`` or ``L_b^{-1} y_b``: a triangle of ``Li``'s rows)."""
    size = P[P_SIZE]
    n = y.shape[0]
    j = 0
    while j < n:
        k = int(size[j])
        for a in range(k):
            acc = 0.0
            if transpose:
                for b in range(a, k):
                    acc += Li[uindex(j + b), uindex(a)] * y[uindex(j + b)]
            else:
                for b in range(a + 1):
                    acc += Li[uindex(j + a), uindex(b)] * y[uindex(j + b)]
            out[uindex(j + a)] = acc
        j += k
