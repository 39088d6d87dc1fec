"""Sparse Jacobians: a ``jac`` returning ``scipy.sparse``, and ``jac_sparsity``.

A sparse ``J`` is held in compressed-column form (lsqcore._csc) and solved
with LSMR (trf's 2-D subspace, dogbox's dogleg); finite differences are
taken a group of columns at a time (lsqcore._groups).  These tests compare
with scipy's ``least_squares`` on the same problem (well conditioned:
Broyden tridiagonal, discrete boundary value; ill conditioned: extended
Powell singular, whose Jacobian is singular at the solution, and a badly
scaled banded fit), with lsqcore's own dense solve, count the evaluations
of the grouped differences, check the memory (O(nnz + m + n): no m x n
array), and the errors of bad sparse input.
"""
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import least_squares as scipy_ls

import lsqcore
from lsqcore import _layout as L
from lsqcore import problems


def _strictly_inside(x, lb, ub):
    from scipy.optimize._lsq.common import make_strictly_feasible
    return make_strictly_feasible(x, lb, ub)


class Broyden:
    """Broyden tridiagonal (MGH 30) with scipy's test bounds and start, any n."""

    def __init__(self, n=100, seed=123440):
        rng = np.random.default_rng(seed)
        self.n = n
        self.lb = np.linspace(-2, -1.5, n) + 0.1 * rng.standard_normal(n)
        self.ub = np.linspace(-0.8, 0.0, n) + 0.1 * rng.standard_normal(n)
        self.x0 = _strictly_inside(-np.ones(n) + 0.1 * rng.standard_normal(n), self.lb, self.ub)
        self.sparsity = sp.diags_array([np.ones(n - 1), np.ones(n), np.ones(n - 1)], offsets=[-1, 0, 1],
                                       shape=(n, n), format="lil", dtype=int)

    def fun(self, x):
        f = (3 - x) * x + 1
        f[1:] -= x[:-1]
        f[:-1] -= 2 * x[1:]
        return f

    def jac(self, x):
        n = self.n
        return sp.diags([-np.ones(n - 1), 3 - 2 * x, -2 * np.ones(n - 1)], [-1, 0, 1],
                        shape=(n, n), format="csr")


B = Broyden()
CASES = [("jac", dict(jac=B.jac)),
         ("2-point", dict(jac_sparsity=B.sparsity)),
         ("3-point", dict(jac="3-point", jac_sparsity=B.sparsity)),
         ("cs", dict(jac="cs", jac_sparsity=B.sparsity))]
BOUNDS = [("free", (-np.inf, np.inf)), ("lb", (B.lb, np.inf)), ("box", (B.lb, B.ub))]


@pytest.mark.parametrize("x_scale", [1.0, "jac"])
@pytest.mark.parametrize("bname,bounds", BOUNDS)
@pytest.mark.parametrize("cname,kw", CASES)
@pytest.mark.parametrize("method", ["trf", "dogbox"])
def test_broyden_as_scipy(method, cname, kw, bname, bounds, x_scale):
    """The same evaluations and minimizer (1e-10) as scipy; ``result.jac`` a
    ``csr_array`` equal to scipy's (analytic ``jac``) or close (differences)."""
    r = lsqcore.least_squares(B.fun, B.x0, method=method, bounds=bounds, x_scale=x_scale, **kw)
    s = scipy_ls(B.fun, B.x0, method=method, bounds=bounds, x_scale=x_scale, **kw)
    assert r.status > 0 and s.status > 0
    assert r.nfev == s.nfev and r.njev == s.njev
    assert np.allclose(r.x, s.x, rtol=1e-10, atol=1e-12)
    assert r.cost == pytest.approx(s.cost, rel=1e-6, abs=1e-20)
    assert r.optimality == pytest.approx(s.optimality, rel=1e-3, abs=1e-10)
    assert isinstance(r.jac, sp.csr_array) and r.jac.shape == (B.n, B.n)
    tol = 1e-13 if cname == "jac" else 1e-6
    assert np.allclose(r.jac.toarray(), s.jac.toarray(), rtol=tol, atol=tol)


