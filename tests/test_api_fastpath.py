"""The repeated-call fast path of `least_squares` for jitted residuals.

A call whose options, model and argument types equal those of an earlier,
validated call skips the option checks and goes straight to the cached
compiled driver (`lsqcore._api._FAST`).  These tests check that it gives
bitwise the result of the general path, that it is taken where it should be,
and that bad input still raises the same errors before any work.
"""
import numpy as np
import pytest
from numba import njit

import lsqcore
from lsqcore import InPlace, _api, _validate
from lsqcore._memo import Memo

T = np.linspace(0.0, 4.0, 50)
Y = 2.5 * np.exp(-1.3 * T) + 0.5 + 0.02 * np.random.default_rng(1).standard_normal(50)
X0 = np.array([1.0, 1.0, 0.0])
FIELDS = ("x", "cost", "fun", "jac", "grad", "optimality", "active_mask", "nfev", "njev",
          "status", "message", "success", "nit", "method")


@njit
def decay(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] - y


@njit
def decay_ip(p, out, t, y):
    for i in range(t.shape[0]):
        out[i] = p[0] * np.exp(-p[1] * t[i]) + p[2] - y[i]


@njit
def decay_short_ip(p, out, t, y):
    for i in range(t.shape[0] - 1):
        out[i] = p[0] * np.exp(-p[1] * t[i]) + p[2] - y[i]


@njit
def decay_jac(p, t, y):
    e = np.exp(-p[1] * t)
    J = np.empty((t.size, 3))
    J[:, 0] = e
    J[:, 1] = -p[0] * t * e
    J[:, 2] = 1.0
    return J


@njit
def nan_jac(p, t, y):
    return np.full((t.size, 3), np.nan)


@njit
def scaled_decay(p, t, s, k, y):
    return p[0] * np.exp(-p[1] * t * s) + p[2] * k - y


@njit
def raising_decay(p, t, y):
    if p[1] > 1.2:
        raise KeyError("raised at p[1] > 1.2")
    return p[0] * np.exp(-p[1] * t) + p[2] - y


@njit
def decay_refusing_non_finite(p, t, y):
    for v in p:
        if not np.isfinite(v):
            raise KeyError("evaluated at a non-finite point")
    return p[0] * np.exp(-p[1] * t) + p[2] - y


@njit
def shape_changing(p, t, y):
    return np.zeros(5 if p[0] == 1.0 else 6)


def assert_same(r, s):
    """Bitwise the same result: values, dtypes, shapes, flags and Python types."""
    assert set(r.keys()) == set(s.keys())
    for k in FIELDS:
        a, b = r[k], s[k]
        assert type(a) is type(b), k
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape, k
            assert a.tobytes() == b.tobytes(), k
            assert a.flags.writeable == b.flags.writeable, k
            assert a.flags.c_contiguous == b.flags.c_contiguous, k
        elif isinstance(a, float):
            assert np.float64(a).tobytes() == np.float64(b).tobytes(), k
        else:
            assert a == b, k


class Counting(Memo):
    """A stand-in for `_api._FAST` that counts its hits."""

    __slots__ = ("hits",)

    def __init__(self):
        super().__init__(256)
        self.hits = 0

    def get(self, key, default=None):
        value = dict.get(self, key, default)
        self.hits += value is not None
        return value


@pytest.fixture
def fast(monkeypatch):
    cache = Counting()
    monkeypatch.setattr(_api, "_FAST", cache)
    return cache


def general_then_fast(fast, fun, x0, **kw):
    """(general-path result, fast-path result) of the same call."""
    fast.clear()
    before = fast.hits
    r = lsqcore.least_squares(fun, x0, **kw)
    assert fast.hits == before
    s = lsqcore.least_squares(fun, x0, **kw)
    assert fast.hits == before + 1, "the repeated call did not take the fast path"
    return r, s


