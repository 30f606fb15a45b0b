from __future__ import annotations

import pytest

from kvengine.manifest.model import Manifest, SortedRun, SSTMeta


def meta(sst_id: int, first: bytes = b"a", last: bytes = b"z", seq: int = 1) -> SSTMeta:
    return SSTMeta(sst_id, 100, first, last, 5, seq, seq + 4)


def test_flush_adds_newest_l0_and_moves_counters() -> None:
    m = Manifest.empty().with_l0_flush(meta(1), 4, 5).with_l0_flush(meta(2, seq=6), 6, 10)
    assert [s.sst_id for s in m.l0] == [2, 1]
    assert (m.wal_replay_after, m.last_seq, m.next_sst_id) == (6, 10, 3)
    m.check_invariants()


def test_flush_misuse() -> None:
    m = Manifest.empty().with_l0_flush(meta(5), 4, 5)
    with pytest.raises(ValueError):
        m.with_l0_flush(meta(3, seq=6), 5, 10)  # an id allocated before
    with pytest.raises(ValueError):
        m.with_l0_flush(meta(6, seq=6), 3, 10)  # replay point backwards
    with pytest.raises(ValueError):
        m.with_writer(0, b"\0" * 16)


def test_compaction_replaces_oldest_l0_and_runs() -> None:
    m = Manifest.empty()
    for i in range(1, 5):
        m = m.with_l0_flush(meta(i, seq=i * 10), i, i * 10 + 4)
    run = SortedRun(1, (meta(10, b"a", b"k"), meta(11, b"l", b"z")))
    m2 = m.with_compaction(frozenset({1, 2}), frozenset(), run)
    assert [s.sst_id for s in m2.l0] == [4, 3]
    assert m2.runs == (run,)
    assert (m2.next_sst_id, m2.next_run_id) == (12, 2)
    m2.check_invariants()
    with pytest.raises(ValueError, match="oldest"):
        m.with_compaction(frozenset({4}), frozenset(), None)
    run2 = SortedRun(2, (meta(12),))
    m3 = m2.with_compaction(frozenset({3, 4}), frozenset({1}), run2)
    assert (m3.l0, m3.runs) == ((), (run2,))
    assert m3.live_sst_ids() == {12}


def test_invariants_catch_overlapping_runs() -> None:
    bad = Manifest.empty().with_compaction(
        frozenset(), frozenset(), SortedRun(1, (meta(1, b"a", b"m"), meta(2, b"k", b"z")))
    )
    with pytest.raises(ValueError, match="overlap"):
        bad.check_invariants()
