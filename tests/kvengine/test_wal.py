from __future__ import annotations

import hashlib
from dataclasses import replace

import google_crc32c
import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvengine.errors import Corruption
from kvengine.record import MAX_SEQ, Entry, Kind
from kvengine.wal import (
    BATCH_HEADER,
    FORMAT_VERSION,
    HEADER,
    MAGIC,
    TRAILER,
    WalBatch,
    WalBuilder,
    WalObject,
    decode_wal,
    encode_wal,
)

NAME = "wal/00000000000000000007"
WRITER = bytes(range(16))
# sample() as format version 1 wrote it (flat payload: first_seq, kind, key, value, ...).
GOLDEN_V1 = bytes.fromhex(
    "535452570100000007000000000000000300000000000000000102030405060708090a0b0c0d0e0f"
    "180000008006d8dc976401c4056170706c65c40372656400c40470656172c4000d0000004d9c3dc0"
    "946601c404706c756dc40200ff020000003a74d708"
)

OPS = st.lists(
    st.tuples(st.sampled_from(Kind), st.binary(min_size=1, max_size=20), st.binary(max_size=30)),
    min_size=1,
    max_size=5,
).map(lambda ops: tuple((k, key, v if k == Kind.PUT else b"") for k, key, v in ops))
RANGES = st.lists(
    st.tuples(st.binary(min_size=1, max_size=8), st.one_of(st.none(), st.binary(max_size=8))),
    max_size=3,
).map(tuple)
BLIND = st.builds(WalBatch, st.integers(1, MAX_SEQ - 4), OPS, st.none(), st.just(()))
TXNS = st.integers(1, MAX_SEQ - 4).flatmap(
    lambda first: st.builds(WalBatch, st.just(first), OPS, st.integers(0, first - 1), RANGES)
)
BATCHES = st.one_of(BLIND, TXNS)
OBJECTS = st.builds(
    WalObject,
    st.integers(1, 2**64 - 1),
    st.integers(0, 2**64 - 1),
    st.binary(min_size=16, max_size=16),
    st.lists(BATCHES, max_size=6).map(tuple),
)


def sample() -> WalObject:
    return WalObject(
        7,
        3,
        WRITER,
        (
            WalBatch(100, ((Kind.PUT, b"apple", b"red"), (Kind.DELETE, b"pear", b""))),
            WalBatch(102, ((Kind.PUT, b"plum", b"\x00\xff"),)),
            WalBatch(103, ((Kind.PUT, b"fig", b"1"),), 90, ((b"f", b"g"), (b"z", None))),
        ),
    )


def sample_v2() -> bytes:
    """sample()'s first two batches as format version 2 wrote them."""
    return frame(
        [
            msgpack.packb([100, [[1, b"apple", b"red"], [0, b"pear", b""]]]),
            msgpack.packb([102, [[1, b"plum", b"\x00\xff"]]]),
        ],
        version=2,
    )


def frame(
    payloads: list[bytes], *, version: int = FORMAT_VERSION, flags: int = 0, count: int = -1
) -> bytes:
    """A WAL object around raw batch payloads, with every checksum correct."""
    parts = [HEADER.pack(MAGIC, version, flags, 7, 3, WRITER)]
    for payload in payloads:
        parts += (BATCH_HEADER.pack(len(payload), google_crc32c.value(payload)), payload)
    body = b"".join(parts) + (len(payloads) if count < 0 else count).to_bytes(4, "little")
    return body + int(google_crc32c.value(body)).to_bytes(4, "little")


def batch_boundaries(data: bytes) -> list[int]:
    """Offsets at which each batch frame ends."""
    ends, pos = [], HEADER.size
    while pos < len(data) - TRAILER.size:
        (length, _) = BATCH_HEADER.unpack_from(data, pos)
        pos += BATCH_HEADER.size + length
        ends.append(pos)
    return ends


# -- round trips -----------------------------------------------------------------------------


@given(OBJECTS)
def test_round_trip_and_builder_equals_encode(obj: WalObject) -> None:
    data = encode_wal(obj)
    assert decode_wal(NAME, data) == obj
    builder = WalBuilder(obj.wal_id, obj.writer_epoch, obj.writer_id)
    assert builder.size_bytes == HEADER.size + TRAILER.size
    for batch in obj.batches:
        builder.add(batch)
        assert builder.size_bytes == len(builder.finish())
    assert builder.batch_count == len(obj.batches)
    assert builder.finish() == data


def test_finish_leaves_the_builder_usable() -> None:
    obj = sample()
    builder = WalBuilder(obj.wal_id, obj.writer_epoch, obj.writer_id)
    builder.add(obj.batches[0])
    first = builder.finish()
    assert builder.finish() == first
    builder.add(obj.batches[1])
    builder.add(obj.batches[2])
    assert builder.finish() == encode_wal(obj)


def test_entries_get_consecutive_sequence_numbers() -> None:
    assert list(sample().batches[0].entries()) == [
        Entry(b"apple", 100, Kind.PUT, b"red"),
        Entry(b"pear", 101, Kind.DELETE, b""),
    ]


