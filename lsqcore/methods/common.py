"""Pieces shared by the three methods: the factorisation of the scaled Jacobian."""
import math

from numba import njit

from .._layout import (vec, mat, M, N, O_J, O_B, O_R, O_RA, O_TAU, O_W1, O_W2,
                       O_FNEW, O_FS, O_SV, O_VV, O_UF, FULL_RANK)
from .._linalg import householder_qr, apply_qt, copy_r, jacobi_svd, EPS


@njit(cache=True, error_model="numpy")
def factor_scaled_jacobian(W, S, d, diag, augmented):
    """SVD of ``J_h = J diag(d)``, optionally stacked on ``diag(sqrt(diag))``.

    Writes the singular values ``s``, right singular vectors ``V`` and
    ``uf = U^T f_s`` (``f_s`` padded with zeros for the augmented rows) and
    sets the ``FULL_RANK`` flag.  The Jacobian itself is left untouched; the
    scaled copy is factored in the work matrix ``B``.
    """
    m = S[M]
    n = S[N]
    J = mat(W, S, O_J, m, n)
    Bt = mat(W, S, O_B, n, m)          # J_h stored by columns
    for i in range(m):
        for j in range(n):
            Bt[j, i] = J[i, j] * d[j]
    tau = vec(W, S, O_TAU, 2 * n)
    householder_qr(Bt, tau)
    qtf = vec(W, S, O_FNEW, m)      # f_new is free between trials: use it
    fs = vec(W, S, O_FS, m)
    for i in range(m):
        qtf[i] = fs[i]
    apply_qt(Bt, tau, qtf)
    R = mat(W, S, O_R, n, n)
    copy_r(Bt, R)
    uf = vec(W, S, O_UF, n)
    for i in range(n):
        uf[i] = qtf[i] if i < m else 0.0
    if augmented:
        # [R; diag(sqrt(diag))] stored by columns: (n, 2n)
        At = mat(W, S, O_RA, n, 2 * n)
        b = vec(W, S, O_W2, 2 * n)
        for j in range(n):
            for i in range(n):
                At[j, i] = R[i, j]
                At[j, n + i] = 0.0
            At[j, n + j] = math.sqrt(diag[j])
            b[j] = uf[j]
            b[n + j] = 0.0
        householder_qr(At, tau)
        apply_qt(At, tau, b)
        copy_r(At, R)
        for i in range(n):
            uf[i] = b[i]
    w1 = vec(W, S, O_W1, 2 * n)
    s = vec(W, S, O_SV, n)
    V = mat(W, S, O_VV, n, n)
    jacobi_svd(R, s, V, uf, w1)
    S[FULL_RANK] = 1 if s[n - 1] > rank_cutoff(S, s) else 0


@njit(cache=True, error_model="numpy")
def rank_cutoff(S, s):
    """Singular values at or below ``eps * max(m, n) * s_max`` count as zero."""
    return EPS * max(S[M], S[N]) * s[0]


@njit(cache=True, error_model="numpy")
def column_norms(J, out):
    m, n = J.shape
    for j in range(n):
        out[j] = 0.0
    for i in range(m):
        for j in range(n):
            out[j] += J[i, j] * J[i, j]
    for j in range(n):
        out[j] = math.sqrt(out[j])


@njit(cache=True, error_model="numpy")
def update_jac_scale(J, scale, scale_inv, first, tmp):
    """``x_scale='jac'``: ``scale_inv = max(scale_inv, ||J e_j||)``, ``scale = 1/scale_inv``.

    On the first call a zero column norm is replaced by 1.
    """
    column_norms(J, tmp)
    for j in range(J.shape[1]):
        if first:
            scale_inv[j] = tmp[j] if tmp[j] > 0.0 else 1.0
        else:
            scale_inv[j] = max(scale_inv[j], tmp[j])
        scale[j] = 1.0 / scale_inv[j]
