"""Rows of a table as key-value pairs: the row key from the primary key, the value from the
other columns, and index entries (docs/sql-format.md#layout).

Keys hold each value in its key form (``dialect.convert.key_value``): in a column with no type,
numbers become Decimals so that 1, 1.0 and TRUE are one key and all numbers order by value."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

import sqlglot
from sqlglot import exp

from dialect.catalog import Column, Index, Table
from dialect.convert import from_key_value, key_value
from dialect.errors import DataError, InternalError
from dialect.keycodec import decode_int_key, decode_key, encode_key, prefix_end
from dialect.layout import index_prefix, table_prefix
from dialect.rowcodec import decode_row, encode_row
from dialect.transaction import Transaction
from dialect.values import coerce

Row = tuple[Any, ...]  # Any: SQL values, in the order of table.columns


def constant_default(column: Column) -> Any:  # Any: a SQL value
    """The value of a column's DEFAULT if it is a constant (a literal, NULL, TRUE/FALSE or a
    negated number); None otherwise."""
    if column.default_sql is None:
        return None
    node = sqlglot.parse_one(column.default_sql)
    negate = isinstance(node, exp.Neg)
    if negate:
        node = node.this
    value: Any
    if isinstance(node, exp.Literal):
        value = (
            node.this
            if node.is_string
            else (int(node.this) if node.this.lstrip("-").isdigit() else float(node.this))
        )
    elif isinstance(node, exp.Boolean):
        value = bool(node.this)
    elif isinstance(node, exp.Null):
        return None
    else:
        raise ValueError(f"DEFAULT {column.default_sql} is not a constant")
    if negate:
        value = -value
    return coerce(value, column)


class RowCodec:
    """Encodes and decodes the rows of one table (positions resolved once)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._pos = {c.id: i for i, c in enumerate(table.columns)}  # column id -> position
        self.pk_pos = [self._pos[i] for i in table.key_ids]
        pk = set(self.pk_pos)
        self.value_cols = [(i, c.id) for i, c in enumerate(table.columns) if i not in pk]
        self.kinds = [c.type for c in table.columns]
        self.pk_kinds = [self.kinds[i] for i in self.pk_pos]
        self._untyped_pk = "ANY" in self.pk_kinds
        self.prefix = table_prefix(table.id)
        self.width = len(table.columns)
        self._positions: dict[int, list[int]] = {}  # index id -> positions of its columns
        # Columns with a DEFAULT store NULL explicitly, so that a missing id can only mean a
        # row written before ADD COLUMN, which reads as the default.
        self.keep_null = {c.id for c in table.columns if c.default_sql is not None}
        self.missing: dict[int, Any] = {}
        for c in table.columns:
            if c.default_sql is not None:
                # a non-constant default cannot be missing: ADD COLUMN refuses those
                with contextlib.suppress(ValueError):
                    self.missing[c.id] = constant_default(c)
        #: the position of a key that is one INTEGER column (-1: another kind of key)
        self._int_key = (
            self.pk_pos[0] if len(self.pk_pos) == 1 and self.pk_kinds[0] == "INTEGER" else -1
        )
        #: (position, column id) of key columns that can hold aware datetimes, whose keys hold
        #: only the instant: the row keeps the value itself, with its offset
        self._aware_pk = [
            (i, table.columns[i].id)
            for i in self.pk_pos
            if table.columns[i].type in ("TIMESTAMP", "ANY")
        ]
        #: (position, column id, value when the row does not hold the column) per value column
        self._value_slots = [(i, cid, self.missing.get(cid)) for i, cid in self.value_cols]

    def _pk_key_values(self, pk: list[Any]) -> list[Any]:  # Any: SQL values
        if not self._untyped_pk:
            return pk
        return [key_value(v, kind) for v, kind in zip(pk, self.pk_kinds, strict=True)]

    def key(self, row: Row) -> bytes:
        try:
            return self.prefix + encode_key(self._pk_key_values([row[i] for i in self.pk_pos]))
        except ValueError as exc:
            raise DataError(f"primary key of {self.table.name} cannot be stored: {exc}") from exc

    def key_of(self, pk: list[Any]) -> bytes:  # Any: SQL values
        """The row key of the primary-key values ``pk``."""
        return self.prefix + encode_key(self._pk_key_values(pk))

    def value(self, row: Row) -> bytes:
        keep = self.keep_null
        stored = {cid: row[i] for i, cid in self.value_cols if row[i] is not None or cid in keep}
        for i, cid in self._aware_pk:
            v = row[i]
            if isinstance(v, dt.datetime) and v.tzinfo is not None:
                stored[cid] = v
        try:
            return encode_row(stored)
        except ValueError as exc:  # a value of a column with no type: an int beyond 64 bits
            raise DataError(f"table {self.table.name}: {exc}") from exc

    def decode(self, key: bytes, value: bytes) -> Row:
        out: list[Any] = [None] * self.width
        try:
            stored = decode_row(value)
            if self._int_key >= 0:  # the common key: one INTEGER column
                out[self._int_key] = decode_int_key(key, len(self.prefix))
                pk: tuple[Any, ...] = ()
            else:
                pk = decode_key(key[len(self.prefix) :])
        except ValueError as exc:
            raise InternalError(f"row {key!r} of {self.table.name} does not decode: {exc}") from exc
        if self._untyped_pk:
            for i, v in zip(self.pk_pos, pk, strict=False):
                out[i] = from_key_value(v, self.kinds[i])
        else:
            for i, v in zip(self.pk_pos, pk, strict=False):
                out[i] = v
        get = stored.get
        for i, cid in self._aware_pk:
            v = get(cid)
            if v is not None:
                out[i] = v  # the key's instant, with the offset it was written with
        for i, cid, default in self._value_slots:
            out[i] = get(cid, default)  # stored (None too), else the default of a later column
        return tuple(out)

    def _index_positions(self, index: Index) -> list[int]:
        positions = self._positions.get(index.id)
        if positions is None:
            positions = self._positions[index.id] = [self._pos[i] for i in index.column_ids]
        return positions

    def index_entry(self, index: Index, row: Row) -> bytes:
        """The key of ``row``'s entry in ``index``: indexed values, then the primary key."""
        try:
            return index_prefix(index.id) + encode_key(
                [
                    *self.index_values(index, row),
                    *self._pk_key_values([row[i] for i in self.pk_pos]),
                ]
            )
        except ValueError as exc:
            raise DataError(f"index {index.name} cannot hold this row: {exc}") from exc

    def index_values(self, index: Index, row: Row) -> tuple[Any, ...]:  # Any: SQL values
        """The values ``index`` holds for ``row``, in key form: equal exactly when their keys
        are equal. ``DataError`` if a value cannot be in a key."""
        kinds = self.kinds
        try:
            return tuple(key_value(row[i], kinds[i]) for i in self._index_positions(index))
        except ValueError as exc:
            raise DataError(f"index {index.name} cannot hold this row: {exc}") from exc

    def pk_from_index_entry(self, index: Index, key: bytes) -> bytes:
        """The row key an index entry points to."""
        values = decode_key(key[len(index_prefix(index.id)) :])
        return self.prefix + encode_key(values[len(index.column_ids) :])


def scan_rows(txn: Transaction, codec: RowCodec) -> Iterator[tuple[bytes, Row]]:
    """Every row of ``codec``'s table in key order, with its key, as ``txn`` sees them; a
    row written concurrently makes ``txn``'s commit conflict."""
    prefix = codec.prefix
    end = prefix_end(prefix)
    txn.watch(prefix, end)
    for key, value in txn.scan(prefix, end):
        yield key, codec.decode(key, value)
