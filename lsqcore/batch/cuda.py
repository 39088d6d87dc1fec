"""The GPU batch driver (``device='cuda'``): one CUDA thread per fit.

No algorithm is written here.  The CUDA kernel (a closure built by
:func:`_build`) calls, once per row, the *same* ``@njit`` function as the
CPU batch's ``prange`` body, :func:`lsqcore.batch._row.batch_row` -- and
through it the single solver's compiled row (:mod:`lsqcore._row`: start,
request loop, result record), :func:`lsqcore._kernel.advance`,
``methods/{trf,lm,gn}``, ``_linalg``, ``_bounds``, ``_jacobian``,
``_loss`` and the batch's covariance.  numba-cuda compiles a CPU dispatcher
called from a CUDA kernel as a CUDA device function from the same Python
source, so the GPU runs the ask/tell kernel unchanged; the row reaches
the kernel directly (``kern=None``) where the CPU goes through C
addresses.  This module only adds the host side (chunks, transfers,
results).  It serves both front ends:
:func:`least_squares_batch` hands it the user's in-place residual
``fun(x, out, *row_args)`` (``lsqcore.InPlace``) and the extra arguments
with how each is split by row; :func:`curve_fit_batch` hands it the
in-place residual ``(f(x, *p) - y) * (1 / sigma)`` built by
:func:`lsqcore.batch._model.curve_fit_inplace` -- the same function the CPU
batch runs for ``inplace=True``.

Each thread keeps its workspace ``W`` and state ``S`` in CUDA *local*
memory (``cuda.local.array`` sized at compile time for the batch's ``m``
and ``n``): the hardware interleaves local memory across the threads of a
warp, so the threads' identical workspace offsets are coalesced accesses.
A row with fewer points (``nan_policy='omit'``: ``m_k`` finite points
first) lays out its workspace for ``m_k`` inside the same local arrays.

What model code works on the GPU (see ``docs/gpu.md``): a residual
``fun(x, out, *args)`` or a model ``f(x, p0, ..., p_{n-1}, out)`` decorated
with ``numba.njit``, writing ``out[i]`` in a scalar loop with ``math.*`` (or
scalar ``np.exp`` ...) functions; or, for curve_fit, an elementwise model
``f(x, p0, ...) -> value`` that the residual calls once per point with a
scalar ``x``.  Nothing that allocates: no array expressions
(``np.exp(-b * x)`` on an array), no ``np.empty`` / ``np.zeros``, no
returned arrays, no Python objects, no exceptions with formatted messages.
The same functions then run on the CPU batch.

Under ``NUMBA_ENABLE_CUDASIM=1`` (the tests, CI without a GPU) the same
kernel runs in Numba's CUDA simulator, where the row's functions run as
their CPU compilations; ``tests/_cuda_ptx.py`` compiles it to PTX for a
real GPU.
"""
import numpy as np

from .. import _layout as L
from .._loss import LINEAR
from .._memo import Memo
from .._numba_internals import importing_numba_cuda
from . import _cuda_ufuncs
from ._model import WHOLE, ROW, ROW_TRUNC, BCAST_TRUNC, row_args
from ._result import NOT_RUN

THREADS_PER_BLOCK = 128
# at most this many blocks per launch (0: one thread per row); threads then
# loop over rows (grid-stride), which bounds the local memory in use
MAX_BLOCKS = 0
# fraction of the free device memory one chunk of rows may take
MEMORY_FRACTION = 0.5

_KERNELS = Memo()


def _import_cuda():
    """``numba.cuda`` if usable, else a RuntimeError saying what is missing."""
    try:
        with importing_numba_cuda():      # np.row_stack for numba-cuda <= 0.30.4 only
            from numba import cuda
    except ImportError as e:         # pragma: no cover - depends on the install
        raise RuntimeError(
            "device='cuda' needs numba-cuda: pip install 'lsqcore[cuda]' "
            f"(import failed: {e}).") from None
    try:
        ok = cuda.is_available()
    except Exception as e:           # pragma: no cover
        ok = False
        why = str(e)
    else:
        why = ""
    if not ok:
        try:
            cuda.detect()
        except Exception:            # pragma: no cover
            pass
        raise RuntimeError(
            "device='cuda' found no usable CUDA GPU (numba.cuda.is_available() is "
            "False: no NVIDIA driver or device" + (f": {why}" if why else "") +
            "). Use device='cpu', or set NUMBA_ENABLE_CUDASIM=1 to run the GPU path "
            "in Numba's CUDA simulator (slow; for testing).")
    _cuda_ufuncs.add_missing()          # np.exp & co. in device code
    return cuda


