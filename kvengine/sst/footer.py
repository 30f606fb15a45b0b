"""The fixed-size footer at the end of every SST: where the filter and index blocks are, and
(since version 2) the SST's own id, so that an SST stored under another SST's name is caught."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import google_crc32c

from kvengine.errors import Corruption

MAGIC = b"STRS"
#: The version this module writes; it reads versions 1 and 2. Version 2 put the SST id in
#: front of the version 1 fields, so the last 34 bytes keep the same layout in both.
FORMAT_VERSION = 2
# magic, format version, filter offset, filter length, index offset, index length
_FIELDS = struct.Struct("<4sHQIQI")
_ID = struct.Struct("<Q")
_CRC = struct.Struct("<I")
#: footer length by version
V1_FOOTER_BYTES = _FIELDS.size + _CRC.size
FOOTER_BYTES = _ID.size + V1_FOOTER_BYTES
#: the most footer bytes a reader needs from the end of an SST
MAX_FOOTER_BYTES = FOOTER_BYTES


@dataclass(frozen=True)
class Footer:
    filter_offset: int
    filter_length: int
    index_offset: int
    index_length: int
    #: the SST's id (0 until the writer knows it: ``with_sst_id``); None in a version 1 footer
    sst_id: int | None = 0

    @property
    def length(self) -> int:
        return V1_FOOTER_BYTES if self.sst_id is None else FOOTER_BYTES

    def encode(self) -> bytes:
        if self.sst_id is None:
            raise ValueError("only version 2 footers are written")
        head = _ID.pack(self.sst_id) + _FIELDS.pack(
            MAGIC,
            FORMAT_VERSION,
            self.filter_offset,
            self.filter_length,
            self.index_offset,
            self.index_length,
        )
        return head + _CRC.pack(google_crc32c.value(head))

    @classmethod
    def decode(cls, name: str, tail: bytes, object_size: int) -> Footer:
        """Parse the footer of SST ``name`` (``object_size`` bytes long) from ``tail``, the
        last ``min(object_size, MAX_FOOTER_BYTES)`` or more bytes of the object."""
        if len(tail) < V1_FOOTER_BYTES or object_size < V1_FOOTER_BYTES:
            raise Corruption(name, f"SST of {object_size} bytes is too short for a footer")
        v1 = tail[-V1_FOOTER_BYTES:]
        magic, version = struct.unpack_from("<4sH", v1)
        length = FOOTER_BYTES if version == 2 else V1_FOOTER_BYTES
        if length > min(len(tail), object_size):
            raise Corruption(name, f"SST of {object_size} bytes is too short for a footer")
        data = tail[-length:]
        (crc,) = _CRC.unpack_from(data, length - _CRC.size)
        if google_crc32c.value(data[: -_CRC.size]) != crc:
            raise Corruption(name, "SST footer checksum mismatch (damaged or truncated)")
        if magic != MAGIC:
            raise Corruption(name, f"bad SST magic {magic!r}")
        if version not in (1, 2):
            raise Corruption(name, f"SST format version {version} is not 1 or {FORMAT_VERSION}")
        sst_id = _ID.unpack_from(data)[0] if version == 2 else None
        _, _, f_off, f_len, i_off, i_len = _FIELDS.unpack_from(v1)
        end = object_size - length
        if not (f_off + f_len == i_off and i_off + i_len == end):
            raise Corruption(name, "SST footer offsets do not match the object size")
        return cls(f_off, f_len, i_off, i_len, sst_id)


def with_sst_id(data: bytes, sst_id: int) -> bytes:
    """The bytes of the SST ``data`` (as a builder made them) with ``sst_id`` in its footer."""
    old = Footer.decode("<new SST>", data[-FOOTER_BYTES:], len(data))
    footer = Footer(
        old.filter_offset, old.filter_length, old.index_offset, old.index_length, sst_id
    )
    return data[: -old.length] + footer.encode()
