"""Sparse Jacobians at the front end: the pattern, its groups, a user's ``J`` in it.

A solve with a sparse Jacobian fixes its pattern once, before the first
iteration: from ``jac_sparsity`` (finite differences: the pattern's
non-zeros, and the groups of columns differenced together,
:mod:`lsqcore._groups`), or from the structure of the ``J`` that ``jac``
returns at ``x0`` (its stored entries, explicit zeros included).  The
kernel keeps it in compressed-column form (:mod:`lsqcore._csc`); each later
``J`` is read into it by :meth:`Pattern.load`, in O(nnz).  A ``J`` may store
fewer entries than the pattern (a value that became an exact zero and was
dropped); an entry outside the pattern is an error, since the solver's
memory and work were sized by the pattern.

``result.jac`` is returned as scipy returns it: a ``scipy.sparse.csr_array``.
"""
import numpy as np
from numba import njit

from . import _layout as L
from ._groups import group_columns


def is_sparse(J):
    """A ``scipy.sparse`` matrix or array (without importing scipy for a dense ``J``)."""
    return type(J).__module__.startswith("scipy.sparse") and hasattr(J, "tocsc")


class PatternJacobian:
    """A Jacobian given as the values of a fixed sparsity pattern, filled in place.

    ``least_squares(fun, x0, jac=PatternJacobian(fill, sparsity), ...)``: at
    every Jacobian ``fill(x, values, *args)`` writes the non-zeros of ``J``
    at ``x`` into ``values`` (length ``nnz``), in the pattern's
    compressed-column order -- column by column, rows ascending within a
    column: entry ``k`` is ``J[rows[k], cols[k]]``.  No sparse matrix is
    built per iteration, and with ``fun`` and ``fill`` both ``numba.njit``
    functions the whole solve runs in compiled code: memory O(nnz + m + n),
    no dense ``m x n`` array anywhere.  Solved as a sparse ``J`` is
    ('trf' or 'dogbox', LSMR); ``result.jac`` is a ``csr_array``.

    Parameters
    ----------
    fill : callable
        ``fill(x, values, *args)`` (``**kwargs`` too, from Python), writing
        all ``nnz`` values (an entry left unwritten holds 0).
    sparsity : array_like or scipy.sparse matrix, shape (m, n)
        Non-zero where ``J`` may be non-zero.

    Attributes
    ----------
    rows, cols : ndarray of int64, shape (nnz,)
        Row and column of each value, in ``fill``'s order.
    nnz : int
        Number of values.
    shape : tuple
        ``(m, n)``.
    """

    def __init__(self, fill, sparsity):
        if not callable(fill):
            raise TypeError(f"`fill` must be callable, got {type(fill).__name__}.")
        import scipy.sparse as sp
        P = sparsity if sp.issparse(sparsity) else np.atleast_2d(np.asarray(sparsity))
        if P.ndim != 2:
            raise ValueError(f"`sparsity` must be a 2-d (m, n) pattern, got shape {P.shape}.")
        m, n = P.shape
        C = _canonical_csc(P)
        C.eliminate_zeros()
        self.fill = fill
        self.pattern = Pattern(C, m, n, np.zeros(n, np.int64), 0)
        self.shape = (m, n)
        self.nnz = self.pattern.nnz
        self.rows = self.pattern.ri.copy()
        self.cols = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.pattern.cp))

    def pattern_for(self, n):
        """The pattern, checked against ``n`` unknowns."""
        if self.shape[1] != n:
            raise ValueError(f"`jac`'s `sparsity` must have n = {n} columns (the size of "
                             f"`x0`), got shape {self.shape}.")
        return self.pattern

    def python_jac(self):
        """``jac(x, *args, **kwargs)`` for the Python driver: the filled values
        (read by :meth:`Pattern.load`)."""
        fill, nnz = self.fill, self.nnz

        def jac(x, *args, **kwargs):
            values = np.zeros(nnz)
            fill(x, values, *args, **kwargs)
            return FilledValues(values)
        return jac

    def __repr__(self):
        return f"PatternJacobian({getattr(self.fill, '__name__', self.fill)!r}, " \
            f"shape={self.shape}, nnz={self.nnz})"


class FilledValues:
    """The values a :class:`PatternJacobian` wrote, in its pattern's order."""
    __slots__ = ("values",)

    def __init__(self, values):
        self.values = values


def is_operator(J):
    """A ``scipy.sparse.linalg.LinearOperator``."""
    if not type(J).__module__.startswith("scipy.sparse"):
        return False
    from scipy.sparse.linalg import LinearOperator
    return isinstance(J, LinearOperator)


def jacobian_pattern(J, m, n):
    """What the solve keeps of the sparse ``J`` that ``jac`` returned at ``x0``:
    its :class:`Pattern`, or for a ``LinearOperator`` the operator itself
    (:class:`lsqcore._operator.OperatorJacobian`)."""
    if is_operator(J):
        from ._operator import OperatorJacobian
        return OperatorJacobian(J, m, n)
    return Pattern.from_jacobian(J, m, n)


def _canonical_csc(A):
    import scipy.sparse as sp
    C = sp.csc_array(A, copy=True)
    C.sum_duplicates()              # sorted row indices, one entry per position
    return C


