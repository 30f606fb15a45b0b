"""Temporary tables, views and indexes: private to the connection that creates them, gone when
it closes, and never stored (docs/sql.md#temporary-tables).

Each connection has a :class:`TempSpace`: an in-memory catalog of its temporary objects (never
written to the stored catalog) and a private in-memory key-value store for their rows and index
entries. Temporary tables and indexes take their ids from a range stored ones never reach
(:data:`TEMP_BASE` and up), so the keys of their rows are told apart by their id alone: the
connection's transaction is a :class:`TempTransaction` whose engine (:class:`RoutedEngine`)
sends those keys to the private store and every other key to the database. Operators, the
writer and index upkeep see one transaction and need no change.

Temporary rows and schema changes belong to the transaction, as in SQLite: they are kept at
commit, undone by a rollback (or ROLLBACK TO a savepoint taken before them), and no object-store
request is made for them. A temporary object shadows a stored one of the same name (SQLite
searches its ``temp`` schema first).
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from sortedcontainers import SortedList
from sqlglot import exp

import kvengine
from dialect import ddl
from dialect.catalog import Catalog, Table, View
from dialect.ddlspec import index_spec, table_as_spec, table_spec, view_spec
from dialect.errors import NotSupportedError, ProgrammingError
from dialect.exec.operators import RunContext, run
from dialect.exec.writer import TableWriter
from dialect.keycodec import prefix_end
from dialect.layout import COUNTER_PREFIX, SCHEMA_PREFIX, TEMP_BASE
from dialect.parse import Prepared, parse_stored, stored_text
from dialect.plan.nodes import Target
from dialect.plan.select import Planner
from dialect.transaction import Transaction
from dialect.values import SQLValue

#: temporary ids are unique in the process (two connections' temporary tables never share one)
_ids = itertools.count(TEMP_BASE)
_ID = struct.Struct(">I")
#: the name of SQLite's schema of temporary objects (``temp.t``)
TEMP_SCHEMA = "temp"
_CATALOG = b""  # the undo-log key of a change to the temporary catalog (no data key is empty)


def is_temp_id(table_or_index_id: int) -> bool:
    return table_or_index_id >= TEMP_BASE


def is_temp_key(key: bytes) -> bool:
    """Whether ``key`` (a row, index entry, id counter or schema version) belongs to a
    temporary table or index (dialect/layout.py)."""
    first = key[:1]
    if first == b"t" or first == b"i":
        return len(key) >= 5 and key[1] >= 0xC0
    if first == b"\x00":
        for prefix in (SCHEMA_PREFIX, COUNTER_PREFIX):
            if key.startswith(prefix):
                at = len(prefix)
                return len(key) >= at + 4 and key[at] >= 0xC0
    return False


class TempStore:
    """The rows and index entries of one connection's temporary tables, in memory, with an undo
    log so that they roll back with the transaction (entries: key, previous value or None;
    the empty key stands for the temporary catalog)."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._keys = SortedList()
        self._undo: list[tuple[bytes, Any]] = []  # Any: bytes, None, or a Catalog
        self.catalog = Catalog()

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def scan(
        self, start: bytes | None, end: bytes | None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """The pairs in ``[start, end)``, read at the call (later writes do not disturb it)."""
        keys = list(self._keys.irange(start, end, inclusive=(True, False), reverse=reverse))
        data = self._data
        return iter([(k, data[k]) for k in keys])

    def put(self, key: bytes, value: bytes) -> None:
        self._undo.append((key, self._data.get(key)))
        if key not in self._data:
            self._keys.add(key)
        self._data[key] = value

    def delete(self, key: bytes) -> None:
        if key in self._data:
            self._undo.append((key, self._data.pop(key)))
            self._keys.remove(key)

    def set_catalog(self, catalog: Catalog) -> None:
        self._undo.append((_CATALOG, self.catalog))
        self.catalog = catalog

    @property
    def dirty(self) -> bool:
        return bool(self._undo)

    def mark(self) -> int:
        return len(self._undo)

    def undo_to(self, mark: int) -> None:
        undo = self._undo
        while len(undo) > mark:
            key, previous = undo.pop()
            if key == _CATALOG:
                self.catalog = previous
            elif previous is None:
                if self._data.pop(key, None) is not None:
                    self._keys.remove(key)
            else:
                if key not in self._data:
                    self._keys.add(key)
                self._data[key] = previous

    def keep(self) -> None:
        """The transaction committed: its changes stay."""
        self._undo.clear()


class RoutedEngine:
    """An engine transaction whose temporary keys go to the connection's :class:`TempStore`
    (duck-typed as ``kvengine.Transaction`` for :class:`dialect.transaction.Transaction`).
    A savepoint mark packs both sides' marks: the engine's times 2**32 plus the store's."""

    def __init__(self, main: kvengine.Transaction, store: TempStore) -> None:
        self.main = main
        self.store = store
        self._start = store.mark()

    def get(self, key: bytes) -> bytes | None:
        if is_temp_key(key):
            return self.store.get(key)
        return self.main.get(key)

    def scan(
        self, start: bytes | None = None, end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        if start is not None and is_temp_key(start):
            return self.store.scan(start, end, reverse)
        return self.main.scan(start, end, reverse=reverse)

    def watch(self, start: bytes, end: bytes | None = None) -> None:
        if not is_temp_key(start):  # nobody else writes temporary keys
            self.main.watch(start, end)

    def put(self, key: bytes, value: bytes) -> None:
        if is_temp_key(key):
            self.store.put(key, value)
        else:
            self.main.put(key, value)

    def delete(self, key: bytes) -> None:
        if is_temp_key(key):
            self.store.delete(key)
        else:
            self.main.delete(key)

    def savepoint(self) -> int:
        return (self.main.savepoint() << 32) | self.store.mark()

    def rollback_to(self, savepoint: int) -> None:
        self.main.rollback_to(savepoint >> 32)
        self.store.undo_to(savepoint & 0xFFFF_FFFF)

    def release_savepoints(self) -> None:
        self.main.release_savepoints()

    @property
    def has_writes(self) -> bool:
        return bool(self.main.has_writes) or self.store.mark() > self._start

    def commit(self, *, durable: bool = True) -> None:
        try:
            self.main.commit(durable=durable)
        except BaseException:
            self.store.undo_to(self._start)
            raise
        self.store.keep()

    def wait(self) -> None:
        self.main.wait()

    def rollback(self) -> None:
        self.store.undo_to(self._start)
        self.main.rollback()


class TempTransaction(Transaction):
    """A connection's transaction once it has a temporary space: its catalog is the stored one
    with the temporary objects in front (found first by name)."""

    engine: Any  # Any: a RoutedEngine standing in for the kvengine transaction

    def __init__(self, txn: Transaction, space: TempSpace) -> None:
        self._space = space
        #: a schema change of stored objects is running (see :meth:`stored_schema`)
        self._stored_only = False
        super().__init__(txn.engine, txn.catalog)
        self.engine = RoutedEngine(txn.engine, space.store)

    @property
    def catalog(self) -> Catalog:
        if self._stored_only:
            return self._catalog
        return self._space.merged(self._catalog)

    @catalog.setter
    def catalog(self, catalog: Catalog) -> None:
        assert self._stored_only, "a stored schema change outside stored_schema()"
        self._catalog = catalog
        self.changed_schema = True

    @contextmanager
    def stored_schema(self) -> Iterator[None]:
        self._stored_only = True
        try:
            yield
        finally:
            self._stored_only = False


class TempSpace:
    """One connection's temporary objects: their catalog and their rows."""

    def __init__(self) -> None:
        self.store = TempStore()
        self._merged: tuple[Catalog, Catalog, Catalog] | None = None  # stored, temp, merged
        #: every temporary table id this space has used (their id counters go when it does)
        self.table_ids: set[int] = set()

    @property
    def catalog(self) -> Catalog:
        """The temporary tables and views alone."""
        return self.store.catalog

    def wrap(self, txn: Transaction) -> Transaction:
        """``txn`` (just begun) reading and writing this space too."""
        return TempTransaction(txn, self)

    def merged(self, stored: Catalog) -> Catalog:
        temp = self.store.catalog
        if not temp.tables and not temp.views:
            return stored
        cached = self._merged
        if cached is not None and cached[0] is stored and cached[1] is temp:
            return cached[2]
        names = {t.name.lower() for t in temp.tables} | {v.name.lower() for v in temp.views}
        views = tuple(_main_view(v, names) for v in stored.views)
        merged = replace(stored, tables=(*temp.tables, *stored.tables), views=(*temp.views, *views))
        self._merged = (stored, temp, merged)
        return merged

    # -- which statements are about temporary objects -------------------------------------------

    def handles(self, ast: exp.Expression) -> bool:
        """Whether the schema change ``ast`` creates, changes or drops a temporary object."""
        temp = self.store.catalog
        if str(ast.args.get("kind") or "").upper() == "SCHEMA":
            return False  # schemas are stored (dialect/schemas.py); ``temp`` is reserved
        if isinstance(ast, exp.Create):
            properties = ast.args.get("properties")
            if properties is not None and any(
                isinstance(p, exp.TemporaryProperty) for p in properties.expressions
            ):
                return True
            target = ast.this
            if isinstance(target, exp.Schema):
                target = target.this
            if isinstance(target, exp.Table) and target.db.lower() == TEMP_SCHEMA:
                return True
            if str(ast.args.get("kind") or "").upper() == "INDEX":
                table = ast.this.args.get("table")
                return table is not None and _named(temp, table)
            return False
        if isinstance(ast, exp.Drop):
            dropped = list(ast.args.get("tables") or ast.expressions)
            return bool(dropped) and _named(temp, dropped[0], str(ast.args.get("kind") or ""))
        if isinstance(ast, exp.Alter):
            target = ast.this
            if isinstance(target, exp.Table) and _named(temp, target):
                raise NotSupportedError(
                    f"ALTER TABLE of a temporary table is not supported ({target.name})"
                )
        return False

    # -- running them ---------------------------------------------------------------------------

    def run_ddl(self, session: Any, prepared: Prepared, params: list[SQLValue]) -> None:
        """Run a schema change of temporary objects (:meth:`handles`) in the connection's
        transaction: ``session`` is its :class:`dialect.execute.StatementSession`."""
        ast = prepared.ast
        txn = session.txn
        kind = str(ast.args.get("kind") or "").upper()
        if isinstance(ast, exp.Create):
            node = _plain(ast)
            if kind == "TABLE" and node.args.get("expression") is not None:
                self._create_table_as(session, txn, node, params)
            elif kind == "TABLE":
                self._create_table(txn, node)
            elif kind == "VIEW":
                self._create_view(node)
            elif kind == "INDEX":
                self._create_index(txn, node)
            else:
                raise NotSupportedError(f"CREATE TEMPORARY {kind} is not supported")
            return
        assert isinstance(ast, exp.Drop)
        for t in list(ast.args.get("tables") or ast.expressions):
            self._drop(txn, kind, t, bool(ast.args.get("exists")))

    def _taken(self, name: str, if_not_exists: bool) -> bool:
        temp = self.store.catalog
        if temp.table(name) is not None or temp.view(name) is not None:
            if if_not_exists:
                return True
            raise ProgrammingError(f"table {name} already exists")
        return False

    def _add_table(self, table: Table) -> None:
        """Add ``table`` (built with a placeholder id) with new temporary ids."""
        table = replace(
            table,
            id=next(_ids),
            indexes=tuple(replace(ix, id=next(_ids)) for ix in table.indexes),
        )
        temp = self.store.catalog
        self.store.set_catalog(
            replace(temp, version=temp.version + 1, tables=(*temp.tables, table))
        )

    def _replace_table(self, table: Table | None, drop: int | None = None) -> None:
        temp = self.store.catalog
        if table is None:
            tables = tuple(t for t in temp.tables if t.id != drop)
        else:
            tables = tuple(table if t.id == table.id else t for t in temp.tables)
        self.store.set_catalog(replace(temp, version=temp.version + 1, tables=tables))

    def _create_table(self, txn: Transaction, node: exp.Create) -> None:
        spec = table_spec(node)
        if self._taken(spec.name, spec.if_not_exists):
            return
        self._add_table(ddl.build_table(spec, Catalog()))

    def _create_table_as(
        self, session: Any, txn: Transaction, node: exp.Create, params: list[SQLValue]
    ) -> None:
        spec = table_as_spec(node)
        if self._taken(spec.name, spec.if_not_exists):
            return
        planner = Planner(txn.catalog)
        shape = planner.query(spec.query, [])
        for table_id in sorted(planner.tables):
            txn.use_table(table_id)
        ctx = RunContext(txn, params, session.database, session=session)
        rows = list(run(shape.root, ctx))
        self._add_table(ddl.table_as(spec, shape.names, shape.types, Catalog()))
        table = self.store.catalog.tables[-1]
        codec = session.codec(table)
        writer = TableWriter(Target(codec, (None,) * len(table.columns), ()))
        slots: list[int | None] = [*range(len(shape.names)), None]
        for values in rows:
            row, fresh = writer.complete(values, slots, ctx)
            writer.insert(row, None, ctx, fresh)

    def _create_view(self, node: exp.Create) -> None:
        spec = view_spec(node)
        target, columns, query = spec.target, spec.columns, spec.query
        if self._taken(target.name, bool(node.args.get("exists"))):
            return
        temp = self.store.catalog
        view = View(target.name, stored_text(query), columns)
        self.store.set_catalog(temp.with_view(view))

    def _create_index(self, txn: Transaction, node: exp.Create) -> None:
        spec = index_spec(node)
        temp = self.store.catalog
        if temp.index(spec.name) is not None:
            if spec.if_not_exists:
                return
            raise ProgrammingError(f"index {spec.name} already exists")
        table = temp.table(spec.table)
        assert table is not None  # handles() found it
        index = ddl.build_index(spec, table, next(_ids))
        new_table = replace(table, indexes=(*table.indexes, index))
        ddl.backfill(txn, new_table, new_table.indexes[-1])
        self._replace_table(new_table)

    def _drop(self, txn: Transaction, kind: str, node: exp.Expression, exists: bool) -> None:
        temp = self.store.catalog
        name = node.name
        kind = kind.upper()
        if kind == "VIEW":
            if temp.view(name) is None:
                if exists:
                    return
                raise ProgrammingError(f"no such view: {name}")
            self.store.set_catalog(temp.with_view(None, drop=name))
            return
        if kind == "INDEX":
            found = temp.index(name)
            if found is None:
                if exists:
                    return
                raise ProgrammingError(f"no such index: {name}")
            owner, index = found
            if index.implicit:
                raise ProgrammingError(f"index {index.name} belongs to a UNIQUE constraint")
            _delete_prefix(txn, b"i" + _ID.pack(index.id))
            self._replace_table(
                replace(owner, indexes=tuple(i for i in owner.indexes if i.id != index.id))
            )
            return
        table = temp.table(name)
        if table is None:
            if exists:
                return
            raise ProgrammingError(f"no such table: {name}")
        _delete_prefix(txn, b"t" + _ID.pack(table.id))
        for ix in table.indexes:
            _delete_prefix(txn, b"i" + _ID.pack(ix.id))
        self._replace_table(None, drop=table.id)  # its id counter stays: a rollback may undo this


def _main_view(view: View, temp_names: set[str]) -> View:
    """A stored view whose query names a temporary object, with those names qualified
    ``main.``: as in SQLite, a stored view reads stored tables only."""
    tree = parse_stored(view.sql)
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    found = [
        t
        for t in tree.find_all(exp.Table)
        if not t.db and t.name.lower() in temp_names and t.name.lower() not in ctes
    ]
    if not found:
        return view
    tree = tree.copy()  # parse_stored's tree is shared
    for t in tree.find_all(exp.Table):
        if not t.db and t.name.lower() in temp_names and t.name.lower() not in ctes:
            t.set("db", exp.to_identifier("main"))
    return replace(view, sql=stored_text(tree))


def _delete_prefix(txn: Transaction, prefix: bytes) -> None:
    for key, _ in list(txn.scan(prefix, prefix_end(prefix))):
        txn.delete(key)


def _named(temp: Catalog, node: exp.Expression, kind: str = "TABLE") -> bool:
    """Whether ``node`` (a table, view or index name) names an object of ``temp``: one
    qualified ``temp.`` does, an unqualified one if ``temp`` has it (it shadows a stored one),
    one qualified ``main.`` never."""
    schema = node.args.get("db")
    schema_name = schema.name.lower() if isinstance(schema, exp.Expression) else ""
    if schema_name == TEMP_SCHEMA:
        return True
    if schema_name:
        return False
    name = node.name
    kind = kind.upper()
    if kind == "VIEW":
        return temp.view(name) is not None
    if kind == "INDEX":
        return temp.index(name) is not None
    return temp.table(name) is not None


def _plain(node: exp.Create) -> exp.Create:
    """``node`` without its TEMPORARY property and ``temp.`` qualifier, as the stored
    statement readers (dialect/ddlspec.py) accept it."""
    node = node.copy()
    properties = node.args.get("properties")
    if properties is not None:
        kept = [p for p in properties.expressions if not isinstance(p, exp.TemporaryProperty)]
        node.set("properties", exp.Properties(expressions=kept) if kept else None)
    target = node.this.this if isinstance(node.this, exp.Schema) else node.this
    if isinstance(target, exp.Table):
        target.set("db", None)
    return node
