r"""LSMR: the damped least-squares problem by Golub-Kahan bidiagonalization.

LSMR (Fong and Saunders, "LSMR: An iterative algorithm for sparse
least-squares problems", SIAM J. Sci. Comput. 33(5), 2011) solves

.. math::  \min_x \left\| \begin{bmatrix} A \\ \lambda I \end{bmatrix} x
           - \begin{bmatrix} b \\ 0 \end{bmatrix} \right\|_2

touching ``A`` only through the products ``A v`` and ``A^T u``: the cost of
an iteration is two products and a few vector updates, so a sparse ``A``
costs O(nnz) per iteration and no ``m x n`` array is ever formed.

Derivation
----------
*Bidiagonalization* (Golub and Kahan 1965).  From ``beta_1 u_1 = b`` and
``alpha_1 v_1 = A^T u_1``,

.. math::  \beta_{k+1} u_{k+1} = A v_k - \alpha_k u_k, \qquad
           \alpha_{k+1} v_{k+1} = A^T u_{k+1} - \beta_{k+1} v_k ,

with each ``alpha``, ``beta`` the norm that makes ``u``, ``v`` unit vectors.
Then ``A V_k = U_{k+1} B_k`` with ``B_k`` lower bidiagonal, and
``A^T U_{k+1} = V_{k+1} L_{k+1}^T``.

*The subproblem.*  LSQR minimises ``||r_k||`` over ``x = V_k y``; LSMR
instead minimises ``||A^T r_k||``, which in this basis is

.. math::  \|A^T r_k\| = \left\| \bar\beta_1 e_1 -
           \begin{bmatrix} B_k^T B_k \\ \bar\alpha_{k+1}\beta_{k+1} e_k^T
           \end{bmatrix} y \right\|, \quad \bar\beta_1 = \alpha_1 \beta_1 .

Two QR factorizations by plane rotations solve it a column at a time.  The
first, ``Q_k`` (rotations ``(c_k, s_k)``), turns ``B_k`` (with the damping
row first rotated in by ``(c^_k, s^_k)``, which makes ``alpha^_k =
sqrt(alpha-bar_k^2 + lambda^2)``) into upper bidiagonal ``R_k`` with
diagonal ``rho_k`` and superdiagonal ``theta_{k+1} = s_k alpha_{k+1}``; the
second, ``Q-bar_k`` (``(c-bar_k, s-bar_k)``), turns ``R_k^T`` into upper
bidiagonal ``R-bar_k`` with diagonal ``rho-bar_k`` and superdiagonal
``theta-bar_k = s-bar_{k-1} rho_k``, applied also to the right-hand side:
``zeta_k = c-bar_k zeta-bar_k``, ``zeta-bar_{k+1} = -s-bar_k zeta-bar_k``.
Since ``R_k^T R-bar_k`` is bidiagonal-by-bidiagonal, ``x_k`` is updated by
short recurrences in two direction vectors ``h`` and ``h-bar``:

.. math::  \bar h_k = h_k - \frac{\bar\theta_k \rho_k}{\rho_{k-1}\bar\rho_{k-1}}
           \bar h_{k-1}, \quad x_k = x_{k-1} + \frac{\zeta_k}{\rho_k\bar\rho_k}
           \bar h_k, \quad h_{k+1} = v_{k+1} - \frac{\theta_{k+1}}{\rho_k} h_k ,

and ``|zeta-bar_{k+1}| = ||A^T r_k||`` falls out for free (it decreases
monotonically, the point of LSMR).

*Estimates* (section 3 of the paper).  ``||r_k||`` comes from the same
rotations applied to ``beta_1 e_1`` (the ``beta-dd``, ``beta-hat``,
``beta-check`` recurrences and a third rotation ``Q-tilde`` that solves
with ``R-bar^T``); ``||A||`` is the Frobenius norm of the bidiagonal seen so
far (``sum alpha^2 + beta^2``), ``cond(A)`` the ratio of the largest to the
smallest ``rho-bar``.

*Stopping* (the rules of LSQR, Paige and Saunders 1982): istop 1 when
``||r|| <= btol ||b|| + atol ||A|| ||x||`` (a compatible system), 2 when
``||A^T r|| <= atol ||A|| ||r||`` (a least-squares solution), 3 when
``cond(A) >= conlim``, 4-6 the same three tests at machine precision
(``1 + t <= 1``), 7 when ``maxiter`` iterations are done.  These are the
codes of scipy's ``scipy.sparse.linalg.lsmr``.

The plane rotations are computed as in Choi's thesis ("Iterative methods
for singular linear equations and least-squares problems", Stanford 2006,
Table 2.9: ``SymOrtho``), which never overflows and is correct for either
argument zero.

One implementation serves every operator: :func:`lsmr_core` takes the
products as functions ``mv(A, v, out)`` (``out = A v``) and ``rmv(A, u,
out)`` (``out = A^T u``).  The compiled entry :func:`lsmr_csr` binds the
CSR products; a Python operator (a ``scipy.sparse.linalg.LinearOperator``)
runs the same source as Python (``lsmr_core.py_func``), the vector
arithmetic still compiled.
"""
import math

