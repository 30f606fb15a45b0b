"""Converting SQL values between types: the one table behind CAST, the values written to a
column, the numeric reading of text in arithmetic, and the form numbers take in keys of a
column with no type (docs/sql.md#type-conversions).

A value converts when the conversion keeps its meaning, as SQLite's type affinity does:
numeric text into numeric columns, numbers and booleans into text, ``0``/``1`` and
``'true'``/``'false'`` into BOOLEAN. Anything else is a ``DataError`` naming the value and the
type. CAST converts what assignment does and may also lose precision (``CAST(5.7 AS
INTEGER)`` is 5); TRY_CAST gives NULL where CAST fails.

Types are the canonical names of ``dialect.catalog.TYPE_ALIASES`` (INTEGER, REAL, NUMERIC,
TEXT, BLOB, BOOLEAN, DATE, TIME, TIMESTAMP, JSON) and ANY, the type of a column declared
without one.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import operator
import re
from collections.abc import Callable
from typing import Any

from dialect.catalog import TYPE_ALIASES
from dialect.errors import DataError, NotSupportedError, ProgrammingError

SQLValue = Any  # None, bool, int, float, Decimal, str, bytes, date, time, datetime

_INT64_MIN, _INT64_END = -(2**63), 2**63
# SQLite's whitespace: what it strips around numeric text
_SPACE = " \t\n\v\f\r"
# ASCII digits only (re.ASCII): SQLite reads no other digits
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_INTEGER_TEXT = re.compile(r"[+-]?\d+", re.ASCII)
_NUMBER_PREFIX = re.compile(
    r"[ \t\n\v\f\r]*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)", re.ASCII
)
_BOOLEAN_TEXT = {
    **dict.fromkeys(["true", "t", "yes", "y", "on", "1"], True),
    **dict.fromkeys(["false", "f", "no", "n", "off", "0"], False),
}


_BUILTIN = frozenset([str, int, bool, bytes, decimal.Decimal, dt.date, dt.time, dt.datetime])


class _Refused(Exception):
    """A value that does not convert; the message says why, for the DataError."""


def canonical_type(name: str) -> str:
    """The canonical type of a declared or CAST type name (``BIGINT`` -> ``INTEGER``);
    ``NotSupportedError`` for a name Strata does not know."""
    base = name.split("(")[0].strip().upper()
    kind = TYPE_ALIASES.get(base)
    if kind is None:
        raise NotSupportedError(f"unsupported type: {name}")
    return kind


def _shown(value: SQLValue) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


# -- assignment and CAST ---------------------------------------------------------------------


def assign(value: SQLValue, kind: str) -> SQLValue:
    """``value`` as stored in a column of canonical type ``kind``, or ``DataError`` naming the
    value and the type. NaN and pandas' NaT are NULL."""
    if value is None:
        return None
    try:
        return _convert(value, kind, lossy=False)
    except _Refused as exc:
        raise DataError(f"cannot convert {_shown(value)} to {kind}: {exc}") from None


def cast(value: SQLValue, to: str) -> SQLValue:
    """``CAST(value AS to)`` for a type name ``to`` as written; ``DataError`` naming the value
    and the type where it does not convert, ``NotSupportedError`` for an unknown type."""
    if value is None:
        return None
    kind = canonical_type(to)
    try:
        return _convert(value, kind, lossy=True)
    except _Refused as exc:
        raise DataError(f"cannot CAST {_shown(value)} AS {to.upper()}: {exc}") from None


def try_cast(value: SQLValue, to: str) -> SQLValue:
    """``TRY_CAST(value AS to)``: as :func:`cast`, but NULL where the value does not convert."""
    try:
        return cast(value, to)
    except DataError:
        return None


def _convert(value: SQLValue, kind: str, lossy: bool) -> SQLValue:
    value = _plain(value)
    if value is None:
        return None
    convert = _CONVERTERS.get(kind)
    if convert is None:
        raise _Refused(f"unknown type {kind}")
    return convert(value, lossy)


def _plain(value: SQLValue) -> SQLValue:
    """Python's own value for numpy and pandas scalars; None for NaN and NaT."""
    if type(value) in _BUILTIN:
        return value
    if isinstance(value, float):
        return None if value != value else float(value)
    module = type(value).__module__
    if module.startswith("numpy"):
        if type(value).__name__ == "datetime64":
            if value != value:  # NaT
                return None
            value = value.astype("datetime64[us]").item()
        elif hasattr(value, "item"):
            value = value.item()
        return None if isinstance(value, float) and value != value else value
    if module.startswith("pandas"):
        if type(value).__name__ == "NaTType":
            return None
        if hasattr(value, "to_pydatetime"):  # Timestamp
            return value.to_pydatetime()
    return value


