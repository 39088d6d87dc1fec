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
# STOP1, STOP2: the forms of the termination tests that fired (lsqcore._stopping)
# HOOKS: the C address of the method's hooks on the CPU (lsqcore._method)
# TR_SOLVER: the subproblem's solver (TR_EXACT, TR_LSMR, TR_LSMR_BJ: LSMR preconditioned
#   by block Jacobi, lsqcore._precond); LSMR_MAXITER: LSMR's limit
# REGULARIZE: trf with LSMR regularizes the Gauss-Newton system (methods/lsmr_model.py)
# SPARSE: J is held in compressed-column form (lsqcore._csc); NNZ: its stored entries
#   (m n when dense); NGROUPS: the groups of columns differenced together (n when dense)
# I_CPTR, I_ROWS, I_GROUP: offsets in S itself of J's column pointers (n + 1), row
#   indices (NNZ) and each column's group (n), after S_SIZE (sparse only)
# SPARSE_HOOKS: the C address of the sparse operations (lsqcore._csc_entry; sparse only)
# OPERATOR: the C address of a LinearOperator J's products (lsqcore._operator), or 0
# GRAM_NJEV: the NJEV of the Jacobian whose J^T J is in O_GRAM (0: none); O_GRAM is the
#   Gram matrix of the J in O_J exactly when it equals NJEV (lsqcore._row.read_gram)
M, N, METHOD, JAC, LOSS, PHASE, REQ, REQ_K, NFEV, NJEV, NIT, MAX_NFEV, \
    STATUS, BOUNDED, JAC_SCALE, NOTIFY, FIRST, SVD_READY, OUTCOME, \
    TRACE_CAP, TRACE_LEN, ZERO_COLS, STOP1, STOP2, HOOKS, TR_SOLVER, LSMR_MAXITER, \
    REGULARIZE, SPARSE, NNZ, NGROUPS, I_CPTR, I_ROWS, I_GROUP, SPARSE_HOOKS, OPERATOR, \
    GRAM_NJEV = range(37)
# offsets of the arrays in W
(O_X, O_XNEW, O_STEP, O_STEPH, O_PH, O_G, O_GH, O_SCALE, O_SCALEINV, O_V,
 O_DV, O_D, O_DIAGH, O_LB, O_UB, O_H, O_RSTEP, O_FDC, O_SV, O_UF, O_W1,
 O_W2, O_RH, O_AG, O_F, O_FNEW, O_FS, O_Z, O_RHO, O_RHONEW, O_J, O_B, O_R,
 O_VV, O_XQ, O_RA, O_TAU, O_TRACE, O_U, O_UFS, O_TYP, O_LSR, O_LSN, O_GRAM,
 O_PRE, O_PREC, S_SIZE) = range(37, 37 + 47)

# ---- scalar registers at the start of W ---------------------------------------
# REL_GRAD: the relative gradient that vetted a tolerance stop (_kernel._vet_tolerance_stop)
# STOP_V1, STOP_T1, STOP_V2, STOP_T2: value and threshold of the recorded tests (_stopping)
# REL_ACTRED, REL_PRERED: lm's relative reductions; LS_T_TRIED: gn's fraction of the trial
# G_TEST: the measure the last gtol test compared with gtol (lm: a cosine; else G_NORM)
# TR_HIT: dogbox: 1 when the trial step was stopped by the trust box
# LSMR_*: the options of LSMR (tr_solver='lsmr', lsqcore._lsmr)
# SUB_B11, SUB_B12, SUB_B22, SUB_G1, SUB_G2: trf's 2-D subspace model (methods/lsmr_model.py)
(FTOL, XTOL, GTOL, FSCALE, DELTA, ALPHA, COST, COST_NEW, ACTRED, PRERED,
 RATIO, STEP_NORM, STEP_H_NORM, G_NORM, X_NORM, THETA, LS_T, GP, DIRDER,
 PNORM, PRED_FULL, REL_GRAD, STOP_V1, STOP_T1, STOP_V2, STOP_T2, REL_ACTRED, REL_PRERED,
 LS_T_TRIED, G_TEST, TR_HIT, LSMR_ATOL, LSMR_BTOL, LSMR_CONLIM, LSMR_DAMP,
 SUB_B11, SUB_B12, SUB_B22, SUB_G1, SUB_G2, N_SCALARS) = range(41)

