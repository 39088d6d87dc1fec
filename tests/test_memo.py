"""lsqcore._memo.Memo: the one memo class and its eviction rule (issue 15)."""
from lsqcore._memo import Memo


def test_memo_keeps_at_most_maxsize_dropping_the_oldest():
    m = Memo(2)
    made = []
    for k in "abcb":
        m.build(k, lambda k=k: made.append(k) or k.upper())
    assert list(m) == ["b", "c"] and made == ["a", "b", "c"]
    assert m.put("b", "B2") == "B2" and list(m) == ["b", "c"]   # (a present key: no drop)
    u = Memo()
    for i in range(1000):
        u.put(i, i)
    assert len(u) == 1000
