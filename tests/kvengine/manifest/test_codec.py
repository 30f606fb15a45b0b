from __future__ import annotations

import hashlib
import itertools
from dataclasses import replace

import google_crc32c
import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvengine.errors import Corruption
from kvengine.manifest.codec import HEADER, MAGIC, TRAILER, decode_manifest, encode_manifest
from kvengine.manifest.model import (
    Checkpoint,
    ExternalRoot,
    Fence,
    Manifest,
    SortedRun,
    SSTMeta,
)

NAME = "manifest/00000000000000000009"
W = b"w" * 16  # a writer id
U64 = 2**64 - 1


def meta(sst_id: int, first: bytes, last: bytes, seq: int) -> SSTMeta:
    return SSTMeta(sst_id, 1000 + sst_id, first, last, 10, seq, seq + 9)


def sample() -> Manifest:
    m = Manifest.empty().with_writer(2, bytes(range(16)))
    m = m.with_l0_flush(meta(1, b"a", b"m", 1), 3, 10)
    m = m.with_l0_flush(meta(2, b"c", b"z", 11), 5, 20)
    run = SortedRun(1, (meta(3, b"a", b"f", 1), meta(4, b"g", b"m", 1)))
    return m.with_compaction(frozenset({1}), frozenset(), run)


def sample_v2() -> Manifest:
    """``sample()`` with two checkpoints, one that never ends."""
    m = sample().with_checkpoint(Checkpoint("nightly", 7, 5, 1_700_000_000_000))
    return m.with_checkpoint(Checkpoint("é x", 8, 6, 1_700_000_000_000, 1_700_000_360_000))


def sample_v3() -> Manifest:
    """``sample_v2()`` of a database created with a transaction WAL span of 65536."""
    return replace(sample_v2(), txn_wal_span=65536)


def frame(body: bytes, version: int = 6, length: int | None = None) -> bytes:
    """A manifest object around ``body`` with a correct checksum."""
    head = HEADER.pack(MAGIC, version, len(body) if length is None else length) + body
    return head + TRAILER.pack(google_crc32c.value(head))


def body_of(m: Manifest, version: int = 6, manifest_id: int = 0) -> list[object]:
    """The body fields of ``m`` as format ``version`` writes them (version 6: fourteen, the
    twelfth the manifest id, and eight fields per SST; an older version's body is a prefix
    of them, with seven fields per SST before version 5)."""
    unpacked: list[object] = msgpack.unpackb(
        encode_manifest(m, manifest_id)[HEADER.size : -TRAILER.size]
    )
    if version >= 5:
        return unpacked[: {5: 13, 6: 14}[version]]
    fields = {1: 9, 2: 10, 3: 11, 4: 12}[version]
    body = unpacked[:fields]
    body[5] = [sst[:7] for sst in body[5]]  # type: ignore[union-attr,index]
    body[6] = [[run[0], [sst[:7] for sst in run[1]]] for run in body[6]]  # type: ignore[union-attr,index]
    return body


def sample_v5() -> Manifest:
    """``sample_v3()`` as a clone: its run's SSTs live in another database."""
    m = sample_v3()
    run = m.runs[0]
    external = SortedRun(run.run_id, tuple(replace(s, root=1) for s in run.ssts))
    root = ExternalRoot(1, "gs://bucket/source", "clone:gs://bucket/target")
    return replace(m, runs=(external,), external=(root,))


def sample_v6() -> Manifest:
    """``sample_v5()`` after an exclusive writer's fence at WAL object 4 (epoch 2), which
    another writer overtook at WAL object 5."""
    return sample_v5().with_fence(Fence(4, 2, b"x" * 16, 5))


