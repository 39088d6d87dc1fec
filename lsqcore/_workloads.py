"""The reference workloads W1-W3 of the speed measurements (design notes).

* W1: exponential decay ``a exp(-b t) + c``, m = 50, n = 3, finite differences.
* W2: Gaussian peak ``a exp(-(t - mu)^2 / (2 s^2)) + c``, m = 1000, n = 4.
* W3: sum of four exponentials ``sum_k a_k exp(-b_k t)``, m = 200000, n = 8.
* W4 (batch): the decay of W1 as a curve_fit model ``f(x, a, b, c)``
  (``expdecay``, in-place ``expdecay_ip`` and Jacobian ``expdecay_jac_ip``)
  and its data (:func:`w4_data`), used by ``benchmarks/bench_batch.py``,
  ``bench_cuda.py``, ``bench_peers.py`` and ``tests/test_batch.py``.

Each is a :class:`Workload` with a Numba-jitted residual, a plain-Python
(numpy) twin, data from a fixed seed and a starting point.  Used by
``python -m lsqcore speed`` and ``benchmarks/bench_single.py``.
"""
from dataclasses import dataclass

import numpy as np
from numba import njit


@njit(cache=True)
def exp_decay(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] - y


@njit(cache=True)
def exp_decay_inplace(p, out, t, y):
    a, b, c = p[0], p[1], p[2]
    for i in range(t.shape[0]):
        out[i] = a * np.exp(-b * t[i]) + c - y[i]


@njit(cache=True)
def gaussian(p, t, y):
    return p[0] * np.exp(-(t - p[1]) ** 2 / (2.0 * p[2] ** 2)) + p[3] - y


@njit(cache=True)
def four_exp(p, t, y):
    return (p[0] * np.exp(-p[1] * t) + p[2] * np.exp(-p[3] * t)
            + p[4] * np.exp(-p[5] * t) + p[6] * np.exp(-p[7] * t) - y)


# W4 (many small fits, issue 6): the same decay as a curve_fit model
# f(x, a, b, c), allocating, in place, and its in-place Jacobian.
@njit(cache=True)
def expdecay(x, a, b, c):
    return a * np.exp(-b * x) + c


@njit(cache=True)
def expdecay_ip(x, a, b, c, out):
    for i in range(x.shape[0]):
        out[i] = a * np.exp(-b * x[i]) + c


@njit(cache=True)
def expdecay_jac_ip(x, a, b, c, out):
    for i in range(x.shape[0]):
        e = np.exp(-b * x[i])
        out[i, 0] = e
        out[i, 1] = -a * x[i] * e
        out[i, 2] = 1.0


@dataclass
class Workload:
    name: str
    description: str
    fun: object          # jitted
    py_fun: object       # plain numpy
    x0: np.ndarray
    args: tuple

    @property
    def m(self):
        return self.args[0].size

    @property
    def n(self):
        return self.x0.size


def w1():
    rng = np.random.default_rng(1)
    t = np.linspace(0.0, 4.0, 50)
    y = 2.5 * np.exp(-1.3 * t) + 0.5 + 0.02 * rng.standard_normal(t.size)
    return Workload("W1", "exp decay, m=50, n=3, FD", exp_decay, exp_decay.py_func,
                    np.array([1.0, 1.0, 0.0]), (t, y))


def w2():
    rng = np.random.default_rng(2)
    t = np.linspace(-5.0, 5.0, 1000)
    y = 3.0 * np.exp(-(t - 0.4) ** 2 / (2 * 0.8 ** 2)) + 0.2 + 0.05 * rng.standard_normal(t.size)
    return Workload("W2", "Gaussian peak, m=1000, n=4, FD", gaussian, gaussian.py_func,
                    np.array([2.0, 0.0, 1.0, 0.0]), (t, y))


def w3():
    rng = np.random.default_rng(3)
    t = np.linspace(0.0, 10.0, 200_000)
    p = np.array([1.0, 0.3, 2.0, 1.1, 1.5, 3.0, 0.7, 7.0])
    y = four_exp.py_func(p, t, np.zeros_like(t)) + 0.01 * rng.standard_normal(t.size)
    return Workload("W3", "4 exponentials, m=200000, n=8, FD", four_exp, four_exp.py_func,
                    np.array([1.2, 0.2, 1.8, 1.0, 1.2, 2.5, 1.0, 6.0]), (t, y))


WORKLOADS = {"W1": w1, "W2": w2, "W3": w3}

#: W4: ``K`` rows of ``expdecay`` on these ``M4`` points, fitted from ``W4_P0``
M4 = 30
W4_T = np.linspace(0.0, 4.0, M4)
W4_P0 = np.array([1.0, 1.0, 0.0])


def w4_data(K, seed=6):
    """W4's ``(P, Y)``: ``K`` true parameter rows (a in [1, 3], b in [0.5, 2],
    c in [-0.5, 0.5]) and their curves on ``W4_T`` with noise of sd 0.05."""
    rng = np.random.default_rng(seed)
    P = np.column_stack([rng.uniform(1, 3, K), rng.uniform(0.5, 2, K),
                         rng.uniform(-0.5, 0.5, K)])
    Y = P[:, :1] * np.exp(-P[:, 1:2] * W4_T) + P[:, 2:3] + 0.05 * rng.standard_normal((K, M4))
    return P, Y
