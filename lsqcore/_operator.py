r"""A matrix-free Jacobian: ``jac`` returning a ``scipy.sparse.linalg.LinearOperator``.

The solver then knows ``J`` only through its products ``J v`` and ``J^T u``
(``tr_solver='lsmr'``, methods 'trf' and 'dogbox', as in scipy).  The kernel
runs compiled and reaches those products through one C function whose
address is in the workspace (``S[OPERATOR]``): a ``ctypes`` callback into
:meth:`OperatorJacobian._product`, which calls the operator the user's
``jac`` returned last.  Everything else stays in compiled code; the kernel
treats ``J`` as a sparse Jacobian with no stored entries (its compressed-
column operations answer for the operator, :mod:`lsqcore._csc_entry`).

A robust loss scales the rows of ``J`` by the weights ``w`` of the loss
(``J_s = diag(w) J``, :func:`lsqcore._loss.loss_weights`); the kernel hands
them over once per Jacobian (``WEIGHTS``) and the products apply them:
``J_s v = w * (J v)``, ``J_s^T u = J^T (w * u)``.

What an operator cannot give is answered conservatively: it has no
exactly-zero columns (none are counted), no ``|J| |x|`` (a rounding floor
of zero), and its column norms are not known (infinite, so that the
kernel's stationarity check of a tolerance stop, which divides by them,
lets the stop stand as scipy's does; ``x_scale='jac'`` is refused, as by
scipy).

An exception raised by the operator inside a product cannot cross the C
boundary: it is kept, the product is filled with NaN, and the driver
raises it as soon as the kernel returns (:meth:`OperatorJacobian.raise_pending`).
"""
import ctypes

import numpy as np
from numba.extending import overload

from . import _layout as L
from ._cabi import ccall, data_address

#: the products (``op`` of the callback): ``out = J_s diag(d) v``, ``out =
#: diag(d) J_s^T v`` (no ``d``: unit scaling) and ``WEIGHTS`` (``v`` holds the
#: loss's row weights for the current ``J``)
MV, RMV, WEIGHTS = 0, 1, 2

_PRODUCT = ctypes.CFUNCTYPE(ctypes.c_int64, *([ctypes.c_int64] * 7))


def operator_product(hook, op, v, d, out):
    """Product ``op`` of a ``LinearOperator`` ``J`` by the C function at ``hook``
    (compiled code only; ``v``, ``d`` and ``out`` go by address and length)."""


@overload(operator_product, target="cpu", inline="always")
def _operator_product_cpu(hook, op, v, d, out):
    def impl(hook, op, v, d, out):
        return ccall(hook, (np.int64(op), data_address(v), np.int64(v.shape[0]),
                            data_address(d), np.int64(d.shape[0]), data_address(out),
                            np.int64(out.shape[0])))
    return impl


@overload(operator_product, target="generic")
def _operator_product_gpu(hook, op, v, d, out):
    # (no operator on the GPU: the batch front ends take dense Jacobians only)
    return lambda hook, op, v, d, out: np.int64(0)


def _vector(address, size):
    if size == 0:
        return None
    return np.ctypeslib.as_array((ctypes.c_double * size).from_address(address))


class OperatorJacobian:
    """The current ``LinearOperator`` of a solve and the C callback of its products.

    Used by the front end and the Python driver where a
    :class:`lsqcore._sparse_jac.Pattern` would be: a pattern with no entries
    and no groups.
    """

    nnz = 0
    ngroups = 0

    def __init__(self, J0, m, n):
        if J0.shape != (m, n):
            raise ValueError(f"`jac` must return a LinearOperator of shape {(m, n)}, got "
                             f"{J0.shape}.")
        self.m, self.n = m, n
        self.J = J0
        self.w = None
        self.error = None
        self._callback = _PRODUCT(self._product)       # kept alive with the solve
        self.address = ctypes.cast(self._callback, ctypes.c_void_p).value

    def load(self, J, out):
        """``J`` is the operator from now on (``out``, the values, is empty)."""
        from ._sparse_jac import is_operator
        if not is_operator(J) or J.shape != (self.m, self.n):
            what = type(J).__name__ if not is_operator(J) else f"shape {J.shape}"
            raise ValueError(f"`jac` returned a LinearOperator of shape {(self.m, self.n)} "
                             f"at `x0` and a {what} later: it must keep returning one.")
        self.J = J
        self.w = None

    def write(self, S):
        """The addresses of the sparse operations and of the products into ``S``
        (the pattern has no entries: ``S``'s zeros are its column pointers)."""
        from ._csc_entry import sparse_entry
        S[L.SPARSE_HOOKS] = sparse_entry()
        S[L.OPERATOR] = self.address

    def matrix(self, values):
        """``result.jac``: the operator at the solution (scipy returns it as is)."""
        return self.J

    def raise_pending(self):
        """Raise the exception a product raised, if any."""
        if self.error is not None:
            e, self.error = self.error, None
            raise e

    def _product(self, op, v_addr, v_size, d_addr, d_size, out_addr, out_size):
        out = _vector(out_addr, out_size)
        try:
            v = _vector(v_addr, v_size)
            d = _vector(d_addr, d_size)
            if op == WEIGHTS:
                self.w = v.copy()
            elif op == MV:
                y = np.asarray(self.J.matvec(v if d is None else d * v), dtype=float).ravel()
                out[:] = y if self.w is None else self.w * y
            else:
                u = v if self.w is None else self.w * v
                y = np.asarray(self.J.rmatvec(u), dtype=float).ravel()
                out[:] = y if d is None else d * y
            return 0
        except BaseException as e:         # (nothing may cross the C boundary)
            if self.error is None:
                self.error = e
            if out is not None:
                out[:] = np.nan
            return -1
