"""The algorithms, one module each: ``trf``, ``lm``, ``gn`` and ``dogbox``, and
``trf_lsmr`` (trf's hooks with the model of ``lsmr_model``: ``tr_solver='lsmr'``).

Each supplies the same hooks, dispatched by :mod:`lsqcore._method` and
called by the minimizer's loop in :mod:`lsqcore._kernel` (the seam of Ceres
Solver's ``TrustRegionStrategy``): ``gtol_test``, ``factorize``,
``compute_step``, ``step_quality``, ``is_successful``, ``step_accepted``,
``step_rejected``, ``step_invalid`` and ``converged``.  See
:mod:`lsqcore._method` for what each does.  Termination tests are built
from the shared predicates of :mod:`lsqcore._stopping`.
"""
