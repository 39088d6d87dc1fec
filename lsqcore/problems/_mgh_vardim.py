"""Numba residuals/Jacobians of the variable-dimension MGH problems.

Problems 20-35 of More, Garbow & Hillstrom (1981), plus Rosenbrock (1) and
Powell singular (13), which are the extended Rosenbrock (21) and extended
Powell singular (22) functions at n = 2 and n = 4.  The dimension ``n`` is
``len(x)``; where ``m`` is free (Watson, linear functions) it is set by the
length of an array in ``args``.  All functions are ``numba.njit(cache=True,
error_model="numpy")`` without explicit signature and return arrays of the
dtype of ``x`` (complex128 works, for complex-step differentiation).

References
----------
J. J. More, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
optimization software", ACM Trans. Math. Software 7(1):17-41, 1981.
"""
import numpy as np
from numba import njit

_jit = njit(cache=True, error_model="numpy")

SQRT5 = np.sqrt(5.0)
SQRT10 = np.sqrt(10.0)


# (20) Watson, 2 <= n <= 31, m = 31; args = (t,), t_i = i/29, i = 1..29
@_jit
def watson_fun(x, t):
    n = x.shape[0]
    mt = t.shape[0]
    f = np.empty(mt + 2, dtype=x.dtype)
    for i in range(mt):
        ti = t[i]
        s1 = 0.0 * x[0]
        dx = 1.0
        for j in range(1, n):
            s1 += j * x[j] * dx
            dx *= ti
        s2 = 0.0 * x[0]
        dx = 1.0
        for j in range(n):
            s2 += x[j] * dx
            dx *= ti
        f[i] = s1 - s2 * s2 - 1.0
    f[mt] = x[0]
    f[mt + 1] = x[1] - x[0] * x[0] - 1.0
    return f


@_jit
def watson_jac(x, t):
    n = x.shape[0]
    mt = t.shape[0]
    J = np.zeros((mt + 2, n), dtype=x.dtype)
    for i in range(mt):
        ti = t[i]
        s2 = 0.0 * x[0]
        dx = 1.0
        for j in range(n):
            s2 += x[j] * dx
            dx *= ti
        # d f_i / d x_j = j t**(j-1) - 2 s2 t**j   (0-based j)
        tprev = 0.0
        tp = 1.0
        for j in range(n):
            J[i, j] = j * tprev - 2.0 * s2 * tp
            tprev = tp
            tp *= ti
    J[mt, 0] = 1.0
    J[mt + 1, 0] = -2.0 * x[0]
    J[mt + 1, 1] = 1.0
    return J


# (21) extended Rosenbrock, n even, m = n  (n = 2: Rosenbrock (1))
@_jit
def ext_rosenbrock_fun(x):
    n = x.shape[0]
    f = np.empty(n, dtype=x.dtype)
    for k in range(0, n, 2):
        f[k] = 10.0 * (x[k + 1] - x[k] * x[k])
        f[k + 1] = 1.0 - x[k]
    return f


@_jit
def ext_rosenbrock_jac(x):
    n = x.shape[0]
    J = np.zeros((n, n), dtype=x.dtype)
    for k in range(0, n, 2):
        J[k, k] = -20.0 * x[k]
        J[k, k + 1] = 10.0
        J[k + 1, k] = -1.0
    return J


# (22) extended Powell singular, n multiple of 4, m = n  (n = 4: (13))
@_jit
def ext_powell_singular_fun(x):
    n = x.shape[0]
    f = np.empty(n, dtype=x.dtype)
    for k in range(0, n, 4):
        a = x[k + 1] - 2.0 * x[k + 2]
        b = x[k] - x[k + 3]
        f[k] = x[k] + 10.0 * x[k + 1]
        f[k + 1] = SQRT5 * (x[k + 2] - x[k + 3])
        f[k + 2] = a * a
        f[k + 3] = SQRT10 * b * b
    return f


@_jit
def ext_powell_singular_jac(x):
    n = x.shape[0]
    J = np.zeros((n, n), dtype=x.dtype)
    for k in range(0, n, 4):
        a = x[k + 1] - 2.0 * x[k + 2]
        b = x[k] - x[k + 3]
        J[k, k] = 1.0
        J[k, k + 1] = 10.0
        J[k + 1, k + 2] = SQRT5
        J[k + 1, k + 3] = -SQRT5
        J[k + 2, k + 1] = 2.0 * a
        J[k + 2, k + 2] = -4.0 * a
        J[k + 3, k] = 2.0 * SQRT10 * b
        J[k + 3, k + 3] = -2.0 * SQRT10 * b
    return J


