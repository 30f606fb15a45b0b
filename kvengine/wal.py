"""WAL object codec (format: docs/formats/wal.md).

A WAL object holds the write batches one group-commit PUT made durable. It is written once,
create-only, and read whole during recovery; every byte is covered by a checksum, and a
truncated object is always detected (the trailer holds the batch count and a checksum of all
that precedes it).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import google_crc32c
import msgpack

from kvengine.errors import Corruption
from kvengine.record import Entry, Kind

MAGIC = b"STRW"
FORMAT_VERSION = 1
# magic, format version, flags, wal id, writer epoch, writer id
HEADER = struct.Struct("<4sHHQQ16s")
# payload length, payload crc32c
BATCH_HEADER = struct.Struct("<II")
# batch count, crc32c of every byte before the crc (header, batches and the count)
TRAILER = struct.Struct("<II")
WRITER_ID_BYTES = 16


def _crc(data: bytes | memoryview) -> int:
    return int(google_crc32c.value(bytes(data)))


@dataclass(frozen=True)
class WalBatch:
    """One atomic write batch: operation ``i`` has sequence number ``first_seq + i``."""

    first_seq: int
    ops: tuple[tuple[Kind, bytes, bytes], ...]

    def entries(self) -> Iterator[Entry]:
        for i, (kind, key, value) in enumerate(self.ops):
            yield Entry(key, self.first_seq + i, kind, value)


@dataclass(frozen=True)
class WalObject:
    """A decoded WAL object. ``batches`` is empty for the fence a new writer writes at open."""

    wal_id: int
    writer_epoch: int
    writer_id: bytes
    batches: tuple[WalBatch, ...]


def _encode_batch(batch: WalBatch) -> bytes:
    flat: list[object] = [batch.first_seq]
    for kind, key, value in batch.ops:
        flat.extend((int(kind), key, value))
    payload: bytes = msgpack.packb(flat, use_bin_type=True)
    return BATCH_HEADER.pack(len(payload), _crc(payload)) + payload


class WalBuilder:
    """Encodes a WAL object batch by batch, so group commit knows its size as it grows."""

    def __init__(self, wal_id: int, writer_epoch: int, writer_id: bytes) -> None:
        if len(writer_id) != WRITER_ID_BYTES:
            raise ValueError(f"writer_id must be {WRITER_ID_BYTES} bytes")
        self._parts = [HEADER.pack(MAGIC, FORMAT_VERSION, 0, wal_id, writer_epoch, writer_id)]
        self._size = HEADER.size
        self._count = 0

    def add(self, batch: WalBatch) -> None:
        encoded = _encode_batch(batch)
        self._parts.append(encoded)
        self._size += len(encoded)
        self._count += 1

    @property
    def size_bytes(self) -> int:
        return self._size + TRAILER.size

    @property
    def batch_count(self) -> int:
        return self._count

    def finish(self) -> bytes:
        """The whole object."""
        body = b"".join(self._parts) + struct.pack("<I", self._count)
        return body + struct.pack("<I", _crc(body))


def encode_wal(obj: WalObject) -> bytes:
    """The bytes of ``obj``."""
    builder = WalBuilder(obj.wal_id, obj.writer_epoch, obj.writer_id)
    for batch in obj.batches:
        builder.add(batch)
    return builder.finish()


def decode_wal(name: str, data: bytes) -> WalObject:
    """Decode WAL object ``name``; ``Corruption`` if any check fails."""
    if len(data) < HEADER.size + TRAILER.size:
        raise Corruption(name, f"WAL object of {len(data)} bytes is shorter than its frame")
    magic, version, _flags, wal_id, epoch, writer_id = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise Corruption(name, f"bad WAL magic {magic!r}")
    count, crc = TRAILER.unpack_from(data, len(data) - TRAILER.size)
    if _crc(memoryview(data)[: len(data) - 4]) != crc:
        raise Corruption(name, "WAL checksum mismatch (damaged or truncated)")
    if version != FORMAT_VERSION:
        raise Corruption(name, f"WAL format version {version} is not {FORMAT_VERSION}")
    batches: list[WalBatch] = []
    pos, end = HEADER.size, len(data) - TRAILER.size
    while pos < end:
        if end - pos < BATCH_HEADER.size:
            raise Corruption(name, f"truncated batch header at offset {pos}")
        length, batch_crc = BATCH_HEADER.unpack_from(data, pos)
        start = pos + BATCH_HEADER.size
        payload = data[start : start + length]
        if len(payload) != length or _crc(payload) != batch_crc:
            raise Corruption(name, f"batch {len(batches)} at offset {pos} fails its checksum")
        batches.append(_decode_batch(name, payload, len(batches)))
        pos = start + length
    if len(batches) != count:
        raise Corruption(name, f"trailer says {count} batches, found {len(batches)}")
    return WalObject(wal_id, epoch, writer_id, tuple(batches))


def _decode_batch(name: str, payload: bytes, index: int) -> WalBatch:
    try:
        flat = msgpack.unpackb(payload, raw=False)
        first_seq = flat[0]
        if not isinstance(first_seq, int) or (len(flat) - 1) % 3:
            raise ValueError("bad batch shape")
        ops = []
        for i in range(1, len(flat), 3):
            kind, key, value = flat[i : i + 3]
            if not isinstance(key, bytes) or not isinstance(value, bytes):
                raise ValueError("key and value must be bytes")
            ops.append((Kind(kind), key, value))
    except (ValueError, TypeError, IndexError, msgpack.UnpackException) as exc:
        raise Corruption(name, f"batch {index} does not decode: {exc}") from exc
    return WalBatch(first_seq, tuple(ops))
