"""The model library (lsqcore.models) against independent numpy forms and scipy.

Oracles: scipy.special.wofz for the Faddeeva function, Richardson-extrapolated
central differences for the exact Jacobians, scipy.optimize.curve_fit on the
same models written here in numpy, and the true parameters of generated data
for the guesses.
"""
import numpy as np
import pytest
from scipy.optimize import curve_fit as sp_curve_fit
from scipy.special import wofz

from lsqcore import curve_fit, curve_fit_batch, least_squares, models as M
from lsqcore.models._bind import guess_rows

# ---------------------------------------------------------------- numpy twins


def _np_voigt(x, A, c, s, g):
    return A * wofz(((x - c) + 1j * g) / (s * np.sqrt(2))).real / (s * np.sqrt(2 * np.pi))


def _rot(x, A, u0, v0, su, sv, th, B):
    du, dv = x[0] - u0, x[1] - v0
    a = np.cos(th) * du + np.sin(th) * dv
    b = -np.sin(th) * du + np.cos(th) * dv
    return A * np.exp(-a * a / (2 * su * su) - b * b / (2 * sv * sv)) + B


NUMPY = {
    "gaussian": lambda x, A, c, s: A * np.exp(-(x - c) ** 2 / (2 * s * s)),
    "lorentzian": lambda x, A, c, g: A * g * g / ((x - c) ** 2 + g * g),
    "pseudo_voigt": lambda x, A, c, w, e: A * ((1 - e) * np.exp(-np.log(2) * (x - c) ** 2 / w ** 2)
                                               + e * w * w / ((x - c) ** 2 + w * w)),
    "voigt": _np_voigt,
    "exponential": lambda x, A, t, B: A * np.exp(-x / t) + B,
    "double_exponential": lambda x, A1, t1, A2, t2, B: (A1 * np.exp(-x / t1)
                                                        + A2 * np.exp(-x / t2) + B),
    "stretched_exponential": lambda x, A, t, b: A * np.exp(-(x / t) ** b),
    "power_law": lambda x, A, k: A * x ** k,
    "logistic": lambda x, A, c, w: A / (1 + np.exp(-(x - c) / w)),
    "sine": lambda x, A, f, ph: A * np.sin(2 * np.pi * f * x + ph),
    "constant": lambda x, c: np.full(np.shape(x), c, dtype=float),
    "linear": lambda x, a, b: a * x + b,
    "polynomial3": lambda x, c0, c1, c2, c3: c0 + c1 * x + c2 * x ** 2 + c3 * x ** 3,
    "gaussian2d": lambda x, A, u0, v0, s, B: _rot(x, A, u0, v0, s, s, 0.0, B),
    "gaussian2d_elliptic": lambda x, A, u0, v0, su, sv, B: _rot(x, A, u0, v0, su, sv, 0.0, B),
    "gaussian2d_rotated": _rot,
}

# (true parameters, ranges they are drawn from for the guess study, x grid)
CASES = {
    "gaussian": ([2.0, 0.3, 0.7], [(1, 3), (-2, 2), (0.2, 1.0)], "peak"),
    "lorentzian": ([2.0, 0.3, 0.7], [(1, 3), (-2, 2), (0.2, 1.0)], "peak"),
    "pseudo_voigt": ([2.0, 0.3, 0.7, 0.4], [(1, 3), (-1, 1), (0.3, 1.0), (0.1, 0.9)], "peak"),
    "voigt": ([2.0, 0.3, 0.5, 0.4], [(1, 3), (-1, 1), (0.2, 0.6), (0.1, 0.5)], "peak"),
    "exponential": ([2.0, 1.5, 0.3], [(1, 3), (0.5, 2.0), (-0.5, 0.5)], "decay"),
    "double_exponential": ([2.0, 0.3, 1.0, 2.5, 0.1],
                           [(1, 3), (0.15, 0.4), (0.5, 1.5), (2.0, 4.0), (-0.2, 0.2)], "long"),
    "stretched_exponential": ([2.0, 1.5, 0.7], [(1, 3), (0.5, 2.0), (0.4, 1.5)], "decay"),
    "power_law": ([2.0, -1.3], [(1, 3), (-2, 2)], "decay"),
    "logistic": ([2.0, 0.3, 0.4], [(1, 3), (-1, 1), (0.2, 0.8)], "peak"),
    "sine": ([2.0, 0.8, 0.5], [(1, 3), (0.3, 1.5), (-1.5, 1.5)], "wave"),
    "constant": ([1.5], [(-2, 2)], "peak"),
    "linear": ([2.0, 0.3], [(-2, 2), (-1, 1)], "peak"),
    "polynomial3": ([1.0, 0.5, -0.3, 0.2], [(-1, 1)] * 4, "peak"),
    "gaussian2d": ([3.0, 0.2, -0.1, 0.8, 0.5], [(2, 4), (-0.5, 0.5), (-0.5, 0.5), (0.6, 1.0),
                                                (0, 1)], "image"),
    "gaussian2d_elliptic": ([3.0, 0.2, -0.1, 0.8, 1.2, 0.5],
                            [(2, 4), (-0.5, 0.5), (-0.5, 0.5), (0.6, 1.0), (1.1, 1.5), (0, 1)],
                            "image"),
    "gaussian2d_rotated": ([3.0, 0.2, -0.1, 0.7, 1.3, 0.6, 0.5],
                           [(2, 4), (-0.5, 0.5), (-0.5, 0.5), (0.6, 0.8), (1.2, 1.5),
                            (0.2, 1.2), (0, 1)], "image"),
}


