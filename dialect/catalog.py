"""Table and index schemas, stored in the engine under the system key ``\\x00catalog``.

Tables and indexes are named in SQL but numbered in data keys, so renaming a table rewrites
only the catalog. The catalog carries a version that every schema change increments.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import msgpack

CATALOG_KEY = b"\x00catalog"
#: 2: numbers in keys of a column with no type are Decimals (docs/sql-format.md#keys)
FORMAT_VERSION = 2
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


@dataclass(frozen=True)
class Index:
    """A secondary index; entries are ``index id + columns + primary key``."""

    id: int
    name: str
    columns: tuple[str, ...]
    unique: bool
    implicit: bool = False  # created for a UNIQUE constraint, not by CREATE INDEX


@dataclass(frozen=True)
class ForeignKey:
    """A declared foreign key, kept for reflection (not enforced)."""

    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    name: str | None = None


@dataclass(frozen=True)
class Check:
    """A CHECK constraint: rows for which ``sql`` is false are refused (NULL passes)."""

    name: str | None
    sql: str


@dataclass(frozen=True)
class Table:
    """A table's schema. ``pk`` names the key columns (``(ROWID,)`` when none was declared)."""

    id: int
    name: str
    columns: tuple[Column, ...]
    pk: tuple[str, ...]
    autoincrement: bool
    indexes: tuple[Index, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    next_column_id: int = 1
    checks: tuple[Check, ...] = ()

    def column(self, name: str) -> Column | None:
        lowered = name.lower()
        for c in self.columns:
            if c.name.lower() == lowered:
                return c
        return None

    @property
    def visible_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if not c.hidden)

    @property
    def pk_columns(self) -> tuple[Column, ...]:
        cols = []
        for name in self.pk:
            c = self.column(name)
            assert c is not None
            cols.append(c)
        return tuple(cols)


@dataclass(frozen=True)
class View:
    """A named query, stored as its SQL text and run as a subquery when selected from."""

    name: str
    sql: str
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalog:
    """Every table and view of the database."""

    version: int = 0
    tables: tuple[Table, ...] = ()
    next_table_id: int = 1
    next_index_id: int = 1
    views: tuple[View, ...] = ()

    def view(self, name: str) -> View | None:
        lowered = name.lower()
        return next((v for v in self.views if v.name.lower() == lowered), None)

    def with_view(self, view: View | None, drop: str | None = None) -> Catalog:
        """The catalog with ``view`` added, or with the view named ``drop`` removed."""
        views = tuple(v for v in self.views if v.name.lower() != (drop or "").lower())
        return replace(
            self, version=self.version + 1, views=(*views, view) if view is not None else views
        )

    def table(self, name: str) -> Table | None:
        lowered = name.lower()
        for t in self.tables:
            if t.name.lower() == lowered:
                return t
        return None

    def index(self, name: str) -> tuple[Table, Index] | None:
        lowered = name.lower()
        for t in self.tables:
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
            next_index_id=max(
                self.next_index_id, *(ix.id + 1 for ix in table.indexes), self.next_index_id
            ),
        )

    def without_table(self, table_id: int) -> Catalog:
        return replace(
            self,
            version=self.version + 1,
            tables=tuple(t for t in self.tables if t.id != table_id),
        )


def encode_catalog(catalog: Catalog) -> bytes:
    out: bytes = msgpack.packb([FORMAT_VERSION, asdict(catalog)], use_bin_type=True)
    return out


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
    version, doc = msgpack.unpackb(data, raw=False)
    if version == 1:
        _check_version_1(doc)
    elif version != FORMAT_VERSION:
        raise ValueError(f"catalog format {version} is not {FORMAT_VERSION}")
    tables = []
    for t in doc["tables"]:
        tables.append(
            Table(
                id=t["id"],
                name=t["name"],
                columns=tuple(Column(**c) for c in t["columns"]),
                pk=tuple(t["pk"]),
                autoincrement=t["autoincrement"],
                indexes=tuple(
                    Index(i["id"], i["name"], tuple(i["columns"]), i["unique"], i["implicit"])
                    for i in t["indexes"]
                ),
                foreign_keys=tuple(
                    ForeignKey(
                        tuple(f["columns"]), f["ref_table"], tuple(f["ref_columns"]), f.get("name")
                    )
                    for f in t["foreign_keys"]
                ),
                next_column_id=t["next_column_id"],
                checks=tuple(Check(c["name"], c["sql"]) for c in t.get("checks", [])),
            )
        )
    views = tuple(View(v["name"], v["sql"], tuple(v["columns"])) for v in doc.get("views", []))
    return Catalog(doc["version"], tuple(tables), doc["next_table_id"], doc["next_index_id"], views)