def _number_text(value: str | bytes) -> str:
    """The stripped text of a numeric string, or _Refused."""
    if isinstance(value, bytes):
        value = _decode(value)
    text = value.strip(_SPACE)
    if not _NUMBER_TEXT.fullmatch(text):
        raise _Refused("not a number")
    return text


_NUMERIC_KINDS = frozenset({"INTEGER", "REAL", "NUMERIC", "BOOLEAN"})


def affinity(kind: str | None) -> str | None:
    """SQLite's comparison affinity of a column of canonical type ``kind``: "numeric",
    "text", or "blob" (no declared type, BLOB, dates and times); None when ``kind`` is None
    (not a column)."""
    if kind is None:
        return None
    if kind in _NUMERIC_KINDS:
        return "numeric"
    if kind in ("TEXT", "JSON"):
        return "text"
    return "blob"


def apply_affinity(value: SQLValue, to: str) -> SQLValue:
    """``value``, compared with a column of affinity ``to``, converted as SQLite does before
    comparing: numeric text to a number for a numeric column, a number to text for a text
    column; anything else unchanged."""
    if to == "numeric" and isinstance(value, str):
        try:
            text = _number_text(value)
        except _Refused:
            return value
        if _INTEGER_TEXT.fullmatch(text):
            n = int(text)
            return n if _INT64_MIN <= n < _INT64_END else float(n)
        return float(text)
    if (
        to == "text"
        and isinstance(value, int | float | decimal.Decimal)
        and not isinstance(value, bool)
    ):
        return to_text(value)
    return value


def _decode(value: bytes) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise _Refused("not UTF-8 text") from None


def _checked_int(n: int) -> int:
    if not _INT64_MIN <= n < _INT64_END:
        raise _Refused("out of the 64-bit integer range")
    return n


def _to_integer(value: SQLValue, lossy: bool) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return _checked_int(value)
    if isinstance(value, str | bytes):
        if isinstance(value, bytes) and not lossy:
            raise _Refused("a BLOB is not a number")
        text = _number_text(value)
        if _INTEGER_TEXT.fullmatch(text):
            return _checked_int(int(text))
        # other numeric text is read as a REAL first, as SQLite's affinity does: '1E-324' is
        # 0.0, a whole number; '2.5' stays refused
        value = float(text) if not lossy else decimal.Decimal(text)
    if (
        isinstance(value, decimal.Decimal)
        and value.is_finite()
        and value
        and value.adjusted() >= 19
    ):
        raise _Refused("out of the 64-bit integer range")  # before int() builds a huge number
    if isinstance(value, float | decimal.Decimal):
        finite = value.is_finite() if isinstance(value, decimal.Decimal) else math.isfinite(value)
        if not finite:
            raise _Refused("not finite")
        whole = int(value)  # toward zero, as SQLite's CAST
        if whole != value and not lossy:
            raise _Refused("not a whole number")
        return _checked_int(whole)
    try:
        return _checked_int(operator.index(value))  # integer-like objects
    except TypeError:
        raise _Refused("not a number") from None


def _to_real(value: SQLValue, lossy: bool) -> float:
    if isinstance(value, str | bytes):
        if isinstance(value, bytes) and not lossy:
            raise _Refused("a BLOB is not a number")
        value = float(_number_text(value))
    elif not isinstance(value, int | float | decimal.Decimal):
        raise _Refused("not a number")
    try:
        f = float(value)
    except OverflowError:
        raise _Refused("out of the REAL range") from None
    if f != f:
        raise _Refused("not a number")
    return 0.0 if f == 0 else f  # -0.0 == 0.0 in SQL: one key, not two


def _to_numeric(value: SQLValue, lossy: bool) -> decimal.Decimal:
    if isinstance(value, bool):
        return decimal.Decimal(int(value))
    if isinstance(value, str | bytes):
        if isinstance(value, bytes) and not lossy:
            raise _Refused("a BLOB is not a number")
        return decimal.Decimal(_number_text(value))
    if isinstance(value, decimal.Decimal):
        out = value
    elif isinstance(value, float):
        out = decimal.Decimal(repr(value))
    elif isinstance(value, int):
        out = decimal.Decimal(value)
    else:
        raise _Refused("not a number")
    if not out.is_finite():
        raise _Refused("not finite")
    return out


