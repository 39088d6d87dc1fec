"""Small dense linear algebra for the trust-region kernels.

Every trust-region step in lsqcore is computed from one factorisation of
the scaled Jacobian ``J_h`` (m x n), done in two stages:

1. Householder QR, ``J_h = Q R``.  With ``H_j = I - tau_j v_j v_j^T`` each
   reflector zeroes column ``j`` below the diagonal, so after ``k = min(m, n)``
   reflectors the upper triangle holds ``R`` and the vectors ``v_j`` sit below
   it.  The matrix is stored by columns (its transpose, C order) so each
   reflector streams through contiguous memory.  Only ``R`` (n x n) and
   ``Q^T f`` are kept; the O(m n^2) work is done once per Jacobian.  (A
   well-conditioned ``J_h`` gets the same ``R`` and ``(Q^T f)[:n]`` from
   its Gram matrix instead: :mod:`lsqcore._gram`, 303 against 514 ns per
   25 x 5 Jacobian with the gradient and column norms, docs/benchmarks.md.)
2. One-sided (Hestenes) Jacobi SVD of the small ``R = U_r S V^T``.  Plane
   rotations are applied to pairs of columns until all columns are mutually
   orthogonal; the column norms are then the singular values.  Jacobi is
   slow for big matrices but computes small singular values to high
   *relative* accuracy, which matters for the ill-conditioned NIST problems.

With ``J_h = (Q U_r) S V^T`` the trust-region subproblem

    minimise ||J_h p + f||  subject to  ||p|| <= Delta

has the solution ``p(alpha) = -V diag(s / (s^2 + alpha)) U^T f`` where
``alpha >= 0`` is the Levenberg-Marquardt parameter: ``alpha = 0`` if the
Gauss-Newton step fits inside the region, else the root of the secular
equation ``phi(alpha) = ||p(alpha)|| - Delta = 0``.  We find it by Newton's
method on ``1/||p||``, which is almost linear in alpha (More 1978, sec. 5;
More and Sorensen 1983), with the safeguarding interval
``[alpha_lower, alpha_upper]`` of Nocedal and Wright (2006, sec. 4.3).

References
----------
J. J. More, "The Levenberg-Marquardt algorithm: implementation and theory",
Numerical Analysis, Lecture Notes in Mathematics 630, 1978.
J. Nocedal, S. J. Wright, "Numerical Optimization", 2nd ed., ch. 4, 2006.
J. Demmel, K. Veselic, "Jacobi's method is more accurate than QR",
SIAM J. Matrix Anal. Appl. 13(4), 1992.

All functions work in place on caller-owned arrays and never allocate, so
they serve the single, batch and GPU drivers alike.

Sums of products are accumulated in four independent chains
(:func:`dot_range`): a single running sum waits for each addition to finish
(four cycles or more per term), and the compiler may not reorder a
floating-point sum by itself.  The order is fixed in the source, so the
result is the same on every machine, whatever its vector width.  The
Householder norms are taken in one unscaled pass and fall back to the
scaled two-pass form only when the sum of squares leaves ``[SAFE_LO,
SAFE_HI]``, where nothing can have overflowed or lost precision to
underflow (the approach of Blue 1978 and LAPACK's ``dnrm2``, simplified to
a range test).
"""
import math

from numba import njit

from ._jit import kernel_jit

EPS = 2.220446049250313e-16
#: a sum of squares strictly inside ``(SAFE_LO, SAFE_HI)`` had no term that
#: overflowed, and the terms that underflowed are below ``1e-37`` of it
SAFE_LO = 2.0 ** -900
SAFE_HI = 2.0 ** 900


@kernel_jit
def max_nan(a, b):
    """``max(a, b)`` that propagates NaN.

    Python's (and Numba's) ``max(0.0, nan)`` is ``0.0``: a gradient norm
    accumulated that way reads a NaN gradient as converged.
    """
    if a != a or b != b:
        return math.nan
    return a if a >= b else b


