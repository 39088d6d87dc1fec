"""Pieces shared by the methods: the factorisation of the scaled Jacobian."""
import math

from .._jit import kernel_jit, hook_jit
from .._csc_entry import sparse_op, COLUMN_NORMS
from .._layout import (vec, mat, M, N, SPARSE, O_J, O_B, O_R, O_RA, O_TAU, O_W1, O_W2,
                       O_FNEW, O_FS, O_SV, O_VV, O_UF, O_UFS, O_U, O_G, O_GRAM,
                       O_SCALE, O_D, O_GH, SVD_READY)
from .._gram import gram_factor, gram_possible
from .._linalg import (householder_qr_qt, copy_r, jacobi_svd, EPS,
                       well_conditioned, back_substitute, solve_trust_region,
                       pinv_step, dot_range)


@kernel_jit
def factor_at_scale(W, S):
    """``d = x_scale`` (the scaling of the step variables), ``g_h = d g``, and
    ``R``, ``uf`` of ``J diag(d)`` (:func:`factor_scaled_jacobian`): the
    factorisation of 'lm' and 'gn', whose scaling is ``x_scale`` alone."""
    n = S[N]
    scale = vec(W, S, O_SCALE, n)
    d = vec(W, S, O_D, n)
    g = vec(W, S, O_G, n)
    g_h = vec(W, S, O_GH, n)
    for i in range(n):
        d[i] = scale[i]
        g_h[i] = scale[i] * g[i]
    factor_scaled_jacobian(W, S, d, d, False)


@kernel_jit
def factor_scaled_jacobian(W, S, d, diag, augmented):
    """``R`` and ``uf`` of ``J_h = J diag(d)``, optionally stacked on ``diag(sqrt(diag))``.

    Writes the triangular factor ``R`` and ``uf = (Q^T f_s)[:n]`` (``f_s``
    padded with zeros for the augmented rows); the SVD of ``R`` is computed
    later, only if a step needs it (:func:`ensure_svd`).  The Jacobian itself
    is left untouched; the scaled copy is factored in the work matrix ``B``.
    A well-conditioned ``J_h`` is factored through its Gram matrix
    (:mod:`lsqcore._gram`), any other by Householder QR.
    """
    m = S[M]
    n = S[N]
    R = mat(W, S, O_R, n, n)
    uf = vec(W, S, O_UF, n)
    S[SVD_READY] = 0
    if gram_factor(mat(W, S, O_GRAM, n, n), vec(W, S, O_G, n), d, diag, augmented, m, R, uf,
                   mat(W, S, O_U, n, n)):
        return
    J = mat(W, S, O_J, m, n)
    Bt = mat(W, S, O_B, n, m)          # J_h stored by columns
    for j in range(n):              # row by row of Bt: contiguous stores
        dj = d[j]
        for i in range(m):
            Bt[j, i] = J[i, j] * dj
    fs = vec(W, S, O_FS, m)
    tau = vec(W, S, O_TAU, 2 * n)
    qtf = vec(W, S, O_FNEW, m)      # f_new is free between trials: use it
    for i in range(m):
        qtf[i] = fs[i]
    householder_qr_qt(Bt, tau, qtf)
    copy_r(Bt, R)
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
        householder_qr_qt(At, tau, b)
        copy_r(At, R)
        for i in range(n):
            uf[i] = b[i]


@kernel_jit
def ensure_svd(W, S):
    """SVD of ``R`` (kept intact): ``R = U diag(s) V^T`` and ``ufs = U^T uf``, once per Jacobian."""
    if S[SVD_READY] == 1:
        return
    n = S[N]
    R = mat(W, S, O_R, n, n)
    U = mat(W, S, O_U, n, n)
    uf = vec(W, S, O_UF, n)
    ufs = vec(W, S, O_UFS, n)
    for i in range(n):
        ufs[i] = uf[i]
        for j in range(n):
            U[i, j] = R[i, j]
    jacobi_svd(U, vec(W, S, O_SV, n), mat(W, S, O_VV, n, n), ufs, vec(W, S, O_W1, 2 * n))
    S[SVD_READY] = 1


