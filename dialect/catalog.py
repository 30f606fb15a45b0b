"""Table and index schemas, stored in the engine under the system key ``\\x00catalog``
(docs/sql-format.md#catalog).

Tables and indexes are named in SQL but numbered in data keys, so renaming a table rewrites
only the catalog. Within a table, the primary key, indexes, foreign keys and CHECK constraints
refer to columns by id; their column names are derived from the ids whenever a ``Table`` is
built, so a renamed column cannot leave a stale name behind. The catalog carries a version
that every schema change increments.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import msgpack

from dialect import renames

CATALOG_KEY = b"\x00catalog"
#: the default schema: unqualified names mean it; always present, never dropped
MAIN = "main"
#: 2: columns referred to by id; numbers in keys of a column with no type are Decimals
#: (docs/sql-format.md#keys)
FORMAT_VERSION = 2
#: older formats this version reads (and upgrades on read)
READABLE_FORMATS = (1, 2)
#: the hidden primary key of a table declared without one
ROWID = "_rowid_"

#: canonical type names, and the declared names that map to them
TYPE_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        [
            "INT",
            "INTEGER",
            "BIGINT",
            "SMALLINT",
            "TINYINT",
            "MEDIUMINT",
            "INT2",
            "INT8",
            "UBIGINT",
            "UINT",
            "USMALLINT",
            "UTINYINT",
            "SERIAL",
            "BIGSERIAL",
        ],
        "INTEGER",
    ),
    **dict.fromkeys(["FLOAT", "DOUBLE", "REAL", "DOUBLE PRECISION", "FLOAT4", "FLOAT8"], "REAL"),
    **dict.fromkeys(["DECIMAL", "NUMERIC", "MONEY", "BIGDECIMAL"], "NUMERIC"),
    **dict.fromkeys(
        [
            "TEXT",
            "VARCHAR",
            "CHAR",
            "NVARCHAR",
            "NCHAR",
            "STRING",
            "CLOB",
            "NAME",
            "UUID",
            "MEDIUMTEXT",
            "LONGTEXT",
            "TINYTEXT",
            "CHARACTER VARYING",
            "BPCHAR",
            "ENUM",
        ],
        "TEXT",
    ),
    **dict.fromkeys(
        ["BLOB", "BINARY", "VARBINARY", "BYTEA", "LONGBLOB", "MEDIUMBLOB", "TINYBLOB"], "BLOB"
    ),
    **dict.fromkeys(["BOOLEAN", "BOOL", "BIT"], "BOOLEAN"),
    "DATE": "DATE",
    **dict.fromkeys(["TIME", "TIMETZ"], "TIME"),
    **dict.fromkeys(
        [
            "TIMESTAMP",
            "DATETIME",
            "TIMESTAMPTZ",
            "TIMESTAMPLTZ",
            "TIMESTAMP_NS",
            "DATETIME2",
            "SMALLDATETIME",
            "TIMESTAMPNTZ",
        ],
        "TIMESTAMP",
    ),
    **dict.fromkeys(["JSON", "JSONB"], "JSON"),
}


@dataclass(frozen=True)
class Column:
    """A column: ``type`` is canonical (INTEGER, REAL, NUMERIC, TEXT, BLOB, BOOLEAN, DATE,
    TIME, TIMESTAMP, JSON); ``declared`` is the type as written, for reflection."""

    id: int
    name: str
    type: str
    declared: str
    not_null: bool = False
    default_sql: str | None = None  # the DEFAULT expression as SQL text
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    hidden: bool = False
    comment: str | None = None  # COMMENT ON COLUMN (or an inline COMMENT)


@dataclass(frozen=True)
class Index:
    """A secondary index; entries are ``index id + columns + primary key``. ``column_ids``
    are stored; ``columns`` (their names) is filled in by the table that holds the index."""

    id: int
    name: str
    column_ids: tuple[int, ...]
    unique: bool
    implicit: bool = False  # created for a UNIQUE constraint, not by CREATE INDEX
    columns: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class ForeignKey:
    """A declared foreign key, kept for reflection (not enforced). The local columns are
    stored by id (``columns`` is derived); the referenced table and columns by name, since
    they may not exist yet, and are renamed with what they name."""

    column_ids: tuple[int, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    name: str | None = None
    columns: tuple[str, ...] = field(default=(), compare=False)
    #: the referenced table's schema
    ref_schema: str = MAIN
    #: the referential actions as written (CASCADE, SET NULL, SET DEFAULT, RESTRICT,
    #: NO ACTION), kept for reflection; None when not declared
    on_delete: str | None = None
    on_update: str | None = None


@dataclass(frozen=True)
class Check:
    """A CHECK constraint: rows for which ``sql`` is false are refused (NULL passes).
    ``column_ids[i]`` is the column the i-th column reference of ``sql`` names (0: a name
    that no column had when the catalog was upgraded); the table renders ``sql`` with the
    columns' current names."""

    name: str | None
    sql: str
    column_ids: tuple[int, ...] = ()
    #: the expression as written (None: not kept, before this field), re-rendered with the
    #: columns' current names as ``sql`` is; reflected, and named in CHECK errors
    source: str | None = None


