"""Order-preserving encoding of SQL values in keys (docs/sql-format.md#keys).

For two tuples of SQL values whose components pairwise share a type, ``encode_key(a) <
encode_key(b)`` bytewise exactly when ``a`` sorts before ``b`` in SQL order: NULL first, then
by value (floats in IEEE total order: ``-0.0`` before ``0.0``, NaN after ``+inf``). Every
component is self-delimiting, so the encoding of a tuple is a byte prefix of the encoding of
any tuple that extends it. Each component is a tag byte then a body::

    0x05 NULL                   (no body)
    0x10 FALSE, 0x11 TRUE       (no body)
    0x1F NUMERIC -Infinity      (no body)
    0x20 INTEGER                8 bytes big-endian, sign bit flipped
    0x21 REAL                   8 bytes IEEE 754 big-endian, transformed to sort as unsigned
    0x22 NUMERIC < 0            exponent and digits, every byte inverted
    0x23 NUMERIC = 0            (no body)
    0x24 NUMERIC > 0            4-byte exponent (sign bit flipped), ASCII digits, 0x00
    0x25 NUMERIC +Infinity      (no body)
    0x30 TEXT, 0x31 BLOB        bytes with 0x00 escaped as 0x00 0xFF, then 0x00 0x01
    0x40 DATE                   proleptic ordinal, as INTEGER
    0x41 TIME                   microseconds since midnight, as INTEGER
    0x42 TIMESTAMP              microseconds since 0001-01-01 (naive), as INTEGER
    0x43 TIMESTAMP, aware       its instant: UTC microseconds since 0001-01-01, as INTEGER

A column's keys hold one type (the SQL layer coerces first), so values of different types
simply order by tag. The numbers of a column with no type are all NUMERIC in keys
(``dialect.convert.key_value``), which is what the infinities are for.
"""

from __future__ import annotations

import datetime as dt
import decimal
import struct
from collections.abc import Callable, Sequence
from typing import Any

# None, bool, int, float, Decimal, str, bytes, date, time, datetime. Any, not a union: callers
# hold values of a known column type and should not have to narrow what decode_key returns.
SQLValue = Any

NULL = 0x05
FALSE, TRUE = 0x10, 0x11
INTEGER, REAL = 0x20, 0x21
NUMERIC_NEG, NUMERIC_ZERO, NUMERIC_POS = 0x22, 0x23, 0x24
NUMERIC_NEG_INF, NUMERIC_POS_INF = 0x1F, 0x25
TEXT, BLOB = 0x30, 0x31
DATE, TIME, TIMESTAMP, TIMESTAMP_TZ = 0x40, 0x41, 0x42, 0x43

_TAGGED_U64 = struct.Struct(">BQ")  # tag, then an 8-byte body
_U64 = struct.Struct(">Q")
_F64 = struct.Struct(">d")
_U32 = struct.Struct(">I")
_BIAS64 = 1 << 63  # adding it maps signed 64-bit order onto unsigned order
_BIAS32 = 1 << 31
_ALL64 = (1 << 64) - 1
_CANONICAL_NAN = 0x7FF8000000000000  # every NaN is stored as this quiet, positive NaN
_INVERT = bytes(range(255, -1, -1))  # bytes.translate table: b -> 255 - b
_ESCAPE, _ESCAPED, _TERMINATOR = b"\x00", b"\x00\xff", b"\x00\x01"
_EPOCH = dt.datetime(1, 1, 1)
_UTC = dt.UTC
_EPOCH_UTC = _EPOCH.replace(tzinfo=_UTC)
_US_PER_DAY = 86_400_000_000
_TIMESTAMP_END = dt.date.max.toordinal() * _US_PER_DAY  # microseconds from 0001-01-01

_NULL_BYTES = bytes([NULL])
_BOOL_BYTES = (bytes([FALSE]), bytes([TRUE]))
_ZERO_BYTES = bytes([NUMERIC_ZERO])
_INF_BYTES = (bytes([NUMERIC_POS_INF]), bytes([NUMERIC_NEG_INF]))  # by sign
_TEXT_BYTES, _BLOB_BYTES = bytes([TEXT]), bytes([BLOB])
_NEG_BYTES, _POS_BYTES = bytes([NUMERIC_NEG]), bytes([NUMERIC_POS])


def _tagged_int(tag: int, v: int) -> bytes:
    try:
        return _TAGGED_U64.pack(tag, v + _BIAS64)
    except struct.error:
        raise ValueError(f"{v} is outside the signed 64-bit range of a key") from None


def _encode_null(_: None) -> bytes:
    return _NULL_BYTES


