"""Bounded linear least squares (:func:`lsqcore.lsq_linear`), one module per idea.

``dense`` (the minimum-norm and the regularized solutions from one pivoted
QR), ``trf`` (trust-region reflective, any ``A`` through its products),
``bvls`` (Stark and Parker's active-set method, dense ``A``) and
``_python`` (trf's source run as Python for a ``LinearOperator``).
"""
