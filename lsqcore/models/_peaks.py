"""Peak shapes: Gaussian, Lorentzian, pseudo-Voigt and Voigt.

With ``d = x - center``:

* Gaussian ``A exp(-d^2 / (2 s^2))``: ``e = exp(-d^2 / (2 s^2))`` gives
  ``df/dA = e``, ``df/dc = A e d / s^2``, ``df/ds = A e d^2 / s^3``.
* Lorentzian ``A g^2 / (d^2 + g^2)`` (``g`` the half width at half
  maximum): with ``u = d^2 + g^2`` and ``q = g^2 / u``, ``df/dA = q``,
  ``df/dc = 2 A q d / u``, ``df/dg = 2 A g d^2 / u^2``.
* pseudo-Voigt ``A ((1 - eta) G + eta L)``, a Gaussian and a Lorentzian of
  the same half width ``w`` (``G = exp(-ln 2 d^2 / w^2)``, ``L = w^2 /
  (d^2 + w^2)``), each differentiated as above.
* Voigt, the convolution of a Gaussian (``sigma``) and a Lorentzian
  (``gamma``) of unit area, times the area ``A``: ``A Re w(z) / (sigma
  sqrt(2 pi))`` with ``z = (d + i gamma) / (sigma sqrt 2)`` and ``w`` the
  Faddeeva function (:mod:`lsqcore.models._faddeeva`).  By the chain rule
  through ``w' = -2 z w + 2 i / sqrt(pi)``: ``dz/dc = -1 / (sigma sqrt 2)``,
  ``dz/dgamma = i / (sigma sqrt 2)``, ``dz/dsigma = -z / sigma``.

The first three take the peak *height* as ``amplitude``; the Voigt its
area (its height has no closed form).

Guesses (:func:`lsqcore.models._guess.peak`): the highest point gives the
height and center, the extent of the points above half of it the full
width at half maximum; the Voigt splits that width between its two parts
by Olivero and Longbothum's (1977) approximation ``f_V = 0.5346 f_L +
sqrt(0.2166 f_L^2 + f_G^2)`` with ``f_L = f_G``.
"""
import math

import numpy as np
from numba import njit

from ._faddeeva import faddeeva, faddeeva_and_derivative
from ._guess import peak
from ._model import Model

LN2 = math.log(2.0)
FWHM_SIGMA = 2.0 * math.sqrt(2.0 * LN2)       # Gaussian FWHM / sigma
SQRT2 = math.sqrt(2.0)
SQRT_2PI = math.sqrt(2.0 * math.pi)


@njit(cache=True, error_model="numpy")
def gaussian_point(x, p):
    A, c, s = p
    r = 1.0 / s                     # (loop-invariant: one division per call)
    d = x - c
    e = math.exp(-0.5 * d * d * (r * r))
    t = A * e * d * (r * r)
    return A * e, (e, t, t * d * r)


@njit(cache=True, error_model="numpy")
def gaussian_guess(x, y):
    h, c, fw = peak(x, y, 0.0)
    return np.array([h, c, fw / FWHM_SIGMA])


@njit(cache=True, error_model="numpy")
def lorentzian_point(x, p):
    A, c, g = p
    d = x - c
    iu = 1.0 / (d * d + g * g)
    q = g * g * iu
    return A * q, (q, 2.0 * A * q * d * iu, 2.0 * A * g * d * d * (iu * iu))


@njit(cache=True, error_model="numpy")
def lorentzian_guess(x, y):
    h, c, fw = peak(x, y, 0.0)
    return np.array([h, c, 0.5 * fw])


@njit(cache=True, error_model="numpy")
def pseudo_voigt_point(x, p):
    A, c, w, eta = p
    d = x - c
    r = 1.0 / w                                 # (loop-invariant)
    G = math.exp(-LN2 * d * d * (r * r))
    iu = 1.0 / (d * d + w * w)
    L = w * w * iu
    Gc = G * 2.0 * LN2 * d * (r * r)            # dG/dc
    Lc = 2.0 * L * d * iu                       # dL/dc
    Gw = Gc * d * r                             # dG/dw
    Lw = 2.0 * w * d * d * (iu * iu)            # dL/dw
    mix = (1.0 - eta) * G + eta * L
    return A * mix, (mix, A * ((1.0 - eta) * Gc + eta * Lc),
                     A * ((1.0 - eta) * Gw + eta * Lw), A * (L - G))


@njit(cache=True, error_model="numpy")
def pseudo_voigt_guess(x, y):
    h, c, fw = peak(x, y, 0.0)
    return np.array([h, c, 0.5 * fw, 0.5])


@njit(cache=True, error_model="numpy")
def voigt_point(x, p):
    A, c, s, g = p
    k = 1.0 / (s * SQRT2)
    z = complex((x - c) * k, g * k)
    w, dw = faddeeva_and_derivative(z)
    norm = 1.0 / (s * SQRT_2PI)
    V = w.real * norm
    return A * V, (V, -A * norm * k * dw.real,
                   A * norm * (-(dw * z).real / s - w.real / s),
                   -A * norm * k * dw.imag)


@njit(cache=True, error_model="numpy")
def voigt_guess(x, y):
    h, c, fw = peak(x, y, 0.0)
    f = fw / (0.5346 + math.sqrt(0.2166 + 1.0))
    s, g = f / FWHM_SIGMA, 0.5 * f
    top = faddeeva(complex(0.0, g / (s * SQRT2))).real / (s * SQRT_2PI)
    return np.array([h / top, c, s, g])


_INF = np.inf
gaussian = Model("gaussian", ("amplitude", "center", "sigma"), gaussian_point,
                 guess=gaussian_guess, bounds=([-_INF, -_INF, 0.0], [_INF, _INF, _INF]),
                 formula="amplitude * exp(-(x - center)**2 / (2 sigma**2))")
lorentzian = Model("lorentzian", ("amplitude", "center", "gamma"), lorentzian_point,
                   guess=lorentzian_guess, bounds=([-_INF, -_INF, 0.0], [_INF, _INF, _INF]),
                   formula="amplitude * gamma**2 / ((x - center)**2 + gamma**2)")
pseudo_voigt = Model(
    "pseudo_voigt", ("amplitude", "center", "width", "fraction"), pseudo_voigt_point,
    guess=pseudo_voigt_guess, bounds=([-_INF, -_INF, 0.0, 0.0], [_INF, _INF, _INF, 1.0]),
    formula="amplitude * ((1 - fraction) exp(-ln2 (x - center)**2 / width**2) "
            "+ fraction width**2 / ((x - center)**2 + width**2))")
voigt = Model("voigt", ("amplitude", "center", "sigma", "gamma"), voigt_point,
              guess=voigt_guess, bounds=([-_INF, -_INF, 0.0, 0.0], [_INF] * 4),
              formula="amplitude * Re w((x - center + i gamma) / (sigma sqrt 2)) "
                      "/ (sigma sqrt(2 pi))")
