"""Test problems for the lsqcore oracle suite.

Every problem is a :class:`Problem` with a residual ``fun(x, *args)`` written in
plain numpy (complex-safe unless ``complex_safe=False``, so ``jac='cs'`` works),
an analytic Jacobian ``jac(x, *args)``, a start ``x0``, ``bounds`` and ``args``.
A few problems also carry numba ``@njit(cache=True)`` versions of fun/jac
(``jit_fun``/``jit_jac``) for the jitted-vs-Python iterate comparison.

The per-problem comparison tolerances live here too, next to the problem they
describe:

* ``x_rtol`` / ``x_atol``: how closely two *converged* solvers must agree on
  ``x`` when they reach the same minimum.  The value reflects the conditioning
  of the problem at its minimum (1e-6 for well-conditioned fits; looser where
  the minimum is flat or the Jacobian is nearly singular, see each problem).
* ``unique_x``: False when the minimiser is not unique (rank-deficient
  Jacobian, underdetermined systems); then only ``invariant(x)`` (identifiable
  combinations of the parameters, if any) and the cost are compared.
* ``cost_atol``: absolute slack for the cost comparison; non-zero only for
  zero-residual problems, where the final cost is rounding noise.

Data sets use a fixed seed so every run sees the same numbers.  The NIST StRD
models (all 27, with analytic Jacobians) are defined here as well and shared
with ``test_nist.py``; the data come from ``lsqcore/problems/data/nist``.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
from numba import njit

HERE = os.path.dirname(os.path.abspath(__file__))
NIST_DIR = os.path.join(os.path.dirname(HERE), "lsqcore", "problems", "data", "nist")

INF = np.inf


@dataclass
class Problem:
    name: str
    fun: Callable
    jac: Callable
    x0: np.ndarray
    bounds: tuple = (-INF, INF)
    args: tuple = ()
    group: str = "well"            # well | hard | nist | bounded | outliers | under
    x_rtol: float = 1e-6
    x_atol: float = 0.0
    cost_atol: float = 0.0
    unique_x: bool = True
    invariant: Optional[Callable] = None
    complex_safe: bool = True
    jit_fun: Optional[Callable] = None
    jit_jac: Optional[Callable] = None
    x_star: Optional[np.ndarray] = None   # known solution, when there is one
    note: str = ""
    m: int = field(init=False)
    n: int = field(init=False)

    def __post_init__(self):
        self.x0 = np.asarray(self.x0, dtype=float)
        self.n = self.x0.size
        self.m = np.asarray(self.fun(self.x0, *self.args)).size

    @property
    def has_bounds(self):
        lb, ub = (np.broadcast_to(np.asarray(b, float), (self.n,)) for b in self.bounds)
        return bool(np.any(np.isfinite(lb)) or np.any(np.isfinite(ub)))

    @property
    def lb(self):
        return np.broadcast_to(np.asarray(self.bounds[0], float), (self.n,)).copy()

    @property
    def ub(self):
        return np.broadcast_to(np.asarray(self.bounds[1], float), (self.n,)).copy()

    def __repr__(self):
        return "Problem(%s, m=%d, n=%d)" % (self.name, self.m, self.n)


# --------------------------------------------------------------------------
# Well-conditioned data fits
# --------------------------------------------------------------------------

def _exp_decay_data(seed=0, m=50, outliers=False):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 10.0, m)
    y = 5.0 * np.exp(-0.8 * t) + 1.0 + 0.05 * rng.standard_normal(m)
    if outliers:
        idx = rng.choice(m, size=m // 10, replace=False)
        y[idx] += rng.uniform(3.0, 6.0, size=idx.size) * rng.choice([-1.0, 1.0], size=idx.size)
    return t, y


def exp_decay_fun(x, t, y):
    return x[0] * np.exp(-x[1] * t) + x[2] - y


def exp_decay_jac(x, t, y):
    e = np.exp(-x[1] * t)
    J = np.empty((t.size, 3), dtype=np.result_type(x, t))
    J[:, 0] = e
    J[:, 1] = -x[0] * t * e
    J[:, 2] = 1.0
    return J


@njit(cache=True)
def exp_decay_fun_jit(x, t, y):
    return x[0] * np.exp(-x[1] * t) + x[2] - y


@njit(cache=True)
def exp_decay_jac_jit(x, t, y):
    m = t.size
    J = np.empty((m, 3))
    for i in range(m):
        e = np.exp(-x[1] * t[i])
        J[i, 0] = e
        J[i, 1] = -x[0] * t[i] * e
        J[i, 2] = 1.0
    return J


def _gauss_peak_data(seed=1, m=1000):
    rng = np.random.default_rng(seed)
    t = np.linspace(-5.0, 5.0, m)
    y = 3.0 * np.exp(-((t - 0.5) ** 2) / (2 * 1.2 ** 2)) + 0.3 + 0.02 * rng.standard_normal(m)
    return t, y


def gauss_peak_fun(x, t, y):
    return x[0] * np.exp(-((t - x[1]) ** 2) / (2 * x[2] ** 2)) + x[3] - y


def gauss_peak_jac(x, t, y):
    d = t - x[1]
    g = np.exp(-(d ** 2) / (2 * x[2] ** 2))
    J = np.empty((t.size, 4), dtype=np.result_type(x, t))
    J[:, 0] = g
    J[:, 1] = x[0] * g * d / x[2] ** 2
    J[:, 2] = x[0] * g * d ** 2 / x[2] ** 3
    J[:, 3] = 1.0
    return J


def _poly_data(seed=2, m=40):
    rng = np.random.default_rng(seed)
    t = np.linspace(-2.0, 2.0, m)
    y = 1.5 - 0.7 * t + 0.4 * t ** 2 + 0.25 * t ** 3 + 0.05 * rng.standard_normal(m)
    return t, y


def poly3_fun(x, t, y):
    return x[0] + t * (x[1] + t * (x[2] + t * x[3])) - y


def poly3_jac(x, t, y):
    return np.vander(t, 4, increasing=True).astype(np.result_type(x, t))


def _two_exp_data(seed=3, m=60):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 8.0, m)
    y = 3.0 * np.exp(-1.5 * t) + 2.0 * np.exp(-0.3 * t) + 0.01 * rng.standard_normal(m)
    return t, y


def two_exp_fun(x, t, y):
    return x[0] * np.exp(-x[1] * t) + x[2] * np.exp(-x[3] * t) - y


def two_exp_jac(x, t, y):
    e1 = np.exp(-x[1] * t)
    e2 = np.exp(-x[3] * t)
    return np.column_stack([e1, -x[0] * t * e1, e2, -x[2] * t * e2])


def _logistic_data(seed=4, m=40):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 10.0, m)
    y = 10.0 / (1.0 + np.exp(-1.2 * (t - 5.0))) + 0.1 * rng.standard_normal(m)
    return t, y


def logistic_fun(x, t, y):
    return x[0] / (1.0 + np.exp(-x[1] * (t - x[2]))) - y


def logistic_jac(x, t, y):
    e = np.exp(-x[1] * (t - x[2]))
    d = 1.0 + e
    return np.column_stack([1.0 / d, x[0] * e * (t - x[2]) / d ** 2, -x[0] * e * x[1] / d ** 2])


# --------------------------------------------------------------------------
# Hard problems (Moré, Garbow & Hillstrom 1981 and friends)
# --------------------------------------------------------------------------

def rosenbrock_fun(x):
    return np.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])


def rosenbrock_jac(x):
    return np.array([[-20.0 * x[0], 10.0], [-1.0, 0.0]], dtype=np.result_type(x, 1.0))


@njit(cache=True)
def rosenbrock_fun_jit(x):
    # dtype-generic (works for complex x too, as jac='cs' needs)
    f = np.empty(2, dtype=x.dtype)
    f[0] = 10.0 * (x[1] - x[0] ** 2)
    f[1] = 1.0 - x[0]
    return f


# Deliberately float-only (np.empty(2) is float64), like most user code: a
# jitted residual should not have to accept complex input unless jac='cs'.
@njit(cache=True)
def rosenbrock_fun_jit_float(x):
    f = np.empty(2)
    f[0] = 10.0 * (x[1] - x[0] ** 2)
    f[1] = 1.0 - x[0]
    return f


@njit(cache=True)
def rosenbrock_jac_jit(x):
    J = np.empty((2, 2))
    J[0, 0] = -20.0 * x[0]
    J[0, 1] = 10.0
    J[1, 0] = -1.0
    J[1, 1] = 0.0
    return J


def powell_bs_fun(x):
    return np.array([1e4 * x[0] * x[1] - 1.0, np.exp(-x[0]) + np.exp(-x[1]) - 1.0001])


def powell_bs_jac(x):
    return np.array([[1e4 * x[1], 1e4 * x[0]], [-np.exp(-x[0]), -np.exp(-x[1])]])


def brown_bs_fun(x):
    return np.array([x[0] - 1e6, x[1] - 2e-6, x[0] * x[1] - 2.0])


def brown_bs_jac(x):
    return np.array([[1.0, 0.0], [0.0, 1.0], [x[1], x[0]]], dtype=np.result_type(x, 1.0))


def freudenstein_roth_fun(x):
    return np.array([-13.0 + x[0] + ((5.0 - x[1]) * x[1] - 2.0) * x[1],
                     -29.0 + x[0] + ((x[1] + 1.0) * x[1] - 14.0) * x[1]])


def freudenstein_roth_jac(x):
    return np.array([[1.0, 10.0 * x[1] - 3.0 * x[1] ** 2 - 2.0],
                     [1.0, 3.0 * x[1] ** 2 + 2.0 * x[1] - 14.0]])


_BEALE_Y = np.array([1.5, 2.25, 2.625])


def beale_fun(x):
    i = np.arange(1, 4)
    return _BEALE_Y - x[0] * (1.0 - x[1] ** i)


def beale_jac(x):
    i = np.arange(1, 4)
    return np.column_stack([-(1.0 - x[1] ** i), x[0] * i * x[1] ** (i - 1)])


def helical_valley_fun(x):
    theta = np.arctan2(x[1], x[0]) / (2 * np.pi)
    r = np.sqrt(x[0] ** 2 + x[1] ** 2)
    return np.array([10.0 * (x[2] - 10.0 * theta), 10.0 * (r - 1.0), x[2]])


def helical_valley_jac(x):
    r2 = x[0] ** 2 + x[1] ** 2
    r = np.sqrt(r2)
    c = 100.0 / (2 * np.pi * r2)
    return np.array([[c * x[1], -c * x[0], 10.0],
                     [10.0 * x[0] / r, 10.0 * x[1] / r, 0.0],
                     [0.0, 0.0, 1.0]])


def _rankdef_data(seed=5, m=30):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 4.0, m)
    y = 6.0 * np.exp(-0.7 * t) + 0.5 + 0.02 * rng.standard_normal(m)
    return t, y


def rankdef_product_fun(x, t, y):
    # a and b only enter as the product a*b: the Jacobian has rank n-1 everywhere
    return x[0] * x[1] * np.exp(-x[2] * t) + x[3] - y


def rankdef_product_jac(x, t, y):
    e = np.exp(-x[2] * t)
    return np.column_stack([x[1] * e, x[0] * e, -x[0] * x[1] * t * e, np.ones_like(t * x[0])])


def rankdef_dupcol_fun(x, t, y):
    # linear, with two identical Jacobian columns (x0 and x1 enter as x0 + x1)
    return (x[0] + x[1]) * t + x[2] * t ** 2 + x[3] - y


def rankdef_dupcol_jac(x, t, y):
    one = np.ones_like(t * x[0])
    return np.column_stack([t * one, t * one, t ** 2 * one, one])


def _badscale_data(seed=6, m=40):
    # parameters of magnitude 1e6, 1e-6 and 1e-8 in the same model; each is
    # well determined by the data (cond of the column-normalised J ~ 3), but
    # the raw Jacobian has cond ~ 1e13 and an absolute FD step of 1.5e-8 is
    # 1% of k: scipy's '2-point' stops 2e-8 (relative cost) short of the
    # minimum and its '3-point' fails outright.
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 2e6, m)
    y = 2e6 * np.exp(-1.5e-6 * t) + 5e-8 * t ** 2 + 1e2 * rng.standard_normal(m)
    return t, y


def badscale_fun(x, t, y):
    return x[0] * np.exp(-x[1] * t) + x[2] * t ** 2 - y


def badscale_jac(x, t, y):
    e = np.exp(-x[1] * t)
    return np.column_stack([e, -x[0] * t * e, t ** 2 + 0 * x[2]])


# --------------------------------------------------------------------------
# Robust-loss data (gross outliers) and an underdetermined system
# --------------------------------------------------------------------------

def _line_outlier_data(seed=7, m=50):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 10.0, m)
    y = 2.0 * t + 1.0 + 0.1 * rng.standard_normal(m)
    idx = rng.choice(m, size=m // 10, replace=False)
    y[idx] += rng.uniform(8.0, 15.0, size=idx.size)
    return t, y


def line_fun(x, t, y):
    return x[0] * t + x[1] - y


def line_jac(x, t, y):
    return np.column_stack([t + 0 * x[0], np.ones_like(t) + 0 * x[0]])


def under_fun(x):
    # 2 equations, 4 unknowns: a 2-dimensional manifold of exact solutions
    return np.array([x[0] + 2.0 * x[1] + x[2] * x[3] - 3.0,
                     x[0] * x[1] - x[3] + 0.5])


def under_jac(x):
    return np.array([[1.0, 2.0, x[3], x[2]],
                     [x[1], x[0], 0.0, -1.0]], dtype=np.result_type(x, 1.0))


# --------------------------------------------------------------------------
# NIST StRD models: f(x_data, b) and df/db; residual is target - f
# --------------------------------------------------------------------------

def _cols(*cols):
    return np.column_stack(cols)


def _m_misra1a(x, b):
    return b[0] * (1.0 - np.exp(-b[1] * x))


def _d_misra1a(x, b):
    e = np.exp(-b[1] * x)
    return _cols(1.0 - e, b[0] * x * e)


def _m_chwirut(x, b):
    return np.exp(-b[0] * x) / (b[1] + b[2] * x)


def _d_chwirut(x, b):
    e = np.exp(-b[0] * x)
    d = b[1] + b[2] * x
    return _cols(-x * e / d, -e / d ** 2, -x * e / d ** 2)


def _m_exp3(x, b):
    return b[0] * np.exp(-b[1] * x) + b[2] * np.exp(-b[3] * x) + b[4] * np.exp(-b[5] * x)


def _d_exp3(x, b):
    e1, e2, e3 = np.exp(-b[1] * x), np.exp(-b[3] * x), np.exp(-b[5] * x)
    return _cols(e1, -b[0] * x * e1, e2, -b[2] * x * e2, e3, -b[4] * x * e3)


def _m_gauss(x, b):
    return (b[0] * np.exp(-b[1] * x)
            + b[2] * np.exp(-(x - b[3]) ** 2 / b[4] ** 2)
            + b[5] * np.exp(-(x - b[6]) ** 2 / b[7] ** 2))


def _d_gauss(x, b):
    e = np.exp(-b[1] * x)
    g1 = np.exp(-(x - b[3]) ** 2 / b[4] ** 2)
    g2 = np.exp(-(x - b[6]) ** 2 / b[7] ** 2)
    return _cols(e, -b[0] * x * e,
                 g1, b[2] * g1 * 2 * (x - b[3]) / b[4] ** 2, b[2] * g1 * 2 * (x - b[3]) ** 2 / b[4] ** 3,
                 g2, b[5] * g2 * 2 * (x - b[6]) / b[7] ** 2, b[5] * g2 * 2 * (x - b[6]) ** 2 / b[7] ** 3)


def _m_danwood(x, b):
    return b[0] * x ** b[1]


def _d_danwood(x, b):
    p = x ** b[1]
    return _cols(p, b[0] * p * np.log(x))


def _m_misra1b(x, b):
    return b[0] * (1.0 - (1.0 + b[1] * x / 2.0) ** (-2))


def _d_misra1b(x, b):
    u = 1.0 + b[1] * x / 2.0
    return _cols(1.0 - u ** (-2), b[0] * x * u ** (-3))


def _m_kirby2(x, b):
    return (b[0] + b[1] * x + b[2] * x ** 2) / (1.0 + b[3] * x + b[4] * x ** 2)


def _d_kirby2(x, b):
    num = b[0] + b[1] * x + b[2] * x ** 2
    den = 1.0 + b[3] * x + b[4] * x ** 2
    return _cols(1.0 / den, x / den, x ** 2 / den, -num * x / den ** 2, -num * x ** 2 / den ** 2)


def _m_ratcubic(x, b):
    return ((b[0] + b[1] * x + b[2] * x ** 2 + b[3] * x ** 3)
            / (1.0 + b[4] * x + b[5] * x ** 2 + b[6] * x ** 3))


def _d_ratcubic(x, b):
    num = b[0] + b[1] * x + b[2] * x ** 2 + b[3] * x ** 3
    den = 1.0 + b[4] * x + b[5] * x ** 2 + b[6] * x ** 3
    q = num / den ** 2
    return _cols(1.0 / den, x / den, x ** 2 / den, x ** 3 / den, -q * x, -q * x ** 2, -q * x ** 3)


def _m_nelson(x, b):
    return b[0] - b[1] * x[0] * np.exp(-b[2] * x[1])


def _d_nelson(x, b):
    e = np.exp(-b[2] * x[1])
    return _cols(np.ones_like(x[0] * e), -x[0] * e, b[1] * x[0] * x[1] * e)


def _m_mgh17(x, b):
    return b[0] + b[1] * np.exp(-x * b[3]) + b[2] * np.exp(-x * b[4])


def _d_mgh17(x, b):
    e3, e4 = np.exp(-x * b[3]), np.exp(-x * b[4])
    return _cols(np.ones_like(e3), e3, e4, -b[1] * x * e3, -b[2] * x * e4)


def _m_misra1c(x, b):
    return b[0] * (1.0 - (1.0 + 2.0 * b[1] * x) ** (-0.5))


def _d_misra1c(x, b):
    u = 1.0 + 2.0 * b[1] * x
    return _cols(1.0 - u ** (-0.5), b[0] * x * u ** (-1.5))


def _m_misra1d(x, b):
    return b[0] * b[1] * x / (1.0 + b[1] * x)


def _d_misra1d(x, b):
    u = 1.0 + b[1] * x
    return _cols(b[1] * x / u, b[0] * x / u ** 2)


def _m_roszman1(x, b):
    return b[0] - b[1] * x - np.arctan(b[2] / (x - b[3])) / np.pi


def _d_roszman1(x, b):
    w = x - b[3]
    q = b[2] / w
    s = 1.0 / (1.0 + q ** 2) / np.pi
    return _cols(np.ones_like(w), -x + 0 * w, -s / w, -s * b[2] / w ** 2)


def _m_enso(x, b):
    a = 2 * np.pi * x / 12
    t1 = 2 * np.pi * x / b[3]
    t2 = 2 * np.pi * x / b[6]
    return (b[0] + b[1] * np.cos(a) + b[2] * np.sin(a)
            + b[4] * np.cos(t1) + b[5] * np.sin(t1)
            + b[7] * np.cos(t2) + b[8] * np.sin(t2))


def _d_enso(x, b):
    a = 2 * np.pi * x / 12
    t1 = 2 * np.pi * x / b[3]
    t2 = 2 * np.pi * x / b[6]
    c1, s1, c2, s2 = np.cos(t1), np.sin(t1), np.cos(t2), np.sin(t2)
    d3 = (-b[4] * s1 + b[5] * c1) * (-t1 / b[3])
    d6 = (-b[7] * s2 + b[8] * c2) * (-t2 / b[6])
    return _cols(np.ones_like(c1), np.cos(a) + 0 * c1, np.sin(a) + 0 * c1, d3, c1, s1, d6, c2, s2)


def _m_mgh09(x, b):
    return b[0] * (x ** 2 + x * b[1]) / (x ** 2 + x * b[2] + b[3])


def _d_mgh09(x, b):
    num = x ** 2 + x * b[1]
    den = x ** 2 + x * b[2] + b[3]
    return _cols(num / den, b[0] * x / den, -b[0] * num * x / den ** 2, -b[0] * num / den ** 2)


def _m_rat42(x, b):
    return b[0] / (1.0 + np.exp(b[1] - b[2] * x))


def _d_rat42(x, b):
    e = np.exp(b[1] - b[2] * x)
    d = (1.0 + e) ** 2
    return _cols(1.0 / (1.0 + e), -b[0] * e / d, b[0] * x * e / d)


def _m_mgh10(x, b):
    return b[0] * np.exp(b[1] / (x + b[2]))


def _d_mgh10(x, b):
    w = x + b[2]
    e = np.exp(b[1] / w)
    return _cols(e, b[0] * e / w, -b[0] * e * b[1] / w ** 2)


def _m_eckerle4(x, b):
    return (b[0] / b[1]) * np.exp(-0.5 * ((x - b[2]) / b[1]) ** 2)


def _d_eckerle4(x, b):
    u = (x - b[2]) / b[1]
    g = np.exp(-0.5 * u ** 2)
    return _cols(g / b[1], b[0] * g * (u ** 2 - 1.0) / b[1] ** 2, b[0] * g * u / b[1] ** 2)


def _m_rat43(x, b):
    return b[0] / (1.0 + np.exp(b[1] - b[2] * x)) ** (1.0 / b[3])


def _d_rat43(x, b):
    e = np.exp(b[1] - b[2] * x)
    p = 1.0 + e
    f = p ** (-1.0 / b[3])
    g = b[0] * p ** (-1.0 / b[3] - 1.0) * e / b[3]
    return _cols(f, -g, x * g, b[0] * f * np.log(p) / b[3] ** 2)


def _m_bennett5(x, b):
    return b[0] * (b[1] + x) ** (-1.0 / b[2])


def _d_bennett5(x, b):
    w = b[1] + x
    p = w ** (-1.0 / b[2])
    return _cols(p, -b[0] * p / (b[2] * w), b[0] * p * np.log(w) / b[2] ** 2)


NIST_MODELS = {
    "Misra1a": (_m_misra1a, _d_misra1a),
    "Chwirut2": (_m_chwirut, _d_chwirut),
    "Chwirut1": (_m_chwirut, _d_chwirut),
    "Lanczos3": (_m_exp3, _d_exp3),
    "Gauss1": (_m_gauss, _d_gauss),
    "Gauss2": (_m_gauss, _d_gauss),
    "DanWood": (_m_danwood, _d_danwood),
    "Misra1b": (_m_misra1b, _d_misra1b),
    "Kirby2": (_m_kirby2, _d_kirby2),
    "Hahn1": (_m_ratcubic, _d_ratcubic),
    "Nelson": (_m_nelson, _d_nelson),
    "MGH17": (_m_mgh17, _d_mgh17),
    "Lanczos1": (_m_exp3, _d_exp3),
    "Lanczos2": (_m_exp3, _d_exp3),
    "Gauss3": (_m_gauss, _d_gauss),
    "Misra1c": (_m_misra1c, _d_misra1c),
    "Misra1d": (_m_misra1d, _d_misra1d),
    "Roszman1": (_m_roszman1, _d_roszman1),
    "ENSO": (_m_enso, _d_enso),
    "MGH09": (_m_mgh09, _d_mgh09),
    "Thurber": (_m_ratcubic, _d_ratcubic),
    "BoxBOD": (_m_misra1a, _d_misra1a),
    "Rat42": (_m_rat42, _d_rat42),
    "MGH10": (_m_mgh10, _d_mgh10),
    "Eckerle4": (_m_eckerle4, _d_eckerle4),
    "Rat43": (_m_rat43, _d_rat43),
    "Bennett5": (_m_bennett5, _d_bennett5),
}

NIST_NAMES = list(NIST_MODELS)


class NistCase:
    """One NIST StRD data set: residual ``target - model``, analytic Jacobian,
    both starts, certified values and the LRE metric of the StRD README."""

    def __init__(self, name):
        with open(os.path.join(NIST_DIR, name + ".json")) as fh:
            d = json.load(fh)
        self.name = name
        self.difficulty = d["difficulty"]
        self.n = int(d["n_params"])
        self.xdata = np.asarray(d["x"], dtype=float)
        y = np.asarray(d["y"], dtype=float)
        self.target = np.log(y) if d.get("response") == "log(y)" else y
        self.model, self.dmodel = NIST_MODELS[name]
        self.starts = {1: np.asarray(d["start1"], float), 2: np.asarray(d["start2"], float)}
        self.x_star = np.asarray(d["certified_params"], float)
        self.sig = list(d.get("certified_params_sig_digits", [11] * self.n))
        self.rss = float(d["certified_rss"])
        self.args = (self.xdata, self.target)

    @staticmethod
    def make_fun(model):
        def fun(b, xdata, target):
            return target - model(xdata, b)
        return fun

    @staticmethod
    def make_jac(dmodel):
        def jac(b, xdata, target):
            return -dmodel(xdata, b)
        return jac

    @property
    def fun(self):
        return self.make_fun(self.model)

    @property
    def jac(self):
        return self.make_jac(self.dmodel)

    def lre(self, x):
        """Per-parameter LRE, clipped to [0, significant digits]; 0 if not finite."""
        out = []
        for est, cert, sig in zip(np.asarray(x, float).ravel(), self.x_star, self.sig):
            if not math.isfinite(est):
                out.append(0.0)
                continue
            err = abs(est - cert)
            if err == 0.0:
                out.append(float(sig))
                continue
            rel = err / abs(cert) if cert != 0 else err
            out.append(float(min(max(-math.log10(rel), 0.0), sig)))
        return np.array(out)

    def min_lre(self, x):
        return float(np.min(self.lre(x)))


_NIST_CACHE = {}


def nist_case(name):
    if name not in _NIST_CACHE:
        _NIST_CACHE[name] = NistCase(name)
    return _NIST_CACHE[name]


def _nist_problem(name, start=1, **kw):
    c = nist_case(name)
    return Problem(name="nist_%s_s%d" % (name, start), fun=NistCase.make_fun(c.model),
                   jac=NistCase.make_jac(c.dmodel), x0=c.starts[start].copy(),
                   args=c.args, group="nist", x_star=c.x_star.copy(), **kw)


# --------------------------------------------------------------------------
# The problem list
# --------------------------------------------------------------------------

def _build():
    P = []
    t, y = _exp_decay_data()
    exp_args = (t, y)
    P.append(Problem("exp_decay", exp_decay_fun, exp_decay_jac, [1.0, 0.1, 0.0], args=exp_args,
                     jit_fun=exp_decay_fun_jit, jit_jac=exp_decay_jac_jit,
                     note="a*exp(-b t)+c, m=50, noise 0.05"))
    P.append(Problem("gauss_peak", gauss_peak_fun, gauss_peak_jac, [2.5, 0.2, 1.5, 0.0],
                     args=_gauss_peak_data(), note="m=1000, n=4"))
    P.append(Problem("poly3", poly3_fun, poly3_jac, [0.0, 0.0, 0.0, 0.0], args=_poly_data(),
                     note="cubic, linear in the parameters"))
    # two decay rates 1.5 and 0.3 from a short, noisy record: the least
    # well-determined of the "well-conditioned" set (cond(J) ~ 1e3)
    P.append(Problem("two_exp", two_exp_fun, two_exp_jac, [2.0, 3.0, 1.0, 0.2],
                     args=_two_exp_data(), x_rtol=1e-5))
    P.append(Problem("logistic", logistic_fun, logistic_jac, [8.0, 0.5, 4.0],
                     args=_logistic_data()))

    # --- hard ---------------------------------------------------------------
    P.append(Problem("rosenbrock", rosenbrock_fun, rosenbrock_jac, [-1.2, 1.0], group="hard",
                     jit_fun=rosenbrock_fun_jit, jit_jac=rosenbrock_jac_jit,
                     x_star=np.array([1.0, 1.0]), cost_atol=1e-20,
                     x_rtol=1e-6, note="zero residual; curved valley"))
    # zero residual at (1.098e-5, 9.106); J is badly scaled (1e4 vs 1e-5), the
    # solution is only determined to ~1e-5 relative by an FD Jacobian
    P.append(Problem("powell_badly_scaled", powell_bs_fun, powell_bs_jac, [0.0, 1.0], group="hard",
                     cost_atol=1e-16, x_rtol=1e-4))
    P.append(Problem("brown_badly_scaled", brown_bs_fun, brown_bs_jac, [1.0, 1.0], group="hard",
                     x_star=np.array([1e6, 2e-6]), cost_atol=1e-16, x_rtol=1e-6))
    # local minimum (11.41, -0.8968), cost 24.49, is what every method finds from
    # the standard start; the global one (5, 4) has zero residual
    # the local minimiser is pinned loosely by ftol=1e-12: scipy's own 'lm' and
    # 'trf' agree on it only to 8.5e-7 relative, hence 3e-6
    P.append(Problem("freudenstein_roth", freudenstein_roth_fun, freudenstein_roth_jac, [0.5, -2.0],
                     group="hard", x_rtol=3e-6))
    P.append(Problem("beale", beale_fun, beale_jac, [1.0, 1.0], group="hard",
                     x_star=np.array([3.0, 0.5]), cost_atol=1e-20))
    # arctan2 is not complex-differentiable: no 'cs'; x[1], x[2] are 0 at the
    # solution, so an absolute tolerance is needed
    P.append(Problem("helical_valley", helical_valley_fun, helical_valley_jac, [-1.0, 0.0, 0.0],
                     group="hard", complex_safe=False, x_star=np.array([1.0, 0.0, 0.0]),
                     cost_atol=1e-20, x_atol=1e-8))
    P.append(Problem("rankdef_product", rankdef_product_fun, rankdef_product_jac,
                     [2.0, 1.0, 0.3, 0.0], args=_rankdef_data(), group="hard", unique_x=False,
                     invariant=lambda x: np.array([x[0] * x[1], x[2], x[3]]), x_rtol=1e-6,
                     note="a*b only as a product: rank-deficient J"))
    P.append(Problem("rankdef_dupcol", rankdef_dupcol_fun, rankdef_dupcol_jac,
                     [0.0, 0.0, 0.0, 0.0], args=_rankdef_data(), group="hard", unique_x=False,
                     invariant=lambda x: np.array([x[0] + x[1], x[2], x[3]]), x_rtol=1e-6,
                     x_atol=1e-9, note="duplicated columns in a linear model"))
    # A ~ 2e6, k ~ 1.5e-6, q ~ 5e-8 in one model; analytic-Jacobian solvers
    # agree on all three to ~1e-9, so 1e-6 holds once the scaling is handled
    P.append(Problem("badly_scaled", badscale_fun, badscale_jac, [1e6, 1e-6, 1e-8],
                     args=_badscale_data(), group="hard", x_rtol=1e-6))

    # --- NIST "higher" ------------------------------------------------------
    # certified solutions are known; conditioning differs a lot (Bennett5 and
    # MGH10 are the worst: ~5 and ~7 correct digits for good solvers)
    P.append(_nist_problem("MGH09", 1, x_rtol=1e-5))
    P.append(_nist_problem("MGH10", 1, x_rtol=1e-5))
    P.append(_nist_problem("Bennett5", 1, x_rtol=1e-3))
    P.append(_nist_problem("BoxBOD", 1, x_rtol=1e-6))
    P.append(_nist_problem("Eckerle4", 1, x_rtol=1e-6))

    # --- bounds -------------------------------------------------------------
    # unconstrained b ~ 0.8; b <= 0.5 is active at the solution
    P.append(Problem("exp_decay_ub_active", exp_decay_fun, exp_decay_jac, [1.0, 0.1, 0.0],
                     bounds=([-INF, 0.0, -INF], [INF, 0.5, INF]), args=exp_args, group="bounded",
                     jit_fun=exp_decay_fun_jit, jit_jac=exp_decay_jac_jit))
    # x1 <= 0.5: solution (0.5, 0.25) on the bound
    P.append(Problem("rosenbrock_x1_le_half", rosenbrock_fun, rosenbrock_jac, [-1.2, 1.0],
                     bounds=([-INF, -INF], [0.5, INF]), group="bounded",
                     x_star=np.array([0.5, 0.25])))
    # x1 >= 1.5: lower bound active, the other variable follows (x2 = x1^2)
    P.append(Problem("rosenbrock_x1_ge_1p5", rosenbrock_fun, rosenbrock_jac, [2.0, 2.0],
                     bounds=([1.5, -INF], [INF, INF]), group="bounded",
                     x_star=np.array([1.5, 2.25])))
    P.append(Problem("exp_decay_box_inactive", exp_decay_fun, exp_decay_jac, [1.0, 0.1, 0.0],
                     bounds=([0.0, 0.0, -10.0], [100.0, 10.0, 10.0]), args=exp_args, group="bounded"))

    # --- outliers (also used with every robust loss) ------------------------
    P.append(Problem("line_outliers", line_fun, line_jac, [0.0, 0.0], args=_line_outlier_data(),
                     group="outliers"))
    P.append(Problem("exp_decay_outliers", exp_decay_fun, exp_decay_jac, [1.0, 0.1, 0.0],
                     args=_exp_decay_data(seed=8, outliers=True), group="outliers"))

    # --- underdetermined m < n (trf only among scipy's methods) ---------------
    P.append(Problem("underdetermined_2x4", under_fun, under_jac, [1.0, 1.0, 1.0, 1.0],
                     group="under", unique_x=False, cost_atol=1e-20))
    return P


PROBLEMS = _build()
BY_NAME = {p.name: p for p in PROBLEMS}
OUTLIER_PROBLEMS = [p for p in PROBLEMS if p.group == "outliers"]
JIT_PROBLEMS = [p for p in PROBLEMS if p.jit_fun is not None]


def get(name):
    return BY_NAME[name]
