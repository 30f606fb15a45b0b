"""Schema changes: CREATE/DROP TABLE (and CREATE TABLE … AS SELECT), CREATE/DROP INDEX,
ALTER TABLE ADD/DROP COLUMN / RENAME.

Each statement is read into a spec (dialect/ddlspec.py), checked against the catalog, and
applied: a new catalog, plus the rows or index entries the change writes or deletes.

A schema change writes in the connection's transaction, as PostgreSQL's and SQLite's do: the
new catalog, the changed table's schema version, and any rows or index entries it writes or
deletes commit or roll back with it (ROLLBACK TO a savepoint undoes those made after it). It
conflicts with a concurrent schema change, and with transactions that use the table it
changes or write rows it read (a CREATE INDEX backfill, a DROP TABLE): the loser's COMMIT
raises ConflictError, except that a transaction of schema changes only (and one in autocommit
mode) is run again (docs/sql.md#transactions).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from sqlglot import exp

from dialect.catalog import MAIN, ROWID, Catalog, Check, Column, ForeignKey, Index, Table, View
from dialect.database import Database
from dialect.ddlspec import (
    AddColumn,
    ColumnSpec,
    CommentSpec,
    DropColumn,
    IndexSpec,
    KeySpec,
    RenameColumn,
    RenameTable,
    TableAsSpec,
    TableSpec,
    alter_spec,
    comment_spec,
    index_spec,
    table_as_spec,
    table_spec,
    view_spec,
)
from dialect.errors import (
    DataError,
    IntegrityError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)
from dialect.exec.operators import RunContext, run
from dialect.exec.writer import TableWriter
from dialect.keycodec import encode_key, prefix_end
from dialect.layout import index_prefix, table_prefix
from dialect.parse import parse_stored, stored_text
from dialect.plan.nodes import Target
from dialect.plan.select import Planner
from dialect.renames import column_references
from dialect.schemas import RESERVED, qualified, schema_of
from dialect.tablerows import RowCodec, constant_default, scan_rows
from dialect.transaction import Transaction
from dialect.values import SQLValue


class DDLSession(Protocol):
    @property
    def database(self) -> Database: ...

    @property
    def txn(self) -> Transaction: ...

    def codec(self, table: Table) -> RowCodec: ...


# -- specs checked against the catalog ----------------------------------------------------------


def _column(spec: ColumnSpec, column_id: int) -> Column:
    return Column(
        id=column_id,
        name=spec.name,
        type=spec.type,
        declared=spec.declared,
        not_null=spec.not_null,
        default_sql=spec.default_sql,
        length=spec.length,
        precision=spec.precision,
        scale=spec.scale,
        comment=spec.comment,
    )


def _ids(columns: list[Column], names: tuple[str, ...], what: str, table: str) -> tuple[int, ...]:
    """The ids of the columns ``names``; ``ProgrammingError`` naming ``what`` if one is not a
    column of ``table``."""
    by_name = {c.name.lower(): c.id for c in columns}
    out = []
    for n in names:
        if n.lower() not in by_name:
            raise ProgrammingError(f"{what} column {n} is not in table {table}")
        out.append(by_name[n.lower()])
    return tuple(out)


def _check(columns: list[Column], sql: str, name: str | None, source: str | None = None) -> Check:
    """A CHECK over ``columns``; ``ProgrammingError`` if it names another column."""
    by_name = {c.name.lower(): c.id for c in columns}
    ids = []
    for ref in column_references(sql):
        if ref.lower() not in by_name:
            raise ProgrammingError(f"no such column: {ref}")
        ids.append(by_name[ref.lower()])
    return Check(name, sql, tuple(ids), source)


def _ref_schema(catalog: Catalog, written: str | None) -> str:
    """The schema a foreign key's referenced table is in: as created if it exists."""
    if written is None:
        return MAIN
    return catalog.schema(written) or written


