r"""The trust-region model through LSMR (``tr_solver='lsmr'``): no factorization.

With the exact solver the model ``q(p) = g_h^T p + 1/2 p^T (J_h^T J_h + C) p``
(``J_h = J diag(d)``, ``C = diag(c_h)``; see :mod:`lsqcore.methods.trf`) is
read through the QR factor of ``[J_h; C^(1/2)]``.  Here nothing is factored:
``J_h`` is used only through the products ``J_h v`` and ``J_h^T u``
(:func:`jh_mv`, :func:`jh_rmv`), which is what lets a large or sparse
Jacobian be used at the cost of its products.

**The Gauss-Newton direction.**  LSMR (:mod:`lsqcore._lsmr`) solves the
regularized least-squares problem

.. math::  \min_p \left\| \begin{bmatrix} J_h \\ (C + \mu I)^{1/2} \end{bmatrix} p
           - \begin{bmatrix} f \\ 0 \end{bmatrix} \right\|,

whose solution ``p_N`` is minus the Gauss-Newton step of the model (the
regularized one when ``mu > 0``).  Without bounds ``C = 0`` and the extra rows
are LSMR's own damping, ``lambda = (damp^2 + mu)^(1/2)``; with bounds the
operator has ``m + n`` rows and ``damp`` is LSMR's as given.  These are the
two systems of scipy's 'trf'.

**Preconditioning** (``tr_options['preconditioner']='block-jacobi'``, lsqcore's
option, a compressed-column ``J`` only).  LSMR then runs on ``A L^{-T}``,
``L`` the block-diagonal Cholesky factor of the normal matrix of ``A = [J_h;
diag(c')]`` on runs of columns with the same rows (:mod:`lsqcore._precond`),
with the damping moved into the operator's rows (``c' = (c^2 + lambda^2)^(1/2)``,
``c = 0`` without bounds: the same least-squares problem), and the direction
is ``L^{-T} y``.  The problem solved is the same; LSMR needs fewer iterations
where the spread of ``J_h``'s singular values lies inside those blocks.

**Regularization** (``tr_options['regularize']``, default True).  Far from a
solution an ill-conditioned ``J_h`` gives a huge ``p_N``, and the subspace
below then holds little of the model's curvature along the steps that fit in
the region.  ``mu`` is chosen from the Cauchy point: with ``q_C`` the least
value of ``q(-t g_h)`` over ``0 <= t <= Delta / ||g_h||`` (a decrease any good
step must match), ``mu = -q_C / Delta^2``.  It is of the order of the
Levenberg-Marquardt parameter a step of length ``Delta`` would need
(``q_C ~ -mu Delta^2``), so ``p_N`` is shortened where it must be and left
alone (``mu -> 0``) as the region grows near a solution.

**The two-dimensional subspace** (Byrd, Schnabel and Shultz 1988; Branch,
Coleman and Li 1999).  The step is sought in ``span{g_h, p_N}``, which holds
the steepest-descent and the Gauss-Newton directions and so the whole dogleg
path.  With ``Q = [q_1, q_2]`` an orthonormal basis of it (Gram-Schmidt,
twice), ``p = Q y`` and the problem becomes

.. math::  \min_{\|y\| \le \Delta} g_S^T y + \tfrac12 y^T B_S y, \qquad
           g_S = Q^T g_h, \quad B_S = (J_h Q)^T (J_h Q) + Q^T C Q,

(``||Q y|| = ||y||``), solved exactly by :func:`solve_tr_2d`.  ``B_S`` and
``g_S`` are formed once per Jacobian; a rejected step only re-solves the
2-by-2 problem with the smaller radius.  When ``p_N`` is parallel to ``g_h``
the subspace is one-dimensional (``q_2 = 0``).

**The 2-by-2 trust-region problem** (More and Sorensen 1983).  If ``B_S`` is
positive definite and the Newton point ``-B_S^{-1} g_S`` lies in the region,
it is the solution.  Otherwise the solution lies on the circle ``||y|| =
Delta`` and is ``y(lambda) = -(B_S + lambda I)^{-1} g_S`` for the
``lambda >= max(0, -lambda_1)`` with ``||y(lambda)|| = Delta``.  In the
eigenvectors ``e_1, e_2`` of ``B_S`` (eigenvalues ``lambda_1 <= lambda_2``,
closed form for 2-by-2) ``||y(lambda)||^2 = sum_i (e_i^T g_S)^2 /
(lambda_i + lambda)^2``; the root of ``1/||y(lambda)|| - 1/Delta`` (nearly
linear in ``lambda``) is found by Newton's method safeguarded by bisection.
In the *hard case* (``e_1^T g_S = 0`` and ``||y(-lambda_1)|| < Delta``) the
solution is ``y(-lambda_1) + tau e_1`` with ``tau`` taking it to the circle.

References
----------
C. Fong, M. Saunders, "LSMR: An iterative algorithm for sparse least-squares
problems", SIAM J. Sci. Comput. 33(5), 2011.
R. H. Byrd, R. B. Schnabel, G. A. Shultz, "Approximate solution of the trust
region problem by minimization over two-dimensional subspaces", Math.
Programming 40, 1988.
M. A. Branch, T. F. Coleman, Y. Li, "A subspace, interior, and conjugate
gradient method for large-scale bound-constrained minimization problems",
SIAM J. Sci. Comput. 21(1), 1999.
J. J. More, D. C. Sorensen, "Computing a trust region step", SIAM J. Sci.
Stat. Comput. 4(3), 1983.
"""
import math

