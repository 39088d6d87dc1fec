"""lsqcore._bounds.nextafter (math-only, CUDA-compilable) equals np.nextafter bit for bit."""
import numpy as np

from lsqcore._bounds import nextafter


def test_nextafter_bitwise_equals_numpy():
    rng = np.random.default_rng(0)
    vals = np.concatenate([
        rng.standard_normal(2000) * 10.0 ** rng.integers(-300, 300, 2000),
        [0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -0.5, 5e-324, -5e-324, 1e-323, -1e-323,
         2.2250738585072014e-308, -2.2250738585072014e-308, 1.7976931348623157e308,
         -1.7976931348623157e308, np.inf, -np.inf, np.nan, 1e-310, 2.0 ** -1022]])
    targets = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 2.0, 1e-310, -1e-310]
    with np.errstate(all="ignore"):
        for a in vals:
            for b in targets + [a * 2, a / 2, -a]:
                r1 = np.float64(np.nextafter(a, b))
                r2 = np.float64(nextafter(a, b))
                assert (np.isnan(r1) and np.isnan(r2)) or r1.view(np.int64) == r2.view(np.int64), (a, b)
