"""Drivers: answer the kernel's requests by calling the user's functions.

The kernel (:mod:`lsqcore._kernel`) holds the whole algorithm; a driver is
the short loop that calls ``advance`` and, for each request, evaluates the
residual, the Jacobian or the loss and writes the result into the
workspace.  Two drivers serve single problems:

* :func:`run_python`: plain Python, for any callable.  Only the user's
  function runs in the interpreter; every answer is checked for shape.
* :func:`run_compiled`: the same loop compiled with Numba, for jitted
  ``fun`` / ``jac`` / ``loss``.  It is specialised per model (Numba cannot
  cache a function that takes another jitted function as an argument) but
  is small, so a new model costs a fraction of a second while the heavy,
  cached kernel is reused.

Error codes returned by the compiled driver (negative, never a status):
``ERR_F_SHAPE``, ``ERR_J_SHAPE``, ``ERR_LOSS_SHAPE``.
"""
import numpy as np
from numba import njit

from . import _layout as L
from ._layout import vec, mat
from ._kernel import advance
from ._jacobian import complex_step_jacobian

ERR_F_SHAPE = -101
ERR_J_SHAPE = -102
ERR_LOSS_SHAPE = -103


class Views:
    """Numpy views of the workspace arrays a driver reads or writes."""

    def __init__(self, W, S):
        m, n = int(S[L.M]), int(S[L.N])
        self.m, self.n = m, n
        self.x = vec(W, S, L.O_X, n)
        self.x_new = vec(W, S, L.O_XNEW, n)
        self.f = vec(W, S, L.O_F, m)
        self.f_new = vec(W, S, L.O_FNEW, m)
        self.f_s = vec(W, S, L.O_FS, m)
        self.J = mat(W, S, L.O_J, m, n)
        self.FQ = mat(W, S, L.O_B, n, m)
        self.XQ = mat(W, S, L.O_XQ, n, n)
        self.h = vec(W, S, L.O_H, n)
        self.g = vec(W, S, L.O_G, n)
        self.z = vec(W, S, L.O_Z, m)
        if W.shape[0] >= S[L.O_RHONEW] + 3 * m and S[L.O_RHONEW] != S[L.O_J]:
            self.rho_new = mat(W, S, L.O_RHONEW, 3, m)
        else:
            self.rho_new = None


def _checked_f(fun, x, m, args, kwargs):
    f = np.atleast_1d(fun(x.copy(), *args, **kwargs))
    if f.shape != (m,):
        raise ValueError(f"`fun` must return an array of shape ({m},) at every point "
                         f"(as at `x0`), got shape {f.shape} at x = {x!r}.")
    return f


def run_python(fun, jac, loss, W, S, args, kwargs, on_iteration=None):
    """Drive the kernel with Python callables until it is done.

    Parameters
    ----------
    fun, jac, loss : callable or None
        Residual ``fun(x, *args, **kwargs)``; Jacobian ``jac(x, *args,
        **kwargs)`` (or None for finite differences); loss ``loss(z)``
        returning ``rho`` of shape (3, m) (or None for a built-in loss).
    W, S : ndarray
        The workspace, already set up.
    on_iteration : callable, optional
        Called after each iteration with no argument; returning True stops
        the solve (the caller sets the status).

    Returns
    -------
    stopped : bool
        True if ``on_iteration`` asked to stop.
    """
    v = Views(W, S)
    m, n = v.m, v.n
    while True:
        req = advance(W, S)
        if req == L.REQ_F:
            v.f_new[:] = _checked_f(fun, v.x_new, m, args, kwargs)
        elif req == L.REQ_FD:
            for i in range(S[L.REQ_K]):
                v.FQ[i] = _checked_f(fun, v.XQ[i], m, args, kwargs)
        elif req == L.REQ_J:
            J = np.asarray(jac(v.x.copy(), *args, **kwargs))
            if J.shape != (m, n):
                raise ValueError(f"`jac` must return an array of shape {(m, n)}, "
                                 f"got {J.shape}.")
            v.J[:] = J
        elif req == L.REQ_JCS:
            complex_step_jacobian(_ComplexFun(fun, m, kwargs), v.x, v.h, v.J, args)
        elif req == L.REQ_LOSS:
            rho = np.asarray(loss(v.z.copy()), dtype=float)
            if rho.shape != (3, m):
                raise ValueError(f"`loss` must return an array of shape (3, {m}), "
                                 f"got {rho.shape}.")
            v.rho_new[:] = rho
        elif req == L.REQ_ITER:
            if on_iteration is not None and on_iteration():
                return True
        else:
            return False


class _ComplexFun:
    """``fun`` with kwargs bound and its complex output checked."""

    def __init__(self, fun, m, kwargs):
        self.fun, self.m, self.kwargs = fun, m, kwargs

    def __call__(self, x, *args):
        f = np.atleast_1d(self.fun(x, *args, **self.kwargs))
        if f.shape != (self.m,):
            raise ValueError(f"`fun` must return an array of shape ({self.m},), "
                             f"got {f.shape} for complex-step input.")
        if not np.iscomplexobj(f):
            raise ValueError("jac='cs' needs `fun` to propagate complex input, "
                             "but it returned a real array.")
        return f


_cs_compiled = njit(error_model="numpy")(complex_step_jacobian)


@njit(error_model="numpy")
def run_compiled(fun, jac, loss, W, S, args):
    """The compiled twin of :func:`run_python` (``jac``/``loss`` may be None).

    Returns 0 when the kernel is done, or an ``ERR_*`` code.
    """
    m = S[L.M]
    n = S[L.N]
    x = vec(W, S, L.O_X, n)
    x_new = vec(W, S, L.O_XNEW, n)
    f_new = vec(W, S, L.O_FNEW, m)
    FQ = mat(W, S, L.O_B, n, m)
    XQ = mat(W, S, L.O_XQ, n, n)
    J = mat(W, S, L.O_J, m, n)
    while True:
        req = advance(W, S)
        if req == L.REQ_F:
            fv = fun(x_new, *args)
            if fv.shape[0] != m:
                return ERR_F_SHAPE
            for i in range(m):
                f_new[i] = fv[i]
        elif req == L.REQ_FD:
            for k in range(S[L.REQ_K]):
                fv = fun(XQ[k], *args)
                if fv.shape[0] != m:
                    return ERR_F_SHAPE
                for i in range(m):
                    FQ[k, i] = fv[i]
        elif req == L.REQ_J:
            if jac is not None:
                Jv = jac(x, *args)
                if Jv.shape[0] != m or Jv.shape[1] != n:
                    return ERR_J_SHAPE
                for i in range(m):
                    for j in range(n):
                        J[i, j] = Jv[i, j]
        elif req == L.REQ_JCS:
            _cs_compiled(fun, x, vec(W, S, L.O_H, n), J, args)
        elif req == L.REQ_LOSS:
            if loss is not None:
                rho = loss(vec(W, S, L.O_Z, m))
                if rho.shape[0] != 3 or rho.shape[1] != m:
                    return ERR_LOSS_SHAPE
                rn = mat(W, S, L.O_RHONEW, 3, m)
                for r in range(3):
                    for i in range(m):
                        rn[r, i] = rho[r, i]
        elif req == L.REQ_ITER:
            pass
        else:
            return 0