def to_text(value: SQLValue) -> str:
    """The text of a value, as SQLite writes it: ``True`` is ``'1'``, ``1.0`` is ``'1.0'``,
    ``1e20`` is ``'1.0e+20'``, a date is ISO 8601, a BLOB is its UTF-8 text (invalid bytes
    replaced)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return real_text(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def real_text(f: float) -> str:
    """SQLite's text of a REAL (``printf('%!.15g')``), but with every digit of Python's
    shortest round-trip form: ``0.1``, ``1.0``, ``1.0e+15``, ``2.5e-07``."""
    if not math.isfinite(f):
        return "NaN" if f != f else ("Inf" if f > 0 else "-Inf")
    if f == 0:
        return "0.0"  # -0.0 too, as SQLite
    sign, digit_tuple, exponent = decimal.Decimal(repr(f)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) - 1 + exponent  # the power of ten of the first digit
    head = "-" if sign else ""
    if point < -4 or point >= 15:
        return f"{head}{digits[0]}.{digits[1:] or '0'}e{'-' if point < 0 else '+'}{abs(point):02d}"
    if point < 0:
        return f"{head}0.{'0' * (-point - 1)}{digits}"
    return f"{head}{digits[: point + 1].ljust(point + 1, '0')}.{digits[point + 1 :] or '0'}"


def _to_text(value: SQLValue, lossy: bool) -> str:
    if isinstance(value, bytes):
        if not lossy:
            raise _Refused("a BLOB is not text")
        return _decode(value)
    if isinstance(value, str | bool | int | float | decimal.Decimal | dt.date | dt.time):
        return to_text(value)
    raise _Refused("not text")


def _to_json(value: SQLValue, lossy: bool) -> str:
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            raise _Refused("not JSON") from None
        return value
    if isinstance(value, dict | list | int | float | bool):
        try:
            return json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise _Refused(str(exc)) from None
    raise _Refused("not JSON")


def _to_blob(value: SQLValue, lossy: bool) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if lossy and isinstance(value, str | bool | int | float | decimal.Decimal):
        return to_text(value).encode()
    raise _Refused("not bytes")


def _to_boolean(value: SQLValue, lossy: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | decimal.Decimal):
        if lossy or value in (0, 1):
            return value != 0
        raise _Refused("a BOOLEAN is 0 or 1")
    if isinstance(value, str | bytes):
        text = (_decode(value) if isinstance(value, bytes) else value).strip(_SPACE).lower()
        out = _BOOLEAN_TEXT.get(text)
        if out is None:
            raise _Refused("not 'true', 'false', '1' or '0'")
        return out
    raise _Refused("not a boolean")


def _temporal_text(value: str | bytes) -> str:
    return (_decode(value) if isinstance(value, bytes) else value).strip(_SPACE)


def _to_timestamp(value: SQLValue, lossy: bool) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str | bytes):
        try:
            return dt.datetime.fromisoformat(_temporal_text(value))
        except ValueError:
            raise _Refused("not an ISO 8601 timestamp") from None
    raise _Refused("not a timestamp")


def _to_date(value: SQLValue, lossy: bool) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str | bytes):
        text = _temporal_text(value)
        try:
            if len(text) == 10:
                return dt.date.fromisoformat(text)
            return _to_timestamp(text, lossy).date()
        except (ValueError, _Refused):
            raise _Refused("not an ISO 8601 date") from None
    raise _Refused("not a date")


def _to_time(value: SQLValue, lossy: bool) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, dt.datetime):
        return value.timetz()
    if isinstance(value, str | bytes):
        try:
            return dt.time.fromisoformat(_temporal_text(value))
        except ValueError:
            raise _Refused("not an ISO 8601 time") from None
    raise _Refused("not a time")


def _to_any(value: SQLValue, lossy: bool) -> SQLValue:
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return value


_CONVERTERS: dict[str, Callable[[SQLValue, bool], SQLValue]] = {
    "ANY": _to_any,
    "INTEGER": _to_integer,
    "REAL": _to_real,
    "NUMERIC": _to_numeric,
    "TEXT": _to_text,
    "JSON": _to_json,
    "BLOB": _to_blob,
    "BOOLEAN": _to_boolean,
    "DATE": _to_date,
    "TIME": _to_time,
    "TIMESTAMP": _to_timestamp,
}


def hex_blob(digits: str) -> bytes:
    """The BLOB of a literal ``x'…'``; ``ProgrammingError`` if ``digits`` are not pairs of hex
    digits."""
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise ProgrammingError(f"x'{digits}' is not a BLOB literal: not hex digit pairs") from None


# -- SQL truth and arithmetic ----------------------------------------------------------------


def to_number_lenient(value: SQLValue) -> int | float | decimal.Decimal:
    """The number SQLite reads ``value`` as in arithmetic and aggregates: text (or a BLOB's
    text) by its longest numeric prefix (``'5abc'`` is 5, ``'abc'`` is 0), booleans as 1/0.
    ``DataError`` for a date, time or timestamp."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | decimal.Decimal):
        return value
    if isinstance(value, str | bytes):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        m = _NUMBER_PREFIX.match(text)
        if m is None:
            return 0
        number = m.group(1)
        if _INTEGER_TEXT.fullmatch(number):
            n = int(number)
            return n if _INT64_MIN <= n < _INT64_END else float(n)
        return float(number)
    raise DataError(f"{_shown(value)} is not a number")


