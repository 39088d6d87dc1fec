"""The Numba peers' W4 calls, shared by bench_batch.py and bench_peers.py.

scijit and lumafit are benchmark-only (``pip install scijit lumafit``), not
dependencies: :func:`scijit_fit_all` raises ``ImportError`` without scijit.
"""
import numpy as np
from numba import njit, prange


@njit(cache=True)
def luma_decay(p, t):
    """W4's model in lumafit's form, ``y_hat = model(p, t)``."""
    return p[0] * np.exp(-p[1] * t) + p[2]


def scijit_fit_all(model):
    """``fit_all(t, Y, p0, out)``: scijit's ``@njit`` ``curve_fit`` of ``model``
    on every row of ``Y`` in a ``prange`` loop, the parameters into ``out``."""
    from scijit.optimize import curve_fit as sj_curve_fit

    @njit(parallel=True)
    def fit_all(t, Y, p0, out):
        for k in prange(Y.shape[0]):
            popt, _ = sj_curve_fit(model, t, Y[k], p0)
            for j in range(p0.shape[0]):
                out[k, j] = popt[j]
    return fit_all
