r"""Dense linear least squares from one pivoted QR factorization.

Two problems of :func:`lsqcore.lsq_linear` on a dense ``A`` (m x n) are
solved here, both from ``A P = Q R`` (:func:`lsqcore._linalg.pivoted_qr`,
Householder reflections with column pivoting).

**The minimum-norm solution** of ``min ||A x - b||`` (what
``numpy.linalg.lstsq(A, b, rcond=-1)`` returns).  With ``y = P^T x``,
``||A x - b||^2 = ||R y - Q^T b||^2 + const``, so ``x`` is ``P`` times the
minimum-norm solution of the small ``R y = (Q^T b)_{1..k}``, ``k = min(m,
n)`` (``R`` padded with zero rows to n x n when ``m < n``).  The one-sided
Jacobi SVD of ``R^T = U' diag(s) V'^T`` (:func:`lsqcore._linalg.jacobi_svd`;
the singular values of ``R`` are those of ``A``) gives it as ``y = U'
diag(1/s) V'^T Q^T b`` over the singular values above ``eps max(m, n)
s_max`` (numpy's default ``rcond``; the rank is their number).  Jacobi's
relative accuracy is what keeps a nearly rank-deficient ``A`` (scipy's
gh-9982) honest; on ``R^T`` rather than ``R`` it converges in fewer sweeps,
because the pivoted QR has graded the rows of ``R`` (Demmel and Veselic
1992, sec. 5), and it runs on Fortran-ordered arrays so that its column
rotations stream through memory.

**The regularized step with a fixed factor** (trf's step,
:mod:`lsqcore.linear.trf`): ``min ||A D p - t||^2 + ||E p||^2`` for
diagonal ``D``, ``E`` that change every iteration while ``A`` does not.
Since ``A D P = Q (R D_P)`` with ``D_P = P^T D P`` (``R``'s columns scaled),
the problem is ``min ||[R D_P; E_P] z - [Q^T t; 0]||`` in ``z = P^T p``:
an upper-triangular block over a diagonal one.  Each diagonal row is
rotated into the triangle by plane rotations (Givens), one column at a
time, as MINPACK's ``qrsolv`` does (More, Garbow and Hillstrom 1980): row
``j`` of ``E_P`` meets the triangle at column ``j``, and the rotation that
zeroes it there fills it further right, where the next rows of the
triangle absorb it.  O(n^2) per row, O(n^3) in all, never touching the m
rows again.  The triangle left may be singular (a rank-deficient ``A``
where ``E`` is zero); its diagonal entries below ``eps max(m, n)`` times
the largest are dropped with their variables (a basic solution of the
rest), which is the rank decision of the pivoted factor.

References
----------
P. Businger, G. H. Golub, "Linear least squares solutions by Householder
transformations", Numer. Math. 7, 1965.
J. J. More, B. S. Garbow, K. E. Hillstrom, "User guide for MINPACK-1",
Argonne ANL-80-74, 1980 (``qrsolv``).
J. Demmel, K. Veselic, "Jacobi's method is more accurate than QR", SIAM J.
Matrix Anal. Appl. 13(4), 1992.
"""
import numpy as np
from numba import njit

from .._linalg import EPS, pivoted_qr, apply_qt, copy_r, jacobi_svd, back_substitute
from .._lsmr import sym_ortho

_jit = njit(cache=True, error_model="numpy")


#: a pivoted ``R`` whose diagonal stays above this fraction of ``|R_00|`` has full
#: column rank for :func:`solution` (the SVD's cutoff is ``eps s_max``: a margin
#: of six orders of magnitude for the diagonal's estimate of ``s_min``)
FULL_RANK_RTOL = 1e-10


@_jit
def factor(A, b):
    """``A P = Q R``: ``(R, perm, Q^T b)``, ``R`` n x n (zero rows below ``min(m, n)``),
    ``Q^T b`` its first n entries (zero below ``min(m, n)``)."""
    m, n = A.shape
    At = np.ascontiguousarray(A.T)
    tau = np.empty(max(1, min(m, n)))
    perm = np.empty(n, dtype=np.int64)
    pivoted_qr(At, tau, perm, np.empty(2 * n))
    R = np.empty((n, n))
    copy_r(At, R)
    qtb = b.copy()
    apply_qt(At, tau, qtb)
    QTb = np.zeros(n)
    for i in range(min(m, n)):
        QTb[i] = qtb[i]
    return R, perm, QTb