import numpy as np
from numba import njit

from ._csc import uindex

_inline = njit(error_model="numpy", inline="always")
_small = njit(cache=True, error_model="numpy")

#: the meaning of each ``istop`` (as scipy's lsmr)
ISTOP_MESSAGES = (
    "x = 0 is the exact solution (b = 0, or A^T b = 0)",
    "Ax - b is small enough, given atol, btol",
    "the least-squares solution is good enough, given atol",
    "the estimate of cond(A) has exceeded conlim",
    "Ax - b is small enough for this machine",
    "the least-squares solution is good enough for this machine",
    "cond(A) seems to be too large for this machine",
    "the iteration limit has been reached",
)


@_small
def sym_ortho(a, b):
    """The plane rotation ``(c, s, r)`` with ``[c s; -s c] [a; b] = [r; 0]``
    (Choi 2006, ``SymOrtho``)."""
    if b == 0.0:
        return (1.0 if a >= 0.0 else -1.0) if a != 0.0 else 0.0, 0.0, abs(a)
    if a == 0.0:
        return 0.0, (1.0 if b > 0.0 else -1.0), abs(b)
    if abs(b) > abs(a):
        tau = a / b
        s = (1.0 if b > 0.0 else -1.0) / math.sqrt(1.0 + tau * tau)
        return s * tau, s, b / s
    tau = b / a
    c = (1.0 if a > 0.0 else -1.0) / math.sqrt(1.0 + tau * tau)
    return c, c * tau, a / c


@_small
def norm(v):
    """``||v||_2``, scaled against overflow."""
    big = 0.0
    for i in range(v.size):
        big = max(big, abs(v[i]))
    if big == 0.0 or not math.isfinite(big):
        return big
    s = 0.0
    for i in range(v.size):
        t = v[i] / big
        s += t * t
    return big * math.sqrt(s)


@_small
def axpby(a, x, b, y):
    """``y = a x + b y`` in place."""
    for i in range(y.size):
        y[i] = a * x[i] + b * y[i]


@_small
def assign(y, a, x):
    """``y = a x`` in place (``x`` None: ``y = a``); loops, so that the GPU
    needs no runtime for it."""
    for i in range(y.size):
        y[i] = a if x is None else a * x[i]


@_small
def scale(v, a):
    """``v *= a`` in place."""
    for i in range(v.size):
        v[i] *= a


@_small
def work_arrays(m, n):
    """Fresh scratch vectors for :func:`lsmr_core` and ``A`` of shape (m, n)."""
    return (np.empty(m), np.empty(m), np.empty(n), np.empty(n), np.empty(n), np.empty(n))


@_inline
def stop_code(itn, maxiter, normr, normar, normA, condA, normx, normb, atol, btol, ctol):
    """``istop`` after iteration ``itn`` (0: go on); the tests of the module
    docstring, the strongest that holds."""
    test1 = normr / normb
    test2 = normar / (normA * normr) if normA * normr != 0.0 else math.inf
    test3 = 1.0 / condA
    t1 = test1 / (1.0 + normA * normx / normb)
    rtol = btol + atol * normA * normx / normb
    istop = 0
    if itn >= maxiter:
        istop = 7
    if 1.0 + test3 <= 1.0:
        istop = 6
    if 1.0 + test2 <= 1.0:
        istop = 5
    if 1.0 + t1 <= 1.0:
        istop = 4
    if test3 <= ctol:
        istop = 3
    if test2 <= atol:
        istop = 2
    if test1 <= rtol:
        istop = 1
    return istop