def build_table(spec: TableSpec, catalog: Catalog, schema: str = MAIN) -> Table:
    """The table ``spec`` declares in ``schema``, numbered from ``catalog``'s next ids.
    ``ProgrammingError`` for a duplicate column, or a key, UNIQUE, FOREIGN KEY or CHECK naming
    no column."""
    name = spec.name
    if not spec.columns:
        raise ProgrammingError(f"table {name} has no columns")
    columns: list[Column] = []
    for i, col_spec in enumerate(spec.columns):
        if any(c.name.lower() == col_spec.name.lower() for c in columns):
            raise ProgrammingError(f"duplicate column name: {col_spec.name}")
        columns.append(_column(col_spec, i + 1))
    if spec.primary_key is not None:
        key_ids = _ids(columns, spec.primary_key.columns, "primary key", name)
        key_cols = [c for c in columns if c.id in key_ids]
        autoincrement = len(key_ids) == 1 and key_cols[0].type == "INTEGER"
    else:
        columns.append(Column(len(columns) + 1, ROWID, "INTEGER", "INTEGER", hidden=True))
        key_ids, autoincrement = (columns[-1].id,), True
    if not autoincrement:
        columns = [replace(c, not_null=True) if c.id in key_ids else c for c in columns]
    uniques = [KeySpec((c.name,)) for c in spec.columns if c.unique] + list(spec.uniques)
    indexes = []
    next_index = catalog.next_index_id
    for i, unique in enumerate(uniques):
        ids = _ids(columns, unique.columns, "UNIQUE", name)
        if ids == key_ids:
            continue  # the primary key is unique already
        indexes.append(Index(next_index, unique.name or f"uq_{name}_{i + 1}", ids, True, True))
        next_index += 1
    fks = [
        ForeignKey(
            _ids(columns, fk.columns, "foreign key", name),
            fk.ref_table,
            fk.ref_columns,
            # unnamed ones are named as PostgreSQL names them: <table>_<columns>_fkey
            fk.name or f"{name}_{'_'.join(fk.columns)}_fkey",
            ref_schema=_ref_schema(catalog, fk.ref_schema),
            on_delete=fk.on_delete,
            on_update=fk.on_update,
        )
        for fk in [*(c.references for c in spec.columns if c.references), *spec.foreign_keys]
    ]
    checks = [
        _check(columns, check.sql, check.name, check.source)
        for check in [*(ch for c in spec.columns for ch in c.checks), *spec.checks]
    ]
    return Table(
        catalog.next_table_id,
        name,
        tuple(columns),
        key_ids,
        autoincrement,
        tuple(indexes),
        tuple(fks),
        len(columns) + 1,
        tuple(checks),
        schema=schema,
        comment=spec.comment,
        pk_name=spec.primary_key.name if spec.primary_key is not None else None,
    )


def build_index(spec: IndexSpec, table: Table, index_id: int) -> Index:
    """The index ``spec`` declares on ``table``; ``ProgrammingError`` for a column it lacks."""
    ids = []
    for name in spec.columns:
        col = table.column(name)
        if col is None or col.hidden:
            raise ProgrammingError(f"no such column: {name}")
        ids.append(col.id)
    return Index(index_id, spec.name, tuple(ids), spec.unique)


def added_column(table: Table, spec: ColumnSpec, catalog: Catalog | None = None) -> Table:
    """``table`` with the column ``spec`` declares added. Refused: a duplicate name, a key,
    UNIQUE or CHECK column, NOT NULL without a default, a default that is not a constant."""
    col = _column(spec, table.next_column_id)
    if table.column(col.name) is not None:
        raise ProgrammingError(f"duplicate column name: {col.name}")
    if spec.primary_key or spec.unique:
        raise NotSupportedError("ADD COLUMN cannot add a PRIMARY KEY or UNIQUE column")
    if spec.checks:
        raise NotSupportedError("ADD COLUMN cannot add a column with a CHECK constraint")
    if col.not_null and col.default_sql is None:
        raise OperationalError("cannot add a NOT NULL column with no default value")
    try:
        constant_default(col)
    except (ValueError, DataError) as exc:
        raise OperationalError(
            f"cannot add a column with a non-constant or invalid default: {exc}"
        ) from exc
    fks = table.foreign_keys
    if spec.references is not None:
        ref = spec.references
        name = ref.name or f"{table.name}_{col.name}_fkey"
        ref_schema = _ref_schema(catalog or Catalog(), ref.ref_schema)
        fks = (
            *fks,
            ForeignKey(
                (col.id,),
                ref.ref_table,
                ref.ref_columns,
                name,
                ref_schema=ref_schema,
                on_delete=ref.on_delete,
                on_update=ref.on_update,
            ),
        )
    return replace(
        table,
        columns=(*table.columns, col),
        next_column_id=table.next_column_id + 1,
        foreign_keys=fks,
    )


