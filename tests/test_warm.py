"""The first use after installation: method entries compiled in a helper (lsqcore._warm).

The end-to-end check runs two fresh interpreters on one empty Numba cache
(on the second core, tests/_background.py): the first compiles the kernel
while its helper compiles the entries of 'trf' and 'lm' into a cache of its
own and copies them into the shared one; its 'trf' fit then loads the
entry from the cache, and the answer is the one of this process's
lsqcore, bit for bit.  The second interpreter finds the kernel cached and
starts no helper, and loads both entries.  The rest are unit checks of when
a helper starts and of how a waiting fit reads its reports.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import _background
import lsqcore
from lsqcore import _warm

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CHILD = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    import lsqcore, lsqcore._warm as W
    from lsqcore import _method, _layout as L
    started = len(W._HELPER) == 1
    t = np.linspace(0.0, 4.0, 50)
    y = 2.5 * np.exp(-1.3 * t) + 0.5 + 0.01 * np.sin(9 * t)
    r = lsqcore.least_squares(lambda p: p[0] * np.exp(-p[1] * t) + p[2] - y, [1.0, 1.0, 0.0])
    out = dict(started=started, x=[float(v).hex() for v in r.x], nfev=int(r.nfev),
               trf_hits=_method._ENTRIES[(L.TRF, L.TR_EXACT)].cache_hits)
    if started:
        h = W._HELPER[0]
        h.proc.wait()                 # (let it finish 'lm' as well)
        h.wait_for("lm")
        out.update(done=sorted(h.done), cache=h.cache)
    lsqcore.least_squares(lambda p: p[0] * np.exp(-p[1] * t) + p[2] - y, [1.0, 1.0, 0.0],
                          method="lm")
    out["lm_hits"] = _method._ENTRIES[(L.LM, L.TR_EXACT)].cache_hits
    print("RESULT " + json.dumps(out), flush=True)
""")

# two interpreters, one after the other, on one scratch cache
SCRIPT = textwrap.dedent(f"""
    import os, subprocess, sys
    env = dict(os.environ, PYTHONPATH={ROOT!r})
    env.pop("{_warm.SWITCH_ENV}", None)
    for _ in range(2):
        p = subprocess.run([sys.executable, "-c", {CHILD!r}], env=env, capture_output=True,
                           text=True, timeout=500)
        print(p.stdout, flush=True)
        if p.returncode:
            print(p.stderr, file=sys.stderr)
            sys.exit(p.returncode)
""")

_background.job("warm", [sys.executable, "-c", SCRIPT], cwd=ROOT, timeout=600,
                scratch_env="NUMBA_CACHE_DIR")


def _results(p):
    return [json.loads(ln[len("RESULT "):]) for ln in p.stdout.splitlines()
            if ln.startswith("RESULT ")]


@pytest.mark.background("warm")
def test_first_use_compiles_the_entries_in_a_helper_and_later_ones_load_them():
    p = _background.result("warm")
    assert p.returncode == 0, f"rc {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}"
    first, second = _results(p)
    t = np.linspace(0.0, 4.0, 50)
    y = 2.5 * np.exp(-1.3 * t) + 0.5 + 0.01 * np.sin(9 * t)
    ref = lsqcore.least_squares(lambda q: q[0] * np.exp(-q[1] * t) + q[2] - y, [1.0, 1.0, 0.0])
    # the first interpreter: a helper, whose 'trf' entry this fit loaded from the cache
    assert first["started"] and first["done"] == ["lm", "trf"]
    assert first["trf_hits"] == 1 and first["lm_hits"] == 1
    assert not os.path.exists(first["cache"])          # the helper's own cache is gone
    # the second: the kernel is cached, no helper; both entries load
    assert not second["started"]
    assert second["trf_hits"] == 1 and second["lm_hits"] == 1
    for r in (first, second):
        assert [float.fromhex(v) for v in r["x"]] == ref.x.tolist()
        assert r["nfev"] == ref.nfev


_MKDTEMP = __import__("tempfile").mkdtemp


def _uncached(x):
    """A function Numba has never cached."""
    return x


class _Closable(list):
    def close(self):
        pass