@dataclass(frozen=True)
class Table:
    """A table's schema. ``key_ids`` are the key columns' ids (the hidden ``ROWID`` column's
    when none was declared); ``pk`` their names."""

    id: int
    name: str
    columns: tuple[Column, ...]
    key_ids: tuple[int, ...]
    autoincrement: bool
    indexes: tuple[Index, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    next_column_id: int = 1
    checks: tuple[Check, ...] = ()
    pk: tuple[str, ...] = field(init=False, compare=False)
    comment: str | None = None  # COMMENT ON TABLE
    pk_name: str | None = None  # CONSTRAINT name PRIMARY KEY (…)
    schema: str = MAIN

    def __post_init__(self) -> None:
        names = {c.id: c.name for c in self.columns}

        def named(ids: tuple[int, ...], what: str) -> tuple[str, ...]:
            try:
                return tuple(names[i] for i in ids)
            except KeyError as exc:
                raise ValueError(f"{what} of table {self.name} names no column {exc}") from None

        set_ = object.__setattr__  # derived fields of a frozen dataclass
        set_(self, "pk", named(self.key_ids, "primary key"))
        set_(
            self,
            "indexes",
            tuple(replace(i, columns=named(i.column_ids, i.name)) for i in self.indexes),
        )
        set_(
            self,
            "foreign_keys",
            tuple(
                replace(f, columns=named(f.column_ids, f.name or "foreign key"))
                for f in self.foreign_keys
            ),
        )
        set_(
            self,
            "checks",
            tuple(
                replace(
                    c, sql=renames.with_column_names(c.sql, [names.get(i) for i in c.column_ids])
                )
                for c in self.checks
            ),
        )
        set_(self, "checks", tuple(_with_source_names(c, names) for c in self.checks))

    def column(self, name: str) -> Column | None:
        lowered = name.lower()
        for c in self.columns:
            if c.name.lower() == lowered:
                return c
        return None

    def column_by_id(self, column_id: int) -> Column | None:
        return next((c for c in self.columns if c.id == column_id), None)

    @property
    def visible_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if not c.hidden)

    @property
    def pk_columns(self) -> tuple[Column, ...]:
        by_id = {c.id: c for c in self.columns}
        return tuple(by_id[i] for i in self.key_ids)


def _with_source_names(check: Check, names: dict[int, str]) -> Check:
    """``check`` with its text as written naming the columns' current names (dropped if its
    references cannot be located any more)."""
    if check.source is None:
        return check
    source = renames.source_with_column_names(
        check.source, [names.get(i) for i in check.column_ids]
    )
    return check if source == check.source else replace(check, source=source)


@dataclass(frozen=True)
class View:
    """A named query, stored as its SQL text and run as a subquery when selected from."""

    name: str
    sql: str
    columns: tuple[str, ...] = ()
    schema: str = MAIN