@pytest.mark.parametrize("method", ["trf", "dogbox"])
def test_sparse_equals_dense_lsmr(method):
    """The same problem with its J dense (``tr_solver='lsmr'``) and sparse: the
    same path (evaluations) and minimizer to 1e-12; only the order of the
    sums in the products differs."""
    dense = lsqcore.least_squares(B.fun, B.x0, jac=lambda x: B.jac(x).toarray(),
                                  method=method, tr_solver="lsmr")
    sparse = lsqcore.least_squares(B.fun, B.x0, jac=B.jac, method=method)
    assert dense.nfev == sparse.nfev
    assert np.allclose(dense.x, sparse.x, rtol=1e-12, atol=1e-14)
    assert isinstance(dense.jac, np.ndarray) and sp.issparse(sparse.jac)


class Counter:
    def __init__(self, fun):
        self.fun, self.calls = fun, 0

    def __call__(self, x, *args):
        self.calls += 1
        return self.fun(x, *args)


@pytest.mark.parametrize("jac,per_group", [("2-point", 1), ("3-point", 2), ("cs", 1)])
def test_one_evaluation_per_group(jac, per_group):
    """A tridiagonal pattern has 3 groups: each Jacobian costs 3 residual
    evaluations (6 for 3-point), whatever n; ``result.ngroups`` says 3."""
    p = Broyden(n=500)
    f = Counter(p.fun)
    r = lsqcore.least_squares(f, p.x0, jac=jac, jac_sparsity=p.sparsity)
    assert r.ngroups == 3
    assert f.calls == r.nfev + per_group * 3 * r.njev
    assert r.cost < 1e-20


def _mgh_pattern(p, n, rng):
    """The union of the non-zeros of ``p.jac`` at a few random points (n variables)."""
    P = np.zeros((len(p.fun(np.ones(n), *p.args)), n), dtype=bool)
    for _ in range(3):
        P |= np.asarray(p.jac(rng.uniform(-2, 2, n), *p.args)) != 0
    return sp.csr_array(P.astype(int))