class _FakePopen:
    calls = []

    def __init__(self, argv, **kw):
        _FakePopen.calls.append((argv, kw))
        self.stdout = _Closable()

    def wait(self):
        return 0

    def poll(self):
        return 0


@pytest.fixture
def fake_popen(monkeypatch):
    _FakePopen.calls = []
    monkeypatch.setattr(_warm, "_popen", _FakePopen)
    monkeypatch.setattr(_warm, "_HELPER", [])
    monkeypatch.delenv(_warm.SWITCH_ENV, raising=False)
    monkeypatch.delenv(_warm.HELPER_ENV, raising=False)
    yield _FakePopen.calls
    for h in _warm._HELPER:
        h.stop()


def test_a_helper_starts_only_for_an_uncached_kernel_on_two_cores(fake_popen, monkeypatch):
    from lsqcore import _kernel
    monkeypatch.setattr(_warm, "_cores", lambda: 2)
    _warm.start(_kernel._advance_entry)             # cached here: nothing
    assert fake_popen == []
    monkeypatch.setenv(_warm.SWITCH_ENV, "0")
    _warm.start(_uncached)                          # switched off
    monkeypatch.delenv(_warm.SWITCH_ENV)
    monkeypatch.setattr(_warm, "_cores", lambda: 1)
    _warm.start(_uncached)                          # one core
    monkeypatch.setenv(_warm.HELPER_ENV, "1")
    monkeypatch.setattr(_warm, "_cores", lambda: 2)
    _warm.start(_uncached)                          # the helper starts none
    assert fake_popen == []
    monkeypatch.delenv(_warm.HELPER_ENV)

    def no_tmp(**kw):
        raise OSError("no temporary directory")
    monkeypatch.setattr(_warm.tempfile, "mkdtemp", no_tmp)
    _warm.start(_uncached)                          # nowhere to put its cache: none, no error
    assert fake_popen == [] and _warm._HELPER == []
    monkeypatch.setattr(_warm.tempfile, "mkdtemp", _MKDTEMP)
    _warm.start(_uncached)
    assert len(fake_popen) == 1 and len(_warm._HELPER) == 1
    argv, kw = fake_popen[0]
    env = kw["env"]
    assert argv[0] == sys.executable and "helper_main" in argv[-1]
    assert env[_warm.HELPER_ENV] == "1"
    cache = env["NUMBA_CACHE_DIR"]                  # its own cache, removed when it stops
    assert os.path.isdir(cache) and cache == _warm._HELPER[0].cache
    assert os.path.isdir(env[_warm.DEST_ENV])
    _warm._HELPER[0].stop()
    assert not os.path.exists(cache)


def test_a_fit_waits_only_for_what_the_helper_has_begun():
    code = ("import time; print('begin trf', flush=True); time.sleep(0.5); "
            "print('done trf', flush=True); time.sleep(0.5)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    helper = _warm._Helper(proc, os.path.join(HERE, "no-such-dir"))
    with helper.cond:
        helper.cond.wait_for(lambda: "trf" in helper.begun)
    assert helper.wait_for("lm") is False           # not begun: compile it yourself
    assert helper.wait_for("trf") is True           # begun: wait until it is done
    assert "done" not in helper.begun and helper.done == {"trf"}
    proc.wait()
    with helper.cond:
        helper.cond.wait_for(lambda: helper.over)
    assert helper.wait_for("lm") is False


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_forked_child_never_waits_for_its_parents_helper():
    """A child forked while the helper runs has no thread reading the helper's
    reports: it must compile for itself, not wait forever."""
    code = "import time; print('begin trf', flush=True); time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    helper = _warm._Helper(proc, os.path.join(HERE, "no-such-dir"))
    _warm._HELPER.append(helper)
    try:
        with helper.cond:
            helper.cond.wait_for(lambda: "trf" in helper.begun)
        pid = os.fork()
        if pid == 0:                                  # the child: must not block
            signal.alarm(20)                          # (a hang ends as a failure)
            os._exit(0 if _warm.wait_for("trf") is False and not _warm._HELPER else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        _warm._HELPER.remove(helper)
        proc.kill()
        proc.wait()
