from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvengine.errors import Corruption
from kvengine.record import Kind
from kvengine.wal import WalBatch, WalBuilder, WalObject, decode_wal, encode_wal

OPS = st.lists(
    st.tuples(st.sampled_from(Kind), st.binary(min_size=1, max_size=20), st.binary(max_size=30)),
    min_size=1,
    max_size=5,
).map(lambda ops: tuple((k, key, v if k == Kind.PUT else b"") for k, key, v in ops))
BATCHES = st.lists(st.builds(WalBatch, st.integers(1, 2**40), OPS), max_size=6).map(tuple)
OBJECTS = st.builds(
    WalObject,
    st.integers(1, 2**40),
    st.integers(0, 2**20),
    st.binary(min_size=16, max_size=16),
    BATCHES,
)


def sample() -> WalObject:
    return WalObject(
        7,
        3,
        bytes(range(16)),
        (
            WalBatch(100, ((Kind.PUT, b"apple", b"red"), (Kind.DELETE, b"pear", b""))),
            WalBatch(102, ((Kind.PUT, b"plum", b"\x00\xff"),)),
        ),
    )


@given(OBJECTS)
def test_round_trip(obj: WalObject) -> None:
    data = encode_wal(obj)
    assert decode_wal("wal/x", data) == obj
    builder = WalBuilder(obj.wal_id, obj.writer_epoch, obj.writer_id)
    for batch in obj.batches:
        builder.add(batch)
    assert builder.batch_count == len(obj.batches)
    assert builder.finish() == data
    assert builder.size_bytes == len(data)


def test_entries_get_consecutive_sequence_numbers() -> None:
    entries = list(sample().batches[0].entries())
    assert [(e.key, e.seq, e.kind) for e in entries] == [
        (b"apple", 100, Kind.PUT),
        (b"pear", 101, Kind.DELETE),
    ]


def test_golden_bytes() -> None:
    """The format is pinned: changing these bytes needs a new format version."""
    data = encode_wal(sample())
    assert hashlib.sha256(data).hexdigest() == (
        "fe18ee7d5c89e667d6eec64348835fc9d019570cd0e4f97994e1d3acdc419974"
    )
    assert data[:4] == b"STRW"


def test_every_flipped_byte_and_every_truncation_is_detected() -> None:
    data = encode_wal(sample())
    for i in range(len(data)):
        damaged = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]
        with pytest.raises(Corruption) as info:
            decode_wal("wal/00000000000000000007", damaged)
        assert info.value.object_name == "wal/00000000000000000007"
    for n in range(len(data)):
        with pytest.raises(Corruption):
            decode_wal("wal/7", data[:n])


def test_fence_object_has_no_batches() -> None:
    fence = WalBuilder(9, 2, b"\x01" * 16).finish()
    assert decode_wal("wal/9", fence).batches == ()