def grid(kind):
    if kind == "peak":
        return np.linspace(-3, 3, 61)
    if kind == "decay":
        return np.linspace(0.05, 6, 60)
    if kind == "long":
        return np.linspace(0.0, 12, 80)
    if kind == "wave":
        return np.linspace(0.0, 6, 80)
    u, v = np.meshgrid(np.linspace(-3, 3, 11), np.linspace(-3, 3, 11))
    return np.vstack([u.ravel(), v.ravel()])


# ---------------------------------------------------------------- Faddeeva


def test_faddeeva_matches_wofz():
    from numba import njit
    w = njit(lambda z: M.faddeeva(z))
    x = np.concatenate([np.linspace(-30, 30, 1201), np.logspace(-6, 3, 200)])
    for y in (0.0, 1e-8, 1e-3, 0.01, 0.1, 1.0, 7.0, 30.0):
        z = x + 1j * y
        got = np.array([w(v) for v in z])
        ref = wofz(z)
        assert np.max(np.abs(got - ref) / np.abs(ref)) < 1e-12, y
        if y >= 0.01:   # the Voigt profile itself (module docstring's bound)
            assert np.max(np.abs(got.real - ref.real) / np.abs(ref.real)) < 1e-12, y


# ---------------------------------------------------------------- Jacobians


def _richardson(f, x, p, j):
    """d f / d p_j by central differences extrapolated twice (error O(h^6))."""
    def cd(h):
        a, b = p.copy(), p.copy()
        a[j] += h
        b[j] -= h
        return (f(x, *a) - f(x, *b)) / (2 * h)
    h = 3e-4 * max(1.0, abs(p[j]))
    d1, d2, d3 = cd(h), cd(h / 2), cd(h / 4)
    e1, e2 = (4 * d2 - d1) / 3, (4 * d3 - d2) / 3
    return (16 * e2 - e1) / 15


@pytest.mark.parametrize("name", sorted(M.LIBRARY))
def test_exact_jacobian(name):
    model = M.LIBRARY[name]
    rng = np.random.default_rng(1)
    x = grid(CASES[name][2])
    for _ in range(5):
        p = np.array([rng.uniform(*r) for r in CASES[name][1]])
        J = model.jac(x, *p)
        Jn = np.column_stack([_richardson(model.f, x, p, j) for j in range(model.n)])
        scale = np.max(np.abs(J), axis=0)
        assert np.all(np.max(np.abs(J - Jn), axis=0) <= 1e-8 * scale + 1e-14), (name, p)
        # the value agrees with the independent numpy form
        np.testing.assert_allclose(model.f(x, *p), NUMPY[name](x, *p), rtol=1e-12, atol=1e-13)
        # the in-place forms write the same numbers
        out, Jo = np.empty(x.shape[-1]), np.empty((x.shape[-1], model.n))
        model.f_inplace(x, *p, out)
        model.jac_inplace(x, *p, Jo)
        assert np.array_equal(out, model.f(x, *p)) and np.array_equal(Jo, J)


# ---------------------------------------------------------------- fits against scipy


def _data(name, noise=0.02, seed=0):
    rng = np.random.default_rng(seed)
    p = np.array(CASES[name][0])
    x = grid(CASES[name][2])
    y = NUMPY[name](x, *p) + noise * rng.standard_normal(x.shape[-1])
    return x, y, p


TIGHT = dict(ftol=1e-14, xtol=1e-14, gtol=1e-14)


