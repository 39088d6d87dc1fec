"""Numba residuals and analytic Jacobians of the NIST StRD nonlinear models.

Every model family is one pair ``<family>_fun(b, x, y)`` /
``<family>_jac(b, x, y)`` with the NIST residual convention

    f_i = y_i - model(x_i, b),        J_ij = -d model(x_i, b) / d b_j,

(Nelson: ``f = log(y) - model``, called as ``nelson_fun(b, x1, x2, logy)``).
Problems with the same formula share one pair, which keeps Numba compile
time down: Lanczos1/2/3 (``exp3``), Gauss1/2/3 (``gauss``), Chwirut1/2
(``chwirut``), Misra1a/BoxBOD (``misra1a``) and Hahn1/Thurber
(``ratcubic``).

All functions are ``numba.njit(cache=True, error_model="numpy")`` without an
explicit signature, so Numba specialises them lazily; the output has the
dtype of ``b``, which makes a complex128 ``b`` (complex-step
differentiation) work.  ``error_model="numpy"`` makes a division by zero
give inf/nan instead of raising ``ZeroDivisionError``.  Non-integer powers
are written as ``exp(p * log(u))`` so that they specialise for complex
input.

References
----------
NIST Statistical Reference Datasets, nonlinear regression,
https://www.itl.nist.gov/div898/strd/nls/nls_main.shtml
"""
import numpy as np
from numba import njit

_jit = njit(cache=True, error_model="numpy")

PI = np.pi


# ------------------------------------------------ Lanczos1/2/3:  3 exponentials
@_jit
def exp3_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        t = x[i]
        f[i] = y[i] - (b[0] * np.exp(-b[1] * t) + b[2] * np.exp(-b[3] * t)
                       + b[4] * np.exp(-b[5] * t))
    return f


@_jit
def exp3_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 6), dtype=b.dtype)
    for i in range(m):
        t = x[i]
        for k in range(3):
            e = np.exp(-b[2 * k + 1] * t)
            J[i, 2 * k] = -e
            J[i, 2 * k + 1] = b[2 * k] * t * e
    return J


# ------------------------------------------------ Gauss1/2/3
@_jit
def gauss_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        t = x[i]
        d1 = t - b[3]
        d2 = t - b[6]
        f[i] = y[i] - (b[0] * np.exp(-b[1] * t)
                       + b[2] * np.exp(-d1 * d1 / (b[4] * b[4]))
                       + b[5] * np.exp(-d2 * d2 / (b[7] * b[7])))
    return f


@_jit
def gauss_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 8), dtype=b.dtype)
    for i in range(m):
        t = x[i]
        e = np.exp(-b[1] * t)
        J[i, 0] = -e
        J[i, 1] = b[0] * t * e
        for k in (2, 5):
            a, c, w = b[k], b[k + 1], b[k + 2]
            d = t - c
            g = np.exp(-d * d / (w * w))
            J[i, k] = -g
            J[i, k + 1] = -a * g * 2.0 * d / (w * w)
            J[i, k + 2] = -a * g * 2.0 * d * d / (w * w * w)
    return J


# ------------------------------------------------ Chwirut1/2
@_jit
def chwirut_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        t = x[i]
        f[i] = y[i] - np.exp(-b[0] * t) / (b[1] + b[2] * t)
    return f


@_jit
def chwirut_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 3), dtype=b.dtype)
    for i in range(m):
        t = x[i]
        d = b[1] + b[2] * t
        g = np.exp(-b[0] * t) / d
        J[i, 0] = t * g
        J[i, 1] = g / d
        J[i, 2] = t * g / d
    return J


# ------------------------------------------------ Hahn1, Thurber: cubic/cubic
@_jit
def ratcubic_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        t = x[i]
        num = b[0] + t * (b[1] + t * (b[2] + t * b[3]))
        den = 1.0 + t * (b[4] + t * (b[5] + t * b[6]))
        f[i] = y[i] - num / den
    return f


@_jit
def ratcubic_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 7), dtype=b.dtype)
    for i in range(m):
        t = x[i]
        num = b[0] + t * (b[1] + t * (b[2] + t * b[3]))
        den = 1.0 + t * (b[4] + t * (b[5] + t * b[6]))
        q = num / den
        tk = 1.0
        for k in range(4):
            J[i, k] = -tk / den
            tk *= t
        tk = t
        for k in range(4, 7):
            J[i, k] = q * tk / den
            tk *= t
    return J


