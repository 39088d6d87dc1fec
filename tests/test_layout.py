"""The workspace table (lsqcore._layout.WORKSPACE) and what is derived from it.

* every array slot ``O_*`` of ``S`` has exactly one row (``O_TRACE`` comes last,
  sized by ``trace_cap``);
* ``init_layout`` places the present arrays back to back, in the table's
  order, without overlap, inside ``W`` of ``workspace_shape``'s size, right
  after the scalar registers; absent arrays take no room or share their alias;
* ``numpy_view`` gives each array with the table's shape at its offset
  (extents such as ``'m+n'`` included).
"""
import itertools

import numpy as np
import pytest

from lsqcore import _layout as L

SIZES = [(1, 1), (50, 3), (3, 5), (200, 8), (7, 1)]
FLAGS = list(itertools.product([False, True], [False, True], [False, True], [0, 4]))


def _dims(shape, m, n, nnz=-1, ngroups=0):
    k, g = (m * n, n) if nnz < 0 else (nnz, ngroups)

    def ext(e):
        return sum(c * v for c, v in zip(L._extent(e), (1, m, n, k, g)))
    return ext(shape[0]), ext(shape[1])


def test_every_array_slot_has_one_row():
    slots = sorted(v for k, v in vars(L).items()
                   if k.startswith("O_") and isinstance(v, int))
    rows = [L.LAYOUT[k, 0] for k in range(L.LAYOUT.shape[0])]
    assert len(rows) == len(set(rows))
    assert sorted(rows + [L.O_TRACE]) == slots
    assert L.S_SIZE == max(slots) + 1


@pytest.mark.parametrize("m,n", SIZES)
@pytest.mark.parametrize("robust,callable_loss,lsmr,trace_cap", FLAGS)
def test_offsets_sizes_and_views(m, n, robust, callable_loss, lsmr, trace_cap):
    if callable_loss and not robust:
        pytest.skip("a callable loss is a robust loss")
    tr = L.TR_LSMR if lsmr else L.TR_EXACT
    W, S = L.allocate(m, n, robust, callable_loss, trace_cap, tr)
    assert W.size == L.workspace_shape(m, n, robust, callable_loss, tr, trace_cap, -1, 0)[0]
    assert S.size == L.S_SIZE and (S[L.M], S[L.N]) == (m, n)
    end = L.N_SCALARS
    for name, shape, when, alias, meaning, _ in L.WORKSPACE:
        slot = getattr(L, name)
        present = {L.ALWAYS: True, L.ROBUST: robust, L.CALLABLE_LOSS: callable_loss,
                   L.LSMR: lsmr, L.DENSE: True, L.PRECOND: False}[when]
        if present:
            assert S[slot] == end, name              # back to back, in table order
            r, c = _dims(shape, m, n)
            view = L.numpy_view(W, S, name)
            assert view.shape == ((r,) if shape[1] == "1" else (r, c)), name
            assert view.base is W or view.base.base is W
            end += r * c
        elif alias == L.EMPTY:
            assert S[slot] == end, name              # zero-length, no room taken
        else:
            assert S[slot] == S[getattr(L, alias)], name
        assert meaning
    assert S[L.O_TRACE] == end
    assert W.size == end + trace_cap * (L.TRACE_FIELDS + n)


def test_documented_page_lists_every_row():
    text = L.workspace_markdown()
    for name, *_ in L.WORKSPACE:
        assert "`%s`" % name in text
    assert "`O_TRACE`" in text



@pytest.mark.parametrize("tr", [L.TR_LSMR, L.TR_LSMR_BJ])
@pytest.mark.parametrize("m,n,nnz,ngroups", [(7, 5, 13, 3), (200, 8, 400, 2), (1, 1, 0, 0)])
def test_sparse_layout(m, n, nnz, ngroups, tr):
    """A sparse J (``nnz >= 0``): J takes ``nnz`` floats, the difference buffers
    one row per group, the dense factors no room at all, the block-Jacobi
    arrays room only when asked for, and ``S`` holds the column pointers, row
    indices and groups after ``S_SIZE``."""
    W, S = L.allocate(m, n, False, False, 0, tr, nnz, ngroups)
    assert S[L.SPARSE] == 1 and (S[L.NNZ], S[L.NGROUPS]) == (nnz, ngroups)
    assert S.size == L.S_SIZE + n + 1 + nnz + n
    assert (S[L.I_CPTR], S[L.I_ROWS], S[L.I_GROUP]) == (L.S_SIZE, L.S_SIZE + n + 1,
                                                        L.S_SIZE + n + 1 + nnz)
    end = L.N_SCALARS
    for name, shape, when, alias, _, _ in L.WORKSPACE:
        slot = getattr(L, name)
        if when in (L.ALWAYS, L.LSMR) or (when == L.PRECOND and tr == L.TR_LSMR_BJ):
            assert S[slot] == end, name
            r, c = _dims(shape, m, n, nnz, ngroups)
            end += r * c
        elif alias == L.EMPTY:
            assert S[slot] == end, name              # the dense factors: no room
        else:
            assert S[slot] == S[getattr(L, alias)], name
    assert L.numpy_view(W, S, "O_J").shape == (nnz,)
    assert L.numpy_view(W, S, "O_B").shape == (ngroups, m)
    assert L.numpy_view(W, S, "O_XQ").shape == (ngroups, n)
    if tr == L.TR_LSMR_BJ:
        assert L.numpy_view(W, S, "O_PREC").shape == (n, 12)
    assert W.size == end
