"""Grouped finite differences: columns that share no row are differenced together.

Curtis, Powell and Reid ("On the estimation of sparse Jacobian matrices",
J. Inst. Maths Applics 13, 1974) observed that if columns ``j`` and ``k`` of
``J`` have no non-zero in a common row, one residual evaluation at
``x + h_j e_j + h_k e_k`` gives both columns: row ``i`` of the difference
``f(x + h_j e_j + h_k e_k) - f(x)`` belongs to whichever of the two columns
has a non-zero in row ``i``.  A *group* is a set of columns no two of which
share a row; a Jacobian then costs one evaluation per group (two with
3-point differences), not one per column.

Finding the fewest groups is colouring the *column-intersection graph*
(vertices the columns, an edge between two columns that share a row) with
the fewest colours, which is NP-hard (Coleman and More, "Estimation of
sparse Jacobian matrices and graph coloring problems", SIAM J. Numer. Anal.
20, 1983); the greedy colouring below is the usual practice: columns in a
given order, each takes the smallest colour that none of its neighbours
already has.  The graph is never built: the neighbours of column ``j`` are
found through its rows (CSC) and each row's columns (CSR), so the work is
``sum_i nnz(row i)^2`` and the memory O(nnz).  For a banded matrix of
bandwidth ``w`` (``J_ij != 0`` for ``|i - j| < w``) in natural order this
gives ``2w - 1`` groups, the optimum.

The differences themselves (:func:`grouped_points`, :func:`grouped_assemble`)
use the steps and schemes of the dense differences
(:func:`lsqcore._jacobian.fd_steps`: bound-aware, central or one-sided per
column) and the same formulas, entry by entry: the Jacobian's values on
the pattern, in its CSC order, are those of the dense differences bitwise
whenever the pattern holds every non-zero.
"""
import numpy as np
from numba import njit

from ._csc import uindex
from ._jit import kernel_jit
from ._jacobian import CENTRAL, fd_coordinate


@njit(cache=True, error_model="numpy")
def color_columns(col_ptr, col_rows, row_ptr, row_cols, order):
    """Greedy colouring of the column-intersection graph.

    Parameters
    ----------
    col_ptr, col_rows : ndarray of int64
        The pattern in CSC form: the rows of column ``j`` are
        ``col_rows[col_ptr[j]:col_ptr[j + 1]]``.
    row_ptr, row_cols : ndarray of int64
        The same pattern in CSR form.
    order : ndarray of int64
        The order in which the columns are coloured (a permutation).

    Returns
    -------
    groups : ndarray of int64 (n,)
        The group of each column, ``0 .. n_groups - 1``; no two columns of a
        group share a row.
    """
    n = col_ptr.size - 1
    groups = np.full(n, -1, dtype=np.int64)
    # forbidden[c] == j: colour c is taken by a neighbour of column j
    forbidden = np.full(n + 1, -1, dtype=np.int64)
    for j in order:
        for p in range(col_ptr[j], col_ptr[j + 1]):
            i = col_rows[p]
            for q in range(row_ptr[i], row_ptr[i + 1]):
                g = groups[row_cols[q]]
                if g >= 0:
                    forbidden[g] = j
        c = 0
        while forbidden[c] == j:
            c += 1
        groups[j] = c
    return groups


def group_columns(pattern, order=None):
    """The groups of the columns of a sparsity ``pattern`` (:func:`color_columns`).

    Parameters
    ----------
    pattern : array_like or scipy.sparse matrix (m, n)
        Non-zero (or, for a dense array, non-zero entries) where ``J`` may be
        non-zero.
    order : array_like of int, optional
        A permutation of the columns; default the natural order.

    Returns
    -------
    groups : ndarray of int64 (n,)
    """
    import scipy.sparse as sp
    P = sp.csc_matrix(pattern)
    P.eliminate_zeros()
    P.sort_indices()
    n = P.shape[1]
    if order is None:
        order = np.arange(n, dtype=np.int64)
    else:
        order = np.asarray(order, dtype=np.int64)
        if order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
            raise ValueError(f"`order` must be a permutation of the {n} columns")
    R = P.tocsr()
    return color_columns(P.indptr.astype(np.int64), P.indices.astype(np.int64),
                         R.indptr.astype(np.int64), R.indices.astype(np.int64), order)


@kernel_jit
def grouped_points(x, h, scheme, groups, stage, XQ):
    """Row ``g`` of ``XQ``: the ``stage``-th (1 or 2) point of group ``g``, with
    every column ``j`` of the group moved at once (stage 1: ``x_j + h_j``;
    stage 2: ``x_j - h_j`` for a central column, ``x_j + 2 h_j`` for a
    one-sided one)."""
    for g in range(XQ.shape[0]):
        for k in range(x.shape[0]):
            XQ[g, k] = x[k]
    for j in range(x.shape[0]):
        XQ[groups[j], j] = fd_coordinate(x[j], h[j], scheme[j], stage)


@kernel_jit
def grouped_assemble(f, FQ, h, scheme, three_point, stage, groups, col_ptr, col_rows, vals):
    """The Jacobian's values on the CSC pattern ``(col_ptr, col_rows)`` from the
    residuals ``FQ[g]`` at the points of :func:`grouped_points`.

    2-point: one stage.  3-point: stage 1 stores ``f(x + h)`` in ``vals``,
    stage 2 combines it with the second point (as
    :func:`lsqcore._jacobian.fd_assemble`).
    """
    for j in range(col_ptr.size - 1):
        g = groups[j]
        # one reciprocal per column, as the dense assembly: the same bits
        inv = 1.0 / h[j] if not three_point else 1.0 / (2.0 * h[j])
        p, end = uindex(col_ptr[j]), uindex(col_ptr[j + 1])
        while p < end:
            i = uindex(col_rows[p])
            if not three_point:
                vals[p] = (FQ[g, i] - f[i]) * inv
            elif stage == 1:
                vals[p] = FQ[g, i]
            elif scheme[j] == CENTRAL:
                vals[p] = (vals[p] - FQ[g, i]) * inv
            else:
                vals[p] = (-3.0 * f[i] + 4.0 * vals[p] - FQ[g, i]) * inv
            p += uindex(1)