from numba.extending import overload

from .._jit import kernel_jit, hook_jit
from .. import _csc as csc
from .. import _precond as pre
from .._layout import (vec, mat, M, N, BOUNDED, SPARSE, OPERATOR, O_J, O_FS, O_D, O_DIAGH,
                       O_LSR, O_LSN, O_PRE, O_PREC, TR_SOLVER, TR_LSMR_BJ,
                       DELTA, LSMR_MAXITER, LSMR_ATOL, LSMR_BTOL, LSMR_CONLIM, LSMR_DAMP,
                       REGULARIZE, SUB_B11, SUB_B12, SUB_B22, SUB_G1, SUB_G2)
from .._lsmr import lsmr_core
from .._operator import MV, RMV, operator_product
from .._linalg import minimize_quadratic_1d, norm2, dot, EPS

#: the root of the secular equation is accurate to this relative error in ``||y||``
SECULAR_RTOL = 1e-14
#: and found in at most this many safeguarded Newton steps
SECULAR_MAXITER = 100
#: a direction is parallel to another when its part orthogonal to it is at most
#: this fraction of its length (rounding of a few operations)
PARALLEL = 16.0 * EPS



# ---- the operator [J diag(d); diag(c)], J dense or compressed-column ------------------

@hook_jit
def jh_mv(A, v, out):
    """``out = J diag(d) v``, followed by ``c * v`` when ``A = (J, d, c, aug)`` has
    ``aug`` (then ``out`` has ``m + n`` entries)."""
    J, d, c, aug = A
    m, n = J.shape
    for i in range(m):
        acc = 0.0
        for j in range(n):
            acc += J[i, j] * (d[j] * v[j])
        out[i] = acc
    if aug:
        for j in range(n):
            out[m + j] = c[j] * v[j]


@hook_jit
def jh_rmv(A, u, out):
    """``out = diag(d) J^T u[:m]`` (+ ``c * u[m:]`` with ``aug``), by rows of ``J``."""
    J, d, c, aug = A
    m, n = J.shape
    for j in range(n):
        out[j] = 0.0
    for i in range(m):
        ui = u[i]
        for j in range(n):
            out[j] += J[i, j] * ui
    for j in range(n):
        out[j] *= d[j]
    if aug:
        for j in range(n):
            out[j] += c[j] * u[m + j]