def truth(v: SQLValue) -> bool | None:
    """SQL truth of a value: None stays unknown; numbers are true when non-zero; text is true
    when its numeric prefix is non-zero, as in SQLite."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int | float | decimal.Decimal):
        return v != 0
    if isinstance(v, str | bytes):
        return to_number_lenient(v) != 0
    return True


def number_op(a: SQLValue, b: SQLValue, op: str) -> SQLValue:
    """``a op b`` for ``op`` one of ``+ - * / %`` with SQLite's rules: integer division of
    integers truncates, division by zero is NULL, text is read by :func:`to_number_lenient`."""
    x: Any = to_number_lenient(a)  # Any: int, float or Decimal, mixed below
    y: Any = to_number_lenient(b)
    if isinstance(x, decimal.Decimal) and isinstance(y, float):
        x = float(x)
    elif isinstance(y, decimal.Decimal) and isinstance(x, float):
        y = float(y)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if y == 0:
        return None  # SQLite: division by zero is NULL
    if op == "/":
        if isinstance(x, int) and isinstance(y, int):
            q = abs(x) // abs(y)
            return q if (x >= 0) == (y >= 0) else -q
        return x / y
    if isinstance(x, int) and isinstance(y, int):
        return int(math.fmod(x, y))
    return math.fmod(float(x), float(y))


def int_div(a: SQLValue, b: SQLValue) -> int | None:
    """``a DIV b`` (MySQL): the quotient truncated toward zero, an INTEGER; NULL when ``b``
    is zero."""
    x: Any = to_number_lenient(a)  # Any: int, float or Decimal
    y: Any = to_number_lenient(b)
    if y == 0:
        return None
    if isinstance(x, int) and isinstance(y, int):
        q = abs(x) // abs(y)
        return q if (x >= 0) == (y >= 0) else -q
    if isinstance(x, decimal.Decimal) or isinstance(y, decimal.Decimal):
        return int(decimal.Decimal(x) / decimal.Decimal(y))
    quotient = x / y
    if not math.isfinite(quotient):
        raise DataError(f"{a!r} DIV {b!r} is out of the INTEGER range")
    return int(quotient)


def typeof(v: SQLValue) -> str:
    """SQLite's ``typeof``: null, integer (booleans too), real, text (dates too) or blob."""
    if v is None:
        return "null"
    if isinstance(v, bool | int):
        return "integer"
    if isinstance(v, float | decimal.Decimal):
        return "real"
    if isinstance(v, bytes):
        return "blob"
    return "text"


def like_regex(pattern: str, escape: str | None) -> re.Pattern[str]:
    """A regex equivalent to SQL LIKE ``pattern`` (case-insensitive for ASCII, as SQLite)."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if escape is not None and ch == escape and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


# -- numbers in keys of a column with no type ------------------------------------------------


def key_value(value: SQLValue, kind: str) -> SQLValue:
    """``value`` as encoded in keys of a column of canonical type ``kind``: itself, except in
    a column with no type (ANY), where every number (booleans too) is one Decimal, so that
    equal numbers are one key (1, 1.0, TRUE) and all numbers order by value.
    ``ValueError`` for an integer outside the signed 64-bit range, as ``encode_key``."""
    if kind != "ANY" or not isinstance(value, int | float | decimal.Decimal):
        return value
    if isinstance(value, float):
        if math.isinf(value):
            return decimal.Decimal(value)
        if value.is_integer():
            return decimal.Decimal(int(value))  # exact: large floats meet integers exactly
        return decimal.Decimal(repr(value))  # |value| < 2**52: no integer is nearer
    if isinstance(value, int):
        if not _INT64_MIN <= value < _INT64_END:
            raise ValueError(f"{value} is outside the signed 64-bit range of a key")
        return decimal.Decimal(int(value))
    return value


def from_key_value(value: SQLValue, kind: str) -> SQLValue:
    """The value a key of a column of type ``kind`` holds (the inverse of :func:`key_value`):
    in an ANY column, a whole number in the 64-bit range is an INTEGER, any other a REAL."""
    if kind != "ANY" or not isinstance(value, decimal.Decimal):
        return value
    if value.is_finite() and value == value.to_integral_value():
        n = int(value)
        if _INT64_MIN <= n < _INT64_END:
            return n
    return float(value)
