"""WAL object codec: the bytes of one group-commit PUT (format: docs/formats/wal.md).

A WAL object holds the write batches that one PUT made durable, or no batch at all (a *fence*,
written by a new writer at open). It is written once, create-only, and read whole by recovery.
Every byte is covered by a checksum; each batch also has its own, so a reader names the batch
that is damaged; a truncated object is always detected, even when cut at a batch boundary.

This module does no I/O: object names and storage belong to ``table_store.py``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import attrgetter
from typing import NamedTuple, Protocol

import google_crc32c
import msgpack

from kvengine.errors import Corruption
from kvengine.record import MAX_SEQ, Entry, Kind

MAGIC = b"STRW"
#: The version this module writes. It reads every version from 1 up to this one. Version 4
#: has the bytes of version 3; a fence of version 4 is *final*: every object after it from an
#: older writer epoch is void (docs/formats/wal.md, "Final fences").
FORMAT_VERSION = 4
#: The first version whose fences void the older-epoch objects after them.
FINAL_FENCE_VERSION = 4
#: magic, format version, flags (reserved, 0), wal id, writer epoch, writer id
HEADER = struct.Struct("<4sHHQQ16s")
#: payload length, crc32c of the payload
BATCH_HEADER = struct.Struct("<II")
#: batch count, crc32c of every byte before this field
TRAILER = struct.Struct("<II")
WRITER_ID_BYTES = 16
MAX_BATCH_PAYLOAD_BYTES = 0xFFFF_FFFF
MAX_BATCH_COUNT = 0xFFFF_FFFF
_U64_MAX = 0xFFFF_FFFF_FFFF_FFFF
_COUNT = struct.Struct("<I")
# Kind by its stored value: an index lookup is cheaper than calling Kind() once per op.
_KINDS = (Kind.DELETE, Kind.PUT)

Op = tuple[Kind, bytes, bytes]
#: Sequence numbers come from WAL positions: the ops of WAL object ``n`` are numbered from
#: ``n << SEQ_BITS`` on, in order, so every process numbers a commit the same way without
#: reading what came before it. One object holds at most ``2**SEQ_BITS`` ops.
SEQ_BITS = 24
MAX_OPS_PER_OBJECT = 1 << SEQ_BITS


def first_seq_of(wal_id: int) -> int:
    """The sequence number of the first op in WAL object ``wal_id``."""
    return wal_id << SEQ_BITS


#: A watched key range ``[start, end)``; ``end`` None: unbounded.
KeyRange = tuple[bytes, bytes | None]


class WalBatch(NamedTuple):
    """One atomic write batch: op ``i`` is ``(kind, key, value)`` with sequence number
    ``first_seq + i``; ``value`` is ``b""`` for a delete. A batch holds at least one op.

    A transaction's batch also carries ``read_seq``, the snapshot it read, and the key
    ``ranges`` it watched; every reader applies it only if no batch applied after
    ``read_seq`` wrote one of its keys or a key in those ranges (docs/formats/wal.md). A blind
    write has ``read_seq`` None and always applies.

    A named tuple (immutable) rather than a dataclass: group commit makes one per write, and
    a tuple is built without a Python call (:meth:`WalBuilder.add_writes`)."""

    first_seq: int
    ops: tuple[Op, ...]
    read_seq: int | None = None
    ranges: tuple[KeyRange, ...] = ()

    def entries(self) -> Iterator[Entry]:
        """The batch's ops as entries, in order, with their sequence numbers."""
        seq = self.first_seq
        for kind, key, value in self.ops:
            yield Entry(key, seq, kind, value)
            seq += 1


@dataclass(frozen=True)
class WalObject:
    """A WAL object's contents. ``batches`` is empty for a fence."""

    wal_id: int
    writer_epoch: int
    writer_id: bytes  # WRITER_ID_BYTES random bytes naming the writer process
    batches: tuple[WalBatch, ...]
    version: int = FORMAT_VERSION  # the format version it was written in

    @property
    def final_fence(self) -> bool:
        """A fence whose older-epoch successors are void (format version 4 on)."""
        return not self.batches and self.version >= FINAL_FENCE_VERSION


class Write(Protocol):
    """What :meth:`WalBuilder.add_writes` reads of a write: a commit request, say."""

    @property
    def ops(self) -> tuple[Op, ...]: ...

    @property
    def read_seq(self) -> int | None: ...

    @property
    def ranges(self) -> tuple[KeyRange, ...]: ...