@hook_jit
def csc_mv(A, v, out):
    """:func:`jh_mv` for ``A = ((cp, ri, values, m, hook), d, c, aug)``, ``J``
    compressed-column, or a ``LinearOperator`` reached through the C function at
    ``hook`` when that is not 0 (:mod:`lsqcore._operator`)."""
    (cp, ri, vals, m, hook), d, c, aug = A
    if hook != 0:
        operator_product(hook, MV, v, d, out[:m])
    else:
        csc.times(cp, ri, vals, d, v, out[:m])
    if aug:
        for j in range(d.shape[0]):
            out[m + j] = c[j] * v[j]


@hook_jit
def csc_rmv(A, u, out):
    """:func:`jh_rmv` for a compressed-column ``J`` or an operator (:func:`csc_mv`)."""
    (cp, ri, vals, m, hook), d, c, aug = A
    if hook != 0:
        operator_product(hook, RMV, u[:m], d, out)
    else:
        csc.transpose_times(cp, ri, vals, u, out)
        for j in range(d.shape[0]):
            out[j] *= d[j]
    if aug:
        for j in range(d.shape[0]):
            out[j] += c[j] * u[m + j]


@kernel_jit
def _csc_operand(W, S):
    cp, ri, _, vals = csc.structure(W, S)
    return cp, ri, vals, S[M], S[OPERATOR]


@kernel_jit
def op_mv(W, S, d, v, out):
    """``out = J diag(d) v`` (``m`` entries), ``J`` dense or compressed-column."""
    if S[SPARSE]:
        csc_mv((_csc_operand(W, S), d, d, False), v, out)
    else:
        jh_mv((mat(W, S, O_J, S[M], S[N]), d, d, False), v, out)


@kernel_jit
def op_rmv(W, S, d, u, out):
    """``out = diag(d) J^T u``, ``J`` dense or compressed-column."""
    if S[SPARSE]:
        csc_rmv((_csc_operand(W, S), d, d, False), u, out)
    else:
        jh_rmv((mat(W, S, O_J, S[M], S[N]), d, d, False), u, out)


@kernel_jit
def jh_dot(W, S, d, a, b):
    """``(J diag(d) a) . (J diag(d) b)`` (a sparse ``J`` through rows 1 and 2 of
    ``LSR``, free outside LSMR)."""
    m = S[M]
    if S[SPARSE]:
        R = mat(W, S, O_LSR, 3, m + S[N])
        op_mv(W, S, d, a, R[1, :m])
        op_mv(W, S, d, b, R[2, :m])
        return dot(R[1, :m], R[2, :m])
    J = mat(W, S, O_J, m, S[N])
    acc = 0.0
    for i in range(m):
        ya = 0.0
        yb = 0.0
        for j in range(S[N]):
            ya += J[i, j] * (d[j] * a[j])
            yb += J[i, j] * (d[j] * b[j])
        acc += ya * yb
    return acc


@kernel_jit
def jh_norm2(W, S, d, s):
    """``||J diag(d) s||^2`` (:func:`jh_dot` of ``s`` with itself)."""
    m = S[M]
    if S[SPARSE]:
        u = mat(W, S, O_LSR, 3, m + S[N])[1, :m]
        op_mv(W, S, d, s, u)
        return dot(u, u)
    J = mat(W, S, O_J, m, S[N])
    acc = 0.0
    for i in range(m):
        y = 0.0
        for j in range(S[N]):
            y += J[i, j] * (d[j] * s[j])
        acc += y * y
    return acc


@kernel_jit
def model_norm2(W, S, a):
    """``a^T (J_h^T J_h + C) a``: :func:`model_dot` of ``a`` with itself, the same
    bits from one product with ``J`` instead of two."""
    n = S[N]
    d = vec(W, S, O_D, n)
    c_h = vec(W, S, O_DIAGH, n)
    acc = jh_norm2(W, S, d, a)
    for j in range(n):
        acc += c_h[j] * a[j] * a[j]
    return acc