@pytest.mark.parametrize("name", sorted(M.LIBRARY))
def test_fit_matches_scipy(name):
    """Well-conditioned data: the same optimum as scipy's curve_fit of the
    numpy model (started at the truth, tight tolerances), to 1e-8."""
    model = M.LIBRARY[name]
    x, y, p = _data(name)
    ref, ref_cov = sp_curve_fit(NUMPY[name], x, y, p0=p, method="lm", **TIGHT)
    got, cov = curve_fit(model, x, y, p0=p, method="lm", **TIGHT)
    np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-10)
    # pcov: scipy's from a forward-difference Jacobian, ours from the exact one
    np.testing.assert_allclose(cov, ref_cov, rtol=1e-4, atol=1e-12)
    # the default call: p0 from the guess, the model's default bounds ('trf')
    # (the same curve: a rotated spot's (sigma_u, sigma_v, theta) and
    # (sigma_v, sigma_u, theta + pi/2) are one optimum)
    got2, _ = curve_fit(model, x, y, **TIGHT) if model.has_guess else (got, None)
    np.testing.assert_allclose(model(x, *got2), model(x, *ref), rtol=1e-7, atol=1e-9)


def test_ill_conditioned_double_exponential():
    """Two close decay times: the parameters are poorly determined; lsqcore
    reaches a cost no worse than scipy's from the same start."""
    x = np.linspace(0, 8, 60)
    rng = np.random.default_rng(4)
    y = NUMPY["double_exponential"](x, 1.0, 1.0, 1.0, 1.3, 0.0) + 1e-3 * rng.standard_normal(60)
    p0 = [0.8, 0.8, 1.2, 1.6, 0.0]
    ref, _ = sp_curve_fit(NUMPY["double_exponential"], x, y, p0=p0, maxfev=20000)
    got, _ = curve_fit(M.double_exponential, x, y, p0=p0, method="lm")
    cost = lambda q: np.sum((NUMPY["double_exponential"](x, *q) - y) ** 2)  # noqa: E731
    assert cost(got) <= cost(ref) * (1 + 1e-6)


# ---------------------------------------------------------------- guesses


def _study(name, K, seed=2):
    """(success with the guess, success from scipy's default p0 of ones): the
    fraction of K noisy curves whose fit reaches the optimum found from the
    true values."""
    model = M.LIBRARY[name]
    rng = np.random.default_rng(seed)
    x = grid(CASES[name][2])
    P = np.column_stack([rng.uniform(*r, K) for r in CASES[name][1]])
    Y = np.array([NUMPY[name](x, *p) for p in P]) + 0.02 * rng.standard_normal((K, x.shape[-1]))
    xb = x[None] if model.predictors == 2 else x
    return _reach_rates(model, xb, Y, P)


def _reach_rates(model, x, Y, P, **kw):
    """``[from the guess, from p0 = 1]``: the fractions of the rows of ``Y``
    whose fit reaches the optimum found from the true values ``P``.  The
    same start for every curve, scipy's default p0 (ones), is what a fit
    without a guess gets (moved inside the default bounds' open side)."""
    best = curve_fit_batch(model, x, Y, p0=P, **kw)
    out = []
    for p0 in (None, np.ones(model.n)):
        r = curve_fit_batch(model, x, Y, p0=p0, **kw)
        out.append(np.mean(r.success & (r.cost <= best.cost * (1 + 1e-6) + 1e-12)))
    return out


def _sum_rates(model, ranges, seed, K=1000):
    """:func:`_reach_rates` ('lm') of ``K`` noisy curves of a sum on [-3, 3],
    the true values drawn uniformly in ``ranges``."""
    x = np.linspace(-3, 3, 121)
    rng = np.random.default_rng(seed)
    P = np.column_stack([rng.uniform(lo, hi, K) for lo, hi in ranges])
    Y = np.array([model(x, *p) for p in P]) + 0.02 * rng.standard_normal((K, x.size))
    return _reach_rates(model, x, Y, P, method="lm")


@pytest.mark.parametrize("name", sorted(n for n in M.LIBRARY
                                        if n not in ("constant", "linear", "polynomial3")))
def test_guess_reaches_the_optimum(name):
    with_guess, with_fixed = _study(name, 1000)
    assert with_guess >= 0.99, (name, with_guess, with_fixed)
    assert with_fixed <= with_guess + 0.005


def test_linear_guesses_are_the_solution():
    for name in ("constant", "linear", "polynomial3"):
        x, y, _ = _data(name)
        g = M.LIBRARY[name].guess(x, y)
        np.testing.assert_allclose(g, curve_fit(M.LIBRARY[name], x, y, p0=g)[0], rtol=1e-9,
                                   atol=1e-12)


