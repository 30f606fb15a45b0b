"""Manifest codec: the bytes of one manifest version (format: docs/formats/manifest.md).

A fixed header (magic, format version, body length), a msgpack body, and a crc32c of
everything before it. This module does no I/O: ``manifest/store.py`` names and stores
versions.
"""

from __future__ import annotations

import struct

import google_crc32c
import msgpack

from kvengine.errors import Corruption
from kvengine.manifest.model import (
    Checkpoint,
    ExternalRoot,
    Fence,
    Manifest,
    SortedRun,
    SSTMeta,
)

MAGIC = b"STRM"
#: The version this module writes; it reads every version from 1 up to this one. Version 2
#: added the checkpoints (a tenth body field), version 3 the transaction WAL span (an eleventh),
#: version 4 the version's own id (a twelfth), so that another version's valid bytes stored
#: under this version's name are caught; version 5 the external roots of a clone (a
#: thirteenth) and each SST's root id (an eighth SST field); version 6 the latest final fence
#: at or before the replay point (a fourteenth: WAL id, writer epoch, writer id, overtaken at).
FORMAT_VERSION = 6
#: magic, format version, body length
HEADER = struct.Struct("<4sHI")
#: crc32c of the header and the body
TRAILER = struct.Struct("<I")
MAX_BODY_BYTES = 0xFFFF_FFFF
#: body fields by format version
_BODY_FIELDS = {1: 9, 2: 10, 3: 11, 4: 12, 5: 13, 6: 14}
_EXTERNAL_FIELDS = 3
_CHECKPOINT_FIELDS = 5
_RUN_FIELDS = 2

SSTFields = tuple[int, int, bytes, bytes, int, int, int, int]


def encode_manifest(m: Manifest, manifest_id: int = 0) -> bytes:
    """The bytes of ``m`` as version ``manifest_id`` (0: not known). Raises ``ValueError`` if
    ``m`` breaks an invariant (a manifest that could not be decoded is never produced) or does
    not fit the format."""
    m.check_invariants()
    fields = (
        m.writer_epoch,
        m.compactor_epoch,
        m.writer_id,
        m.wal_replay_after,
        m.last_seq,
        tuple(_sst_fields(s) for s in m.l0),
        tuple((r.run_id, tuple(_sst_fields(s) for s in r.ssts)) for r in m.runs),
        m.next_sst_id,
        m.next_run_id,
        tuple(
            (c.name, c.manifest_id, c.wal_tail, c.created_ms, c.expires_ms or 0)
            for c in m.checkpoints
        ),
        m.txn_wal_span,
        manifest_id,
        tuple((e.root_id, e.url, e.checkpoint) for e in m.external),
        (m.fence.wal_id, m.fence.epoch, m.fence.writer_id, m.fence.overtaken_at),
    )
    try:
        body: bytes = msgpack.packb(fields, use_bin_type=True)
    except OverflowError as exc:
        raise ValueError(f"a manifest number does not fit in 64 bits: {exc}") from exc
    if len(body) > MAX_BODY_BYTES:
        raise ValueError(f"manifest body of {len(body)} bytes exceeds the 4 GiB limit")
    head = HEADER.pack(MAGIC, FORMAT_VERSION, len(body)) + body
    return head + TRAILER.pack(google_crc32c.value(head))


def decode_manifest(name: str, data: bytes, manifest_id: int | None = None) -> Manifest:
    """The manifest stored as object ``name`` with bytes ``data``; with ``manifest_id``, a
    version 3 manifest that names another id is ``Corruption`` (another version's bytes).

    Raises ``Corruption(name, ...)`` for truncation, a checksum mismatch, a format version
    newer than this Strata reads, a body the format does not allow, or contents that break a
    manifest invariant.
    """
    minimum = HEADER.size + TRAILER.size
    if len(data) < minimum:
        raise Corruption(name, f"{len(data)} bytes is shorter than a manifest ({minimum})")
    magic, version, body_length = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise Corruption(name, f"not a manifest: magic {magic!r}, expected {MAGIC!r}")
    end = len(data) - TRAILER.size
    (crc,) = TRAILER.unpack_from(data, end)
    if google_crc32c.value(data[:end]) != crc:
        raise Corruption(name, "checksum mismatch (damaged or truncated)")
    if version > FORMAT_VERSION:
        raise Corruption(
            name,
            f"manifest format version {version} was written by a newer Strata; "
            f"this one reads versions up to {FORMAT_VERSION}",
        )
    if version < 1:
        raise Corruption(name, f"unknown manifest format version {version}")
    if body_length != end - HEADER.size:
        raise Corruption(name, f"header says a {body_length}-byte body, found {end - HEADER.size}")
    try:
        body = msgpack.unpackb(data[HEADER.size : end], use_list=False)
        manifest = _from_fields(body, version)
        manifest.check_invariants()
        stored_id = (
            _uint(_array(body, _BODY_FIELDS[version], "body")[11], "manifest_id")
            if version >= 4
            else None
        )
    except (ValueError, msgpack.UnpackException) as exc:
        raise Corruption(name, f"invalid manifest body: {exc}") from exc
    if manifest_id is not None and stored_id is not None and stored_id != manifest_id:
        raise Corruption(name, f"this is manifest version {stored_id}, not {manifest_id}")
    return manifest


