"""Manifest codec (format: docs/formats/manifest.md): a fixed header, a msgpack body and a
crc32c over both."""

from __future__ import annotations

import struct
from typing import Any

import google_crc32c
import msgpack

from kvengine.errors import Corruption
from kvengine.manifest.model import Manifest, SortedRun, SSTMeta

MAGIC = b"STRM"
FORMAT_VERSION = 1
# magic, format version, body length, crc32c of header fields before it and of the body
HEADER = struct.Struct("<4sHI")
CRC = struct.Struct("<I")


def _sst(m: SSTMeta) -> list[Any]:
    return [m.sst_id, m.size, m.first_key, m.last_key, m.entries, m.min_seq, m.max_seq]


def encode_manifest(m: Manifest) -> bytes:
    """The bytes of ``m``."""
    body: bytes = msgpack.packb(
        [
            m.writer_epoch,
            m.compactor_epoch,
            m.writer_id,
            m.wal_replay_after,
            m.last_seq,
            [_sst(s) for s in m.l0],
            [[r.run_id, [_sst(s) for s in r.ssts]] for r in m.runs],
            m.next_sst_id,
            m.next_run_id,
        ],
        use_bin_type=True,
    )
    head = HEADER.pack(MAGIC, FORMAT_VERSION, len(body))
    return head + body + CRC.pack(google_crc32c.value(head + body))


def decode_manifest(name: str, data: bytes) -> Manifest:
    """Decode manifest object ``name``; ``Corruption`` if any check fails."""
    if len(data) < HEADER.size + CRC.size:
        raise Corruption(name, f"manifest of {len(data)} bytes is shorter than its frame")
    magic, version, length = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise Corruption(name, f"bad manifest magic {magic!r}")
    if len(data) != HEADER.size + length + CRC.size:
        raise Corruption(name, f"manifest length {len(data)} does not match its header")
    (crc,) = CRC.unpack_from(data, len(data) - CRC.size)
    if google_crc32c.value(data[: -CRC.size]) != crc:
        raise Corruption(name, "manifest checksum mismatch")
    if version != FORMAT_VERSION:
        raise Corruption(
            name, f"manifest format version {version}: written by a newer Strata than this one"
        )
    try:
        f = msgpack.unpackb(data[HEADER.size : -CRC.size], raw=False)
        manifest = Manifest(
            writer_epoch=f[0],
            compactor_epoch=f[1],
            writer_id=f[2],
            wal_replay_after=f[3],
            last_seq=f[4],
            l0=tuple(SSTMeta(*s) for s in f[5]),
            runs=tuple(SortedRun(r[0], tuple(SSTMeta(*s) for s in r[1])) for r in f[6]),
            next_sst_id=f[7],
            next_run_id=f[8],
        )
        manifest.check_invariants()
    except (ValueError, TypeError, IndexError, msgpack.UnpackException) as exc:
        raise Corruption(name, f"manifest body does not decode: {exc}") from exc
    return manifest
