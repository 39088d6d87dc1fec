"""Small compiled helpers of the models' starting guesses.

A guess reads only the finite points of a row (a batch row after
``nan_policy='omit'`` or a pixel with dead samples), assumes nothing about
their order, and allocates at most one small array, so that it runs per
row inside a compiled loop over a batch.
"""
import math

import numpy as np
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

    The full width at half maximum is the extent in ``x`` of the points at or
    above half the height *around* the highest one: between the nearest
    point on each side that is below half (so a second peak elsewhere, as in
    a sum of peaks, does not widen it).  When fewer than three points make
    that extent (a noise spike above the peak, or a peak narrower than the
    sampling) it is at least half the width implied by the second moment of
    the positive part of ``y - base`` between the nearest non-positive
    points on each side; and always at least the mean spacing.  Unsorted
    ``x`` is fine.
    """
    best, c = -math.inf, 0.0
    for i in range(x.shape[0]):
        if usable(x, y, i) and y[i] - base > best:
            best, c = y[i] - base, x[i]
    # the nearest points below half, and at or below zero, on each side
    left, right = -math.inf, math.inf
    left0, right0 = -math.inf, math.inf
    for i in range(x.shape[0]):
        if usable(x, y, i):
            v = y[i] - base
            if v < 0.5 * best:
                if x[i] < c:
                    left = max(left, x[i])
                elif x[i] > c:
                    right = min(right, x[i])
            if v <= 0.0:
                if x[i] < c:
                    left0 = max(left0, x[i])
                elif x[i] > c:
                    right0 = min(right0, x[i])
    lo, hi, k = c, c, 0
    s0 = s1 = 0.0
    for i in range(x.shape[0]):
        if usable(x, y, i):
            if left < x[i] < right:
                lo = min(lo, x[i])
                hi = max(hi, x[i])
                k += 1
            if left0 < x[i] < right0:
                w = max(y[i] - base, 0.0)
                s0 += w
                s1 += w * x[i]
    h = spacing(x, y)[2]
    if k >= 3:
        return best, c, max(hi - lo, h)
    mean = s1 / s0 if s0 > 0.0 else c
    s2 = 0.0
    for i in range(x.shape[0]):
        if usable(x, y, i) and left0 < x[i] < right0:
            s2 += max(y[i] - base, 0.0) * (x[i] - mean) ** 2
    moment = 2.0 * math.sqrt(2.0 * math.log(2.0) * s2 / s0) if s0 > 0.0 else 0.0
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



#: the fraction of the x-range, at each end, from which :func:`edge_baseline` is read
EDGE_FRACTION = 0.15


@njit(cache=True, error_model="numpy")
def edge_baseline(x, y):
    """The values at ``x`` of the least-squares line through the finite points
    in the outer :data:`EDGE_FRACTION` of the x-range at each end: the
    baseline under peaks that stay inside the range (the usual baseline of a
    spectrum), which a line through all the points is not."""
    lo, hi, _ = spacing(x, y)
    w = EDGE_FRACTION * (hi - lo)
    use = np.zeros(x.shape[0], dtype=np.bool_)
    for i in range(x.shape[0]):
        use[i] = usable(x, y, i) and (x[i] <= lo + w or x[i] >= hi - w)
    a, b = line(x, y, use)
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = a * x[i] + b
    return out


@njit(cache=True, error_model="numpy")
def sum_of_squares(r):
    """The sum of ``r**2`` over the finite entries of ``r`` (a residual is NaN
    where the point's ``x`` or ``y`` is)."""
    s = 0.0
    for i in range(r.shape[0]):
        if math.isfinite(r[i]):
            s += r[i] * r[i]
    return s