# ---- option codes -------------------------------------------------------------
TRF, LM, GN, DOGBOX = 0, 1, 2, 3
METHOD_CODES = {"trf": TRF, "lm": LM, "gn": GN, "dogbox": DOGBOX}
METHOD_NAMES = {code: name for name, code in METHOD_CODES.items()}
TR_EXACT, TR_LSMR, TR_LSMR_BJ = 0, 1, 2
#: LSMR's defaults (those of scipy.sparse.linalg.lsmr): atol, btol, conlim, damp
LSMR_DEFAULTS = (1e-6, 1e-6, 1e8, 0.0)
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


# ---- the workspace table --------------------------------------------------------
# Every array of W, in memory order after the scalar registers: its slot in S,
# its shape in terms of m and n, when it is present, what it holds, and which
# phases of the solve reuse it for something else.  Offsets (init_layout), the
# allocation size (workspace_shape), the Python driver's views (_driver.Views)
# and docs/workspace.md are all derived from this one table.
ALWAYS, ROBUST, CALLABLE_LOSS, LSMR, DENSE, PRECOND = 0, 1, 2, 3, 4, 5
#: the longest block of columns of the block-Jacobi preconditioner (lsqcore._precond),
#: and so the row length of O_PREC
PRECOND_BMAX = 12
#: where an absent array points: nowhere (a zero-length view here) or another slot
EMPTY = -1