@kernel_jit
def _gn_by_substitution(W, S, p):
    """Gauss-Newton step from ``R`` alone when ``R`` is well conditioned."""
    n = S[N]
    R = mat(W, S, O_R, n, n)
    if not well_conditioned(R, EPS * max(S[M], S[N])):
        return False
    back_substitute(R, vec(W, S, O_UF, n), p)
    return True


@kernel_jit
def trust_region_step(W, S, Delta, alpha, rtol, gn_factor, to_boundary, update_last, p):
    """Step for radius ``Delta`` (see :func:`lsqcore._linalg.solve_trust_region`).

    The SVD is needed only when the Gauss-Newton step does not fit in the
    region or ``R`` is (nearly) singular; otherwise the step is one back
    substitution.
    """
    n = S[N]
    if _gn_by_substitution(W, S, p):
        acc = 0.0
        for i in range(n):
            acc += p[i] * p[i]
        if math.sqrt(acc) <= gn_factor * Delta:
            return 0.0
    ensure_svd(W, S)
    s = vec(W, S, O_SV, n)
    return solve_trust_region(s, mat(W, S, O_VV, n, n), vec(W, S, O_UFS, n), Delta,
                              alpha, rtol, gn_factor, to_boundary, update_last,
                              rank_cutoff(S, s), p)


@kernel_jit
def gauss_newton_step(W, S, p, rcond):
    """Minimum-norm Gauss-Newton step ``p = -J_h^+ f``, singular values at or
    below ``rcond * s_max`` counting as zero (``rcond = 0``: the default of
    :func:`rank_cutoff`)."""
    if _gn_by_substitution(W, S, p):
        return
    ensure_svd(W, S)
    n = S[N]
    s = vec(W, S, O_SV, n)
    cutoff = rank_cutoff(S, s) if rcond == 0.0 else rcond * s[0]
    pinv_step(s, mat(W, S, O_VV, n, n), vec(W, S, O_UFS, n), cutoff, p)


@kernel_jit
def rank_cutoff(S, s):
    """Singular values at or below ``eps * max(m, n) * s_max`` count as zero."""
    return EPS * max(S[M], S[N]) * s[0]


@kernel_jit
def column_norms(J, out):
    n = J.shape[1]
    # column by column, the sums in registers (``out`` may alias ``J``'s
    # buffer, so a row-wise sweep would store and reload every partial sum)
    for j in range(n):
        c = J[:, j]
        out[j] = math.sqrt(dot_range(c, c, 0, c.shape[0]))


@hook_jit
def jac_column_norms(W, S):
    """``||J e_j||`` into the first n entries of ``W1``, which it returns; ``J``
    dense (the square roots of its Gram matrix's diagonal, formed with ``g``
    when ``J`` was evaluated, where :func:`lsqcore._gram.gram_possible`; else
    from ``J``) or compressed-column (through :mod:`lsqcore._csc_entry`)."""
    m = S[M]
    n = S[N]
    norms = vec(W, S, O_W1, n)
    if S[SPARSE]:
        sparse_op(W, S, COLUMN_NORMS, 0, 0)
    elif gram_possible(m, n):
        G = mat(W, S, O_GRAM, n, n)
        for j in range(n):
            norms[j] = math.sqrt(G[j, j])
    else:
        column_norms(mat(W, S, O_J, m, n), norms)
    return norms


@kernel_jit
def update_jac_scale(W, S, scale, scale_inv, first):
    """``x_scale='jac'``: ``scale_inv = max(scale_inv, ||J e_j||)``, ``scale = 1/scale_inv``.

    On the first call a zero column norm is replaced by 1.  (The norms pass
    through ``W1``.)
    """
    scale_from_norms(jac_column_norms(W, S), scale, scale_inv, first)


@kernel_jit
def scale_from_norms(norms, scale, scale_inv, first):
    """:func:`update_jac_scale` from column norms already computed (``lm``'s
    ``gtol`` test leaves them in ``W1``)."""
    for j in range(norms.shape[0]):
        if first:
            scale_inv[j] = norms[j] if norms[j] > 0.0 else 1.0
        else:
            scale_inv[j] = max(scale_inv[j], norms[j])
        scale[j] = 1.0 / scale_inv[j]
