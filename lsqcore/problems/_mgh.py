"""More-Garbow-Hillstrom (MGH) nonlinear least-squares test problems.

All 35 problems of the classic collection

    J. J. More, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
    optimization software", ACM Trans. Math. Software 7(1):17-41, 1981,
    doi:10.1145/355934.355936

written as residual vectors ``f(x)`` (the paper minimises
``F(x) = sum f_i(x)**2``; here the objective is the scipy cost
``0.5 * sum f_i**2``, so every minimum quoted by the paper is halved).

Dimensions
----------
The paper leaves ``m`` and/or ``n`` free for several functions; this module
fixes them (module constants below): Jennrich-Sampson m = 10, Gulf m = 10,
Box 3-D m = 10, Brown-Dennis m = 20, Biggs EXP6 m = 13, Watson n = 6,
n = 10 for the variable-dimension functions 23-31 and 21 (extended
Rosenbrock), n = 12 for extended Powell singular, m = 20, n = 10 for the
linear functions 32-34 and m = n = 8 for Chebyquad.

Starting points
---------------
``starts[0]`` is the paper's standard ``x0``.  The scaled points
``10 x0`` and ``100 x0`` (the paper's harder starts, also used by MINPACK's
test drivers) are added as ``starts[1:]``, except where ``x0 = 0``
(Watson) or where the cost overflows at the scaled point
(Jennrich-Sampson at ``100 x0``).

Minimisers
----------
``cost_star`` is the paper's f* / 2, computed here to full precision at
``x_star``; where the paper gives the minimiser exactly (Rosenbrock, Beale,
Wood, ...) ``x_star`` is that point, for Kowalik-Osborne, Meyer and
Osborne 1 it rounds to the NIST certified solution (NIST's MGH09, MGH10
and MGH17 are the same problems), and otherwise it is a minimiser refined
numerically (Levenberg-Marquardt in float64, then Newton's method on the
gradient in 60-digit arithmetic, or Newton's method on the square system
for the zero-residual problems) whose cost agrees with the paper's f* to
all the digits the paper gives; ``sig_digits`` is 15 (14 for minimisers
from float64 Newton).  Where the minimiser is not
unique (Box 3-D, linear rank 1, Brown almost-linear, Penalty I, ...) ``x_star``
is one representative.  Known non-global local minima (and limits at
infinity) are listed in ``Problem.local_minima`` and in the notes.

Known local minima
------------------
Values of the paper's F = sum f**2 (``local_minima`` holds F/2):

* Freudenstein-Roth: global F = 0 at (5, 4); local minimum
  F = 48.9842... at (11.4128..., -0.896805...), where trf/lm stop from x0.
* Bard: F = 8.21487e-3; F -> 17.4286 as (x2, x3) -> -inf (x1 = 0.8406...).
* Kowalik-Osborne: F = 3.07505e-4; F -> 1.02734e-3 at
  (+inf, -14.07..., -inf, -inf).
* Biggs EXP6 (m = 13): global F = 0 at (1, 10, 1, 5, 4, 3) (and at
  (4, 10, 3, 5, 1, 1)); local minimum F = 5.65565e-3.
* Trigonometric (n = 10): global F = 0; local minimum F = 2.79506e-5,
  where trf/lm stop from x0.
* Brown almost-linear: F = 0 at (1, ..., 1); F = 1 at (0, ..., 0, n+1).

Sign conventions and shared code
--------------------------------
Kowalik-Osborne, Meyer and Osborne 1 use the NIST MGH09, MGH10 and MGH17
model functions (``args = (t, y)``), so Meyer's residual is
``y - model`` where the paper writes ``model - y`` (same cost, Jacobian
negated).  Rosenbrock and Powell singular use the extended functions with
n = 2 and n = 4.

Gulf research and development function: the printed formula reads
``|y_i m i x_2|``; the function used (as in MINPACK-2 and most later
codes) is ``exp(-|y_i - x_2|**x_3 / x_1) - t_i``, which has the stated
zero at (50, 25, 1.5).
"""
from __future__ import annotations

import functools

import numpy as np