@_inline
def lsmr_core(mv, rmv, A, b, x, damp, atol, btol, conlim, maxiter, work):
    """LSMR on ``A`` reached through ``mv``/``rmv``, from ``x = 0``.

    Allocates nothing (a solver kernel's workspace, or the GPU, can call
    it): its vectors are the arrays of ``work``.

    Parameters
    ----------
    mv, rmv : function
        ``mv(A, v, out)`` writes ``A v`` into ``out``; ``rmv(A, u, out)``
        writes ``A^T u``.
    A : object
        Whatever ``mv`` and ``rmv`` take.
    b : ndarray (m,)
    x : ndarray (n,)
        Output, overwritten with the solution.
    damp, atol, btol, conlim : float
        ``lambda`` of the damped problem, and the stopping tolerances
        (``conlim <= 0``: no condition limit).
    maxiter : int
    work : tuple of ndarray
        Scratch ``(u, A v, v, A^T u, h, h-bar)``, of at least m, m, n, n, n
        and n entries (:func:`work_arrays`; longer arrays are used from
        their start).

    Returns
    -------
    istop, itn : int
    normr, normar, normA, condA, normx : float
        Estimates of ``||b - Ax||`` (of the damped system), ``||A^T r||``,
        ``||A||_F``, ``cond(A)`` and ``||x||``.
    """
    m = b.size
    n = x.size
    u = work[0][:m]
    Av = work[1][:m]
    v = work[2][:n]
    Atu = work[3][:n]
    h = work[4][:n]
    hbar = work[5][:n]
    assign(x, 0.0, None)
    assign(u, 1.0, b)
    assign(v, 0.0, None)
    beta = norm(u)
    if beta > 0.0:
        scale(u, 1.0 / beta)
        rmv(A, u, v)
    alpha = norm(v)
    if alpha > 0.0:
        scale(v, 1.0 / alpha)
    normb = beta
    normar = alpha * beta
    if normar == 0.0:
        return 0, 0, beta, 0.0, alpha, 1.0, 0.0

    # the two QR factorizations and the right-hand side
    zetabar = alpha * beta
    alphabar = alpha
    rho = 1.0
    rhobar = 1.0
    cbar = 1.0
    sbar = 0.0
    zeta = 0.0
    assign(h, 1.0, v)
    assign(hbar, 0.0, None)
    # the ||r|| estimate
    betadd, betad, rhodold, tautildeold, thetatilde, d = beta, 0.0, 1.0, 0.0, 0.0, 0.0
    # ||A|| and cond(A)
    normA2 = alpha * alpha
    maxrbar = 0.0
    minrbar = 1e100
    ctol = 1.0 / conlim if conlim > 0.0 else 0.0
    normr = beta
    normA = math.sqrt(normA2)
    condA = 1.0
    normx = 0.0
    istop = 0
    itn = 0
    while itn < maxiter:
        itn += 1
        # next step of the bidiagonalization
        mv(A, v, Av)
        axpby(1.0, Av, -alpha, u)
        beta = norm(u)
        if beta > 0.0:
            scale(u, 1.0 / beta)
            rmv(A, u, Atu)
            axpby(1.0, Atu, -beta, v)
            alpha = norm(v)
            if alpha > 0.0:
                scale(v, 1.0 / alpha)
        # the damping row, then Q_k and Q-bar_k
        chat, shat, alphahat = sym_ortho(alphabar, damp)
        rhoold = rho
        c, s, rho = sym_ortho(alphahat, beta)
        thetanew = s * alpha
        alphabar = c * alpha
        rhobarold = rhobar
        zetaold = zeta
        thetabar = sbar * rho
        rhotemp = cbar * rho
        cbar, sbar, rhobar = sym_ortho(cbar * rho, thetanew)
        zeta = cbar * zetabar
        zetabar = -sbar * zetabar
        # h-bar, x and h
        axpby(1.0, h, -(thetabar * rho / (rhoold * rhobarold)), hbar)
        axpby(zeta / (rho * rhobar), hbar, 1.0, x)
        axpby(1.0, v, -(thetanew / rho), h)
        # ||r||: the rotations applied to beta_1 e_1, then Q-tilde
        betaacute = chat * betadd
        betacheck = -shat * betadd
        betahat = c * betaacute
        betadd = -s * betaacute
        thetatildeold = thetatilde
        ctildeold, stildeold, rhotildeold = sym_ortho(rhodold, thetabar)
        thetatilde = stildeold * rhobar
        rhodold = ctildeold * rhobar
        betad = -stildeold * betad + ctildeold * betahat
        tautildeold = (zetaold - thetatildeold * tautildeold) / rhotildeold
        taud = (zeta - thetatilde * tautildeold) / rhodold
        d += betacheck * betacheck
        normr = math.sqrt(d + (betad - taud) ** 2 + betadd * betadd)
        # ||A|| and cond(A)
        normA2 += beta * beta
        normA = math.sqrt(normA2)
        normA2 += alpha * alpha
        maxrbar = max(maxrbar, rhobarold)
        if itn > 1:
            minrbar = min(minrbar, rhobarold)
        condA = max(maxrbar, rhotemp) / min(minrbar, rhotemp)
        # the stopping tests
        normar = abs(zetabar)
        normx = norm(x)
        istop = stop_code(itn, maxiter, normr, normar, normA, condA, normx, normb, atol,
                          btol, ctol)
        if istop:
            break
    return istop, itn, normr, normar, normA, condA, normx