WORKSPACE = (
    # slot, (rows, cols), present, alias when absent, meaning, reused by
    ("O_X", ("n", "1"), ALWAYS, EMPTY, "current point x", ""),
    ("O_XNEW", ("n", "1"), ALWAYS, EMPTY, "trial point x + step; x0 during setup", ""),
    ("O_STEP", ("n", "1"), ALWAYS, EMPTY, "trial step in x", ""),
    ("O_STEPH", ("n", "1"), ALWAYS, EMPTY, "trial step in the scaled variables", ""),
    ("O_PH", ("n", "1"), ALWAYS, EMPTY,
     "step of the trust-region / line-search model, scaled variables", ""),
    ("O_G", ("n", "1"), ALWAYS, EMPTY, "gradient g = J^T f_s at x", ""),
    ("O_GH", ("n", "1"), ALWAYS, EMPTY, "scaled gradient D g", ""),
    ("O_SCALE", ("n", "1"), ALWAYS, EMPTY, "x_scale (or the Jacobian's column norms)", ""),
    ("O_SCALEINV", ("n", "1"), ALWAYS, EMPTY, "1 / x_scale", ""),
    ("O_V", ("n", "1"), ALWAYS, EMPTY,
     "trf: Coleman-Li vector v; dogbox: on_bound (-1, 0, +1)", ""),
    ("O_DV", ("n", "1"), ALWAYS, EMPTY,
     "trf: derivative dv of v; dogbox: the bounds the trial step ends on", ""),
    ("O_D", ("n", "1"), ALWAYS, EMPTY, "scaling D of the step variables (dogbox: the free mask)", ""),
    ("O_DIAGH", ("n", "1"), ALWAYS, EMPTY, "trf: diagonal C of the bound term, scaled", ""),
    ("O_LB", ("n", "1"), ALWAYS, EMPTY, "lower bounds (-inf where none)", ""),
    ("O_UB", ("n", "1"), ALWAYS, EMPTY, "upper bounds (+inf where none)", ""),
    ("O_H", ("n", "1"), ALWAYS, EMPTY, "finite-difference (or complex-step) steps", ""),
    ("O_RSTEP", ("n", "1"), ALWAYS, EMPTY, "relative finite-difference steps", ""),
    ("O_FDC", ("n", "1"), ALWAYS, EMPTY,
     "finite-difference scheme per column (forward, backward, central)", ""),
    ("O_SV", ("n", "1"), ALWAYS, EMPTY, "singular values of R", ""),
    ("O_UF", ("n", "1"), ALWAYS, EMPTY, "uf = (Q^T f_s)[:n] of the QR of J_h", ""),
    ("O_UFS", ("n", "1"), ALWAYS, EMPTY, "U^T uf (R = U diag(s) V^T)", ""),
    ("O_RH", ("n", "1"), ALWAYS, EMPTY,
     "trf: reflected step, scaled; dogbox: the dogleg segment s_N - s_C", ""),
    ("O_AG", ("n", "1"), ALWAYS, EMPTY,
     "trf: Cauchy (anti-gradient) step, scaled; dogbox: Cauchy point", ""),
    ("O_TYP", ("n", "1"), ALWAYS, EMPTY,
     "typical size of each x for difference steps (min(1, |x0|), widened to 1)", ""),
    ("O_W1", ("2n", "1"), ALWAYS, EMPTY, "work vector",
     "SVD rotations; column norms (lm, scaling); trf: point on the bound and hit flags;"
     " dogbox: the step box [l; u]"),
    ("O_W2", ("2n", "1"), ALWAYS, EMPTY, "work vector",
     "right-hand side of the augmented QR; trf: reflected and Cauchy directions;"
     " dogbox: hit flags"),
    ("O_F", ("m", "1"), ALWAYS, EMPTY, "residuals f at x", ""),
    ("O_FNEW", ("m", "1"), ALWAYS, EMPTY, "residuals at the trial point; f0 during setup",
     "Q^T f_s while a Jacobian is factored (free between trials)"),
    ("O_FS", ("m", "1"), ROBUST, "O_F", "loss-scaled residuals f_s (the same as f for 'linear')",
     ""),
    ("O_Z", ("m", "1"), CALLABLE_LOSS, EMPTY, "z = (f / f_scale)^2 handed to a callable loss",
     ""),
    ("O_RHO", ("3", "m"), ROBUST, EMPTY, "rho, rho', rho'' of the loss at x", ""),
    ("O_RHONEW", ("3", "m"), ROBUST, EMPTY, "rho, rho', rho'' at the trial point", ""),
    ("O_J", ("k", "1"), ALWAYS, EMPTY,
     "Jacobian at x (loss-scaled after evaluation): m x n by rows, or its k stored values"
     " by columns when sparse (lsqcore._csc)", ""),
    ("O_B", ("g", "m"), ALWAYS, EMPTY,
     "residuals at the difference points, one row per group of columns (g = n when dense)",
     "the QR work matrix J_h stored by columns while a Jacobian is factored"),
    ("O_R", ("n", "n"), DENSE, EMPTY, "triangular factor R of J_h (or of [J_h; diag])", ""),
    ("O_VV", ("n", "n"), DENSE, EMPTY, "right singular vectors V of R", ""),
    ("O_XQ", ("g", "n"), ALWAYS, EMPTY, "the difference points, one row per group", ""),
    ("O_U", ("n", "n"), DENSE, EMPTY, "left singular vectors U of R",
     "R^-1 of the Gram route's condition test while a Jacobian is factored"),
    ("O_RA", ("n", "2n"), DENSE, EMPTY, "[R; diag(sqrt(c))] by columns (augmented QR)", ""),
    ("O_GRAM", ("n", "n"), DENSE, EMPTY,
     "Gram matrix J^T J of the current (loss-scaled) J, upper triangle", ""),
    ("O_TAU", ("2n", "1"), ALWAYS, EMPTY, "Householder coefficients", ""),
    ("O_LSR", ("3", "m+n"), LSMR, EMPTY,
     "LSMR's right-hand side and its two vectors of the operator's rows (m, or m + n for"
     " trf's regularized operator)", ""),
    ("O_LSN", ("8", "n"), LSMR, EMPTY,
     "LSMR's four vectors of n, its solution, the subspace basis (2 rows) and the"
     " operator's diagonal (methods/lsmr_model.py)", ""),
    ("O_PRE", ("3", "n"), PRECOND, EMPTY,
     "block Jacobi: each column's block size, the operator's extra diagonal rows, a scratch"
     " vector (lsqcore._precond)", ""),
    ("O_PREC", ("n", str(PRECOND_BMAX)), PRECOND, EMPTY,
     "block Jacobi: the inverse Cholesky factor of each diagonal block of the normal"
     " matrix, one row per column", ""),
)


