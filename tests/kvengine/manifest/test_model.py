from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kvengine.manifest.model import Fence, Manifest, SortedRun, SSTMeta

WRITER = bytes(range(16))


def meta(
    sst_id: int, first: bytes = b"a", last: bytes = b"z", seqs: tuple[int, int] = (1, 5)
) -> SSTMeta:
    return SSTMeta(sst_id, 100 * sst_id, first, last, 5, seqs[0], seqs[1])


def with_l0(count: int) -> Manifest:
    """L0 SSTs 1..count (count newest), SST i holding seqs 10i..10i+9."""
    m = Manifest.empty()
    for i in range(1, count + 1):
        m = m.with_l0_flush(meta(i, seqs=(10 * i, 10 * i + 9)), i, 10 * i + 9)
    return m


def ids(m: Manifest) -> tuple[list[int], list[int]]:
    return [s.sst_id for s in m.l0], [r.run_id for r in m.runs]


def three_runs() -> Manifest:
    """Runs 3, 2, 1 (newest first) from compacting L0 three times, and two L0 SSTs."""
    m = Manifest.empty()
    seq, sst_id = 0, 1
    for run_id in (1, 2, 3):
        m = m.with_l0_flush(meta(sst_id, seqs=(seq + 1, seq + 10)), sst_id, seq + 10)
        run = SortedRun(run_id, (meta(sst_id + 1, seqs=(seq + 1, seq + 10)),))
        m = m.with_compaction(frozenset({sst_id}), frozenset(), run)
        seq, sst_id = seq + 10, sst_id + 2
    for _ in range(2):
        m = m.with_l0_flush(meta(sst_id, seqs=(seq + 1, seq + 10)), sst_id, seq + 10)
        seq, sst_id = seq + 10, sst_id + 1
    return m


# -- empty, claims -------------------------------------------------------------------------


def test_empty_manifest() -> None:
    m = Manifest.empty()
    m.check_invariants()
    assert (m.l0, m.runs, m.next_sst_id, m.next_run_id) == ((), (), 1, 1)
    assert m.live_sst_ids() == frozenset()
    assert m.total_bytes() == 0


def test_claims_raise_epochs_and_record_the_process() -> None:
    m = Manifest.empty().with_writer(1, WRITER)
    assert (m.writer_epoch, m.writer_id) == (1, WRITER)
    other = b"\xff" * 16
    m = m.with_compactor(4, other)
    assert (m.writer_epoch, m.compactor_epoch, m.writer_id) == (1, 4, other)


@pytest.mark.parametrize(
    ("claim", "epoch", "writer_id"),
    [
        ("with_writer", 2, WRITER),  # not above the current epoch (2)
        ("with_writer", 1, WRITER),
        ("with_compactor", 3, WRITER),
        ("with_writer", 3, b"short"),
        ("with_compactor", 4, b"x" * 17),
    ],
)
def test_claim_misuse(claim: str, epoch: int, writer_id: bytes) -> None:
    m = Manifest.empty().with_writer(2, WRITER).with_compactor(3, WRITER)
    with pytest.raises(ValueError):
        getattr(m, claim)(epoch, writer_id)


# -- flush -----------------------------------------------------------------------------------


def test_flush_adds_the_newest_l0_sst_and_moves_the_counters() -> None:
    m = with_l0(2)
    assert ids(m) == ([2, 1], [])
    assert (m.wal_replay_after, m.last_seq, m.next_sst_id) == (2, 29, 3)
    assert m.live_sst_ids() == {1, 2}
    assert m.total_bytes() == 300


def test_flush_may_skip_ids() -> None:
    """An id whose create-only PUT found an object (an orphan of a crashed writer) is skipped."""
    m = with_l0(1).with_l0_flush(meta(7, seqs=(20, 29)), 1, 29)
    assert (ids(m), m.next_sst_id) == (([7, 1], []), 8)


@pytest.mark.parametrize(
    ("sst", "replay_after", "last_seq", "message"),
    [
        (meta(2, seqs=(20, 29)), 2, 29, "below next_sst_id"),  # id already handed out
        (meta(1, seqs=(20, 29)), 2, 29, "below next_sst_id"),  # id in use
        (meta(3, seqs=(20, 29)), 1, 29, "replay point"),  # replay point goes back
        (meta(3, seqs=(20, 25)), 2, 25, "last_seq"),  # last_seq goes back
        (meta(3, seqs=(30, 40)), 2, 39, "above last_seq"),  # SST newer than last_seq
        (meta(3, seqs=(15, 18)), 2, 29, "older than the newest"),  # out of recency order
        (meta(3, b"z", b"a", (30, 39)), 2, 39, "first key"),  # caught by the backstop
    ],
)
def test_flush_misuse(sst: SSTMeta, replay_after: int, last_seq: int, message: str) -> None:
    m = with_l0(2)
    with pytest.raises(ValueError, match=message):
        m.with_l0_flush(sst, replay_after, last_seq)


