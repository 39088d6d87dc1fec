"""The three algorithms, one module each: ``trf``, ``lm`` and ``gn``.

Each exposes the same four functions, called by the ask/tell kernel in
:mod:`lsqcore._kernel`:

``gtol_test(W, S)``
    After a new Jacobian and gradient: the first-order optimality test.
``factorize(W, S)``
    Scale the Jacobian and factor it for the steps of this iteration.
``trial(W, S)``
    Compute a trial step for the current radius (or line-search fraction)
    and write the trial point ``x_new``.
``evaluate(W, S, valid)``
    After ``f(x_new)``: accept or reject, update the radius, and test for
    termination.  ``valid`` is False for a non-finite residual.
"""
