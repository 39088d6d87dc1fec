"""NIST StRD nonlinear regression problems.

The 27 problems of the NIST Statistical Reference Datasets (StRD) for
nonlinear regression: 8 of lower, 11 of average and 8 of higher difficulty,
each with two starting values (``start1`` far from, ``start2`` closer to the
solution) and parameters / residual sum of squares certified to 11
significant digits.  The data ship as JSON in ``data/nist/`` (fields are
described in the data README).

Conventions
-----------
* Parameters are called ``b`` (``b1..bp`` in NIST's text, ``b[0..p-1]``
  here); the residual is ``f = y - model(x, b)`` and ``args = (x, y)``.
* Nelson has two predictors and a logged response; its residual is
  ``f = log(y) - model(x1, x2, b)`` with ``args = (x1, x2, log(y))``: the
  third argument already holds ``log(y)``.
* ``cost_star = certified_rss / 2``.  For Lanczos1 the certified RSS
  (1.43e-25) cannot be reproduced from the 11-digit certified parameters:
  those give about 4e-21, because the RSS is so small that the rounding of
  the parameters dominates it.

References
----------
NIST Statistical Reference Datasets, Nonlinear Regression,
https://www.itl.nist.gov/div898/strd/nls/nls_main.shtml (public domain).
"""
from __future__ import annotations

import functools
import json
import os

import numpy as np

from ._nist_models import FAMILIES, PROBLEM_FAMILY
from ._problem import Problem

__all__ = ["nist", "nist_names"]

_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "nist")

#: NIST's own listing order (lower, average, higher difficulty interleaved
#: as on the StRD web page).
NIST_ORDER = (
    "Misra1a", "Chwirut2", "Chwirut1", "Lanczos3", "Gauss1", "Gauss2",
    "DanWood", "Misra1b", "Kirby2", "Hahn1", "Nelson", "MGH17", "Lanczos1",
    "Lanczos2", "Gauss3", "Misra1c", "Misra1d", "Roszman1", "ENSO", "MGH09",
    "Thurber", "BoxBOD", "Rat42", "MGH10", "Eckerle4", "Rat43", "Bennett5",
)

_LOWER = {name.lower(): name for name in NIST_ORDER}


def nist_names():
    """Names of the 27 NIST StRD nonlinear regression problems.

    Returns
    -------
    tuple of str
        In NIST's listing order.
    """
    return NIST_ORDER


def _arr(values):
    return np.ascontiguousarray(np.asarray(values, dtype=np.float64))


def nist(name):
    """Return the NIST StRD problem ``name`` as a :class:`Problem`.

    Parameters
    ----------
    name : str
        One of :func:`nist_names` (case-insensitive).

    Returns
    -------
    Problem
        With ``starts = (start1, start2)``, ``x_star`` the certified
        parameters, ``cost_star = certified_rss / 2``, ``difficulty``,
        ``certified_stddev``, ``certified_rss``, ``sig_digits`` and
        ``rss_sig_digits``.  The result is cached: repeated calls return
        the same object, so do not modify its arrays in place.
    """
    key = _LOWER.get(str(name).lower())
    if key is None:
        raise KeyError("unknown NIST StRD problem %r; known: %s"
                       % (name, ", ".join(NIST_ORDER)))
    return _load(key)


@functools.lru_cache(maxsize=None)
def _load(key):
    with open(os.path.join(_DATA_DIR, key + ".json")) as fh:
        d = json.load(fh)
    fun, jac = FAMILIES[PROBLEM_FAMILY[key]]
    y = _arr(d["y"])
    if d.get("response") == "log(y)":          # Nelson
        x1, x2 = (_arr(v) for v in d["x"])
        args = (x1, x2, _arr(np.log(y)))
        data_note = "args = (x1, x2, log(y)); f = log(y) - model"
    else:
        args = (_arr(d["x"]), y)
        data_note = "args = (x, y); f = y - model"
    n = int(d["n_params"])
    m = int(d["n_obs"])
    rss = float(d["certified_rss"])
    notes = ["model: " + d["model"], data_note]
    extra = d.get("notes")
    if extra:
        notes.extend(extra if isinstance(extra, list) else [extra])
    if key == "Lanczos1":
        notes.append("certified RSS 1.4308e-25 is not reproducible from the "
                     "11-digit certified parameters (they give ~4e-21)")
    return Problem(
        name=key,
        library="nist",
        fun=fun,
        jac=jac,
        args=args,
        m=m,
        n=n,
        starts=(_arr(d["start1"]), _arr(d["start2"])),
        bounds=(np.full(n, -np.inf), np.full(n, np.inf)),
        x_star=_arr(d["certified_params"]),
        cost_star=0.5 * rss,
        difficulty=d["difficulty"],
        source=d.get("source", "NIST StRD nonlinear regression, %s.dat" % key),
        certified_stddev=_arr(d["certified_stddev"]),
        certified_rss=rss,
        sig_digits=np.asarray(d.get("certified_params_sig_digits", [11] * n), dtype=int),
        rss_sig_digits=int(d.get("certified_rss_sig_digits", 11)),
        notes="; ".join(notes),
    )