# -- compaction ------------------------------------------------------------------------------


def test_the_fence_only_moves_forward_and_stays_within_the_replay_point() -> None:
    m = Manifest.empty().with_writer(3, WRITER).with_replay_point(10)
    assert m.fence == Fence()
    x, y = b"x" * 16, b"y" * 16
    m = m.with_fence(Fence(4, 2, x))
    assert m.fence == Fence(4, 2, x)
    assert m.with_fence(Fence(3, 2, y)).fence == Fence(4, 2, x)  # an earlier one: no change
    assert m.with_fence(Fence(5, 1, y)).fence == Fence(4, 2, x)  # older epoch: not in effect
    assert m.with_fence(Fence(9, 3, y)).fence == Fence(9, 3, y)
    overtaken = m.with_fence(Fence(4, 2, x, 6))
    assert overtaken.fence == Fence(4, 2, x, 6)  # the same fence, overtaken since
    assert overtaken.with_fence(Fence(4, 2, x)).fence == Fence(4, 2, x, 6)  # stays so
    assert Fence(4, 2, x, 6).at(5) == Fence(4, 2, x) and Fence(4, 2, x, 6).at(6).overtaken_at
    assert m.with_l0_flush(meta(1), 12, 5).fence == Fence(4, 2, x)  # carried over
    with pytest.raises(ValueError, match="up to the replay point"):
        m.with_fence(Fence(11, 3, y))
    with pytest.raises(ValueError, match="epoch up to"):
        m.with_fence(Fence(9, 4, y))
    with pytest.raises(ValueError, match="later overtaking id"):
        m.with_fence(Fence(4, 2, x, 11))


def test_compacting_oldest_l0_puts_the_run_first_among_runs() -> None:
    m = three_runs()
    assert ids(m) == ([8, 7], [3, 2, 1])
    run = SortedRun(10, (meta(20, b"a", b"k", (31, 40)), meta(21, b"l", b"z", (31, 40))))
    m2 = m.with_compaction(frozenset({7}), frozenset(), run)
    assert ids(m2) == ([8], [10, 3, 2, 1])
    assert (m2.next_sst_id, m2.next_run_id) == (22, 11)
    assert m2.live_sst_ids() == {8, 20, 21, 2, 4, 6}


def test_compacting_l0_with_the_newest_runs() -> None:
    m = three_runs()
    run = SortedRun(4, (meta(9, seqs=(11, 40)),))
    m2 = m.with_compaction(frozenset({7}), frozenset({3, 2}), run)
    assert ids(m2) == ([8], [4, 1])


def test_compacting_adjacent_runs_keeps_their_place() -> None:
    m = three_runs()
    run = SortedRun(4, (meta(9, seqs=(1, 20)),))
    assert ids(m.with_compaction(frozenset(), frozenset({1, 2}), run)) == ([8, 7], [3, 4])
    run = SortedRun(5, (meta(9, seqs=(11, 30)),))
    assert ids(m.with_compaction(frozenset(), frozenset({3, 2}), run)) == ([8, 7], [5, 1])


def test_compaction_that_leaves_nothing_removes_its_inputs() -> None:
    m = three_runs().with_compaction(frozenset({8, 7}), frozenset({3, 2, 1}), None)
    assert ids(m) == ([], [])
    assert (m.next_sst_id, m.next_run_id) == (9, 4)  # high-water marks never go back