def test_guess_ignores_nan_and_rows_are_independent():
    x, y, p = _data("gaussian")
    yn = y.copy()
    yn[::7] = np.nan
    keep = np.isfinite(yn)
    np.testing.assert_array_equal(M.gaussian.guess(x, yn), M.gaussian.guess(x[keep], y[keep]))
    Y = np.vstack([y, yn, y[::-1]])
    G = guess_rows(M.gaussian, x, Y)
    for k in range(3):
        np.testing.assert_array_equal(G[k], M.gaussian.guess(x, Y[k]))


# ---------------------------------------------------------------- sums of models


def test_sum_guess_beats_a_fixed_start():
    """Two Gaussians on a linear background, 1 000 noisy curves: fits from the
    sum's guess reach the optimum (the fit from the true values) far more
    often than from p0 = 1 (measured on 10 000: 99.96 % and 26.1 %; 96.1 %
    before the baseline from the range's ends and the local peak widths)."""
    rates = _sum_rates(M.gaussian + M.gaussian + M.linear,
                       [(0.5, 2), (-2, -0.5), (0.2, 0.6), (0.5, 2), (0.5, 2), (0.2, 0.6),
                        (-0.2, 0.2), (-0.5, 0.5)], seed=2)
    assert rates[0] >= 0.99 and rates[1] <= 0.4, rates


def test_sum_guess_of_different_shapes():
    """A Gaussian, a Lorentzian and a constant, 1 000 noisy curves: the first
    peeled takes the highest peak whatever its shape, so the guess tries both
    orders and keeps the one with the smaller residual (measured on 10 000:
    99.0 %, 51.5 % with one order, 19.5 % from p0 = 1)."""
    rates = _sum_rates(M.gaussian + M.lorentzian + M.constant,
                       [(0.5, 2), (-2, -0.5), (0.2, 0.5), (0.5, 2), (0.5, 2), (0.1, 0.4),
                        (-0.3, 0.3)], seed=12)
    assert rates[0] >= 0.97 and rates[1] <= 0.4, rates
    # the same shape twice: one order (the components are interchangeable)
    from lsqcore.models._model import _peeling_orders
    parts = (M.gaussian + M.gaussian + M.lorentzian + M.linear).components
    assert len(_peeling_orders(parts, [0, 1, 2])) == 3
    # the plan depends on the components' names (a peak gets the baseline),
    # so a renamed Gaussian's sum has a guess of its own
    own = M.Model("bump", ("a", "mu", "s"), M.gaussian.point, guess=M.gaussian._guess)
    assert (own + M.linear)._guess is not (M.gaussian + M.linear)._guess


def test_peak_width_is_local():
    """The guesses' peak width is the half-maximum extent around the highest
    point: a second peak does not widen it, the order of ``x`` does not
    matter, and a one-point spike falls back to the moment of its lobe."""
    from lsqcore.models._guess import peak
    x = np.linspace(-3, 3, 121)
    g = lambda a, c, s: a * np.exp(-0.5 * ((x - c) / s) ** 2)  # noqa: E731
    fwhm = 2 * np.sqrt(2 * np.log(2)) * 0.3
    h, c, w = peak(x, g(1.0, -1.0, 0.3) + g(0.9, 1.0, 0.3), 0.0)
    assert abs(h - 1.0) < 1e-9 and abs(c + 1.0) < 1e-12 and abs(w - fwhm) <= 0.05, (h, c, w)
    order = np.random.default_rng(0).permutation(x.size)
    assert peak(x[order], (g(1.0, -1.0, 0.3) + g(0.9, 1.0, 0.3))[order], 0.0) == (h, c, w)
    y = g(1.0, 0.0, 0.5)
    y[60] += 3.0                             # a spike on the top of a wide peak
    assert peak(x, y, 0.0)[2] > 0.4          # (the spike's own extent: one point, 0.05)


