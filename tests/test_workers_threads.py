"""``workers=k`` with a jitted residual: difference points on Numba's threads.

The finite-difference points of a jitted residual are evaluated on ``k`` of
Numba's threads in compiled code (:mod:`lsqcore._threads`).  Checked here:
the results are bitwise those of the serial solve (every method, 2- and
3-point, bounds, a jitted loss, an in-place residual) and agree with scipy's
``least_squares`` on the same problem; the points really run on more than
one thread; the caller's thread count is left as it was; a residual that
raises at a difference point raises the same error; a map-like ``workers``
is used as given, as for a Python residual.
"""
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pytest
import scipy.optimize

import lsqcore
from lsqcore._threads import thread_count

T = np.linspace(0.0, 4.0, 400)
Y = 2.0 * np.exp(-1.3 * T) + 0.5 * np.exp(-0.2 * T) + 0.01 * np.sin(7.0 * T)
P0 = np.array([1.0, 1.0, 1.0, 0.1])


@numba.njit(cache=True)
def two_exp(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] * np.exp(-p[3] * t) - y


def two_exp_py(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] * np.exp(-p[3] * t) - y


@numba.njit(cache=True)
def two_exp_into(p, out, t, y):
    for i in range(t.size):
        out[i] = p[0] * np.exp(-p[1] * t[i]) + p[2] * np.exp(-p[3] * t[i]) - y[i]


@numba.njit(cache=True)
def soft_l1(z):
    rho = np.empty((3, z.size))
    for i in range(z.size):
        s = 1.0 + z[i]
        rho[0, i] = 2.0 * (np.sqrt(s) - 1.0)
        rho[1, i] = s ** -0.5
        rho[2, i] = -0.5 * s ** -1.5
    return rho


@numba.njit
def tagged(p, t, y, seen):
    seen[numba.get_thread_id()] += 1.0
    return p[0] * np.exp(-p[1] * t) + p[2] * np.exp(-p[3] * t) - y


@numba.njit
def fails_above(p, t, y):
    if p[0] > 3.0:
        raise ValueError("p[0] above 3")
    return p[0] * np.exp(-p[1] * t) + p[2] * np.exp(-p[3] * t) - y


def _same(a, b):
    assert np.array_equal(a.x, b.x)
    assert a.cost == b.cost
    assert np.array_equal(a.fun, b.fun)
    assert np.array_equal(a.jac, b.jac)
    assert (a.nfev, a.njev, a.status) == (b.nfev, b.njev, b.status)


@pytest.mark.parametrize("method", ["trf", "dogbox", "lm"])
@pytest.mark.parametrize("jac", ["2-point", "3-point"])
@pytest.mark.parametrize("workers", [2, -1])
def test_threads_bitwise_equal_to_serial_and_close_to_scipy(method, jac, workers):
    kw = dict(args=(T, Y), method=method, jac=jac)
    if method != "lm":
        kw["bounds"] = ([0.0, 0.0, 0.0, 0.0], [5.0, 5.0, 5.0, 0.15])
    serial = lsqcore.least_squares(two_exp, P0, **kw)
    threaded = lsqcore.least_squares(two_exp, P0, workers=workers, **kw)
    _same(serial, threaded)
    ref = scipy.optimize.least_squares(two_exp_py, P0, **kw)
    assert threaded.success and ref.success
    np.testing.assert_allclose(threaded.cost, ref.cost, rtol=1e-8)
    np.testing.assert_allclose(threaded.x, ref.x, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("form", ["loss", "inplace"])
def test_threads_on_the_specialised_entry(form):
    """A jitted loss and an in-place residual take the per-model entry."""
    if form == "loss":
        fun, kw, ref_kw = two_exp, dict(loss=soft_l1), dict(loss="soft_l1")
    else:
        fun, kw, ref_kw = lsqcore.InPlace(two_exp_into, T.size), {}, {}
    serial = lsqcore.least_squares(fun, P0, args=(T, Y), **kw)
    threaded = lsqcore.least_squares(fun, P0, args=(T, Y), workers=2, **kw)
    _same(serial, threaded)
    ref = scipy.optimize.least_squares(two_exp_py, P0, args=(T, Y), **ref_kw)
    np.testing.assert_allclose(threaded.cost, ref.cost, rtol=1e-8)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="one Numba thread")
def test_points_run_on_several_threads_and_the_count_is_restored():
    before = numba.get_num_threads()
    seen = np.zeros(numba.config.NUMBA_NUM_THREADS)
    res = lsqcore.least_squares(tagged, P0, args=(T, Y, seen), workers=2)
    assert res.success
    assert np.count_nonzero(seen) == 2          # thread 0 (x0, trials) and one more
    assert numba.get_num_threads() == before
    seen[:] = 0.0
    lsqcore.least_squares(tagged, P0, args=(T, Y, seen))
    assert np.count_nonzero(seen) == 1          # serial: the calling thread only


def test_a_raising_point_raises_the_same_error_and_restores_the_count():
    before = numba.get_num_threads()
    x0 = np.array([3.0 - 1e-9, 1.0, 1.0, 0.1])       # the difference point crosses 3
    for workers in (None, 2):
        with pytest.raises(ValueError, match="above 3"):
            lsqcore.least_squares(fails_above, x0, args=(T, Y), workers=workers)
        assert numba.get_num_threads() == before


def test_map_like_workers_with_a_jitted_residual_is_used_as_given():
    calls = []

    def recording_map(f, points):
        points = list(points)
        calls.append(len(points))
        with ThreadPoolExecutor(2) as ex:
            return list(ex.map(f, points))

    res = lsqcore.least_squares(two_exp, P0, args=(T, Y), workers=recording_map)
    _same(res, lsqcore.least_squares(two_exp, P0, args=(T, Y)))
    assert calls and all(c == P0.size for c in calls)


def test_thread_count_is_clipped_to_numbas_pool():
    pool = numba.config.NUMBA_NUM_THREADS
    assert thread_count(None) == 1 and thread_count(1) == 1
    assert thread_count(10 ** 6) == pool
    assert 1 <= thread_count(-1) <= pool
    assert thread_count(print) == 1             # a map-like callable: not threads
