"""SQL values: converting what is written to a column's type (by the table in
``dialect.convert``), and comparing values the way SQL does (NULL aware, numbers across
int/float/decimal)."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from dialect.catalog import Column
from dialect.convert import assign
from dialect.errors import DataError

SQLValue = Any  # None, bool, int, float, Decimal, str, bytes, date, time, datetime


_INT64 = range(-(2**63), 2**63)


def coerce(value: SQLValue, column: Column) -> SQLValue:
    """``value`` converted to ``column``'s type (the table in ``dialect.convert``), or
    ``DataError`` naming the column and the value."""
    if value is None:
        return None
    # the values most writes carry, already in the column's type (the table's answer, sooner)
    kind, t = column.type, type(value)
    if t is str and kind == "TEXT" and column.length is None:
        return value
    if t is int and kind == "INTEGER" and value in _INT64:
        return value
    if t is float and kind == "REAL" and value == value and value != 0:
        return value
    try:
        out = assign(value, column.type)
    except DataError as exc:
        raise DataError(f"column {column.name} ({column.declared}): {exc}") from None
    if column.length is not None and column.type == "TEXT" and len(out) > column.length:
        raise DataError(
            f"value of length {len(out)} is too long for {column.name} {column.declared}"
        )
    return out


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
    if isinstance(value, list | dict):  # a parameter no SQL value is (JSON goes in as text)
        raise DataError(f"a {type(value).__name__} cannot be grouped or compared: {value!r:.60}")
    return value