def test_spot_guess_refines_the_moments():
    """The 2-D Gaussian guesses refine the moments by Guo's weighted
    log-parabola fit (models/_surfaces.py): on Poisson spots of 500-1500
    photons on 5 x 5 pixels the guess is within a few per cent of the fit
    (the moments alone: 8 % on the amplitude), the fits take fewer
    evaluations than from the true values, and an image that is not a peak
    falls back to the moments."""
    rng = np.random.default_rng(11)
    u, v = np.meshgrid(np.arange(5.0), np.arange(5.0))
    X = np.vstack([u.ravel(), v.ravel()])
    T = np.column_stack([rng.uniform(500, 1500, 400), rng.uniform(1.5, 2.5, 400),
                         rng.uniform(1.5, 2.5, 400), rng.uniform(0.8, 1.2, 400),
                         rng.uniform(5, 15, 400)])
    Y = rng.poisson(np.array([M.gaussian2d(X, *p) for p in T])).astype(float)
    G = np.array([M.gaussian2d.guess(X, y) for y in Y])
    fit = curve_fit_batch(M.gaussian2d, X[None], Y, method="lm")
    assert fit.success.all()
    err = np.median(np.abs(G - fit.x) / np.abs(fit.x), axis=0)
    assert np.all(err[:4] < [0.02, 0.005, 0.005, 0.02]), err
    from_truth = curve_fit_batch(M.gaussian2d, X[None], Y, p0=T, method="lm")
    assert fit.nfev.mean() < from_truth.nfev.mean()
    Ge = np.array([M.gaussian2d_elliptic.guess(X, y) for y in Y])
    assert np.median(np.abs(Ge[:, 3] - fit.x[:, 3]) / fit.x[:, 3]) < 0.03
    # rotated: the guess's ellipse (its covariance R^T diag(s_u^2, s_v^2) R,
    # which does not depend on how the axes are named) near the fit's
    g9 = np.arange(9.0)
    u9, v9 = np.meshgrid(g9, g9)
    X9 = np.vstack([u9.ravel(), v9.ravel()])

    def cov(p):
        c, s_ = np.cos(p[5]), np.sin(p[5])
        Rm = np.array([[c, s_], [-s_, c]])
        return Rm.T @ np.diag([p[3] ** 2, p[4] ** 2]) @ Rm
    Tr = np.column_stack([rng.uniform(500, 1500, 100), rng.uniform(3.5, 4.5, 100),
                          rng.uniform(3.5, 4.5, 100), np.full(100, 1.4), np.full(100, 0.8),
                          rng.uniform(-0.7, 0.7, 100), rng.uniform(5, 15, 100)])
    Yr = rng.poisson(np.array([M.gaussian2d_rotated(X9, *p) for p in Tr])).astype(float)
    fr = curve_fit_batch(M.gaussian2d_rotated, X9[None], Yr, method="lm")
    assert fr.success.all()
    Gr = [M.gaussian2d_rotated.guess(X9, y) for y in Yr]
    rel = [np.abs(cov(g) - cov(x)).max() / np.abs(cov(x)).max() for g, x in zip(Gr, fr.x)]
    assert np.median(rel) < 0.05, np.median(rel)
    # not a peak: one bright pixel (too few points above a fifth of it), a
    # flat image, a dip: the moments' values, finite
    for img in (np.where(np.arange(25) == 12, 100.0, 0.0), np.full(25, 3.0),
                10.0 - np.exp(-((X[0] - 2) ** 2 + (X[1] - 2) ** 2))):
        g = M.gaussian2d.guess(X, img)
        assert np.all(np.isfinite(g))
        assert g[0] == pytest.approx(img.max() - img.min())
        assert g[4] == img.min()


def test_sum_of_models():
    model = M.gaussian + M.gaussian + M.linear
    assert model.param_names == ("gaussian1_amplitude", "gaussian1_center", "gaussian1_sigma",
                                 "gaussian2_amplitude", "gaussian2_center", "gaussian2_sigma",
                                 "slope", "intercept")
    x = np.linspace(-3, 3, 121)
    p = np.array([1.0, -1.0, 0.4, 2.0, 1.0, 0.5, 0.1, 0.3])
    J = model.jac(x, *p)
    Jn = np.column_stack([_richardson(model.f, x, p, j) for j in range(8)])
    assert np.max(np.abs(J - Jn)) <= 1e-8 * np.max(np.abs(J))

    def twin(x, a1, c1, s1, a2, c2, s2, a, b):
        return NUMPY["gaussian"](x, a1, c1, s1) + NUMPY["gaussian"](x, a2, c2, s2) + a * x + b
    y = twin(x, *p) + 0.01 * np.random.default_rng(0).standard_normal(x.size)
    p0 = p * 1.1
    ref, _ = sp_curve_fit(twin, x, y, p0=p0, **TIGHT)
    got, _, info, _, _ = curve_fit(model, x, y, p0=p0, full_output=True, **TIGHT)
    np.testing.assert_allclose(got, ref, rtol=1e-8)
    assert "gaussian2_center" in str(info["report"])
    # the sum's guess peels the data with its components' guesses
    got3, _ = curve_fit(model, x, y, **TIGHT)
    np.testing.assert_allclose(np.sort(got3[:6].reshape(2, 3), axis=0),
                               np.sort(ref[:6].reshape(2, 3), axis=0), rtol=1e-7)
    bare = M.Model("bare", ("a",), M.constant.point)        # no guess of its own
    with pytest.raises(ValueError, match="give `p0`"):
        curve_fit(bare + M.linear, x, y)
    named = M.gaussian.prefixed("peak_") + M.constant
    assert named.param_names == ("peak_amplitude", "peak_center", "peak_sigma", "c")
    with pytest.raises(ValueError, match="predictor"):
        M.gaussian + M.gaussian2d


