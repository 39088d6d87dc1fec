"""Per-model wrappers from the disk cache, the bounds-checked first call, and
the first-use messages (issue 14, items 5-7).

The cache tests run fresh interpreters with ``XDG_CACHE_HOME`` pointing at
a temporary directory (so the wrappers start uncached while the kernel
comes from its usual cache) and a model module written to disk, as a user's
script would have it.
"""
import json
import logging
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from numba import njit
from numba.core.compiler_lock import global_compiler_lock

import lsqcore
from lsqcore import _log, _wrapcache

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODEL = textwrap.dedent('''
    import numpy as np
    from numba import njit

    @njit(cache=True)
    def resid(p, t, y):
        return p[0] * np.exp(-p[1] * t) + p[2] - y

    @njit(cache=True)
    def jac(p, t, y):
        J = np.empty((t.size, 3))
        e = np.exp(-p[1] * t)
        J[:, 0] = e
        J[:, 1] = -p[0] * t * e
        J[:, 2] = OFFSET_SLOPE
        return J
''')

CHILD = textwrap.dedent('''
    import json, sys, time
    import numpy as np
    import lsqcore
    from lsqcore import _cabi
    from model import resid, jac
    t = np.linspace(0, 4, 50)
    y = 2.5 * np.exp(-1.3 * t) + 0.5
    t0 = time.perf_counter()
    r = lsqcore.least_squares(resid, np.array([1.0, 1.0, 0.0]), args=(t, y), jac=jac)
    dt = time.perf_counter() - t0
    (w,) = _cabi._WRAPPERS.values()
    print(json.dumps(dict(x=r.x.tolist(), njev=int(r.njev), status=int(r.status),
                          hits=[w[0].cache_hits, w[1].cache_hits], seconds=dt)))
''')


def _run(tmp_path, code, extra_env=None):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    env.pop("NUMBA_CACHE_DIR", None)
    env.update(extra_env or {})
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=600, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    return out


def _child(tmp_path):
    out = _run(tmp_path, CHILD)
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def test_second_process_loads_the_wrappers_and_a_changed_model_is_recompiled(tmp_path):
    model = tmp_path / "model.py"
    model.write_text(MODEL.replace("OFFSET_SLOPE", "1.0"))
    first, _ = _child(tmp_path)
    assert first["hits"] == [0, 0]
    second, err = _child(tmp_path)
    assert second["hits"] == [1, 1], "the wrappers were compiled again in a new process"
    assert "compiling the C wrappers" not in err
    assert second["x"] == first["x"] and second["njev"] == first["njev"]
    np.testing.assert_allclose(first["x"], [2.5, 1.3, 0.5], rtol=1e-7)
    # the user edits the model (a wrong jac now): the wrapper must not be stale
    time.sleep(0.01)
    model.write_text(MODEL.replace("OFFSET_SLOPE", "0.0"))
    third, _ = _child(tmp_path)
    assert third["hits"] == [0, 0], "a stale wrapper was loaded for an edited model"
    assert third["x"] != first["x"]


CF_MODEL = textwrap.dedent('''
    import numpy as np
    from numba import njit

    @njit(cache=True)
    def f(t, a, b, c):
        return a * np.exp(-b * t) + c

    @njit(cache=True)
    def fj(t, a, b, c):
        J = np.empty((t.size, 3))
        e = np.exp(-b * t)
        J[:, 0] = e
        J[:, 1] = -a * t * e
        J[:, 2] = 1.0
        return J
''')

CF_CHILD = textwrap.dedent('''
    import json
    import numpy as np
    import lsqcore
    from lsqcore import _cabi, models
    from cfmodel import f, fj
    made = []
    for name in ("residual_wrapper", "jacobian_wrapper"):
        def spy(*a, _orig=getattr(_cabi, name), **k):
            w = _orig(*a, **k)
            made.append(w)
            return w
        setattr(_cabi, name, spy)
    t = np.linspace(0, 4, 50)
    y = 2.5 * np.exp(-1.3 * t) + 0.5 + 0.01 * np.cos(9 * t)
    lsqcore.curve_fit(f, t, y, jac=fj)
    lsqcore.curve_fit(models.gaussian, t - 2, np.exp(-(t - 2.2) ** 2))
    print(json.dumps([w.cache_hits for w in made]))
''')


def test_bounds_checked_twins_are_cached_too(tmp_path):
    """curve_fit with a jitted jac, and a library model: every C wrapper of the
    first fit, the bounds-checked twins' included, comes from the disk cache
    in the second process.  (Twins compiled without optimisation keep
    absolute addresses, which Numba does not cache: the curve_fit Jacobian's
    twin cost 0.5 s in every process until 2026-12-04.)"""
    (tmp_path / "cfmodel.py").write_text(CF_MODEL)
    first = json.loads(_run(tmp_path, CF_CHILD).stdout.strip().splitlines()[-1])
    second = json.loads(_run(tmp_path, CF_CHILD).stdout.strip().splitlines()[-1])
    assert len(first) == len(second) >= 8           # (fun, jac, and their twins, twice)
    assert set(first) == {0} and set(second) == {1}, (first, second)


