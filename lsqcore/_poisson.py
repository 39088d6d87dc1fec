"""Poisson maximum likelihood as a least-squares problem (``estimator='poisson'``).

For counts ``y_i ~ Poisson(f_i(p))`` the negative log-likelihood is, up to a
constant, half the Poisson deviance

    D(p) = sum_i d_i,   d_i = 2 (f_i - y_i - y_i ln(f_i / y_i))   (2 f_i if y_i = 0),

each ``d_i >= 0`` with equality at ``f_i = y_i``.  Writing ``d_i = r_i^2``
with the *deviance residual* ``r_i = sign(f_i - y_i) sqrt(d_i)`` makes the
maximum-likelihood estimate the minimiser of ``sum r_i^2``: every solver of
the library (Levenberg-Marquardt in particular, as Laurence and Chromy,
Nature Methods 7, 338-339, 2010, fit photon counts) runs on it unchanged,
trust region, bounds and batch included.  Its Jacobian is
``dr_i/dp = (dr_i/df_i) df_i/dp`` with

    dr_i/df_i = (1 - y_i / f_i) / r_i = 1 / ((1 + u) sqrt(y_i h(u))),
    u = (f_i - y_i) / y_i,  h(u) = 2 (u - ln(1 + u)) / u^2,

(``1 / sqrt(2 f_i)`` when ``y_i = 0``).  The second form has no 0/0 at the
optimum's ``f_i = y_i`` (``h(0) = 1``); ``u - ln(1 + u)`` is taken from its
series for ``|u| < 1e-3`` (five terms, below 1e-16 relative), where the
difference would cancel, and as ``f/y - 1 - (ln f - ln y)`` for ``u <
-1/2``, where ``1 + u`` would round (to 0 for a model value below ``y
eps``).  The gradient ``J^T r = sum (1 - y_i / f_i)
df_i/dp`` is the score exactly, so the solver's stationary point is the
likelihood's.  A model value ``f_i <= 0`` where ``y_i > 0`` has no
likelihood: the residual is NaN and the solver rejects the step; a value
in ``[0, 1e-300)`` (an ``exp`` that underflowed) counts as 1e-300.

The covariance is the inverse Fisher information ``(J_f^T diag(1 / f)
J_f)^{-1}`` at the estimate (``J_f`` the model's Jacobian), the Cramer-Rao
bound, not rescaled by a fitted variance (the Poisson variance is known).
From the solver's Jacobian of the deviance residuals its rows are
``J_r,i / ((dr_i/df_i) sqrt(f_i))`` (:func:`fisher_rows`).
"""
import math

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def _u_minus_log1p(f, y):
    """``u - ln(1 + u)`` for ``u = (f - y) / y`` (``f, y > 0``)."""
    u = (f - y) / y
    if abs(u) < 1e-3:
        return u * u * (0.5 - u * (1.0 / 3.0 - u * (0.25 - u * (0.2 - u / 6.0))))
    if u < -0.5:
        # f far below y: 1 + u would round (to 0 for f < y eps)
        return f / y - 1.0 - (math.log(f) - math.log(y))
    return u - math.log1p(u)


#: model values in [0, TINY) count as TINY: an exp() that underflowed to 0
#: where counts were seen is a poor start, not an impossible one
TINY = 1e-300


@njit(cache=True, error_model="numpy")
def deviance_r(f, y):
    """The deviance residual of one count (module docstring)."""
    f = max(f, TINY) if f >= 0.0 else f
    if y == 0.0:
        return math.sqrt(2.0 * f) if f >= 0.0 else math.nan
    if not f > 0.0:
        return math.nan
    d = 2.0 * y * _u_minus_log1p(f, y)
    return math.copysign(math.sqrt(max(d, 0.0)), f - y)


@njit(cache=True, error_model="numpy")
def deviance_dr(f, y):
    """``dr/df`` of :func:`deviance_r` (module docstring)."""
    f = max(f, TINY) if f >= 0.0 else f
    if y == 0.0:
        return 1.0 / math.sqrt(2.0 * f) if f > 0.0 else math.nan
    if not f > 0.0:
        return math.nan
    u = (f - y) / y
    h = 2.0 * _u_minus_log1p(f, y) / (u * u) if u != 0.0 else 1.0
    return 1.0 / ((f / y) * math.sqrt(y * h))


@njit(cache=True, error_model="numpy")
def deviance_residual(v, y, k):
    """The deviance residuals of model values ``v`` and counts ``y`` (first
    ``k`` points; an empty array for ``k = 0``, a model of the wrong length)."""
    out = np.empty(k)
    for i in range(k):
        out[i] = deviance_r(v[i], y[i])
    return out


@njit(cache=True, error_model="numpy")
def deviance_jacobian(v, J, y, k):
    """The Jacobian of the deviance residuals from the model's ``J`` (first
    ``k`` rows)."""
    out = np.empty((k, J.shape[1]))
    for i in range(k):
        s = deviance_dr(v[i], y[i])
        for j in range(J.shape[1]):
            out[i, j] = s * J[i, j]
    return out


