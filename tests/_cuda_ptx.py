"""Compile the generated GPU batch kernel to PTX without a GPU.

Run as a script by tests/test_cuda_ptx.py (in a subprocess: it replaces a
few host-side pieces of ``lsqcore.batch.cuda`` and of numba-cuda for its
own process only):

    python tests/_cuda_ptx.py              # prints one "PTX name bytes" line per case

The CUDA simulator (tests/test_cuda.py) runs the kernel's solver functions
as their CPU compilations, so it cannot tell whether numba-cuda can compile
them as device functions.  This script does what a GPU machine would do up
to the driver: it runs ``curve_fit_batch(..., device='cuda')`` with the
host transfers replaced by numpy arrays and the kernel launch replaced by
``numba.cuda.compile_ptx`` for compute capability 9.0 (H100), with the
argument types of the real launch.  It needs libNVVM (the ``nvidia-nvvm``
wheel or a CUDA toolkit), not a driver or a device.
"""
import sys

import numpy as np
import numba
from numba import cuda as real_cuda
import numba.cuda.dispatcher as _dispatcher

import lsqcore.batch.cuda as gpu
from lsqcore.batch import curve_fit_batch
from lsqcore import models
from lsqcore._workloads import expdecay as expdecay_elementwise   # np.exp, CPU style
from _cuda_check import expdecay, expdecay_jac                    # in place, math.exp

CC = (9, 0)
PTX = []


class _Device:
    compute_capability = CC


class _Host(np.ndarray):
    """A host array standing in for a device array."""

    def copy_to_host(self):
        return np.asarray(self).copy()


class _Launch:
    def __init__(self, kern):
        self.kern = kern

    def __getitem__(self, config):
        def launch(*args):
            sig = tuple(numba.typeof(a) for a in args)
            ptx, _ = real_cuda.compile_ptx(self.kern.py_func, sig, cc=CC)
            PTX.append(ptx)
        return launch


class _NoDriverCuda:
    """numba.cuda for compiling, numpy for the host side."""

    def __getattr__(self, name):
        return getattr(real_cuda, name)

    def to_device(self, a):
        return np.ascontiguousarray(a).view(_Host)

    def device_array(self, shape, dtype=np.float64):
        return np.zeros(shape, dtype).view(_Host)

    def synchronize(self):
        pass


_build = gpu._build
_dispatcher.get_current_device = lambda: _Device()   # device functions' target
gpu._cuda_ufuncs.add_missing()
gpu._import_cuda = lambda: _NoDriverCuda()
gpu._build = lambda cuda, *a, **k: _Launch(_build(real_cuda, *a, **k))
gpu._free_bytes = lambda cuda: 1 << 30


T = np.linspace(0.0, 4.0, 30)
Y = 2.0 * np.exp(-1.3 * T)[None, :] + 0.5 + 0.01 * np.arange(4)[:, None]
P0 = [1.0, 1.0, 0.0]
CASES = {
    "f64_trf_bounds_jac_stderr": lambda: curve_fit_batch(
        expdecay, T, Y, p0=P0, inplace=True, jac=expdecay_jac, method="trf",
        bounds=([0.0, 0.0, -1.0], [10.0, 10.0, 1.0]), return_stderr=True, return_pcov=True,
        device="cuda"),
    "f32_lm_fd_elementwise": lambda: curve_fit_batch(
        expdecay_elementwise, T, Y, p0=P0, method="lm", device="cuda", dtype=np.float32),
    # a library model: its point function (complex Faddeeva arithmetic) compiled
    # as a device function through the generated in-place forms, exact Jacobian
    "f64_library_voigt": lambda: curve_fit_batch(
        models.voigt, T - 2.0, Y, p0=[1.0, 0.0, 0.5, 0.3], device="cuda", return_stderr=True),
}

if __name__ == "__main__":
    for name in sys.argv[1:] or CASES:
        CASES[name]()
        ptx = PTX[-1]
        assert ".entry" in ptx and ".target sm_90" in ptx, ptx[:500]
        print("PTX", name, len(ptx), flush=True)
