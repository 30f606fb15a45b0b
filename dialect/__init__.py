"""Strata's SQL layer: a PEP 249 (DB-API 2.0) driver over the ``kvengine`` key-value engine.

>>> import dialect
>>> with dialect.connect("memory://doc") as conn:
...     _ = conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
...     _ = conn.execute("INSERT INTO t (name) VALUES (?)", ("ada",))
...     conn.execute("SELECT id, name FROM t").fetchall()
[(1, 'ada')]
"""

from dialect.dbapi import Connection, Cursor, connect
from dialect.errors import (
    ConflictError,
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
)
from dialect.types import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    Date,
    DateFromTicks,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
)

apilevel = "2.0"
threadsafety = 1  # threads may share the module and the engine, not connections
paramstyle = "qmark"  # ":name" parameters are accepted too

__all__ = [
    "BINARY",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "Binary",
    "ConflictError",
    "Connection",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "apilevel",
    "connect",
    "paramstyle",
    "threadsafety",
]