OPTIONS = [
    {},
    {"jac": "3-point"},
    {"jac": decay_jac},
    {"ftol": 1e-12, "xtol": 1e-12, "gtol": 1e-12},
    {"ftol": 1, "xtol": 1e-3},
    {"x_scale": "jac"},
    {"x_scale": 2.0},
    {"diff_step": 1e-4},
    {"max_nfev": 3},
    {"max_nfev": True},
    {"loss": "soft_l1", "f_scale": 0.1},
    {"loss": "cauchy"},
    {"f_scale": 2.0},
    {"verbose": False},
    {"tr_options": {"whatever": 1}},
]


@pytest.mark.parametrize("method", ["trf", "lm", "gn"])
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: ",".join(map(str, o)) or "defaults")
def test_fast_path_gives_the_general_paths_result(fast, method, opts):
    if method == "lm" and opts.get("loss", "linear") != "linear":
        pytest.skip("'lm' takes only the linear loss")
    r, s = general_then_fast(fast, decay, X0, args=(T, Y), method=method, **opts)
    assert_same(r, s)
    assert r.x is not s.x and r.jac is not s.jac     # fresh arrays on every call


@pytest.mark.parametrize("method", ["trf", "lm", "gn"])
def test_fast_path_in_place_residual(fast, method):
    r, s = general_then_fast(fast, InPlace(decay_ip, T.size), X0, args=(T, Y), method=method)
    assert_same(r, s)
    assert_same(r, lsqcore.least_squares(decay, X0, args=(T, Y), method=method))


def test_fast_path_scalar_arguments(fast):
    """Python and numpy scalars have the same Numba type: the fast path may
    serve a numpy scalar from a Python scalar's entry, with the same result."""
    args = (T, 1.5, 2, Y)
    r, s = general_then_fast(fast, scaled_decay, X0, args=args)
    assert_same(r, s)
    u = lsqcore.least_squares(scaled_decay, X0, args=(T, np.float64(1.5), 2, Y))
    assert_same(r, u)


def test_fast_path_not_taken_for_other_calls(fast):
    """Another model, option, size or argument type is a miss; x0 that is not a
    writeable float64 C-contiguous 1-d array never takes the fast path."""
    lsqcore.least_squares(decay, X0, args=(T, Y))
    hits = fast.hits
    ro = X0.copy()
    ro.flags.writeable = False
    for x0 in ([1.0, 1.0, 0.0], ro, np.array([1.0, 9.0, 1.0, 9.0, 0.0, 9.0])[::2],
               X0.astype(np.float32), X0.astype(">f8")):
        r = lsqcore.least_squares(decay, x0, args=(T, Y))
        assert_same(r, lsqcore.least_squares(decay, X0, args=(T, Y)))
        assert fast.hits == hits + 1
        hits = fast.hits
    for kw in ({"method": "lm"}, {"args": (T.astype(np.float32), Y)}, {"ftol": 1e-9},
               {"args": [T, Y]}, {"bounds": (-np.inf, np.inf)}, {"trace": True},
               {"bounds": ([0.0, 0.0, -1.0], [3.0, 3.0, 1.0])}, {"kwargs": {}}):
        lsqcore.least_squares(decay, X0, **{"args": (T, Y), **kw})
        assert fast.hits == hits, kw


def test_fast_path_leaves_x0_alone(fast):
    x0 = X0.copy()
    general_then_fast(fast, decay, x0, args=(T, Y))
    np.testing.assert_array_equal(x0, X0)