# (23) Penalty I, m = n + 1, a = 1e-5
@_jit
def penalty1_fun(x):
    n = x.shape[0]
    f = np.empty(n + 1, dtype=x.dtype)
    sa = np.sqrt(1e-5)
    s = 0.0 * x[0]
    for j in range(n):
        f[j] = sa * (x[j] - 1.0)
        s += x[j] * x[j]
    f[n] = s - 0.25
    return f


@_jit
def penalty1_jac(x):
    n = x.shape[0]
    J = np.zeros((n + 1, n), dtype=x.dtype)
    sa = np.sqrt(1e-5)
    for j in range(n):
        J[j, j] = sa
        J[n, j] = 2.0 * x[j]
    return J


# (24) Penalty II, m = 2n, a = 1e-5
@_jit
def penalty2_fun(x):
    n = x.shape[0]
    f = np.empty(2 * n, dtype=x.dtype)
    sa = np.sqrt(1e-5)
    em = np.exp(-0.1)
    f[0] = x[0] - 0.2
    for i in range(1, n):          # paper's i = 2..n
        yi = np.exp((i + 1) / 10.0) + np.exp(i / 10.0)
        f[i] = sa * (np.exp(x[i] / 10.0) + np.exp(x[i - 1] / 10.0) - yi)
    for i in range(n, 2 * n - 1):  # paper's i = n+1..2n-1: x_{i-n+1}
        f[i] = sa * (np.exp(x[i - n + 1] / 10.0) - em)
    s = 0.0 * x[0]
    for j in range(n):
        s += (n - j) * x[j] * x[j]
    f[2 * n - 1] = s - 1.0
    return f


@_jit
def penalty2_jac(x):
    n = x.shape[0]
    J = np.zeros((2 * n, n), dtype=x.dtype)
    sa = np.sqrt(1e-5)
    J[0, 0] = 1.0
    for i in range(1, n):
        J[i, i] = 0.1 * sa * np.exp(x[i] / 10.0)
        J[i, i - 1] = 0.1 * sa * np.exp(x[i - 1] / 10.0)
    for i in range(n, 2 * n - 1):
        J[i, i - n + 1] = 0.1 * sa * np.exp(x[i - n + 1] / 10.0)
    for j in range(n):
        J[2 * n - 1, j] = 2.0 * (n - j) * x[j]
    return J


# (25) Variably dimensioned, m = n + 2
@_jit
def variably_dimensioned_fun(x):
    n = x.shape[0]
    f = np.empty(n + 2, dtype=x.dtype)
    s = 0.0 * x[0]
    for j in range(n):
        f[j] = x[j] - 1.0
        s += (j + 1.0) * (x[j] - 1.0)
    f[n] = s
    f[n + 1] = s * s
    return f


@_jit
def variably_dimensioned_jac(x):
    n = x.shape[0]
    J = np.zeros((n + 2, n), dtype=x.dtype)
    s = 0.0 * x[0]
    for j in range(n):
        s += (j + 1.0) * (x[j] - 1.0)
    for j in range(n):
        J[j, j] = 1.0
        J[n, j] = j + 1.0
        J[n + 1, j] = 2.0 * s * (j + 1.0)
    return J


# (26) Trigonometric, m = n
@_jit
def trigonometric_fun(x):
    n = x.shape[0]
    f = np.empty(n, dtype=x.dtype)
    sc = 0.0 * x[0]
    for j in range(n):
        sc += np.cos(x[j])
    for i in range(n):
        f[i] = n - sc + (i + 1.0) * (1.0 - np.cos(x[i])) - np.sin(x[i])
    return f


@_jit
def trigonometric_jac(x):
    n = x.shape[0]
    J = np.empty((n, n), dtype=x.dtype)
    for i in range(n):
        for j in range(n):
            J[i, j] = np.sin(x[j])
        J[i, i] += (i + 1.0) * np.sin(x[i]) - np.cos(x[i])
    return J