@dataclass(frozen=True)
class Catalog:
    """Every table and view of the database."""

    version: int = 0
    tables: tuple[Table, ...] = ()
    next_table_id: int = 1
    next_index_id: int = 1
    views: tuple[View, ...] = ()
    #: the schemas besides ``main``, as created
    schemas: tuple[str, ...] = ()

    def view(self, name: str, schema: str = MAIN) -> View | None:
        lowered, in_schema = name.lower(), schema.lower()
        return next(
            (v for v in self.views if v.name.lower() == lowered and v.schema.lower() == in_schema),
            None,
        )

    def with_view(
        self, view: View | None, drop: str | None = None, drop_schema: str = MAIN
    ) -> Catalog:
        """The catalog with ``view`` added, or with the view named ``drop`` (in schema
        ``drop_schema``) removed."""
        gone = self.view(drop, drop_schema) if drop is not None else None
        views = tuple(v for v in self.views if v is not gone)
        return replace(
            self, version=self.version + 1, views=(*views, view) if view is not None else views
        )

    def table(self, name: str, schema: str = MAIN) -> Table | None:
        lowered, in_schema = name.lower(), schema.lower()
        for t in self.tables:
            if t.name.lower() == lowered and t.schema.lower() == in_schema:
                return t
        return None

    def schema(self, name: str) -> str | None:
        """The schema ``name`` as created (``main`` for the default one); None if there is no
        such schema."""
        lowered = name.lower()
        if lowered == MAIN:
            return MAIN
        return next((s for s in self.schemas if s.lower() == lowered), None)

    def schema_names(self) -> list[str]:
        return [MAIN, *self.schemas]

    def in_schema(self, schema: str) -> tuple[list[Table], list[View]]:
        """The tables and views of schema ``schema``."""
        lowered = schema.lower()
        return (
            [t for t in self.tables if t.schema.lower() == lowered],
            [v for v in self.views if v.schema.lower() == lowered],
        )

    def with_schema(self, name: str | None, drop: str | None = None) -> Catalog:
        """The catalog with schema ``name`` added, or with the schema ``drop`` (and its
        views; the caller drops its tables) removed."""
        if name is not None:
            return replace(self, version=self.version + 1, schemas=(*self.schemas, name))
        lowered = (drop or "").lower()
        return replace(
            self,
            version=self.version + 1,
            schemas=tuple(s for s in self.schemas if s.lower() != lowered),
            views=tuple(v for v in self.views if v.schema.lower() != lowered),
        )

    def table_by_id(self, table_id: int) -> Table | None:
        return next((t for t in self.tables if t.id == table_id), None)

    def index(self, name: str, schema: str = MAIN) -> tuple[Table, Index] | None:
        lowered, in_schema = name.lower(), schema.lower()
        for t in self.tables:
            if t.schema.lower() != in_schema:
                continue
            for ix in t.indexes:
                if ix.name.lower() == lowered:
                    return t, ix
        return None

    def with_table(self, table: Table) -> Catalog:
        """The catalog with ``table`` added or replaced (matched by id)."""
        others = tuple(t for t in self.tables if t.id != table.id)
        return replace(
            self,
            version=self.version + 1,
            tables=(*others, table),
            next_table_id=max(self.next_table_id, table.id + 1),
            next_index_id=max([self.next_index_id, *(ix.id + 1 for ix in table.indexes)]),
        )

    def without_table(self, table_id: int) -> Catalog:
        return replace(
            self,
            version=self.version + 1,
            tables=tuple(t for t in self.tables if t.id != table_id),
        )

    def with_table_renamed(self, table_id: int, new_name: str) -> Catalog:
        """The catalog with table ``table_id`` named ``new_name``, and the foreign keys and
        views that name it following it (as SQLite does since 3.26)."""
        table = self.table_by_id(table_id)
        assert table is not None
        old, schema = table.name.lower(), table.schema.lower()
        tables = []
        for t in self.tables:
            if t.id == table_id:
                t = replace(t, name=new_name)
            fks = tuple(
                replace(f, ref_table=new_name)
                if f.ref_table.lower() == old and f.ref_schema.lower() == schema
                else f
                for f in t.foreign_keys
            )
            tables.append(replace(t, foreign_keys=fks) if fks != t.foreign_keys else t)
        views = tuple(
            replace(
                v,
                sql=renames.view_with_table_renamed(v.sql, table.name, new_name, table.schema),
            )
            for v in self.views
        )
        return replace(self, version=self.version + 1, tables=tuple(tables), views=views)

    def with_column_renamed(self, table_id: int, column_id: int, new_name: str) -> Catalog:
        """The catalog with column ``column_id`` of table ``table_id`` named ``new_name``, and
        the foreign keys (of any table) and views that name it following it."""
        table = self.table_by_id(table_id)
        assert table is not None
        column = table.column_by_id(column_id)
        assert column is not None
        old = column.name.lower()
        tables = []
        for t in self.tables:
            if t.id == table_id:
                t = replace(
                    t,
                    columns=tuple(
                        replace(c, name=new_name) if c.id == column_id else c for c in t.columns
                    ),
                )
            fks = tuple(
                replace(
                    f,
                    ref_columns=tuple(new_name if c.lower() == old else c for c in f.ref_columns),
                )
                if f.ref_table.lower() == table.name.lower()
                and f.ref_schema.lower() == table.schema.lower()
                else f
                for f in t.foreign_keys
            )
            tables.append(replace(t, foreign_keys=fks) if fks != t.foreign_keys else t)
        others = [t for t in self.tables if t.id != table_id]

        def elsewhere(name: str) -> bool:
            """Whether a table other than the renamed one has a column ``name``."""
            return any(t.column(name) is not None for t in others)

        views = tuple(
            replace(
                v,
                sql=renames.view_with_column_renamed(
                    v.sql, table.name, column.name, new_name, elsewhere, table.schema
                ),
            )
            for v in self.views
        )
        return replace(self, version=self.version + 1, tables=tuple(tables), views=views)


