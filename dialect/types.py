"""PEP 249 type objects and constructors.

``cursor.description`` reports each column's type code as its canonical SQL type name
(``"INTEGER"``, ``"TEXT"``, ...); the type objects compare equal to the codes they cover.
"""

from __future__ import annotations

import datetime as dt
import time

Date = dt.date
Time = dt.time
Timestamp = dt.datetime


def DateFromTicks(ticks: float) -> dt.date:
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> dt.time:
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> dt.datetime:
    return Timestamp(*time.localtime(ticks)[:6])


def Binary(data: bytes | bytearray | memoryview | str) -> bytes:
    return data.encode() if isinstance(data, str) else bytes(data)


class DBAPIType:
    """A PEP 249 type object: equal to every type code it names."""

    def __init__(self, *codes: str) -> None:
        self.codes = frozenset(codes)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DBAPIType):
            return self.codes == other.codes
        return isinstance(other, str) and other.upper() in self.codes

    def __hash__(self) -> int:
        return hash(self.codes)

    def __repr__(self) -> str:
        return f"DBAPIType({', '.join(sorted(self.codes))})"


STRING = DBAPIType("TEXT", "JSON")
BINARY = DBAPIType("BLOB")
NUMBER = DBAPIType("INTEGER", "REAL", "NUMERIC", "BOOLEAN")
DATETIME = DBAPIType("DATE", "TIME", "TIMESTAMP")
ROWID = DBAPIType("ROWID")