@njit(cache=True, error_model="numpy", inline="always")
def dot_range(a, b, lo, hi):
    """``sum(a[lo:hi] * b[lo:hi])`` in four independent chains, combined as
    ``(c0 + c1) + (c2 + c3)``: the same bits on every machine.  A column of a
    C-ordered matrix is passed as its strided view ``A[:, j]``."""
    c0 = c1 = c2 = c3 = 0.0
    i = lo
    while i + 4 <= hi:
        c0 += a[i] * b[i]
        c1 += a[i + 1] * b[i + 1]
        c2 += a[i + 2] * b[i + 2]
        c3 += a[i + 3] * b[i + 3]
        i += 4
    while i < hi:
        c0 += a[i] * b[i]
        i += 1
    return (c0 + c1) + (c2 + c3)


@njit(cache=True, error_model="numpy", inline="always")
def _max_abs(a, lo, hi):
    """``max |a[lo:hi]|`` (0 if empty) for finite ``a``, in four independent
    chains: the maximum does not depend on the order, and a single chain is
    bound by the latency of each comparison."""
    b0 = b1 = b2 = b3 = 0.0
    i = lo
    while i + 4 <= hi:
        b0 = max(b0, abs(a[i]))
        b1 = max(b1, abs(a[i + 1]))
        b2 = max(b2, abs(a[i + 2]))
        b3 = max(b3, abs(a[i + 3]))
        i += 4
    while i < hi:
        b0 = max(b0, abs(a[i]))
        i += 1
    return max(max(b0, b1), max(b2, b3))


@kernel_jit
def householder_qr(At, tau):
    """Factor ``A = Q R`` in place by Householder reflections, ``A`` stored by columns.

    Parameters
    ----------
    At : ndarray, shape (cols, rows)
        The transpose of ``A``: row ``j`` of ``At`` is column ``j`` of ``A``,
        so every reflector works on contiguous memory.  Overwritten: ``R^T``
        in the lower triangle (``At[j, i] = R[i, j]`` for ``i <= j``) and the
        reflector tails ``v_j`` in ``At[j, j+1:]``.
    tau : ndarray, shape (>= min(rows, cols),)
        Reflector coefficients (output).
    """
    cols, rows = At.shape
    for j in range(min(rows, cols)):
        _reflect(At, tau, j)


@kernel_jit
def householder_qr_qt(At, tau, b):
    """:func:`householder_qr` that also overwrites ``b`` (``rows``) with ``Q^T b``.

    ``b`` takes part in each reflector's sweep over the columns after it (as
    the partner of a column left without one), which saves the separate
    pass of :func:`apply_qt` and its reloading of every reflector.
    """
    cols, rows = At.shape
    for j in range(min(rows, cols)):
        if _reflector(At, tau, j):
            a = At[j]
            c = _apply_to_pairs(At, a, tau[j], j, rows)
            if c < cols:
                _apply_reflector2(a, tau[j], At[c], b, j, rows)
            else:
                _apply_reflector(a, tau[j], b, j, rows)


@kernel_jit
def pivoted_qr(At, tau, perm, vn):
    """:func:`householder_qr` with column pivoting: ``A[:, perm] = Q R``.

    Before reflector ``j`` the remaining column with the largest norm below
    row ``j`` is swapped into position ``j`` (Businger and Golub 1965), so
    ``|R_00| >= |R_11| >= ...`` and a rank deficiency shows as a trailing
    block of tiny diagonal entries.  ``perm`` (int, ``cols``) receives the
    permutation; ``vn`` (``2 cols``) is scratch for the column norms below
    the current row, which are downdated after each reflection
    (``||a_(j+1:)||^2 = ||a_(j:)||^2 - a_j^2``) and recomputed when that
    subtraction has cancelled more than half the digits.
    """
    cols, rows = At.shape
    for c in range(cols):
        perm[c] = c
        vn[c] = _tail_norm(At[c], 0, rows)
        vn[cols + c] = vn[c]
    for j in range(min(rows, cols)):
        best = j
        for c in range(j + 1, cols):
            if vn[c] > vn[best]:
                best = c
        if best != j:
            for i in range(rows):
                At[j, i], At[best, i] = At[best, i], At[j, i]
            perm[j], perm[best] = perm[best], perm[j]
            vn[j], vn[best] = vn[best], vn[j]
            vn[cols + j], vn[cols + best] = vn[cols + best], vn[cols + j]
        _reflect(At, tau, j)
        for c in range(j + 1, cols):
            if vn[c] == 0.0:
                continue
            t = abs(At[c, j]) / vn[c]
            t = max(0.0, 1.0 - t * t)
            if t * (vn[c] / vn[cols + c]) ** 2 <= 1.4901161193847656e-08:   # sqrt(eps)
                vn[c] = _tail_norm(At[c], j + 1, rows)
                vn[cols + c] = vn[c]
            else:
                vn[c] *= math.sqrt(t)


