"""Per-trial records of a solve: the "execution table" of ``trace=True``.

The kernel appends one record per trial step into the workspace (see
:func:`lsqcore._kernel._record`); this module turns them into a table.
"""
import numpy as np

from . import _layout as L

FIELDS = ("iteration", "nfev", "cost", "cost_new", "actual_reduction",
          "predicted_reduction", "ratio", "step_norm", "gradient_norm",
          "radius", "damping", "outcome")
OUTCOMES = {1: "accepted", 0: "rejected", -1: "invalid"}


class Trace:
    """Records of every trial step.

    Attributes
    ----------
    iteration, nfev, cost, cost_new, actual_reduction, predicted_reduction,
    ratio, step_norm, gradient_norm, radius, damping : ndarray
        One entry per trial.  ``radius`` is the trust radius (the step
        length fraction for 'gn'), ``damping`` the Levenberg-Marquardt
        parameter.
    outcome : ndarray of str
        'accepted', 'rejected' or 'invalid' (non-finite residual).
    x : ndarray, shape (k, n)
        The trial points.
    """

    def __init__(self, columns, x):
        self._columns = columns
        self.x = x
        for k, v in columns.items():
            setattr(self, k, v)

    @classmethod
    def from_workspace(cls, W, S):
        n = int(S[L.N])
        k = int(S[L.TRACE_LEN])
        width = L.TRACE_FIELDS + n
        o = int(S[L.O_TRACE])
        rec = W[o:o + k * width].reshape(k, width).copy()
        cols = {}
        for i, name in enumerate(FIELDS):
            cols[name] = rec[:, i]
        for name in ("iteration", "nfev"):
            cols[name] = cols[name].astype(int)
        cols["outcome"] = np.array([OUTCOMES[int(c)] for c in rec[:, 11]], dtype=object)
        return cls(cols, rec[:, L.TRACE_FIELDS:])

    def __len__(self):
        return len(self.x)

    def as_dict(self):
        """A dict of arrays (one per field, plus ``x``)."""
        d = {k: v.copy() for k, v in self._columns.items()}
        d["x"] = self.x.copy()
        return d

    def __str__(self):
        head = (f"{'iter':>4} {'nfev':>5} {'cost':>12} {'trial cost':>12} {'ratio':>9} "
                f"{'step':>10} {'radius':>10} {'damping':>10}  action")
        lines = [head, "-" * len(head)]
        for i in range(len(self)):
            lines.append(
                f"{self.iteration[i]:>4d} {self.nfev[i]:>5d} {self.cost[i]:>12.5e} "
                f"{self.cost_new[i]:>12.5e} {self.ratio[i]:>9.3f} {self.step_norm[i]:>10.3e} "
                f"{self.radius[i]:>10.3e} {self.damping[i]:>10.3e}  {self.outcome[i]}")
        return "\n".join(lines)

    __repr__ = __str__