@st.composite
def manifests(draw: st.DrawFn) -> Manifest:
    """Any manifest that keeps the invariants, with every field over its whole range."""
    keys = st.binary(max_size=12)
    last_seq = draw(st.integers(0, U64))
    seq = st.integers(0, last_seq)
    ids = itertools.count(1)
    roots = draw(st.integers(0, 2))  # a clone's external roots (format version 5)

    def sst(first: bytes, last: bytes) -> SSTMeta:
        lo, hi = sorted((draw(seq), draw(seq)))
        size, root = draw(st.integers(0, U64)), draw(st.integers(0, roots))
        return SSTMeta(next(ids), size, first, last, draw(seq), lo, hi, root)

    l0 = []
    for _ in range(draw(st.integers(0, 4))):
        first, last = sorted((draw(keys), draw(keys)))
        l0.append(sst(first, last))
    l0.sort(key=lambda s: s.max_seq, reverse=True)
    runs = []
    for run_id in range(1, draw(st.integers(0, 3)) + 1):
        bounds = sorted(draw(st.sets(keys, min_size=2, max_size=8)))
        pairs = zip(bounds[0::2], bounds[1::2], strict=False)  # disjoint [first, last] ranges
        runs.append(SortedRun(run_id, tuple(sst(first, last) for first, last in pairs)))
    used_ssts = next(ids) - 1
    writer_epoch, replay = draw(st.integers(0, U64)), draw(st.integers(0, U64))
    fence = Fence()
    if writer_epoch and replay and draw(st.booleans()):  # (format version 6)
        fence_id = draw(st.integers(1, replay))
        overtaken = draw(st.just(0) | st.integers(fence_id, replay).map(lambda i: i + 1))
        fence = Fence(
            fence_id,
            draw(st.integers(1, writer_epoch)),
            draw(st.binary(min_size=16, max_size=16)),
            overtaken if overtaken <= replay else 0,
        )
    return Manifest(
        fence=fence,
        writer_epoch=writer_epoch,
        compactor_epoch=draw(st.integers(0, U64)),
        writer_id=draw(st.binary(min_size=16, max_size=16)),
        wal_replay_after=replay,
        last_seq=last_seq,
        l0=tuple(l0),
        runs=tuple(runs[::-1]),
        next_sst_id=draw(st.integers(used_ssts + 1, U64)),
        next_run_id=draw(st.integers(len(runs) + 1, U64)),
        checkpoints=tuple(
            Checkpoint(
                f"{name}-{i}",
                draw(st.integers(1, U64)),
                draw(st.integers(0, U64)),
                created := draw(st.integers(0, U64 - 1)),
                draw(st.none() | st.integers(created + 1, U64)),
            )
            for i, name in enumerate(draw(st.lists(st.text(min_size=1, max_size=8), max_size=3)))
            if name.isprintable()
        ),
        txn_wal_span=draw(st.integers(0, U64)),
        external=tuple(
            ExternalRoot(r, draw(st.text(min_size=1)), draw(st.text(min_size=1)))
            for r in range(1, roots + 1)
        ),
    )


@given(manifests())
def test_round_trip(m: Manifest) -> None:
    data = encode_manifest(m)
    assert decode_manifest(NAME, data) == m
    assert encode_manifest(decode_manifest(NAME, data)) == data


def test_golden_bytes() -> None:
    """The format is pinned: changing these bytes needs a new format version."""
    data = encode_manifest(sample_v6(), 9)
    assert data[: HEADER.size] == b"STRM\x06\x00" + (len(data) - 14).to_bytes(4, "little")
    assert hashlib.sha256(data).hexdigest() == GOLDEN_V6
    assert decode_manifest(NAME, data, 9) == sample_v6()


def test_version_5_still_decodes() -> None:
    """A manifest written by format version 5 (thirteen body fields, no fence)."""
    data = frame(msgpack.packb(body_of(sample_v5(), 5, 9)), version=5)
    assert hashlib.sha256(data).hexdigest() == GOLDEN_V5
    assert decode_manifest(NAME, data, 9) == sample_v5()
    with pytest.raises(Corruption, match="14 fields, not 13"):
        decode_manifest(NAME, frame(msgpack.packb(body_of(sample_v6())), version=5))


def test_version_4_still_decodes() -> None:
    """A manifest written by format version 4 (twelve body fields, seven per SST)."""
    data = frame(msgpack.packb(body_of(sample_v3(), 4, 9)), version=4)
    assert data[-TRAILER.size - 1 : -TRAILER.size] == b"\x09"  # the id, last in the body
    assert hashlib.sha256(data).hexdigest() == GOLDEN_V4
    assert decode_manifest(NAME, data, 9) == sample_v3()
    with pytest.raises(Corruption, match="14 fields, not 12"):
        decode_manifest(NAME, frame(msgpack.packb(body_of(sample_v3())), version=4))