# ------------------------------------------------ Misra1a, BoxBOD
@_jit
def misra1a_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        f[i] = y[i] - b[0] * (1.0 - np.exp(-b[1] * x[i]))
    return f


@_jit
def misra1a_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 2), dtype=b.dtype)
    for i in range(m):
        e = np.exp(-b[1] * x[i])
        J[i, 0] = e - 1.0
        J[i, 1] = -b[0] * x[i] * e
    return J


# ------------------------------------------------ DanWood: b1 * x**b2
@_jit
def danwood_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        f[i] = y[i] - b[0] * np.exp(b[1] * np.log(x[i]))
    return f


@_jit
def danwood_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 2), dtype=b.dtype)
    for i in range(m):
        lx = np.log(x[i])
        p = np.exp(b[1] * lx)
        J[i, 0] = -p
        J[i, 1] = -b[0] * p * lx
    return J


# ------------------------------------------------ Misra1b: b1*(1-(1+b2*x/2)**(-2))
@_jit
def misra1b_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        u = 1.0 + 0.5 * b[1] * x[i]
        f[i] = y[i] - b[0] * (1.0 - 1.0 / (u * u))
    return f


@_jit
def misra1b_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 2), dtype=b.dtype)
    for i in range(m):
        u = 1.0 + 0.5 * b[1] * x[i]
        J[i, 0] = 1.0 / (u * u) - 1.0
        J[i, 1] = -b[0] * x[i] / (u * u * u)
    return J


# ------------------------------------------------ Kirby2: quadratic/quadratic
@_jit
def kirby2_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        t = x[i]
        f[i] = y[i] - (b[0] + t * (b[1] + t * b[2])) / (1.0 + t * (b[3] + t * b[4]))
    return f


@_jit
def kirby2_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 5), dtype=b.dtype)
    for i in range(m):
        t = x[i]
        den = 1.0 + t * (b[3] + t * b[4])
        q = (b[0] + t * (b[1] + t * b[2])) / den
        J[i, 0] = -1.0 / den
        J[i, 1] = -t / den
        J[i, 2] = -t * t / den
        J[i, 3] = q * t / den
        J[i, 4] = q * t * t / den
    return J


# ------------------------------------------------ Nelson: log(y) = b1 - b2*x1*exp(-b3*x2)
@_jit
def nelson_fun(b, x1, x2, logy):
    m = x1.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        f[i] = logy[i] - (b[0] - b[1] * x1[i] * np.exp(-b[2] * x2[i]))
    return f


@_jit
def nelson_jac(b, x1, x2, logy):
    m = x1.shape[0]
    J = np.empty((m, 3), dtype=b.dtype)
    for i in range(m):
        e = np.exp(-b[2] * x2[i])
        J[i, 0] = -1.0
        J[i, 1] = x1[i] * e
        J[i, 2] = -b[1] * x1[i] * x2[i] * e
    return J


# ------------------------------------------------ MGH17 (= MGH Osborne 1)
@_jit
def mgh17_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        t = x[i]
        f[i] = y[i] - (b[0] + b[1] * np.exp(-t * b[3]) + b[2] * np.exp(-t * b[4]))
    return f


@_jit
def mgh17_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 5), dtype=b.dtype)
    for i in range(m):
        t = x[i]
        e3 = np.exp(-t * b[3])
        e4 = np.exp(-t * b[4])
        J[i, 0] = -1.0
        J[i, 1] = -e3
        J[i, 2] = -e4
        J[i, 3] = b[1] * t * e3
        J[i, 4] = b[2] * t * e4
    return J


# ------------------------------------------------ Misra1c: b1*(1-(1+2*b2*x)**(-1/2))
@_jit
def misra1c_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        u = 1.0 + 2.0 * b[1] * x[i]
        f[i] = y[i] - b[0] * (1.0 - 1.0 / np.sqrt(u))
    return f


@_jit
def misra1c_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 2), dtype=b.dtype)
    for i in range(m):
        u = 1.0 + 2.0 * b[1] * x[i]
        s = np.sqrt(u)
        J[i, 0] = 1.0 / s - 1.0
        J[i, 1] = -b[0] * x[i] / (u * s)
    return J