def table_as(
    spec: TableAsSpec,
    names: tuple[str, ...],
    types: tuple[str | None, ...],
    catalog: Catalog,
    schema: str = MAIN,
) -> Table:
    """The table CREATE TABLE … AS SELECT makes for a query whose result columns are
    ``names`` and ``types``: as SQLite makes it, one column per result column (a repeated
    name numbered ``name:1``, ``name:2``…), typed as the column a plain column reference
    copies and untyped otherwise, no constraints, and a hidden row id as its key."""
    columns: list[Column] = []
    taken: set[str] = set()
    for i, (name, kind) in enumerate(zip(names, types, strict=True)):
        unique, k = name, 0
        while unique.lower() in taken:
            k += 1
            unique = f"{name}:{k}"
        taken.add(unique.lower())
        kind = kind or "ANY"
        columns.append(Column(i + 1, unique, kind, kind))
    rowid = Column(len(columns) + 1, ROWID, "INTEGER", "INTEGER", hidden=True)
    return Table(
        catalog.next_table_id,
        spec.name,
        (*columns, rowid),
        (rowid.id,),
        True,
        next_column_id=rowid.id + 1,
        schema=schema,
    )


def without_column(catalog: Catalog, table: Table, name: str) -> Table:
    """``table`` without its column ``name``, refused (``OperationalError``, SQLite's
    messages) for a key column, a column in a UNIQUE constraint, an index, a CHECK or a
    foreign key, the last column, and a column a view reads. Rows keep their value of the
    column, which nothing reads any more (a later column gets a new id)."""
    col = table.column(name)
    if col is None or col.hidden:
        raise OperationalError(f'no such column: "{name}"')
    where = f"after drop column: no such column: {col.name}"
    if col.id in table.key_ids:
        raise OperationalError(f'cannot drop PRIMARY KEY column: "{col.name}"')
    for ix in table.indexes:
        if col.id in ix.column_ids:
            if ix.implicit and len(ix.column_ids) == 1:
                raise OperationalError(f'cannot drop UNIQUE column: "{col.name}"')
            owner = f"table {table.name}" if ix.implicit else f"index {ix.name}"
            raise OperationalError(f"error in {owner} {where}")
    if any(col.id in c.column_ids for c in table.checks):
        raise OperationalError(f"error in table {table.name} {where}")
    if any(col.id in f.column_ids for f in table.foreign_keys):
        raise OperationalError(
            f"error in table {table.name} after drop column: "
            f'unknown column "{col.name}" in foreign key definition'
        )
    if len(table.visible_columns) == 1:
        raise OperationalError(f'cannot drop column "{col.name}": no other columns exist')
    new = replace(table, columns=tuple(c for c in table.columns if c.id != col.id))
    after = catalog.with_table(new)
    for view in catalog.views:
        if _plans(catalog, view.sql) and not _plans(after, view.sql):
            raise OperationalError(f"error in view {view.name} {where}")
    return new


def _plans(catalog: Catalog, sql: str) -> bool:
    """Whether the query ``sql`` can be planned against ``catalog``."""
    try:
        Planner(catalog).query(parse_stored(sql), [])
    except (ProgrammingError, OperationalError, NotSupportedError):
        return False
    return True


# -- statements ---------------------------------------------------------------------------------


def _claim_range(txn: Transaction, start: bytes) -> None:
    """Make the key range of a new table or index id empty in ``txn``: nothing an earlier
    attempt left there (a bug, a format-1 database) can be inherited."""
    _delete_range(txn, start)