#: the symbols of an extent: 1, m, n, k (J's stored entries), g (groups of columns)
_SYMBOLS = "1mnkg"
#: the products of two symbols a size may hold, in LAYOUT's column order
_TERMS = ("11", "1m", "1n", "mm", "mn", "nn", "1k", "gm", "gn")


def _extent(term):
    """``(c1, cm, cn, ck, cg)`` of an extent ``'3'``, ``'m'``, ``'2n'``, ``'m+n'``, ``'k'``."""
    total = [0] * len(_SYMBOLS)
    for part in term.split("+"):
        k, sym = (part[:-1], part[-1]) if part[-1] in _SYMBOLS[1:] else (part, "1")
        total[_SYMBOLS.index(sym)] += int(k) if k else 1
    return tuple(total)


def _size_terms(shape):
    """Coefficients of the size ``rows * cols`` on ``_TERMS``."""
    out = [0] * len(_TERMS)
    for i, a in enumerate(_extent(shape[0])):
        for j, b in enumerate(_extent(shape[1])):
            if a * b:
                out[_TERMS.index("".join(sorted(_SYMBOLS[i] + _SYMBOLS[j])))] += a * b
    return tuple(out)


#: the table compiled for init_layout / workspace_shape, one row per array:
#: slot, the size coefficients on _TERMS, present-when, alias slot (or EMPTY)
LAYOUT = np.array([(globals()[name],) + _size_terms(shape)
                   + (when, EMPTY if alias == EMPTY else globals()[alias])
                   for name, shape, when, alias, _, _ in WORKSPACE], dtype=np.int64)
LAYOUT.flags.writeable = False


_PRESENT = 1 + len(_TERMS)      # LAYOUT's column of present-when, then the alias


@kernel_jit
def _present(when, robust, callable_loss, tr_solver, sparse):
    if when == ROBUST:
        return robust
    if when == CALLABLE_LOSS:
        return callable_loss
    if when == LSMR:
        return tr_solver != TR_EXACT
    if when == DENSE:
        return not sparse
    if when == PRECOND:
        return tr_solver == TR_LSMR_BJ and sparse
    return True


@kernel_jit
def _size(k, m, n, nnz, ngroups):
    """Number of floats of the array in row ``k`` of ``LAYOUT``."""
    return (LAYOUT[k, 1] + LAYOUT[k, 2] * m + LAYOUT[k, 3] * n + LAYOUT[k, 4] * m * m
            + LAYOUT[k, 5] * m * n + LAYOUT[k, 6] * n * n + LAYOUT[k, 7] * nnz
            + LAYOUT[k, 8] * ngroups * m + LAYOUT[k, 9] * ngroups * n)


@kernel_jit
def _extents(m, n, nnz, ngroups):
    """``(k, g)``: J's stored entries and the groups of columns; a dense J
    (``nnz < 0``) stores ``m n`` and differences each column alone."""
    if nnz < 0:
        return m * n, n
    return nnz, ngroups


@kernel_jit
def workspace_shape(m, n, robust, callable_loss, tr_solver, trace_cap, nnz, ngroups):
    """Sizes ``(len(W), len(S))`` for a problem of ``m`` residuals, ``n`` unknowns
    (``tr_solver``: ``TR_EXACT``, ``TR_LSMR`` or ``TR_LSMR_BJ``; ``nnz``,
    ``ngroups``: a sparse J's stored entries and groups of columns; ``nnz < 0``
    for a dense J)."""
    k, g = _extents(m, n, nnz, ngroups)
    size = N_SCALARS + trace_cap * (TRACE_FIELDS + n)
    for r in range(LAYOUT.shape[0]):
        if _present(LAYOUT[r, _PRESENT], robust, callable_loss, tr_solver, nnz >= 0):
            size += _size(r, m, n, k, g)
    return size, S_SIZE + (n + 1 + nnz + n if nnz >= 0 else 0)