_get_ops = attrgetter("ops")
_get_read_seq = attrgetter("read_seq")
_get_ranges = attrgetter("ranges")
_new_tuple = tuple.__new__


class WalBuilder:
    """Encodes a WAL object one batch at a time, so group commit can watch its size grow.

    ``finish()`` returns the same bytes as :func:`encode_wal` of the same batches. Raises
    ``ValueError`` for arguments the format cannot hold. Not thread-safe: the caller
    serialises calls.
    """

    def __init__(
        self, wal_id: int, writer_epoch: int, writer_id: bytes, version: int = FORMAT_VERSION
    ) -> None:
        if version not in (3, FORMAT_VERSION):  # versions with these bytes (3: old fences)
            raise ValueError(f"cannot write WAL format version {version}")
        if not 1 <= wal_id <= _U64_MAX:
            raise ValueError(f"WAL id {wal_id} is outside 1..2**64-1")
        if not 0 <= writer_epoch <= _U64_MAX:
            raise ValueError(f"writer epoch {writer_epoch} is outside 0..2**64-1")
        if len(writer_id) != WRITER_ID_BYTES:
            raise ValueError(f"writer id has {len(writer_id)} bytes, not {WRITER_ID_BYTES}")
        header = HEADER.pack(MAGIC, version, 0, wal_id, writer_epoch, bytes(writer_id))
        self._parts = [header]
        # One Packer per builder (a builder is used by one thread): the same bytes as
        # msgpack.packb, without building a Packer per batch (a third of the cost).
        self._pack = msgpack.Packer().pack
        self._size = len(header)
        self._count = 0

    def add(self, batch: WalBatch) -> None:
        """Append ``batch``, encoded now. Its ops are not type-checked (the write path has
        checked them): keys and values must be ``bytes``, and a delete's value empty."""
        first_seq, ops = batch.first_seq, batch.ops
        if not ops:
            raise ValueError("a WAL batch holds at least one op")
        if not 1 <= first_seq <= MAX_SEQ - len(ops) + 1:
            raise ValueError(f"batch sequence numbers from {first_seq} leave 1..MAX_SEQ")
        if self._count == MAX_BATCH_COUNT:
            raise ValueError(f"a WAL object holds at most {MAX_BATCH_COUNT} batches")
        # One pack call for the whole batch: tuples and Kind (an int) pack as they are.
        body: tuple[object, ...] = (first_seq, ops)
        if batch.read_seq is not None:
            if not 0 <= batch.read_seq < first_seq:
                raise ValueError(f"read_seq {batch.read_seq} is not below first_seq {first_seq}")
            body = (first_seq, ops, batch.read_seq, batch.ranges)
        elif batch.ranges:
            raise ValueError("a blind write (read_seq None) watches no ranges")
        payload: bytes = self._pack(body)
        if len(payload) > MAX_BATCH_PAYLOAD_BYTES:
            raise ValueError(f"batch of {len(payload)} bytes exceeds the 4 GiB batch limit")
        self._parts.append(BATCH_HEADER.pack(len(payload), google_crc32c.value(payload)))
        self._parts.append(payload)
        self._size += BATCH_HEADER.size + len(payload)
        self._count += 1

    def add_writes(self, first_seq: int, writes: Sequence[Write]) -> list[WalBatch]:
        """:meth:`add` of one batch per write, in order, numbered from ``first_seq`` on
        (write ``i + 1`` starts where write ``i`` ends); returns the batches. The same bytes as
        :meth:`add` one by one; nothing is added if one of them is refused (``ValueError``).

        Blind writes (the usual group: puts and deletes) are encoded without a Python-level
        call per write (``map`` over C functions); a group holding a transaction is added one
        batch at a time."""
        n = len(writes)
        opss: list[tuple[Op, ...]] = list(map(_get_ops, writes))
        lengths = list(map(len, opss))
        starts = list(accumulate(lengths, initial=first_seq))
        end = starts.pop()  # one past the last sequence number
        read_seqs = list(map(_get_read_seq, writes))
        if read_seqs.count(None) != n:
            batches = [
                WalBatch(seq, w.ops, w.read_seq, w.ranges)
                for seq, w in zip(starts, writes, strict=True)
            ]
            if n and self._count > MAX_BATCH_COUNT - n:
                raise ValueError(f"a WAL object holds at most {MAX_BATCH_COUNT} batches")
            undo = (list(self._parts), self._size, self._count)
            try:
                for batch in batches:
                    self.add(batch)
            except ValueError:
                self._parts, self._size, self._count = undo
                raise
            return batches
        if not n:
            return []
        if 0 in lengths:
            raise ValueError("a WAL batch holds at least one op")
        if first_seq < 1 or end - 1 > MAX_SEQ:
            raise ValueError(f"batch sequence numbers from {first_seq} leave 1..MAX_SEQ")
        if self._count > MAX_BATCH_COUNT - n:
            raise ValueError(f"a WAL object holds at most {MAX_BATCH_COUNT} batches")
        if any(map(_get_ranges, writes)):
            raise ValueError("a blind write (read_seq None) watches no ranges")
        bodies = zip(starts, opss, strict=True)  # (first_seq, ops), as add() packs it
        payloads: list[bytes] = list(map(self._pack, bodies))
        sizes = list(map(len, payloads))
        if max(sizes) > MAX_BATCH_PAYLOAD_BYTES:
            raise ValueError(f"batch of {max(sizes)} bytes exceeds the 4 GiB batch limit")
        frames: list[bytes] = payloads * 2  # every other slot is overwritten just below
        frames[0::2] = map(BATCH_HEADER.pack, sizes, map(google_crc32c.value, payloads))
        frames[1::2] = payloads
        self._parts += frames
        self._size += BATCH_HEADER.size * n + sum(sizes)
        self._count += n
        # WalBatch(first_seq, ops, None, ()) each, without calling the named tuple's __new__
        fields = zip(starts, opss, repeat(None), repeat(()), strict=False)
        return list(map(_new_tuple, repeat(WalBatch, n), fields))

    @property
    def size_bytes(self) -> int:
        """The length ``finish()`` would return now."""
        return self._size + TRAILER.size

    @property
    def batch_count(self) -> int:
        """Batches added so far."""
        return self._count

    def finish(self) -> bytes:
        """The whole object holding every batch added so far. The builder is unchanged."""
        # The object checksum is computed here, once per PUT, rather than in add().
        body = b"".join((*self._parts, _COUNT.pack(self._count)))
        return body + _COUNT.pack(google_crc32c.value(body))


