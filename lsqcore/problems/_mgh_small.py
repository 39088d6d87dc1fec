"""Numba residuals/Jacobians of the fixed-size More-Garbow-Hillstrom problems.

Problems 2-19 of More, Garbow & Hillstrom (1981), except those that reuse a
NIST StRD model (Kowalik-Osborne = MGH09, Meyer = MGH10, Osborne 1 = MGH17)
or a variable-dimension function (Rosenbrock = extended Rosenbrock with
n = 2, Powell singular = extended Powell singular with n = 4), see
:mod:`lsqcore.problems._mgh_vardim`.  Numbering and formulas follow the
paper; ``x[0]`` is the paper's ``x_1``.

Data that a residual needs (abscissae ``t_i``, observations ``y_i``, or the
index vector ``i = 1..m``) are passed in ``args`` so that ``m`` is set by the
data, not compiled in.  All functions are ``numba.njit(cache=True,
error_model="numpy")`` with no explicit signature and return arrays of the
dtype of ``x``, so complex128 ``x`` (complex step) works.

References
----------
J. J. More, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
optimization software", ACM Trans. Math. Software 7(1):17-41, 1981.
"""
import numpy as np
from numba import njit

_jit = njit(cache=True, error_model="numpy")

TWO_PI = 2.0 * np.pi


# (2) Freudenstein and Roth, m = n = 2.  Global minimum F = sum f**2 = 0 at
# (5, 4); local minimum F = 48.9842... at (11.4128..., -0.896805...).
@_jit
def freudenstein_roth_fun(x):
    f = np.empty(2, dtype=x.dtype)
    x1, x2 = x[0], x[1]
    f[0] = -13.0 + x1 + ((5.0 - x2) * x2 - 2.0) * x2
    f[1] = -29.0 + x1 + ((x2 + 1.0) * x2 - 14.0) * x2
    return f


@_jit
def freudenstein_roth_jac(x):
    J = np.empty((2, 2), dtype=x.dtype)
    x2 = x[1]
    J[0, 0] = 1.0
    J[0, 1] = (10.0 - 3.0 * x2) * x2 - 2.0
    J[1, 0] = 1.0
    J[1, 1] = (3.0 * x2 + 2.0) * x2 - 14.0
    return J


# (3) Powell badly scaled, m = n = 2
@_jit
def powell_badly_scaled_fun(x):
    f = np.empty(2, dtype=x.dtype)
    f[0] = 1e4 * x[0] * x[1] - 1.0
    f[1] = np.exp(-x[0]) + np.exp(-x[1]) - 1.0001
    return f


@_jit
def powell_badly_scaled_jac(x):
    J = np.empty((2, 2), dtype=x.dtype)
    J[0, 0] = 1e4 * x[1]
    J[0, 1] = 1e4 * x[0]
    J[1, 0] = -np.exp(-x[0])
    J[1, 1] = -np.exp(-x[1])
    return J


# (4) Brown badly scaled, n = 2, m = 3
@_jit
def brown_badly_scaled_fun(x):
    f = np.empty(3, dtype=x.dtype)
    f[0] = x[0] - 1e6
    f[1] = x[1] - 2e-6
    f[2] = x[0] * x[1] - 2.0
    return f


@_jit
def brown_badly_scaled_jac(x):
    J = np.zeros((3, 2), dtype=x.dtype)
    J[0, 0] = 1.0
    J[1, 1] = 1.0
    J[2, 0] = x[1]
    J[2, 1] = x[0]
    return J


# (5) Beale, n = 2, m = 3; args = (y,) with y = (1.5, 2.25, 2.625)
@_jit
def beale_fun(x, y):
    m = y.shape[0]
    f = np.empty(m, dtype=x.dtype)
    p = 1.0 + 0.0 * x[1]
    for i in range(m):
        p = p * x[1]                       # x2**(i+1)
        f[i] = y[i] - x[0] * (1.0 - p)
    return f


@_jit
def beale_jac(x, y):
    m = y.shape[0]
    J = np.empty((m, 2), dtype=x.dtype)
    p = 1.0 + 0.0 * x[1]                   # x2**i
    for i in range(m):
        J[i, 0] = p * x[1] - 1.0
        J[i, 1] = (i + 1.0) * x[0] * p
        p = p * x[1]
    return J


# (6) Jennrich and Sampson, n = 2; args = (i,) with i = 1..m
@_jit
def jennrich_sampson_fun(x, idx):
    m = idx.shape[0]
    f = np.empty(m, dtype=x.dtype)
    for k in range(m):
        i = idx[k]
        f[k] = 2.0 + 2.0 * i - (np.exp(i * x[0]) + np.exp(i * x[1]))
    return f


@_jit
def jennrich_sampson_jac(x, idx):
    m = idx.shape[0]
    J = np.empty((m, 2), dtype=x.dtype)
    for k in range(m):
        i = idx[k]
        J[k, 0] = -i * np.exp(i * x[0])
        J[k, 1] = -i * np.exp(i * x[1])
    return J


