"""pytest plugin: run scipy's own optimize tests with lsqcore swapped in.

Loaded as ``-p scipy_swap`` (with this directory on ``sys.path``) by
``tests/test_scipy_suite.py``, which runs the *installed* scipy's test files
(``scipy.optimize.tests.test_least_squares``, ``test_minpack::TestCurveFit``,
``test_minpack::TestLeastSq`` and ``test_lsq_linear``) in a subprocess.  Nothing of scipy's
tests is copied: the plugin only rebinds names before the tests run.

* In a test module, the names ``least_squares``, ``leastsq`` and
  ``lsq_linear`` are rebound
  to lsqcore's (``from scipy.optimize import least_squares`` bound them at
  import; the tests call them through the module's globals).
* scipy's ``curve_fit`` is kept (its tests are about curve_fit's own
  logic), but the solvers it calls, ``least_squares`` and ``leastsq`` in
  ``scipy.optimize._minpack_py``, are lsqcore's.  With the environment
  variable ``LSQCORE_SWAP_CURVE_FIT=1`` the test module's ``curve_fit`` is
  lsqcore's own as well.

With ``LSQCORE_SWAP_MODE=patch`` the plugin calls ``lsqcore.patch_scipy()``
instead, and nothing else (``tests/test_clients.py`` runs lmfit's released
test suite so, and scipy's suites through the patched names); with
``LSQCORE_SWAP_MODE=none`` it only reports (the baseline on scipy).

Every outcome is written as JSON (``nodeid -> outcome``) to the file named
by the environment variable ``LSQCORE_SWAP_REPORT``.
"""
import json
import os

import lsqcore

SWAPPED = ("least_squares", "leastsq", "lsq_linear")


def _lsqcore_functions():
    names = SWAPPED
    if os.environ.get("LSQCORE_SWAP_CURVE_FIT"):
        names += ("curve_fit",)          # lsqcore's own curve_fit in the test module
    return {name: getattr(lsqcore, name) for name in names if hasattr(lsqcore, name)}


_OUTCOMES = {}


def _mode():
    """``LSQCORE_SWAP_MODE``: ``swap`` (the default: the rebinding above), ``patch``
    (``lsqcore.patch_scipy()`` before collection, nothing else: how a user
    would run a client's tests on lsqcore) or ``none`` (only the report: the
    baseline run with scipy)."""
    return os.environ.get("LSQCORE_SWAP_MODE", "swap")


def pytest_configure(config):
    if _mode() == "patch":
        lsqcore.patch_scipy()
    if _mode() != "swap":
        return
    import scipy.optimize
    import scipy.optimize._minpack_py as minpack
    for name, fn in _lsqcore_functions().items():
        if name in SWAPPED:
            setattr(minpack, name, fn)
            setattr(scipy.optimize, name, fn)     # tests that call optimize.leastsq


def pytest_collection_modifyitems(session, config, items):
    if _mode() != "swap":
        return
    swaps = _lsqcore_functions()
    for item in items:
        module = getattr(item, "module", None)
        if module is None or not module.__name__.startswith("scipy.optimize.tests."):
            continue
        for name, fn in swaps.items():
            if name in vars(module):
                setattr(module, name, fn)


def pytest_runtest_logreport(report):
    """One outcome per test: the call's, or a failed/skipped setup or teardown."""
    if report.when == "call" or report.outcome != "passed":
        if _OUTCOMES.get(report.nodeid) in (None, "passed"):
            _OUTCOMES[report.nodeid] = "xfailed" if hasattr(report, "wasxfail") else report.outcome


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("LSQCORE_SWAP_REPORT")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(_OUTCOMES, fh, indent=1, sort_keys=True)


def run_pytest(args, cwd, report, env_extra=(), timeout=900):
    """Run pytest on ``args`` in a subprocess with this plugin loaded; return
    ``({nodeid: outcome}, stdout)``.  ``env_extra``: e.g. the mode."""
    import subprocess
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, LSQCORE_SWAP_REPORT=str(report),
               PYTHONPATH=os.pathsep.join([here, os.path.dirname(here),
                                           os.environ.get("PYTHONPATH", "")]))
    env.update(env_extra)
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-p", "scipy_swap", *args], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=timeout)
    assert os.path.exists(report), p.stdout[-4000:] + p.stderr[-4000:]
    with open(report, encoding="utf-8") as fh:
        outcomes = json.load(fh)
    assert outcomes, p.stdout[-4000:]
    return outcomes, p.stdout