@njit(cache=True, error_model="numpy", inline="always")
def _tail_norm(a, lo, hi):
    """``||a[lo:hi]||``, scaled against overflow."""
    big = _max_abs(a, lo, hi)
    if big == 0.0:
        return 0.0
    acc = 0.0
    for i in range(lo, hi):
        t = a[i] / big
        acc += t * t
    return big * math.sqrt(acc)


@njit(cache=True, error_model="numpy", inline="always")
def _reflect(At, tau, j):
    """Reflector ``j`` of :func:`householder_qr`: zero column ``j`` of ``A`` below
    the diagonal and apply ``H_j`` to the columns after it."""
    if _reflector(At, tau, j):
        c = _apply_to_pairs(At, At[j], tau[j], j, At.shape[1])
        if c < At.shape[0]:
            _apply_reflector(At[j], tau[j], At[c], j, At.shape[1])


@njit(cache=True, error_model="numpy", inline="always")
def _reflector(At, tau, j):
    """Make reflector ``j`` from column ``j`` of ``A`` (row ``j`` of ``At``):
    ``beta`` on the diagonal, the tail of ``v_j`` below it, ``tau[j]``.
    Returns False when the column is already zero below the diagonal
    (``tau[j] = 0``: ``H_j`` is the identity)."""
    rows = At.shape[1]
    a = At[j]
    x0 = a[j]
    ss = dot_range(a, a, j + 1, rows)
    if SAFE_LO < ss < SAFE_HI:
        r2 = x0 * x0 + ss
        r = math.sqrt(r2) if r2 < SAFE_HI else math.hypot(x0, math.sqrt(ss))
    else:
        tail = _tail_norm(a, j + 1, rows)
        if tail == 0.0:
            tau[j] = 0.0
            return False
        r = math.hypot(x0, tail)
    beta = -math.copysign(r, x0)
    tau[j] = (beta - x0) / beta
    scal = 1.0 / (x0 - beta)
    for i in range(j + 1, rows):
        a[i] *= scal
    a[j] = beta
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _apply_to_pairs(At, a, t, j, rows):
    """Apply reflector ``(a, t)`` to the columns after ``j`` two at a time;
    returns the column left without a partner (``cols`` when none is)."""
    cols = At.shape[0]
    c = j + 1
    while c + 2 <= cols:
        _apply_reflector2(a, t, At[c], At[c + 1], j, rows)
        c += 2
    return c


@njit(cache=True, error_model="numpy", inline="always")
def _apply_reflector2(a, t, b0, b1, j, rows):
    """:func:`_apply_reflector` on two vectors in one sweep: ``a`` is read once
    for both, and the two dot products run in two chains each."""
    c0 = b0[j]
    c1 = b1[j]
    e0 = 0.0
    e1 = 0.0
    i = j + 1
    while i + 2 <= rows:
        c0 += a[i] * b0[i]
        c1 += a[i] * b1[i]
        e0 += a[i + 1] * b0[i + 1]
        e1 += a[i + 1] * b1[i + 1]
        i += 2
    if i < rows:
        c0 += a[i] * b0[i]
        c1 += a[i] * b1[i]
    w0 = (c0 + e0) * t
    w1 = (c1 + e1) * t
    b0[j] -= w0
    b1[j] -= w1
    for i in range(j + 1, rows):
        b0[i] -= w0 * a[i]
        b1[i] -= w1 * a[i]


@njit(cache=True, error_model="numpy", inline="always")
def _apply_reflector(a, t, b, j, rows):
    """``b <- (I - t v v^T) b`` for the reflector ``v = [0..0, 1, a[j+1:rows]]``."""
    w = (b[j] + dot_range(a, b, j + 1, rows)) * t
    b[j] -= w
    for i in range(j + 1, rows):
        b[i] -= w * a[i]


