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


def _dims(shape, m, n):
    def ext(e):
        c1, cm, cn = L._extent(e)
        return c1 + cm * m + cn * n
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
    W, S = L.allocate(m, n, robust, callable_loss, trace_cap, lsmr)
    assert W.size == L.workspace_shape(m, n, robust, callable_loss, lsmr, trace_cap)[0]
    assert S.size == L.S_SIZE and (S[L.M], S[L.N]) == (m, n)
    end = L.N_SCALARS
    for name, shape, when, alias, meaning, _ in L.WORKSPACE:
        slot = getattr(L, name)
        present = {L.ALWAYS: True, L.ROBUST: robust, L.CALLABLE_LOSS: callable_loss,
                   L.LSMR: lsmr}[when]
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