# (27) Brown almost-linear, m = n
@_jit
def brown_almost_linear_fun(x):
    n = x.shape[0]
    f = np.empty(n, dtype=x.dtype)
    s = 0.0 * x[0]
    p = 1.0 + 0.0 * x[0]
    for j in range(n):
        s += x[j]
        p *= x[j]
    for i in range(n - 1):
        f[i] = x[i] + s - (n + 1.0)
    f[n - 1] = p - 1.0
    return f


@_jit
def brown_almost_linear_jac(x):
    n = x.shape[0]
    J = np.ones((n, n), dtype=x.dtype)
    for i in range(n - 1):
        J[i, i] = 2.0
    # d prod / d x_j = prod_{k != j} x_k, via prefix products (no division)
    p = 1.0 + 0.0 * x[0]
    for j in range(n):
        J[n - 1, j] = p
        p *= x[j]
    p = 1.0 + 0.0 * x[0]
    for j in range(n - 1, -1, -1):
        J[n - 1, j] *= p
        p *= x[j]
    return J


# (28) Discrete boundary value, m = n, h = 1/(n+1), t_i = i h, x_0 = x_{n+1} = 0
@_jit
def discrete_boundary_value_fun(x):
    n = x.shape[0]
    h = 1.0 / (n + 1.0)
    f = np.empty(n, dtype=x.dtype)
    for i in range(n):
        ti = (i + 1.0) * h
        u = x[i] + ti + 1.0
        f[i] = 2.0 * x[i] + 0.5 * h * h * u * u * u
        if i > 0:
            f[i] -= x[i - 1]
        if i < n - 1:
            f[i] -= x[i + 1]
    return f


@_jit
def discrete_boundary_value_jac(x):
    n = x.shape[0]
    h = 1.0 / (n + 1.0)
    J = np.zeros((n, n), dtype=x.dtype)
    for i in range(n):
        ti = (i + 1.0) * h
        u = x[i] + ti + 1.0
        J[i, i] = 2.0 + 1.5 * h * h * u * u
        if i > 0:
            J[i, i - 1] = -1.0
        if i < n - 1:
            J[i, i + 1] = -1.0
    return J


# (29) Discrete integral equation, m = n
@_jit
def discrete_integral_equation_fun(x):
    n = x.shape[0]
    h = 1.0 / (n + 1.0)
    f = np.empty(n, dtype=x.dtype)
    for i in range(n):
        ti = (i + 1.0) * h
        s1 = 0.0 * x[0]
        s2 = 0.0 * x[0]
        for j in range(n):
            tj = (j + 1.0) * h
            u = x[j] + tj + 1.0
            if j <= i:
                s1 += tj * u * u * u
            else:
                s2 += (1.0 - tj) * u * u * u
        f[i] = x[i] + 0.5 * h * ((1.0 - ti) * s1 + ti * s2)
    return f


@_jit
def discrete_integral_equation_jac(x):
    n = x.shape[0]
    h = 1.0 / (n + 1.0)
    J = np.empty((n, n), dtype=x.dtype)
    for i in range(n):
        ti = (i + 1.0) * h
        for j in range(n):
            tj = (j + 1.0) * h
            u = x[j] + tj + 1.0
            if j <= i:
                J[i, j] = 1.5 * h * (1.0 - ti) * tj * u * u
            else:
                J[i, j] = 1.5 * h * ti * (1.0 - tj) * u * u
        J[i, i] += 1.0
    return J


# (30) Broyden tridiagonal, m = n, x_0 = x_{n+1} = 0
@_jit
def broyden_tridiagonal_fun(x):
    n = x.shape[0]
    f = np.empty(n, dtype=x.dtype)
    for i in range(n):
        f[i] = (3.0 - 2.0 * x[i]) * x[i] + 1.0
        if i > 0:
            f[i] -= x[i - 1]
        if i < n - 1:
            f[i] -= 2.0 * x[i + 1]
    return f


@_jit
def broyden_tridiagonal_jac(x):
    n = x.shape[0]
    J = np.zeros((n, n), dtype=x.dtype)
    for i in range(n):
        J[i, i] = 3.0 - 4.0 * x[i]
        if i > 0:
            J[i, i - 1] = -1.0
        if i < n - 1:
            J[i, i + 1] = -2.0
    return J


# (31) Broyden banded, m = n, m_l = 5, m_u = 1
@_jit
def broyden_banded_fun(x):
    n = x.shape[0]
    f = np.empty(n, dtype=x.dtype)
    for i in range(n):
        f[i] = x[i] * (2.0 + 5.0 * x[i] * x[i]) + 1.0
        for j in range(max(0, i - 5), min(n, i + 2)):
            if j != i:
                f[i] -= x[j] * (1.0 + x[j])
    return f