# ---- the products of a CSR matrix --------------------------------------------

@_inline
def csr_mv(A, v, out):
    """``out = A v`` for ``A = (data, indices, indptr)`` in CSR (unsigned indices:
    :mod:`lsqcore._csc`)."""
    data, indices, indptr = A
    for i in range(out.size):
        s = 0.0
        k, end = uindex(indptr[i]), uindex(indptr[i + 1])
        while k < end:
            s += data[k] * v[uindex(indices[k])]
            k += uindex(1)
        out[i] = s


@_inline
def csr_rmv(A, u, out):
    """``out = A^T u`` for ``A = (data, indices, indptr)`` in CSR."""
    data, indices, indptr = A
    for j in range(out.size):
        out[j] = 0.0
    for i in range(indptr.size - 1):
        ui = u[i]
        k, end = uindex(indptr[i]), uindex(indptr[i + 1])
        while k < end:
            out[uindex(indices[k])] += data[k] * ui
            k += uindex(1)


@njit(cache=True, error_model="numpy")
def lsmr_csr(data, indices, indptr, n, b, damp, atol, btol, conlim, maxiter):
    """:func:`lsmr_core` on a CSR matrix with ``n`` columns; ``(x, istop, itn,
    normr, normar, normA, condA, normx)``."""
    x = np.zeros(n)
    istop, itn, normr, normar, normA, condA, normx = lsmr_core(
        csr_mv, csr_rmv, (data, indices, indptr), b, x, damp, atol, btol, conlim, maxiter,
        work_arrays(b.size, n))
    return x, istop, itn, normr, normar, normA, condA, normx


def _py_mv(A, v, out):
    out[:] = A.matvec(v).ravel()


def _py_rmv(A, u, out):
    out[:] = A.rmatvec(u).ravel()


def lsmr(A, b, damp=0.0, atol=1e-6, btol=1e-6, conlim=1e8, maxiter=None):
    """LSMR as ``scipy.sparse.linalg.lsmr`` computes it (from ``x0 = 0``).

    Parameters
    ----------
    A : ndarray, scipy.sparse matrix or array, or LinearOperator (m, n)
        A dense or sparse matrix runs fully compiled (as CSR); a
        ``LinearOperator`` runs the same iteration with its ``matvec`` and
        ``rmatvec`` called from Python.
    b : array_like (m,)
    damp, atol, btol, conlim : float
        As scipy's (``conlim=0``: no condition limit).
    maxiter : int, optional
        Default ``min(m, n)``.

    Returns
    -------
    x, istop, itn, normr, normar, norma, conda, normx
        As scipy's ``lsmr``.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import LinearOperator
    m, n = A.shape
    b = np.asarray(b, dtype=np.float64).ravel()
    if b.size != m:
        raise ValueError(f"`b` must have {m} entries (the rows of `A`), got {b.size}")
    if maxiter is None:
        maxiter = min(m, n)
    args = (float(damp), float(atol), float(btol), float(conlim), int(maxiter))
    if isinstance(A, LinearOperator):
        x = np.zeros(n)
        stats = lsmr_core.py_func(_py_mv, _py_rmv, A, b, x, *args, work_arrays(m, n))
        return (x,) + tuple(stats)
    A = sp.csr_matrix(A, dtype=np.float64)
    A.sum_duplicates()
    return lsmr_csr(A.data, A.indices.astype(np.int64), A.indptr.astype(np.int64), n, b,
                    *args)
