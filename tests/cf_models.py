"""Models and data sets shared by the curve_fit / report / diagnostics tests.

Each :class:`Case` is a model ``f(x, *p)`` (plain numpy), its analytic
Jacobian ``jac(x, *p) -> (m, n)``, data with a fixed seed, a start ``p0``
and a box of bounds that contains the solution.  Eight synthetic models
plus nine NIST StRD problems (data from ``lsqcore.problems``, model
``= y - residual``, started from NIST's start 2).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from lsqcore import problems


@dataclass
class Case:
    name: str
    f: Callable
    jac: Callable
    x: np.ndarray
    y: np.ndarray
    p0: np.ndarray
    sigma: np.ndarray           # 1-D standard deviations
    cov: np.ndarray             # 2-D covariance (AR(1) correlated)
    lb: np.ndarray
    ub: np.ndarray
    certified: Optional[np.ndarray] = None
    certified_stddev: Optional[np.ndarray] = None


# ------------------------------------------------------------ synthetic models
def exp_decay(x, a, b, c):
    return a * np.exp(-b * x) + c


def exp_decay_jac(x, a, b, c):
    e = np.exp(-b * x)
    return np.stack([e, -a * x * e, np.ones_like(x)], axis=1)


def gauss_peak(x, a, mu, s, c):
    return a * np.exp(-0.5 * ((x - mu) / s) ** 2) + c


def gauss_peak_jac(x, a, mu, s, c):
    u = (x - mu) / s
    e = np.exp(-0.5 * u * u)
    return np.stack([e, a * e * u / s, a * e * u * u / s, np.ones_like(x)], axis=1)


def logistic(x, L, k, x0):
    return L / (1 + np.exp(-k * (x - x0)))


def logistic_jac(x, L, k, x0):
    e = np.exp(-k * (x - x0))
    d = 1 + e
    return np.stack([1 / d, L * e * (x - x0) / d ** 2, -L * e * k / d ** 2], axis=1)


def power_law(x, a, b):
    return a * x ** b


def power_law_jac(x, a, b):
    return np.stack([x ** b, a * x ** b * np.log(x)], axis=1)


def sine(x, A, w, phi, c):
    return A * np.sin(w * x + phi) + c


def sine_jac(x, A, w, phi, c):
    s, co = np.sin(w * x + phi), np.cos(w * x + phi)
    return np.stack([s, A * x * co, A * co, np.ones_like(x)], axis=1)


def michaelis(x, vmax, km):
    return vmax * x / (km + x)


def michaelis_jac(x, vmax, km):
    return np.stack([x / (km + x), -vmax * x / (km + x) ** 2], axis=1)


def two_exp(x, a1, b1, a2, b2):
    return a1 * np.exp(-b1 * x) + a2 * np.exp(-b2 * x)


def two_exp_jac(x, a1, b1, a2, b2):
    e1, e2 = np.exp(-b1 * x), np.exp(-b2 * x)
    return np.stack([e1, -a1 * x * e1, e2, -a2 * x * e2], axis=1)


def rational(x, a, b, c):
    return (a + b * x) / (1 + c * x)


def rational_jac(x, a, b, c):
    d = 1 + c * x
    return np.stack([1 / d, x / d, -(a + b * x) * x / d ** 2], axis=1)


def ar1_cov(s, rho=0.6):
    idx = np.arange(s.size)
    return np.outer(s, s) * rho ** np.abs(idx[:, None] - idx[None, :])


def _synthetic(name, f, jac, x, truth, p0, noise, seed):
    rng = np.random.default_rng(seed)
    x = np.asarray(x, float)
    truth = np.asarray(truth, float)
    sigma = noise * (1.0 + 0.5 * np.abs(np.sin(3.0 * x)))
    y = f(x, *truth) + sigma * rng.normal(size=x.size)
    span = 4 * np.abs(truth) + 1
    return Case(name, f, jac, x, y, np.asarray(p0, float), sigma, ar1_cov(sigma),
                truth - span, truth + span)


SYNTHETIC = [
    _synthetic("exp_decay", exp_decay, exp_decay_jac, np.linspace(0, 4, 50),
               [2.5, 1.3, 0.5], [1, 1, 0], 0.03, 1),
    _synthetic("gauss_peak", gauss_peak, gauss_peak_jac, np.linspace(-5, 5, 80),
               [3.0, 0.4, 1.2, 0.2], [2, 0, 1, 0], 0.05, 2),
    _synthetic("logistic", logistic, logistic_jac, np.linspace(-6, 6, 60),
               [4.0, 1.1, 0.5], [3, 1, 0], 0.05, 3),
    _synthetic("power_law", power_law, power_law_jac, np.linspace(0.5, 10, 40),
               [1.5, 0.7], [1, 1], 0.05, 4),
    _synthetic("sine", sine, sine_jac, np.linspace(0, 10, 100),
               [1.5, 1.9, 0.3, 0.1], [1, 2, 0, 0], 0.1, 5),
    _synthetic("michaelis", michaelis, michaelis_jac, np.linspace(0.1, 20, 30),
               [2.0, 3.0], [1, 1], 0.03, 6),
    _synthetic("two_exp", two_exp, two_exp_jac, np.linspace(0, 6, 90),
               [2.0, 2.5, 1.0, 0.3], [1, 2, 1, 0.5], 0.01, 7),
    _synthetic("rational", rational, rational_jac, np.linspace(0, 5, 45),
               [1.0, 2.0, 0.5], [1, 1, 1], 0.02, 8),
]


# ------------------------------------------------------------ NIST models
def nist_model(P):
    """``(f, jac)`` in curve_fit form for a NIST problem with args (x, y)."""
    def f(x, *b):
        return -P.fun(np.asarray(b, dtype=float), x, np.zeros_like(x))

    def jac(x, *b):
        return -P.jac(np.asarray(b, dtype=float), x, np.zeros_like(x))

    f.__name__ = jac.__name__ = P.name
    return f, jac


NIST_NAMES = ("Misra1a", "Chwirut2", "DanWood", "Kirby2", "Thurber", "Rat43",
              "Eckerle4", "BoxBOD", "MGH09")


def _nist(name):
    P = problems.nist(name)
    x, y = P.args
    f, jac = nist_model(P)
    cs = P.certified_stddev
    xs = P.x_star
    # sigma: a smooth 1-D profile of the certified residual scale
    s = np.sqrt(2 * P.cost_star / (P.m - P.n)) * (1.0 + 0.3 * np.cos(np.linspace(0, 3, P.m)))
    span = 3 * np.abs(xs) + 20 * cs
    return Case("NIST:" + name, f, jac, x, y, np.array(P.starts[1], float), s, ar1_cov(s, 0.4),
                xs - span, xs + span, certified=xs, certified_stddev=cs)


NIST = [_nist(nm) for nm in NIST_NAMES]
ALL = SYNTHETIC + NIST
BY_NAME = {c.name: c for c in ALL}
