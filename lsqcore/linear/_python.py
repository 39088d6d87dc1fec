"""Running a compiled solver's source as Python, for operators Numba cannot see.

The linear solvers take their matrix products as function arguments
(``mv``, ``rmv``), so one source serves a dense, a compressed-column and a
Python ``LinearOperator`` matrix.  Compiled code cannot call a Python
object's methods, so with a ``LinearOperator`` the solver runs as Python:
:func:`python_twin` rebinds, in a private copy of the module's globals,
every inline helper of the module (those that receive the products) to its
Python source; the helpers that take only arrays stay compiled, so the
vector arithmetic is still compiled code.
"""
import types


def python_twin(func, module):
    """``func`` (a dispatcher of ``module``) as Python, its module's own
    dispatchers (whatever has the ``py_func`` of a function defined in
    ``module``: Numba's public attribute) as Python too."""
    g = dict(vars(module))
    for name, obj in vars(module).items():
        py_func = getattr(obj, "py_func", None)
        if isinstance(py_func, types.FunctionType) and py_func.__module__ == module.__name__:
            f = obj.py_func
            g[name] = types.FunctionType(f.__code__, g, f.__name__, f.__defaults__,
                                         f.__closure__)
    return g[func.py_func.__name__]


def operator_mv(A, v, out):
    """``out = [M diag(d); diag(c)] v`` for ``A = (M, d, c, aug)``, ``M`` a
    ``LinearOperator`` (the ``c`` rows only with ``aug``)."""
    M, d, c, aug = A
    m = M.shape[0]
    out[:m] = M.matvec(d * v).ravel()
    if aug:
        out[m:m + v.size] = c * v


def operator_rmv(A, u, out):
    """``out = [M diag(d); diag(c)]^T u`` (:func:`operator_mv`)."""
    M, d, c, aug = A
    m = M.shape[0]
    out[:] = d * M.rmatvec(u[:m]).ravel()
    if aug:
        out += c * u[m:m + out.size]