def _encode_bool(v: bool) -> bytes:
    return _BOOL_BYTES[v]


def _encode_int(v: int) -> bytes:
    return _tagged_int(INTEGER, v)


def _encode_float(v: float) -> bytes:
    if v != v:
        bits = _CANONICAL_NAN
    else:
        (bits,) = _U64.unpack(_F64.pack(v))
    # Positive: set the sign bit so they sort above all negatives. Negative: flip every bit so
    # a larger magnitude sorts lower.
    return _TAGGED_U64.pack(REAL, bits ^ _ALL64 if bits & _BIAS64 else bits | _BIAS64)


def _encode_decimal(v: decimal.Decimal) -> bytes:
    sign, digit_tuple, exponent = v.as_tuple()
    if exponent == "F":
        return _INF_BYTES[sign]
    if not isinstance(exponent, int):
        raise ValueError(f"{v} cannot be stored in a key")
    if not any(digit_tuple):
        return _ZERO_BYTES
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    significant = digits.rstrip("0")
    # value = 0.<significant> x 10**scale, with a nonzero first and last digit
    scale = exponent + len(digits)
    if not -_BIAS32 <= scale < _BIAS32:
        raise ValueError(f"{v} has an exponent outside the range of a key")
    body = _U32.pack(scale + _BIAS32) + significant.encode("ascii") + b"\x00"
    if sign:
        return _NEG_BYTES + body.translate(_INVERT)
    return _POS_BYTES + body


def _encode_str(v: str) -> bytes:
    return _TEXT_BYTES + v.encode().replace(_ESCAPE, _ESCAPED) + _TERMINATOR


def _encode_bytes(v: bytes | bytearray | memoryview) -> bytes:
    return _BLOB_BYTES + bytes(v).replace(_ESCAPE, _ESCAPED) + _TERMINATOR


def _encode_datetime(v: dt.datetime) -> bytes:
    micros = (
        (v.toordinal() - 1) * 86_400 + v.hour * 3600 + v.minute * 60 + v.second
    ) * 1_000_000 + v.microsecond
    offset = v.utcoffset()
    if offset is None:
        return _TAGGED_U64.pack(TIMESTAMP, micros + _BIAS64)
    # aware: its instant (UTC), so equal instants are one key
    micros -= (offset.days * 86_400 + offset.seconds) * 1_000_000 + offset.microseconds
    if not 0 <= micros < _TIMESTAMP_END:  # decodes as a datetime in UTC
        raise ValueError(f"{v} is outside the datetime range in UTC")
    return _TAGGED_U64.pack(TIMESTAMP_TZ, micros + _BIAS64)


def _encode_date(v: dt.date) -> bytes:
    return _TAGGED_U64.pack(DATE, v.toordinal() + _BIAS64)


def _encode_time(v: dt.time) -> bytes:
    if v.tzinfo is not None:
        raise ValueError(f"time {v} has a time zone; keys hold only naive times")
    micros = (v.hour * 3600 + v.minute * 60 + v.second) * 1_000_000 + v.microsecond
    return _TAGGED_U64.pack(TIME, micros + _BIAS64)


_ENCODERS: dict[type, Callable[[Any], bytes]] = {  # Any: the type named by the dict key
    type(None): _encode_null,
    bool: _encode_bool,
    int: _encode_int,
    float: _encode_float,
    decimal.Decimal: _encode_decimal,
    str: _encode_str,
    bytes: _encode_bytes,
    dt.date: _encode_date,
    dt.time: _encode_time,
    dt.datetime: _encode_datetime,
}


def _encoder_for(v: object) -> Callable[[Any], bytes]:  # Any: as in _ENCODERS
    # subclasses (numpy floats, pandas Timestamps, IntEnums, ...); bool before int, datetime
    # before date
    for kind in (bool, int, float, decimal.Decimal, str, dt.datetime, dt.date, dt.time):
        if isinstance(v, kind):
            return _ENCODERS[kind]
    if isinstance(v, bytearray | memoryview):
        return _encode_bytes
    raise ValueError(f"{type(v).__name__} values cannot be stored in a key")


def encode_key(values: Sequence[SQLValue]) -> bytes:
    """The order-preserving encoding of a tuple of SQL values.

    ``ValueError`` (naming the value) for an integer outside the signed 64-bit range, a NaN
    Decimal, a Decimal whose exponent does not fit 32 bits, a time with a time zone,
    or a value of no SQL type. An aware datetime is stored as its instant (UTC), so equal
    instants are one key and read back in UTC: the offset is not kept.
    """
    encoders = _ENCODERS
    try:
        return b"".join([encoders[type(v)](v) for v in values])
    except KeyError:
        return b"".join([_encoder_for(v)(v) for v in values])


