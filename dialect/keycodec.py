"""Order-preserving encoding of SQL values in keys (docs/sql-format.md#keys).

``encode_key(a) < encode_key(b)`` bytewise exactly when tuple ``a`` sorts before ``b`` in SQL
order (NULL first), for tuples whose components pairwise share a type; every component is
self-delimiting, so the encoding of a tuple is a prefix of the encoding of its extensions.

Tags (one byte per component, NULL lowest)::

    0x05 NULL      0x10 FALSE   0x11 TRUE
    0x20 INTEGER   8 bytes big-endian, sign bit flipped
    0x21 REAL      8 bytes IEEE 754 big-endian; positive: sign bit flipped, negative: all bits
                   flipped (NaN after +inf)
    0x22 NUMERIC<0, 0x23 NUMERIC=0, 0x24 NUMERIC>0
                   4-byte exponent (sign flipped) then the digits as ASCII then 0x00; for
                   negatives every byte of exponent and digits is inverted and the end is 0xff
    0x30 TEXT, 0x31 BLOB
                   the bytes with 0x00 written 0x00 0xff, then 0x00 0x01
    0x40 DATE      8-byte proleptic ordinal (as INTEGER)
    0x41 TIME      microseconds since midnight (as INTEGER)
    0x42 TIMESTAMP microseconds since 0001-01-01 (as INTEGER); aware values in UTC
"""

from __future__ import annotations

import datetime as dt
import decimal
import struct
from collections.abc import Sequence
from typing import Any

NULL, FALSE, TRUE = 0x05, 0x10, 0x11
INT, REAL = 0x20, 0x21
DEC_NEG, DEC_ZERO, DEC_POS = 0x22, 0x23, 0x24
TEXT, BLOB = 0x30, 0x31
DATE, TIME, TIMESTAMP = 0x40, 0x41, 0x42

_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
_SIGN64 = 1 << 63
_SIGN32 = 1 << 31
_EPOCH = dt.datetime(1, 1, 1)
_MICRO = dt.timedelta(microseconds=1)
_TERM = b"\x00\x01"


def _int(v: int) -> bytes:
    if not -_SIGN64 <= v < _SIGN64:
        raise ValueError(f"integer {v} is outside the 64-bit range")
    return _U64.pack(v + _SIGN64)


def _float(v: float) -> bytes:
    (bits,) = _U64.unpack(struct.pack(">d", v))
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits & _SIGN64 else bits | _SIGN64
    return _U64.pack(bits)


def _unfloat(b: bytes) -> float:
    (bits,) = _U64.unpack(b)
    bits = bits & ~_SIGN64 if bits & _SIGN64 else bits ^ 0xFFFFFFFFFFFFFFFF
    value: float = struct.unpack(">d", _U64.pack(bits))[0]
    return value


def _decimal(v: decimal.Decimal) -> bytes:
    if not v.is_finite():
        raise ValueError(f"{v} cannot be stored in a key")
    if v == 0:
        return bytes([DEC_ZERO])
    sign, digit_tuple, exponent = v.as_tuple()  # exact: normalize() would round to 28 digits
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    digits = stripped
    text = digits.encode()
    # value = 0.<digits> x 10**e
    e = exponent + len(digits)
    body = _U32.pack(e + _SIGN32) + text + b"\x00"
    if sign:
        return bytes([DEC_NEG]) + bytes(255 - c for c in body)
    return bytes([DEC_POS]) + body


def encode_value(v: Any) -> bytes:  # Any: one SQL value
    """The encoding of one component."""
    if v is None:
        return bytes([NULL])
    if isinstance(v, bool):
        return bytes([TRUE if v else FALSE])
    if isinstance(v, int):
        return bytes([INT]) + _int(v)
    if isinstance(v, float):
        return bytes([REAL]) + _float(v)
    if isinstance(v, decimal.Decimal):
        return _decimal(v)
    if isinstance(v, str):
        return bytes([TEXT]) + v.encode().replace(b"\x00", b"\x00\xff") + _TERM
    if isinstance(v, bytes | bytearray | memoryview):
        return bytes([BLOB]) + bytes(v).replace(b"\x00", b"\x00\xff") + _TERM
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.UTC).replace(tzinfo=None)
        return bytes([TIMESTAMP]) + _int((v - _EPOCH) // _MICRO)
    if isinstance(v, dt.date):
        return bytes([DATE]) + _int(v.toordinal())
    if isinstance(v, dt.time):
        if v.tzinfo is not None:
            raise ValueError("times with a time zone cannot be stored in a key")
        micros = ((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000 + v.microsecond
        return bytes([TIME]) + _int(micros)
    raise ValueError(f"{type(v).__name__} values cannot be stored in a key")


def encode_key(values: Sequence[Any]) -> bytes:  # Any: SQL values
    """The order-preserving encoding of a tuple of SQL values."""
    return b"".join(encode_value(v) for v in values)


def _terminated(data: bytes, pos: int) -> tuple[bytes, int]:
    out = bytearray()
    while True:
        i = data.index(b"\x00", pos)
        out += data[pos:i]
        marker = data[i + 1]
        if marker == 0x01:
            return bytes(out), i + 2
        if marker != 0xFF:
            raise ValueError(f"bad escape at offset {i}")
        out.append(0)
        pos = i + 2


def decode_key(data: bytes) -> tuple[Any, ...]:  # Any: SQL values
    """The tuple ``encode_key`` encoded; ``ValueError`` if ``data`` is malformed."""
    out: list[Any] = []
    pos = 0
    try:
        while pos < len(data):
            tag = data[pos]
            pos += 1
            if tag == NULL:
                out.append(None)
            elif tag in (FALSE, TRUE):
                out.append(tag == TRUE)
            elif tag in (INT, DATE, TIME, TIMESTAMP):
                (raw,) = _U64.unpack_from(data, pos)
                pos += 8
                n = raw - _SIGN64
                if tag == INT:
                    out.append(n)
                elif tag == DATE:
                    out.append(dt.date.fromordinal(n))
                elif tag == TIMESTAMP:
                    out.append(_EPOCH + dt.timedelta(microseconds=n))
                else:
                    s, us = divmod(n, 1_000_000)
                    out.append(dt.time(s // 3600, s // 60 % 60, s % 60, us))
            elif tag == REAL:
                if len(data) < pos + 8:
                    raise ValueError("truncated REAL")
                out.append(_unfloat(data[pos : pos + 8]))
                pos += 8
            elif tag == DEC_ZERO:
                out.append(decimal.Decimal(0))
            elif tag in (DEC_POS, DEC_NEG):
                end = data.index(b"\xff" if tag == DEC_NEG else b"\x00", pos + 4)
                body = data[pos:end]
                if tag == DEC_NEG:
                    body = bytes(255 - c for c in body)
                (e,) = _U32.unpack_from(body)
                digits = body[4:].decode()
                exponent = e - _SIGN32 - len(digits)
                value = decimal.Decimal(f"{'-' if tag == DEC_NEG else ''}{digits}E{exponent}")
                out.append(value)
                pos = end + 1
            elif tag in (TEXT, BLOB):
                raw_bytes, pos = _terminated(data, pos)
                out.append(raw_bytes.decode() if tag == TEXT else raw_bytes)
            else:
                raise ValueError(f"unknown tag {tag:#x} at offset {pos - 1}")
    except (IndexError, struct.error, UnicodeDecodeError, decimal.InvalidOperation) as exc:
        raise ValueError(f"malformed key: {exc}") from exc
    return tuple(out)


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string that starts with ``prefix``."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])
