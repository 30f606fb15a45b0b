"""The catalog's stored form (docs/sql-format.md#catalog): format versions."""

from __future__ import annotations

import uuid

import msgpack
import pytest

import dialect
from dialect.catalog import FORMAT_VERSION, Catalog, decode_catalog, encode_catalog


def catalog_of(*statements: str) -> Catalog:
    conn = dialect.connect(f"memory://{uuid.uuid4().hex}")
    for sql in statements:
        conn.execute(sql)
    catalog: Catalog = conn.catalog
    conn.close()
    return catalog


def as_version_1(catalog: Catalog) -> bytes:
    version, doc = msgpack.unpackb(encode_catalog(catalog), raw=False)
    assert version == FORMAT_VERSION == 2
    out: bytes = msgpack.packb([1, doc], use_bin_type=True)
    return out


def test_round_trip() -> None:
    catalog = catalog_of("CREATE TABLE t (a PRIMARY KEY, b INT UNIQUE)")
    assert decode_catalog(encode_catalog(catalog)) == catalog


def test_version_1_reads_when_no_key_holds_an_untyped_column() -> None:
    catalog = catalog_of(
        "CREATE TABLE t (a INTEGER PRIMARY KEY, b, c TEXT)", "CREATE INDEX i ON t (c)"
    )
    assert decode_catalog(as_version_1(catalog)) == catalog


@pytest.mark.parametrize(
    "statements",
    [
        ["CREATE TABLE t (a PRIMARY KEY, b INT)"],
        ["CREATE TABLE t (a INT PRIMARY KEY, b)", "CREATE INDEX i ON t (b)"],
        ["CREATE TABLE t (a INT PRIMARY KEY, b UNIQUE)"],
    ],
)
def test_version_1_with_an_untyped_key_column_is_refused(statements: list[str]) -> None:
    data = as_version_1(catalog_of(*statements))
    with pytest.raises(ValueError, match=r"catalog format 1: column t\.(a|b) has no type"):
        decode_catalog(data)


def test_unknown_versions_are_refused() -> None:
    with pytest.raises(ValueError, match="catalog format 3"):
        decode_catalog(msgpack.packb([3, {}]))
