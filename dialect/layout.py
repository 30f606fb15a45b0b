"""Where SQL data lives in the key space (docs/sql-format.md#layout).

* ``\\x00catalog`` — the catalog; ``\\x00seq`` + table id — the table's id counter;
  ``\\x00schema`` + table id — the table's schema version (changed by every DDL on it);
* ``t`` + table id (4 bytes, big-endian) + encoded primary key — a row;
* ``i`` + index id (4 bytes) + encoded index columns + encoded primary key — an index entry.
"""

from __future__ import annotations

import struct

_ID = struct.Struct(">I")
COUNTER_PREFIX = b"\x00seq"
SCHEMA_PREFIX = b"\x00schema"
#: the first id of a temporary table or index (dialect/temp.py); stored ids stay below it
TEMP_BASE = 0xC000_0000


def table_prefix(table_id: int) -> bytes:
    return b"t" + _ID.pack(table_id)


def index_prefix(index_id: int) -> bytes:
    return b"i" + _ID.pack(index_id)


def counter_key(table_id: int) -> bytes:
    return COUNTER_PREFIX + _ID.pack(table_id)


def schema_key(table_id: int) -> bytes:
    """Written by every change to the definition of table ``table_id``; watched by every
    transaction that uses the table."""
    return SCHEMA_PREFIX + _ID.pack(table_id)