def _sst_fields(s: SSTMeta) -> SSTFields:
    return (s.sst_id, s.size, s.first_key, s.last_key, s.entries, s.min_seq, s.max_seq, s.root)


# Decoding checks every field's shape and type, raising ValueError; decode_manifest turns that
# into Corruption. Every integer in the format is unsigned.


def _from_fields(body: object, version: int) -> Manifest:
    f = _array(body, _BODY_FIELDS[version], "body")

    def _sst(value: object) -> SSTMeta:
        return _sst_of(value, version)

    def _run(value: object) -> SortedRun:
        run_id, ssts = _array(value, _RUN_FIELDS, "run")
        return SortedRun(
            _uint(run_id, "run_id"), tuple(_sst(s) for s in _array(ssts, None, "ssts"))
        )

    return Manifest(
        writer_epoch=_uint(f[0], "writer_epoch"),
        compactor_epoch=_uint(f[1], "compactor_epoch"),
        writer_id=_bin(f[2], "writer_id"),
        wal_replay_after=_uint(f[3], "wal_replay_after"),
        last_seq=_uint(f[4], "last_seq"),
        l0=tuple(_sst(s) for s in _array(f[5], None, "l0")),
        runs=tuple(_run(r) for r in _array(f[6], None, "runs")),
        next_sst_id=_uint(f[7], "next_sst_id"),
        next_run_id=_uint(f[8], "next_run_id"),
        checkpoints=tuple(_checkpoint(c) for c in _array(f[9], None, "checkpoints"))
        if version >= 2
        else (),
        txn_wal_span=_uint(f[10], "txn_wal_span") if version >= 3 else 0,
        external=tuple(_external(e) for e in _array(f[12], None, "external"))
        if version >= 5
        else (),
        fence=_fence(f[13]) if version >= 6 else Fence(),
    )


def _fence(value: object) -> Fence:
    wal_id, epoch, writer_id, overtaken_at = _array(value, 4, "fence")
    return Fence(
        _uint(wal_id, "fence wal_id"),
        _uint(epoch, "fence epoch"),
        _bin(writer_id, "fence writer_id"),
        _uint(overtaken_at, "fence overtaken_at"),
    )


def _external(value: object) -> ExternalRoot:
    root_id, url, checkpoint = _array(value, _EXTERNAL_FIELDS, "external root")
    if type(url) is not str or type(checkpoint) is not str:
        raise ValueError("an external root's URL and checkpoint are not str")
    return ExternalRoot(_uint(root_id, "external root_id"), url, checkpoint)


def _checkpoint(value: object) -> Checkpoint:
    name, manifest_id, wal_tail, created_ms, expires_ms = _array(
        value, _CHECKPOINT_FIELDS, "checkpoint"
    )
    if type(name) is not str:
        raise ValueError(f"checkpoint name is {type(name).__name__}, not str")
    return Checkpoint(
        name=name,
        manifest_id=_uint(manifest_id, "checkpoint manifest_id"),
        wal_tail=_uint(wal_tail, "checkpoint wal_tail"),
        created_ms=_uint(created_ms, "checkpoint created_ms"),
        expires_ms=_uint(expires_ms, "checkpoint expires_ms") or None,
    )


def _sst_of(value: object, version: int) -> SSTMeta:
    f = _array(value, 8 if version >= 5 else 7, "sst")
    return SSTMeta(
        sst_id=_uint(f[0], "sst_id"),
        size=_uint(f[1], "size"),
        first_key=_bin(f[2], "first_key"),
        last_key=_bin(f[3], "last_key"),
        entries=_uint(f[4], "entries"),
        min_seq=_uint(f[5], "min_seq"),
        max_seq=_uint(f[6], "max_seq"),
        root=_uint(f[7], "root") if version >= 5 else 0,
    )


def _array(value: object, length: int | None, what: str) -> tuple[object, ...]:
    if not isinstance(value, tuple):
        raise ValueError(f"{what} is {type(value).__name__}, not an array")
    if length is not None and len(value) != length:
        raise ValueError(f"{what} has {len(value)} fields, not {length}")
    return value


def _uint(value: object, what: str) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{what} is {value!r}, not an unsigned integer")
    return value


def _bin(value: object, what: str) -> bytes:
    if type(value) is not bytes:
        raise ValueError(f"{what} is {type(value).__name__}, not bin")
    return value
