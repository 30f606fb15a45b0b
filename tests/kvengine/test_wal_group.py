"""WalBuilder.add_writes (a group commit's writes in one call) against add() one batch at a
time: the same bytes, the same batches, and the same refusals."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvengine.committer import CommitRequest
from kvengine.record import MAX_SEQ, Kind
from kvengine.wal import KeyRange, Op, WalBatch, WalBuilder, WalObject, decode_wal

NAME = "wal/00000000000000000009"
WRITER = bytes(range(16))

OPS = st.lists(
    st.tuples(st.sampled_from(Kind), st.binary(min_size=1, max_size=20), st.binary(max_size=300)),
    min_size=1,
    max_size=4,
).map(lambda ops: tuple((k, key, v if k == Kind.PUT else b"") for k, key, v in ops))
RANGES = st.lists(
    st.tuples(st.binary(min_size=1, max_size=8), st.one_of(st.none(), st.binary(max_size=8))),
    max_size=3,
).map(tuple)


@dataclass
class Write:
    """What add_writes reads of a commit request."""

    ops: tuple[Op, ...]
    read_seq: int | None = None
    ranges: tuple[KeyRange, ...] = ()


def writes(max_read_seq: int) -> st.SearchStrategy[list[Write]]:
    """Blind writes, and transactions (read_seq below every batch's first sequence number)."""
    blind = st.builds(Write, OPS)
    txn = st.builds(Write, OPS, st.integers(0, max_read_seq), RANGES)
    return st.lists(st.one_of(blind, blind, txn), max_size=12)


def one_by_one(builder: WalBuilder, first_seq: int, group: list[Write]) -> list[WalBatch]:
    """The reference: add() of each write's batch, numbered in order."""
    batches = []
    seq = first_seq
    for w in group:
        batch = WalBatch(seq, w.ops, w.read_seq, w.ranges)
        builder.add(batch)
        batches.append(batch)
        seq += len(w.ops)
    return batches


FIRST_SEQS = st.one_of(
    st.integers(1, 2**32),
    st.integers(2**32 - 50, 2**40),  # msgpack uint32, then uint64
    st.integers(MAX_SEQ - 2**20, MAX_SEQ - 100),
)


@given(FIRST_SEQS, st.data())
def test_add_writes_equals_add_one_by_one(first_seq: int, data: st.DataObject) -> None:
    before = data.draw(writes(first_seq - 1), label="before")
    group = data.draw(writes(first_seq - 1), label="group")
    blind_only = data.draw(st.booleans(), label="blind only")
    if blind_only:
        group = [Write(w.ops) for w in group]
    fast, slow = WalBuilder(9, 3, WRITER), WalBuilder(9, 3, WRITER)
    one_by_one(fast, first_seq, before)
    one_by_one(slow, first_seq, before)
    start = first_seq + sum(len(w.ops) for w in before)
    got = fast.add_writes(start, group)
    expected = one_by_one(slow, start, group)
    assert got == expected
    assert all(type(b) is WalBatch for b in got)
    assert fast.size_bytes == slow.size_bytes and fast.batch_count == slow.batch_count
    data_bytes = fast.finish()
    assert data_bytes == slow.finish()
    assert len(data_bytes) == fast.size_bytes
    decoded = decode_wal(NAME, data_bytes)
    assert decoded.batches[len(before) :] == tuple(expected)


def test_add_writes_of_commit_requests() -> None:
    group = [CommitRequest(((Kind.PUT, b"k%d" % i, b"v" * i),), durable=False) for i in range(50)]
    group.append(CommitRequest(((Kind.DELETE, b"k1", b""), (Kind.PUT, b"k2", b"x"))))
    builder = WalBuilder(2, 1, WRITER)
    batches = builder.add_writes(2 << 24, group)
    assert [b.first_seq for b in batches] == [(2 << 24) + i for i in range(51)]
    obj = decode_wal(NAME, builder.finish())
    assert obj == WalObject(2, 1, WRITER, tuple(batches))
    assert [b.ops for b in obj.batches] == [r.ops for r in group]


def test_add_writes_of_nothing_adds_nothing() -> None:
    builder = WalBuilder(1, 1, WRITER)
    empty = builder.finish()
    assert builder.add_writes(5, []) == []
    assert builder.finish() == empty


PUT = (Kind.PUT, b"k", b"v")


@pytest.mark.parametrize(
    ("first_seq", "group"),
    [
        (5, [Write((PUT,)), Write(())]),  # a write of no ops
        (0, [Write((PUT,))]),  # sequence numbers start at 1
        (MAX_SEQ - 1, [Write((PUT,)), Write((PUT, PUT))]),  # past MAX_SEQ
        (5, [Write((PUT,)), Write((PUT,), None, ((b"a", None),))]),  # a blind write's ranges
        (5, [Write((PUT,)), Write((PUT,), 6)]),  # read_seq not below its batch
        (5, [Write((PUT,), 1), Write(())]),  # with a transaction in the group
    ],
)
def test_add_writes_refuses_what_add_refuses_and_adds_nothing(
    first_seq: int, group: list[Write]
) -> None:
    builder = WalBuilder(1, 1, WRITER)
    builder.add(WalBatch(1, (PUT,)))
    before = (builder.finish(), builder.size_bytes, builder.batch_count)
    with pytest.raises(ValueError):
        one_by_one(WalBuilder(1, 1, WRITER), first_seq, group)
    with pytest.raises(ValueError):
        builder.add_writes(first_seq, group)
    assert (builder.finish(), builder.size_bytes, builder.batch_count) == before