def encode_wal(obj: WalObject) -> bytes:
    """The bytes of ``obj``; ``ValueError`` as for :class:`WalBuilder`."""
    builder = WalBuilder(obj.wal_id, obj.writer_epoch, obj.writer_id, obj.version)
    for batch in obj.batches:
        builder.add(batch)
    return builder.finish()


def decode_wal(name: str, data: bytes) -> WalObject:
    """The contents of the WAL object ``name`` whose bytes are ``data``.

    Raises ``Corruption(name, ...)`` for anything but a well-formed object of a version this
    module reads: truncation, a checksum mismatch (naming the batch when one is damaged), a
    newer format version, or contents the format does not allow.
    """
    minimum = HEADER.size + TRAILER.size
    if len(data) < minimum:
        raise Corruption(name, f"{len(data)} bytes is shorter than a WAL object ({minimum})")
    magic, version, flags, wal_id, epoch, writer_id = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise Corruption(name, f"not a WAL object: magic {magic!r}, expected {MAGIC!r}")
    end = len(data) - TRAILER.size
    count, crc = TRAILER.unpack_from(data, end)
    intact = google_crc32c.value(data[: end + _COUNT.size]) == crc
    if not 1 <= version <= FORMAT_VERSION:
        if not intact:
            raise Corruption(name, f"checksum mismatch (header says format version {version})")
        if version > FORMAT_VERSION:
            raise Corruption(
                name,
                f"WAL format version {version} was written by a newer Strata; "
                f"this one reads versions up to {FORMAT_VERSION}",
            )
        raise Corruption(name, f"unknown WAL format version {version}")
    payloads = _split_batches(name, data, end)  # names the first damaged batch, if any
    if not intact:
        raise Corruption(name, "checksum mismatch: header or trailer damaged, or truncated")
    if flags != 0:
        raise Corruption(name, f"reserved header flags are {flags:#06x}, not 0")
    if count != len(payloads):
        raise Corruption(
            name, f"trailer counts {count} batches but the object holds {len(payloads)}"
        )
    if version == 1:
        batches = tuple(_decode_batch_v1(name, i, p) for i, p in enumerate(payloads))
    else:
        sizes = (2,) if version == 2 else (2, 4)  # 4 has the batches of 3
        batches = tuple(_decode_batch(name, i, p, sizes) for i, p in enumerate(payloads))
    return WalObject(wal_id, epoch, writer_id, batches, version)


