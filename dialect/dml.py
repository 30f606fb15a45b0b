"""INSERT, UPDATE and DELETE: rows and their index entries written into the transaction, with
types checked and NOT NULL, primary-key and UNIQUE constraints enforced."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import sqlglot
from sqlglot import exp

from dialect import plan as planner
from dialect.catalog import ROWID, Table
from dialect.errors import IntegrityError, NotSupportedError, ProgrammingError
from dialect.expr import Compiler, Row, Scope, truth
from dialect.keycodec import encode_key, prefix_end
from dialect.layout import index_prefix
from dialect.query import Session, evaluate_constant, run_select
from dialect.transaction import Transaction
from dialect.values import SQLValue, coerce


class DMLSession(Session, Protocol):
    """What DML needs beyond queries: id counters."""

    #: prepared INSERT plans by (statement id, catalog version)
    plans: dict[tuple[int, int], Any]

    def next_id(self, table: Table) -> int: ...

    def saw_id(self, table: Table, value: int) -> None: ...


def _table(session: Session, node: exp.Expression) -> Table:
    target = node.this if isinstance(node, exp.Schema) else node
    if not isinstance(target, exp.Table):
        raise NotSupportedError(f"unsupported target: {node.sql()}")
    table = session.catalog.table(target.name)
    if table is None:
        raise ProgrammingError(f"no such table: {target.name}")
    return table


class _Writer:
    """Checks and writes rows of one table within a statement."""

    def __init__(self, session: DMLSession, table: Table) -> None:
        self.session = session
        self.table = table
        self.codec = session.codec(table)
        scope = Scope()
        for c in table.columns:
            scope.add(table.name, c.name, c.hidden)
        compiler = Compiler(session, scope)
        self.checks = [
            (check, compiler.compile(cast(exp.Expression, sqlglot.parse_one(check.sql))))
            for check in table.checks
        ]

    @property
    def txn(self) -> Transaction:
        return self.session.txn

    def default(self, pos: int) -> SQLValue:
        col = self.table.columns[pos]
        if col.default_sql is None:
            return None
        parsed = cast(exp.Expression, sqlglot.parse_one(col.default_sql))
        return evaluate_constant(self.session, parsed)

    def complete(self, given: dict[int, SQLValue]) -> Row:
        """A full row from the given positions: defaults, generated ids, types, NOT NULL."""
        table = self.table
        values: list[SQLValue] = []
        for pos, col in enumerate(table.columns):
            v = given[pos] if pos in given else self.default(pos)
            if col.name in table.pk and table.autoincrement:
                if v is None:
                    v = self.session.next_id(table)
                    # another process may have stored this id explicitly: take the next one
                    while self.txn.get(self.codec.key_of([v])) is not None:
                        v = self.session.next_id(table)
                else:
                    v = coerce(v, col)
                    if v is not None:
                        self.session.saw_id(table, v)
            values.append(coerce(v, col))
        row = tuple(values)
        self.check_not_null(row)
        return row

    def check_not_null(self, row: Row) -> None:
        """NOT NULL and CHECK constraints of one row."""
        for col, v in zip(self.table.columns, row, strict=True):
            if v is None and (col.not_null or col.name in self.table.pk):
                raise IntegrityError(f"NOT NULL constraint failed: {self.table.name}.{col.name}")
        for check, fn in self.checks:
            if truth(fn(row)) is False:
                raise IntegrityError(f"CHECK constraint failed: {check.name or check.sql}")

    def check_unique(self, row: Row, key: bytes, only: Iterable[Any] | None = None) -> None:
        for index in self.table.indexes if only is None else only:
            if not index.unique:
                continue
            values = self.codec.index_values(index, row)
            if None in values:
                continue
            start = index_prefix(index.id) + encode_key(values)
            # A concurrent transaction claiming the same value conflicts at commit.
            self.txn.watch(start, prefix_end(start))
            for entry, _ in self.txn.scan(start, prefix_end(start)):
                if self.codec.pk_from_index_entry(index, entry) != key:
                    raise IntegrityError(
                        f"UNIQUE constraint failed: {self.table.name}.{', '.join(index.columns)}"
                    )

    def insert(self, row: Row, mode: str | None) -> bool:
        key = self.codec.key(row)
        if self.txn.get(key) is not None:
            if mode == "IGNORE":
                return False
            if mode != "REPLACE":
                names = ", ".join(f"{self.table.name}.{p}" for p in self.table.pk)
                raise IntegrityError(f"UNIQUE constraint failed: {names}")
            self.remove(key)
        self.check_unique(row, key)
        self.txn.put(key, self.codec.value(row))
        for index in self.table.indexes:
            self.txn.put(self.codec.index_entry(index, row), b"")
        return True

    def remove(self, key: bytes, row: Row | None = None) -> None:
        if row is None:
            value = self.txn.get(key)
            if value is None:
                return
            row = self.codec.decode(key, value)
        self.txn.delete(key)
        for index in self.table.indexes:
            self.txn.delete(self.codec.index_entry(index, row))

    def replace_row(self, old: Row, new: Row) -> None:
        old_key, new_key = self.codec.key(old), self.codec.key(new)
        if new_key != old_key:
            if self.txn.get(new_key) is not None:
                names = ", ".join(f"{self.table.name}.{p}" for p in self.table.pk)
                raise IntegrityError(f"UNIQUE constraint failed: {names}")
            self.remove(old_key, old)
            self.check_unique(new, new_key)
            self.txn.put(new_key, self.codec.value(new))
            for index in self.table.indexes:
                self.txn.put(self.codec.index_entry(index, new), b"")
            return
        changed = [
            ix
            for ix in self.table.indexes
            if self.codec.index_values(ix, old) != self.codec.index_values(ix, new)
        ]
        self.check_unique(new, new_key, changed)
        self.txn.put(new_key, self.codec.value(new))
        for index in changed:
            self.txn.delete(self.codec.index_entry(index, old))
            self.txn.put(self.codec.index_entry(index, new), b"")


@dataclass
class _InsertPlan:
    """What an INSERT statement resolves to, kept across executions (executemany)."""

    node: exp.Insert
    table: Table
    writer: _Writer
    positions: list[int]
    mode: str | None
    values: list[list[Callable[[Row], SQLValue]]] | None  # compiled VALUES rows
    pk_pos: int | None


def _plan_insert(session: DMLSession, node: exp.Insert) -> _InsertPlan:
    if node.args.get("conflict") is not None or node.args.get("returning") is not None:
        raise NotSupportedError("INSERT ... ON CONFLICT / RETURNING is not supported")
    mode = node.args.get("alternative")
    if mode is not None and str(mode).upper() not in ("REPLACE", "IGNORE"):
        raise NotSupportedError(f"INSERT OR {mode} is not supported")
    mode = str(mode).upper() if mode else None
    table = _table(session, node.this)
    names = [c.name.lower() for c in table.columns]
    if isinstance(node.this, exp.Schema) and node.this.expressions:
        positions = []
        for ident in node.this.expressions:
            col = table.column(ident.name)
            if col is None or col.hidden:
                raise ProgrammingError(f"table {table.name} has no column named {ident.name}")
            positions.append(names.index(col.name.lower()))
    else:
        positions = [i for i, c in enumerate(table.columns) if not c.hidden]
    source = node.expression
    values = None
    if isinstance(source, exp.Values):
        compiler = Compiler(session, Scope())
        values = [
            [compiler.compile(e) for e in (t.expressions if isinstance(t, exp.Tuple) else [t])]
            for t in source.expressions
        ]
    elif source is None and node.args.get("default"):
        values = [[]]  # INSERT ... DEFAULT VALUES
        positions = []
    elif not isinstance(source, exp.Select | exp.Union | exp.Except | exp.Intersect | exp.Subquery):
        raise NotSupportedError(f"unsupported INSERT source: {source.sql()[:60] if source else ''}")
    pk_pos = names.index(table.pk[0].lower()) if table.autoincrement else None
    return _InsertPlan(node, table, _Writer(session, table), positions, mode, values, pk_pos)


def insert(session: DMLSession, node: exp.Insert) -> tuple[int, int | None]:
    """Run an INSERT; returns (rows inserted, last row id)."""
    key = (id(node), session.catalog.version)
    plan = session.plans.get(key)
    if plan is None or plan.node is not node:
        if len(session.plans) > 256:
            session.plans.clear()
        plan = session.plans[key] = _plan_insert(session, node)
    session.txn.use_table(plan.table.id)  # a cached plan still depends on this schema
    rows: Iterable[Sequence[SQLValue]]
    if plan.values is not None:
        rows = ([f(()) for f in row] for row in plan.values)
    else:
        rows = list(run_select(session, node.expression).rows)
    positions, writer = plan.positions, plan.writer
    count = 0
    last_id: int | None = None
    for values in rows:
        if len(values) != len(positions):
            raise ProgrammingError(
                f"table {plan.table.name} has {len(positions)} columns to fill but "
                f"{len(values)} values were supplied"
            )
        row = writer.complete(dict(zip(positions, values, strict=True)))
        if writer.insert(row, plan.mode):
            count += 1
            if plan.pk_pos is not None:
                last_id = row[plan.pk_pos]
    return count, last_id


def _matching(
    session: Session, table: Table, alias: str, where: exp.Expression | None
) -> tuple[list[tuple[bytes, Row]], Scope]:
    scope = Scope()
    for c in table.columns:
        scope.add(alias, c.name, c.hidden)
    access = planner.choose(table, alias, where, lambda e: evaluate_constant(session, e))
    cond = Compiler(session, scope).compile(where) if where is not None else None
    codec = session.codec(table)
    txn = session.txn
    found: list[tuple[bytes, Row]] = []
    if access.kind == "empty":
        return found, scope
    if access.kind == "get":
        pairs: Iterable[tuple[bytes, bytes | None]] = ((k, txn.get(k)) for k in access.gets)
    elif access.kind == "index":
        assert access.index is not None
        index = access.index

        def via_index() -> Iterable[tuple[bytes, bytes | None]]:
            for entry, _ in txn.scan(access.start, access.end):
                key = codec.pk_from_index_entry(index, entry)
                yield key, txn.get(key)

        pairs = list(via_index())
    else:
        pairs = list(txn.scan(access.start, access.end))
    for key, value in pairs:
        if value is None:
            continue
        row = codec.decode(key, value)
        if cond is None or truth(cond(row)) is True:
            found.append((key, row))
    return found, scope


def update(session: DMLSession, node: exp.Update) -> int:
    """Run an UPDATE; returns the number of rows it matched."""
    if node.args.get("from") or node.args.get("from_") or node.args.get("returning"):
        raise NotSupportedError("UPDATE ... FROM / RETURNING is not supported")
    table = _table(session, node.this)
    alias = node.this.alias_or_name
    where_node = node.args.get("where")
    rows, scope = _matching(session, table, alias, where_node.this if where_node else None)
    compiler = Compiler(session, scope)
    sets: list[tuple[int, Any]] = []
    for assignment in node.expressions:
        if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Column):
            raise NotSupportedError(f"unsupported SET clause: {assignment.sql()}")
        col = table.column(assignment.this.name)
        if col is None or col.hidden:
            raise ProgrammingError(f"no such column: {assignment.this.name}")
        sets.append((table.columns.index(col), compiler.compile(assignment.expression)))
    writer = _Writer(session, table)
    pk_pos = [c.name for c in table.columns].index(table.pk[0])
    for _key, row in rows:
        new = list(row)
        for pos, fn in sets:
            new[pos] = coerce(fn(row), table.columns[pos])
        new_row = tuple(new)
        writer.check_not_null(new_row)
        if table.autoincrement and table.pk[0] != ROWID and new_row[pk_pos] != row[pk_pos]:
            session.saw_id(table, new_row[pk_pos])
        writer.replace_row(row, new_row)
    return len(rows)


def delete(session: DMLSession, node: exp.Delete) -> int:
    """Run a DELETE; returns the number of rows deleted."""
    if node.args.get("using") or node.args.get("returning"):
        raise NotSupportedError("DELETE ... USING / RETURNING is not supported")
    table = _table(session, node.this)
    where_node = node.args.get("where")
    rows, _ = _matching(
        session, table, node.this.alias_or_name, where_node.this if where_node else None
    )
    writer = _Writer(session, table)
    for key, row in rows:
        writer.remove(key, row)
    return len(rows)