@pytest.mark.parametrize("method", ["trf", "lm", "gn"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_fast_path_non_finite_x0_raises_before_any_evaluation(fast, method, bad):
    """(`fun` raises KeyError if it is ever called at a non-finite point.)"""
    fun = decay_refusing_non_finite
    r = lsqcore.least_squares(fun, X0, args=(T, Y), method=method)
    assert r.success
    x0 = X0.copy()
    x0[1] = bad
    hits = fast.hits
    with pytest.raises(ValueError, match=r"`x0` must be finite, got array\(\[ *1\., +-?(nan|inf)"):
        lsqcore.least_squares(fun, x0, args=(T, Y), method=method)
    assert fast.hits == hits + 1
    # the general path's message is the same
    fast.clear()
    with pytest.raises(ValueError) as general:
        lsqcore.least_squares(fun, x0, args=(T, Y), method=method)
    lsqcore.least_squares(fun, X0, args=(T, Y), method=method)
    with pytest.raises(ValueError) as quick:
        lsqcore.least_squares(fun, x0, args=(T, Y), method=method)
    assert str(general.value) == str(quick.value)


@pytest.mark.parametrize("kw, match", [
    ({"ftol": -1.0}, "`ftol` must be a non-negative number"),
    ({"method": "newton"}, "`method` must be one of"),
    ({"method": "lm", "ftol": 0.0}, "machine epsilon"),
    ({"max_nfev": 3.0}, "`max_nfev` must be None or a positive integer"),
    ({"max_nfev": 0}, "`max_nfev` must be None or a positive integer"),
    ({"verbose": 3}, "`verbose` must be 0, 1 or 2"),
    ({"f_scale": -1.0}, "`f_scale` must be a positive number"),
    ({"x_scale": -1.0}, "`x_scale` must be finite and positive"),
    ({"diff_step": 0.0}, "`diff_step` must be finite and positive"),
    ({"jac": "4-point"}, "`jac` must be"),
    ({"loss": "l1"}, "`loss` must be one of"),
    ({"method": "lm", "loss": "huber"}, "supports only `loss`='linear'"),
])
def test_bad_options_still_raise_after_good_calls(fast, kw, match):
    """Whatever was remembered, a bad option raises its own error (the key of a
    bad option never equals a remembered one: those all passed the checks)."""
    lsqcore.least_squares(decay, X0, args=(T, Y))
    lsqcore.least_squares(decay, X0, args=(T, Y), max_nfev=3)
    lsqcore.least_squares(decay, X0, args=(T, Y), method="lm")
    for _ in range(2):
        with pytest.raises(ValueError, match=match):
            lsqcore.least_squares(decay, X0, args=(T, Y), **kw)


def test_bad_x0_shapes_still_raise(fast):
    lsqcore.least_squares(decay, X0, args=(T, Y))
    # no variables: scipy's answer (f evaluated once, status 1)
    empty = lsqcore.least_squares(lambda p, t, y: t - y, np.zeros(0), args=(T, Y))
    assert empty.status == 1 and empty.x.size == 0 and empty.nfev == 1
    with pytest.raises(ValueError, match="at most 1 dimension"):
        lsqcore.least_squares(decay, X0.reshape(1, 3), args=(T, Y))


@pytest.mark.parametrize("method", ["trf", "lm", "gn"])
def test_fast_path_errors_of_the_model_are_the_general_paths(fast, method):
    """Errors found in compiled code (a raising `fun`, a wrong length, a short
    in-place residual, non-finite f(x0), a NaN Jacobian at x0, lm with m < n)
    raise the same exception on the first (general) and repeated (fast) call."""
    cases = [
        (raising_decay, X0, {}, KeyError),
        (shape_changing, X0, {}, ValueError),
        (InPlace(decay_short_ip, T.size), X0, {}, ValueError),
        (decay, X0, {"args": (T, Y * np.inf)}, ValueError),
        (decay, X0, {"jac": nan_jac}, ValueError),
    ]
    if method == "lm":
        cases.append((decay, X0, {"args": (T[:2], Y[:2])}, ValueError))
    for fun, x0, kw, exc in cases:
        kw = {"args": (T, Y), "method": method, **kw}
        fast.clear()
        messages = []
        for _ in range(3):
            with pytest.raises(exc) as e:
                lsqcore.least_squares(fun, x0, **kw)
            messages.append(str(e.value))
        assert messages[0] == messages[1] == messages[2], messages
    r = lsqcore.least_squares(decay, X0, args=(T, Y), method=method)
    assert r.success


def test_verbose_and_trace_paths_match_the_fast_path(fast, capsys):
    r, s = general_then_fast(fast, decay, X0, args=(T, Y))
    v = lsqcore.least_squares(decay, X0, args=(T, Y), verbose=1)
    assert "Function evaluations" in capsys.readouterr().out
    t = lsqcore.least_squares(decay, X0, args=(T, Y), trace=True)
    assert_same(s, v)
    assert_same(s, {k: t[k] for k in FIELDS})
    assert len(t.trace.x) >= 1


def test_fast_cache_is_bounded(fast):
    for k in range(300):
        lsqcore.least_squares(decay, X0, args=(T, Y), max_nfev=k + 1)
    assert 0 < len(fast) <= 256


def test_zero_tolerances_are_not_remembered(fast):
    """0.0 and -0.0 are equal keys but not the same option: never remembered."""
    r = lsqcore.least_squares(decay, X0, args=(T, Y), ftol=0.0)
    s = lsqcore.least_squares(decay, X0, args=(T, Y), ftol=-0.0)
    assert fast.hits == 0 and len(fast) == 0
    assert_same(r, s)


def _bounds_cases():
    lo, hi = [0.0, 0.0, -1.0], [3.0, 2.0, 1.0]
    yield "ok", (lo, hi)
    yield "scalar", (0.0, np.inf)
    yield "on a bound", ([1.0, 0.0, 0.0], hi)
    yield "crossed", ([0.0, 2.5, -1.0], hi)
    yield "equal", ([0.0, 2.0, -1.0], hi)
    yield "nan lb", ([0.0, np.nan, -1.0], hi)
    yield "nan ub", (lo, [3.0, 2.0, np.nan])
    yield "x0 below", ([0.0, 0.0, 0.5], hi)
    yield "x0 above", (lo, [3.0, 0.5, 1.0])


@pytest.mark.parametrize("method", ["trf", "lm"])
@pytest.mark.parametrize("name, bounds", list(_bounds_cases()), ids=lambda v: str(v)[:12])
def test_bounds_checks_over_python_floats_match_the_numpy_ones(monkeypatch, method, name,
                                                               bounds):
    """Small problems check bounds over Python floats, large ones with numpy:
    the same results and the same first error."""
    out = []
    for small in (32, 0):
        monkeypatch.setattr(_validate, "_SMALL", small)
        try:
            out.append(lsqcore.least_squares(decay, X0, args=(T, Y), bounds=bounds,
                                             method=method))
        except ValueError as e:
            out.append(str(e))
    if isinstance(out[0], str):
        assert out[0] == out[1]
    else:
        assert_same(out[0], out[1])


@pytest.mark.parametrize("fun", [decay, InPlace(decay_ip, T.size)], ids=["alloc", "inplace"])
def test_big_endian_arguments_are_read_as_numbers(fast, fun):
    """A big-endian array in `args` has the same Numba type fingerprint and
    wrapper key as a native one; compiled code must not read its bytes as
    native floats (it gave 'Residuals are not finite' before).  First and
    repeated calls give the native arrays' result, as scipy would."""
    ref = lsqcore.least_squares(fun, X0, args=(T, Y))
    big = (T.astype(">f8"), Y.astype(">f8"))
    for _ in range(3):
        assert_same(ref, lsqcore.least_squares(fun, X0, args=big))
    assert_same(ref, lsqcore.least_squares(fun, X0, args=[T, Y.astype(">f8")]))
    assert big[0].dtype.byteorder == ">"            # the caller's arrays untouched


def test_zero_dimensional_array_argument(fast):
    """A 0-d array in `args` has no shape to pass to the C wrappers (it made
    their generated source invalid): it takes the per-model driver, with the
    result of the same value passed as a float."""
    ref = lsqcore.least_squares(scaled_decay, X0, args=(T, 1.0, 1.0, Y))
    for _ in range(2):
        assert_same(ref, lsqcore.least_squares(scaled_decay, X0,
                                               args=(T, np.array(1.0), 1.0, Y)))