@pytest.mark.parametrize(
    ("l0", "runs", "new_run", "message"),
    [
        ({8}, set(), SortedRun(4, (meta(9),)), "oldest L0"),
        ({99}, set(), None, "not in L0"),
        (set(), {99}, None, "do not exist"),
        (set(), set(), None, "at least one input"),
        (set(), {3, 1}, None, "adjacent"),
        ({7}, {2}, None, "newest run"),
        ({7}, set(), SortedRun(3, (meta(9),)), "next_run_id"),
        ({7}, set(), SortedRun(4, (meta(8),)), "next_sst_id"),  # id in use
        ({7}, set(), SortedRun(4, (meta(6),)), "next_sst_id"),  # id handed out before
        ({7}, set(), SortedRun(4, (meta(9), meta(9))), "twice"),
        ({7}, set(), SortedRun(4, ()), "no SSTs"),
        ({7}, set(), SortedRun(4, (meta(9, b"a", b"m"), meta(10, b"m", b"z"))), "overlap"),
        ({7}, set(), SortedRun(4, (meta(9, seqs=(61, 99)),)), "last_seq"),  # backstop
    ],
)
def test_compaction_misuse(
    l0: set[int], runs: set[int], new_run: SortedRun | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        three_runs().with_compaction(frozenset(l0), frozenset(runs), new_run)


def test_all_ssts_is_in_read_order() -> None:
    m = three_runs()
    assert [s.sst_id for s in m.all_ssts()] == [8, 7, 6, 4, 2]


# -- invariants ------------------------------------------------------------------------------


def _broken() -> list[tuple[Manifest, str]]:
    good = three_runs()
    run = good.runs[0]
    return [
        (replace(good, writer_id=b"x"), "writer id"),
        (replace(good, writer_epoch=-1), "negative"),
        (replace(good, l0=(*good.l0, good.l0[0])), "SST id appears twice"),
        (replace(good, runs=(*good.runs, good.runs[0])), "id appears twice"),
        (replace(good, next_sst_id=8), "next_sst_id"),
        (replace(good, l0=(meta(0, seqs=(1, 1)),)), "SST id is outside"),
        (replace(good, next_run_id=3), "next_run_id"),
        (replace(good, l0=(meta(8, b"z", b"a", (1, 1)),)), "first key"),
        (replace(good, l0=(meta(8, seqs=(5, 4)),)), "seqs"),
        (replace(good, last_seq=49), "last_seq"),
        (replace(good, l0=(replace(meta(8), size=-1),)), "negative size"),
        (replace(good, l0=tuple(reversed(good.l0))), "before newer"),
        (replace(good, runs=(SortedRun(3, ()),)), "holds no SSTs"),
        (
            replace(good, runs=(replace(run, ssts=(meta(2, b"a", b"m"), meta(4, b"m", b"z"))),)),
            "overlap",
        ),
        (
            replace(good, runs=(replace(run, ssts=(meta(2, b"n", b"z"), meta(4, b"a", b"m"))),)),
            "overlap",
        ),
    ]


@pytest.mark.parametrize("index", range(len(_broken())))
def test_check_invariants_names_what_is_broken(index: int) -> None:
    manifest, message = _broken()[index]
    with pytest.raises(ValueError, match=message):
        manifest.check_invariants()


# -- any sequence of transitions -------------------------------------------------------------


class Transitions(RuleBasedStateMachine):
    """Random flushes, compactions and claims keep every invariant, and keep read order equal
    to recency order: along L0 then the runs, each unit holds only older seqs than the last."""

    def __init__(self) -> None:
        super().__init__()
        self.m = Manifest.empty()

    @rule(count=st.integers(1, 50), skip=st.integers(0, 2), replay=st.integers(0, 3))
    def flush(self, count: int, skip: int, replay: int) -> None:
        m = self.m
        sst = meta(m.next_sst_id + skip, seqs=(m.last_seq + 1, m.last_seq + count))
        self.m = m.with_l0_flush(sst, m.wal_replay_after + replay, m.last_seq + count)

    @rule(data=st.data(), empty=st.booleans(), parts=st.integers(1, 3))
    def compact(self, data: st.DataObject, empty: bool, parts: int) -> None:
        m = self.m
        take_l0 = data.draw(st.integers(0, len(m.l0)))
        if take_l0:
            start, stop = 0, data.draw(st.integers(0, len(m.runs)))
        elif m.runs:
            start = data.draw(st.integers(0, len(m.runs) - 1))
            stop = data.draw(st.integers(start + 1, len(m.runs)))
        else:
            return
        inputs = [*m.l0[len(m.l0) - take_l0 :], *(s for r in m.runs[start:stop] for s in r.ssts)]
        seqs = (min(s.min_seq for s in inputs), max(s.max_seq for s in inputs))
        keys = [bytes([i]) for i in range(2 * parts)]
        ssts = tuple(
            meta(m.next_sst_id + i, keys[2 * i], keys[2 * i + 1], seqs) for i in range(parts)
        )
        new_run = None if empty else SortedRun(m.next_run_id, ssts)
        removed_l0 = frozenset(s.sst_id for s in m.l0[len(m.l0) - take_l0 :])
        removed_runs = frozenset(r.run_id for r in m.runs[start:stop])
        self.m = m.with_compaction(removed_l0, removed_runs, new_run)
        assert self.m.next_sst_id >= m.next_sst_id and self.m.next_run_id >= m.next_run_id

    @rule(writer=st.booleans())
    def claim(self, writer: bool) -> None:
        m = self.m
        if writer:
            self.m = m.with_writer(m.writer_epoch + 1, WRITER)
        else:
            self.m = m.with_compactor(m.compactor_epoch + 1, WRITER)

    @invariant()
    def invariants_hold(self) -> None:
        self.m.check_invariants()

    @invariant()
    def read_order_is_recency_order(self) -> None:
        units = [[s] for s in self.m.l0] + [list(r.ssts) for r in self.m.runs]
        for newer, older in itertools.pairwise(units):
            assert min(s.min_seq for s in newer) > max(s.max_seq for s in older)


Transitions.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_transitions = Transitions.TestCase