# ------------------------------------------------ Misra1d: b1*b2*x/(1+b2*x)
@_jit
def misra1d_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        f[i] = y[i] - b[0] * b[1] * x[i] / (1.0 + b[1] * x[i])
    return f


@_jit
def misra1d_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 2), dtype=b.dtype)
    for i in range(m):
        u = 1.0 + b[1] * x[i]
        J[i, 0] = -b[1] * x[i] / u
        J[i, 1] = -b[0] * x[i] / (u * u)
    return J


# ------------------------------------------------ Roszman1: b1 - b2*x - arctan(b3/(x-b4))/pi
@_jit
def roszman1_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        f[i] = y[i] - (b[0] - b[1] * x[i] - np.arctan(b[2] / (x[i] - b[3])) / PI)
    return f


@_jit
def roszman1_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 4), dtype=b.dtype)
    for i in range(m):
        d = x[i] - b[3]
        z = b[2] / d
        g = 1.0 / (PI * (1.0 + z * z))
        J[i, 0] = -1.0
        J[i, 1] = x[i]
        J[i, 2] = g / d
        J[i, 3] = g * z / d
    return J


# ------------------------------------------------ ENSO: annual + two free cycles
@_jit
def enso_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        a0 = 2.0 * PI * x[i] / 12.0
        a1 = 2.0 * PI * x[i] / b[3]
        a2 = 2.0 * PI * x[i] / b[6]
        f[i] = y[i] - (b[0] + b[1] * np.cos(a0) + b[2] * np.sin(a0)
                       + b[4] * np.cos(a1) + b[5] * np.sin(a1)
                       + b[7] * np.cos(a2) + b[8] * np.sin(a2))
    return f


@_jit
def enso_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 9), dtype=b.dtype)
    for i in range(m):
        a0 = 2.0 * PI * x[i] / 12.0
        J[i, 0] = -1.0
        J[i, 1] = -np.cos(a0)
        J[i, 2] = -np.sin(a0)
        for k in (3, 6):
            a = 2.0 * PI * x[i] / b[k]
            c = np.cos(a)
            s = np.sin(a)
            # d a / d b_k = -a / b_k
            J[i, k] = (-b[k + 1] * s + b[k + 2] * c) * a / b[k]
            J[i, k + 1] = -c
            J[i, k + 2] = -s
    return J


# ------------------------------------------------ MGH09 (= MGH Kowalik-Osborne)
@_jit
def mgh09_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        t = x[i]
        f[i] = y[i] - b[0] * (t * t + t * b[1]) / (t * t + t * b[2] + b[3])
    return f


@_jit
def mgh09_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 4), dtype=b.dtype)
    for i in range(m):
        t = x[i]
        num = t * t + t * b[1]
        den = t * t + t * b[2] + b[3]
        q = b[0] * num / (den * den)
        J[i, 0] = -num / den
        J[i, 1] = -b[0] * t / den
        J[i, 2] = q * t
        J[i, 3] = q
    return J


# ------------------------------------------------ Rat42: b1/(1+exp(b2-b3*x))
@_jit
def rat42_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        f[i] = y[i] - b[0] / (1.0 + np.exp(b[1] - b[2] * x[i]))
    return f


@_jit
def rat42_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 3), dtype=b.dtype)
    for i in range(m):
        e = np.exp(b[1] - b[2] * x[i])
        u = 1.0 + e
        J[i, 0] = -1.0 / u
        J[i, 1] = b[0] * e / (u * u)
        J[i, 2] = -b[0] * x[i] * e / (u * u)
    return J


# ------------------------------------------------ MGH10 (= MGH Meyer): b1*exp(b2/(x+b3))
@_jit
def mgh10_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        f[i] = y[i] - b[0] * np.exp(b[1] / (x[i] + b[2]))
    return f


@_jit
def mgh10_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 3), dtype=b.dtype)
    for i in range(m):
        d = x[i] + b[2]
        e = np.exp(b[1] / d)
        J[i, 0] = -e
        J[i, 1] = -b[0] * e / d
        J[i, 2] = b[0] * b[1] * e / (d * d)
    return J


# ------------------------------------------------ Eckerle4: (b1/b2)*exp(-((x-b3)/b2)**2/2)
@_jit
def eckerle4_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        z = (x[i] - b[2]) / b[1]
        f[i] = y[i] - (b[0] / b[1]) * np.exp(-0.5 * z * z)
    return f