def is_cuda_array(a):
    """True for a device array: ``__cuda_array_interface__`` (Numba, CuPy, ...) or,
    under ``NUMBA_ENABLE_CUDASIM=1``, the simulator's device array."""
    return hasattr(a, "__cuda_array_interface__") or type(a).__name__ == "FakeCUDAArray"


def as_device(a):
    """A Numba device array (a view, no copy) of the device array ``a``."""
    if type(a).__name__ == "FakeCUDAArray":
        return a
    from numba import cuda
    return cuda.as_cuda_array(a)


def array_dtype(a):
    """dtype of a numpy array, a device array or a ``__cuda_array_interface__`` object."""
    if hasattr(a, "__cuda_array_interface__"):
        return np.dtype(a.__cuda_array_interface__["typestr"])
    return np.dtype(a.dtype)


def check_device_dtype(a, dt, name):
    """A floating device array must already have the batch dtype (it is used in place)."""
    if is_cuda_array(a):
        got = array_dtype(a)
        if got.kind in "fc" and got != dt:
            raise ValueError(f"`{name}` is a device array of dtype {got}; device='cuda' with "
                             f"dtype={dt.name} needs {dt.name} (device arrays are used in "
                             f"place, not converted).")


def array_shape(a):
    """Shape of a numpy array, a device array or a ``__cuda_array_interface__`` object."""
    if hasattr(a, "__cuda_array_interface__"):
        return tuple(a.__cuda_array_interface__["shape"])
    return np.shape(a)


def _split(flag, shape0):
    """Whether an argument with row flag ``flag`` (:mod:`lsqcore.batch._model`) and
    ``shape0`` rows is cut by rows (then each chunk of rows gets its part)."""
    return flag in (ROW, ROW_TRUNC) or (flag == BCAST_TRUNC and shape0 != 1)


def _unwrap(a):
    """The numpy array inside a simulator device array (else ``a``)."""
    return getattr(a, "_ary", a)


#: ``numba.cuda``, set by :func:`_build`: the kernel names it as a module global,
#: the name the CUDA simulator swaps for its own module while a kernel runs
cuda = None


def _build(cuda_module, resid, jacob, flags, m, n, dtype, cov, absolute, robust):
    """The CUDA kernel for one residual / size / dtype (memoised).

    ``resid(x, out, *row_args)`` and ``jacob(x, J, *row_args)`` (or None)
    are the in-place residual and Jacobian (``@njit`` functions, compiled
    again as CUDA device functions); ``flags[i]`` says how row ``t`` takes
    its part of extra argument ``i`` (the CPU batch's row flags, through the
    same generated selector :func:`lsqcore.batch._model.row_args`).

    The kernel is a closure, not generated source: the sizes of the
    thread's local arrays, the dtype, the user's functions and the options
    are its constants, and its body is one call of
    :func:`lsqcore.batch._row.batch_row` per row, the CPU batch's row.
    """
    from numba import types
    from numba import config
    from .._driver import call_inplace, jac_inplace, _cs_unused
    from ._row import batch_row
    from .._row import start_direct, step_direct
    global cuda
    cuda = cuda_module

    flags = tuple(int(f) for f in flags)
    key = (resid, jacob, flags, m, n, np.dtype(dtype).str, bool(cov), bool(absolute),
           bool(robust))
    kern = _KERNELS.get(key)
    if kern is not None:
        return kern
    WS, SS = (int(v) for v in L.workspace_shape(m, n, robust, False, L.TR_EXACT, 0, -1, 0))
    N, M, N5, MN = n, m, 5 * n, m * n
    DT = types.float32 if np.dtype(dtype) == np.float32 else types.float64
    I64 = types.int64
    row_flags = (bool(robust), False, bool(cov), bool(absolute))
    rows = row_args(flags)

    def _kernel(P0, LB, UB, MROW, args, fopts, iopts, xs, rs, outs, K):
        ws = (cuda.local.array(WS, DT), cuda.local.array(SS, I64), cuda.local.array(N, DT),
              cuda.local.array(M, DT), cuda.local.array(N5, DT), cuda.local.array(MN, DT),
              cuda.local.array((N, N), DT), cuda.local.array((N, N), DT))
        data = (P0, LB, UB, MROW)
        opts = (fopts, iopts, xs, rs)
        # grid-stride loop: a launch of fewer threads than rows keeps the
        # workspaces of the resident threads in cache
        for t in range(cuda.grid(1), K, cuda.gridsize(1)):
            batch_row(t, 0, None, start_direct, step_direct, call_inplace, jac_inplace,
                      _cs_unused, resid, jacob, None, rows, args, data, ws, opts, M, row_flags,
                      outs)

    if config.ENABLE_CUDASIM:
        # the simulator runs the kernel as Python and passes its own array
        # wrappers; the row's @njit functions need the numpy arrays inside
        def _sim_kernel(P0, LB, UB, MROW, args, fopts, iopts, xs, rs, outs, K):
            u = _unwrap
            _kernel(u(P0), u(LB), u(UB), u(MROW), tuple(u(a) for a in args), u(fopts),
                    u(iopts), u(xs), u(rs), tuple(u(o) for o in outs), K)
        kern = cuda_module.jit(_sim_kernel)
    else:
        kern = cuda_module.jit(_kernel)
    _KERNELS[key] = kern
    return kern