def encode_catalog(catalog: Catalog) -> bytes:
    doc: dict[str, Any] = {  # Any: msgpack values
        "version": catalog.version,
        "tables": [_encode_table(t) for t in catalog.tables],
        "next_table_id": catalog.next_table_id,
        "next_index_id": catalog.next_index_id,
        "views": [
            _with_schema(
                {"name": v.name, "sql": v.sql, "columns": list(v.columns)}, "schema", v.schema
            )
            for v in catalog.views
        ],
    }
    if catalog.schemas:  # written only when there are any: a catalog without stays as it was
        doc["schemas"] = list(catalog.schemas)
    out: bytes = msgpack.packb([FORMAT_VERSION, doc], use_bin_type=True)
    return out


def _with_schema(doc: dict[str, Any], key: str, schema: str) -> dict[str, Any]:  # msgpack
    """``doc`` with ``key``: ``schema`` added unless it is ``main`` (the default when read)."""
    if schema != MAIN:
        doc[key] = schema
    return doc


def _encode_table(t: Table) -> dict[str, Any]:  # Any: msgpack values
    return _with_schema(_table_doc(t), "schema", t.schema)


def _table_doc(t: Table) -> dict[str, Any]:  # Any: msgpack values
    return {
        "id": t.id,
        "name": t.name,
        "columns": [
            {
                "id": c.id,
                "name": c.name,
                "type": c.type,
                "declared": c.declared,
                "not_null": c.not_null,
                "default_sql": c.default_sql,
                "length": c.length,
                "precision": c.precision,
                "scale": c.scale,
                "hidden": c.hidden,
                **({"comment": c.comment} if c.comment is not None else {}),
            }
            for c in t.columns
        ],
        "key_ids": list(t.key_ids),
        "autoincrement": t.autoincrement,
        "indexes": [
            {
                "id": i.id,
                "name": i.name,
                "column_ids": list(i.column_ids),
                "unique": i.unique,
                "implicit": i.implicit,
            }
            for i in t.indexes
        ],
        "foreign_keys": [
            _with_schema(
                {
                    "column_ids": list(f.column_ids),
                    "ref_table": f.ref_table,
                    "ref_columns": list(f.ref_columns),
                    "name": f.name,
                    **({"on_delete": f.on_delete} if f.on_delete is not None else {}),
                    **({"on_update": f.on_update} if f.on_update is not None else {}),
                },
                "ref_schema",
                f.ref_schema,
            )
            for f in t.foreign_keys
        ],
        "next_column_id": t.next_column_id,
        "checks": [
            {
                "name": c.name,
                "sql": c.sql,
                "column_ids": list(c.column_ids),
                **({"source": c.source} if c.source is not None else {}),
            }
            for c in t.checks
        ],
        **({"comment": t.comment} if t.comment is not None else {}),
        **({"pk_name": t.pk_name} if t.pk_name is not None else {}),
    }