@kernel_jit
def model_dot(W, S, a, b):
    """``a^T (J_h^T J_h + C) b`` of trf's model, from ``J`` (``d`` in ``D``, ``C`` in ``DIAGH``)."""
    n = S[N]
    d = vec(W, S, O_D, n)
    c_h = vec(W, S, O_DIAGH, n)
    acc = jh_dot(W, S, d, a, b)
    for j in range(n):
        acc += c_h[j] * a[j] * b[j]
    return acc


# ---- the block-Jacobi preconditioned operator [J diag(d); diag(c)] L^-T ------------

@hook_jit
def pre_mv(A, v, out):
    """``out = [J diag(d); diag(c)] L^{-T} v`` for ``A = (J's operand, d, c, P, Li)``
    (:mod:`lsqcore._precond`; ``out`` has ``m + n`` entries)."""
    J, d, c, P, Li = A
    z = P[pre.P_TMP]
    pre.times(P, Li, v, z, True)
    csc_mv((J, d, c, True), z, out)


@hook_jit
def pre_rmv(A, u, out):
    """``out = L^{-1} [J diag(d); diag(c)]^T u``."""
    J, d, c, P, Li = A
    w = P[pre.P_TMP]
    csc_rmv((J, d, c, True), u, w)
    pre.times(P, Li, w, out, False)


def lsmr_preconditioned(W, S, d, c, aug, b, damp, x, maxiter, work):
    """:func:`_lsmr_preconditioned` where there is a sparse solve (the CPU); a
    no-op on the GPU, which has none, so that its kernel does not carry the
    code (compiled code only)."""


@overload(lsmr_preconditioned, target="cpu", inline="always")
def _lsmr_preconditioned_cpu(W, S, d, c, aug, b, damp, x, maxiter, work):
    return lambda W, S, d, c, aug, b, damp, x, maxiter, work: _lsmr_preconditioned(
        W, S, d, c, aug, b, damp, x, maxiter, work)


@overload(lsmr_preconditioned, target="generic")
def _lsmr_preconditioned_gpu(W, S, d, c, aug, b, damp, x, maxiter, work):
    return lambda W, S, d, c, aug, b, damp, x, maxiter, work: None


@kernel_jit
def _lsmr_preconditioned(W, S, d, c, aug, b, damp, x, maxiter, work):
    """:func:`lsmr_solve` through the block-Jacobi change of variables: LSMR on
    ``[J diag(d); diag(c')] L^{-T}`` with ``c' = (c^2 + damp^2)^(1/2)`` (``c``
    only with ``aug``: the damping becomes rows of the operator), then ``x = L^{-T} y``."""
    m = S[M]
    n = S[N]
    P = mat(W, S, O_PRE, 3, n)
    Li = mat(W, S, O_PREC, n, pre.BMAX)
    cp, ri, _, vals = csc.structure(W, S)
    c2 = P[pre.P_C]
    for j in range(n):
        c2[j] = math.sqrt((c[j] * c[j] if aug else 0.0) + damp * damp)
    bb = mat(W, S, O_LSR, 3, m + n)[0]
    for i in range(m):
        bb[i] = b[i]
    for j in range(n):
        bb[m + j] = 0.0
    pre.factor(cp, ri, vals, d, c2, P, Li)
    lsmr_core(pre_mv, pre_rmv, (_csc_operand(W, S), d, c2, P, Li), bb, x, 0.0,
              W[LSMR_ATOL], W[LSMR_BTOL], W[LSMR_CONLIM], maxiter, work)
    y = P[pre.P_TMP]
    for j in range(n):
        y[j] = x[j]
    pre.times(P, Li, y, x, True)


# ---- LSMR in the workspace ----------------------------------------------------------

