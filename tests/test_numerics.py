"""Unit tests of the numerical kernels, each against numpy/scipy LAPACK and
against the properties that define it.

The solvers' accuracy rests on a few small compiled kernels; here each is
called directly (from Python, on numpy arrays laid out as its docstring
says) on random, rank-deficient and badly scaled inputs, in the spirit of
scipy's ``optimize/tests/test_lsq_common.py``.

Inputs
------
``make_matrix`` draws ``m x n`` matrices (``numpy.random.default_rng`` with
fixed seeds), square, tall (``m >> n``) and one wide, ``n`` from 1 to 10, of six kinds:
Gaussian; Gaussian with column scales spanning 1e-8..1e8; one exactly zero
column; a duplicated column; rank ``k < n`` as a product ``B (m x k) C (k x n)``;
and that product with the 1e-8..1e8 column scales.

What is checked, and why each tolerance
---------------------------------------
``u = eps`` is the unit roundoff (2.2e-16).  Every bound below is a textbook
bound ``constant(m, n) * u * (condition)``; the "small multiple" written as
``SLACK`` (= 4) covers the unspecified constants of those theorems and the
rounding of the numpy code that forms the check.  Measured: with ``SLACK``
divided by 10 the rounding-level checks (orthogonality, reconstruction,
singular values) start failing, with ``SLACK / 100`` the perturbation-bound
checks too, so the bounds are tight; a wrong sign, index, threshold or
formula in a kernel (tried by hand on a copy) fails them by far.

* ``householder_qr`` / ``apply_qt`` / ``copy_r`` (Golub & Van Loan, "Matrix
  Computations", 4th ed., sec. 5.1-5.2; Higham, "Accuracy and Stability of
  Numerical Algorithms", 2nd ed., Thm 19.4).  Householder QR is column-wise
  backward stable: ``A + dA = Q R`` with ``||dA e_j|| <= c m n u ||A e_j||``.
  Checked: ``Q`` rebuilt from the stored reflectors is orthogonal to
  ``SLACK m u``; ``Q R`` gives back every column of ``A`` to
  ``SLACK m n u ||a_j||`` (so a 1e-8 column is checked as tightly as a 1e8
  one); ``R`` equals LAPACK's (``scipy.linalg.qr``) up to row signs, column
  by column, to ``SLACK m n u kappa(A D^-1) ||a_j||`` with ``D`` the column
  norms (the column-scaling-invariant condition number that governs
  column-wise perturbations of ``R``; full-rank inputs only, where ``R`` is
  unique up to row signs); ``R`` has the singular values of ``A`` to
  ``SLACK m n u ||A||_F`` (Weyl, any rank); ``apply_qt`` is ``Q^T b``;
  a zero column gives ``tau = 0`` and an exactly zero column of ``R``.
* ``jacobi_svd`` (Golub & Van Loan sec. 8.6.4; Demmel & Veselic 1992).
  Backward stable, so each singular value is within ``SLACK n u s_max`` of
  numpy's (Weyl); ``U diag(s) V^T`` gives back ``A`` to ``SLACK n u ||A||_F``;
  ``V`` is orthogonal and the columns of ``U`` with ``s > 0`` orthonormal to
  ``SLACK n u`` (the stopping test itself makes every pair of columns
  orthogonal to ``u``); a zero singular value comes with a ``U`` column
  whose squares underflow;
  ``uf`` becomes ``U^T b``; for a simple singular value the vectors match
  numpy's up to sign within the Wedin angle ``SLACK n u s_max / gap``.
  For the column-scaled full-rank inputs the small singular values are also
  checked *relatively*, ``|ds_i| <= SLACK n u kappa(B) s_i`` with ``B`` the
  column-equilibrated matrix, against LAPACK's preconditioned Jacobi
  ``dgejsv`` (numpy's ``gesdd`` has only the absolute bound).
* ``solve_trust_region`` and the Levenberg-Marquardt parameter (More 1978;
  Nocedal & Wright sec. 4.3).  The step for the returned ``alpha`` must
  satisfy the optimality conditions of ``min ||J p + f||, ||D p|| <= Delta``:
  ``alpha >= 0``; ``(J^T J + alpha D^2) p = -J^T f`` to the backward error of
  forming it, measured in the ``D^-1`` norm (the dual of the region's):
  ``SLACK (m + n) u ((s_max^2 + alpha) ||D p|| + s_max ||f||)`` with
  ``s_max = ||J D^-1||``; and complementarity in More's relaxed form, ``alpha = 0`` with
  ``||D p|| <= gn_factor Delta`` or ``| ||D p|| - Delta | <= sigma Delta``
  with the routine's own ``sigma = rtol`` (0.1 for 'lm', 0.01 for 'trf',
  which also rescales the step onto the boundary).  The reference is
  independent of the routine: ``phi(lambda) = ||D p(lambda)|| - Delta`` with
  ``D p(lambda)`` from ``numpy.linalg.lstsq`` on ``[J D^-1; sqrt(lambda) I]``, and
  ``scipy.optimize.brentq`` gives the interval of ``lambda`` on which
  ``|phi| <= sigma Delta``; the returned ``alpha`` must lie in it (widened by
  the reference's own error), and the step must equal the reference step at
  that ``alpha`` to the least-squares perturbation bound
  ``SLACK (m + n) u (kappa + kappa^2 ||r|| / (||A|| ||p||))`` (Golub & Van
  Loan Thm 5.3.1) of the augmented matrix.  A Gauss-Newton step
  (``alpha = 0``) is compared with ``lstsq`` to the same bound.  These
  comparisons are made where the bound is below 1e-4: always for the LM
  parameter (``J D^-1`` factored by the library's own QR and Jacobi SVD,
  ``D`` from the column norms, as methods/lm.py) and for ``D = I`` on
  unscaled inputs (asserted); for ``D = I`` with raw 1e-8..1e8 columns the
  problem itself has ``kappa ~ 1e16`` and only the conditions above apply.
* ``step_to_bound`` (Branch, Coleman & Li 1999): the largest ``t`` with
  ``lb <= x + t s <= ub`` and the blocking bounds, against a direct numpy
  computation (bitwise: the same IEEE operations), including zero
  components of ``s``, infinite bounds, a start on a bound and components
  whose ratio overflows; and the defining properties, ``x + t s`` feasible
  to the rounding of one multiply-add and on the blocking bounds.
* The losses (``rho_builtin``, ``evaluate_rho``): ``rho, rho', rho''`` of
  linear, soft_l1, huber, cauchy and arctan against the formulas of the
  table in ``lsqcore/_loss.py`` (scipy's), written here in numpy, to
  ``8 u`` relative (a few correctly rounded operations each side), at
  ``z`` from 0 and 1e-300 to 1e300 and infinity and around huber's
  threshold, with ``f_scale != 1``; and ``rho^(k)`` (k = 1, 2) against central
  differences of ``rho^(k-1)`` with ``h = u^(1/3) z``, whose error is at most
  ``(h^2 / 6) max|rho^(k+2)| + 2 e / (2 h)`` where ``e <= 4 u M`` bounds the
  error of one evaluation of ``rho^(k-1)`` (``M`` its largest intermediate:
  ``|rho^(k-1)|``, or ``2 sqrt(1 + z)`` for soft_l1's ``rho``).  For these
  five losses ``z^2 |rho^(k+2)(z)| <= 12 |rho^(k)(z)|`` (from the closed
  forms; 12 is arctan's ``12 z^2 |1 - z^2| / (1 + z^2)^2`` at k = 2), so the
  bound used is ``2 h^2 max|rho^(k)| / (z - h)^2 + 4 u M / h``.  soft_l1's
  ``rho`` cancels for small ``z`` exactly as scipy's does; its error is
  checked against the cancellation-free form to ``4 u`` absolute.

References
----------
J. J. More, "The Levenberg-Marquardt algorithm: implementation and theory",
Lecture Notes in Mathematics 630, 1978.
G. H. Golub, C. F. Van Loan, "Matrix Computations", 4th ed., 2013.
N. J. Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., 2002.
J. Demmel, K. Veselic, "Jacobi's method is more accurate than QR",
SIAM J. Matrix Anal. Appl. 13(4), 1992.
M. A. Branch, T. F. Coleman, Y. Li, "A subspace, interior, and conjugate
gradient method for large-scale bound-constrained minimization problems",
SIAM J. Sci. Comput. 21(1), 1999.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
from scipy.optimize import brentq

from lsqcore._bounds import step_to_bound
from lsqcore._linalg import (apply_qt, copy_r, householder_qr, jacobi_svd, pinv_step,
                             solve_trust_region)
from lsqcore._loss import LOSS_CODES, evaluate_rho, rho_builtin

EPS = np.finfo(float).eps
SLACK = 4.0

SHAPES = [(1, 1), (4, 1), (3, 3), (6, 6), (10, 10), (12, 5), (60, 3), (200, 10), (3, 6)]
KINDS = ["random", "scaled", "zero_col", "dup_col", "rank_k", "scaled_rank_k"]
FULL_RANK = ("random", "scaled")


def make_matrix(kind, m, n, seed):
    """An ``m x n`` test matrix of the given kind (see the module docstring)."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    if kind == "zero_col":
        A[:, rng.integers(n)] = 0.0
    elif kind == "dup_col":
        j, k = rng.choice(n, 2, replace=False)
        A[:, k] = A[:, j]
    elif kind in ("rank_k", "scaled_rank_k"):
        k = max(1, min(m, n) // 2)
        A = rng.standard_normal((m, k)) @ rng.standard_normal((k, n))
    if kind.startswith("scaled"):
        A = A * rng.permutation(np.logspace(-8, 8, n))
    return A


def matrix_cases(shapes=SHAPES, kinds=KINDS):
    """``(kind, m, n, seed)`` for every kind that makes sense at that size."""
    cases = []
    for seed, (m, n) in enumerate(shapes):
        for kind in kinds:
            if n < 2 and kind in ("dup_col", "rank_k", "scaled_rank_k"):
                continue        # no duplicate or rank < n with one column
            cases.append(pytest.param(kind, m, n, seed, id=f"{kind}-{m}x{n}"))
    return cases


def equilibrated_cond(A):
    """``kappa_2(A D^-1)`` with ``D`` the column norms (zero columns dropped)."""
    norms = np.linalg.norm(A, axis=0)
    B = A[:, norms > 0] / norms[norms > 0]
    return np.linalg.cond(B) if B.size else 1.0


# ---------------------------------------------------------------- Householder QR


def factor(A):
    """Run ``householder_qr`` on ``A`` stored by columns; return ``(At, tau)``."""
    At = A.T.copy()                     # C order; never a view of A
    tau = np.full(min(A.shape), np.nan)
    householder_qr(At, tau)
    return At, tau


def q_from_reflectors(At, tau):
    """``Q = H_0 H_1 ... H_{k-1}``, ``H_j = I - tau_j v_j v_j^T``, ``v_j = e_j + At[j, j+1:]``."""
    n, m = At.shape
    Q = np.eye(m)
    for j in reversed(range(min(m, n))):
        v = np.zeros(m)
        v[j] = 1.0
        v[j + 1:] = At[j, j + 1:]
        Q -= tau[j] * np.outer(v, v @ Q)
    return Q


def r_factor(At):
    """``R`` (k x n) as documented: ``R[i, j] = At[j, i]`` for ``i <= j``."""
    n, m = At.shape
    return np.triu(At.T)[:min(m, n)]


@pytest.mark.parametrize("kind, m, n, seed", matrix_cases())
def test_householder_qr_reconstructs_a(kind, m, n, seed):
    A = make_matrix(kind, m, n, seed)
    At, tau = factor(A)
    Q = q_from_reflectors(At, tau)
    R = r_factor(At)
    k = min(m, n)
    # beta = -sign(x0) ||x|| makes tau = 1 + |x0| / ||x|| in [1, 2] (LAPACK's dlarfg), or 0
    assert np.all(np.isfinite(tau)) and np.all((tau == 0) | ((tau >= 1) & (tau <= 2)))
    assert np.abs(Q.T @ Q - np.eye(m)).max() <= SLACK * m * EPS
    col_err = np.linalg.norm(A - Q[:, :k] @ R, axis=0)
    assert np.all(col_err <= SLACK * m * n * EPS * np.linalg.norm(A, axis=0))
    # R has A's singular values (Q is orthogonal), checked against LAPACK's SVD
    sv_r = np.linalg.svd(R, compute_uv=False)
    sv_a = np.linalg.svd(A, compute_uv=False)
    assert np.abs(sv_r - sv_a).max() <= SLACK * m * n * EPS * np.linalg.norm(A)


@pytest.mark.parametrize("kind, m, n, seed", matrix_cases(kinds=FULL_RANK))
def test_householder_r_matches_lapack(kind, m, n, seed):
    A = make_matrix(kind, m, n, seed)
    At, tau = factor(A)
    R = r_factor(At)
    Q_ref, R_ref = scipy.linalg.qr(A, mode="economic")
    signs = np.sign(np.diag(R)) * np.sign(np.diag(R_ref))
    assert np.all(signs != 0)
    tol = SLACK * m * n * EPS * equilibrated_cond(A)
    col_err = np.linalg.norm(R - signs[:, None] * R_ref, axis=0)
    assert np.all(col_err <= tol * np.linalg.norm(A, axis=0))
    # apply_qt: Q^T b, whose first k entries are LAPACK's up to the same signs
    b = np.random.default_rng(seed + 100).standard_normal(m)
    qtb = b.copy()
    apply_qt(At, tau, qtb)
    assert np.abs(qtb[:R.shape[0]] - signs * (Q_ref.T @ b)).max() \
        <= SLACK * m * n * EPS * np.linalg.norm(b)


@pytest.mark.parametrize("kind, m, n, seed", matrix_cases())
def test_apply_qt_and_copy_r(kind, m, n, seed):
    A = make_matrix(kind, m, n, seed)
    At, tau = factor(A)
    Q = q_from_reflectors(At, tau)
    b = np.random.default_rng(seed + 200).standard_normal(m)
    qtb = b.copy()
    apply_qt(At, tau, qtb)
    assert np.abs(qtb - Q.T @ b).max() <= SLACK * m * EPS * np.linalg.norm(b)
    assert abs(np.linalg.norm(qtb) - np.linalg.norm(b)) <= SLACK * m * EPS * np.linalg.norm(b)
    R = np.full((n, n), np.nan)
    copy_r(At, R)
    expected = np.zeros((n, n))
    expected[:min(m, n)] = r_factor(At)
    np.testing.assert_array_equal(R, expected)


def test_householder_zero_column_is_exact():
    """A zero column stays exactly zero in ``R`` and its reflector is the identity."""
    for m, n in [(5, 3), (8, 8), (30, 6)]:
        A = make_matrix("zero_col", m, n, seed=7 * m + n)
        j = int(np.flatnonzero(~A.any(axis=0))[0])
        At, tau = factor(A)
        assert tau[j] == 0.0
        assert np.all(r_factor(At)[:, j] == 0.0)


# ---------------------------------------------------------------- Jacobi SVD


def square_input(kind, m, n, seed):
    """The matrix ``jacobi_svd`` sees: ``A`` if square, else LAPACK's ``R`` of ``A``
    (n x n, zero rows below a wide one's)."""
    A = make_matrix(kind, m, n, seed)
    if m == n:
        return A
    R = np.zeros((n, n))
    R[:min(m, n)] = scipy.linalg.qr(A, mode="r")[0][:n]
    return R


def run_jacobi(X, b):
    n = X.shape[0]
    U = np.ascontiguousarray(X, dtype=float).copy()
    s = np.full(n, np.nan)
    V = np.full((n, n), np.nan)
    uf = b.copy()
    jacobi_svd(U, s, V, uf, np.zeros(2 * n))
    return U, s, V, uf


@pytest.mark.parametrize("kind, m, n, seed", matrix_cases())
def test_jacobi_svd_against_numpy(kind, m, n, seed):
    X = square_input(kind, m, n, seed)
    b = np.random.default_rng(seed + 300).standard_normal(n)
    U, s, V, uf = run_jacobi(X, b)
    tol = SLACK * n * EPS
    s_ref, Vt_ref = np.linalg.svd(X)[1:]
    s_max = s_ref[0]
    assert np.all(s >= 0) and np.all(np.diff(s) <= 0)
    assert np.abs(s - s_ref).max() <= tol * s_max
    assert np.linalg.norm(X - (U * s) @ V.T) <= tol * np.linalg.norm(X)
    assert np.abs(V.T @ V - np.eye(n)).max() <= tol
    live = s > 0
    if live.any():
        assert np.abs(U[:, live].T @ U[:, live] - np.eye(live.sum())).max() <= tol
    # s = 0 only where the column's squares underflow (a zero column, or noise
    # rotated down to ~1e-300 in a rank-deficient input)
    assert np.all(np.abs(U[:, ~live]) < 1.6e-162)
    assert np.abs(uf - U.T @ b).max() <= tol * np.linalg.norm(b)
    # right singular vectors of simple singular values: the Wedin angle bound
    for i in range(n):
        gap = np.min(np.abs(np.delete(s_ref, i) - s_ref[i])) if n > 1 else np.inf
        if gap > 10 * tol * s_max:
            bound = tol * s_max / gap
            # the distance of unit vectors, 2 sin(angle / 2), is at most the angle
            dist = min(np.linalg.norm(V[:, i] - Vt_ref[i]), np.linalg.norm(V[:, i] + Vt_ref[i]))
            assert dist <= math.asin(bound)


@pytest.mark.parametrize("kind, m, n, seed", matrix_cases(
    shapes=[s for s in SHAPES if 1 < s[1] <= s[0]], kinds=["scaled"]))
def test_jacobi_svd_relative_accuracy(kind, m, n, seed):
    """Small singular values of a column-scaled matrix to relative accuracy
    ``kappa(B) u`` (Demmel & Veselic 1992), against LAPACK's ``dgejsv``."""
    X = square_input(kind, m, n, seed)
    s = run_jacobi(X, np.zeros(n))[1]
    sva, _, _, work, _, info = scipy.linalg.lapack.dgejsv(X, joba=1, jobu=3, jobv=3)
    assert info == 0
    s_ref = (work[0] / work[1]) * sva
    assert s[-1] < 1e-6 * s[0]          # the test is about the small ones
    tol = SLACK * n * EPS * equilibrated_cond(X)
    assert np.all(np.abs(s - s_ref) <= tol * s_ref)


# ---------------------------------------------------------------- trust region

LM = dict(rtol=0.1, gn_factor=1.1, to_boundary=False, update_last=False)     # methods/lm.py
TRF = dict(rtol=0.01, gn_factor=1.0, to_boundary=True, update_last=True)     # methods/trf.py


def reference_step(J_h, f, lam):
    """``p(lam) = argmin ||[J_h; sqrt(lam) I] p + [f; 0]||`` by LAPACK, and the
    least-squares perturbation bound on its relative error."""
    m, n = J_h.shape
    A = np.vstack([J_h, math.sqrt(lam) * np.eye(n)]) if lam > 0 else J_h
    rhs = np.concatenate([-f, np.zeros(n)]) if lam > 0 else -f
    p, _, _, sv = np.linalg.lstsq(A, rhs, rcond=None)
    pn = np.linalg.norm(p)
    if pn == 0:
        return p, 0.0
    kappa = sv[0] / sv[-1] if sv[-1] > 0 else np.inf
    r = np.linalg.norm(A @ p - rhs)
    return p, SLACK * (m + n) * EPS * (kappa + kappa ** 2 * r / (sv[0] * pn))


def lambda_interval(J_h, f, Delta, sigma):
    """The ``lambda`` with ``| ||p(lambda)|| - Delta | <= sigma Delta`` (numpy + brentq;
    ``||p(lambda)||`` decreases with ``lambda``)."""
    def phi(lam, target):
        return np.linalg.norm(reference_step(J_h, f, lam)[0]) - target

    def root(target):
        if phi(0.0, target) <= 0.0:
            return 0.0
        hi = 1.0
        while phi(hi, target) > 0.0:
            hi *= 100.0
        return brentq(phi, 0.0, hi, args=(target,), xtol=1e-300, rtol=4 * EPS, maxiter=500)

    return root(Delta * (1.0 + sigma)), root(Delta * (1.0 - sigma))


def numpy_svd_inputs(J_h, f):
    """``s, V, U^T f`` of ``J_h`` from LAPACK, laid out as ``solve_trust_region`` wants."""
    U, s, Vt = np.linalg.svd(J_h, full_matrices=False)
    n = J_h.shape[1]
    s_full = np.zeros(n)
    s_full[:s.size] = s
    uf = np.zeros(n)
    uf[:s.size] = U.T @ f
    V = np.zeros((n, n))
    V[:, :s.size] = Vt.T
    return s_full, np.ascontiguousarray(V), uf


def library_svd_inputs(J_h, f):
    """``s, V, U^T f`` of ``J_h`` the way the methods compute them (QR, then Jacobi on ``R``)."""
    m, n = J_h.shape
    At, tau = factor(J_h)
    qtf = f.copy()
    apply_qt(At, tau, qtf)
    R = np.zeros((n, n))
    copy_r(At, R)
    uf = np.zeros(n)
    uf[:min(m, n)] = qtf[:min(m, n)]
    _, s, V, uf = run_jacobi(R, uf)
    return s, V, uf


MEANINGFUL = 1e-4      # the largest reference error bound worth comparing with


def check_trust_region_step(J, f, d, Delta, alpha, p, mode):
    """More's conditions and the numpy reference for the step ``p`` of
    ``min ||J p + f||, ||D p|| <= Delta``.  The reference works in the scaled
    variables ``p_h = D p`` (``J_h = J D^-1``), where the problem is posed;
    the step and ``alpha`` are compared with it where its error bound, which
    is returned, is below ``MEANINGFUL``."""
    m, n = J.shape
    sigma = mode["rtol"]
    assert alpha >= 0.0 and np.all(np.isfinite(p))
    J_h = J / d
    p_h = d * p
    dp = np.linalg.norm(p_h)
    s_max = np.linalg.norm(J_h, 2)
    # stationarity of the Lagrangian, (J^T J + alpha D^2) p = -J^T f, in the D^-1 norm
    resid = (J.T @ (J @ p + f) + alpha * d * d * p) / d
    scale = (s_max ** 2 + alpha) * dp + s_max * np.linalg.norm(f)
    if not (mode["to_boundary"] and alpha > 0):
        assert np.linalg.norm(resid) <= SLACK * (m + n) * EPS * scale
    if alpha == 0.0:
        assert dp <= mode["gn_factor"] * Delta * (1 + 4 * EPS)
    elif mode["to_boundary"]:
        assert abs(dp - Delta) <= SLACK * n * EPS * Delta          # rescaled onto the boundary
    else:
        assert abs(dp - Delta) <= sigma * Delta                    # More (1978), eq. (5.3)
    p_ref, err = reference_step(J_h, f, alpha)
    if err > MEANINGFUL:
        return err                      # LAPACK's answer is not accurate enough to compare
    if mode["to_boundary"] and alpha > 0:
        p_ref = p_ref * (Delta / np.linalg.norm(p_ref))           # the direction of p(alpha)
    assert np.linalg.norm(p_h - p_ref) <= 2 * err * np.linalg.norm(p_ref)
    if alpha > 0:
        # alpha solves More's relaxed secular equation, the reference's error allowed for
        lo, hi = lambda_interval(J_h, f, Delta, sigma + err)
        assert lo <= alpha <= hi
    return err


TR_KINDS = ["random", "scaled", "zero_col", "dup_col", "rank_k", "scaled_rank_k"]
TR_SHAPES = [(1, 1), (3, 3), (6, 6), (10, 10), (12, 5), (60, 3), (200, 10), (3, 6)]


def tr_cases(gn_kinds):
    """Radii ``frac ||p_gn||``: 10 (the Gauss-Newton step fits; only where it is
    well determined, ``gn_kinds``), 0.5 and 1e-3 (``alpha > 0``)."""
    cases = []
    for case in matrix_cases(shapes=TR_SHAPES, kinds=TR_KINDS):
        kind, m, n, seed = case.values
        if n == 1 and kind == "zero_col":
            continue                    # J = 0: no step at all
        fracs = (10.0, 0.5, 1e-3) if kind in gn_kinds else (0.5, 1e-3)
        for frac in fracs:
            cases.append(pytest.param(kind, m, n, seed, frac, id=f"{case.id}-{frac:g}"))
    return cases


def radius(J_h, f, frac):
    """``frac`` times the norm of the (rank-truncated) Gauss-Newton step of ``J_h``."""
    p_gn = np.linalg.lstsq(J_h, -f, rcond=EPS * max(J_h.shape))[0]
    return frac * np.linalg.norm(p_gn)


@pytest.mark.parametrize("mode", [LM, TRF], ids=["lm", "trf"])
@pytest.mark.parametrize("kind, m, n, seed, frac", tr_cases(gn_kinds=("random",)))
def test_solve_trust_region_kkt(kind, m, n, seed, frac, mode):
    """``solve_trust_region`` on LAPACK's SVD of ``J`` itself (``D = I``): More's
    conditions and the numpy reference.  The Gauss-Newton case is left to
    well-conditioned ``J``: with columns scaled 1e-8..1e8 the unscaled
    Gauss-Newton step is not determined by the data (``kappa ~ 1e17``)."""
    J = make_matrix(kind, m, n, seed)
    f = np.random.default_rng(seed + 400).standard_normal(m)
    s, V, uf = numpy_svd_inputs(J, f)
    Delta = radius(J, f, frac)
    p = np.full(n, np.nan)
    alpha = solve_trust_region(s, V, uf, Delta, 0.0, mode["rtol"], mode["gn_factor"],
                               mode["to_boundary"], mode["update_last"],
                               EPS * max(m, n) * s[0], p)
    if frac == 10.0:
        assert alpha == 0.0
    else:
        assert alpha > 0.0
    err = check_trust_region_step(J, f, np.ones(n), Delta, alpha, p, mode)
    if not kind.startswith("scaled"):
        assert err <= MEANINGFUL


@pytest.mark.parametrize("alpha0", [0.0, 1e-6, 1e6], ids=["cold", "low", "high"])
@pytest.mark.parametrize("kind, m, n, seed, frac", tr_cases(gn_kinds=FULL_RANK))
def test_lm_parameter_more_conditions(kind, m, n, seed, frac, alpha0):
    """The LM parameter as methods/lm.py computes it: ``J_h = J D^-1`` factored by
    ``householder_qr`` + ``jacobi_svd``, ``sigma = 0.1``, warm starts inside and
    outside the safeguarding interval; the step ``p = D^-1 p_h`` must satisfy
    More's conditions for ``min ||J p + f||, ||D p|| <= Delta``."""
    rng = np.random.default_rng(seed + 500)
    J = make_matrix(kind, m, n, seed)
    f = rng.standard_normal(m)
    d = np.linalg.norm(J, axis=0) * 10 ** rng.uniform(-2, 2, n)   # More's choice, perturbed
    d[d == 0] = 1.0
    J_h = J / d
    s, V, uf = library_svd_inputs(J_h, f)
    Delta = radius(J_h, f, frac)
    p_h = np.full(n, np.nan)
    alpha = solve_trust_region(s, V, uf, Delta, alpha0, LM["rtol"], LM["gn_factor"],
                               LM["to_boundary"], LM["update_last"],
                               EPS * max(m, n) * s[0], p_h)
    assert check_trust_region_step(J, f, d, Delta, alpha, p_h / d, LM) <= MEANINGFUL


@pytest.mark.parametrize("kind, m, n, seed", matrix_cases(shapes=TR_SHAPES))
def test_pinv_step_matches_lstsq(kind, m, n, seed):
    """The minimum-norm Gauss-Newton step over ``s > cutoff`` is LAPACK's ``lstsq``
    with the same relative cutoff (rank-deficient inputs included)."""
    J = make_matrix(kind, m, n, seed)
    f = np.random.default_rng(seed + 600).standard_normal(m)
    s, V, uf = numpy_svd_inputs(J, f)
    cutoff = EPS * max(m, n) * s[0]
    p = np.full(n, np.nan)
    pinv_step(s, V, uf, cutoff, p)
    p_ref = np.linalg.lstsq(J, -f, rcond=EPS * max(m, n))[0]
    live = s > cutoff
    if not live.any():
        assert np.all(p == 0.0)
        return
    kappa = s[0] / s[live][-1]
    assert np.linalg.norm(p - p_ref) <= SLACK * n * EPS * kappa * np.linalg.norm(p_ref)


# ---------------------------------------------------------------- step_to_bound


def step_to_bound_ref(x, s, lb, ub):
    """The largest feasible ``t``, computed directly: ``min_i max((lb_i - x_i) / s_i,
    (ub_i - x_i) / s_i)`` over ``s_i != 0``; blocking components get ``sign(s_i)``."""
    steps = np.full(x.size, np.inf)
    nz = s != 0
    with np.errstate(over="ignore", divide="ignore"):
        steps[nz] = np.maximum((lb - x)[nz] / s[nz], (ub - x)[nz] / s[nz])
    t = steps.min()
    return t, np.where(steps == t, np.sign(s), 0.0)


def bound_cases():
    rng = np.random.default_rng(2024)
    cases = {}
    for n in (1, 3, 10):
        lb = -rng.uniform(0.1, 10, n)
        ub = rng.uniform(0.1, 10, n)
        x = lb + rng.uniform(0.01, 0.99, n) * (ub - lb)
        s = rng.standard_normal(n)
        cases[f"finite-{n}"] = (x, s, lb, ub)
        s0 = s.copy()
        s0[::2] = 0.0
        cases[f"zero_components-{n}"] = (x, s0, lb, ub)
        lbi = np.where(rng.random(n) < 0.5, -np.inf, lb)
        ubi = np.where(rng.random(n) < 0.5, np.inf, ub)
        cases[f"some_infinite-{n}"] = (x, s, lbi, ubi)
        cases[f"all_infinite-{n}"] = (x, s, np.full(n, -np.inf), np.full(n, np.inf))
        cases[f"s_zero-{n}"] = (x, np.zeros(n), lb, ub)
        xl = x.copy()
        xl[0] = lb[0]
        sl = s.copy()
        sl[0] = -abs(s[0])
        cases[f"on_lower_bound-{n}"] = (xl, sl, lb, ub)
        cases[f"scaled-{n}"] = (x * 1e8, s * 10 ** rng.uniform(-8, 8, n), lb * 1e8, ub * 1e8)
        sx = s.copy()
        sx[0] = 1e-300
        cases[f"overflowing_ratio-{n}"] = (x, sx, lbi, ubi)
    # two components blocking at the same t
    cases["tie"] = (np.zeros(2), np.array([1.0, -2.0]), np.array([-1.0, -1.0]),
                    np.array([0.5, 1.0]))
    return [pytest.param(*v, id=k) for k, v in cases.items()]


@pytest.mark.parametrize("x, s, lb, ub", bound_cases())
def test_step_to_bound(x, s, lb, ub):
    hits = np.full(x.size, np.nan)
    t = step_to_bound(x, s, lb, ub, hits)
    t_ref, hits_ref = step_to_bound_ref(x, s, lb, ub)
    assert t == t_ref
    np.testing.assert_array_equal(hits, hits_ref)
    assert t >= 0.0
    if not np.isfinite(t):
        assert np.all((s == 0) | ((s > 0) & np.isinf(ub)) | ((s < 0) & np.isinf(lb)))
        return
    # x + t s is feasible (one rounding of the multiply-add) and blocked where hits says
    y = x + t * s
    slack = 2 * EPS * (np.abs(x) + np.abs(t * s))
    assert np.all(y >= lb - slack) and np.all(y <= ub + slack)
    assert np.any(hits != 0)
    at = np.where(hits > 0, ub, lb)[hits != 0]
    assert np.all(np.abs(y[hits != 0] - at) <= slack[hits != 0])
    # every other component could go further
    free = (hits == 0) & (s != 0)
    beyond = x + (t * (1 + 1e-9) + 1e-300) * s
    assert np.all((beyond[free] >= lb[free]) & (beyond[free] <= ub[free]))


# ---------------------------------------------------------------- loss functions


def rho_ref(loss, z):
    """``rho, rho', rho''`` of the loss at ``z`` from the closed forms (scipy's), in numpy."""
    z = np.asarray(z, dtype=float)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if loss == "linear":
            return z, np.ones_like(z), np.zeros_like(z)
        if loss == "soft_l1":
            t = 1 + z
            return 2 * (t ** 0.5 - 1), t ** -0.5, -0.5 * t ** -1.5
        if loss == "huber":
            lin = z <= 1
            return (np.where(lin, z, 2 * z ** 0.5 - 1), np.where(lin, 1.0, z ** -0.5),
                    np.where(lin, 0.0, -0.5 * z ** -1.5))
        if loss == "cauchy":
            return np.log1p(z), 1 / (1 + z), -1 / (1 + z) ** 2
        if loss == "arctan":
            t = 1 + z ** 2
            r2 = np.where(np.isinf(z), -0.0, -2 * z / t ** 2)   # z = inf: the limit
            return np.arctan(z), 1 / t, r2
    raise ValueError(loss)


LOSSES = list(LOSS_CODES)
KINK = [0.5, 0.999, 1.0, 1.001, 1.05, 1.3, 2.0]        # huber's threshold and around it
Z_GRID = np.concatenate([[0.0, 5e-324, 1e-300], np.logspace(-20, 20, 81), KINK,
                         [1e100, 1e300, np.inf]])


def assert_close(a, b, rtol, atol=0.0):
    a = np.asarray(a)
    b = np.asarray(b)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    with np.errstate(invalid="ignore"):
        ok = same | (np.abs(a - b) <= rtol * np.abs(b) + atol)
    assert np.all(ok), (a[~ok], b[~ok])


@pytest.mark.parametrize("loss", LOSSES)
def test_rho_builtin_formulas(loss):
    got = np.array([rho_builtin(LOSS_CODES[loss], float(z)) for z in Z_GRID]).T
    ref = rho_ref(loss, Z_GRID)
    for k in range(3):
        assert_close(got[k], ref[k], rtol=8 * EPS, atol=np.finfo(float).tiny)


@pytest.mark.parametrize("f_scale", [1.0, 0.01, 3.7, 1e4])
@pytest.mark.parametrize("loss", LOSSES)
def test_evaluate_rho_scaling(loss, f_scale):
    """``rho_C(f^2) = C^2 rho(z)``, ``rho_C' = rho'(z)``, ``rho_C'' = rho''(z) / C^2``
    with ``z = (f / C)^2``, and the cost ``0.5 sum rho_C``."""
    rng = np.random.default_rng(17)
    f = np.concatenate([[0.0, 1e-200, -1e-8, 1e200, -1e160], f_scale * rng.standard_normal(20),
                        rng.standard_normal(10) * 10 ** rng.uniform(-10, 10, 10)])
    rho = np.full((3, f.size), np.nan)
    cost = evaluate_rho(LOSS_CODES[loss], f, f_scale, rho)
    with np.errstate(over="ignore"):
        z = (f / f_scale) ** 2
    r0, r1, r2 = rho_ref(loss, z)
    tiny = np.finfo(float).tiny
    assert_close(rho[0], f_scale ** 2 * r0, 8 * EPS, tiny)
    assert_close(rho[1], r1, 8 * EPS, tiny)
    assert_close(rho[2], r2 / f_scale ** 2, 8 * EPS, tiny)
    finite = np.isfinite(rho[0])
    if finite.all():
        assert_close(cost, 0.5 * rho[0].sum(), f.size * EPS)
    else:
        assert cost == np.inf


def test_soft_l1_small_z_absolute_error():
    """``2 (sqrt(1 + z) - 1)`` cancels for small ``z`` (as in scipy): the error is
    bounded absolutely, by the rounding of ``sqrt(1 + z)`` doubled (``<= 4 u``),
    against the cancellation-free form ``2 z / (sqrt(1 + z) + 1)``."""
    z = np.logspace(-20, 0, 41)
    got = np.array([rho_builtin(LOSS_CODES["soft_l1"], float(v))[0] for v in z])
    exact = 2 * z / (np.sqrt(1 + z) + 1)
    assert np.all(np.abs(got - exact) <= 4 * EPS * np.maximum(1.0, exact))


FD_Z = np.concatenate([np.logspace(-6, 12, 37), KINK])


@pytest.mark.parametrize("loss", LOSSES)
def test_rho_derivatives_by_central_differences(loss):
    """``rho'`` against central differences of ``rho``, ``rho''`` against those of
    ``rho'``; the bound is derived in the module docstring."""
    code = LOSS_CODES[loss]
    delta = EPS ** (1 / 3)
    checked = 0
    for z in FD_Z:
        h = delta * z
        zp, zm = z + h, z - h
        if loss == "huber" and zm <= 1.0 <= zp:
            continue                   # rho'' jumps at the kink
        hp = np.array(rho_builtin(code, zp))
        hm = np.array(rho_builtin(code, zm))
        h0 = np.array(rho_builtin(code, z))
        window = np.maximum(np.maximum(np.abs(hp), np.abs(hm)), np.abs(h0))
        # largest intermediate of each evaluation: soft_l1's rho is 2 (sqrt(1 + z) - 1)
        size = window.copy()
        if loss == "soft_l1":
            size[0] = max(size[0], 2.0 * math.sqrt(1.0 + zp))
        for k in (1, 2):
            fd = (hp[k - 1] - hm[k - 1]) / (zp - zm)
            tol = 2 * ((zp - zm) / 2) ** 2 * window[k] / zm ** 2 + 4 * EPS * size[k - 1] / h
            assert abs(fd - h0[k]) <= tol, (z, k, fd, h0[k], tol)
            checked += 1
    assert checked >= 60
