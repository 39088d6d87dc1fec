"""The solver state: one float workspace ``W`` and one integer record ``S``.

A solve owns exactly two arrays.  ``S`` (int64) holds sizes, options,
counters, the phase of the ask/tell state machine, and the offsets of every
vector and matrix inside ``W`` (float64).  ``W`` starts with the scalar
registers (``Delta``, ``cost``, ...) followed by the arrays.  Passing two
flat arrays keeps the call from a Python driver cheap (two buffers to
unbox) and lets a batch driver give each thread one preallocated pair.

``vec`` and ``mat`` return views; no kernel allocates.
"""
import numpy as np
from numba import types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic

from ._jit import kernel_jit

# ---- integer record S: sizes, options, counters -------------------------------
# ZERO_COLS: exactly-zero columns of the first Jacobian (see _kernel._vet_tolerance_stop)
M, N, METHOD, JAC, LOSS, PHASE, REQ, REQ_K, NFEV, NJEV, NIT, MAX_NFEV, \
    STATUS, BOUNDED, JAC_SCALE, NOTIFY, FIRST, SVD_READY, OUTCOME, \
    TRACE_CAP, TRACE_LEN, ZERO_COLS = range(22)
# offsets of the arrays in W
(O_X, O_XNEW, O_STEP, O_STEPH, O_PH, O_G, O_GH, O_SCALE, O_SCALEINV, O_V,
 O_DV, O_D, O_DIAGH, O_LB, O_UB, O_H, O_RSTEP, O_FDC, O_SV, O_UF, O_W1,
 O_W2, O_RH, O_AG, O_F, O_FNEW, O_FS, O_Z, O_RHO, O_RHONEW, O_J, O_B, O_R,
 O_VV, O_XQ, O_RA, O_TAU, O_TRACE, O_U, O_UFS, O_TYP, S_SIZE) = range(22, 22 + 42)

# ---- scalar registers at the start of W ---------------------------------------
# REL_GRAD: the relative gradient that vetted a tolerance stop (_kernel._vet_tolerance_stop)
(FTOL, XTOL, GTOL, FSCALE, DELTA, ALPHA, COST, COST_NEW, ACTRED, PRERED,
 RATIO, STEP_NORM, STEP_H_NORM, G_NORM, X_NORM, THETA, LS_T, GP, DIRDER,
 PNORM, PRED_FULL, REL_GRAD, N_SCALARS) = range(23)

# ---- option codes -------------------------------------------------------------
TRF, LM, GN = 0, 1, 2
METHOD_CODES = {"trf": TRF, "lm": LM, "gn": GN}
JAC_CALLABLE, JAC_2POINT, JAC_3POINT, JAC_CS = 0, 1, 2, 3
JAC_CODES = {"2-point": JAC_2POINT, "3-point": JAC_3POINT, "cs": JAC_CS}

# ---- requests the kernel makes of its driver ----------------------------------
REQ_F = 1      # evaluate fun(x_new) into f_new
REQ_FD = 2     # evaluate fun(XQ[i]) into B[i] for i < REQ_K
REQ_J = 3      # evaluate jac(x) into J
REQ_JCS = 4    # complex-step Jacobian at x with steps H into J
REQ_LOSS = 5   # evaluate loss(Z) into RHO_NEW
REQ_ITER = 6   # an iteration ended (callback / verbose / trace hook)
REQ_DONE = 7

# number of float64 fields per trace record
TRACE_FIELDS = 12


@kernel_jit
def workspace_shape(m, n, robust, callable_loss, trace_cap):
    """Sizes ``(len(W), len(S))`` for a problem of ``m`` residuals, ``n`` unknowns."""
    nvec = 28 * n
    mvec = 2 * m + (m if robust else 0) + (m if callable_loss else 0)
    rho = 6 * m if robust else 0
    mats = 2 * m * n + 4 * n * n + 2 * n * n + 2 * n
    trace = trace_cap * (TRACE_FIELDS + n)
    return N_SCALARS + nvec + mvec + rho + mats + trace, S_SIZE


