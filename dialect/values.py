"""SQL values: checking and converting what is written to a column's type, and comparing
values the way SQL does (NULL aware, numbers across int/float/decimal)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import operator
from typing import Any

from dialect.catalog import Column
from dialect.errors import DataError

SQLValue = Any  # None, bool, int, float, Decimal, str, bytes, date, time, datetime


def _parse_temporal(kind: str, text: str) -> SQLValue:
    try:
        if kind == "DATE":
            return dt.date.fromisoformat(text[:10])
        if kind == "TIME":
            return dt.time.fromisoformat(text)
        return dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise DataError(f"{text!r} is not a valid {kind}") from exc


def coerce(value: SQLValue, column: Column) -> SQLValue:
    """``value`` converted to ``column``'s type, or ``DataError`` naming both."""
    if value is None:
        return None
    kind = column.type
    try:
        out = _coerce(value, kind)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise DataError(
            f"column {column.name} ({column.declared}) cannot hold {type(value).__name__} {value!r}"
        ) from exc
    if out is None and value is not None:  # NaN / NaT from pandas
        return None
    if kind == "TEXT" and column.length is not None and len(out) > column.length:
        raise DataError(
            f"value of length {len(out)} is too long for {column.name} {column.declared}"
        )
    return out


def _is_nan(value: SQLValue) -> bool:
    return (isinstance(value, float) and math.isnan(value)) or type(value).__name__ == "NaTType"


def _coerce(value: SQLValue, kind: str) -> SQLValue:
    if _is_nan(value):
        return None
    if kind == "ANY":
        return value
    if kind == "INTEGER":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, float | decimal.Decimal):
            if value != int(value):
                raise ValueError("not an integer")
            return int(value)
        if isinstance(value, str | bytes | dt.date | dt.time):
            raise TypeError("not a number")
        out = operator.index(value)  # int, numpy integers
        if not -(2**63) <= out < 2**63:
            raise ValueError("out of the 64-bit range")
        return out
    if kind == "REAL":
        if isinstance(value, str | bytes | dt.date | dt.time):
            raise TypeError("not a number")
        f = float(value)
        return 0.0 if f == 0 else f  # -0.0 == 0.0 in SQL: one key, not two
    if kind == "NUMERIC":
        if isinstance(value, decimal.Decimal):
            if not value.is_finite():
                raise ValueError("not finite")
            return value
        if isinstance(value, float):
            return decimal.Decimal(repr(value))
        if isinstance(value, str | bytes | dt.date | dt.time):
            raise TypeError("not a number")
        return decimal.Decimal(operator.index(value))
    if kind in ("TEXT", "JSON"):
        if isinstance(value, str):
            if kind == "JSON":
                json.loads(value)
            return value
        if kind == "JSON" and isinstance(value, dict | list | int | float | bool):
            return json.dumps(value)
        raise TypeError("not text")
    if kind == "BLOB":
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value)
        raise TypeError("not bytes")
    if kind == "BOOLEAN":
        if isinstance(value, bool):
            return value
        if type(value).__name__ == "bool_":  # numpy
            return bool(value)
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise TypeError("not a boolean")
    if kind == "TIMESTAMP":
        if isinstance(value, dt.datetime):
            if hasattr(value, "to_pydatetime"):  # pandas Timestamp
                value = value.to_pydatetime()
            return value
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day)
        if isinstance(value, str):
            return _parse_temporal(kind, value)
        if type(value).__name__ == "datetime64":
            return _coerce(value.astype("datetime64[us]").item(), kind)
        raise TypeError("not a timestamp")
    if kind == "DATE":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            return _parse_temporal(kind, value)
        raise TypeError("not a date")
    if kind == "TIME":
        if isinstance(value, dt.time):
            return value
        if isinstance(value, str):
            return _parse_temporal(kind, value)
        raise TypeError("not a time")
    raise TypeError(f"unknown column type {kind}")


# -- comparison --------------------------------------------------------------------------


def _rank(v: SQLValue) -> int:
    if isinstance(v, bool | int | float | decimal.Decimal):
        return 1
    if isinstance(v, str):
        return 2
    if isinstance(v, bytes):
        return 3
    return 4


def _harmonise(a: SQLValue, b: SQLValue) -> tuple[SQLValue, SQLValue]:
    if isinstance(a, str) and isinstance(b, dt.date | dt.time):
        a, b = b, a
        b2, a2 = _harmonise(a, b)
        return a2, b2
    if isinstance(a, dt.datetime) and isinstance(b, str):
        try:
            return a, dt.datetime.fromisoformat(b)
        except ValueError:
            return a, b
    if isinstance(a, dt.date) and not isinstance(a, dt.datetime):
        if isinstance(b, str):
            try:
                return a, dt.date.fromisoformat(b[:10])
            except ValueError:
                return a, b
        if isinstance(b, dt.datetime):
            return dt.datetime(a.year, a.month, a.day), b
    if isinstance(a, dt.datetime) and isinstance(b, dt.date) and not isinstance(b, dt.datetime):
        return a, dt.datetime(b.year, b.month, b.day)
    if isinstance(a, dt.time) and isinstance(b, str):
        try:
            return a, dt.time.fromisoformat(b)
        except ValueError:
            return a, b
    if isinstance(a, float) and isinstance(b, decimal.Decimal):
        return decimal.Decimal(repr(a)), b
    if isinstance(a, decimal.Decimal) and isinstance(b, float):
        return a, decimal.Decimal(repr(b))
    return a, b


def compare(a: SQLValue, b: SQLValue) -> int:
    """-1, 0 or 1 for two non-NULL values; values of unrelated types order by kind
    (numbers < text < blobs < others), as in SQLite."""
    a, b = _harmonise(a, b)
    try:
        return -1 if a < b else (1 if a > b else 0)
    except TypeError:
        ra, rb = _rank(a), _rank(b)
        if ra != rb:
            return -1 if ra < rb else 1
        sa, sb = str(a), str(b)
        return -1 if sa < sb else (1 if sa > sb else 0)


class SortKey:
    """Wraps a value for sorting with NULLs first and SQL comparison."""

    __slots__ = ("value",)

    def __init__(self, value: SQLValue) -> None:
        self.value = value

    def __lt__(self, other: SortKey) -> bool:
        a, b = self.value, other.value
        if a is None:
            return b is not None
        if b is None:
            return False
        return compare(a, b) < 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SortKey):
            return NotImplemented
        a, b = self.value, other.value
        if a is None or b is None:
            return a is b
        return compare(a, b) == 0

    def __hash__(self) -> int:
        return hash(self.value)


def hashable(value: SQLValue) -> SQLValue:
    """A key under which equal SQL values group together (1 and 1.0 and Decimal(1) too)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, decimal.Decimal) and value == value.to_integral_value():
        return int(value)
    return value