@kernel_jit
def lsmr_solve(W, S, d, c, aug, b, damp, x):
    """``x = LSMR([J diag(d); diag(c)], b, damp)`` (the ``c`` rows only with ``aug``)
    with the options of the solve and its vectors in ``LSR``/``LSN`` (``b`` has
    the operator's rows; the default iteration limit is ``min(rows, n)``, scipy's),
    preconditioned when the solve asks for it (a compressed-column ``J``)."""
    m = S[M]
    n = S[N]
    rows = b.shape[0]
    R = mat(W, S, O_LSR, 3, m + n)
    V = mat(W, S, O_LSN, 8, n)
    maxiter = S[LSMR_MAXITER] if S[LSMR_MAXITER] > 0 else min(rows, n)
    if S[TR_SOLVER] == TR_LSMR_BJ and S[SPARSE] and S[OPERATOR] == 0:
        work = (R[1], R[2], V[0], V[1], V[2], V[3])
        lsmr_preconditioned(W, S, d, c, aug, b, damp, x, maxiter, work)
        return
    work = (R[1, :rows], R[2, :rows], V[0], V[1], V[2], V[3])
    if S[SPARSE]:
        lsmr_core(csc_mv, csc_rmv, (_csc_operand(W, S), d, c, aug), b, x, damp,
                  W[LSMR_ATOL], W[LSMR_BTOL], W[LSMR_CONLIM], maxiter, work)
    else:
        lsmr_core(jh_mv, jh_rmv, (mat(W, S, O_J, m, n), d, c, aug), b, x, damp,
                  W[LSMR_ATOL], W[LSMR_BTOL], W[LSMR_CONLIM], maxiter, work)


# ---- trf: the regularized Gauss-Newton direction and the 2-D subspace ----------------

@kernel_jit
def _regularization(W, S, d, c_h, g_h, Delta):
    """``mu = -q_C / Delta^2`` from the Cauchy value ``q_C`` (module docstring)."""
    gg = dot(g_h, g_h)
    a = jh_norm2(W, S, d, g_h)
    for j in range(g_h.shape[0]):
        a += c_h[j] * g_h[j] * g_h[j]
    _, q_C = minimize_quadratic_1d(0.5 * a, -gg, 0.0, Delta / math.sqrt(gg), 0.0)
    return -q_C / (Delta * Delta)


@kernel_jit
def _orthogonalize(q1, q2):
    """``q2 <- (q2 - (q1.q2) q1) / ||.||`` (Gram-Schmidt, twice); False when ``q2``
    is parallel to ``q1`` to rounding (``q2`` is then left unnormalized)."""
    n = q1.shape[0]
    size = norm2(q2)
    for _ in range(2):
        t = dot(q1, q2)
        for j in range(n):
            q2[j] -= t * q1[j]
    w = norm2(q2)
    if not w > PARALLEL * size:
        return False
    for j in range(n):
        q2[j] /= w
    return True


@kernel_jit
def _orthonormal_basis(W, S, d, c_h, g_h, p_N, q1, q2, u):
    """``q1, q2``: an orthonormal basis of ``span{g_h, p_N}``.  When ``p_N`` is
    parallel to ``g_h`` (LSMR stopped after its first iteration, or ``n = 1``),
    the plane is completed by the next Krylov direction ``H g_h``, ``H = J_h^T
    J_h + C``, and failing that (``g_h`` an eigenvector of ``H``, where the
    second direction cannot improve the step) by the coordinate axis least
    aligned with ``g_h``; ``q2 = 0`` when ``n = 1``.  (scipy's QR completes it
    with the direction of the rounding errors; for ``n = 2`` that is the same
    plane, the whole space.)  ``u`` is scratch of ``m`` entries."""
    n = g_h.shape[0]
    g_norm = norm2(g_h)
    for j in range(n):
        q1[j] = g_h[j] / g_norm if g_norm > 0.0 else 0.0
        q2[j] = p_N[j]
    if _orthogonalize(q1, q2):
        return
    op_mv(W, S, d, q1, u)
    op_rmv(W, S, d, u, q2)
    for j in range(n):
        q2[j] += c_h[j] * q1[j]
    if _orthogonalize(q1, q2):
        return
    k = 0
    for j in range(n):
        q2[j] = 0.0
        if abs(q1[j]) < abs(q1[k]):
            k = j
    q2[k] = 1.0
    if n == 1 or not _orthogonalize(q1, q2):
        for j in range(n):
            q2[j] = 0.0