def test_an_sst_of_an_unknown_root_is_corruption() -> None:
    body = body_of(replace(sample_v5(), external=(ExternalRoot(1, "gs://b/s", "c"),)))
    body[12] = [[2, "gs://b/s", "c"]]
    with pytest.raises(Corruption, match="unknown external roots"):
        decode_manifest(NAME, frame(msgpack.packb(body)))


def test_version_3_still_decodes() -> None:
    """A manifest written by format version 3 (eleven body fields, no id of its own)."""
    data = frame(msgpack.packb(body_of(sample_v3(), 3)), version=3)
    assert hashlib.sha256(data).hexdigest() == GOLDEN_V3
    assert decode_manifest(NAME, data, 9) == sample_v3()
    assert decode_manifest(NAME, data, 10) == sample_v3()  # no id to check
    with pytest.raises(Corruption, match="14 fields, not 11"):
        decode_manifest(NAME, frame(msgpack.packb(body_of(sample_v3())), version=3))


def test_version_2_still_decodes() -> None:
    """A manifest written by format version 2 (ten body fields, no txn_wal_span: 0)."""
    data = frame(msgpack.packb(body_of(sample_v2(), 2)), version=2)
    assert decode_manifest(NAME, data) == sample_v2()
    assert hashlib.sha256(data).hexdigest() == GOLDEN_V2
    with pytest.raises(Corruption, match="14 fields, not 10"):
        decode_manifest(NAME, frame(msgpack.packb(body_of(sample_v2())), version=2))


def test_another_versions_bytes_are_corruption() -> None:
    """Version 8's valid bytes stored as version 9 (a misplaced copy) are refused."""
    data = encode_manifest(sample(), 8)
    assert decode_manifest(NAME, data, 8) == sample()
    with pytest.raises(Corruption, match="manifest version 8, not 9") as info:
        decode_manifest(NAME, data, 9)
    assert info.value.object_name == NAME


def test_version_1_still_decodes() -> None:
    """A manifest written by format version 1 (nine body fields, no checkpoints)."""
    body = msgpack.packb(body_of(sample(), 1))
    data = frame(body, version=1)
    assert decode_manifest(NAME, data) == sample()
    assert hashlib.sha256(data).hexdigest() == GOLDEN
    with pytest.raises(Corruption, match="14 fields, not 9"):
        decode_manifest(NAME, frame(msgpack.packb(body_of(sample())), version=1))


def test_every_single_byte_change_is_detected() -> None:
    data = encode_manifest(sample())
    for i, original in enumerate(data):
        for value in range(256):
            if value == original:
                continue
            with pytest.raises(Corruption) as info:
                decode_manifest(NAME, data[:i] + bytes([value]) + data[i + 1 :])
            assert info.value.object_name == NAME


def test_every_truncation_and_extension_is_detected() -> None:
    data = encode_manifest(sample())
    for n in range(len(data)):
        with pytest.raises(Corruption) as info:
            decode_manifest(NAME, data[:n])
        assert info.value.object_name == NAME
    for extra in (b"\0", data[-4:], data):
        with pytest.raises(Corruption):
            decode_manifest(NAME, data + extra)


def test_a_newer_version_is_refused_with_a_clear_message() -> None:
    body = encode_manifest(sample())[HEADER.size : -TRAILER.size]
    with pytest.raises(Corruption, match="version 7 was written by a newer Strata"):
        decode_manifest(NAME, frame(body, version=7))
    with pytest.raises(Corruption, match="unknown manifest format version 0"):
        decode_manifest(NAME, frame(body, version=0))


def test_a_body_length_that_disagrees_is_refused() -> None:
    body = encode_manifest(sample())[HEADER.size : -TRAILER.size]
    with pytest.raises(Corruption, match="body"):
        decode_manifest(NAME, frame(body, length=len(body) - 1))