def _mgh_start(name, n):
    if name == "extended_rosenbrock":
        return np.tile([-1.2, 1.0], n // 2)
    if name == "extended_powell_singular":
        return np.tile([3.0, -1.0, 0.0, 1.0], n // 4)
    if name == "discrete_boundary_value":
        t = np.arange(1, n + 1) / (n + 1)
        return t * (t - 1)
    return -np.ones(n)


STRUCTURED = ["extended_rosenbrock", "extended_powell_singular", "discrete_boundary_value",
              "broyden_tridiagonal", "broyden_banded"]


@pytest.mark.parametrize("method", ["trf", "dogbox"])
@pytest.mark.parametrize("n", [12, 400])
@pytest.mark.parametrize("name", STRUCTURED)
def test_mgh_structured_as_scipy(name, n, method):
    """The MGH problems with a banded or block Jacobian, with ``jac_sparsity``:
    lsqcore reaches the minimum scipy's trf/dogbox+lsmr reaches (cost within
    1e-6 relative, or both below 1e-12 of the starting cost: these are
    zero-residual problems), and the minimum lsqcore's own dense solve
    reaches.  Extended Powell singular has a singular Jacobian at its
    solution (the ill-conditioned case): convergence there is linear and
    every solver stops on ``gtol`` or ``ftol`` near 1e-15 of the start.  Where
    scipy's lsmr solve stalls short of the dense minimum, lsqcore's ends
    within a factor 2 of its cost."""
    p = problems.get(name)
    rng = np.random.default_rng(3)
    pattern = _mgh_pattern(p, n, rng)
    x0 = _mgh_start(name, n)

    def fun(x):
        return p.fun(x, *p.args)
    kw = dict(method=method, max_nfev=3000)
    r = lsqcore.least_squares(fun, x0, jac_sparsity=pattern, **kw)
    s = scipy_ls(fun, x0, jac_sparsity=pattern, **kw)
    d = lsqcore.least_squares(fun, x0, **kw)
    assert d.status > 0
    start = 0.5 * np.sum(fun(x0) ** 2)

    def same(a, b):
        return max(a, b) <= 1e-12 * max(start, 1.0) or abs(a - b) <= 1e-6 * max(a, b)
    if s.status > 0 and same(s.cost, d.cost):
        assert r.status > 0 and same(r.cost, d.cost), (r.cost, s.cost, d.cost)
    else:
        # (the discrete boundary value problem at n = 400: cond(J) ~ n^2, and
        # LSMR's min(m, n) iterations leave both lsmr solves crawling)
        assert r.cost <= 2.0 * s.cost, (r.cost, s.cost, d.cost)


def test_badly_scaled_banded():
    """A banded fit whose parameters span 1e6 in scale (cond(J) ~ 1e12): the
    same cost as scipy's trf+lsmr with x_scale='jac' (1e-8 relative), and as
    the dense exact solver."""
    n = 60
    t = np.linspace(0, 1, 2 * n)
    scale = 10.0 ** np.linspace(-3, 3, n)
    rows = np.arange(2 * n)

    def fun(x):
        y = x / scale
        f = np.empty(2 * n)
        f[0::2] = y - np.sin(np.arange(n))
        f[1::2] = y - 0.5 * np.roll(y, -1) + 0.1 * y ** 3 - t[1::2]
        return f
    pattern = sp.lil_array((2 * n, n), dtype=int)
    pattern[rows[0::2], np.arange(n)] = 1
    pattern[rows[1::2], np.arange(n)] = 1
    pattern[rows[1::2], (np.arange(n) + 1) % n] = 1
    x0 = np.ones(n) * scale
    r = lsqcore.least_squares(fun, x0, jac_sparsity=pattern, x_scale="jac")
    s = scipy_ls(fun, x0, jac_sparsity=pattern, x_scale="jac")
    d = lsqcore.least_squares(fun, x0, x_scale="jac")
    assert r.status > 0
    assert r.cost == pytest.approx(s.cost, rel=1e-8)
    assert r.cost == pytest.approx(d.cost, rel=1e-8)


@pytest.mark.parametrize("loss", ["soft_l1", "huber", "cauchy"])
def test_robust_loss_as_scipy(loss):
    """A robust loss scales the rows of the sparse J (Triggs): the minimum of
    scipy's and of the dense solve (cost to 1e-6), outliers in the data."""
    p = Broyden(n=80)
    rng = np.random.default_rng(1)
    y = 0.05 * rng.standard_normal(80)
    y[::7] += 3.0

    def fun(x):
        return p.fun(x) - y
    kw = dict(loss=loss, f_scale=0.1)
    r = lsqcore.least_squares(fun, p.x0, jac=p.jac, **kw)
    s = scipy_ls(fun, p.x0, jac=p.jac, **kw)
    d = lsqcore.least_squares(fun, p.x0, jac=lambda x: p.jac(x).toarray(), **kw)
    assert r.status > 0
    assert r.cost == pytest.approx(s.cost, rel=1e-6)
    assert r.cost == pytest.approx(d.cost, rel=1e-6)


def test_values_dropped_from_the_pattern():
    """A later J that stores fewer entries (an explicit zero of the first one
    dropped) is read into the pattern of the first (zeros where it stores
    nothing): the same solve as with the pattern kept."""
    p = Broyden(n=50)

    def jac(x):
        J = p.jac(x).tolil()
        if jac.calls == 0:
            J[0, 49] = 1.0      # stored ...
            J = J.tocsr()
            J[0, 49] = 0.0      # ... as an explicit zero, at x0 only
        jac.calls += 1
        return sp.csr_array(J)
    jac.calls = 0
    r = lsqcore.least_squares(p.fun, p.x0, jac=jac)
    ref = lsqcore.least_squares(p.fun, p.x0, jac=p.jac)
    assert r.status > 0 and r.jac.nnz == 3 * 50 - 2 + 1
    assert r.nfev == ref.nfev and np.allclose(r.x, ref.x, rtol=1e-13)


def test_workers_do_not_change_the_result():
    """Grouped differences through a ``workers`` map: bitwise the serial result."""
    p = Broyden(n=120)
    a = lsqcore.least_squares(p.fun, p.x0, jac_sparsity=p.sparsity)
    b = lsqcore.least_squares(p.fun, p.x0, jac_sparsity=p.sparsity,
                              workers=lambda f, pts: list(map(f, pts)))
    assert np.array_equal(a.x, b.x) and a.nfev == b.nfev


def test_memory_grows_with_the_nonzeros():
    """The workspace of a sparse solve holds O(nnz + m + n) numbers: for a
    tridiagonal n = m = 100 000 about 60 per unknown (vectors of n and m, J's
    3n values and 3 groups' difference buffers; a dense J alone would be
    10^10), and doubling n doubles it."""
    sizes = []
    for n in (50_000, 100_000):
        nnz = 3 * n - 2
        w, s = L.workspace_shape(n, n, False, False, L.TR_LSMR, 0, nnz, 3)
        sizes.append(w + s)
        assert w + s < 80 * n
    assert sizes[1] == pytest.approx(2 * sizes[0], rel=1e-3)


def _calls_raise(match, **kw):
    f = Counter(B.fun)
    with pytest.raises(ValueError, match=match):
        lsqcore.least_squares(f, B.x0, **kw)
    return f.calls


def test_bad_sparse_input():
    """Clear errors, raised before any iteration (at most ``f(x0)`` evaluated,
    which gives m): a pattern of the wrong shape, a structure that grows,
    ``lm``/``gn`` with a sparse J or ``jac_sparsity``, the exact solver with
    either or with a LinearOperator, and a LinearOperator with
    ``x_scale='jac'`` (scipy's messages)."""
    from scipy.sparse.linalg import aslinearoperator
    assert _calls_raise("`jac_sparsity` must have shape", jac_sparsity=B.sparsity[:-1]) <= 1
    for method in ("lm", "gn"):
        assert _calls_raise("does not support `jac_sparsity`", method=method,
                            jac_sparsity=B.sparsity) == 0
        assert _calls_raise("works only with dense Jacobian", method=method, jac=B.jac) <= 1
    assert _calls_raise("incompatible with `jac_sparsity`", tr_solver="exact",
                        jac_sparsity=B.sparsity) == 0
    assert _calls_raise("works only with dense Jacobian", tr_solver="exact", jac=B.jac) <= 1
    op = (lambda x: aslinearoperator(B.jac(x)))
    assert _calls_raise("can't be used when `jac` returns LinearOperator", jac=op,
                        x_scale="jac") <= 1
    assert _calls_raise("works only with dense Jacobian", tr_solver="exact", jac=op) <= 1

    def growing(x):
        J = B.jac(x).tolil()
        if growing.calls:
            J[0, B.n - 1] = 1.0
        growing.calls += 1
        return J
    growing.calls = 0
    with pytest.raises(ValueError, match="sparsity structure of `jac` changed"):
        lsqcore.least_squares(B.fun, B.x0, jac=growing)

    def flip(x):
        flip.calls += 1
        return B.jac(x) if flip.calls == 1 else B.jac(x).toarray()
    flip.calls = 0
    with pytest.raises(ValueError, match="must keep returning one"):
        lsqcore.least_squares(B.fun, B.x0, jac=flip)


@pytest.fixture(scope="module")
def jitted_rosenbrock():
    from numba import njit

    @njit(cache=True)
    def rosen(x):
        f = np.empty(x.shape[0])
        for i in range(0, x.shape[0], 2):
            f[i] = 10.0 * (x[i + 1] - x[i] ** 2)
            f[i + 1] = 1.0 - x[i]
        return f
    return rosen


def _rosen_np(x):
    f = np.empty(x.shape[0])
    f[0::2] = 10.0 * (x[1::2] - x[0::2] ** 2)
    f[1::2] = 1.0 - x[0::2]
    return f


def _block_pattern(n):
    i = np.arange(n)
    return sp.csr_array((np.ones(2 * n), (np.repeat(i, 2),
                                         np.stack([i - i % 2, i - i % 2 + 1], 1).ravel())),
                        shape=(n, n))


@pytest.mark.parametrize("jac", ["2-point", "3-point"])
@pytest.mark.parametrize("bounded", [False, True])
def test_jitted_residual_solves_in_compiled_code(jitted_rosenbrock, monkeypatch, jac, bounded):
    """A jitted residual with ``jac_sparsity``: the whole solve in compiled code
    (the Python driver is never entered), the same path and minimizer as
    the Python driver with the same residual in numpy (x to 1e-13), and as
    scipy (x to 1e-8)."""
    import lsqcore._api as api
    n = 400
    P = _block_pattern(n)
    x0 = np.tile([-1.2, 1.0], n // 2)
    kw = dict(jac=jac, jac_sparsity=P)
    if bounded:
        kw["bounds"] = (-2.0 * np.ones(n), 1.5 * np.ones(n))
    py = lsqcore.least_squares(_rosen_np, x0, **kw)
    s = scipy_ls(_rosen_np, x0, **kw)

    def no_python_driver(*a, **k):
        raise AssertionError("the Python driver was entered")
    monkeypatch.setattr(api, "run_python", no_python_driver)
    r = lsqcore.least_squares(jitted_rosenbrock, x0, **kw)
    assert r.status > 0 and r.ngroups == 2 and isinstance(r.jac, sp.csr_array)
    assert r.nfev == py.nfev and np.allclose(r.x, py.x, rtol=1e-13, atol=1e-14)
    assert np.allclose(r.x, s.x, rtol=1e-8, atol=1e-10)
    assert np.allclose(r.jac.toarray(), py.jac.toarray(), rtol=1e-10, atol=1e-10)


def test_jitted_residual_pattern_rows_checked(jitted_rosenbrock):
    """A pattern with another number of rows than ``f(x0)``: a clear error from
    the compiled path too."""
    P = _block_pattern(20)
    with pytest.raises(ValueError, match="`jac_sparsity` must have shape"):
        lsqcore.least_squares(jitted_rosenbrock, np.tile([-1.2, 1.0], 10), jac_sparsity=P[:-2])


def test_jitted_residual_every_option():
    """A jitted residual with ``jac_sparsity`` through the other ways in: the
    trace (the workspace read back), a callback (the Python driver), 'cs' (the
    grouped complex step, Python driver), ``workers=2`` (threads): the same
    path as the plain compiled solve."""
    from numba import njit

    @njit(cache=True)
    def rosen(x):
        f = np.empty(x.shape[0], dtype=x.dtype)
        for i in range(0, x.shape[0], 2):
            f[i] = 10.0 * (x[i + 1] - x[i] ** 2)
            f[i + 1] = 1.0 - x[i]
        return f
    n = 100
    P = _block_pattern(n)
    x0 = np.tile([-1.2, 1.0], n // 2)
    ref = lsqcore.least_squares(rosen, x0, jac_sparsity=P)
    runs = [lsqcore.least_squares(rosen, x0, jac_sparsity=P, trace=True),
            lsqcore.least_squares(rosen, x0, jac_sparsity=P,
                                  callback=lambda intermediate_result: None),
            lsqcore.least_squares(rosen, x0, jac_sparsity=P, workers=2)]
    for r in runs:
        assert r.nfev == ref.nfev and np.array_equal(r.x, ref.x)
    assert runs[0].trace.ngroups == 2 and "2 groups" in runs[0].trace.summary()
    cs = lsqcore.least_squares(rosen, x0, jac="cs", jac_sparsity=P)
    s = scipy_ls(rosen.py_func, x0, jac="cs", jac_sparsity=P)
    assert cs.status > 0 and cs.nfev == s.nfev and np.allclose(cs.x, s.x, rtol=1e-10)