def _unescape(body: bytes) -> bytes:
    if body.count(_ESCAPE) != body.count(_ESCAPED):
        raise ValueError("0x00 not followed by 0xff or 0x01")
    return body.replace(_ESCAPED, _ESCAPE)


def _decode_numeric(data: bytes, pos: int, negative: bool) -> tuple[decimal.Decimal, int]:
    # the exponent may contain the terminator byte, so search after it
    end = data.index(b"\xff" if negative else b"\x00", pos + 4)
    body = data[pos:end]
    if negative:
        body = body.translate(_INVERT)
    (biased,) = _U32.unpack_from(body)
    digits = body[4:]
    if not (digits.isdigit() and digits[0] != 0x30 and digits[-1] != 0x30):
        raise ValueError(f"bad NUMERIC digits {digits!r}")
    exponent = biased - _BIAS32 - len(digits)
    text = f"{'-' if negative else ''}{digits.decode('ascii')}E{exponent}"
    return decimal.Decimal(text), end + 1


def _decode_components(data: bytes, out: list[SQLValue]) -> None:
    append = out.append
    pos, size = 0, len(data)
    while pos < size:
        tag = data[pos]
        pos += 1
        if tag == INTEGER:
            append(_U64.unpack_from(data, pos)[0] - _BIAS64)
            pos += 8
        elif tag in (TEXT, BLOB):
            end = data.find(_TERMINATOR, pos)
            if end < 0:
                raise ValueError("unterminated TEXT or BLOB")
            body = data[pos:end]
            if _ESCAPE in body:
                body = _unescape(body)
            append(body.decode() if tag == TEXT else body)
            pos = end + 2
        elif tag == NULL:
            append(None)
        elif tag == REAL:
            (bits,) = _U64.unpack_from(data, pos)
            bits = bits ^ _BIAS64 if bits & _BIAS64 else bits ^ _ALL64
            append(_F64.unpack(_U64.pack(bits))[0])
            pos += 8
        elif tag == TIMESTAMP:
            micros = _U64.unpack_from(data, pos)[0] - _BIAS64
            append(_EPOCH + dt.timedelta(microseconds=micros))
            pos += 8
        elif tag == TIMESTAMP_TZ:
            micros = _U64.unpack_from(data, pos)[0] - _BIAS64
            append(_EPOCH_UTC + dt.timedelta(microseconds=micros))
            pos += 8
        elif tag == DATE:
            append(dt.date.fromordinal(_U64.unpack_from(data, pos)[0] - _BIAS64))
            pos += 8
        elif tag == TIME:
            micros = _U64.unpack_from(data, pos)[0] - _BIAS64
            if not 0 <= micros < _US_PER_DAY:
                raise ValueError(f"TIME of {micros} microseconds")
            seconds, us = divmod(micros, 1_000_000)
            append(dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60, us))
            pos += 8
        elif tag in (FALSE, TRUE):
            append(tag == TRUE)
        elif tag == NUMERIC_ZERO:
            append(decimal.Decimal(0))
        elif tag in (NUMERIC_NEG_INF, NUMERIC_POS_INF):
            append(decimal.Decimal("Infinity" if tag == NUMERIC_POS_INF else "-Infinity"))
        elif tag in (NUMERIC_POS, NUMERIC_NEG):
            value, pos = _decode_numeric(data, pos, tag == NUMERIC_NEG)
            append(value)
        else:
            raise ValueError(f"unknown tag {tag:#04x} at offset {pos - 1}")


def decode_int_key(data: bytes, start: int) -> int:
    """The INTEGER that ``data`` holds from ``start`` to its end as its only component (the
    key of a table with an INTEGER primary key); ``ValueError`` if it holds anything else."""
    if len(data) != start + 9 or data[start] != INTEGER:
        raise ValueError(f"not a single INTEGER key component: {data[start:]!r}")
    value: int = _U64.unpack_from(data, start + 1)[0] - _BIAS64
    return value


def decode_key(data: bytes) -> tuple[SQLValue, ...]:
    """The tuple that ``encode_key`` encoded as ``data``; ``ValueError`` if it is malformed."""
    out: list[SQLValue] = []
    try:
        _decode_components(data, out)
    except (ValueError, IndexError, struct.error, OverflowError, ArithmeticError) as exc:
        shown = data[:64] + (b"..." if len(data) > 64 else b"")
        raise ValueError(f"malformed key {shown!r}: {exc}") from exc
    return tuple(out)


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string that starts with ``prefix``, or
    ``None`` if there is none (``prefix`` is empty or all 0xff)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])
