"""Decays, growth and periodic curves, and polynomial backgrounds.

* exponential ``A exp(-x / tau) + B``: ``e = exp(-x / tau)``; ``df/dA = e``,
  ``df/dtau = A e x / tau^2``, ``df/dB = 1``.
* double exponential ``A1 exp(-x / tau1) + A2 exp(-x / tau2) + B``.
* stretched exponential (Kohlrausch) ``A exp(-(x / tau)^beta)`` for ``x >=
  0``: with ``u = (x / tau)^beta``, ``df/dtau = A e u beta / tau`` and
  ``df/dbeta = -A e u ln(x / tau)`` (0 at ``x = 0``).
* power law ``A x^k`` for ``x > 0``: ``df/dk = A x^k ln x``.
* logistic step ``A / (1 + exp(-(x - c) / w))``: with the step ``s``,
  ``df/dc = -A s (1 - s) / w``, ``df/dw = -A s (1 - s) (x - c) / w^2``.
* sine ``A sin(2 pi f x + phi)``.
* polynomial of degree k ``c0 + c1 x + ... + ck x^k`` (Horner), and the
  constant and straight-line backgrounds.

Guesses: log-linear least squares (the decays, after the offset is read
off the tail; the double exponential by peeling its slow part off the late
half), log-log for the power law and for ``ln(-ln(y / A))`` of the
stretched exponential, the half-way crossings of the step, a periodogram
scan (frequencies from half a cycle over the range to the mean spacing's
Nyquist frequency, 4 per ``1 / range``) refined by linear least squares for
the sine, and the exact linear least-squares solution for polynomials.
"""
import math

import numpy as np
from numba import njit

from ._guess import usable, spacing, line, mean_near
from ._model import Model, _compile

_INF = np.inf


@njit(cache=True, error_model="numpy")
def exponential_point(x, p):
    A, tau, B = p
    r = 1.0 / tau                   # (loop-invariant: one division per call)
    e = math.exp(-x * r)
    return A * e + B, (e, A * e * x * (r * r), 1.0)


@njit(cache=True, error_model="numpy")
def _log_line(x, y, B, lo, hi):
    """Slope and intercept of ``ln(y - B)`` on ``x`` over ``lo <= x <= hi``
    where ``y - B`` is positive."""
    use = np.zeros(x.shape[0], dtype=np.bool_)
    v = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        if usable(x, y, i) and lo <= x[i] <= hi and y[i] - B > 0.0:
            use[i] = True
            v[i] = math.log(y[i] - B)
    return line(x, v, use)


@njit(cache=True, error_model="numpy")
def _decay_from(slope, intercept, span):
    tau = -1.0 / slope if slope < 0.0 else span
    return math.exp(intercept), min(tau, 10.0 * span)


@njit(cache=True, error_model="numpy")
def exponential_guess(x, y):
    lo, hi, h = spacing(x, y)
    span = max(hi - lo, h)
    B = mean_near(x, y, hi, 0.1 * span)
    top = mean_near(x, y, lo, 0.1 * span)
    # the tail's mean sits above the offset by what is left of the decay
    B = B - 0.05 * (top - B) if math.isfinite(B) and math.isfinite(top) else 0.0
    if top < B:             # a rising curve: a negative amplitude
        sl, ic = _log_line(x, -y, -B, lo, hi)
        A, tau = _decay_from(sl, ic, span)
        return np.array([-A, tau, B])
    sl, ic = _log_line(x, y, B, lo, hi)
    A, tau = _decay_from(sl, ic, span)
    return np.array([A, tau, B])


@njit(cache=True, error_model="numpy")
def double_exponential_point(x, p):
    A1, t1, A2, t2, B = p
    r1, r2 = 1.0 / t1, 1.0 / t2     # (loop-invariant)
    e1 = math.exp(-x * r1)
    e2 = math.exp(-x * r2)
    return A1 * e1 + A2 * e2 + B, (e1, A1 * e1 * x * (r1 * r1), e2, A2 * e2 * x * (r2 * r2),
                                   1.0)


@njit(cache=True, error_model="numpy")
def double_exponential_guess(x, y):
    lo, hi, h = spacing(x, y)
    span = max(hi - lo, h)
    B = mean_near(x, y, hi, 0.05 * span)
    B = B if math.isfinite(B) else 0.0
    # the slow part from the late half, then the fast part from the rest
    sl, ic = _log_line(x, y, B, lo + 0.5 * span, hi)
    A2, t2 = _decay_from(sl, ic, span)
    rest = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        rest[i] = y[i] - A2 * math.exp(-x[i] / t2)
    sl, ic = _log_line(x, rest, B, lo, lo + 0.3 * span)
    A1, t1 = _decay_from(sl, ic, span)
    t1 = min(t1, 0.5 * t2)
    return np.array([A1, t1, A2, t2, B])