# ---------------------------------------------------------------- entry points


def test_every_entry_point_gives_the_same_fit():
    x, y, p = _data("voigt")
    p0 = M.voigt.guess(x, y)
    popt, _ = curve_fit(M.voigt, x, y, p0=p0, method="trf", bounds=M.voigt.bounds)
    res = least_squares(M.voigt.residual, p0, jac=M.voigt.residual_jac, args=(x, y),
                        bounds=M.voigt.bounds)
    np.testing.assert_allclose(res.x, popt, rtol=1e-10)
    Y = np.vstack([y, y + 0.01])
    b = curve_fit_batch(M.voigt, x, Y, p0=p0)
    # the batch row is the single solve (in-place forms: same arithmetic)
    np.testing.assert_allclose(b.x[0], popt, rtol=1e-10)
    # the defaults: p0 from the guess, default bounds, as curve_fit
    np.testing.assert_allclose(curve_fit_batch(M.voigt, x, Y[:1]).x[0], curve_fit(M.voigt, x, y)[0],
                               rtol=1e-10)


@pytest.mark.parametrize("name, method", [("exponential", "lm"), ("gaussian", "trf"),
                                          ("voigt", "trf"), ("gaussian2d", "lm"),
                                          ("sum", "trf")])
def test_batch_fuses_values_and_jacobian_bitwise(name, method):
    """A library model's batch evaluates ``f`` and ``J`` in one pass at every
    trial and keeps ``J`` for the acceptance (batch/_model.py, ``fused``):
    every row is bitwise the run of the separate in-place forms, on two
    threads, with rejected trials (bounds, trf), NaN-compacted rows (some
    with fewer than n + 2 points, which are not kept) and two predictors."""
    rng = np.random.default_rng(3)
    if name == "sum":
        model = M.gaussian + M.linear
        x = np.linspace(-3, 3, 40)
        p = np.array([1.0, 0.2, 0.6, 0.1, 0.3])
        Y = np.array([model.f(x, *(p * rng.uniform(0.8, 1.2, 5))) for _ in range(30)])
        p0 = np.tile(p * 1.15, (30, 1))
    else:
        model = M.LIBRARY[name]
        x, y, p = _data(name)
        Y = y + 0.05 * np.abs(y).max() * rng.standard_normal((30, y.size))
        p0 = None
    X = x[None] if model.predictors == 2 else x
    Y[1, 2:] = np.nan                             # two points left: not solvable
    Y[2, model.n + 1:] = np.nan                   # n + 1 points: f and J apart
    Y[3, ::3] = np.nan
    P0 = p0 if p0 is not None else curve_fit_batch(model, X, Y[:1]).x.repeat(30, axis=0) * 1.1
    bounds = (-np.inf, np.inf) if method == "lm" else model.bounds
    kw = dict(p0=P0, method=method, nan_policy="omit", threads=2, progress=False)
    fused = curve_fit_batch(model, X, Y, bounds=bounds, **kw)
    apart = curve_fit_batch(model.f_inplace, X, Y, jac=model.jac_inplace, inplace=True,
                            bounds=bounds, **kw)
    for field in ("x", "cost", "nfev", "njev", "nit", "status"):
        np.testing.assert_array_equal(getattr(fused, field), getattr(apart, field), field)
    assert fused.success.sum() >= 25


