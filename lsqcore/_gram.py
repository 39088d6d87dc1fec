r"""The triangular factor of a well-conditioned Jacobian from its Gram matrix.

Every step of the trust-region methods is computed from ``R`` and ``uf``,
where (with ``J_h`` the scaled Jacobian, ``C`` a non-negative diagonal that
only trf's bound term makes non-zero, and ``f_s`` the residuals)

.. math::

    \begin{bmatrix} J_h \\ C^{1/2} \end{bmatrix} = Q R, \qquad
    uf = \left(Q^T \begin{bmatrix} f_s \\ 0 \end{bmatrix}\right)_{1:n}.

Nothing downstream uses ``Q`` itself (:mod:`lsqcore._linalg`).  Both follow
from the Gram matrix and the gradient alone: ``R^T R = J_h^T J_h + C`` and
``R^T uf = J_h^T f_s``, so ``R`` is the Cholesky factor of ``G = J_h^T J_h
+ C`` (unique with a positive diagonal; Householder's ``R`` differs from it
only in the signs of its rows, and ``uf`` in the same signs, which no
quantity the methods use depends on) and ``uf`` one forward substitution.

The Gram matrix of the unscaled Jacobian, ``J^T J``, is formed once per
Jacobian, together with ``g = J^T f_s`` which the methods need anyway
(:func:`gram`, called when ``J`` is evaluated); the column norms ``||J
e_j||`` (the ``gtol`` cosine, ``x_scale='jac'``) are the square roots of its
diagonal, and the scaled ``G = D J^T J D + C`` of every factorisation is
``n^2`` products away.  That is ``m n (n + 3) / 2`` multiply-adds in
independent dot products per Jacobian, where the Householder route spends
about ``m n^2`` (``2 m n^2 - 2 n^3 / 3`` flops) in dependent sweeps, plus
the column norms and ``g`` again.

The price is accuracy: forming ``G`` commits an error of about ``m eps
||J_h||^2`` (Higham 2002, sec. 20.4) and Cholesky is backward stable for it
(Higham 2002, thm. 10.3), so the computed ``R`` carries a relative error of
about ``(m + n) eps kappa(R)^2``, where the QR route's is ``eps kappa(R)``.
This route is therefore taken only when that bound, with ``kappa`` the
Frobenius condition number ``||R||_F ||R^{-1}||_F`` (an upper bound on the
2-norm one, computed exactly from the explicit inverse), is at most
``GRAM_RTOL``: every ``R`` it returns is then the QR route's to ten digits,
and any other Jacobian (ill-conditioned, rank-deficient, with a zero
column, with fewer rows than columns, non-finite) goes to Householder QR as
before.  The steps, predicted reductions and radii computed from ``R``
change at that level; the answers are set by ``f`` and ``J`` at the
solution, not by ``R``.  (The Jacobi SVD of :mod:`lsqcore._linalg`, whose
relative accuracy in the small singular values the ill-conditioned problems
need, is never fed a Gram-route ``R`` of such a problem.)

References
----------
N. J. Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed.,
SIAM, 2002, ch. 10 (Cholesky) and ch. 20 (the normal equations).
A. Bjorck, "Numerical Methods for Least Squares Problems", SIAM, 1996, sec. 2.2.
"""
import math

from numba import njit

from ._jit import kernel_jit
from ._linalg import EPS, dot_range

#: the Gram route is taken when its error bound ``(m + n) eps kappa_F(R)^2``
#: is at most this (``kappa_F <= 120`` for a 25 x 5 Jacobian, ``<= 20`` for
#: 1000 x 4; the model library's well-posed fits sit at 5 to 15)
GRAM_RTOL = 1e-10


@kernel_jit
def gram_possible(m, n):
    """Whether the Gram route can pass its bound for some ``m x n`` Jacobian:
    ``kappa_F(R) >= n`` always (``n = trace(R R^-1) <= ||R||_F ||R^-1||_F``),
    so for ``n^2 (m + n) eps > GRAM_RTOL`` it never can (``m`` above 7 000 for
    ``n = 8``, 28 000 for ``n = 4``) and ``J^T J`` is not formed at all."""
    return m >= n and n * n * (m + n) * EPS <= GRAM_RTOL


