"""Small compiled helpers of the models' starting guesses.

A guess reads only the finite points of a row (a batch row after
``nan_policy='omit'`` or a pixel with dead samples), assumes nothing about
their order, and allocates at most one small array, so that it runs per
row inside a compiled loop over a batch.
"""
import math

from numba import njit


@njit(cache=True, error_model="numpy")
def usable(x, y, i):
    """Point ``i`` is finite in ``x`` and ``y``."""
    return math.isfinite(x[i]) and math.isfinite(y[i])


@njit(cache=True, error_model="numpy")
def spacing(x, y):
    """``(x_min, x_max, mean spacing)`` of the finite points."""
    lo, hi, c = math.inf, -math.inf, 0
    for i in range(x.shape[0]):
        if usable(x, y, i):
            lo = min(lo, x[i])
            hi = max(hi, x[i])
            c += 1
    h = (hi - lo) / (c - 1) if c > 1 else 1.0
    return lo, hi, h if h > 0.0 else 1.0


@njit(cache=True, error_model="numpy")
def peak(x, y, base):
    """``(height, center, fwhm)`` of the highest point of ``y - base``.

    The full width at half maximum is the larger of the extent in ``x`` of
    the points at or above half the height and half the width implied by
    the second moment of the positive part of ``y - base`` (a noise spike
    above the peak leaves few points above its half, and the moment of a
    heavy-tailed peak overstates its width), and at least the mean spacing.
    Unsorted ``x`` is fine.
    """
    best, c = -math.inf, 0.0
    s0 = s1 = 0.0
    for i in range(x.shape[0]):
        if usable(x, y, i):
            if y[i] - base > best:
                best, c = y[i] - base, x[i]
            w = max(y[i] - base, 0.0)
            s0 += w
            s1 += w * x[i]
    lo, hi = c, c
    s2 = 0.0
    mean = s1 / s0 if s0 > 0.0 else c
    for i in range(x.shape[0]):
        if usable(x, y, i):
            if y[i] - base >= 0.5 * best:
                lo = min(lo, x[i])
                hi = max(hi, x[i])
            s2 += max(y[i] - base, 0.0) * (x[i] - mean) ** 2
    moment = 2.0 * math.sqrt(2.0 * math.log(2.0) * s2 / s0) if s0 > 0.0 else 0.0
    h = spacing(x, y)[2]
    return best, c, max(hi - lo, 0.5 * moment, h)


@njit(cache=True, error_model="numpy")
def line(u, v, use):
    """Least-squares ``(slope, intercept)`` of ``v`` on ``u`` over the points
    where ``use`` is True (``(0, mean)`` for fewer than two distinct ``u``)."""
    s0 = su = sv = suu = suv = 0.0
    for i in range(u.shape[0]):
        if use[i]:
            s0 += 1.0
            su += u[i]
            sv += v[i]
            suu += u[i] * u[i]
            suv += u[i] * v[i]
    if s0 == 0.0:
        return 0.0, 0.0
    d = s0 * suu - su * su
    if not d > 1e-300 * max(1.0, s0 * suu):
        return 0.0, sv / s0
    slope = (s0 * suv - su * sv) / d
    return slope, (sv - slope * su) / s0


@njit(cache=True, error_model="numpy")
def mean_near(x, y, at, width):
    """Mean of the finite ``y`` with ``|x - at| <= width`` (NaN if none)."""
    s, c = 0.0, 0
    for i in range(x.shape[0]):
        if usable(x, y, i) and abs(x[i] - at) <= width:
            s += y[i]
            c += 1
    return s / c if c else math.nan