@kernel_jit
def subspace_model(W, S, d, c_h, g_h):
    """Form trf's 2-D model for the current ``J``: ``p_N`` by LSMR, the basis
    ``Q`` (rows 5, 6 of ``LSN``), ``B_S`` and ``g_S`` (registers ``SUB_*``)."""
    m = S[M]
    n = S[N]
    f = vec(W, S, O_FS, m)
    R = mat(W, S, O_LSR, 3, m + n)
    V = mat(W, S, O_LSN, 8, n)
    p_N, q1, q2, c = V[4], V[5], V[6], V[7]
    mu = _regularization(W, S, d, c_h, g_h, W[DELTA]) if S[REGULARIZE] else 0.0
    bounded = S[BOUNDED] == 1
    rows = m + n if bounded else m
    b = R[0, :rows]
    for i in range(m):
        b[i] = f[i]
    for j in range(n):
        c[j] = math.sqrt(c_h[j] + mu)
        if bounded:
            b[m + j] = 0.0
    damp = W[LSMR_DAMP] if bounded else math.sqrt(W[LSMR_DAMP] ** 2 + mu)
    lsmr_solve(W, S, d, c, bounded, b, damp, p_N)
    u1 = R[1, :m]
    _orthonormal_basis(W, S, d, c_h, g_h, p_N, q1, q2, u1)
    u2 = R[2, :m]
    op_mv(W, S, d, q1, u1)
    op_mv(W, S, d, q2, u2)
    b11 = dot(u1, u1)
    b12 = dot(u1, u2)
    b22 = dot(u2, u2)
    for j in range(n):
        b11 += c_h[j] * q1[j] * q1[j]
        b12 += c_h[j] * q1[j] * q2[j]
        b22 += c_h[j] * q2[j] * q2[j]
    W[SUB_B11] = b11
    W[SUB_B12] = b12
    W[SUB_B22] = b22
    W[SUB_G1] = dot(q1, g_h)
    W[SUB_G2] = dot(q2, g_h)


@kernel_jit
def subspace_step(W, S, Delta, p_h):
    """``p_h = Q y`` with ``y`` the solution of the 2-D model for radius ``Delta``."""
    n = S[N]
    V = mat(W, S, O_LSN, 8, n)
    y1, y2 = solve_tr_2d(W[SUB_B11], W[SUB_B12], W[SUB_B22], W[SUB_G1], W[SUB_G2], Delta)
    for j in range(n):
        p_h[j] = y1 * V[5, j] + y2 * V[6, j]


# ---- the 2-by-2 trust-region problem -------------------------------------------------

@hook_jit
def _eigen_2x2(b11, b12, b22):
    """``(lambda_1, gap, e_1)`` of a symmetric 2-by-2 matrix: the smaller eigenvalue
    (from ``det / lambda_2`` when that avoids cancellation), ``lambda_2 -
    lambda_1 >= 0`` and the unit eigenvector of ``lambda_1``."""
    half = 0.5 * (b11 + b22)
    r = math.hypot(0.5 * (b11 - b22), b12)
    det = b11 * b22 - b12 * b12
    if half >= 0.0:
        lam2 = half + r
        lam1 = det / lam2 if lam2 != 0.0 else half - r
    else:
        lam1 = half - r
    if r == 0.0:
        return lam1, 0.0, 1.0, 0.0
    # (B - lam1 I) e = 0: e is orthogonal to either row; take the longer candidate
    a1, a2 = b12, lam1 - b11
    c1, c2 = lam1 - b22, b12
    if a1 * a1 + a2 * a2 < c1 * c1 + c2 * c2:
        a1, a2 = c1, c2
    h = math.hypot(a1, a2)
    return lam1, 2.0 * r, a1 / h, a2 / h