@kernel_jit
def init_layout(S, m, n, robust, callable_loss, trace_cap):
    """Write sizes and array offsets into ``S``."""
    S[M] = m
    S[N] = n
    off = N_SCALARS
    for slot in (O_X, O_XNEW, O_STEP, O_STEPH, O_PH, O_G, O_GH, O_SCALE,
                 O_SCALEINV, O_V, O_DV, O_D, O_DIAGH, O_LB, O_UB, O_H,
                 O_RSTEP, O_FDC, O_SV, O_UF, O_UFS, O_RH, O_AG, O_TYP):
        S[slot] = off
        off += n
    S[O_W1] = off
    off += 2 * n
    S[O_W2] = off
    off += 2 * n
    S[O_F] = off
    off += m
    S[O_FNEW] = off
    off += m
    if robust:
        S[O_FS] = off
        off += m
    else:
        S[O_FS] = S[O_F]
    if callable_loss:
        S[O_Z] = off
        off += m
    else:
        S[O_Z] = off
    if robust:
        S[O_RHO] = off
        off += 3 * m
        S[O_RHONEW] = off
        off += 3 * m
    else:
        S[O_RHO] = off
        S[O_RHONEW] = off
    S[O_J] = off
    off += m * n
    S[O_B] = off
    off += m * n
    S[O_R] = off
    off += n * n
    S[O_VV] = off
    off += n * n
    S[O_XQ] = off
    off += n * n
    S[O_U] = off
    off += n * n
    S[O_RA] = off
    off += 2 * n * n
    S[O_TAU] = off
    off += 2 * n
    S[O_TRACE] = off
    S[TRACE_CAP] = trace_cap
    S[TRACE_LEN] = 0


def _view(context, builder, W_ty, W, S_ty, S, slot_ty, slot, extents):
    """LLVM IR of the C-ordered view ``W[S[slot]:]`` with shape ``extents``
    (``(type, value)`` pairs); the view shares ``W``'s meminfo."""
    src = context.make_array(W_ty)(context, builder, W)
    state = context.make_array(S_ty)(context, builder, S)
    index = context.cast(builder, slot, slot_ty, types.intp)
    offset = context.cast(builder, builder.load(cgutils.gep_inbounds(builder, state.data, index)),
                          S_ty.dtype, types.intp)
    shape = [context.cast(builder, v, t, types.intp) for t, v in extents]
    itemsize = context.get_constant(types.intp,
                                    context.get_abi_sizeof(context.get_data_type(W_ty.dtype)))
    strides = [itemsize]
    for extent in shape[:0:-1]:
        strides.insert(0, builder.mul(strides[0], extent))
    ret_ty = types.Array(W_ty.dtype, len(shape), "C")
    out = context.make_array(ret_ty)(context, builder)
    context.populate_array(out, data=cgutils.gep_inbounds(builder, src.data, offset),
                           shape=cgutils.pack_array(builder, shape),
                           strides=cgutils.pack_array(builder, strides),
                           itemsize=itemsize, meminfo=src.meminfo, parent=src.parent)
    return impl_ret_borrowed(context, builder, ret_ty, out._getvalue())


def _c_vector(a):
    return isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C"


# vec / mat are intrinsics: each call site becomes a handful of LLVM
# instructions (load the offset from S, build the array struct), with no
# Numba-IR inlining to type and lower again at every one of their ~160 call
# sites, no slice clamping and no ``reshape`` (which calls Numba's C helper
# numba_attempt_nocopy_reshape: ~4 % of a small fit).  The layout guarantees
# that every view lies inside W.  Being code generated in place, not functions
# returning a view of an argument, they also compile as CUDA device code, so
# the GPU runs the same kernel (lsqcore/batch/cuda.py).
@intrinsic
def vec(typingctx, W, S, slot, length):
    """``W[S[slot] : S[slot] + length]`` as a view (compiled code only)."""
    if _c_vector(W) and _c_vector(S) and isinstance(S.dtype, types.Integer):
        def codegen(context, builder, sig, args):
            return _view(context, builder, sig.args[0], args[0], sig.args[1], args[1],
                         sig.args[2], args[2], [(sig.args[3], args[3])])
        return types.Array(W.dtype, 1, "C")(W, S, slot, length), codegen


@intrinsic
def mat(typingctx, W, S, slot, rows, cols):
    """A C-ordered ``(rows, cols)`` view of ``W`` at ``S[slot]`` (compiled code only)."""
    if _c_vector(W) and _c_vector(S) and isinstance(S.dtype, types.Integer):
        def codegen(context, builder, sig, args):
            return _view(context, builder, sig.args[0], args[0], sig.args[1], args[1],
                         sig.args[2], args[2], [(sig.args[3], args[3]), (sig.args[4], args[4])])
        return types.Array(W.dtype, 2, "C")(W, S, slot, rows, cols), codegen


def allocate(m, n, robust, callable_loss, trace_cap=0):
    """Allocate and lay out a fresh ``(W, S)`` pair (Python helper)."""
    w_size, s_size = workspace_shape(m, n, robust, callable_loss, trace_cap)
    W = np.zeros(w_size)
    S = np.zeros(s_size, dtype=np.int64)
    init_layout(S, m, n, robust, callable_loss, trace_cap)
    return W, S