def _check_version_1(doc: dict[str, Any]) -> None:  # Any: msgpack data
    """Format 1 reads as 2 unless a key holds a column with no type, whose numbers format 1
    encoded by their Python type."""
    for t in doc["tables"]:
        untyped = {c["name"].lower() for c in t["columns"] if c["type"] == "ANY"}
        keyed = [t["pk"], *(i["columns"] for i in t["indexes"])]
        for names in keyed:
            for name in names:
                if name.lower() in untyped:
                    raise ValueError(
                        f"catalog format 1: column {t['name']}.{name} has no type and is in a "
                        "key, whose numbers format 2 stores differently; copy the table with "
                        "the Strata that wrote it (CREATE TABLE ... AS SELECT into typed "
                        "columns) before opening it with this one"
                    )


def decode_catalog(data: bytes) -> Catalog:
    """The catalog stored as ``data``, in any readable format (older ones upgraded);
    ``ValueError`` for a format this version does not read or bytes that are not a catalog."""
    try:
        return _decode_catalog(data)
    except ValueError:
        raise
    except (TypeError, KeyError, IndexError, AttributeError, msgpack.UnpackException) as exc:
        # found by fuzzing: a damaged document raised whatever its shape provoked
        raise ValueError(f"malformed catalog: {type(exc).__name__}: {exc}") from exc


def _decode_catalog(data: bytes) -> Catalog:
    version, doc = msgpack.unpackb(data, raw=False)
    if version not in READABLE_FORMATS:
        raise ValueError(f"catalog format {version} is not one of {READABLE_FORMATS}")
    if version == 1:
        _check_version_1(doc)
    decode = _decode_table if version == FORMAT_VERSION else _upgrade_table
    tables = tuple(decode(t) for t in doc["tables"])
    views = tuple(
        View(v["name"], v["sql"], tuple(v["columns"]), v.get("schema", MAIN))
        for v in doc.get("views", [])
    )
    return Catalog(
        doc["version"],
        tables,
        doc["next_table_id"],
        doc["next_index_id"],
        views,
        tuple(doc.get("schemas", ())),
    )


def _decode_table(t: dict[str, Any]) -> Table:  # Any: msgpack values
    return Table(
        id=t["id"],
        name=t["name"],
        columns=tuple(Column(**c) for c in t["columns"]),
        key_ids=tuple(t["key_ids"]),
        autoincrement=t["autoincrement"],
        indexes=tuple(
            Index(i["id"], i["name"], tuple(i["column_ids"]), i["unique"], i["implicit"])
            for i in t["indexes"]
        ),
        foreign_keys=tuple(
            ForeignKey(
                tuple(f["column_ids"]),
                f["ref_table"],
                tuple(f["ref_columns"]),
                f["name"],
                ref_schema=f.get("ref_schema", MAIN),
                on_delete=f.get("on_delete"),
                on_update=f.get("on_update"),
            )
            for f in t["foreign_keys"]
        ),
        next_column_id=t["next_column_id"],
        checks=tuple(
            Check(c["name"], c["sql"], tuple(c["column_ids"]), c.get("source")) for c in t["checks"]
        ),
        comment=t.get("comment"),
        pk_name=t.get("pk_name"),
        schema=t.get("schema", MAIN),
    )


def _upgrade_table(t: dict[str, Any]) -> Table:  # Any: msgpack values
    """A table stored in format 1, where columns were referred to by name. A name no column
    has (a CHECK left behind by a rename before format 2) keeps its text and id 0."""
    columns = tuple(Column(**c) for c in t["columns"])
    ids = {c.name.lower(): c.id for c in columns}

    def by_name(names: list[str]) -> tuple[int, ...]:
        return tuple(ids[n.lower()] for n in names)

    return Table(
        id=t["id"],
        name=t["name"],
        columns=columns,
        key_ids=by_name(t["pk"]),
        autoincrement=t["autoincrement"],
        indexes=tuple(
            Index(i["id"], i["name"], by_name(i["columns"]), i["unique"], i["implicit"])
            for i in t["indexes"]
        ),
        foreign_keys=tuple(
            ForeignKey(
                by_name(f["columns"]), f["ref_table"], tuple(f["ref_columns"]), f.get("name")
            )
            for f in t["foreign_keys"]
        ),
        next_column_id=t["next_column_id"],
        checks=tuple(
            Check(
                c["name"],
                c["sql"],
                tuple(ids.get(n.lower(), 0) for n in renames.column_references(c["sql"])),
            )
            for c in t.get("checks", [])
        ),
    )