@_jit
def broyden_banded_jac(x):
    n = x.shape[0]
    J = np.zeros((n, n), dtype=x.dtype)
    for i in range(n):
        for j in range(max(0, i - 5), min(n, i + 2)):
            if j != i:
                J[i, j] = -(1.0 + 2.0 * x[j])
        J[i, i] = 2.0 + 15.0 * x[i] * x[i]
    return J


# (32) Linear function - full rank, m >= n; args = (i,) with i = 1..m
@_jit
def linear_full_rank_fun(x, idx):
    n = x.shape[0]
    m = idx.shape[0]
    f = np.empty(m, dtype=x.dtype)
    s = 0.0 * x[0]
    for j in range(n):
        s += x[j]
    c = 2.0 / m
    for i in range(m):
        f[i] = -c * s - 1.0
        if i < n:
            f[i] += x[i]
    return f


@_jit
def linear_full_rank_jac(x, idx):
    n = x.shape[0]
    m = idx.shape[0]
    J = np.empty((m, n), dtype=x.dtype)
    J[:, :] = -2.0 / m
    for i in range(n):
        J[i, i] += 1.0
    return J


# (33) Linear function - rank 1, m >= n; args = (i,) with i = 1..m
@_jit
def linear_rank1_fun(x, idx):
    n = x.shape[0]
    m = idx.shape[0]
    f = np.empty(m, dtype=x.dtype)
    s = 0.0 * x[0]
    for j in range(n):
        s += (j + 1.0) * x[j]
    for i in range(m):
        f[i] = idx[i] * s - 1.0
    return f


@_jit
def linear_rank1_jac(x, idx):
    n = x.shape[0]
    m = idx.shape[0]
    J = np.empty((m, n), dtype=x.dtype)
    for i in range(m):
        for j in range(n):
            J[i, j] = idx[i] * (j + 1.0)
    return J


# (34) Linear function - rank 1 with zero columns and rows; args = (i,)
@_jit
def linear_rank1_zero_fun(x, idx):
    n = x.shape[0]
    m = idx.shape[0]
    f = np.empty(m, dtype=x.dtype)
    s = 0.0 * x[0]
    for j in range(1, n - 1):
        s += (j + 1.0) * x[j]
    for i in range(m):
        if i == 0 or i == m - 1:
            f[i] = -1.0 + 0.0 * s
        else:
            f[i] = (idx[i] - 1.0) * s - 1.0
    return f


@_jit
def linear_rank1_zero_jac(x, idx):
    n = x.shape[0]
    m = idx.shape[0]
    J = np.zeros((m, n), dtype=x.dtype)
    for i in range(1, m - 1):
        for j in range(1, n - 1):
            J[i, j] = (idx[i] - 1.0) * (j + 1.0)
    return J


# (35) Chebyquad, m >= n (here m = n); shifted Chebyshev T_i(2x - 1) on [0, 1]
@_jit
def chebyquad_fun(x):
    n = x.shape[0]
    m = n
    f = np.zeros(m, dtype=x.dtype)
    for j in range(n):
        y = 2.0 * x[j] - 1.0
        tm1 = 1.0 + 0.0 * y        # T_0
        t = y                      # T_1
        for i in range(m):
            f[i] += t
            tn = 2.0 * y * t - tm1
            tm1 = t
            t = tn
    for i in range(m):
        f[i] /= n
        k = i + 1
        if k % 2 == 0:
            f[i] += 1.0 / (k * k - 1.0)
    return f


@_jit
def chebyquad_jac(x):
    n = x.shape[0]
    m = n
    J = np.empty((m, n), dtype=x.dtype)
    for j in range(n):
        y = 2.0 * x[j] - 1.0
        tm1 = 1.0 + 0.0 * y        # T_{k-1}
        t = y                      # T_k
        dm1 = 0.0 * y              # T'_{k-1}
        d = 1.0 + 0.0 * y          # T'_k
        for i in range(m):
            J[i, j] = 2.0 * d / n
            tn = 2.0 * y * t - tm1
            dn = 2.0 * t + 2.0 * y * d - dm1
            tm1 = t
            t = tn
            dm1 = d
            d = dn
    return J
