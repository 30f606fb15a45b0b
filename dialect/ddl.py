"""Schema changes: CREATE/DROP TABLE, CREATE/DROP INDEX, ALTER TABLE ADD COLUMN / RENAME.

A schema change runs in a transaction of its own (a connection commits its open transaction
first, as MySQL and Oracle do), committed durably: the new catalog, the changed table's schema
version, and any rows or index entries it writes or deletes appear together. It conflicts with
a concurrent schema change, and with transactions that use the table it changes or write rows
it read (a CREATE INDEX backfill, a DROP TABLE); the loser is run again (docs/sql.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Protocol

from sqlglot import exp

from dialect.catalog import (
    ROWID,
    TYPE_ALIASES,
    Catalog,
    Check,
    Column,
    ForeignKey,
    Index,
    Table,
    View,
)
from dialect.database import Database
from dialect.errors import (
    DataError,
    IntegrityError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)
from dialect.keycodec import encode_key, prefix_end
from dialect.layout import counter_key, index_prefix, table_prefix
from dialect.tablerows import RowCodec, constant_default
from dialect.transaction import Transaction


class DDLSession(Protocol):
    @property
    def database(self) -> Database: ...

    @property
    def txn(self) -> Transaction: ...

    def codec(self, table: Table) -> RowCodec: ...


def _column_def(node: exp.ColumnDef, col_id: int) -> tuple[Column, list[str]]:
    """The column and the names of its column-level constraints (PRIMARY KEY, UNIQUE, ...)."""
    name = node.name
    kind = node.args.get("kind")
    if kind is None:
        canonical, declared, params = "ANY", "", []
    else:
        type_name = kind.this.value if hasattr(kind.this, "value") else str(kind.this)
        declared = kind.sql()
        canonical = TYPE_ALIASES.get(type_name.upper(), "")
        if not canonical:
            raise NotSupportedError(f"unsupported column type {declared} for column {name}")
        params = [
            int(p.this.this)
            for p in kind.expressions
            if isinstance(p, exp.DataTypeParam)
            and isinstance(p.this, exp.Literal)
            and not p.this.is_string
        ]
    col = Column(id=col_id, name=name, type=canonical, declared=declared or "ANY")
    if canonical == "TEXT" and params:
        col = replace(col, length=params[0])
    if canonical == "NUMERIC" and params:
        col = replace(col, precision=params[0], scale=params[1] if len(params) > 1 else 0)
    flags: list[str] = []
    for constraint in node.args.get("constraints") or []:
        c = constraint.args.get("kind")
        if isinstance(c, exp.PrimaryKeyColumnConstraint):
            flags.append("pk")
        elif isinstance(c, exp.NotNullColumnConstraint):
            if not c.args.get("allow_null"):
                col = replace(col, not_null=True)
        elif isinstance(c, exp.UniqueColumnConstraint):
            flags.append("unique")
        elif isinstance(c, exp.DefaultColumnConstraint):
            col = replace(col, default_sql=c.this.sql())
        elif isinstance(c, exp.AutoIncrementColumnConstraint):
            flags.append("autoincrement")
        elif isinstance(c, exp.Reference):
            flags.append("ref:" + c.sql())
        elif isinstance(c, exp.CheckColumnConstraint):
            flags.append("check:" + c.this.sql(dialect="sqlite"))
        elif isinstance(c, exp.CollateColumnConstraint | exp.CommentColumnConstraint):
            continue
        else:
            raise NotSupportedError(f"unsupported column constraint: {constraint.sql()}")
    return col, flags


def _names(node: exp.Expression) -> tuple[str, ...]:
    return tuple(e.name for e in node.expressions)


def create_table(session: DDLSession, node: exp.Create) -> None:
    schema = node.this
    if node.args.get("expression") is not None or not isinstance(schema, exp.Schema):
        raise NotSupportedError("CREATE TABLE ... AS SELECT is not supported")
    name = schema.this.name
    txn = session.txn
    catalog = txn.catalog
    if catalog.table(name) is not None or catalog.view(name) is not None:
        if node.args.get("exists"):
            return
        raise ProgrammingError(f"table {name} already exists")
    columns: list[Column] = []
    pk: list[str] = []
    uniques: list[tuple[tuple[str, ...], str | None]] = []
    fks: list[ForeignKey] = []
    checks: list[Check] = []
    items: list[tuple[exp.Expression, str | None]] = []
    for item in schema.expressions:
        if isinstance(item, exp.Constraint):  # CONSTRAINT name <constraint>
            items.extend((sub, item.name) for sub in item.expressions)
        else:
            items.append((item, None))
    for item, constraint_name in items:
        if isinstance(item, exp.ColumnDef):
            col, flags = _column_def(item, len(columns) + 1)
            if any(c.name.lower() == col.name.lower() for c in columns):
                raise ProgrammingError(f"duplicate column name: {col.name}")
            columns.append(col)
            if "pk" in flags:
                pk.append(col.name)
            if "unique" in flags:
                uniques.append(((col.name,), None))
            for f in flags:
                if f.startswith("check:"):
                    checks.append(Check(constraint_name, f[len("check:") :]))
                if f.startswith("ref:"):
                    ref = next(
                        c.args["kind"]
                        for c in item.args["constraints"]
                        if isinstance(c.args.get("kind"), exp.Reference)
                    )
                    target = ref.this
                    fks.append(
                        ForeignKey(
                            (col.name,),
                            target.this.name,
                            tuple(e.name for e in target.expressions),
                        )
                    )
        elif isinstance(item, exp.PrimaryKey):
            if pk:
                raise ProgrammingError(f"table {name} has more than one primary key")
            pk = list(_names(item))
        elif isinstance(item, exp.UniqueColumnConstraint):
            uniques.append((_names(item.this), constraint_name))
        elif isinstance(item, exp.ForeignKey):
            ref = item.args["reference"].this
            fks.append(ForeignKey(_names(item), ref.this.name, _names(ref), constraint_name))
        elif isinstance(item, exp.CheckColumnConstraint):
            checks.append(Check(constraint_name, item.this.sql(dialect="sqlite")))
        elif isinstance(item, exp.Identifier):
            columns.append(Column(len(columns) + 1, item.name, "ANY", "ANY"))
        else:
            raise NotSupportedError(f"unsupported table constraint: {item.sql()}")
    if not columns:
        raise ProgrammingError(f"table {name} has no columns")
    by_name = {c.name.lower(): c for c in columns}
    for key_col in pk:
        if key_col.lower() not in by_name:
            raise ProgrammingError(f"primary key column {key_col} is not in table {name}")
    pk = [by_name[k.lower()].name for k in pk]
    autoincrement = len(pk) == 1 and by_name[pk[0].lower()].type == "INTEGER"
    if not pk:
        columns.append(Column(len(columns) + 1, ROWID, "INTEGER", "INTEGER", hidden=True))
        pk = [ROWID]
        autoincrement = True
    columns = [
        replace(c, not_null=True) if c.name in pk and not autoincrement else c for c in columns
    ]
    indexes = []
    next_index = catalog.next_index_id
    for i, (cols, unique_name) in enumerate(uniques):
        for c in cols:
            if c.lower() not in by_name:
                raise ProgrammingError(f"UNIQUE column {c} is not in table {name}")
        if [c.lower() for c in cols] == [p.lower() for p in pk]:
            continue  # the primary key is unique already
        index_name = unique_name or f"uq_{name}_{i + 1}"
        indexes.append(Index(next_index, index_name, tuple(cols), True, True))
        next_index += 1
    table = Table(
        catalog.next_table_id,
        name,
        tuple(columns),
        tuple(pk),
        autoincrement,
        tuple(indexes),
        tuple(fks),
        len(columns) + 1,
        tuple(checks),
    )
    # Unnamed foreign keys get a name, as PostgreSQL gives them: <table>_<columns>_fkey.
    table = replace(
        table,
        foreign_keys=tuple(
            fk if fk.name else replace(fk, name=f"{name}_{'_'.join(fk.columns)}_fkey")
            for fk in table.foreign_keys
        ),
    )
    new = catalog.with_table(table)
    new = replace(new, next_index_id=max(new.next_index_id, next_index))
    Database.set_catalog(txn, new, table.id)


def _dropped(node: exp.Drop) -> list[exp.Expression]:
    """The objects a DROP statement names."""
    return list(node.args.get("tables") or node.expressions)


def _delete_range(txn: Transaction, start: bytes) -> None:
    """Delete every key starting with ``start``; a key written there concurrently conflicts."""
    end = prefix_end(start)
    txn.watch(start, end)
    for key, _ in list(txn.scan(start, end)):
        txn.delete(key)


def drop_table(session: DDLSession, node: exp.Drop) -> None:
    txn = session.txn
    for t in _dropped(node):
        table = txn.catalog.table(t.name)
        if table is None:
            if node.args.get("exists"):
                continue
            raise ProgrammingError(f"no such table: {t.name}")
        Database.set_catalog(txn, txn.catalog.without_table(table.id), table.id)
        _delete_range(txn, table_prefix(table.id))
        for ix in table.indexes:
            _delete_range(txn, index_prefix(ix.id))
        txn.delete(counter_key(table.id))
        session.database.forget_ids(table.id)


def _rows(txn: Transaction, codec: RowCodec) -> Iterator[tuple[object, ...]]:
    """Every row of the table; a row written concurrently conflicts with the transaction."""
    prefix = table_prefix(codec.table.id)
    txn.watch(prefix, prefix_end(prefix))
    for key, value in txn.scan(prefix, prefix_end(prefix)):
        yield codec.decode(key, value)


def create_index(session: DDLSession, node: exp.Create) -> None:
    ix_node = node.this
    name = ix_node.name
    table_node = ix_node.args.get("table")
    if table_node is None:
        raise ProgrammingError("CREATE INDEX needs ON <table>")
    params = ix_node.args.get("params")
    cols = [o.this if isinstance(o, exp.Ordered) else o for o in params.args.get("columns", [])]
    if not cols or not all(isinstance(c, exp.Column) for c in cols):
        raise NotSupportedError("indexes on expressions are not supported")
    txn = session.txn
    catalog = txn.catalog
    if catalog.index(name) is not None:
        if node.args.get("exists"):
            return
        raise ProgrammingError(f"index {name} already exists")
    table = catalog.table(table_node.name)
    if table is None:
        raise ProgrammingError(f"no such table: {table_node.name}")
    names = []
    for c in cols:
        col = table.column(c.name)
        if col is None:
            raise ProgrammingError(f"no such column: {c.name}")
        names.append(col.name)
    index = Index(catalog.next_index_id, name, tuple(names), bool(node.args.get("unique")))
    new_table = replace(table, indexes=(*table.indexes, index))
    codec = RowCodec(new_table)
    seen: set[bytes] = set()
    for row in _rows(txn, codec):
        values = codec.index_values(index, row)
        if index.unique and None not in values:
            k = encode_key(values)
            if k in seen:
                raise IntegrityError(f"UNIQUE constraint failed: {table.name}.{', '.join(names)}")
            seen.add(k)
        txn.put(codec.index_entry(index, row), b"")
    Database.set_catalog(txn, catalog.with_table(new_table), table.id)


def drop_index(session: DDLSession, node: exp.Drop) -> None:
    txn = session.txn
    for t in _dropped(node):
        found = txn.catalog.index(t.name)
        if found is None:
            if node.args.get("exists"):
                continue
            raise ProgrammingError(f"no such index: {t.name}")
        table, index = found
        if index.implicit:
            raise OperationalError(f"index {index.name} belongs to a UNIQUE constraint")
        new_table = replace(table, indexes=tuple(i for i in table.indexes if i.id != index.id))
        Database.set_catalog(txn, txn.catalog.with_table(new_table), table.id)
        _delete_range(txn, index_prefix(index.id))


def alter_table(session: DDLSession, node: exp.Alter) -> None:
    txn = session.txn
    catalog: Catalog = txn.catalog
    table = catalog.table(node.this.name)
    if table is None:
        raise ProgrammingError(f"no such table: {node.this.name}")
    for action in node.args.get("actions") or []:
        if isinstance(action, exp.ColumnDef):
            col, flags = _column_def(action, table.next_column_id)
            if table.column(col.name) is not None:
                raise ProgrammingError(f"duplicate column name: {col.name}")
            if flags and any(f in ("pk", "unique") for f in flags):
                raise NotSupportedError("ADD COLUMN cannot add a PRIMARY KEY or UNIQUE column")
            if col.not_null and col.default_sql is None:
                raise OperationalError("cannot add a NOT NULL column with no default value")
            try:
                constant_default(col)
            except (ValueError, DataError) as exc:
                raise OperationalError(
                    f"cannot add a column with a non-constant or invalid default: {exc}"
                ) from exc
            table = replace(
                table, columns=(*table.columns, col), next_column_id=table.next_column_id + 1
            )
        elif isinstance(action, exp.AlterRename):
            new_name = action.this.name
            if catalog.table(new_name) is not None:
                raise ProgrammingError(f"there is already a table named {new_name}")
            table = replace(table, name=new_name)
        elif isinstance(action, exp.RenameColumn):
            old, new = action.this.name, action.args["to"].name
            existing = table.column(old)
            if existing is None:
                raise ProgrammingError(f"no such column: {old}")
            pk = tuple(new if p.lower() == old.lower() else p for p in table.pk)
            table = replace(
                table,
                columns=tuple(
                    replace(c, name=new) if c.id == existing.id else c for c in table.columns
                ),
                pk=pk,
                indexes=tuple(
                    replace(
                        i,
                        columns=tuple(new if c.lower() == old.lower() else c for c in i.columns),
                    )
                    for i in table.indexes
                ),
            )
        else:
            raise NotSupportedError(f"unsupported ALTER TABLE action: {action.sql()}")
    Database.set_catalog(txn, catalog.with_table(table), table.id)


def create_view(session: DDLSession, node: exp.Create) -> None:
    """CREATE VIEW name [(columns)] AS SELECT …: the query is kept as text."""
    target = node.this
    columns: tuple[str, ...] = ()
    if isinstance(target, exp.Schema):
        columns = _names(target)
        target = target.this
    query = node.args.get("expression")
    if query is None:
        raise ProgrammingError("CREATE VIEW needs AS SELECT")
    txn = session.txn
    catalog = txn.catalog
    if catalog.view(target.name) is not None or catalog.table(target.name) is not None:
        if node.args.get("exists"):
            return
        raise ProgrammingError(f"table or view {target.name} already exists")
    view = View(target.name, query.sql(dialect="sqlite"), columns)
    Database.set_catalog(txn, catalog.with_view(view))


def drop_view(session: DDLSession, node: exp.Drop) -> None:
    txn = session.txn
    for t in _dropped(node):
        if txn.catalog.view(t.name) is None:
            if node.args.get("exists"):
                continue
            raise ProgrammingError(f"no such view: {t.name}")
        Database.set_catalog(txn, txn.catalog.with_view(None, drop=t.name))
