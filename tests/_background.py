"""Slow subprocess checks, run on the second core while the suite runs on the first.

pytest runs one test at a time, so on CI's two cores one core is mostly
idle, while several checks are long single-threaded subprocesses (compiling
the GPU kernel to PTX, the CUDA simulator, the kernel under Numba's
boundscheck).  Each such check is declared once with :func:`job` when its
test module is imported; a test that needs it carries
``@pytest.mark.background(name)``.  After collection ``conftest.py`` starts
the jobs of the selected tests, one at a time, in a daemon thread (so they
occupy one core), and moves their tests to the end of the run; a test then
waits for its job with :func:`result`, which returns the
``subprocess.CompletedProcess`` (or starts the job itself when nothing did,
e.g. under ``pytest -p no:...`` or a direct call).
"""
import os
import shutil
import subprocess
import tempfile
import threading

_SPECS = {}
_RESULTS = {}
_DONE = {}
_STARTED = set()
_LOCK = threading.Lock()


def job(name, argv, *, env=None, cwd=None, timeout=600, scratch_env=None):
    """Declare the subprocess ``argv`` under ``name``; ``scratch_env``: the
    name of an environment variable set to a new empty directory for the
    run (removed after it)."""
    _SPECS[name] = dict(argv=list(argv), env=env, cwd=cwd, timeout=timeout,
                        scratch_env=scratch_env)
    _DONE.setdefault(name, threading.Event())


def _run(name):
    spec = _SPECS[name]
    # one core each: a job's first import starts no compile helper (lsqcore._warm;
    # tests/test_warm.py's job turns it on again for the interpreters it checks)
    env = dict(os.environ if spec["env"] is None else spec["env"], LSQCORE_WARM="0")
    scratch = None
    try:
        if spec["scratch_env"]:
            scratch = tempfile.mkdtemp(prefix=f"lsq-{name}-")
            env[spec["scratch_env"]] = scratch
        _RESULTS[name] = subprocess.run(spec["argv"], capture_output=True, text=True,
                                        env=env, cwd=spec["cwd"], timeout=spec["timeout"])
    except Exception as e:   # noqa: BLE001 - re-raised in the waiting test
        _RESULTS[name] = e
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        _DONE[name].set()


def start(names):
    """Run the declared jobs ``names`` one after another in a daemon thread."""
    with _LOCK:
        todo = [n for n in dict.fromkeys(names) if n in _SPECS and n not in _STARTED]
        _STARTED.update(todo)
    if todo:
        threading.Thread(target=lambda: [_run(n) for n in todo], daemon=True,
                         name="lsqcore-background-checks").start()


def result(name):
    """Wait for job ``name`` and return its ``CompletedProcess``."""
    if name not in _SPECS:
        raise KeyError(f"no background job {name!r} was declared")
    with _LOCK:
        run_here = name not in _STARTED
        _STARTED.add(name)
    if run_here:
        _run(name)
    _DONE[name].wait()
    r = _RESULTS[name]
    if isinstance(r, Exception):
        raise r
    return r
