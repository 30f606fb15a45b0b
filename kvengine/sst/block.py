"""Block framing shared by data, filter and index blocks, and the data block contents.

A framed block is ``codec (1 byte) | payload | crc32c (4 bytes, little-endian)``; the checksum
covers the codec byte and the payload. The payload is the contents, compressed with the codec
(0 none, 1 zstd, 2 lz4). Data block contents are one msgpack array
``[key0, seq0, kind0, value0, key1, …]`` in record order.
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass
from typing import Literal

import google_crc32c
import lz4.frame
import msgpack
import zstandard

from kvengine.errors import Corruption
from kvengine.record import Entry, Kind

Compression = Literal["zstd", "lz4", "none"]
CODEC_NONE, CODEC_ZSTD, CODEC_LZ4 = 0, 1, 2
CODECS: dict[str, int] = {"none": CODEC_NONE, "zstd": CODEC_ZSTD, "lz4": CODEC_LZ4}
_CRC = struct.Struct("<I")
FRAME_OVERHEAD = 1 + _CRC.size
_local = threading.local()


def _zstd_decompressor() -> zstandard.ZstdDecompressor:
    d = getattr(_local, "zstd", None)
    if d is None:
        d = _local.zstd = zstandard.ZstdDecompressor()
    return d


class Compressor:
    """Compresses block contents with one codec; not thread-safe (one per builder)."""

    def __init__(self, compression: Compression) -> None:
        if compression not in CODECS:
            raise ValueError(f"unknown compression {compression!r}")
        self.codec = CODECS[compression]
        self._zstd = zstandard.ZstdCompressor(level=3) if self.codec == CODEC_ZSTD else None

    def frame(self, contents: bytes) -> bytes:
        """The framed block; stored uncompressed when compressing does not make it smaller."""
        codec, payload = CODEC_NONE, contents
        if self.codec == CODEC_ZSTD and self._zstd is not None:
            payload = self._zstd.compress(contents)
            codec = CODEC_ZSTD
        elif self.codec == CODEC_LZ4:
            payload = lz4.frame.compress(contents)
            codec = CODEC_LZ4
        if len(payload) >= len(contents):
            codec, payload = CODEC_NONE, contents
        head = bytes([codec])
        return head + payload + _CRC.pack(google_crc32c.value(head + payload))


def unframe(name: str, framed: bytes, what: str) -> bytes:
    """The contents of a framed block of SST ``name``; ``Corruption`` if damaged."""
    if len(framed) < FRAME_OVERHEAD:
        raise Corruption(name, f"{what} is {len(framed)} bytes, too short for a block")
    (crc,) = _CRC.unpack_from(framed, len(framed) - _CRC.size)
    body = framed[: -_CRC.size]
    if google_crc32c.value(body) != crc:
        raise Corruption(name, f"{what} checksum mismatch")
    codec, payload = body[0], body[1:]
    try:
        if codec == CODEC_NONE:
            return payload
        if codec == CODEC_ZSTD:
            return bytes(_zstd_decompressor().decompress(payload))
        if codec == CODEC_LZ4:
            return bytes(lz4.frame.decompress(payload))
    except Exception as exc:  # the codecs raise their own error types
        raise Corruption(name, f"{what} does not decompress: {exc}") from exc
    raise Corruption(name, f"{what} has unknown codec {codec}")


@dataclass(frozen=True, slots=True)
class DataBlock:
    """A decoded data block: parallel lists, in record order."""

    keys: list[bytes]
    seqs: list[int]
    kinds: list[int]
    values: list[bytes]
    size: int  # decoded bytes, for the cache

    def entry(self, i: int) -> Entry:
        return Entry(self.keys[i], self.seqs[i], Kind(self.kinds[i]), self.values[i])


def block_cache_bytes(block: DataBlock) -> int:
    """What a decoded data block counts for in the block cache."""
    return block.size + 64 * len(block.keys)


def encode_data_block(flat: list[object]) -> bytes:
    """Contents of a data block from ``[key, seq, kind, value, …]``."""
    out: bytes = msgpack.packb(flat, use_bin_type=True)
    return out


def decode_data_block(name: str, contents: bytes, offset: int) -> DataBlock:
    """Decode data block contents; ``Corruption`` if they are not a well-formed block."""
    try:
        flat = msgpack.unpackb(contents, raw=False)
        if not isinstance(flat, list) or not flat or len(flat) % 4:
            raise ValueError("not a list of (key, seq, kind, value)")
        block = DataBlock(flat[0::4], flat[1::4], flat[2::4], flat[3::4], len(contents))
        if not all(isinstance(k, bytes) for k in block.keys):
            raise ValueError("a key is not bytes")
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise Corruption(name, f"data block at offset {offset} does not decode: {exc}") from exc
    return block
