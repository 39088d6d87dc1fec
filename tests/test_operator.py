"""``jac`` returning a ``LinearOperator``: a matrix-free Jacobian, against scipy.

The kernel reaches the operator's products through a C callback
(lsqcore._operator); everything else is the sparse path with no stored
entries.  Checked against scipy's own operator path and against lsqcore's
sparse path on the same problem (which must agree, evaluation for
evaluation), on a well-conditioned problem (Broyden tridiagonal) and a
badly conditioned matrix-free one (a deconvolution: a Gaussian blur whose
singular values fall to ~1e-6 of the largest, with bounds), with robust
losses, bounds and LSMR's options.
"""
import numpy as np
import pytest
from scipy.optimize import least_squares as scipy_least_squares
from scipy.sparse import diags_array
from scipy.sparse.linalg import LinearOperator, aslinearoperator

import lsqcore
from lsqcore._operator import OperatorJacobian

N = 60


def broyden(x):
    f = (3.0 - x) * x + 1.0
    f[1:] -= x[:-1]
    f[:-1] -= 2.0 * x[1:]
    return f


def broyden_sparse(x):
    n = x.size
    return diags_array([-np.ones(n - 1), 3.0 - 2.0 * x, -2.0 * np.ones(n - 1)],
                       offsets=[-1, 0, 1], shape=(n, n)).tocsr()


def broyden_operator(x):
    return aslinearoperator(broyden_sparse(x))


X0 = -np.ones(N)


def _same_run(res, ref, rtol_x=1e-10):
    assert res.status == ref.status and res.nfev == ref.nfev and res.njev == ref.njev
    assert res.cost == pytest.approx(ref.cost, rel=1e-9, abs=1e-25)
    np.testing.assert_allclose(res.x, ref.x, rtol=rtol_x, atol=1e-12)


@pytest.mark.parametrize("method", ["trf", "dogbox"])
@pytest.mark.parametrize("loss", ["linear", "soft_l1", "cauchy"])
def test_broyden_against_scipy_and_the_sparse_path(method, loss):
    res = lsqcore.least_squares(broyden, X0, broyden_operator, method=method, loss=loss)
    ref = scipy_least_squares(broyden, X0, broyden_operator, method=method, loss=loss)
    sparse = lsqcore.least_squares(broyden, X0, broyden_sparse, method=method, loss=loss)
    assert res.success and res.cost < 1e-20
    _same_run(res, sparse)
    if loss == "linear":
        _same_run(res, ref, rtol_x=1e-8)
    else:       # (robust losses: lsqcore's and scipy's trf take different paths to 0)
        assert ref.success and abs(res.cost - ref.cost) < 1e-20
        np.testing.assert_allclose(res.x, ref.x, rtol=1e-8)


@pytest.mark.parametrize("method", ["trf", "dogbox"])
def test_bounds_and_lsmr_options(method):
    kw = dict(bounds=(-1.2, -0.3), method=method, tr_options=dict(maxiter=5, atol=1e-8))
    res = lsqcore.least_squares(broyden, X0, broyden_operator, **kw)
    ref = scipy_least_squares(broyden, X0, broyden_operator, **kw)
    sparse = lsqcore.least_squares(broyden, X0, broyden_sparse, **kw)
    _same_run(res, sparse)
    assert res.cost == pytest.approx(ref.cost, rel=1e-8)
    assert np.all(res.x >= -1.2) and np.all(res.x <= -0.3)


def test_result_jac_is_the_operator_at_the_solution():
    res = lsqcore.least_squares(broyden, X0, broyden_operator)
    assert isinstance(res.jac, LinearOperator)
    v = np.linspace(-1.0, 1.0, N)
    np.testing.assert_allclose(res.jac.matvec(v), broyden_sparse(res.x) @ v, rtol=1e-14)
    np.testing.assert_allclose(res.grad, broyden_sparse(res.x).T @ res.fun, atol=1e-12)


# ---- a matrix-free, badly conditioned problem ------------------------------------------

def _blur_kernel(width=4.0, half=12):
    t = np.arange(-half, half + 1)
    k = np.exp(-0.5 * (t / width) ** 2)
    return k / k.sum()


KERNEL = _blur_kernel()
TRUE = np.clip(np.sin(np.linspace(0.0, 3.0 * np.pi, 150)), 0.0, None)
DATA = np.convolve(TRUE, KERNEL, mode="same") + 1e-4 * np.cos(np.arange(150) * 1.7)


def blur_residual(x):
    return np.convolve(x, KERNEL, mode="same") - DATA


def blur_operator(x):
    # K is symmetric (a centred, even kernel): K^T u is the same convolution
    n = x.size

    def times(v):           # (scipy may hand a column, (n, 1))
        return np.convolve(np.ravel(v), KERNEL, mode="same")
    return LinearOperator((n, n), matvec=times, rmatvec=times, dtype=float)