@hook_jit
def _secular_norm(c1, c2, gap, s):
    """``||y||`` at ``s = lambda_1 + lambda`` (a zero numerator counts as zero
    whatever its denominator)."""
    t1 = c1 / s if c1 != 0.0 else 0.0
    t2 = c2 / (s + gap) if c2 != 0.0 else 0.0
    return math.hypot(t1, t2)


@kernel_jit
def _secular_root(c1, c2, gap, lo, hi, Delta):
    """The ``s = lambda_1 + lambda`` in ``(lo, hi]`` with ``||y|| = Delta``: Newton's
    method on ``1/||y|| - 1/Delta`` inside a shrinking bracket, bisecting when a
    step leaves it.  (In ``s`` rather than ``lambda`` the pole is at 0, so a
    root near it keeps its relative accuracy.)"""
    s = hi
    for _ in range(SECULAR_MAXITER):
        y = _secular_norm(c1, c2, gap, s)
        if abs(y - Delta) <= SECULAR_RTOL * Delta:
            return s
        if y > Delta:
            lo = s
        else:
            hi = s
        dy = 0.0                    # d||y||^2/ds = -2 sum c_i^2 / s_i^3
        if c1 != 0.0:
            dy -= 2.0 * c1 * c1 / (s * s * s)
        if c2 != 0.0:
            dy -= 2.0 * c2 * c2 / ((s + gap) * (s + gap) * (s + gap))
        # psi = 1/y - 1/Delta, psi' = -(1/2) y^-3 d(y^2)
        step = (1.0 / y - 1.0 / Delta) / (-0.5 * dy / (y * y * y)) if dy != 0.0 else 0.0
        new = s - step
        if not (lo < new < hi):
            new = 0.5 * (lo + hi)
        if new == s or hi - lo <= 4.0 * EPS * hi:
            return new
        s = new
    return s


@kernel_jit
def solve_tr_2d(b11, b12, b22, g1, g2, Delta):
    """``argmin g^T y + 1/2 y^T B y`` over ``||y|| <= Delta`` for the symmetric
    ``B = [[b11, b12], [b12, b22]]`` (module docstring); returns ``(y1, y2)``."""
    det = b11 * b22 - b12 * b12
    if b11 > 0.0 and det > 0.0:
        y1 = -(b22 * g1 - b12 * g2) / det
        y2 = -(b11 * g2 - b12 * g1) / det
        if y1 * y1 + y2 * y2 <= Delta * Delta:
            return y1, y2
    lam1, gap, e1, e2 = _eigen_2x2(b11, b12, b22)
    f1, f2 = -e2, e1                # the second eigenvector
    c1 = e1 * g1 + e2 * g2
    c2 = f1 * g1 + f2 * g2
    lo = max(lam1, 0.0)             # s = lambda_1 + lambda at lambda = max(0, -lambda_1)
    if _secular_norm(c1, c2, gap, lo) <= Delta:
        s = lo                      # interior (B singular to rounding) or the hard case
    else:
        s = _secular_root(c1, c2, gap, lo, max(lo, math.hypot(g1, g2) / Delta), Delta)
    t1 = -c1 / s if c1 != 0.0 else 0.0
    t2 = -c2 / (s + gap) if c2 != 0.0 else 0.0
    if s <= 0.0:
        # hard case: along e_1 to the circle (y is a minimizer anywhere on it)
        t1 = math.sqrt(max(Delta * Delta - t2 * t2, 0.0))
    return t1 * e1 + t2 * f1, t1 * e2 + t2 * f2