class Pattern:
    """The fixed compressed-column pattern of a solve's sparse Jacobian.

    Attributes
    ----------
    cp, ri : ndarray of int64
        Column pointers (n + 1) and row indices (nnz), rows sorted in each column.
    groups : ndarray of int64 (n,)
        The group of each column for finite differences (zeros with a ``jac``).
    ngroups : int
        Number of groups (0 with a ``jac``: nothing is differenced).
    """

    def __init__(self, C, m, n, groups, ngroups):
        self.m, self.n = m, n
        self.cp = C.indptr.astype(np.int64)
        self.ri = C.indices.astype(np.int64)
        self.groups = groups
        self.ngroups = ngroups

    @property
    def nnz(self):
        return int(self.ri.size)

    @classmethod
    def from_sparsity(cls, jac_sparsity, m, n):
        """The pattern of ``jac_sparsity`` (array_like or sparse, non-zero where
        ``J`` may be) and its groups; a wrong shape is a ``ValueError`` (``m``
        None: any number of rows, checked later by :meth:`check_rows`)."""
        import scipy.sparse as sp
        P = jac_sparsity if sp.issparse(jac_sparsity) else np.atleast_2d(jac_sparsity)
        if m is None and P.ndim == 2:
            m = P.shape[0]
        if P.shape != (m, n):
            raise ValueError(f"`jac_sparsity` must have shape (m, n) = {(m, n)} (residuals, "
                             f"variables), got {P.shape}.")
        C = _canonical_csc(P)
        C.eliminate_zeros()
        groups = group_columns(C)
        return cls(C, m, n, groups, int(groups.max()) + 1 if n else 0)

    @classmethod
    def from_jacobian(cls, J, m, n):
        """The structure of a sparse ``J`` (its stored entries); a wrong shape is
        a ``ValueError``."""
        if J.shape != (m, n):
            raise ValueError(f"`jac` must return a matrix of shape {(m, n)}, got {J.shape}.")
        return cls(_canonical_csc(J), m, n, np.zeros(n, np.int64), 0)

    def check_rows(self, m):
        """A ``ValueError`` unless the pattern has ``m`` rows (the residuals of ``f(x0)``)."""
        if self.m != m:
            raise ValueError(f"`jac_sparsity` must have shape (m, n) = {(m, self.n)}, got "
                             f"{(self.m, self.n)}.")

    def load(self, J, out):
        """The values of ``J`` (any ``scipy.sparse`` format) into ``out``, in the
        pattern's order (zeros where ``J`` stores nothing); or the values a
        :class:`PatternJacobian` filled."""
        if type(J) is FilledValues:
            out[:] = J.values
            return
        if not is_sparse(J) or J.shape != (self.m, self.n):
            what = type(J).__name__ if not is_sparse(J) else f"shape {J.shape}"
            raise ValueError(f"`jac` returned a sparse matrix of shape {(self.m, self.n)} at "
                             f"`x0` and a {what} later: it must keep returning one.")
        C = _canonical_csc(J)
        if np.array_equal(C.indptr, self.cp) and np.array_equal(C.indices, self.ri):
            out[:] = C.data
        elif not _scatter(self.cp, self.ri, C.indptr.astype(np.int64),
                          C.indices.astype(np.int64), C.data.astype(np.float64), out):
            raise ValueError("the sparsity structure of `jac` changed: it returned a "
                             "non-zero outside the pattern of its value at `x0` (the "
                             "solver is sized by that pattern; return the same structure, "
                             "with explicit zeros where needed).")

    def write(self, S):
        """The pattern and the groups into ``S`` (after its fixed slots), and the
        address of the kernel's sparse operations (:mod:`lsqcore._csc_entry`)."""
        from ._csc_entry import sparse_entry
        S[L.SPARSE_HOOKS] = sparse_entry()
        n, k = self.n, self.nnz
        o = int(S[L.I_CPTR])
        S[o:o + n + 1] = self.cp
        o = int(S[L.I_ROWS])
        S[o:o + k] = self.ri
        o = int(S[L.I_GROUP])
        S[o:o + n] = self.groups

    def raise_pending(self):
        """Nothing: a pattern's operations cannot raise (an operator's can,
        :meth:`lsqcore._operator.OperatorJacobian.raise_pending`)."""

    def matrix(self, values):
        """``J`` as scipy returns it: a ``csr_array`` of a copy of ``values``."""
        import scipy.sparse as sp
        return sp.csc_array((values.copy(), self.ri.copy(), self.cp.copy()),
                            shape=(self.m, self.n)).tocsr()


@njit(cache=True)
def _scatter(cp, ri, Cp, Ci, Cd, out):
    """``out`` = the entries ``(Cp, Ci, Cd)`` (compressed columns, sorted) placed in
    the pattern ``(cp, ri)``; False if one falls outside it."""
    for j in range(cp.shape[0] - 1):
        p = cp[j]
        for q in range(Cp[j], Cp[j + 1]):
            while p < cp[j + 1] and ri[p] < Ci[q]:
                out[p] = 0.0
                p += 1
            if p == cp[j + 1] or ri[p] != Ci[q]:
                return False
            out[p] = Cd[q]
            p += 1
        while p < cp[j + 1]:
            out[p] = 0.0
            p += 1
    return True