from . import _mgh_small as S
from . import _mgh_vardim as V
from . import _nist_models as NM
from ._problem import Problem

__all__ = ["mgh", "mgh_names"]

SOURCE = ("J. J. More, B. S. Garbow, K. E. Hillstrom, Testing unconstrained "
          "optimization software, ACM TOMS 7(1):17-41, 1981, problem %d")

# Module-level dimension choices (see the module docstring).
M_JENNRICH_SAMPSON = 10
M_GULF = 10
M_BOX3D = 10
M_BROWN_DENNIS = 20
M_BIGGS = 13
N_WATSON = 6
N_VARDIM = 10
N_EXT_POWELL = 12
M_LINEAR, N_LINEAR = 20, 10
N_CHEBYQUAD = 8


def _a(v):
    return np.ascontiguousarray(np.asarray(v, dtype=np.float64))


def _idx(m):
    return _a(np.arange(1, m + 1))


# ------------------------------------------------------------------ data
_BARD_Y = [0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58,
           0.73, 0.96, 1.34, 2.10, 4.39]
_GAUSSIAN_Y = [0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521,
               0.3989, 0.3521, 0.2420, 0.1295, 0.0540, 0.0175, 0.0044,
               0.0009]
_MEYER_Y = [34780., 28610., 23650., 19630., 16370., 13720., 11540., 9744.,
            8261., 7030., 6005., 5147., 4427., 3820., 3307., 2872.]
_KOWALIK_U = [4.0, 2.0, 1.0, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714,
              0.0625]
_KOWALIK_Y = [0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456,
              0.0342, 0.0323, 0.0235, 0.0246]
_OSBORNE1_Y = [0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850,
               0.818, 0.784, 0.751, 0.718, 0.685, 0.658, 0.628, 0.603,
               0.580, 0.558, 0.538, 0.522, 0.506, 0.490, 0.478, 0.467,
               0.457, 0.448, 0.438, 0.431, 0.424, 0.420, 0.414, 0.411,
               0.406]
_OSBORNE2_Y = [1.366, 1.191, 1.112, 1.013, 0.991, 0.885, 0.831, 0.847,
               0.786, 0.725, 0.746, 0.679, 0.608, 0.655, 0.616, 0.606,
               0.602, 0.626, 0.651, 0.724, 0.649, 0.649, 0.694, 0.644,
               0.624, 0.661, 0.612, 0.558, 0.533, 0.495, 0.500, 0.423,
               0.395, 0.375, 0.372, 0.391, 0.396, 0.405, 0.428, 0.429,
               0.523, 0.562, 0.607, 0.653, 0.672, 0.708, 0.633, 0.668,
               0.645, 0.632, 0.591, 0.559, 0.597, 0.625, 0.739, 0.710,
               0.729, 0.720, 0.636, 0.581, 0.428, 0.292, 0.162, 0.098,
               0.054]


def _gulf_args(m):
    t = np.arange(1, m + 1) / 100.0
    return (_a(t), _a(25.0 + (-50.0 * np.log(t)) ** (2.0 / 3.0)))


def _biggs_args(m):
    t = 0.1 * np.arange(1, m + 1)
    return (_a(t), _a(np.exp(-t) - 5.0 * np.exp(-10.0 * t) + 3.0 * np.exp(-4.0 * t)))


def _fill(n, v):
    return [float(v)] * n


def _std_start(n):
    """x0_j = j/(n+1) * (j/(n+1) - 1) (problems 28, 29)."""
    t = np.arange(1, n + 1) / (n + 1.0)
    return list(t * (t - 1.0))