def test_identity_follows_source_globals_and_callees(tmp_path):
    src = tmp_path / "m_ident.py"
    src.write_text("from numba import njit\nK = 2.0\n@njit\ndef h(x):\n    return K * x\n"
                   "@njit\ndef f(p):\n    return h(p)\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import m_ident
        a = _wrapcache.identity(m_ident.f)
        assert a is not None and a == _wrapcache.identity(m_ident.f)
        m_ident.K = 3.0                      # a global the callee reads
        assert _wrapcache.identity(m_ident.f) != a
        m_ident.K = object()                 # a value with no stable identity
        assert _wrapcache.identity(m_ident.f) is None
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("m_ident", None)
    ns = {"njit": njit}
    exec("@njit\ndef g(p):\n    return p\n", ns)
    assert _wrapcache.identity(ns["g"]) is None     # no source file: per-process compile


# -- the bounds-checked first call (item 5) ------------------------------------

@njit
def _reads_p5(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[5] - y


@njit
def _exp3(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] - y


@njit
def _jac_reads_p4(p, t, y):
    J = np.empty((t.size, 3))
    J[:, 0] = p[4]
    J[:, 1] = 0.0
    J[:, 2] = 1.0
    return J


@njit
def _inplace_over(p, out, t, y):
    for i in range(out.size + 1):
        out[i] = p[0] - 1.0


T = np.linspace(0, 4, 50)
Y = 2.5 * np.exp(-1.3 * T) + 0.5


@pytest.mark.parametrize("method", ["trf", "lm", "gn"])
def test_model_reading_out_of_bounds_raises_before_any_solve(method):
    with pytest.raises(IndexError, match=r"`fun` \(.*_reads_p5\) indexes an array out of "
                                         r"bounds at x0 \(n = 3\)"):
        lsqcore.least_squares(_reads_p5, np.array([1.0, 1.0, 0.0]), args=(T, Y),
                              method=method)


def test_jac_reading_out_of_bounds_is_named():
    with pytest.raises(IndexError, match=r"`jac` \(.*_jac_reads_p4\)"):
        lsqcore.least_squares(_exp3, np.array([1.0, 1.0, 0.0]), args=(T, Y),
                              jac=_jac_reads_p4)


def test_inplace_model_writing_past_out_is_caught():
    with pytest.raises(IndexError, match=r"`fun` \(.*_inplace_over\)"):
        lsqcore.least_squares(lsqcore.InPlace(_inplace_over, 50), np.array([1.0]),
                              args=(T, Y))


def test_checked_first_call_leaves_the_fit_unchanged():
    """The check runs the model once more; the solve (and its counts) are the
    same as scipy's on the same model."""
    from scipy.optimize import least_squares as sp
    r = lsqcore.least_squares(_exp3, np.array([1.0, 1.0, 0.0]), args=(T, Y))
    s = sp(_exp3.py_func, np.array([1.0, 1.0, 0.0]), args=(T, Y))
    np.testing.assert_allclose(r.x, s.x, rtol=1e-8)
    assert r.nfev == s.nfev


# -- first-use messages (item 6) ---------------------------------------------

def test_first_use_message_only_while_numba_compiles(monkeypatch, capsys):
    monkeypatch.setattr(_log, "DELAY", 0.05)
    monkeypatch.setattr(_log, "_SAID", set())
    monkeypatch.setattr(_log.logger, "propagate", False)    # (no handler: stderr)
    with _log.first_use("slow user code", "MSG-A"):
        time.sleep(0.3)                                       # slow, but no compile
    with _log.first_use("compile", "MSG-B"):
        with global_compiler_lock:
            time.sleep(0.3)
    with _log.first_use("compile", "MSG-B"):                  # said once only
        with global_compiler_lock:
            time.sleep(0.3)
    err = capsys.readouterr().err
    assert "MSG-A" not in err
    assert err.count("lsqcore: MSG-B") == 1


def test_only_the_first_call_per_key_is_watched(monkeypatch):
    """Later calls start no timer thread (one per call made a small fit with a
    Python residual 4x slower: 110 -> 450 us)."""
    monkeypatch.setattr(_log, "_SAID", set())
    with _log.first_use("k", "MSG"):
        assert _log._TIMERS
    with _log.first_use("k", "MSG"):
        assert not _log._TIMERS


def test_nested_first_use_messages_each_speak_for_their_compile(monkeypatch, capsys):
    """The demo's first run: the model's wrappers compile inside the solve,
    then the kernel; both are announced, each with its own message."""
    monkeypatch.setattr(_log, "DELAY", 0.05)
    monkeypatch.setattr(_log, "POLL", 0.05)
    monkeypatch.setattr(_log, "_SAID", set())
    monkeypatch.setattr(_log.logger, "propagate", False)
    with _log.first_use("kernel", "KERNEL"):
        with _log.first_use("model", "MODEL"):
            with global_compiler_lock:
                time.sleep(0.3)
        with global_compiler_lock:
            time.sleep(0.3)
    err = capsys.readouterr().err.splitlines()
    assert err == ["lsqcore: MODEL", "lsqcore: KERNEL"]


def test_first_use_message_goes_to_logging_when_configured(monkeypatch, caplog):
    monkeypatch.setattr(_log, "DELAY", 0.05)
    monkeypatch.setattr(_log, "_SAID", set())
    caplog.set_level(logging.INFO, logger="lsqcore")
    ns = {"njit": njit, "np": np}
    exec("@njit\ndef fresh(p, t, y):\n    return p[0] * np.cos(p[1] * t) - y\n", ns)
    lsqcore.least_squares(ns["fresh"], np.array([1.0, 1.0]), args=(T, Y))
    msgs = [r.getMessage() for r in caplog.records if r.name == "lsqcore"]
    assert any("compiling the C wrappers of `fresh`" in m and "every new process" in m
               for m in msgs), msgs


def test_a_cached_process_says_nothing(tmp_path):
    (tmp_path / "model.py").write_text(MODEL.replace("OFFSET_SLOPE", "1.0"))
    _child(tmp_path)
    out = _run(tmp_path, CHILD)
    assert "lsqcore:" not in out.stderr, out.stderr