@njit(cache=True, error_model="numpy")
def stretched_exponential_point(x, p):
    A, tau, beta = p
    it = 1.0 / tau                  # (loop-invariant)
    r = x * it
    u = r ** beta if r > 0.0 else 0.0
    e = math.exp(-u)
    lr = math.log(r) if r > 0.0 else 0.0
    return A * e, (e, A * e * u * beta * it, -A * e * u * lr)


@njit(cache=True, error_model="numpy")
def stretched_exponential_guess(x, y):
    lo, hi, h = spacing(x, y)
    A = mean_near(x, y, lo, 2.0 * h)
    A = A if math.isfinite(A) and A > 0.0 else 1.0
    use = np.zeros(x.shape[0], dtype=np.bool_)
    u = np.zeros(x.shape[0])
    v = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        if usable(x, y, i) and x[i] > 0.0 and 0.02 < y[i] / A < 0.98:
            use[i] = True
            u[i] = math.log(x[i])
            v[i] = math.log(-math.log(y[i] / A))
    beta, ic = line(u, v, use)
    beta = min(max(beta, 0.1), 5.0)
    return np.array([A, math.exp(-ic / beta), beta])


@njit(cache=True, error_model="numpy")
def power_law_point(x, p):
    A, k = p
    xk = x ** k
    return A * xk, (xk, A * xk * math.log(x))


@njit(cache=True, error_model="numpy")
def power_law_guess(x, y):
    s = 0.0
    for i in range(x.shape[0]):
        if usable(x, y, i):
            s += y[i]
    sign = 1.0 if s >= 0.0 else -1.0
    use = np.zeros(x.shape[0], dtype=np.bool_)
    u = np.zeros(x.shape[0])
    v = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        if usable(x, y, i) and x[i] > 0.0 and sign * y[i] > 0.0:
            use[i] = True
            u[i] = math.log(x[i])
            v[i] = math.log(sign * y[i])
    k, ic = line(u, v, use)
    return np.array([sign * math.exp(ic), k])


@njit(cache=True, error_model="numpy")
def logistic_point(x, p):
    A, c, w = p
    iw = 1.0 / w                    # (loop-invariant)
    t = (x - c) * iw
    s = 1.0 / (1.0 + math.exp(-t))
    ds = s * (1.0 - s)
    return A * s, (s, -A * ds * iw, -A * ds * t * iw)


@njit(cache=True, error_model="numpy")
def _crossing(x, y, level):
    """``x`` of the finite point whose ``y`` is closest to ``level``."""
    best, at = math.inf, 0.0
    for i in range(x.shape[0]):
        if usable(x, y, i) and abs(y[i] - level) < best:
            best, at = abs(y[i] - level), x[i]
    return at


@njit(cache=True, error_model="numpy")
def logistic_guess(x, y):
    lo, hi, h = spacing(x, y)
    span = max(hi - lo, h)
    A = mean_near(x, y, hi, 0.1 * span)
    A = A if math.isfinite(A) and A != 0.0 else 1.0
    c = _crossing(x, y, 0.5 * A)
    q = abs(_crossing(x, y, 0.75 * A) - _crossing(x, y, 0.25 * A))
    return np.array([A, c, max(q / (2.0 * math.log(3.0)), h)])


@njit(cache=True, error_model="numpy")
def sine_point(x, p):
    A, f, phi = p
    th = 2.0 * math.pi * f * x + phi
    s, c = math.sin(th), math.cos(th)
    return A * s, (s, A * c * 2.0 * math.pi * x, A * c)


@njit(cache=True, error_model="numpy")
def _sin_cos_fit(x, y, ybar, f):
    """Least-squares ``(a, b, sse)`` of ``y - ybar ~ a sin(2 pi f x) + b cos(2 pi f x)``."""
    ss = sc = cc = sy = cy = yy = 0.0
    for i in range(x.shape[0]):
        if usable(x, y, i):
            th = 2.0 * math.pi * f * x[i]
            s, c, v = math.sin(th), math.cos(th), y[i] - ybar
            ss += s * s
            sc += s * c
            cc += c * c
            sy += s * v
            cy += c * v
            yy += v * v
    d = ss * cc - sc * sc
    if not d > 1e-12 * max(ss * cc, 1e-300):
        return 0.0, 0.0, yy
    a = (sy * cc - cy * sc) / d
    b = (cy * ss - sy * sc) / d
    return a, b, yy - a * sy - b * cy


@njit(cache=True, error_model="numpy")
def sine_guess(x, y):
    lo, hi, h = spacing(x, y)
    span = max(hi - lo, h)
    s, c = 0.0, 0
    for i in range(x.shape[0]):
        if usable(x, y, i):
            s += y[i]
            c += 1
    ybar = s / max(c, 1)
    best, fbest = math.inf, 1.0 / span
    f = 0.5 / span
    while f <= 0.5 / h:
        sse = _sin_cos_fit(x, y, ybar, f)[2]
        if sse < best:
            best, fbest = sse, f
        f += 0.25 / span
    a, b, _ = _sin_cos_fit(x, y, ybar, fbest)
    return np.array([math.hypot(a, b), fbest, math.atan2(b, a)])