# (7) Helical valley, m = n = 3
@_jit
def helical_valley_fun(x):
    f = np.empty(3, dtype=x.dtype)
    x1, x2, x3 = x[0], x[1], x[2]
    theta = np.arctan(x2 / x1) / TWO_PI
    if x1.real < 0.0:
        theta = theta + 0.5
    f[0] = 10.0 * (x3 - 10.0 * theta)
    f[1] = 10.0 * (np.sqrt(x1 * x1 + x2 * x2) - 1.0)
    f[2] = x3
    return f


@_jit
def helical_valley_jac(x):
    J = np.zeros((3, 3), dtype=x.dtype)
    x1, x2 = x[0], x[1]
    r2 = x1 * x1 + x2 * x2
    r = np.sqrt(r2)
    # d theta / d x1 = -x2 / (2 pi r^2), d theta / d x2 = x1 / (2 pi r^2)
    J[0, 0] = 100.0 * x2 / (TWO_PI * r2)
    J[0, 1] = -100.0 * x1 / (TWO_PI * r2)
    J[0, 2] = 10.0
    J[1, 0] = 10.0 * x1 / r
    J[1, 1] = 10.0 * x2 / r
    J[2, 2] = 1.0
    return J


# (8) Bard, n = 3, m = 15; args = (y,); u_i = i, v_i = 16 - i, w_i = min(u_i, v_i)
@_jit
def bard_fun(x, y):
    m = y.shape[0]
    f = np.empty(m, dtype=x.dtype)
    for k in range(m):
        u = k + 1.0
        v = 16.0 - u
        w = min(u, v)
        f[k] = y[k] - (x[0] + u / (v * x[1] + w * x[2]))
    return f


@_jit
def bard_jac(x, y):
    m = y.shape[0]
    J = np.empty((m, 3), dtype=x.dtype)
    for k in range(m):
        u = k + 1.0
        v = 16.0 - u
        w = min(u, v)
        d = v * x[1] + w * x[2]
        q = u / (d * d)
        J[k, 0] = -1.0
        J[k, 1] = q * v
        J[k, 2] = q * w
    return J


# (9) Gaussian, n = 3, m = 15; args = (t, y), t_i = (8 - i) / 2
@_jit
def gaussian_fun(x, t, y):
    m = t.shape[0]
    f = np.empty(m, dtype=x.dtype)
    for i in range(m):
        d = t[i] - x[2]
        f[i] = x[0] * np.exp(-0.5 * x[1] * d * d) - y[i]
    return f


@_jit
def gaussian_jac(x, t, y):
    m = t.shape[0]
    J = np.empty((m, 3), dtype=x.dtype)
    for i in range(m):
        d = t[i] - x[2]
        e = np.exp(-0.5 * x[1] * d * d)
        J[i, 0] = e
        J[i, 1] = -0.5 * x[0] * e * d * d
        J[i, 2] = x[0] * e * x[1] * d
    return J


# (11) Gulf research and development, n = 3; args = (t, y),
# t_i = i/100, y_i = 25 + (-50 log t_i)**(2/3)
@_jit
def gulf_fun(x, t, y):
    m = t.shape[0]
    f = np.empty(m, dtype=x.dtype)
    for i in range(m):
        d = y[i] - x[1]
        if d.real < 0.0:
            d = -d
        if d.real == 0.0:
            p = 0.0 * d
        else:
            p = np.exp(x[2] * np.log(d))        # |y_i - x2|**x3
        f[i] = np.exp(-p / x[0]) - t[i]
    return f


@_jit
def gulf_jac(x, t, y):
    m = t.shape[0]
    J = np.zeros((m, 3), dtype=x.dtype)
    for i in range(m):
        d = y[i] - x[1]
        s = 1.0
        if d.real < 0.0:
            d = -d
            s = -1.0
        if d.real == 0.0:
            continue        # derivative 0 for x3 > 1; f = 1 - t_i there
        ld = np.log(d)
        p = np.exp(x[2] * ld)
        e = np.exp(-p / x[0])
        J[i, 0] = e * p / (x[0] * x[0])
        J[i, 1] = e * s * x[2] * p / (d * x[0])
        J[i, 2] = -e * p * ld / x[0]
    return J


# (12) Box three-dimensional, n = 3; args = (t,), t_i = i/10
@_jit
def box3d_fun(x, t):
    m = t.shape[0]
    f = np.empty(m, dtype=x.dtype)
    for i in range(m):
        ti = t[i]
        f[i] = (np.exp(-ti * x[0]) - np.exp(-ti * x[1])
                - x[2] * (np.exp(-ti) - np.exp(-10.0 * ti)))
    return f