@kernel_jit
def init_layout(S, m, n, robust, callable_loss, tr_solver, trace_cap, nnz, ngroups):
    """Write sizes and array offsets into ``S`` (the order and sizes of ``WORKSPACE``;
    the sparse structure's offsets in ``S`` after ``S_SIZE``)."""
    S[M] = m
    S[N] = n
    k, g = _extents(m, n, nnz, ngroups)
    sparse = nnz >= 0
    S[SPARSE] = 1 if sparse else 0
    S[NNZ] = k
    S[NGROUPS] = g
    S[I_CPTR] = S_SIZE
    S[I_ROWS] = S_SIZE + n + 1
    S[I_GROUP] = S_SIZE + n + 1 + (k if sparse else 0)
    off = N_SCALARS
    for r in range(LAYOUT.shape[0]):
        slot = LAYOUT[r, 0]
        if _present(LAYOUT[r, _PRESENT], robust, callable_loss, tr_solver, sparse):
            S[slot] = off
            off += _size(r, m, n, k, g)
        elif LAYOUT[r, _PRESENT + 1] == EMPTY:
            S[slot] = off
        else:
            S[slot] = S[LAYOUT[r, _PRESENT + 1]]
    S[O_TRACE] = off
    S[TRACE_CAP] = trace_cap
    S[TRACE_LEN] = 0


def numpy_view(W, S, name):
    """A numpy view of the array ``name`` (``'O_X'``...) of ``WORKSPACE``: the
    Python driver's access to the workspace (compiled code uses ``vec``/``mat``)."""
    return numpy_views(W, S, (name,))[0]


def numpy_views(W, S, names):
    """:func:`numpy_view` of each of ``names`` (``S`` read once: a Python driver
    takes its views on every solve, so the extents are plain integer
    arithmetic, unrolled)."""
    s = S.tolist()
    m, n, k, g = s[M], s[N], s[NNZ], s[NGROUPS]
    views = []
    for name in names:
        slot, (r1, rm, rn, rk, rg), cols = _VIEWS[name]
        o = s[slot]
        r = r1 + rm * m + rn * n + rk * k + rg * g
        if cols == _SCALAR_COLS:
            views.append(W[o:o + r])
        else:
            c1, cm, cn, ck, cg = cols
            c = c1 + cm * m + cn * n + ck * k + cg * g
            views.append(W[o:o + r * c].reshape(r, c))
    return views


_SCALAR_COLS = (1, 0, 0, 0, 0)
#: name -> (slot, rows, cols) with each extent as (c1, cm, cn, ck, cg), for numpy_view
_VIEWS = {name: (globals()[name], _extent(shape[0]), _extent(shape[1]))
          for name, shape, _, _, _, _ in WORKSPACE}


def workspace_markdown():
    """The workspace table as Markdown (``docs/workspace.md`` is generated from it)."""
    present = {ALWAYS: "always", ROBUST: "robust loss", CALLABLE_LOSS: "callable loss",
               LSMR: "`tr_solver='lsmr'`", DENSE: "dense J",
               PRECOND: "`tr_options['preconditioner']='block-jacobi'`, sparse J"}
    rows = ["| slot | shape | present | meaning | also holds |", "|---|---|---|---|---|"]
    for name, shape, when, alias, meaning, reuse in WORKSPACE:
        where = present[when]
        if when != ALWAYS:
            where += "; else " + ("empty" if alias == EMPTY else "= `%s`" % alias)
        dims = shape[0] if shape[1] == "1" else "%s x %s" % shape
        rows.append("| `%s` | %s | %s | %s | %s |" % (name, dims, where, meaning, reuse or ""))
    rows.append("| `O_TRACE` | trace_cap x (%d + n) | `trace=True` | one record per trial "
                "step (lsqcore._trace.FIELDS, then x_new) | |" % TRACE_FIELDS)
    return "\n".join(rows)


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


def allocate(m, n, robust, callable_loss, trace_cap=0, tr_solver=TR_EXACT, nnz=-1, ngroups=0):
    """Allocate and lay out a fresh ``(W, S)`` pair (Python helper)."""
    tr_solver = int(tr_solver)
    w_size, s_size = workspace_shape(m, n, robust, callable_loss, tr_solver, trace_cap, nnz,
                                     ngroups)
    W = np.zeros(w_size)
    S = np.zeros(s_size, dtype=np.int64)
    init_layout(S, m, n, robust, callable_loss, tr_solver, trace_cap, nnz, ngroups)
    return W, S
