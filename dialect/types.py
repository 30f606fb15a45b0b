"""PEP 249 type objects and constructors.

``cursor.description`` gives each column's type code as its SQL type name: ``"INTEGER"``,
``"REAL"``, ``"NUMERIC"``, ``"BOOLEAN"``, ``"TEXT"``, ``"JSON"``, ``"BLOB"``, ``"DATE"``,
``"TIME"`` or ``"TIMESTAMP"`` (``None`` for a column with no type). Each type object compares
equal to the codes of its group, so ``description[i][1] == dialect.NUMBER`` works as PEP 249
intends.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable

from dialect.convert import cast

Date = dt.date
Time = dt.time
Timestamp = dt.datetime


def DateFromTicks(ticks: float) -> dt.date:
    """The local date at ``ticks`` seconds since the epoch."""
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> dt.time:
    """The local time of day, to the second, at ``ticks`` seconds since the epoch."""
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> dt.datetime:
    """The naive local date and time, to the second, at ``ticks`` seconds since the epoch."""
    return Timestamp(*time.localtime(ticks)[:6])


def Binary(data: bytes | bytearray | memoryview | str) -> bytes:
    """A value for a BLOB column; a ``str`` is taken as its UTF-8 bytes, as ``CAST(data AS
    BLOB)``."""
    out: bytes = cast(data, "BLOB")
    return out


class DBAPIType:
    """A PEP 249 type object: equal to each type code (SQL type name) in ``names``, in any
    case, and to another type object with the same names."""

    __slots__ = ("names",)

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(name.upper() for name in names)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return other.upper() in self.names
        if isinstance(other, DBAPIType):
            return self.names == other.names
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.names)

    def __repr__(self) -> str:
        return f"DBAPIType({sorted(self.names)!r})"


STRING = DBAPIType(frozenset({"TEXT", "JSON"}))
BINARY = DBAPIType(frozenset({"BLOB"}))
NUMBER = DBAPIType(frozenset({"INTEGER", "REAL", "NUMERIC", "BOOLEAN"}))
DATETIME = DBAPIType(frozenset({"DATE", "TIME", "TIMESTAMP"}))
ROWID = DBAPIType(frozenset({"ROWID"}))