def test_fused_pair_keeps_j_only_for_its_point_and_row():
    """The memoising pair on its own: ``J`` at the point ``f`` was evaluated at
    is the kept one; another point, another row or another length is
    evaluated afresh, and all equal the separate forms' bits."""
    from lsqcore.batch._model import curve_fit_inplace
    model = M.gaussian
    res, jw = curve_fit_inplace(model.f_inplace, 3, model.jac_inplace, fused=model.fj_inplace)
    x = np.linspace(-2, 2, 9)
    Y = np.vstack([model.f(x, 1.0, 0.1, 0.7), model.f(x, 1.2, 0.0, 0.5)])
    w = np.linspace(0.5, 1.5, 9)
    jc = np.zeros((9, 4))
    p = np.array([1.1, 0.05, 0.6])
    out = np.empty(9)
    res(p, out, x, Y[0], w, jc)
    np.testing.assert_array_equal(out, (model.f(x, *p) - Y[0]) * w)

    def ref(p, m=9):
        return w[:m, None] * model.jac(x[:m], *p)
    for q, y, m in ((p, Y[0], 9), (p + 1e-9, Y[0], 9), (p, Y[1], 9), (p, Y[0], 7)):
        J = np.full((m, 3), np.nan)
        jw(q, J, x, y, w, jc)
        np.testing.assert_array_equal(J, ref(q, m))
    res(p, out[:4], x, Y[0], w, jc)                  # fewer than n + 2 points: nothing kept
    J = np.empty((4, 3))
    jw(p, J, x, Y[0], w, jc)
    np.testing.assert_array_equal(J, ref(p, 4))


def test_two_predictor_batch_and_report_names():
    x, _, p = _data("gaussian2d")
    rng = np.random.default_rng(5)
    Y = np.array([NUMPY["gaussian2d"](x, *p) for _ in range(20)]) + 0.02 * rng.standard_normal((20, 121))
    r = curve_fit_batch(M.gaussian2d, x[None], Y, return_stderr=True)
    assert r.success.all()
    for k in (0, 19):
        np.testing.assert_allclose(r.x[k], curve_fit(M.gaussian2d, x, Y[k])[0], rtol=1e-9)
    popt, pcov, info, _, _ = curve_fit(M.gaussian2d, x, Y[0], full_output=True)
    assert "center_u" in str(info["report"])


def test_dask_front_end_takes_a_model():
    da = pytest.importorskip("dask.array")
    x, y, p = _data("gaussian")
    rng = np.random.default_rng(6)
    Y = np.array([NUMPY["gaussian"](x, *p) for _ in range(40)]) + 0.02 * rng.standard_normal((40, 61))
    lazy = curve_fit_batch(M.gaussian, x, da.from_array(Y, chunks=(10, 61)))
    assert lazy.lazy
    np.testing.assert_array_equal(lazy.compute().x, curve_fit_batch(M.gaussian, x, Y).x)
    # Poisson counts, chunk by chunk: the same estimates and Fisher covariances
    C = np.random.default_rng(7).poisson(np.array([NUMPY["gaussian"](x, 30 * p[0], *p[1:])
                                                   for _ in range(40)])).astype(float)
    ref = curve_fit_batch(M.gaussian, x, C, estimator="poisson", return_pcov=True)
    out = curve_fit_batch(M.gaussian, x, da.from_array(C, chunks=(10, 61)),
                          estimator="poisson", return_pcov=True).compute()
    assert ref.success.all()
    np.testing.assert_array_equal(out.x, ref.x)
    np.testing.assert_array_equal(out.pcov, ref.pcov)


# ---------------------------------------------------------------- Poisson maximum likelihood


def _nll_fit(model, x, y, p0):
    from scipy.optimize import minimize

    def nll(q):
        f = model(x, *q)
        return np.sum(f - y * np.log(f)) if np.all(f > 0) else 1e300
    r = minimize(nll, p0, method="Nelder-Mead",
                 options=dict(xatol=1e-11, fatol=1e-13, maxiter=50000, maxfev=50000))
    return r.x


def test_poisson_is_the_likelihood_maximum():
    rng = np.random.default_rng(3)
    x = np.linspace(-3, 3, 41)
    model = M.gaussian + M.constant
    y = rng.poisson(model(x, 20.0, 0.2, 0.8, 2.0)).astype(float)
    p, cov = curve_fit(model, x, y, p0=[15, 0, 1, 1], estimator="poisson", **TIGHT)
    ref = _nll_fit(model, x, y, p)
    np.testing.assert_allclose(p, ref, rtol=2e-6, atol=1e-6)
    J, f = model.jac(x, *p), model(x, *p)
    np.testing.assert_allclose(cov, np.linalg.inv(J.T @ (J / f[:, None])), rtol=1e-8)
    # a Python model (finite differences) reaches the same estimate
    p2, _ = curve_fit(lambda x, a, c, s, b: NUMPY["gaussian"](x, a, c, s) + b, x, y,
                      p0=[15, 0, 1, 1], estimator="poisson", **TIGHT)
    np.testing.assert_allclose(p2, p, rtol=1e-6)
    # batch rows are the single solve, covariance included
    b = curve_fit_batch(model, x, np.vstack([y, y]), p0=[15, 0, 1, 1], estimator="poisson",
                        return_pcov=True, **TIGHT)
    np.testing.assert_allclose(b.x[0], p, rtol=1e-12)
    np.testing.assert_allclose(b.pcov[1], cov, rtol=1e-8)