def _delete_range(txn: Transaction, start: bytes) -> None:
    """Delete every key starting with ``start``; a key written there concurrently conflicts."""
    end = prefix_end(start)
    txn.watch(start, end)
    for key, _ in list(txn.scan(start, end)):
        txn.delete(key)


def _dropped(node: exp.Drop) -> list[exp.Expression]:
    """The objects a DROP statement names."""
    return list(node.args.get("tables") or node.expressions)


def create_table(session: DDLSession, node: exp.Create) -> None:
    spec = table_spec(node)
    txn = session.txn
    catalog = txn.catalog
    schema = schema_of(catalog, node.this.this if isinstance(node.this, exp.Schema) else node.this)
    if catalog.table(spec.name, schema) is not None or catalog.view(spec.name, schema):
        if spec.if_not_exists:
            return
        raise ProgrammingError(f"table {qualified(schema, spec.name)} already exists")
    table = build_table(spec, catalog, schema)
    _claim_range(txn, table_prefix(table.id))
    for ix in table.indexes:
        _claim_range(txn, index_prefix(ix.id))
    Database.set_catalog(txn, catalog.with_table(table), table.id)


def create_table_as(session: DDLSession, node: exp.Create, params: list[SQLValue]) -> None:
    """CREATE TABLE name AS SELECT …: the table (see :func:`table_as`) and the query's rows,
    written in the same transaction."""
    spec = table_as_spec(node)
    txn = session.txn
    catalog = txn.catalog
    schema = schema_of(catalog, node.this)
    if catalog.table(spec.name, schema) is not None or catalog.view(spec.name, schema):
        if spec.if_not_exists:
            return
        raise ProgrammingError(f"table {qualified(schema, spec.name)} already exists")
    planner = Planner(catalog)
    shape = planner.query(spec.query, [])
    for table_id in sorted(planner.tables):
        txn.use_table(table_id)
    ctx = RunContext(txn, params, session.database, session=session)
    rows = list(run(shape.root, ctx))  # read in full before the new table is written
    table = table_as(spec, shape.names, shape.types, catalog, schema)
    _claim_range(txn, table_prefix(table.id))
    Database.set_catalog(txn, catalog.with_table(table), table.id)
    codec = session.codec(txn.catalog.table_by_id(table.id) or table)
    writer = TableWriter(Target(codec, (None,) * len(table.columns), ()))
    slots: list[int | None] = [*range(len(shape.names)), None]  # the row id is generated
    for values in rows:
        row, fresh = writer.complete(values, slots, ctx)
        writer.insert(row, None, ctx, fresh)


def drop_table(session: DDLSession, node: exp.Drop) -> None:
    txn = session.txn
    for t in _dropped(node):
        schema = schema_of(txn.catalog, t)
        table = txn.catalog.table(t.name, schema)
        if table is None:
            if node.args.get("exists"):
                continue
            raise ProgrammingError(f"no such table: {qualified(schema, t.name)}")
        _drop_table(session, table)


def _drop_table(session: DDLSession, table: Table) -> None:
    """Remove ``table`` from the catalog and delete its rows and index entries."""
    txn = session.txn
    Database.set_catalog(txn, txn.catalog.without_table(table.id), table.id)
    _delete_range(txn, table_prefix(table.id))
    for ix in table.indexes:
        _delete_range(txn, index_prefix(ix.id))
    # the id counter stays (table ids are not reused): deleting it in a transaction would
    # conflict with every id block reserved meanwhile, which commits on its own
    session.database.forget_ids(table.id)


def backfill(txn: Transaction, table: Table, index: Index) -> None:
    """Write an entry in ``index`` for every row of ``table`` (whose indexes include it);
    ``IntegrityError`` if ``index`` is unique and two rows share non-NULL values."""
    codec = RowCodec(table)
    seen: set[bytes] = set()
    for _, row in scan_rows(txn, codec):
        values = codec.index_values(index, row)
        if index.unique and None not in values:
            k = encode_key(values)
            if k in seen:
                raise IntegrityError(
                    f"UNIQUE constraint failed: {table.name}.{', '.join(index.columns)}"
                )
            seen.add(k)
        txn.put(codec.index_entry(index, row), b"")


