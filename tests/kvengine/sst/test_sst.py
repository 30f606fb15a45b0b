"""SST builder and reader: round trips against a model, request counts, corruption."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Literal

import google_crc32c
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvengine.errors import Corruption, InvalidArgument
from kvengine.record import MAX_SEQ, Entry, Kind, sort_key
from kvengine.sst import BlockCache, SSTBuilder, SSTReader
from kvengine.sst.footer import with_sst_id

KEYS = st.binary(min_size=1, max_size=5)


@st.composite
def entry_sets(draw: st.DrawFn) -> list[Entry]:
    raw = draw(
        st.lists(
            st.tuples(KEYS, st.integers(1, 50), st.booleans(), st.binary(max_size=30)),
            min_size=1,
            max_size=120,
        )
    )
    seen: dict[tuple[bytes, int], Entry] = {}
    for key, seq, is_put, value in raw:
        seen[(key, seq)] = Entry(
            key, seq, Kind.PUT if is_put else Kind.DELETE, value if is_put else b""
        )
    return sorted(seen.values(), key=sort_key)


def build(
    entries: list[Entry],
    block_bytes: int = 64,
    compression: Literal["zstd", "lz4", "none"] = "zstd",
) -> bytes:
    builder = SSTBuilder(block_bytes=block_bytes, compression=compression)
    for e in entries:
        builder.add(e)
    data, info = builder.finish()
    assert info.size == len(data) and info.entries == len(entries)
    return data


class CountingRead:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls = 0

    def __call__(self, start: int, end: int) -> bytes:
        self.calls += 1
        return self.data[start:end]


def open_reader(data: bytes, cache: BlockCache | None = None) -> tuple[SSTReader, CountingRead]:
    read = CountingRead(data)
    return SSTReader.open("sst/t.sst", len(data), read, cache=cache), read


@settings(max_examples=60, deadline=None)
@given(
    entry_sets(),
    st.sampled_from(["zstd", "lz4", "none"]),
    st.integers(16, 512),
    KEYS,
    st.integers(0, 60),
    st.none() | KEYS,
    st.none() | KEYS,
)
def test_model(
    entries: list[Entry],
    compression: Literal["zstd", "lz4", "none"],
    block_bytes: int,
    probe: bytes,
    max_seq: int,
    start: bytes | None,
    end: bytes | None,
) -> None:
    reader, _ = open_reader(build(entries, block_bytes, compression))
    assert list(reader.scan()) == entries
    assert list(reader.scan(reverse=True)) == entries[::-1]
    expected_range = [
        e for e in entries if (start is None or e.key >= start) and (end is None or e.key < end)
    ]
    assert list(reader.scan(start, end)) == expected_range
    assert list(reader.scan(start, end, reverse=True)) == expected_range[::-1]
    for key in {e.key for e in entries} | {probe}:
        versions = [e for e in entries if e.key == key and e.seq <= max_seq]
        assert reader.get(key, max_seq) == (versions[0] if versions else None)
        if any(e.key == key for e in entries):
            assert reader.may_contain(key)
    assert reader.info.first_key == entries[0].key
    assert reader.info.last_key == entries[-1].key


def test_versions_spanning_blocks() -> None:
    entries = [Entry(b"k", seq, Kind.PUT, b"v%03d" % seq) for seq in range(300, 0, -1)]
    entries.append(Entry(b"l", 1, Kind.PUT, b""))
    reader, _ = open_reader(build(entries, block_bytes=64))
    assert reader.get(b"k", 5) == Entry(b"k", 5, Kind.PUT, b"v005")
    assert reader.get(b"k", MAX_SEQ).seq == 300  # type: ignore[union-attr]
    assert reader.get(b"l", 0) is None


def test_request_counts() -> None:
    entries = [Entry(b"key%05d" % i, i + 1, Kind.PUT, b"x" * 40) for i in range(2000)]
    data = build(entries, block_bytes=1024)
    reader, read = open_reader(data, BlockCache(1 << 20))
    assert read.calls == 1  # footer, index and filter come in one tail read
    assert reader.get(b"key00500") is not None
    assert read.calls == 2  # one data block
    assert reader.get(b"key00500") is not None
    assert read.calls == 2  # cached
    misses = sum(reader.get(b"nokey%05d" % i) is not None for i in range(500))
    assert misses == 0
    assert read.calls <= 2 + 15  # the filter turns away ~99% without reading


def test_builder_rejects_disorder_and_empty() -> None:
    builder = SSTBuilder()
    builder.add(Entry(b"b", 1, Kind.PUT, b""))
    with pytest.raises(InvalidArgument):
        builder.add(Entry(b"a", 2, Kind.PUT, b""))
    with pytest.raises(InvalidArgument):
        builder.add(Entry(b"b", 1, Kind.PUT, b""))
    with pytest.raises(InvalidArgument):
        SSTBuilder().finish()


def small_sst() -> bytes:
    entries = [Entry(b"k%02d" % i, i + 1, Kind.PUT, b"value %d" % i) for i in range(30)]
    return build(entries, block_bytes=100, compression="none")


def test_golden_bytes() -> None:
    data = small_sst()
    assert data[-34:-28] == b"STRS\x02\x00" and data[-42:-34] == bytes(8)  # id 0: not named
    assert hashlib.sha256(with_sst_id(data, 7)).hexdigest() == GOLDEN_V2


def _as_version_1(data: bytes) -> bytes:
    """``data`` with the version 1 footer (no SST id) a builder of format 1 wrote."""
    footer = bytearray(data[-34:-4])
    footer[4:6] = b"\x01\x00"
    return data[:-42] + bytes(footer) + google_crc32c.value(bytes(footer)).to_bytes(4, "little")


def test_version_1_still_reads() -> None:
    data = _as_version_1(small_sst())
    assert hashlib.sha256(data).hexdigest() == GOLDEN
    reader, _ = open_reader(data)
    assert [e.key for e in reader.scan()] == [b"k%02d" % i for i in range(30)]
    assert reader.get(b"k05") is not None


def test_another_ssts_bytes_are_corruption() -> None:
    """SST 7's valid bytes stored as SST 8, or an SST whose index disagrees with the
    manifest (a version 1 SST has no id), are refused."""
    data = with_sst_id(small_sst(), 7)
    reader, _ = open_reader(data)
    info = reader.info
    assert SSTReader.open("sst/7", len(data), CountingRead(data), expect=(7, info)).info == info
    with pytest.raises(Corruption, match="footer says this is SST 7, not 8"):
        SSTReader.open("sst/8", len(data), CountingRead(data), expect=(8, info))
    old = _as_version_1(small_sst())
    other = dataclasses.replace(info, entries=info.entries - 1)
    with pytest.raises(Corruption, match="the manifest"):
        SSTReader.open("sst/8", len(old), CountingRead(old), expect=(8, other))


def _read_all(data: bytes) -> None:
    reader, _ = open_reader(data)
    list(reader.scan())
    reader.get(b"k05")


def test_every_flipped_byte_is_detected() -> None:
    data = small_sst()
    for i in range(len(data)):
        damaged = data[:i] + bytes([data[i] ^ 0x10]) + data[i + 1 :]
        with pytest.raises(Corruption) as info:
            _read_all(damaged)
        assert info.value.object_name == "sst/t.sst"


def test_every_truncation_is_detected() -> None:
    data = small_sst()
    for n in range(len(data)):
        with pytest.raises(Corruption):
            _read_all(data[:n])


def test_compressed_blocks_are_smaller() -> None:
    entries = [Entry(b"key%05d" % i, 1, Kind.PUT, b"abc" * 30) for i in range(500)]
    assert len(build(entries, 4096, "zstd")) < len(build(entries, 4096, "none")) / 3
    assert len(build(entries, 4096, "lz4")) < len(build(entries, 4096, "none")) / 2


GOLDEN = "afca2b5d84331ed3499e11dae1b3ed5c766e33f940749094f9c9971811a054aa"
GOLDEN_V2 = "bf59974fb69945596695d951ab7bbd799a6e1c5a3e92cb2c31f657d50e09f448"


@settings(max_examples=40, deadline=None)
@given(entry_sets(), st.integers(16, 512), st.integers(0, 2000))
def test_a_spilled_sst_is_the_same_object_as_one_built_in_memory(
    entries: list[Entry], block_bytes: int, spill_bytes: int
) -> None:
    builder = SSTBuilder(block_bytes=block_bytes, spill_bytes=spill_bytes)
    for e in entries:
        builder.add(e)
    out, info = builder.finish_output()
    assert builder.spilled is False  # the file was handed over with the output
    expected = build(entries, block_bytes)
    if isinstance(out, bytes):
        assert out == expected
        return
    try:
        assert info.size == out.size == len(expected)
        out.set_sst_id(42)
        out.file.seek(0)
        assert out.file.read() == with_sst_id(expected, 42)
    finally:
        out.close()


def test_finish_refuses_a_spilled_builder() -> None:
    builder = SSTBuilder(block_bytes=16, spill_bytes=1)
    for i in range(20):
        builder.add(Entry(b"k%03d" % i, 1, Kind.PUT, b"v" * 10))
    assert builder.spilled
    with pytest.raises(InvalidArgument):
        builder.finish()