def test_poisson_statistics():
    """10 000 simulated spots: the estimate is unbiased (within 2 standard
    errors), its Cramer-Rao bound is within 5 % of the empirical spread, and
    at low counts it beats least squares in RMSE.

    The maximum-likelihood estimate has a finite-sample bias of order 1/N
    (N photons), which 10 000 fits resolve at low counts: the amplitude's
    bias is 5.8 standard errors at ~1 000 photons, 2.7 at ~4 400 and 1.9 at
    ~14 000 (measured; the estimates equal the likelihood's maximum,
    test_poisson_is_the_likelihood_maximum).  The unbiasedness test runs at
    ~40 000 photons per spot."""
    rng = np.random.default_rng(11)
    x = np.linspace(-3, 3, 41)
    model = M.gaussian + M.constant
    truth = np.array([3000.0, 0.2, 0.8, 30.0])
    K = 10000
    Y = rng.poisson(model(x, *truth), size=(K, 41)).astype(float)
    # (tight tolerances: a fit stopped early keeps a trace of its start)
    r = curve_fit_batch(model, x, Y, p0=[2500, 0, 1, 25], estimator="poisson",
                        return_stderr=True, ftol=1e-12, xtol=1e-12)
    assert r.success.mean() > 0.999
    err = r.x[r.success] - truth
    se = err.std(axis=0) / np.sqrt(len(err))
    # 2 standard errors for each of 4 parameters would fail 17 % of correct
    # runs by chance; 3 (1 %) still resolves a bias of 0.1 % of the amplitude
    assert np.all(np.abs(err.mean(axis=0)) <= 3 * se), (err.mean(axis=0), se)
    crlb = np.sqrt(np.mean(r.stderr[r.success] ** 2, axis=0))
    np.testing.assert_allclose(crlb, err.std(axis=0), rtol=0.05)
    # low counts: maximum likelihood against least squares
    low = np.array([6.0, 0.2, 0.8, 0.5])
    Yl = rng.poisson(model(x, *low), size=(4000, 41)).astype(float)
    ml = curve_fit_batch(model, x, Yl, p0=[5, 0, 1, 0.4], estimator="poisson")
    ls = curve_fit_batch(model, x, Yl, p0=[5, 0, 1, 0.4])
    ok = ml.success & ls.success
    rmse = lambda R: np.sqrt(np.mean((R.x[ok] - low) ** 2, axis=0))  # noqa: E731
    assert np.all(rmse(ml)[:3] < rmse(ls)[:3]), (rmse(ml), rmse(ls))


def test_poisson_bad_input():
    x = np.linspace(-3, 3, 41)
    y = np.ones(41)
    with pytest.raises(ValueError, match="`estimator`"):
        curve_fit(M.gaussian, x, y, estimator="gauss")
    with pytest.raises(ValueError, match="sigma"):
        curve_fit(M.gaussian, x, y, sigma=np.ones(41), estimator="poisson")
    with pytest.raises(ValueError, match="non-negative integers"):
        curve_fit(M.gaussian, x, y - 1.5, estimator="poisson")
    with pytest.raises(ValueError, match="non-negative integers"):
        curve_fit_batch(M.gaussian, x, np.vstack([y, y * 0.5]), estimator="poisson")
    with pytest.raises(ValueError, match="inplace=False"):
        curve_fit_batch(M.gaussian.f_inplace, x, np.vstack([y, y]), p0=[1, 0, 1],
                        inplace=True, estimator="poisson")
    with pytest.raises(ValueError, match="`estimator`"):
        curve_fit_batch(M.gaussian, x, np.vstack([y, y]), estimator="mle")


def test_model_bad_input():
    with pytest.raises(ValueError, match="param_names"):
        M.Model("bad", ("a", "_b"), M.gaussian.point)
    with pytest.raises(ValueError, match="distinct"):
        M.Model("bad", ("a", "a", "c"), M.gaussian.point)
    with pytest.raises(TypeError, match="takes 3 parameters"):
        M.gaussian(np.zeros(3), 1.0, 2.0)
    with pytest.raises(ValueError, match="degree"):
        M.polynomial(-1)
