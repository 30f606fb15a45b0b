from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvengine.errors import Corruption
from kvengine.manifest.codec import decode_manifest, encode_manifest
from kvengine.manifest.model import Manifest, SortedRun, SSTMeta


def meta(sst_id: int, first: bytes, last: bytes, seq: int) -> SSTMeta:
    return SSTMeta(sst_id, 1000 + sst_id, first, last, 10, seq, seq + 9)


def sample() -> Manifest:
    m = Manifest.empty().with_writer(2, bytes(range(16)))
    m = m.with_l0_flush(meta(1, b"a", b"m", 1), 3, 10)
    m = m.with_l0_flush(meta(2, b"c", b"z", 11), 5, 20)
    return m.with_compaction(
        frozenset({1}), frozenset(), SortedRun(1, (meta(3, b"a", b"f", 1), meta(4, b"g", b"m", 1)))
    )


@st.composite
def manifests(draw: st.DrawFn) -> Manifest:
    m = Manifest.empty().with_writer(
        draw(st.integers(1, 100)), draw(st.binary(min_size=16, max_size=16))
    )
    seq = 0
    for sst_id in range(1, draw(st.integers(0, 6)) + 1):
        keys = sorted(draw(st.lists(st.binary(max_size=8), min_size=2, max_size=2)))
        m = m.with_l0_flush(meta(sst_id, keys[0], keys[1], seq + 1), sst_id, seq + 10)
        seq += 10
    return m


@given(manifests())
def test_round_trip(m: Manifest) -> None:
    assert decode_manifest("manifest/1", encode_manifest(m)) == m


def test_golden_bytes() -> None:
    assert hashlib.sha256(encode_manifest(sample())).hexdigest() == GOLDEN


def test_every_flipped_byte_and_truncation_is_detected() -> None:
    data = encode_manifest(sample())
    for i in range(len(data)):
        damaged = data[:i] + bytes([data[i] ^ 0x04]) + data[i + 1 :]
        with pytest.raises(Corruption) as info:
            decode_manifest("manifest/00000000000000000009", damaged)
        assert info.value.object_name == "manifest/00000000000000000009"
    for n in range(len(data)):
        with pytest.raises(Corruption):
            decode_manifest("manifest/9", data[:n])


def test_newer_version_is_refused_with_a_clear_message() -> None:
    import google_crc32c

    data = bytearray(encode_manifest(sample()))
    data[4] = 2  # format version 2
    body = bytes(data[:-4])
    data[-4:] = google_crc32c.value(body).to_bytes(4, "little")
    with pytest.raises(Corruption, match="newer Strata"):
        decode_manifest("manifest/1", bytes(data))


GOLDEN = "201b2966601e0d5eeeedafd2de22e739f0bf413eb2cfb233200dedaf1b38b8cc"