def create_index(session: DDLSession, node: exp.Create) -> None:
    spec = index_spec(node)
    txn = session.txn
    catalog = txn.catalog
    table_node = node.this.args["table"]
    schema = schema_of(catalog, table_node)
    if catalog.index(spec.name, schema) is not None:
        if spec.if_not_exists:
            return
        raise ProgrammingError(f"index {qualified(schema, spec.name)} already exists")
    table = catalog.table(spec.table, schema)
    if table is None:
        raise ProgrammingError(f"no such table: {qualified(schema, spec.table)}")
    index = build_index(spec, table, catalog.next_index_id)
    new_table = replace(table, indexes=(*table.indexes, index))
    _claim_range(txn, index_prefix(index.id))
    backfill(txn, new_table, new_table.indexes[-1])
    Database.set_catalog(txn, catalog.with_table(new_table), table.id)


def drop_index(session: DDLSession, node: exp.Drop) -> None:
    txn = session.txn
    for t in _dropped(node):
        schema = schema_of(txn.catalog, t)
        found = txn.catalog.index(t.name, schema)
        if found is None:
            if node.args.get("exists"):
                continue
            raise ProgrammingError(f"no such index: {qualified(schema, t.name)}")
        table, index = found
        if index.implicit:
            raise OperationalError(f"index {index.name} belongs to a UNIQUE constraint")
        new_table = replace(table, indexes=tuple(i for i in table.indexes if i.id != index.id))
        Database.set_catalog(txn, txn.catalog.with_table(new_table), table.id)
        _delete_range(txn, index_prefix(index.id))


def alter_table(session: DDLSession, node: exp.Alter) -> None:
    spec = alter_spec(node)
    txn = session.txn
    catalog: Catalog = txn.catalog
    schema = schema_of(catalog, node.this)
    table = catalog.table(spec.table, schema)
    if table is None:
        raise ProgrammingError(f"no such table: {qualified(schema, spec.table)}")
    table_id = table.id
    for action in spec.actions:
        table = catalog.table_by_id(table_id)
        assert table is not None
        if isinstance(action, AddColumn):
            catalog = catalog.with_table(added_column(table, action.column, catalog))
        elif isinstance(action, RenameTable):
            new_name = action.new_name
            other = catalog.table(new_name, schema)
            if (other is not None and other.id != table_id) or catalog.view(new_name, schema):
                raise ProgrammingError(f"there is already a table or view named {new_name}")
            catalog = catalog.with_table_renamed(table_id, new_name)
        elif isinstance(action, RenameColumn):
            existing = table.column(action.old)
            if existing is None or existing.hidden:
                raise ProgrammingError(f"no such column: {action.old}")
            clash = table.column(action.new)
            if clash is not None and clash.id != existing.id:
                raise ProgrammingError(f"duplicate column name: {action.new}")
            catalog = catalog.with_column_renamed(table_id, existing.id, action.new)
        elif isinstance(action, DropColumn):
            catalog = catalog.with_table(without_column(catalog, table, action.name))
    Database.set_catalog(txn, catalog, table_id)


def create_view(session: DDLSession, node: exp.Create) -> None:
    """CREATE VIEW name [(columns)] AS SELECT …: the query is kept as text."""
    properties = node.args.get("properties")
    if properties is not None and any(
        isinstance(p, exp.MaterializedProperty) for p in properties.expressions
    ):
        raise NotSupportedError("materialized views are not supported (CREATE MATERIALIZED VIEW)")
    spec = view_spec(node)
    target, columns, query = spec.target, spec.columns, spec.query
    txn = session.txn
    catalog = txn.catalog
    schema = schema_of(catalog, target)
    replaced = node.args.get("replace") and catalog.view(target.name, schema) is not None
    if (catalog.view(target.name, schema) is not None and not replaced) or catalog.table(
        target.name, schema
    ):
        if node.args.get("exists"):
            return
        raise ProgrammingError(f"table or view {qualified(schema, target.name)} already exists")
    view = View(target.name, stored_text(query), columns, schema)
    if replaced:  # CREATE OR REPLACE VIEW: the new query, checked as a new view's would be
        catalog = catalog.with_view(None, drop=target.name, drop_schema=schema)
    Database.set_catalog(txn, catalog.with_view(view))