def test_a_fence_has_no_batches() -> None:
    fence = WalBuilder(9, 2, WRITER).finish()
    assert len(fence) == HEADER.size + TRAILER.size
    assert decode_wal("wal/9", fence) == WalObject(9, 2, WRITER, ())


def test_decoded_kinds_are_kinds() -> None:
    ops = decode_wal(NAME, encode_wal(sample())).batches[0].ops
    assert [type(kind) for kind, _, _ in ops] == [Kind, Kind]


def test_golden_bytes() -> None:
    """The format is pinned: changing these bytes needs a new format version."""
    data = encode_wal(sample())
    assert data[: HEADER.size] == (
        b"STRW\x04\x00\x00\x00" + (7).to_bytes(8, "little") + (3).to_bytes(8, "little") + WRITER
    )
    assert hashlib.sha256(data).hexdigest() == GOLDEN_V4
    assert decode_wal(NAME, data) == sample()


def test_version_3_objects_are_still_read() -> None:
    """Version 4 has version 3's bytes; only a fence's meaning changed (a final fence)."""
    v3 = replace(sample(), version=3)
    data = encode_wal(v3)
    assert hashlib.sha256(data).hexdigest() == GOLDEN
    assert decode_wal(NAME, data) == v3
    fence = WalObject(8, 2, WRITER, ())
    assert fence.final_fence
    assert not replace(fence, version=3).final_fence
    assert decode_wal(NAME, encode_wal(replace(fence, version=3))) == replace(fence, version=3)
    assert not sample().final_fence  # an object with batches is no fence


def test_version_1_and_2_objects_are_still_read() -> None:
    batches = sample().batches[:2]
    assert decode_wal(NAME, GOLDEN_V1) == WalObject(7, 3, WRITER, batches, version=1)
    assert decode_wal(NAME, sample_v2()) == WalObject(7, 3, WRITER, batches, version=2)


def test_only_a_transaction_carries_a_read_point() -> None:
    with pytest.raises(ValueError, match="not below first_seq"):
        WalBuilder(1, 0, WRITER).add(WalBatch(5, ((Kind.PUT, b"k", b"v"),), 5))
    with pytest.raises(ValueError, match="watches no ranges"):
        WalBuilder(1, 0, WRITER).add(WalBatch(5, ((Kind.PUT, b"k", b"v"),), None, ((b"a", None),)))


# -- damage ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data", [encode_wal(sample()), sample_v2(), GOLDEN_V1], ids=["v4", "v2", "v1"]
)
def test_every_single_byte_change_is_detected(data: bytes) -> None:
    for i, original in enumerate(data):
        for value in range(256):
            if value == original:
                continue
            with pytest.raises(Corruption) as info:
                decode_wal(NAME, data[:i] + bytes([value]) + data[i + 1 :])
            assert info.value.object_name == NAME


def test_every_truncation_is_detected_even_at_a_batch_boundary() -> None:
    data = encode_wal(sample())
    boundaries = batch_boundaries(data)
    assert len(boundaries) == 3
    for n in range(len(data)):
        with pytest.raises(Corruption) as info:
            decode_wal(NAME, data[:n])
        assert info.value.object_name == NAME
    for n in boundaries:  # the cut a streaming writer dying between batches would leave
        with pytest.raises(Corruption):
            decode_wal(NAME, data[:n])
    # A batch missing between the others and the original trailer.
    with pytest.raises(Corruption, match="checksum"):
        decode_wal(NAME, data[: boundaries[0]] + data[-TRAILER.size :])


def test_extension_is_detected() -> None:
    data = encode_wal(sample())
    for extra in (b"\0", data[-TRAILER.size :], data):
        with pytest.raises(Corruption):
            decode_wal(NAME, data + extra)


def test_a_damaged_batch_is_named() -> None:
    data = bytearray(encode_wal(sample()))
    second = batch_boundaries(bytes(data))[0]
    data[second + BATCH_HEADER.size + 1] ^= 0x40
    with pytest.raises(Corruption, match=f"batch 1 at offset {second}: checksum mismatch"):
        decode_wal(NAME, bytes(data))


def test_a_damaged_header_is_reported_as_a_checksum_mismatch() -> None:
    data = bytearray(encode_wal(sample()))
    data[10] ^= 0x01  # inside wal_id
    with pytest.raises(Corruption, match="header or trailer damaged"):
        decode_wal(NAME, bytes(data))
    data = bytearray(encode_wal(sample()))
    data[4] = 9  # the version: damage, not a newer Strata, since the checksum fails
    with pytest.raises(Corruption, match="checksum mismatch") as info:
        decode_wal(NAME, bytes(data))
    assert "newer" not in str(info.value)


def v2(first_seq: object, ops: object) -> bytes:
    payload: bytes = msgpack.packb([first_seq, ops])
    return payload