def _bad_bodies() -> list[tuple[object, str]]:
    good = body_of(sample())
    l0 = good[5]
    assert isinstance(l0, list)

    def with_field(index: int, value: object) -> list[object]:
        return [*good[:index], value, *good[index + 1 :]]

    return [
        (good[:9], "9 fields"),
        (with_field(9, [["n", 1, 0, 5]]), "checkpoint has 4"),
        (with_field(9, [[b"n", 1, 0, 5, 0]]), "not str"),
        (with_field(9, [["n", 0, 0, 5, 0]]), "bad version id"),  # an invariant
        (with_field(9, [["n", 1, 0, 5, 5]]), "ends before"),  # an invariant
        (with_field(9, [["n", 1, 0, 5, 0], ["n", 2, 0, 5, 0]]), "appears twice"),
        ({"writer_epoch": 1}, "not an array"),
        (with_field(0, -1), "writer_epoch"),
        (with_field(0, True), "writer_epoch"),
        (with_field(0, 1.0), "writer_epoch"),
        (with_field(2, "0123456789abcdef"), "writer_id"),
        (with_field(2, b"short"), "writer id"),
        (with_field(5, [[*l0[0][:2], "a", *l0[0][3:]]]), "first_key"),
        (with_field(5, [l0[0][:7]]), "sst has 7"),
        (with_field(6, [[1]]), "run has 1"),
        (with_field(6, [[1, None]]), "ssts is NoneType"),
        (with_field(5, [l0[0], l0[0]]), "appears twice"),  # an invariant
        (with_field(7, 1), "next_sst_id"),  # an invariant
        (with_field(13, [1]), "fence has 1"),
        (with_field(13, [6, 1, W, 0]), "up to the replay point"),  # an invariant: 6 > 5
        (with_field(13, [5, 3, W, 0]), "epoch up to"),  # an invariant: 3 > writer epoch 2
        (with_field(13, [5, 0, W, 0]), "epoch up to"),  # an invariant
        (with_field(13, [4, 1, W, 4]), "later overtaking id"),  # an invariant
        (with_field(13, [4, 1, b"short", 0]), "writer id"),  # an invariant
        (with_field(13, [4, 1, "x" * 16, 0]), "fence writer_id"),
        (with_field(13, [0, 1, W, 0]), "no WAL id but"),  # an invariant
    ]


@pytest.mark.parametrize("index", range(len(_bad_bodies())))
def test_a_checksummed_but_invalid_body_is_corruption(index: int) -> None:
    body, message = _bad_bodies()[index]
    with pytest.raises(Corruption, match=message) as info:
        decode_manifest(NAME, frame(msgpack.packb(body)))
    assert info.value.object_name == NAME


@pytest.mark.parametrize("body", [b"", b"\xc1", b"\x93\x01\x02", b"\x91\x01\x01"])
def test_a_checksummed_body_that_is_not_msgpack_is_corruption(body: bytes) -> None:
    with pytest.raises(Corruption, match="invalid manifest body"):
        decode_manifest(NAME, frame(body))


@given(st.binary(max_size=200))
def test_any_checksummed_body_decodes_or_is_corruption(body: bytes) -> None:
    try:
        decode_manifest(NAME, frame(body))
    except Corruption as exc:
        assert exc.object_name == NAME


def test_encoding_refuses_a_manifest_that_breaks_an_invariant() -> None:
    with pytest.raises(ValueError, match="next_sst_id"):
        encode_manifest(replace(sample(), next_sst_id=2))
    with pytest.raises(ValueError, match="64 bits"):
        encode_manifest(replace(sample(), writer_epoch=2**64))


GOLDEN = "201b2966601e0d5eeeedafd2de22e739f0bf413eb2cfb233200dedaf1b38b8cc"
GOLDEN_V2 = "d7776affaf111c53ec3652de1d11b79c77bee8156eaa73ea19a5966655c9bf14"
GOLDEN_V3 = "e1a067ca911efb43d7f7496f5301664f8233c3f6cb45763b15679c814e08bfb2"
GOLDEN_V6 = "4bcb91cd090a56f5b9b96ebc6c19ad6c7f53f7d849994b0bb7370dc83edd95a7"
GOLDEN_V5 = "b9a7ee87cf241a3b1d1589bde5c29a9bafd4b13e7a9f2c61abeaa8566c6186bc"
GOLDEN_V4 = "a3a8f4b13798ac57b15b3684cdde78e45fda1c435590067c899f40cab5112e30"