@njit(cache=True, error_model="numpy", inline="always")
def _dot2(a, b0, b1, hi):
    """``(a . b0, a . b1)`` over ``[0, hi)`` in one sweep, four chains each
    (the sums of :func:`lsqcore._linalg.dot_range`, bit for bit)."""
    c0 = c1 = c2 = c3 = 0.0
    e0 = e1 = e2 = e3 = 0.0
    i = 0
    while i + 4 <= hi:
        c0 += a[i] * b0[i]
        c1 += a[i + 1] * b0[i + 1]
        c2 += a[i + 2] * b0[i + 2]
        c3 += a[i + 3] * b0[i + 3]
        e0 += a[i] * b1[i]
        e1 += a[i + 1] * b1[i + 1]
        e2 += a[i + 2] * b1[i + 2]
        e3 += a[i + 3] * b1[i + 3]
        i += 4
    while i < hi:
        c0 += a[i] * b0[i]
        e0 += a[i] * b1[i]
        i += 1
    return (c0 + c1) + (c2 + c3), (e0 + e1) + (e2 + e3)


@kernel_jit
def gram(At, b, G, c):
    """Upper triangle of ``G = A^T A`` (zero below) and ``c = A^T b``, ``A``
    stored by columns (row ``j`` of ``At`` is column ``j``); two dot products
    per sweep of a column (the gradient is the partner of a column left
    without one).  ``G[j, j]`` and ``c`` are :func:`lsqcore._linalg.dot_range`'s
    sums, bit for bit."""
    cols, rows = At.shape
    for a in range(cols):
        x = At[a]
        k = a
        while k + 2 <= cols:
            G[a, k], G[a, k + 1] = _dot2(x, At[k], At[k + 1], rows)
            k += 2
        if k < cols:
            G[a, k], c[a] = _dot2(x, At[k], b, rows)
        else:
            c[a] = dot_range(x, b, 0, rows)
        for k in range(a):
            G[a, k] = 0.0


@kernel_jit
def gram_factor(G, g, d, C, shifted, m, R, uf, Ri):
    """``R`` and ``uf`` of ``[J D; C^(1/2)]`` (``shifted``) or of ``J D``, ``D =
    diag(d)``, by the Gram route, when its error bound allows (see the module
    docstring).

    Parameters
    ----------
    G : ndarray, shape (n, n)
        Upper triangle of ``J^T J`` (:func:`gram`).
    g : ndarray, shape (n,)
        ``J^T f_s``.
    d, C : ndarray, shape (n,)
        The column scaling; the non-negative diagonal added when ``shifted``.
    m : int
        Rows of ``J`` (for the error bound).
    R, Ri : ndarray, shape (n, n)
        Output: the upper-triangular factor (zero below the diagonal);
        scratch for its inverse.
    uf : ndarray, shape (n,)
        Output: ``R^{-T} D J^T f_s``.

    Returns
    -------
    bool
        True when ``R`` and ``uf`` were produced; False leaves them
        undefined and the caller factors by Householder QR.
    """
    n = R.shape[0]
    if not gram_possible(m, n):
        return False
    # Up-looking Cholesky of G = D J^T J D + C: step i completes column i of R
    # (row i of L = R^T) from the columns before it, then uf[i], then row i of
    # L^{-1} (held in Ri, lower triangle), so ||R||_F^2 and ||R^{-1}||_F^2
    # accumulate in the same sweep; the reciprocal of each pivot is kept on
    # Ri's diagonal and is the only division.
    nr = 0.0
    ni = 0.0
    for i in range(n):
        di = d[i]
        for k in range(i):
            t = (d[k] * di) * G[k, i]
            for p in range(k):
                t -= R[p, i] * R[p, k]
            R[k, i] = t * Ri[k, k]
            R[i, k] = 0.0
        s = (di * di) * G[i, i]
        if shifted:
            s += C[i]
        u = di * g[i]
        for p in range(i):
            s -= R[p, i] * R[p, i]
            u -= R[p, i] * uf[p]
        if not (0.0 < s < math.inf):
            return False            # G singular, indefinite in rounding, or not finite
        r = math.sqrt(s)
        ri = 1.0 / r
        R[i, i] = r
        Ri[i, i] = ri
        uf[i] = u * ri
        nr += s
        ni += ri * ri
        for p in range(i):
            nr += R[p, i] * R[p, i]
        for k in range(i):
            t = 0.0
            for p in range(k, i):
                t += R[p, i] * Ri[p, k]
            t = -t * ri
            Ri[i, k] = t
            ni += t * t
    return nr * ni * (m + n) * EPS <= GRAM_RTOL
