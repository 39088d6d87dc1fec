"""The covariance of a batch row's parameters, computed in place.

curve_fit's rule (see :mod:`lsqcore._diagnostics` for the derivation and
the rank decision) written without allocation, so that the same function
runs in a CPU thread's scratch and, compiled as a CUDA device function, in
a GPU thread's local memory.

Three routes to the same matrix, cheapest first:

1. **From the Gram matrix the kernel already formed.**  When ``J`` was
   evaluated, the kernel formed ``J^T J`` for its own steps wherever
   :mod:`lsqcore._gram` admits it, and the solve usually ends right after
   evaluating ``J`` at the final ``x``.  With ``D = diag(||J_j||)`` and the
   Cholesky factor ``R^T R = D^{-1} J^T J D^{-1}`` (:func:`lsqcore._gram.gram_factor`,
   which also gives ``L^{-1} = R^{-T}``), ``(J^T J)^{-1} = D^{-1} R^{-1}
   R^{-T} D^{-1}``: ``n^3 / 3`` operations where the QR of the ``m x n``
   matrix costs ``2 m n^2``.  Taken only when that module's bound ``(m + n)
   eps kappa_F(R)^2 <= 1e-10`` holds, so ``R`` (and ``pcov``) carry a relative
   error of at most about ``1e-10``, and ``kappa_F(R) <= 1 / sqrt(2 eps 1e10)
   < 500``: far below :data:`DIRECT_KAPPA`, nothing can be dropped.
2. **From ``R^{-1}`` of a Householder QR** when ``kappa_F(R) <= DIRECT_KAPPA``.
3. **The SVD** otherwise (the rank decision).
"""
import math

from .._jit import kernel_jit
from .._layout import JAC_2POINT, JAC_3POINT
from .._gram import gram_factor
from .._linalg import EPS, householder_qr, copy_r, jacobi_svd, back_substitute
from .._diagnostics import UNDETERMINED_WEIGHT, RCOND_2POINT, RCOND_3POINT
from ..methods.common import column_norms


#: ``pcov`` straight from ``R^{-1}`` (no SVD) when ``kappa_F(R) = ||R||_F
#: ||R^{-1}||_F <= DIRECT_KAPPA``: the singular values then satisfy ``s_min /
#: s_max = 1 / kappa_2 >= 1 / kappa_F >= 1e-4``, above every rank cut-off
#: (``rcond <= 1e-7``), so no direction is dropped and the pseudo-inverse is
#: the inverse, ``(J^T J)^{-1} = D^{-1} R^{-1} R^{-T} D^{-1}``.  The Jacobi
#: SVD of a 4 x 4 ``R`` took 1.3 us, two thirds of a row's covariance.
DIRECT_KAPPA = 1e4


@kernel_jit
def _inverse_r(R, Ri, b):
    """``Ri = R^{-1}`` for the upper-triangular ``R`` (n x n), column by column
    by :func:`lsqcore._linalg.back_substitute` (``b``: n scratch); returns
    ``||R||_F ||R^{-1}||_F``, or ``inf`` when a diagonal entry is zero or
    anything is not finite."""
    n = R.shape[0]
    nr = 0.0
    ni = 0.0
    for j in range(n):
        for i in range(n):
            b[i] = 0.0
        b[j] = -1.0                     # (back_substitute solves R p = -b)
        back_substitute(R, b, Ri[:, j])
        for i in range(j + 1):
            nr += R[i, j] * R[i, j]
            ni += Ri[i, j] * Ri[i, j]
    kappa = math.sqrt(nr) * math.sqrt(ni)
    return kappa if math.isfinite(kappa) else math.inf


@kernel_jit
def _from_gram(G, m, n, scale, d, R, Ri, uf, pc):
    """Route 1 of the module docstring: ``pc`` from ``G``, the upper triangle of
    ``J^T J`` (``d``: n scratch for ``D^{-1}``; ``R``, ``Ri``: n x n scratch;
    ``uf``: n scratch).  Returns False, with ``pc`` untouched, when a column
    is zero or not finite or the Gram route's bound fails."""
    for j in range(n):
        gj = G[j, j]
        if not 0.0 < gj < math.inf:
            return False
        d[j] = 1.0 / math.sqrt(gj)
    # (g = d: any finite vector; gram_factor's uf = R^-T D g is not used)
    if not gram_factor(G, d, d, d, False, m, R, uf, Ri):
        return False
    for a in range(n):                  # Ri = L^-1 = R^-T, lower triangular
        for b in range(a, n):
            acc = 0.0
            for k in range(b, n):
                acc += Ri[k, a] * Ri[k, b]
            pc[a, b] = acc * (d[a] * d[b]) * scale
            pc[b, a] = pc[a, b]
    return True


