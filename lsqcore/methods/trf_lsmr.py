"""'trf' with ``tr_solver='lsmr'``: trf's hooks, with the model read from ``J``.

Everything is :mod:`lsqcore.methods.trf`'s (the scaled variables, the
reflective step selection in the box, the radius rule, the termination
tests) except where the model's step comes from: instead of the QR and SVD
of ``[J_h; C^(1/2)]``, the two-dimensional subspace of the gradient and
LSMR's regularized Gauss-Newton direction (:mod:`lsqcore.methods.lsmr_model`),
and the model's values from products with ``J`` (dense or compressed-column).
A module of its own, with a C entry of its own (:mod:`lsqcore._method`), so
that the exact solver's entry holds no LSMR code: each entry is compiled on
its first use, and a user of the exact solver does not wait for LSMR's.
"""
from .._jit import kernel_jit, hook_jit
from .._layout import vec, N, O_D, O_DIAGH, O_GH, O_PH, DELTA
from .._linalg import dot
from .lsmr_model import subspace_model, subspace_step, model_dot, model_norm2
from .trf import (gtol_test, scaled_variables, finish_step, step_quality, is_successful,
                  step_accepted, step_rejected, step_invalid, converged)

__all__ = ["gtol_test", "factorize", "compute_step", "step_quality", "is_successful",
           "step_accepted", "step_rejected", "step_invalid", "converged"]


@kernel_jit
def factorize(W, S):
    """The scaled variables (trf's) and the 2-D model of the current ``J``."""
    scaled_variables(W, S)
    n = S[N]
    subspace_model(W, S, vec(W, S, O_D, n), vec(W, S, O_DIAGH, n), vec(W, S, O_GH, n))


@kernel_jit
def compute_step(W, S):
    """The subspace step for the current radius, then trf's step selection."""
    p_h = vec(W, S, O_PH, S[N])
    subspace_step(W, S, W[DELTA], p_h)
    finish_step(W, S, p_h, _j_curvature, _j_curvature2, _j_model)


@hook_jit
def _j_curvature(W, S, R, a, b):
    """``a^T (J_h^T J_h + C) b`` from ``J`` (``R`` unused)."""
    return model_dot(W, S, a, b)


@hook_jit
def _j_curvature2(W, S, R, s):
    return model_norm2(W, S, s)


@hook_jit
def _j_model(W, S, R, g_h, p):
    """``q(p) = g_h^T p + 1/2 p^T (J_h^T J_h + C) p`` from ``J``."""
    return dot(g_h, p) + 0.5 * model_norm2(W, S, p)