def drop_view(session: DDLSession, node: exp.Drop) -> None:
    txn = session.txn
    for t in _dropped(node):
        schema = schema_of(txn.catalog, t)
        if txn.catalog.view(t.name, schema) is None:
            if node.args.get("exists"):
                continue
            raise ProgrammingError(f"no such view: {qualified(schema, t.name)}")
        Database.set_catalog(txn, txn.catalog.with_view(None, drop=t.name, drop_schema=schema))


def create_schema(session: DDLSession, node: exp.Create) -> None:
    """CREATE SCHEMA [IF NOT EXISTS] name."""
    name = node.this.db if isinstance(node.this, exp.Table) else ""
    if not name or node.args.get("expression") is not None:
        raise NotSupportedError(f"unsupported CREATE SCHEMA: {node.sql()[:60]}")
    if name.lower() in RESERVED:
        raise ProgrammingError(f"schema name {name} is reserved (temporary tables)")
    txn = session.txn
    existing = txn.catalog.schema(name)
    if existing is not None:
        if node.args.get("exists"):
            return
        raise ProgrammingError(f"schema {existing} already exists")
    Database.set_catalog(txn, txn.catalog.with_schema(name))


def drop_schema(session: DDLSession, node: exp.Drop) -> None:
    """DROP SCHEMA [IF EXISTS] name [CASCADE | RESTRICT]: RESTRICT (the default) refuses a
    schema that holds a table or view; CASCADE drops them, with their rows."""
    txn = session.txn
    for t in _dropped(node):
        name = t.db if isinstance(t, exp.Table) else ""
        if not name:
            raise NotSupportedError(f"unsupported DROP SCHEMA: {node.sql()[:60]}")
        schema = txn.catalog.schema(name)
        if schema is None:
            if node.args.get("exists"):
                continue
            raise ProgrammingError(f"no such schema: {name}")
        if schema == MAIN:
            raise ProgrammingError("cannot drop schema main")
        tables, views = txn.catalog.in_schema(schema)
        if (tables or views) and not node.args.get("cascade"):
            held = sorted([t.name for t in tables] + [v.name for v in views])
            raise ProgrammingError(
                f"cannot drop schema {schema}: it holds {', '.join(held)} "
                "(DROP SCHEMA ... CASCADE drops them too)"
            )
        for table in tables:
            _drop_table(session, table)
        Database.set_catalog(txn, txn.catalog.with_schema(None, drop=schema))


def commented(table: Table, spec: CommentSpec) -> Table:
    """``table`` with the comment ``spec`` sets on it or on one of its columns;
    ``ProgrammingError`` for a column it lacks."""
    if spec.column is None:
        return replace(table, comment=spec.text)
    col = table.column(spec.column)
    if col is None or col.hidden:
        raise ProgrammingError(f"no such column: {table.name}.{spec.column}")
    columns = tuple(replace(c, comment=spec.text) if c.id == col.id else c for c in table.columns)
    return replace(table, columns=columns)


def comment_on(session: DDLSession, node: exp.Comment) -> None:
    """COMMENT ON TABLE / COLUMN: the comment kept in the catalog (IS NULL removes it)."""
    spec = comment_spec(node)
    txn = session.txn
    schema = txn.catalog.schema(spec.schema) if spec.schema else MAIN
    if schema is None:
        raise ProgrammingError(f"no such schema: {spec.schema}")
    table = txn.catalog.table(spec.table, schema)
    if table is None:
        raise ProgrammingError(f"no such table: {qualified(schema, spec.table)}")
    Database.set_catalog(txn, txn.catalog.with_table(commented(table, spec)), table.id)