@kernel_jit
def apply_qt(At, tau, b):
    """Overwrite ``b`` with ``Q^T b`` using the reflectors stored in ``At``."""
    cols, rows = At.shape
    k = min(rows, cols)
    for j in range(k):
        if tau[j] != 0.0:
            _apply_reflector(At[j], tau[j], b, j, rows)


@kernel_jit
def copy_r(At, R):
    """Copy ``R`` out of the factored ``At`` into square ``R`` (zero-padded)."""
    cols, rows = At.shape
    n = R.shape[0]
    for i in range(n):
        for j in range(n):
            R[i, j] = At[j, i] if (i <= j and i < rows) else 0.0


@kernel_jit
def jacobi_svd(U, s, V, uf, w):
    """One-sided Jacobi SVD of the square matrix held in ``U``.

    On entry ``U`` holds ``A`` (n x n) and ``uf`` holds a vector ``b``.  On exit
    ``A = U diag(s) V^T`` with ``s`` sorted in decreasing order, ``U`` has
    orthonormal columns where ``s > 0``, and ``uf`` holds ``U^T b``.

    Parameters
    ----------
    U : ndarray, shape (n, n)
    s : ndarray, shape (n,)
    V : ndarray, shape (n, n)
    uf : ndarray, shape (n,)
    w : ndarray, shape (>= n,)
        Work vector.
    """
    n = U.shape[0]
    for i in range(n):
        for j in range(n):
            V[i, j] = 1.0 if i == j else 0.0
    for sweep in range(80):
        rotated = False
        for p in range(n - 1):
            for q in range(p + 1, n):
                alpha = 0.0
                beta = 0.0
                gamma = 0.0
                for i in range(n):
                    up = U[i, p]
                    uq = U[i, q]
                    alpha += up * up
                    beta += uq * uq
                    gamma += up * uq
                if gamma == 0.0 or abs(gamma) <= EPS * math.sqrt(alpha * beta):
                    continue
                rotated = True
                zeta = (beta - alpha) / (2.0 * gamma)
                az = abs(zeta)
                if az > 1e150:
                    t = 0.5 / zeta
                else:
                    t = math.copysign(1.0, zeta) / (az + math.sqrt(1.0 + zeta * zeta))
                c = 1.0 / math.sqrt(1.0 + t * t)
                sn = c * t
                for i in range(n):
                    up = U[i, p]
                    uq = U[i, q]
                    U[i, p] = c * up - sn * uq
                    U[i, q] = sn * up + c * uq
                    vp = V[i, p]
                    vq = V[i, q]
                    V[i, p] = c * vp - sn * vq
                    V[i, q] = sn * vp + c * vq
        if not rotated:
            break
    # singular values are the column norms; normalise U and project b
    for j in range(n):
        nrm = 0.0
        for i in range(n):
            nrm += U[i, j] * U[i, j]
        nrm = math.sqrt(nrm)
        s[j] = nrm
        acc = 0.0
        if nrm > 0.0:
            for i in range(n):
                U[i, j] /= nrm
                acc += U[i, j] * uf[i]
        w[j] = acc
    for j in range(n):
        uf[j] = w[j]
    # selection sort by decreasing singular value (n is small)
    for j in range(n):
        best = j
        for k in range(j + 1, n):
            if s[k] > s[best]:
                best = k
        if best != j:
            s[j], s[best] = s[best], s[j]
            uf[j], uf[best] = uf[best], uf[j]
            for i in range(n):
                U[i, j], U[i, best] = U[i, best], U[i, j]
                V[i, j], V[i, best] = V[i, best], V[i, j]