def test_matrix_free_deconvolution_with_bounds():
    dense_K = np.column_stack([np.convolve(e, KERNEL, mode="same") for e in np.eye(150)])
    s = np.linalg.svd(dense_K, compute_uv=False)
    assert s[-1] / s[0] < 1e-5                      # the problem is ill-conditioned
    x0 = np.full(150, 0.5)
    kw = dict(bounds=(0.0, 1.0), method="trf")
    res = lsqcore.least_squares(blur_residual, x0, blur_operator, **kw)
    ref = scipy_least_squares(blur_residual, x0, blur_operator, **kw)
    exact = lsqcore.least_squares(blur_residual, x0, lambda x: dense_K, **kw)
    assert res.success and np.all(res.x >= 0.0) and np.all(res.x <= 1.0)
    # LSMR's inexact steps stop (gtol 1e-8) above the exact solver's minimum
    # (1.4248e-7), where depends on rounding: from x0 and x0 (1 + 1e-15),
    # scipy 1.4417e-7 and 1.4589e-7, lsqcore 1.4609e-7 and 1.4295e-7 before
    # the four-chain sums (3d4d5ca), 1.5216e-7 and 1.4286e-7 after
    assert exact.cost <= res.cost <= 1.10 * exact.cost
    assert res.cost <= 1.10 * ref.cost
    # with gtol 1e-10 both reach the exact minimum (measured: lsqcore
    # 1.42562e-7, scipy 1.42563e-7, exact 1.42463e-7)
    kw["gtol"] = 1e-10
    res = lsqcore.least_squares(blur_residual, x0, blur_operator, **kw)
    ref = scipy_least_squares(blur_residual, x0, blur_operator, **kw)
    exact = lsqcore.least_squares(blur_residual, x0, lambda x: dense_K, **kw)
    assert exact.cost <= res.cost <= 1.002 * exact.cost
    assert abs(res.cost - ref.cost) <= 1e-3 * ref.cost


# ---- bad input and failures ---------------------------------------------------------------

@pytest.mark.parametrize("kw,match", [
    (dict(tr_solver="exact"), "tr_solver='exact' works only with dense"),
    (dict(x_scale="jac"), "x_scale='jac' can't be used when `jac` returns LinearOperator"),
    (dict(method="lm"), "method='lm' works only with dense"),
])
def test_refusals_as_scipy(kw, match):
    with pytest.raises(ValueError, match=match):
        lsqcore.least_squares(broyden, X0, broyden_operator, **kw)
    with pytest.raises(ValueError):
        scipy_least_squares(broyden, X0, broyden_operator, **kw)


def test_wrong_shape_and_a_kind_that_changes():
    with pytest.raises(ValueError, match="LinearOperator of shape"):
        lsqcore.least_squares(broyden, X0, lambda x: aslinearoperator(np.ones((N, N + 1))))
    calls = [0]

    def jac(x):
        calls[0] += 1
        return broyden_operator(x) if calls[0] == 1 else broyden_sparse(x)
    with pytest.raises(ValueError, match="keep returning one"):
        lsqcore.least_squares(broyden, X0, jac)


class _Boom(Exception):
    pass


def test_a_product_that_raises_is_raised_by_the_solve():
    calls = [0]

    def jac(x):
        calls[0] += 1
        A = broyden_sparse(x)
        if calls[0] < 3:
            return aslinearoperator(A)

        def matvec(v):
            raise _Boom("matvec failed")
        return LinearOperator(A.shape, matvec=matvec, rmatvec=lambda u: A.T @ u)
    with pytest.raises(_Boom, match="matvec failed"):
        lsqcore.least_squares(broyden, X0, jac)


def test_callback_and_verbose_paths(capsys):
    seen = []
    res = lsqcore.least_squares(broyden, X0, broyden_operator, verbose=2,
                                callback=lambda intermediate_result: seen.append(1))
    assert res.success and seen
    assert "Iteration" in capsys.readouterr().out


def test_product_callback_directly():
    """The C boundary itself: products, weights and NaN on failure."""
    A = np.arange(6.0).reshape(2, 3)
    op = OperatorJacobian(aslinearoperator(A), 2, 3)
    v, d, out = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.5, 2.0]), np.empty(2)
    addr = lambda a: a.ctypes.data                                        # noqa: E731
    assert op._product(0, addr(v), 3, addr(d), 3, addr(out), 2) == 0
    np.testing.assert_allclose(out, A @ (d * v))
    w = np.array([2.0, -1.0])
    op._product(2, addr(w), 2, 0, 0, 0, 0)
    u, g = np.array([1.0, 1.0]), np.empty(3)
    op._product(1, addr(u), 2, 0, 0, addr(g), 3)
    np.testing.assert_allclose(g, A.T @ (w * u))
    op.J = LinearOperator((2, 3), matvec=lambda v: 1 / 0, rmatvec=lambda u: u, dtype=float)
    assert op._product(0, addr(v), 3, addr(d), 3, addr(out), 2) == -1
    assert np.isnan(out).all()
    with pytest.raises(ZeroDivisionError):
        op.raise_pending()