@_jit
def min_norm_from_factor(R, perm, QTb, m):
    """The minimum-norm least-squares solution from :func:`factor`'s output, as
    ``numpy.linalg.lstsq(A, b)`` (singular values below ``eps max(m, n) s_max``
    count as zero: the rounding of the QR before the SVD is of that order, so
    the ``eps s_max`` of ``rcond=-1`` would keep the noise of an exactly
    dependent column and return a huge ``x``).

    Returns
    -------
    x : ndarray (n,)
    rank : int
        The number of singular values above the cutoff.
    s : ndarray (min(m, n),)
        The singular values of ``A``, decreasing.
    """
    n = R.shape[0]
    # Jacobi on R^T = U' S V'^T (so R = V' S U'^T), by columns in Fortran order
    U = R.copy().T                     # a copy: trf reuses R
    V = np.empty((n, n)).T
    s = np.empty(n)
    jacobi_svd(U, s, V, np.zeros(n), np.empty(n))
    cutoff = EPS * max(m, n) * s[0] if n > 0 else 0.0
    c = np.zeros(n)                     # S^+ V'^T Q^T b
    rank = 0
    for k in range(n):
        if s[k] > cutoff:
            rank += 1
            acc = 0.0
            for i in range(n):
                acc += V[i, k] * QTb[i]
            c[k] = acc / s[k]
    x = np.empty(n)
    for j in range(n):
        acc = 0.0
        for k in range(rank):
            acc += U[j, k] * c[k]
        x[perm[j]] = acc
    return x, rank, s[:min(m, n)].copy()


@_jit
def min_norm_solution(A, b):
    """:func:`min_norm_from_factor` of :func:`factor`: ``(x, rank, s)``."""
    R, perm, QTb = factor(A, b)
    return min_norm_from_factor(R, perm, QTb, A.shape[0])


@_jit
def solution(A, b):
    """A least-squares solution of ``A x = b``: by back substitution when the
    pivoted ``R`` has full column rank (:data:`FULL_RANK_RTOL`), the unique
    one; else the minimum-norm one (the SVD of ``R``)."""
    m, n = A.shape
    R, perm, QTb = factor(A, b)
    full = m >= n
    for k in range(n):
        if not abs(R[k, k]) > FULL_RANK_RTOL * abs(R[0, 0]):
            full = False
    if not full:
        return min_norm_from_factor(R, perm, QTb, m)[0]
    y = np.empty(n)
    back_substitute(R, QTb, y)
    x = np.empty(n)
    for j in range(n):
        x[perm[j]] = -y[j]
    return x


@_jit
def regularized_solution(R, perm, t, d, e, m, z, T):
    """``p = argmin ||A diag(d) p - t||^2 + ||diag(e) p||^2`` from ``A P = Q R``, into ``z``.

    ``t`` holds ``(Q^T t)`` (n entries, as :func:`factor` gives ``Q^T b``),
    ``T`` is n x n scratch; ``m`` is ``A``'s row count (for the rank
    threshold).  See the module docstring.
    """
    n = R.shape[0]
    v = np.empty(n)
    w = np.empty(n)
    for i in range(n):
        v[i] = t[i]
        for j in range(n):
            T[i, j] = R[i, j] * d[perm[j]] if j >= i else 0.0
    for j in range(n):
        ej = e[perm[j]]
        if ej == 0.0:
            continue
        for k in range(n):
            w[k] = 0.0
        w[j] = ej
        rhs = 0.0
        for k in range(j, n):
            if w[k] == 0.0:
                continue
            c, s, r = sym_ortho(T[k, k], w[k])
            T[k, k] = r
            w[k] = 0.0
            for l in range(k + 1, n):
                tkl = T[k, l]
                T[k, l] = c * tkl + s * w[l]
                w[l] = -s * tkl + c * w[l]
            vk = v[k]
            v[k] = c * vk + s * rhs
            rhs = -s * vk + c * rhs
    big = 0.0
    for i in range(n):
        big = max(big, abs(T[i, i]))
    threshold = EPS * max(m, n) * big
    y = w
    for i in range(n - 1, -1, -1):
        y[i] = 0.0
        if not abs(T[i, i]) > threshold:
            continue
        acc = v[i]
        for j in range(i + 1, n):
            acc -= T[i, j] * y[j]
        y[i] = acc / T[i, i]
    for j in range(n):
        z[perm[j]] = y[j]