@_jit
def box3d_jac(x, t):
    m = t.shape[0]
    J = np.empty((m, 3), dtype=x.dtype)
    for i in range(m):
        ti = t[i]
        J[i, 0] = -ti * np.exp(-ti * x[0])
        J[i, 1] = ti * np.exp(-ti * x[1])
        J[i, 2] = -(np.exp(-ti) - np.exp(-10.0 * ti))
    return J


# (14) Wood, n = 4, m = 6
@_jit
def wood_fun(x):
    f = np.empty(6, dtype=x.dtype)
    f[0] = 10.0 * (x[1] - x[0] * x[0])
    f[1] = 1.0 - x[0]
    f[2] = np.sqrt(90.0) * (x[3] - x[2] * x[2])
    f[3] = 1.0 - x[2]
    f[4] = np.sqrt(10.0) * (x[1] + x[3] - 2.0)
    f[5] = (x[1] - x[3]) / np.sqrt(10.0)
    return f


@_jit
def wood_jac(x):
    J = np.zeros((6, 4), dtype=x.dtype)
    J[0, 0] = -20.0 * x[0]
    J[0, 1] = 10.0
    J[1, 0] = -1.0
    J[2, 2] = -2.0 * np.sqrt(90.0) * x[2]
    J[2, 3] = np.sqrt(90.0)
    J[3, 2] = -1.0
    J[4, 1] = np.sqrt(10.0)
    J[4, 3] = np.sqrt(10.0)
    J[5, 1] = 1.0 / np.sqrt(10.0)
    J[5, 3] = -1.0 / np.sqrt(10.0)
    return J


# (16) Brown and Dennis, n = 4; args = (t,), t_i = i/5
@_jit
def brown_dennis_fun(x, t):
    m = t.shape[0]
    f = np.empty(m, dtype=x.dtype)
    for i in range(m):
        ti = t[i]
        a = x[0] + ti * x[1] - np.exp(ti)
        b = x[2] + x[3] * np.sin(ti) - np.cos(ti)
        f[i] = a * a + b * b
    return f


@_jit
def brown_dennis_jac(x, t):
    m = t.shape[0]
    J = np.empty((m, 4), dtype=x.dtype)
    for i in range(m):
        ti = t[i]
        s = np.sin(ti)
        a = x[0] + ti * x[1] - np.exp(ti)
        b = x[2] + x[3] * s - np.cos(ti)
        J[i, 0] = 2.0 * a
        J[i, 1] = 2.0 * a * ti
        J[i, 2] = 2.0 * b
        J[i, 3] = 2.0 * b * s
    return J


# (18) Biggs EXP6, n = 6; args = (t, y), t_i = i/10,
# y_i = exp(-t_i) - 5 exp(-10 t_i) + 3 exp(-4 t_i)
@_jit
def biggs_exp6_fun(x, t, y):
    m = t.shape[0]
    f = np.empty(m, dtype=x.dtype)
    for i in range(m):
        ti = t[i]
        f[i] = (x[2] * np.exp(-ti * x[0]) - x[3] * np.exp(-ti * x[1])
                + x[5] * np.exp(-ti * x[4]) - y[i])
    return f


@_jit
def biggs_exp6_jac(x, t, y):
    m = t.shape[0]
    J = np.empty((m, 6), dtype=x.dtype)
    for i in range(m):
        ti = t[i]
        e1 = np.exp(-ti * x[0])
        e2 = np.exp(-ti * x[1])
        e5 = np.exp(-ti * x[4])
        J[i, 0] = -ti * x[2] * e1
        J[i, 1] = ti * x[3] * e2
        J[i, 2] = e1
        J[i, 3] = -e2
        J[i, 4] = -ti * x[5] * e5
        J[i, 5] = e5
    return J


# (19) Osborne 2, n = 11, m = 65; args = (t, y), t_i = (i - 1)/10
@_jit
def osborne2_fun(x, t, y):
    m = t.shape[0]
    f = np.empty(m, dtype=x.dtype)
    for i in range(m):
        ti = t[i]
        d9 = ti - x[8]
        d10 = ti - x[9]
        d11 = ti - x[10]
        f[i] = y[i] - (x[0] * np.exp(-ti * x[4])
                       + x[1] * np.exp(-d9 * d9 * x[5])
                       + x[2] * np.exp(-d10 * d10 * x[6])
                       + x[3] * np.exp(-d11 * d11 * x[7]))
    return f


@_jit
def osborne2_jac(x, t, y):
    m = t.shape[0]
    J = np.empty((m, 11), dtype=x.dtype)
    for i in range(m):
        ti = t[i]
        e = np.exp(-ti * x[4])
        J[i, 0] = -e
        J[i, 4] = ti * x[0] * e
        for k in range(1, 4):
            # amplitude x[k], width x[k+4], centre x[k+7]
            d = ti - x[k + 7]
            g = np.exp(-d * d * x[k + 4])
            J[i, k] = -g
            J[i, k + 4] = x[k] * d * d * g
            J[i, k + 7] = -2.0 * x[k] * x[k + 4] * d * g
    return J