def _split_batches(name: str, data: bytes, end: int) -> list[bytes]:
    """The payloads of the batch frames in ``data[HEADER.size:end]``, each checked against its
    checksum."""
    payloads: list[bytes] = []
    pos = HEADER.size
    while pos < end:
        where = f"batch {len(payloads)} at offset {pos}"
        if end - pos < BATCH_HEADER.size:
            raise Corruption(name, f"{where}: frame cut short (damaged or truncated object)")
        length, crc = BATCH_HEADER.unpack_from(data, pos)
        start = pos + BATCH_HEADER.size
        if length > end - start:
            raise Corruption(name, f"{where}: {length}-byte payload runs past the trailer")
        payload = data[start : start + length]
        if google_crc32c.value(payload) != crc:
            raise Corruption(name, f"{where}: checksum mismatch")
        payloads.append(payload)
        pos = start + length
    return payloads


def _decode_batch(name: str, index: int, payload: bytes, sizes: tuple[int, ...]) -> WalBatch:
    """Version 2 and 3 payload: ``[first_seq, [[kind, key, value], ...]]``, or in version 3
    also ``[first_seq, ops, read_seq, [[start, end or nil], ...]]`` (a transaction)."""
    body = _unpack(name, index, payload)
    if not (isinstance(body, tuple) and len(body) in sizes and isinstance(body[1], tuple)):
        raise Corruption(name, f"batch {index} is not [first_seq, ops(, read_seq, ranges)]")
    batch = _checked_batch(name, index, body[0], body[1])
    if len(body) == 2:
        return batch
    read_seq, raw_ranges = body[2], body[3]
    if type(read_seq) is not int or not 0 <= read_seq < batch.first_seq:
        raise Corruption(name, f"batch {index}: read_seq {read_seq!r} out of range")
    if not isinstance(raw_ranges, tuple):
        raise Corruption(name, f"batch {index}: ranges is not an array")
    ranges: list[KeyRange] = []
    for r in raw_ranges:
        if not (
            isinstance(r, tuple)
            and len(r) == 2
            and type(r[0]) is bytes
            and (r[1] is None or type(r[1]) is bytes)
        ):
            raise Corruption(name, f"batch {index}, range {len(ranges)}: not [start, end]")
        ranges.append((r[0], r[1]))
    return WalBatch(batch.first_seq, batch.ops, read_seq, tuple(ranges))


def _decode_batch_v1(name: str, index: int, payload: bytes) -> WalBatch:
    """Version 1 payload: ``[first_seq, kind0, key0, value0, kind1, key1, value1, ...]``."""
    flat = _unpack(name, index, payload)
    if not (isinstance(flat, tuple) and len(flat) % 3 == 1):
        raise Corruption(name, f"batch {index} is not [first_seq, (kind, key, value)...]")
    raw_ops = tuple(zip(flat[1::3], flat[2::3], flat[3::3], strict=True))
    return _checked_batch(name, index, flat[0], raw_ops)


def _unpack(name: str, index: int, payload: bytes) -> object:
    try:
        return msgpack.unpackb(payload, use_list=False, raw=False)
    except (ValueError, msgpack.UnpackException) as exc:
        raise Corruption(name, f"batch {index} is not valid msgpack: {exc}") from exc


def _checked_batch(
    name: str, index: int, first_seq: object, raw_ops: tuple[object, ...]
) -> WalBatch:
    """The batch, after checking every field the format constrains."""
    if not raw_ops:
        raise Corruption(name, f"batch {index} holds no ops")
    if type(first_seq) is not int or not 1 <= first_seq <= MAX_SEQ - len(raw_ops) + 1:
        raise Corruption(name, f"batch {index}: first sequence number {first_seq!r} out of range")
    ops: list[Op] = []
    for op in raw_ops:
        if not (isinstance(op, tuple) and len(op) == 3):
            raise Corruption(name, f"batch {index}, op {len(ops)}: not [kind, key, value]")
        kind, key, value = op
        if type(kind) is not int or not 0 <= kind < len(_KINDS):
            raise Corruption(name, f"batch {index}, op {len(ops)}: unknown kind {kind!r}")
        if type(key) is not bytes or type(value) is not bytes:
            raise Corruption(name, f"batch {index}, op {len(ops)}: key and value must be bin")
        if kind == Kind.DELETE and value:
            raise Corruption(name, f"batch {index}, op {len(ops)}: a delete carries a value")
        ops.append((_KINDS[kind], key, value))
    return WalBatch(first_seq, tuple(ops))