# ------------------------------------------------------------------ table
# Each entry: number, name, fun, jac, args, x0, x_star (None: not known),
# digits (significant digits of x_star), f_paper (paper's f* = sum f**2),
# cost_star (0.5 sum f**2 at x_star, full precision), local_minima
# (costs), notes.
def _specs():
    n10 = N_VARDIM
    return [
        dict(no=1, name="rosenbrock", fun=V.ext_rosenbrock_fun,
             jac=V.ext_rosenbrock_jac, args=(), x0=[-1.2, 1.0],
             x_star=[1.0, 1.0], digits=15, f_paper=0.0,
             notes="m = n = 2; the extended Rosenbrock function with n = 2"),
        dict(no=2, name="freudenstein_roth", fun=S.freudenstein_roth_fun,
             jac=S.freudenstein_roth_jac, args=(), x0=[0.5, -2.0],
             x_star=[5.0, 4.0], digits=15, f_paper=0.0,
             local_minima=(24.49212683962,),
             notes="global f = 0 at (5, 4); local minimum f = 48.9842... at "
                   "(11.4128..., -0.896805...), where local solvers often stop"),
        dict(no=3, name="powell_badly_scaled", fun=S.powell_badly_scaled_fun,
             jac=S.powell_badly_scaled_jac, args=(), x0=[0.0, 1.0],
             x_star=[1.0981593296998175e-05, 9.106146739866524],
             digits=15, f_paper=0.0,
             notes="f = 0 at (1.098...e-5, 9.106...)"),
        dict(no=4, name="brown_badly_scaled", fun=S.brown_badly_scaled_fun,
             jac=S.brown_badly_scaled_jac, args=(), x0=[1.0, 1.0],
             x_star=[1e6, 2e-6], digits=15, f_paper=0.0, notes="m = 3"),
        dict(no=5, name="beale", fun=S.beale_fun, jac=S.beale_jac,
             args=(_a([1.5, 2.25, 2.625]),), x0=[1.0, 1.0],
             x_star=[3.0, 0.5], digits=15, f_paper=0.0,
             notes="m = 3; args = (y,)"),
        dict(no=6, name="jennrich_sampson", fun=S.jennrich_sampson_fun,
             jac=S.jennrich_sampson_jac, args=(_idx(M_JENNRICH_SAMPSON),),
             x0=[0.3, 0.4], x_star=[0.2578252136703641, 0.2578252136703641],
             digits=15, f_paper=124.362,
             notes="m = 10, args = (i = 1..m,); f = 124.362 at "
                   "x1 = x2 = 0.2578; cost overflows at 100 x0"),
        dict(no=7, name="helical_valley", fun=S.helical_valley_fun,
             jac=S.helical_valley_jac, args=(), x0=[-1.0, 0.0, 0.0],
             x_star=[1.0, 0.0, 0.0], digits=15, f_paper=0.0,
             notes="theta = arctan(x2/x1)/(2 pi) (+ 1/2 if x1 < 0)"),
        dict(no=8, name="bard", fun=S.bard_fun, jac=S.bard_jac,
             args=(_a(_BARD_Y),), x0=[1.0, 1.0, 1.0],
             x_star=[0.08241055974978893, 1.1330360920297216,
                     2.343695178642537],
             digits=15, f_paper=8.21487e-3, local_minima=(0.5 * 17.4286,),
             notes="m = 15, args = (y,); f = 8.21487e-3; also f -> 17.4286 "
                   "at (0.8406..., -inf, -inf)"),
        dict(no=9, name="gaussian", fun=S.gaussian_fun, jac=S.gaussian_jac,
             args=(_a((8.0 - np.arange(1, 16)) / 2.0), _a(_GAUSSIAN_Y)),
             x0=[0.4, 1.0, 0.0],
             x_star=[0.39895613783875666, 1.0000190844878056, 0.0],
             digits=15, f_paper=1.12793e-8,
             notes="m = 15, args = (t, y), t_i = (8 - i)/2"),
        dict(no=10, name="meyer", fun=NM.mgh10_fun, jac=NM.mgh10_jac,
             args=(_a(45.0 + 5.0 * np.arange(1, 17)), _a(_MEYER_Y)),
             x0=[0.02, 4000.0, 250.0],
             x_star=[0.005609636471028053, 6181.346346286372, 345.2236346241365],
             digits=15, f_paper=87.9458,
             notes="m = 16, args = (t, y), t_i = 45 + 5 i; NIST MGH10 model, "
                   "residual y - model (the paper has model - y); x_star "
                   "rounds to NIST's certified MGH10 solution"),
        dict(no=11, name="gulf", fun=S.gulf_fun, jac=S.gulf_jac,
             args=_gulf_args(M_GULF), x0=[5.0, 2.5, 0.15],
             x_star=[50.0, 25.0, 1.5], digits=15, f_paper=0.0,
             notes="Gulf research and development; m = 10, args = (t, y), "
                   "f_i = exp(-|y_i - x2|**x3 / x1) - t_i"),
        dict(no=12, name="box3d", fun=S.box3d_fun, jac=S.box3d_jac,
             args=(_a(0.1 * np.arange(1, M_BOX3D + 1)),), x0=[0.0, 10.0, 20.0],
             x_star=[1.0, 10.0, 1.0], digits=15, f_paper=0.0,
             notes="m = 10, args = (t,), t_i = i/10; f = 0 at (1, 10, 1), "
                   "(10, 1, -1) and wherever x1 = x2, x3 = 0"),
        dict(no=13, name="powell_singular", fun=V.ext_powell_singular_fun,
             jac=V.ext_powell_singular_jac, args=(), x0=[3.0, -1.0, 0.0, 1.0],
             x_star=[0.0, 0.0, 0.0, 0.0], digits=15, f_paper=0.0,
             notes="m = n = 4 (extended Powell singular with n = 4); the "
                   "Jacobian is singular at the solution"),
        dict(no=14, name="wood", fun=S.wood_fun, jac=S.wood_jac, args=(),
             x0=[-3.0, -1.0, -3.0, -1.0], x_star=[1.0, 1.0, 1.0, 1.0],
             digits=15, f_paper=0.0, notes="m = 6"),
        dict(no=15, name="kowalik_osborne", fun=NM.mgh09_fun,
             jac=NM.mgh09_jac, args=(_a(_KOWALIK_U), _a(_KOWALIK_Y)),
             x0=[0.25, 0.39, 0.415, 0.39],
             x_star=[0.19280693457903786, 0.19128232873436696,
                     0.12305650692632066, 0.13606233068379484],
             digits=15, f_paper=3.07505e-4, local_minima=(0.5 * 1.02734e-3,),
             notes="m = 11, args = (u, y); NIST MGH09 model, x_star rounds "
                   "to NIST's certified solution; also f -> 1.02734e-3 at (+inf, -14.07..., "
                   "-inf, -inf)"),
        dict(no=16, name="brown_dennis", fun=S.brown_dennis_fun,
             jac=S.brown_dennis_jac,
             args=(_a(np.arange(1, M_BROWN_DENNIS + 1) / 5.0),),
             x0=[25.0, 5.0, -5.0, -1.0], x_star=[-11.594439904762165, 13.203630051207204,
                     -0.40343948817685954, 0.2367787744557363],
             digits=15,
             f_paper=85822.2, notes="m = 20, args = (t,), t_i = i/5"),
        dict(no=17, name="osborne1", fun=NM.mgh17_fun, jac=NM.mgh17_jac,
             args=(_a(10.0 * np.arange(33)), _a(_OSBORNE1_Y)),
             x0=[0.5, 1.5, -1.0, 0.01, 0.02],
             x_star=[0.37541005210695205, 1.9358469127123674,
                     -1.464687136613423, 0.012867534640057288,
                     0.02212269966167261],
             digits=15, f_paper=5.46489e-5,
             notes="m = 33, args = (t, y), t_i = 10 (i - 1); NIST MGH17 "
                   "model; x_star rounds to NIST's certified solution"),
        dict(no=18, name="biggs_exp6", fun=S.biggs_exp6_fun,
             jac=S.biggs_exp6_jac, args=_biggs_args(M_BIGGS),
             x0=[1.0, 2.0, 1.0, 1.0, 1.0, 1.0],
             x_star=[1.0, 10.0, 1.0, 5.0, 4.0, 3.0], digits=15, f_paper=0.0,
             local_minima=(2.82782496275e-03,),
             notes="m = 13, args = (t, y), t_i = i/10; global f = 0 at "
                   "(1, 10, 1, 5, 4, 3) and (4, 10, 3, 5, 1, 1); local minimum "
                   "f = 5.65565e-3"),
        dict(no=19, name="osborne2", fun=S.osborne2_fun, jac=S.osborne2_jac,
             args=(_a(np.arange(65) / 10.0), _a(_OSBORNE2_Y)),
             x0=[1.3, 0.65, 0.65, 0.7, 0.6, 3.0, 5.0, 7.0, 2.0, 4.5, 5.5],
             x_star=[1.3099771546273005, 0.4315537946029889, 0.633661698960724,
                     0.5994305347859163, 0.7541832263280113, 0.9042885798596336,
                     1.3658118352370285, 4.8236988172271555, 2.3986848661317546,
                     4.568874597667672, 5.6753414705806415],
             digits=15, f_paper=4.01377e-2,
             notes="m = 65, args = (t, y), t_i = (i - 1)/10"),
        dict(no=20, name="watson", fun=V.watson_fun, jac=V.watson_jac,
             args=(_a(np.arange(1, 30) / 29.0),), x0=_fill(N_WATSON, 0.0),
             x_star=[-0.015725086401458456, 1.0124348693691099,
                     -0.2329916259567377, 1.2604300877996084, -1.5137289227222797,
                     0.9929964324311346],
             digits=15, f_paper=2.28767e-3,
             notes="n = 6, m = 31, args = (t,), t_i = i/29 (i = 1..29)"),
        dict(no=21, name="extended_rosenbrock", fun=V.ext_rosenbrock_fun,
             jac=V.ext_rosenbrock_jac, args=(), x0=[-1.2, 1.0] * (n10 // 2),
             x_star=_fill(n10, 1.0), digits=15, f_paper=0.0,
             notes="m = n = 10"),
        dict(no=22, name="extended_powell_singular",
             fun=V.ext_powell_singular_fun, jac=V.ext_powell_singular_jac,
             args=(), x0=[3.0, -1.0, 0.0, 1.0] * (N_EXT_POWELL // 4),
             x_star=_fill(N_EXT_POWELL, 0.0), digits=15, f_paper=0.0,
             notes="m = n = 12; singular Jacobian at the solution"),
        dict(no=23, name="penalty1", fun=V.penalty1_fun, jac=V.penalty1_jac,
             args=(), x0=list(np.arange(1.0, n10 + 1)), x_star=_fill(n10, 0.15812230111311634),
             digits=15, f_paper=7.08765e-5,
             notes="n = 10, m = 11, a = 1e-5"),
        dict(no=24, name="penalty2", fun=V.penalty2_fun, jac=V.penalty2_jac,
             args=(), x0=_fill(n10, 0.5), x_star=[0.1999836051978236, 0.010350648471292297,
                     0.019604934480438402, 0.03208906722068565,
                     0.049932677399641294, 0.07651399515399361,
                     0.11862407286950417, 0.19214487233557667,
                     0.34732058694184365, 0.3691643741593508],
             digits=15,
             f_paper=2.93660e-4, notes="n = 10, m = 20, a = 1e-5"),
        dict(no=25, name="variably_dimensioned",
             fun=V.variably_dimensioned_fun, jac=V.variably_dimensioned_jac,
             args=(), x0=list(1.0 - np.arange(1, n10 + 1) / n10),
             x_star=_fill(n10, 1.0), digits=15, f_paper=0.0,
             notes="n = 10, m = 12"),
        dict(no=26, name="trigonometric", fun=V.trigonometric_fun,
             jac=V.trigonometric_jac, args=(), x0=_fill(n10, 1.0 / n10),
             x_star=[0.047911947303727276, 0.04918451816663754,
                     0.05060870289457068, 0.052223049389788355,
                     0.05408309229485856, 0.056273303466300946,
                     0.058932138535340704, 0.18639700138447582,
                     0.1543419604011382, 0.1246253769630724],
             digits=14, f_paper=0.0,
             local_minima=(1.3975280609389e-05,),
             notes="n = m = 10; global f = 0; from x0 local solvers "
                   "typically stop at the local minimum f = 2.79506e-5"),
        dict(no=27, name="brown_almost_linear", fun=V.brown_almost_linear_fun,
             jac=V.brown_almost_linear_jac, args=(), x0=_fill(n10, 0.5),
             x_star=_fill(n10, 1.0), digits=15, f_paper=0.0,
             local_minima=(0.5,),
             notes="n = m = 10; f = 0 at (a, ..., a, a**(1-n)) with "
                   "n a**n - (n+1) a**(n-1) + 1 = 0, e.g. a = 1; f = 1 at "
                   "(0, ..., 0, n+1)"),
        dict(no=28, name="discrete_boundary_value",
             fun=V.discrete_boundary_value_fun,
             jac=V.discrete_boundary_value_jac, args=(), x0=_std_start(n10),
             x_star=[-0.043164982518764876, -0.08157715653538687,
                     -0.11448571438052929, -0.14097357686259668,
                     -0.15990869618198314, -0.16987720231277492,
                     -0.16908998378120835, -0.15524953522183182,
                     -0.12535589167893502, -0.0754165336858921],
             digits=14, f_paper=0.0, notes="n = m = 10"),
        dict(no=29, name="discrete_integral_equation",
             fun=V.discrete_integral_equation_fun,
             jac=V.discrete_integral_equation_jac, args=(),
             x0=_std_start(n10), x_star=[-0.04316498251876486, -0.08157715653538687,
                     -0.11448571438052929, -0.14097357686259668,
                     -0.1599086961819831, -0.16987720231277492,
                     -0.16908998378120835, -0.15524953522183182,
                     -0.125355891678935, -0.07541653368589205],
             digits=14, f_paper=0.0,
             notes="n = m = 10"),
        dict(no=30, name="broyden_tridiagonal",
             fun=V.broyden_tridiagonal_fun, jac=V.broyden_tridiagonal_jac,
             args=(), x0=_fill(n10, -1.0), x_star=[-0.5707221320112248, -0.681806949984275,
                     -0.7022100760176601, -0.7055106298950804,
                     -0.7049061557287437, -0.7014966070298512,
                     -0.6918893223547983, -0.6657965144058537,
                     -0.5960351090263657, -0.4164122575286933],
             digits=14,
             f_paper=0.0, notes="n = m = 10"),
        dict(no=31, name="broyden_banded", fun=V.broyden_banded_fun,
             jac=V.broyden_banded_jac, args=(), x0=_fill(n10, -1.0),
             x_star=[-0.4283028635872503, -0.47659642435629024,
                     -0.5196524636468618, -0.5580993248321809,
                     -0.5925061568294574, -0.624503682199468, -0.6232394714405911,
                     -0.6213938417965735, -0.6204535966590874,
                     -0.5864692707204351],
             digits=14, f_paper=0.0,
             notes="n = m = 10, ml = 5, mu = 1"),
        dict(no=32, name="linear_full_rank", fun=V.linear_full_rank_fun,
             jac=V.linear_full_rank_jac, args=(_idx(M_LINEAR),),
             x0=_fill(N_LINEAR, 1.0), x_star=_fill(N_LINEAR, -1.0),
             digits=15, f_paper=float(M_LINEAR - N_LINEAR),
             notes="m = 20, n = 10, args = (i = 1..m,); f = m - n at x = -1"),
        dict(no=33, name="linear_rank1", fun=V.linear_rank1_fun,
             jac=V.linear_rank1_jac, args=(_idx(M_LINEAR),),
             x0=_fill(N_LINEAR, 1.0),
             x_star=_fill(N_LINEAR, 3.0 / ((2 * M_LINEAR + 1)
                                           * N_LINEAR * (N_LINEAR + 1) / 2)),
             digits=15,
             f_paper=M_LINEAR * (M_LINEAR - 1) / (2.0 * (2 * M_LINEAR + 1)),
             notes="m = 20, n = 10, args = (i = 1..m,); f = m(m-1)/(2(2m+1)) "
                   "wherever sum j x_j = 3/(2m+1) (x_star is one such point)"),
        dict(no=34, name="linear_rank1_zero", fun=V.linear_rank1_zero_fun,
             jac=V.linear_rank1_zero_jac, args=(_idx(M_LINEAR),),
             x0=_fill(N_LINEAR, 1.0),
             x_star=[0.0] + _fill(N_LINEAR - 2, 3.0 / ((2 * M_LINEAR - 3) * (
                 N_LINEAR * (N_LINEAR - 1) / 2 - 1))) + [0.0],
             digits=15,
             f_paper=(M_LINEAR ** 2 + 3 * M_LINEAR - 6) / (2.0 * (2 * M_LINEAR - 3)),
             notes="linear function, rank 1 with zero columns and rows; "
                   "m = 20, n = 10, args = (i = 1..m,); f = (m^2+3m-6)/(2(2m-3)) "
                   "wherever sum_{j=2}^{n-1} j x_j = 3/(2m-3)"),
        dict(no=35, name="chebyquad", fun=V.chebyquad_fun,
             jac=V.chebyquad_jac, args=(),
             x0=list(np.arange(1, N_CHEBYQUAD + 1) / (N_CHEBYQUAD + 1.0)),
             x_star=[0.04315276015101663, 0.1930908403841861,
                     0.26632870689027294, 0.5, 0.5, 0.7336712931097271,
                     0.8069091596158139, 0.9568472398489833],
             digits=15, f_paper=3.51687e-3,
             notes="m = n = 8"),
    ]


def mgh_names():
    """Names of the MGH problems, in the paper's order (1-35).

    Returns
    -------
    tuple of str
    """
    return tuple(s["name"] for s in _specs_cached())


@functools.lru_cache(maxsize=None)
def _specs_cached():
    return tuple(_specs())


def _scaled_starts(fun, args, x0):
    starts = [x0]
    if np.any(x0 != 0.0):
        for factor in (10.0, 100.0):
            xs = factor * x0
            with np.errstate(all="ignore"):
                f = fun(xs, *args)
                cost = 0.5 * float(np.dot(f, f))
            if np.isfinite(cost):
                starts.append(xs)
    return tuple(starts)


def mgh(name):
    """Return the More-Garbow-Hillstrom problem ``name`` as a :class:`Problem`.

    Parameters
    ----------
    name : str
        One of :func:`mgh_names` (case-insensitive; ``-`` and spaces are
        read as ``_``).

    Returns
    -------
    Problem
        ``library = "mgh"``, ``difficulty = ""``; see the module docstring
        for the starts, ``x_star`` and ``cost_star`` conventions.  The
        result is cached; do not modify its arrays in place.
    """
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    if key not in mgh_names():
        raise KeyError("unknown MGH problem %r; known: %s"
                       % (name, ", ".join(mgh_names())))
    return _build(key)


@functools.lru_cache(maxsize=None)
def _build(key):
    s = next(s for s in _specs_cached() if s["name"] == key)
    args = tuple(s["args"])
    x0 = _a(s["x0"])
    n = x0.shape[0]
    fun, jac = s["fun"], s["jac"]
    m = int(fun(x0, *args).shape[0])
    x_star = None if s["x_star"] is None else _a(s["x_star"])
    if s["f_paper"] == 0.0:
        cost_star = 0.0                 # exact zero-residual problem
    else:                               # full precision at the minimiser
        f = fun(x_star, *args)
        cost_star = 0.5 * float(np.dot(f, f))
    return Problem(
        name=s["name"],
        library="mgh",
        fun=fun,
        jac=jac,
        args=args,
        m=m,
        n=n,
        starts=_scaled_starts(fun, args, x0),
        bounds=(np.full(n, -np.inf), np.full(n, np.inf)),
        x_star=x_star,
        cost_star=float(cost_star),
        difficulty="",
        source=SOURCE % s["no"],
        sig_digits=None if x_star is None else np.full(n, s["digits"], dtype=int),
        rss_sig_digits=None,
        local_minima=tuple(float(c) for c in s.get("local_minima", ())),
        notes="paper f* = %r (sum of squares); %s" % (s["f_paper"], s["notes"]),
    )