@kernel_jit
def covariance(J, cost, m, n, absolute, jac_code, A, V, s, pc, small, G):
    """``pcov`` by curve_fit's rule, without allocating (``small``: 3 n
    scratch; the GPU driver compiles this function as a device function).

    As :mod:`lsqcore._diagnostics`: the SVD of the column-equilibrated
    ``J D^{-1} = U diag(s) V^T`` (``D = diag(||J_j||)``), singular values at or
    below ``rcond * s_max`` discarded (``rcond``: the error level of the
    Jacobian, 1e-7 for '2-point' and 1e-9 for '3-point' differences,
    ``eps max(m, n)`` otherwise), ``pinv(J^T J) = D^{-1} V diag(1 / s^2) V^T
    D^{-1}``; unless ``absolute``, times ``2 cost / (m - n)`` (the residual
    variance, scipy's degrees of freedom).  A parameter that takes part in a
    discarded direction (weight at least ``UNDETERMINED_WEIGHT`` of the
    largest) gets ``inf`` in its row and column: the data do not determine
    it.  A non-finite ``J`` or ``m <= n`` (scaled case) gives ``inf``
    everywhere, as scipy does (without its warning).

    ``G`` is ``J^T J`` (upper triangle) when the kernel formed it from this
    ``J``, else ``(0, 0)`` (:func:`lsqcore._row.read_gram`); with it, and
    when its route's bound holds, nothing else is computed (see the module
    docstring).  Otherwise the SVD is the kernel's own (:mod:`lsqcore._linalg`): Householder QR of
    ``J D^{-1}`` (stored by columns in ``A``), then one-sided Jacobi on the
    small ``R``; ``pc`` holds ``R`` while the SVD runs.  A well-conditioned
    ``R`` (:data:`DIRECT_KAPPA`) skips the SVD: nothing can be dropped, and
    ``pcov`` comes from ``R^{-1}`` (in ``V``) directly.
    """
    ok = absolute or m > n
    if ok:
        scale = 1.0 if absolute else 2.0 * cost / (m - n)
        # (a finite diagonal of J^T J, which route 1 checks, is a finite J)
        # (R in the first n^2 of A's m n entries; A is (m, n) or flat)
        if G.shape[0] == n and _from_gram(G, m, n, scale, s,
                                          A.reshape((m * n,))[:n * n].reshape((n, n)), V,
                                          small[:n], pc):
            return
        for i in range(m):
            for j in range(n):
                if not math.isfinite(J[i, j]):
                    ok = False
    if not ok:
        for a in range(n):
            for b in range(n):
                pc[a, b] = math.inf
        return
    column_norms(J, s)                  # (in s until the QR is done)
    for j in range(n):
        if not s[j] > 0.0:              # a column without effect (or NaN) is not scaled
            s[j] = 1.0
    At = A.reshape((n, m))
    for i in range(m):
        for j in range(n):
            At[j, i] = J[i, j] / s[j]
    householder_qr(At, small[:n])
    copy_r(At, pc)
    D = small[:n]                       # the QR's tau is no longer needed
    for j in range(n):
        D[j] = s[j]
    if _inverse_r(pc, V, small[2 * n:]) <= DIRECT_KAPPA:
        for a in range(n):
            for b in range(a, n):
                acc = 0.0
                for k in range(b, n):           # (R^{-1} is upper triangular)
                    acc += V[a, k] * V[b, k]
                pc[a, b] = acc / (D[a] * D[b]) * scale
                pc[b, a] = pc[a, b]
        return
    jacobi_svd(pc, s, V, small[n:2 * n], small[2 * n:])
    if jac_code == JAC_2POINT:
        rcond = RCOND_2POINT
    elif jac_code == JAC_3POINT:
        rcond = RCOND_3POINT
    else:
        rcond = EPS * max(m, n)
    threshold = rcond * s[0]
    for a in range(n):
        for b in range(n):
            pc[a, b] = 0.0
    free = small[n:2 * n]                 # 1: takes part in an undetermined combination
    for a in range(n):
        free[a] = 0.0
    for j in range(n):
        if s[j] > threshold:
            s2 = s[j] * s[j]
            for a in range(n):
                va = V[a, j] / (s2 * D[a])
                for b in range(n):
                    pc[a, b] += va * V[b, j] / D[b]
        else:
            vmax = 0.0
            for a in range(n):
                vmax = max(vmax, abs(V[a, j]))
            for a in range(n):
                if abs(V[a, j]) >= UNDETERMINED_WEIGHT * vmax:
                    free[a] = 1.0
    bad = False
    for a in range(n):
        for b in range(n):
            if not math.isfinite(pc[a, b]):
                bad = True
    for a in range(n):
        for b in range(n):
            undetermined = free[a] != 0.0 or free[b] != 0.0
            pc[a, b] = math.inf if bad or undetermined else pc[a, b] * scale
