"""The catalog: columns referred to by id, names derived from them, format 2 bytes, format 1
catalogs upgraded on read."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import msgpack
import pytest

import dialect
from dialect.catalog import (
    CATALOG_KEY,
    FORMAT_VERSION,
    Catalog,
    Check,
    Column,
    ForeignKey,
    Index,
    Table,
    View,
    decode_catalog,
    encode_catalog,
)


def _table() -> Table:
    return Table(
        1,
        "t",
        (Column(1, "id", "INTEGER", "INTEGER"), Column(2, "a", "TEXT", "TEXT")),
        (1,),
        True,
        (Index(1, "t_a", (2,), False),),
        (ForeignKey((2,), "p", ("x",), "fk"),),
        3,
        (Check("pos", "a > ''", (2,)),),
    )


def _column(cid: int, name: str, type_: str) -> dict[str, Any]:  # Any: msgpack values
    return {
        "id": cid,
        "name": name,
        "type": type_,
        "declared": type_,
        "not_null": False,
        "default_sql": None,
        "length": None,
        "precision": None,
        "scale": None,
        "hidden": False,
    }


FORMAT_2_DOC = {
    "version": 3,
    "tables": [
        {
            "id": 1,
            "name": "t",
            "columns": [_column(1, "id", "INTEGER"), _column(2, "a", "TEXT")],
            "key_ids": [1],
            "autoincrement": True,
            "indexes": [
                {"id": 1, "name": "t_a", "column_ids": [2], "unique": False, "implicit": False}
            ],
            "foreign_keys": [
                {"column_ids": [2], "ref_table": "p", "ref_columns": ["x"], "name": "fk"}
            ],
            "next_column_id": 3,
            "checks": [{"name": "pos", "sql": "a > ''", "column_ids": [2]}],
        }
    ],
    "next_table_id": 2,
    "next_index_id": 2,
    "views": [{"name": "v", "sql": "SELECT a FROM t", "columns": []}],
}


def test_format_2_bytes() -> None:
    catalog = Catalog(3, (_table(),), 2, 2, (View("v", "SELECT a FROM t"),))
    data = encode_catalog(catalog)
    assert FORMAT_VERSION == 2
    assert data == msgpack.packb([2, FORMAT_2_DOC], use_bin_type=True)
    assert decode_catalog(data) == catalog


def test_names_are_derived_from_ids() -> None:
    table = _table()
    assert table.pk == ("id",)
    assert table.indexes[0].columns == ("a",)
    assert table.foreign_keys[0].columns == ("a",)
    renamed = replace(
        table, columns=(table.columns[0], replace(table.columns[1], name="b b"))
    )  # any rebuilt table derives its names again
    assert renamed.indexes[0].columns == ("b b",)
    assert renamed.foreign_keys[0].columns == ("b b",)
    assert renamed.checks[0].sql == "\"b b\" > ''"
    assert renamed.pk_columns == (table.columns[0],)
    with pytest.raises(ValueError, match="no column"):
        replace(table, key_ids=(9,))


def _format_1(checks: list[dict[str, Any]], a_type: str = "TEXT") -> bytes:  # Any: msgpack
    table = {
        "id": 1,
        "name": "t",
        "columns": [_column(1, "id", "INTEGER"), _column(2, "A", a_type)],
        "pk": ["ID"],
        "autoincrement": True,
        "indexes": [{"id": 1, "name": "t_a", "columns": ["a"], "unique": True, "implicit": True}],
        "foreign_keys": [{"columns": ["a"], "ref_table": "p", "ref_columns": ["x"], "name": None}],
        "next_column_id": 3,
        "checks": checks,
    }
    doc = {"version": 4, "tables": [table], "next_table_id": 2, "next_index_id": 2, "views": []}
    out: bytes = msgpack.packb([1, doc], use_bin_type=True)
    return out


def test_format_1_is_upgraded_on_read() -> None:
    catalog = decode_catalog(
        _format_1([{"name": None, "sql": "a > 0"}, {"name": "old", "sql": "gone > 0"}])
    )
    table = catalog.tables[0]
    assert table.key_ids == (1,) and table.pk == ("id",)
    assert table.indexes[0].column_ids == (2,) and table.indexes[0].columns == ("A",)
    assert table.foreign_keys[0].column_ids == (2,)
    assert table.checks[0] == Check(None, "A > 0", (2,))
    # a CHECK left naming a renamed column by format 1 keeps its text (and still fails)
    assert table.checks[1] == Check("old", "gone > 0", (0,))
    assert decode_catalog(encode_catalog(catalog)) == catalog


def test_format_1_with_an_untyped_key_column_is_refused() -> None:
    # format 1 encoded the numbers of untyped key columns by Python type; format 2 by value
    with pytest.raises(ValueError, match=r"catalog format 1: column t\.a has no type"):
        decode_catalog(_format_1([], a_type="ANY"))


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format 9"):
        decode_catalog(msgpack.packb([9, {}]))


def test_database_with_a_format_1_catalog_works() -> None:
    conn = dialect.connect(f"memory://{uuid.uuid4().hex}", autocommit=True)
    try:
        with conn._database.db.transaction() as txn:
            txn.put(CATALOG_KEY, _format_1([{"name": None, "sql": "length(a) > 0"}]))
        conn.execute("INSERT INTO t (id, a) VALUES (1, 'x')")
        with pytest.raises(dialect.IntegrityError):
            conn.execute("INSERT INTO t (id, a) VALUES (2, '')")
        conn.execute("ALTER TABLE t RENAME COLUMN a TO b")
        conn.execute("INSERT INTO t (id, b) VALUES (3, 'y')")
        assert conn.execute("SELECT id, b FROM t WHERE b >= 'x'").fetchall() == [(1, "x"), (3, "y")]
        data = conn._database.db.transaction().get(CATALOG_KEY)
        assert data is not None and msgpack.unpackb(data)[0] == 2
    finally:
        conn.close()