@kernel_jit
def solve_trust_region(s, V, uf, Delta, alpha, rtol, gn_factor, to_boundary,
                       update_last, cutoff, p):
    """Solve ``min ||J p + f||`` subject to ``||p|| <= Delta`` from an SVD of ``J``.

    If ``J`` is rank deficient (smallest singular value at or below
    ``cutoff``) the Gauss-Newton step is the minimum-norm least-squares step
    over the nonzero singular values; it is taken when it fits in the
    region, otherwise ``alpha > 0`` regularises every direction.

    Parameters
    ----------
    s, V, uf : ndarray
        Singular values (decreasing), right singular vectors, ``U^T f``.
    Delta : float
        Trust-region radius.
    alpha : float
        Starting guess for the Levenberg-Marquardt parameter (0: none).
    rtol : float
        Accept ``alpha`` once ``| ||p|| - Delta | < rtol * Delta``.
    gn_factor : float
        Take the Gauss-Newton step when ``||p_gn|| <= gn_factor * Delta``.
    to_boundary : bool
        Rescale a constrained step to lie exactly on the boundary.
    update_last : bool
        Order of the iteration.  True: each Newton update is applied before
        the tolerance test, so the step uses the updated ``alpha`` (scipy's
        trf, ``solve_lsq_trust_region``; its cauchy/1e8 iterates are matched
        to 1e-9, tests/test_properties.py).  False: the test comes first and
        the step uses the ``alpha`` that passed it, always inside the
        safeguarding bracket (MINPACK's ``lmpar``, used by 'lm': an
        unbracketed last update can make ``alpha`` negative).
    cutoff : float
        Rank threshold on the singular values.
    p : ndarray, shape (n,)
        The step (output).

    Returns
    -------
    alpha : float
        The Levenberg-Marquardt parameter of the step (0 for Gauss-Newton).
    """
    n = s.shape[0]
    full_rank = n > 0 and s[n - 1] > cutoff
    gn2 = 0.0
    for i in range(n):
        if s[i] > 0.0:
            gn2 += (uf[i] / s[i]) ** 2
    gn_norm = math.sqrt(gn2)
    if gn_norm <= gn_factor * Delta:
        pinv_step(s, V, uf, 0.0, p)
        return 0.0
    suf2 = 0.0
    for i in range(n):
        suf2 += (s[i] * uf[i]) ** 2
    alpha_upper = math.sqrt(suf2) / Delta
    alpha_lower = 0.0
    if full_rank:
        phi, dphi = _phi(s, uf, 0.0, Delta)
        alpha_lower = -phi / dphi
    if not (alpha > 0.0 and math.isfinite(alpha)):
        alpha = max(0.001 * alpha_upper, math.sqrt(alpha_lower * alpha_upper))
    for it in range(10):
        if alpha < alpha_lower or alpha > alpha_upper:
            alpha = max(0.001 * alpha_upper, math.sqrt(alpha_lower * alpha_upper))
        phi, dphi = _phi(s, uf, alpha, Delta)
        if abs(phi) < rtol * Delta and not update_last:
            break
        if phi < 0.0:
            alpha_upper = alpha
        ratio = phi / dphi
        alpha_lower = max(alpha_lower, alpha - ratio)
        # Newton on 1/||p(alpha)|| (More 1978, eq. 5.5)
        alpha -= (phi + Delta) * ratio / Delta
        if abs(phi) < rtol * Delta:
            break                        # update_last: scipy's order, alpha as updated
        if alpha < alpha_lower or alpha > alpha_upper:
            alpha = max(0.001 * alpha_upper, math.sqrt(alpha_lower * alpha_upper))
    _combine(s, V, uf, alpha, p)
    if to_boundary:
        nrm = 0.0
        for i in range(n):
            nrm += p[i] * p[i]
        nrm = math.sqrt(nrm)
        if nrm > 0.0:
            for i in range(n):
                p[i] *= Delta / nrm
    return alpha


@kernel_jit
def _phi(s, uf, alpha, Delta):
    """``phi = ||p(alpha)|| - Delta`` and its derivative in ``alpha``."""
    pn2 = 0.0
    d3 = 0.0
    for i in range(s.shape[0]):
        den = s[i] * s[i] + alpha
        if den == 0.0:
            continue
        suf = s[i] * uf[i]
        pn2 += (suf / den) ** 2
        d3 += suf * suf / (den * den * den)
    pn = math.sqrt(pn2)
    if pn == 0.0:
        return -Delta, -1.0
    return pn - Delta, -d3 / pn