@njit(cache=True, error_model="numpy")
def fisher_rows(Jr, v, y):
    """The rows ``J_f,i / sqrt(f_i)`` of the Fisher information from the
    solver's Jacobian ``Jr`` of the deviance residuals, the model values ``v``
    and the counts ``y``: ``F = R^T R``."""
    out = np.empty(Jr.shape)
    for i in range(Jr.shape[0]):
        s = 1.0 / (deviance_dr(v[i], y[i]) * math.sqrt(v[i]))
        for j in range(Jr.shape[1]):
            out[i, j] = s * Jr[i, j]
    return out


def check_poisson(ydata, sigma, loss, jac):
    """The rules of ``estimator='poisson'`` on the data and the options, the
    same for every front end."""
    if jac == "cs":
        raise ValueError("estimator='poisson' does not take jac='cs' (the deviance "
                         "residual is not analytic in complex arguments).")
    if sigma is not None:
        raise ValueError("estimator='poisson' takes no `sigma`: the variance of a count "
                         "is its mean.")
    if loss not in (None, "linear"):
        raise ValueError(f"estimator='poisson' needs loss='linear', got {loss!r}.")
    y = np.asarray(ydata, dtype=float)
    bad = np.isfinite(y) & ((y < 0) | (y != np.floor(y)))
    if np.any(bad):
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError("estimator='poisson' needs counts: `ydata` must be non-negative "
                         f"integers, got {y.ravel()[i]!r} at flat index {i}.")


def check_estimator(estimator):
    if estimator not in ("ls", "poisson"):
        raise ValueError(f"`estimator` must be 'ls' (least squares) or 'poisson', "
                         f"got {estimator!r}.")
    return estimator == "poisson"


# ---------------------------------------------------------------- a batch's covariance

_FISHER_SRC = """def fisher(X, Y, P, mrow, ok, PC, A, V, s, small, code):
    n = P.shape[1]
    G = np.empty((0, 0))            # (no Gram matrix: the QR route)
    for k in range(P.shape[0]):
        if not ok[k]:
            continue
        mk = mrow[k] if mrow.shape[0] else Y.shape[1]
        x = X[k if X.shape[0] > 1 else 0, :mk]{T}
        q = P[k].copy()
        v = MODEL(x, {a})
{jac}
        for i in range(mk):
            w = 1.0 / math.sqrt(v[i])
            for j in range(n):
                J[i, j] *= w
        COV(J, 0.0, mk, n, True, code, A[:mk * n], V, s, PC[k], small, G)
"""
_JAC_EXACT = "        J = np.ascontiguousarray(JAC(x, {a}))\n"
# central differences of the model (steps eps^(1/3) max(1, |p_j|), as '3-point')
_JAC_CENTRAL = """        J = np.empty((mk, n))
        for j in range(n):
            h = 6.055454452393343e-06 * max(1.0, abs(P[k, j]))
            q[j] = P[k, j] + h
            vp = MODEL(x, {a})
            q[j] = P[k, j] - h
            vm = MODEL(x, {a})
            q[j] = P[k, j]
            for i in range(mk):
                J[i, j] = (vp[i] - vm[i]) / (2.0 * h)
"""


def fisher_covariance(model, jac, n, xt, X, Y, P, mrow, ok):
    """``(K, n, n)``: the inverse Fisher information of each fitted row
    (``ok``) of a Poisson batch, by the batch's covariance rule
    (:func:`lsqcore.batch._pcov.covariance`, ``absolute``) on the rows
    ``J_f,i / sqrt(f_i)`` of the model's Jacobian (``jac``, or central
    differences of ``model`` when None) at the row's estimate; NaN for the
    other rows.  ``X``, ``Y`` and ``mrow`` are the batch's own arrays (rows
    compacted by ``nan_policy='omit'``, ``mrow`` their lengths or empty;
    ``xt``: ``X`` rows are point-major (several predictors))."""
    from ._layout import JAC_CALLABLE, JAC_3POINT
    from ._wrapcache import cached_njit
    from .batch._pcov import covariance
    a = ", ".join(f"q[{j}]" for j in range(n))
    src = _FISHER_SRC.format(T=".T" if xt else "", a=a, jac=(
        _JAC_EXACT if jac is not None else _JAC_CENTRAL).format(a=a).rstrip("\n"))
    ns = {"np": np, "math": math, "MODEL": model, "COV": covariance}
    if jac is not None:
        ns["JAC"] = jac
    fn = cached_njit(src, ("fisher",), ns)[0]
    K, m = Y.shape
    PC = np.full((K, n, n), np.nan)
    fn(X, Y, P, np.asarray(mrow if mrow is not None else np.zeros(0, np.int64)),
       np.asarray(ok, dtype=np.bool_), PC, np.empty(m * n), np.empty((n, n)), np.empty(n),
       np.empty(3 * n), JAC_CALLABLE if jac is not None else JAC_3POINT)
    return PC
