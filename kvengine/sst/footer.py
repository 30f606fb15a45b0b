"""The fixed-size footer at the end of every SST: where the filter and index blocks are."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import google_crc32c

from kvengine.errors import Corruption

MAGIC = b"STRS"
FORMAT_VERSION = 1
# magic, format version, filter offset, filter length, index offset, index length
_FIELDS = struct.Struct("<4sHQIQI")
_CRC = struct.Struct("<I")
FOOTER_BYTES = _FIELDS.size + _CRC.size


@dataclass(frozen=True)
class Footer:
    filter_offset: int
    filter_length: int
    index_offset: int
    index_length: int

    def encode(self) -> bytes:
        head = _FIELDS.pack(
            MAGIC,
            FORMAT_VERSION,
            self.filter_offset,
            self.filter_length,
            self.index_offset,
            self.index_length,
        )
        return head + _CRC.pack(google_crc32c.value(head))

    @classmethod
    def decode(cls, name: str, data: bytes, object_size: int) -> Footer:
        """Parse the last ``FOOTER_BYTES`` of SST ``name`` (``object_size`` bytes long)."""
        if len(data) != FOOTER_BYTES:
            raise Corruption(name, f"SST of {object_size} bytes is too short for a footer")
        (crc,) = _CRC.unpack_from(data, _FIELDS.size)
        if google_crc32c.value(data[: _FIELDS.size]) != crc:
            raise Corruption(name, "SST footer checksum mismatch (damaged or truncated)")
        magic, version, f_off, f_len, i_off, i_len = _FIELDS.unpack_from(data)
        if magic != MAGIC:
            raise Corruption(name, f"bad SST magic {magic!r}")
        if version != FORMAT_VERSION:
            raise Corruption(name, f"SST format version {version} is not {FORMAT_VERSION}")
        end = object_size - FOOTER_BYTES
        if not (f_off + f_len == i_off and i_off + i_len == end):
            raise Corruption(name, "SST footer offsets do not match the object size")
        return cls(f_off, f_len, i_off, i_len)
