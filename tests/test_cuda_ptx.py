"""The GPU batch kernel compiles for a real GPU (PTX for an H100), in CI.

The simulator tests (tests/test_cuda.py) run the kernel's solver functions
as CPU code; whether numba-cuda can compile them as device functions is
only known when the kernel is compiled for a GPU.  ``tests/_cuda_ptx.py``
does that without a device: it compiles the kernel of a real
``curve_fit_batch(..., device='cuda')`` call to PTX with libNVVM (numba-cuda
asks NVRTC for the architectures it supports).  On x86-64 Linux the ``[test]``
extra installs both compilers, so there a missing one is a failure, not a
skip (a dependency that drifted must fail CI); elsewhere the test is skipped
when they are not installed.
"""
import platform
import os
import subprocess
import sys

import pytest

import _background

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed (pip install lsqcore[cuda])")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _env():
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


EXTRA_INSTALLS_COMPILERS = platform.system() == "Linux" and platform.machine() == "x86_64"
_PROBE = ("from numba.cuda.cudadrv.nvvm import NVVM; NVVM(); "
          "from numba.cuda.cudadrv.nvrtc import get_supported_ccs; print(get_supported_ccs())")


def _compilers_available():
    p = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                       env=_env(), timeout=300)
    return p.returncode == 0, p.stderr[-2000:]


def test_cuda_compilers_installed_by_test_extra():
    """libNVVM and NVRTC load where the [test] extra installs them."""
    if not EXTRA_INSTALLS_COMPILERS:
        pytest.skip("the [test] extra installs the CUDA compilers on x86-64 Linux only")
    ok, err = _compilers_available()
    assert ok, "CUDA compilers missing although the [test] extra installs them:\n" + err


PTX_CASES = ["f64_trf_bounds_jac_stderr", "f32_lm_fd_elementwise", "f64_library_voigt"]
for _case in PTX_CASES:     # minutes of compiling each: on the other core (tests/_background.py)
    _background.job(f"ptx-{_case}", [sys.executable, os.path.join(HERE, "_cuda_ptx.py"), _case],
                    env=_env(), cwd=ROOT, timeout=1200)


@pytest.mark.skipif(not EXTRA_INSTALLS_COMPILERS and not _compilers_available()[0],
                    reason="libNVVM / NVRTC not found (no CUDA toolkit)")
@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.background(f"ptx-{c}"))
                                  for c in PTX_CASES])
def test_kernel_compiles_to_ptx(case):
    """float64 TRF with bounds, analytic Jacobian, pcov and stderr; float32 LM
    with finite differences and an elementwise model; a library model (the
    Voigt: complex arithmetic in its point function): each compiles to PTX
    for sm_90."""
    p = _background.result(f"ptx-{case}")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-5000:]
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("PTX ")][-1]
    assert int(line.split()[2]) > 10000


_LSMR_PTX = """
import numba.cuda.dispatcher as d
class _Device:
    compute_capability = (9, 0)
d.get_current_device = lambda: _Device()
from numba import cuda, float64, int64
from lsqcore._lsmr import lsmr_core, csr_mv, csr_rmv

def kern(data, indices, indptr, b, x, work, out):
    r = lsmr_core(csr_mv, csr_rmv, (data, indices, indptr), b, x, 0.0, 1e-8, 1e-8, 1e8, 50,
                  (work[:4], work[4:8], work[8:11], work[11:14], work[14:17], work[17:20]))
    out[0] = r[2]

F = float64[::1]
I = int64[::1]
ptx, _ = cuda.compile_ptx(kern, (F, I, I, F, F, F, F), cc=(9, 0))
assert ".entry" in ptx and ".target sm_90" in ptx
print("PTX lsmr", len(ptx))
"""


@pytest.mark.skipif(not EXTRA_INSTALLS_COMPILERS and not _compilers_available()[0],
                    reason="libNVVM / NVRTC not found (no CUDA toolkit)")
def test_lsmr_compiles_to_ptx():
    """LSMR allocates nothing, so a solver kernel can call it on the GPU: its
    CSR form compiles to PTX for sm_90 as a device function."""
    p = subprocess.run([sys.executable, "-c", _LSMR_PTX], capture_output=True, text=True,
                       env=_env(), timeout=600, cwd=ROOT)
    assert p.returncode == 0 and "PTX lsmr" in p.stdout, p.stderr[-3000:]