@kernel_jit
def _combine(s, V, uf, alpha, p):
    """``p = -V diag(s / (s^2 + alpha)) uf`` (a zero singular value adds nothing)."""
    n = s.shape[0]
    for j in range(n):
        p[j] = 0.0
    for i in range(n):
        den = s[i] * s[i] + alpha
        if den == 0.0:
            continue
        c = s[i] * uf[i] / den
        if c == 0.0:
            continue
        for j in range(n):
            p[j] -= V[j, i] * c


@kernel_jit
def pinv_step(s, V, uf, cutoff, p):
    """Minimum-norm Gauss-Newton step ``p = -V diag(1/s) uf`` over ``s > cutoff``."""
    n = s.shape[0]
    for j in range(n):
        p[j] = 0.0
    for i in range(n):
        if s[i] <= cutoff:
            continue
        c = uf[i] / s[i]
        for j in range(n):
            p[j] -= V[j, i] * c


@kernel_jit
def norm_r(R, p):
    """``||R p||^2`` for upper-triangular ``R`` (equal to ``||J p||^2`` when ``J = Q R``)."""
    n = R.shape[0]
    acc = 0.0
    for i in range(n):
        y = 0.0
        for j in range(i, n):
            y += R[i, j] * p[j]
        acc += y * y
    return acc


@kernel_jit
def dot_r(R, a, b):
    """``(R a) . (R b)``, i.e. ``(J a) . (J b)``."""
    n = R.shape[0]
    acc = 0.0
    for i in range(n):
        ya = 0.0
        yb = 0.0
        for j in range(i, n):
            ya += R[i, j] * a[j]
            yb += R[i, j] * b[j]
        acc += ya * yb
    return acc


@kernel_jit
def quadratic(R, g, p):
    """The Gauss-Newton model ``q(p) = g.p + 0.5 ||J p||^2`` with ``||J p|| = ||R p||``."""
    return quadratic_from(g, p, norm_r(R, p))


@kernel_jit
def quadratic_from(g, p, Jp2):
    """:func:`quadratic` with ``||J p||^2`` already known."""
    gp = 0.0
    for j in range(p.shape[0]):
        gp += g[j] * p[j]
    return gp + 0.5 * Jp2


@kernel_jit
def well_conditioned(R, rtol):
    """True if every ``|R_jj| > rtol * max |R_ii|``: ``R`` is safely invertible."""
    n = R.shape[0]
    big = 0.0
    for i in range(n):
        big = max(big, abs(R[i, i]))
    if big == 0.0:
        return False
    for i in range(n):
        if not abs(R[i, i]) > rtol * big:
            return False
    return True


@kernel_jit
def back_substitute(R, b, p):
    """Solve ``R p = -b`` for upper-triangular ``R``: the Gauss-Newton step."""
    n = R.shape[0]
    for i in range(n - 1, -1, -1):
        acc = -b[i]
        for j in range(i + 1, n):
            acc -= R[i, j] * p[j]
        p[i] = acc / R[i, i]


@kernel_jit
def minimize_quadratic_1d(a, b, lo, hi, c):
    """Minimise ``a t^2 + b t + c`` over ``lo <= t <= hi``; return ``(t, value)``."""
    t_best = lo
    v_best = a * lo * lo + b * lo + c
    v = a * hi * hi + b * hi + c
    if v < v_best:
        t_best = hi
        v_best = v
    if a != 0.0:
        t = -0.5 * b / a
        if lo < t < hi:
            v = a * t * t + b * t + c
            if v < v_best:
                t_best = t
                v_best = v
    return t_best, v_best


@kernel_jit
def norm2(a):
    """Euclidean norm without overflow or loss to underflow: one unscaled pass
    when the sum of squares is safely in range, else scaled by the largest
    entry (a NaN or inf entry gives NaN or inf)."""
    n = a.shape[0]
    ss = dot_range(a, a, 0, n)
    if SAFE_LO < ss < SAFE_HI:
        return math.sqrt(ss)
    big = 0.0
    for i in range(n):
        t = abs(a[i])
        if t > big:
            big = t
    if big == 0.0 or not math.isfinite(big):
        return big
    acc = 0.0
    for i in range(n):
        t = a[i] / big
        acc += t * t
    return big * math.sqrt(acc)


@kernel_jit
def dot(a, b):
    return dot_range(a, b, 0, a.shape[0])