@pytest.mark.parametrize(
    ("payloads", "options", "message"),
    [
        ([], {"version": FORMAT_VERSION + 1}, "version 5 was written by a newer Strata"),
        ([], {"version": 0}, "unknown WAL format version 0"),
        ([], {"flags": 1}, "flags"),
        ([v2(1, [[1, b"k", b"v"]])], {"count": 2}, "trailer counts 2 batches"),
        ([b"\xc1"], {}, "batch 0 is not valid msgpack"),
        ([b"\x92\x01"], {}, "batch 0 is not valid msgpack"),  # cut short
        ([v2(1, [[1, b"k", b"v"]]) + b"\x00"], {}, "batch 0 is not valid msgpack"),  # extra
        ([msgpack.packb([1])], {}, "not \\[first_seq, ops"),
        ([v2(1, 5)], {}, "not \\[first_seq, ops"),
        ([msgpack.packb([5, [[1, b"k", b"v"]], 1, []])], {"version": 2}, "not \\[first_seq"),
        ([msgpack.packb([5, [[1, b"k", b"v"]], 5, []])], {}, "read_seq 5 out of range"),
        ([msgpack.packb([5, [[1, b"k", b"v"]], None, []])], {}, "read_seq None"),
        ([msgpack.packb([5, [[1, b"k", b"v"]], 1, [[b"a"]]])], {}, "range 0: not"),
        ([msgpack.packb([5, [[1, b"k", b"v"]], 1, [["a", None]]])], {}, "range 0: not"),
        ([msgpack.packb([5, [[1, b"k", b"v"]], 1, 7])], {}, "ranges is not an array"),
        ([v2(1, [])], {}, "holds no ops"),
        ([v2(0, [[1, b"k", b"v"]])], {}, "first sequence number 0"),
        ([v2(True, [[1, b"k", b"v"]])], {}, "first sequence number True"),
        ([v2(MAX_SEQ, [[1, b"k", b""], [1, b"l", b""]])], {}, "out of range"),
        ([v2(1, [[1, b"k"]])], {}, "op 0: not \\[kind, key, value\\]"),
        ([v2(1, [[1, b"k", b"v"], [2, b"k", b"v"]])], {}, "op 1: unknown kind 2"),
        ([v2(1, [[-1, b"k", b"v"]])], {}, "unknown kind -1"),
        ([v2(1, [[1, "k", b"v"]])], {}, "must be bin"),
        ([v2(1, [[1, b"k", None]])], {}, "must be bin"),
        ([v2(1, [[0, b"k", b"v"]])], {}, "a delete carries a value"),
        ([msgpack.packb([1, 1, b"k"])], {"version": 1}, "not \\[first_seq, \\(kind"),
        ([msgpack.packb([1, 3, b"k", b"v"])], {"version": 1}, "unknown kind 3"),
    ],
)
def test_a_checksummed_but_invalid_object_is_corruption(
    payloads: list[bytes], options: dict[str, int], message: str
) -> None:
    with pytest.raises(Corruption, match=message) as info:
        decode_wal(NAME, frame(payloads, **options))
    assert info.value.object_name == NAME


@given(st.lists(st.binary(max_size=40), max_size=3), st.sampled_from([1, 2]))
def test_any_checksummed_payload_decodes_or_is_corruption(
    payloads: list[bytes], version: int
) -> None:
    try:
        obj = decode_wal(NAME, frame(payloads, version=version))
    except Corruption as exc:
        assert exc.object_name == NAME
    else:
        assert len(obj.batches) == len(payloads)


@given(st.binary(max_size=120))
def test_any_bytes_decode_or_are_corruption(data: bytes) -> None:
    with pytest.raises(Corruption):
        decode_wal(NAME, MAGIC + data)


# -- misuse ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wal_id", "epoch", "writer_id"),
    [(0, 1, WRITER), (2**64, 1, WRITER), (1, -1, WRITER), (1, 2**64, WRITER), (1, 1, b"x" * 15)],
)
def test_builder_refuses_a_header_the_format_cannot_hold(
    wal_id: int, epoch: int, writer_id: bytes
) -> None:
    with pytest.raises(ValueError):
        WalBuilder(wal_id, epoch, writer_id)


@pytest.mark.parametrize(
    "batch",
    [
        WalBatch(1, ()),
        WalBatch(0, ((Kind.PUT, b"k", b"v"),)),
        WalBatch(MAX_SEQ, ((Kind.PUT, b"k", b"v"), (Kind.PUT, b"l", b"v"))),
    ],
)
def test_builder_refuses_a_batch_the_format_cannot_hold(batch: WalBatch) -> None:
    builder = WalBuilder(1, 1, WRITER)
    with pytest.raises(ValueError):
        builder.add(batch)
    assert builder.batch_count == 0


GOLDEN_V4 = "c7397bc78cd1cf4ed9b94129c1fb02a94f5383ba79b06ab32414e3b9c40c56af"
GOLDEN = "e48654bf46c38f731a34e9091a0743169888d252a7e19d01a5a95f1997979c91"