@njit(cache=True, error_model="numpy")
def constant_point(x, p):
    return p[0], (1.0,)


@njit(cache=True, error_model="numpy")
def constant_guess(x, y):
    s, c = 0.0, 0
    for i in range(x.shape[0]):
        if usable(x, y, i):
            s += y[i]
            c += 1
    return np.array([s / max(c, 1)])


@njit(cache=True, error_model="numpy")
def linear_point(x, p):
    a, b = p
    return a * x + b, (x, 1.0)


@njit(cache=True, error_model="numpy")
def linear_guess(x, y):
    use = np.zeros(x.shape[0], dtype=np.bool_)
    for i in range(x.shape[0]):
        use[i] = usable(x, y, i)
    a, b = line(x, y, use)
    return np.array([a, b])


@njit(cache=True, error_model="numpy")
def polynomial_fit(x, y, degree):
    """The least-squares polynomial coefficients ``c0..c_degree`` (exact)."""
    c = 0
    for i in range(x.shape[0]):
        if usable(x, y, i):
            c += 1
    V = np.empty((c, degree + 1))
    v = np.empty(c)
    r = 0
    for i in range(x.shape[0]):
        if usable(x, y, i):
            t = 1.0
            for j in range(degree + 1):
                V[r, j] = t
                t *= x[i]
            v[r] = y[i]
            r += 1
    if c == 0:
        return np.zeros(degree + 1)
    return np.linalg.lstsq(V, v)[0]


def polynomial(degree):
    """The polynomial model ``c0 + c1 x + ... + c_degree x^degree``."""
    degree = int(degree)
    if degree < 0:
        raise ValueError(f"`degree` must be a non-negative integer, got {degree!r}.")
    m = _POLY.get(degree)
    if m is None:
        horner = "p[0]" if degree == 0 else ""
        if degree:
            horner = f"p[{degree}]"
            for j in range(degree - 1, -1, -1):
                horner = f"p[{j}] + x * ({horner})"
        grads = "(" + "".join(f"x ** {j}, " if j > 1 else ("x, " if j else "1.0, ")
                              for j in range(degree + 1)) + ")"
        point, = _compile(f"def point(x, p):\n    return {horner}, {grads}\n", ("point",), {})
        guess, = _compile(f"def guess(x, y):\n    return FIT(x, y, {degree})\n", ("guess",),
                          {"FIT": polynomial_fit})
        m = _POLY[degree] = Model(
            f"polynomial{degree}", [f"c{j}" for j in range(degree + 1)], point, guess=guess,
            formula=" + ".join(["c0"] + [f"c{j} x**{j}" for j in range(1, degree + 1)]))
    return m


_POLY = {}

exponential = Model("exponential", ("amplitude", "decay", "offset"), exponential_point,
                    guess=exponential_guess, bounds=([-_INF, 0.0, -_INF], [_INF] * 3),
                    formula="amplitude * exp(-x / decay) + offset")
double_exponential = Model(
    "double_exponential", ("amplitude1", "decay1", "amplitude2", "decay2", "offset"),
    double_exponential_point, guess=double_exponential_guess,
    bounds=([-_INF, 0.0, -_INF, 0.0, -_INF], [_INF] * 5),
    formula="amplitude1 * exp(-x / decay1) + amplitude2 * exp(-x / decay2) + offset")
stretched_exponential = Model(
    "stretched_exponential", ("amplitude", "decay", "beta"), stretched_exponential_point,
    guess=stretched_exponential_guess, bounds=([-_INF, 0.0, 0.0], [_INF] * 3),
    formula="amplitude * exp(-(x / decay)**beta)")
power_law = Model("power_law", ("amplitude", "exponent"), power_law_point,
                  guess=power_law_guess, formula="amplitude * x**exponent")
logistic = Model("logistic", ("amplitude", "center", "width"), logistic_point,
                 guess=logistic_guess, bounds=([-_INF, -_INF, 0.0], [_INF] * 3),
                 formula="amplitude / (1 + exp(-(x - center) / width))")
sine = Model("sine", ("amplitude", "frequency", "phase"), sine_point, guess=sine_guess,
             bounds=([-_INF, 0.0, -_INF], [_INF] * 3),
             formula="amplitude * sin(2 pi frequency x + phase)")
constant = Model("constant", ("c",), constant_point, guess=constant_guess, formula="c")
linear = Model("linear", ("slope", "intercept"), linear_point, guess=linear_guess,
               formula="slope * x + intercept")
