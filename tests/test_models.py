"""The model library's tests (tests/_models_suite.py), run on the second core.

The suite compiles every library model in each of its calling forms (the
scipy, in-place, batch and Poisson wrappers): about two and a half minutes
into an empty Numba cache, where its run time is a few seconds.  It is a
pytest run of its own as a background job (tests/_background.py), whose
result this test reports; run it directly with
``python -m pytest tests/_models_suite.py``.
"""
import os
import sys

import pytest

import _background

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

_background.job("models", [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           os.path.join(HERE, "_models_suite.py")],
                cwd=ROOT, timeout=1200,
                env=dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get(
                    "PYTHONPATH", "")))


@pytest.mark.background("models")
def test_model_library_suite():
    """tests/_models_suite.py passes: exact Jacobians, fits against scipy,
    guesses, sums, entry points, Poisson maximum likelihood."""
    p = _background.result("models")
    tail = p.stdout[-6000:] + p.stderr[-3000:]
    assert p.returncode == 0, tail
    assert " passed" in p.stdout and "failed" not in p.stdout.splitlines()[-1], tail