def _free_bytes(cuda):
    try:
        free, _ = cuda.current_context().get_memory_info()
        return int(free)
    except Exception:                # simulator
        return 1 << 30


def solve(resid, jacob, args, flags, X0, LB, UB, mrow, fopts, iopts, x_scale, rstep,
          m, n, dtype, cov, absolute, return_pcov, return_stderr, loss_code=0,
          threads_per_block=None, chunk=None, max_blocks=None):
    """Run batch rows on the GPU; returns the output dict of :func:`cpu.solve`.

    Parameters
    ----------
    resid, jacob : numba dispatchers
        In-place residual ``resid(x, out, *row_args)`` and Jacobian
        ``jacob(x, J, *row_args)`` (or None: finite differences).
    args, flags : tuple
        The extra arguments and how each is split by row (the row flags
        ``WHOLE``, ``ROW``, ``ROW_TRUNC``, ``BCAST_TRUNC`` of
        :mod:`lsqcore.batch._model`).  Arrays may be host (numpy) or device
        (``__cuda_array_interface__``) arrays; device arrays are used in
        place (one launch over all rows) and must have the batch ``dtype``
        when they hold floats; host arrays of floats are converted to
        ``dtype`` and moved in chunks that fit in device memory.  Numbers
        are passed by value (floats in ``dtype``).
    X0, LB, UB : ndarray
        (K, n), (1|K, n), (1|K, n) host arrays.
    mrow : ndarray or None
        Points per row (after ``nan_policy='omit'``), or None: ``m`` for all.
    """
    cuda = _import_cuda()
    dt = np.dtype(dtype)
    K = X0.shape[0]
    tpb = int(threads_per_block or THREADS_PER_BLOCK)
    kern = _build(cuda, resid, jacob, flags, m, n, dt, cov, absolute, loss_code != LINEAR)

    out_x = np.full((K, n), np.nan, dtype=dt)
    out_cost = np.full(K, np.nan, dtype=dt)
    out_status = np.full(K, NOT_RUN, dtype=np.int64)
    out_nfev = np.zeros(K, dtype=np.int64)
    out_njev = np.zeros(K, dtype=np.int64)
    out_nit = np.zeros(K, dtype=np.int64)
    out_opt = np.full(K, np.nan, dtype=dt)
    out_pcov = np.full((K if return_pcov else 0, n, n), np.nan, dtype=dt)
    out_se = np.full((K if return_stderr else 0, n), np.nan, dtype=dt)

    split = _split

    def dev(a, rows, kind):
        """Device form of ``a`` (its rows ``rows`` when split by row)."""
        if is_cuda_array(a):
            d = as_device(a)
            if d.dtype.kind == "f" and d.dtype != dt:
                raise TypeError(f"a device array given to device='cuda' must have the "
                                f"batch dtype {dt}, got {d.dtype}.")
            return d[rows] if split(kind, d.shape[0]) else d
        if isinstance(a, np.ndarray):
            if split(kind, a.shape[0]):
                a = a[rows]
            if a.dtype.kind in "fc":
                a = a.astype(dt, copy=False)
            return cuda.to_device(np.ascontiguousarray(a))
        if isinstance(a, (float, np.floating)):
            return dt.type(a)
        return a

    fo = cuda.to_device(np.asarray(fopts, dtype=dt))
    io = cuda.to_device(np.asarray(iopts, dtype=np.int64))
    xs = cuda.to_device(np.asarray(x_scale, dtype=dt))
    rs = cuda.to_device(np.asarray(rstep, dtype=dt))
    no_mrow = cuda.to_device(np.zeros(0, dtype=np.int64))
    # shared arguments go to the device once
    shared = [None if split(k, (array_shape(a) or (1,))[0]) else dev(a, None, k)
              for a, k in zip(args, flags)]

    any_dev = any(is_cuda_array(a) for a, k in zip(args, flags) if k != WHOLE)
    if chunk is None:
        if any_dev:
            chunk = K
        else:
            isz = dt.itemsize
            per_row = isz * (4 * n + 2 + n * n) + 8 * 5
            for a, k, sh in zip(args, flags, shared):
                if sh is None:
                    per_row += isz * int(np.prod(array_shape(a)[1:], dtype=np.int64))
            chunk = max(1, min(K, int(_free_bytes(cuda) * MEMORY_FRACTION) // per_row))
    chunk = max(1, int(chunk))
    for start in range(0, K, chunk):
        stop = min(K, start + chunk)
        rows = slice(start, stop)
        k = stop - start
        dP0 = cuda.to_device(np.ascontiguousarray(X0[rows], dtype=dt))
        dLB = cuda.to_device(np.ascontiguousarray(LB[rows] if LB.shape[0] != 1 else LB, dtype=dt))
        dUB = cuda.to_device(np.ascontiguousarray(UB[rows] if UB.shape[0] != 1 else UB, dtype=dt))
        dM = no_mrow if mrow is None else cuda.to_device(np.ascontiguousarray(mrow[rows]))
        dA = [sh if sh is not None else dev(a, rows, kd)
              for a, kd, sh in zip(args, flags, shared)]
        ox = cuda.to_device(out_x[rows])
        ocost = cuda.to_device(out_cost[rows])
        ost = cuda.to_device(out_status[rows])
        onf = cuda.device_array(k, dtype=np.int64)
        onj = cuda.device_array(k, dtype=np.int64)
        oni = cuda.device_array(k, dtype=np.int64)
        oopt = cuda.to_device(out_opt[rows])
        opc = cuda.to_device(out_pcov[rows] if return_pcov else out_pcov)
        ose = cuda.to_device(out_se[rows] if return_stderr else out_se)
        blocks = (k + tpb - 1) // tpb
        mb = max_blocks if max_blocks is not None else MAX_BLOCKS
        if mb:
            blocks = min(blocks, int(mb))
        kern[blocks, tpb](dP0, dLB, dUB, dM, tuple(dA), fo, io, xs, rs,
                          (ox, ocost, ost, onf, onj, oni, oopt, opc, ose), k)
        cuda.synchronize()
        out_x[rows] = ox.copy_to_host()
        out_cost[rows] = ocost.copy_to_host()
        out_status[rows] = ost.copy_to_host()
        out_nfev[rows] = onf.copy_to_host()
        out_njev[rows] = onj.copy_to_host()
        out_nit[rows] = oni.copy_to_host()
        out_opt[rows] = oopt.copy_to_host()
        if return_pcov:
            out_pcov[rows] = opc.copy_to_host()
        if return_stderr:
            out_se[rows] = ose.copy_to_host()
    return dict(x=out_x, cost=out_cost, status=out_status, nfev=out_nfev,
                njev=out_njev, nit=out_nit, optimality=out_opt,
                pcov=out_pcov if return_pcov else None,
                stderr=out_se if return_stderr else None, interrupted=False)