@_jit
def eckerle4_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 3), dtype=b.dtype)
    for i in range(m):
        z = (x[i] - b[2]) / b[1]
        g = np.exp(-0.5 * z * z) / b[1]
        J[i, 0] = -g
        J[i, 1] = -b[0] * g * (z * z - 1.0) / b[1]
        J[i, 2] = -b[0] * g * z / b[1]
    return J


# ------------------------------------------------ Rat43: b1/(1+exp(b2-b3*x))**(1/b4)
@_jit
def rat43_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        u = 1.0 + np.exp(b[1] - b[2] * x[i])
        f[i] = y[i] - b[0] * np.exp(-np.log(u) / b[3])
    return f


@_jit
def rat43_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 4), dtype=b.dtype)
    for i in range(m):
        e = np.exp(b[1] - b[2] * x[i])
        u = 1.0 + e
        lu = np.log(u)
        p = np.exp(-lu / b[3])          # u**(-1/b4)
        J[i, 0] = -p
        J[i, 1] = b[0] * p * e / (b[3] * u)
        J[i, 2] = -b[0] * p * e * x[i] / (b[3] * u)
        J[i, 3] = -b[0] * p * lu / (b[3] * b[3])
    return J


# ------------------------------------------------ Bennett5: b1*(b2+x)**(-1/b3)
@_jit
def bennett5_fun(b, x, y):
    m = x.shape[0]
    f = np.empty(m, dtype=b.dtype)
    for i in range(m):
        f[i] = y[i] - b[0] * np.exp(-np.log(b[1] + x[i]) / b[2])
    return f


@_jit
def bennett5_jac(b, x, y):
    m = x.shape[0]
    J = np.empty((m, 3), dtype=b.dtype)
    for i in range(m):
        u = b[1] + x[i]
        lu = np.log(u)
        p = np.exp(-lu / b[2])
        J[i, 0] = -p
        J[i, 1] = b[0] * p / (b[2] * u)
        J[i, 2] = -b[0] * p * lu / (b[2] * b[2])
    return J


#: family name -> (fun, jac)
FAMILIES = {
    "exp3": (exp3_fun, exp3_jac),
    "gauss": (gauss_fun, gauss_jac),
    "chwirut": (chwirut_fun, chwirut_jac),
    "ratcubic": (ratcubic_fun, ratcubic_jac),
    "misra1a": (misra1a_fun, misra1a_jac),
    "danwood": (danwood_fun, danwood_jac),
    "misra1b": (misra1b_fun, misra1b_jac),
    "kirby2": (kirby2_fun, kirby2_jac),
    "nelson": (nelson_fun, nelson_jac),
    "mgh17": (mgh17_fun, mgh17_jac),
    "misra1c": (misra1c_fun, misra1c_jac),
    "misra1d": (misra1d_fun, misra1d_jac),
    "roszman1": (roszman1_fun, roszman1_jac),
    "enso": (enso_fun, enso_jac),
    "mgh09": (mgh09_fun, mgh09_jac),
    "rat42": (rat42_fun, rat42_jac),
    "mgh10": (mgh10_fun, mgh10_jac),
    "eckerle4": (eckerle4_fun, eckerle4_jac),
    "rat43": (rat43_fun, rat43_jac),
    "bennett5": (bennett5_fun, bennett5_jac),
}

#: NIST problem name -> model family
PROBLEM_FAMILY = {
    "Lanczos1": "exp3", "Lanczos2": "exp3", "Lanczos3": "exp3",
    "Gauss1": "gauss", "Gauss2": "gauss", "Gauss3": "gauss",
    "Chwirut1": "chwirut", "Chwirut2": "chwirut",
    "Hahn1": "ratcubic", "Thurber": "ratcubic",
    "Misra1a": "misra1a", "BoxBOD": "misra1a",
    "DanWood": "danwood", "Misra1b": "misra1b", "Kirby2": "kirby2",
    "Nelson": "nelson", "MGH17": "mgh17", "Misra1c": "misra1c",
    "Misra1d": "misra1d", "Roszman1": "roszman1", "ENSO": "enso",
    "MGH09": "mgh09", "Rat42": "rat42", "MGH10": "mgh10",
    "Eckerle4": "eckerle4", "Rat43": "rat43", "Bennett5": "bennett5",
}
