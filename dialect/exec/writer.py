"""Writing rows: INSERT, UPDATE and DELETE put rows and their index entries into the
transaction, with values converted to column types and NOT NULL, CHECK, primary-key and UNIQUE
constraints enforced (a concurrent transaction claiming the same unique value conflicts at
commit)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from dialect.catalog import ROWID, Index, Table
from dialect.errors import IntegrityError, ProgrammingError
from dialect.exec.operators import RunContext, run
from dialect.expr import Row, truth
from dialect.keycodec import encode_key, prefix_end
from dialect.layout import index_prefix
from dialect.plan import nodes as n
from dialect.values import SQLValue, coerce


class IdSource(Protocol):
    """Allocates values for autoincrement primary keys."""

    def next_id(self, table_id: int) -> int: ...

    def saw_id(self, table_id: int, value: int) -> None: ...


class TableWriter:
    """Writes rows of one table (a write node's target) within one execution."""

    def __init__(self, target: n.Target) -> None:
        self.codec = codec = target.codec
        self.table: Table = codec.table
        self.columns = codec.table.columns
        self.defaults = target.defaults
        self.checks = target.checks
        pk = set(codec.pk_pos)
        #: the columns that may not be NULL
        self.required = tuple(
            (pos, col) for pos, col in enumerate(self.columns) if col.not_null or pos in pk
        )
        self.unique = tuple(ix for ix in self.table.indexes if ix.unique)
        #: the position of an autoincrement key (-1: none)
        self.auto_pos = codec.pk_pos[0] if self.table.autoincrement else -1

    def complete(
        self, values: Sequence[SQLValue], slots: Sequence[int | None], ctx: RunContext
    ) -> tuple[Row, bytes | None]:
        """A full row from ``values`` (``slots[pos]``: the index in ``values`` of column
        ``pos``, or None for its default): generated ids, types, NOT NULL and CHECK. Also its
        key if that is known to be free (an id generated and checked here), else None."""
        columns, defaults, auto = self.columns, self.defaults, self.auto_pos
        out: list[SQLValue] = []
        fresh: bytes | None = None
        for pos, slot in enumerate(slots):
            if slot is not None:
                v = values[slot]
            else:
                default = defaults[pos]
                v = default((), ctx) if default is not None else None
            if pos == auto:
                if v is None:
                    table, key_of, get = self.table, self.codec.key_of, ctx.txn.get
                    v = ctx.ids.next_id(table.id)
                    # another process may have stored this id explicitly: take the next one
                    while get(fresh := key_of([v])) is not None:
                        v = ctx.ids.next_id(table.id)
                else:
                    v = coerce(v, columns[pos])
                    if v is not None:
                        ctx.ids.saw_id(self.table.id, v)
                out.append(v)
            else:
                out.append(None if v is None else coerce(v, columns[pos]))
        row = tuple(out)
        self.check_row(row, ctx)
        return row, fresh

    def check_row(self, row: Row, ctx: RunContext) -> None:
        """NOT NULL and CHECK constraints of one row."""
        for pos, col in self.required:
            if row[pos] is None:
                raise IntegrityError(f"NOT NULL constraint failed: {self.table.name}.{col.name}")
        for name, fn in self.checks:
            if truth(fn(row, ctx)) is False:
                raise IntegrityError(f"CHECK constraint failed: {name}")

    def _pk_error(self) -> IntegrityError:
        names = ", ".join(f"{self.table.name}.{c.name}" for c in self.table.pk_columns)
        return IntegrityError(f"UNIQUE constraint failed: {names}")

    def unique_conflicts(
        self, row: Row, key: bytes, ctx: RunContext, only: Iterable[Index] | None = None
    ) -> list[tuple[Index, bytes]]:
        """Keys of other rows holding one of ``row``'s unique index values."""
        codec, txn = self.codec, ctx.txn
        found: list[tuple[Index, bytes]] = []
        for index in self.unique if only is None else only:
            if not index.unique:
                continue
            values = codec.index_values(index, row)
            if None in values:
                continue
            start = index_prefix(index.id) + encode_key(values)
            # A concurrent transaction claiming the same value conflicts at commit.
            txn.watch(start, prefix_end(start))
            for entry, _ in txn.scan(start, prefix_end(start)):
                other = codec.pk_from_index_entry(index, entry)
                if other != key:
                    found.append((index, other))
        return found

    def _unique_error(self, index: Index) -> IntegrityError:
        return IntegrityError(
            f"UNIQUE constraint failed: {self.table.name}.{', '.join(index.columns)}"
        )

    def insert(
        self, row: Row, mode: str | None, ctx: RunContext, fresh: bytes | None = None
    ) -> bool:
        """Write a new row; False when ``mode`` IGNORE skipped it. With REPLACE, rows holding
        its key or one of its unique values are deleted first. ``fresh``: its key, known to be
        free."""
        codec, txn = self.codec, ctx.txn
        key = fresh if fresh is not None else codec.key(row)
        taken = fresh is None and txn.get(key) is not None
        conflicts = self.unique_conflicts(row, key, ctx) if self.unique else []
        if taken or conflicts:
            if mode == "IGNORE":
                return False
            if mode != "REPLACE":
                raise self._pk_error() if taken else self._unique_error(conflicts[0][0])
            for other in {key if taken else None, *(k for _, k in conflicts)}:
                if other is not None:
                    self.remove(other, ctx)
        txn.put(key, codec.value(row))
        for index in self.table.indexes:
            txn.put(codec.index_entry(index, row), b"")
        return True

    def conflict_holder(
        self, row: Row, fresh: bytes | None, upsert: n.OnConflict, ctx: RunContext
    ) -> tuple[bytes, bytes] | None:
        """The key and stored value of the row that ``row`` (a row to insert, its key
        ``fresh`` if known to be free) conflicts with on ``upsert``'s target; None if none."""
        codec, txn = self.codec, ctx.txn
        key = fresh if fresh is not None else codec.key(row)
        if upsert.on_key or upsert.index is None:
            value = None if fresh is not None else txn.get(key)
            if value is not None:
                return key, value
            if upsert.on_key:
                return None
        for index in (upsert.index,) if upsert.index is not None else self.unique:
            values = codec.index_values(index, row)
            if None in values:
                continue
            start = index_prefix(index.id) + encode_key(values)
            txn.watch(start, prefix_end(start))  # a concurrent claim conflicts at commit
            for entry, _ in txn.scan(start, prefix_end(start)):
                other = codec.pk_from_index_entry(index, entry)
                value = txn.get(other)
                if value is not None:
                    return other, value
        return None

    def upsert_update(
        self, holder: tuple[bytes, bytes], proposed: Row, upsert: n.OnConflict, ctx: RunContext
    ) -> Row | None:
        """ON CONFLICT's action on the stored row ``holder`` (key, value) that ``proposed``
        conflicts with: the row as updated, or None if nothing changed (DO NOTHING, or the
        DO UPDATE's WHERE is not true)."""
        if not upsert.sets:
            return None
        old = self.codec.decode(*holder)
        both = old + proposed
        if upsert.where is not None and truth(upsert.where(both, ctx)) is not True:
            return None
        new = list(old)
        columns = self.columns
        for pos, fn in upsert.sets:
            new[pos] = coerce(fn(both, ctx), columns[pos])
        new_row = tuple(new)
        self.update(old, new_row, ctx)
        return new_row

    def update(self, old: Row, new: Row, ctx: RunContext) -> None:
        """Rewrite the stored row ``old`` as ``new``, checking ``new``'s constraints."""
        self.check_row(new, ctx)
        table, pk_pos = self.table, self.codec.pk_pos[0]
        if table.autoincrement and table.pk[0] != ROWID and new[pk_pos] != old[pk_pos]:
            ctx.ids.saw_id(table.id, new[pk_pos])
        self.replace_row(old, new, ctx)

    def remove(self, key: bytes, ctx: RunContext, row: Row | None = None) -> None:
        txn = ctx.txn
        if row is None:
            value = txn.get(key)
            if value is None:
                return
            row = self.codec.decode(key, value)
        txn.delete(key)
        for index in self.table.indexes:
            txn.delete(self.codec.index_entry(index, row))

    def replace_row(self, old: Row, new: Row, ctx: RunContext) -> None:
        codec, txn = self.codec, ctx.txn
        old_key, new_key = codec.key(old), codec.key(new)
        if new_key != old_key:
            if txn.get(new_key) is not None:
                raise self._pk_error()
            self.remove(old_key, ctx, old)
            conflicts = self.unique_conflicts(new, new_key, ctx)
            if conflicts:
                raise self._unique_error(conflicts[0][0])
            txn.put(new_key, codec.value(new))
            for index in self.table.indexes:
                txn.put(codec.index_entry(index, new), b"")
            return
        changed = [
            ix
            for ix in self.table.indexes
            if codec.index_entry(ix, old) != codec.index_entry(ix, new)
        ]
        conflicts = self.unique_conflicts(new, new_key, ctx, changed)
        if conflicts:
            raise self._unique_error(conflicts[0][0])
        txn.put(new_key, codec.value(new))
        for index in changed:
            txn.delete(codec.index_entry(index, old))
            txn.put(codec.index_entry(index, new), b"")


def run_write(node: n.Write, ctx: RunContext, written: list[Row] | None = None) -> None:
    """Run a write node; sets ``ctx.rowcount`` (and ``ctx.lastrowid`` for INSERT). Each row
    written (the new row of an INSERT or UPDATE, the old row of a DELETE) is appended to
    ``written`` if given."""
    writer = TableWriter(node.target)
    if isinstance(node, n.Insert):
        _insert(node, writer, ctx, written)
        return
    rows = list(run(node.source, ctx))  # read in full before the first write
    if not isinstance(node, n.Update):
        for row in rows:
            writer.remove(writer.codec.key(row), ctx, row)
        if written is not None:
            written.extend(rows)
        ctx.rowcount = len(rows)
        return
    columns = writer.columns
    for row in rows:
        new = list(row)
        for pos, fn in node.sets:
            new[pos] = coerce(fn(row, ctx), columns[pos])
        new_row = tuple(new)
        writer.update(row, new_row, ctx)
        if written is not None:
            written.append(new_row)
    ctx.rowcount = len(rows)


def run_returning(node: n.Returning, ctx: RunContext) -> list[Row]:
    """Run the write under ``node`` in full; the rows of its RETURNING clause."""
    written: list[Row] = []
    run_write(node.write, ctx, written)
    exprs = node.exprs
    return [tuple(fn(row, ctx) for fn in exprs) for row in written]


def _insert(
    node: n.Insert, writer: TableWriter, ctx: RunContext, written: list[Row] | None
) -> None:
    source = run(node.source, ctx)
    rows: Iterable[Row] = list(source) if node.reads_target else source
    positions = node.positions
    width = len(positions)
    slots: list[int | None] = [None] * len(writer.columns)
    for i, pos in enumerate(positions):
        slots[pos] = i
    count = 0
    last_id: int | None = None
    pk_pos = writer.auto_pos
    mode = node.mode
    upsert = node.on_conflict
    for values in rows:
        if len(values) != width:
            raise ProgrammingError(
                f"table {writer.table.name} has {width} columns to fill but "
                f"{len(values)} values were supplied"
            )
        try:
            row, fresh = writer.complete(values, slots, ctx)
        except IntegrityError:  # NOT NULL or CHECK
            if mode == "IGNORE":
                continue
            raise
        if upsert is not None:
            holder = writer.conflict_holder(row, fresh, upsert, ctx)
            if holder is not None:
                new_row = writer.upsert_update(holder, row, upsert, ctx)
                if new_row is not None:
                    count += 1
                    if written is not None:
                        written.append(new_row)
                continue
        if writer.insert(row, mode, ctx, fresh):
            count += 1
            if pk_pos >= 0:
                last_id = row[pk_pos]
            if written is not None:
                written.append(row)
    ctx.rowcount = count
    ctx.lastrowid = last_id
