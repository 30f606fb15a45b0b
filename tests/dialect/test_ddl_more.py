"""CREATE TABLE … AS SELECT and ALTER TABLE … DROP COLUMN, compared with sqlite3."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

import dialect
from tests.dialect.oracle import both, both_fail, open_pair

Pair = tuple[sqlite3.Connection, dialect.Connection]


@pytest.fixture
def pair() -> Iterator[Pair]:
    with open_pair() as pair:
        yield pair


def refused(pair: Pair, sql: str) -> str:
    """Run ``sql`` on both; both refuse it with OperationalError and the same message."""
    oracle, strata = pair
    with pytest.raises(sqlite3.OperationalError) as expected:
        oracle.execute(sql)
    with pytest.raises(dialect.OperationalError) as got:
        strata.execute(sql)
    assert str(got.value) == str(expected.value), sql
    return str(got.value)


def names(pair: Pair, table: str) -> list[str]:
    """The column names of ``SELECT *`` from ``table``, checked equal on both."""
    oracle, strata = pair
    expected = [d[0] for d in oracle.execute(f"SELECT * FROM {table}").description]
    got = [d[0] for d in strata.execute(f"SELECT * FROM {table}").description]
    assert got == expected
    return got


@pytest.fixture
def loaded(pair: Pair) -> Pair:
    both(pair, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL)")
    both(pair, "CREATE TABLE c (id INTEGER PRIMARY KEY, t_id INTEGER, note TEXT)")
    for row in [(1, "a", 3, 1.5), (2, "b", None, 2.0), (3, "a", 5, 0.5)]:
        both(pair, "INSERT INTO t VALUES (?, ?, ?, ?)", *row)
    for row in [(1, 1, "x"), (2, 1, "y"), (3, 3, None)]:
        both(pair, "INSERT INTO c VALUES (?, ?, ?)", *row)
    return pair


# -- CREATE TABLE … AS SELECT ------------------------------------------------------------------


def test_ctas_copies_columns_and_rows(loaded: Pair) -> None:
    both(loaded, "CREATE TABLE u AS SELECT * FROM t")
    assert names(loaded, "u") == ["id", "name", "qty", "price"]
    both(loaded, "SELECT * FROM u ORDER BY id")
    # no constraints: the copied key is an ordinary column
    both(loaded, "INSERT INTO u VALUES (1, NULL, NULL, NULL)")
    both(loaded, "SELECT count(*), count(DISTINCT id) FROM u")


def test_ctas_with_expressions_and_parameters(loaded: Pair) -> None:
    both(
        loaded,
        "CREATE TABLE u AS SELECT id, qty * 2 AS dbl, name || '!' AS shout, ? AS tag "
        "FROM t WHERE price > ?",
        "k",
        0.75,
    )
    assert names(loaded, "u") == ["id", "dbl", "shout", "tag"]
    both(loaded, "SELECT * FROM u ORDER BY id")


def test_ctas_types_follow_plain_columns(loaded: Pair) -> None:
    strata = loaded[1]
    strata.execute("CREATE TABLE u AS SELECT id, name, price, qty + 1 AS q FROM t")
    table = strata.catalog.table("u")
    assert table is not None
    assert [(c.name, c.type) for c in table.visible_columns] == [
        ("id", "INTEGER"),
        ("name", "TEXT"),
        ("price", "REAL"),
        ("q", "ANY"),
    ]
    assert table.pk == ("_rowid_",) and table.indexes == () and table.checks == ()


def test_ctas_aggregates(loaded: Pair) -> None:
    both(
        loaded,
        "CREATE TABLE s AS SELECT name, count(*) AS n, sum(qty) AS total FROM t GROUP BY name",
    )
    assert names(loaded, "s") == ["name", "n", "total"]
    both(loaded, "SELECT * FROM s ORDER BY name")


def test_ctas_join(loaded: Pair) -> None:
    both(
        loaded,
        "CREATE TABLE j AS SELECT t.id, t.name, c.note FROM t JOIN c ON c.t_id = t.id",
    )
    both(loaded, "SELECT * FROM j ORDER BY id, note")


def test_ctas_repeated_names_are_numbered(loaded: Pair) -> None:
    both(loaded, "CREATE TABLE d AS SELECT id, id, name AS id FROM t")
    assert names(loaded, "d") == ["id", "id:1", "id:2"]
    both(loaded, "SELECT * FROM d ORDER BY 1")


def test_ctas_empty_result(loaded: Pair) -> None:
    both(loaded, "CREATE TABLE e AS SELECT id, name FROM t WHERE 0")
    assert names(loaded, "e") == ["id", "name"]
    both(loaded, "SELECT * FROM e")
    both(loaded, "INSERT INTO e VALUES (9, 'z')")
    both(loaded, "SELECT * FROM e")


def test_ctas_if_not_exists(loaded: Pair) -> None:
    both(loaded, "CREATE TABLE u AS SELECT id FROM t")
    both(loaded, "CREATE TABLE IF NOT EXISTS u AS SELECT name FROM t")
    assert names(loaded, "u") == ["id"]
    both(loaded, "SELECT * FROM u ORDER BY id")
    with pytest.raises(dialect.ProgrammingError, match="already exists"):
        loaded[1].execute("CREATE TABLE u AS SELECT 1")


def test_ctas_reads_and_rolls_back_with_the_open_transaction(loaded: Pair) -> None:
    for db in loaded:
        db.commit()
    both(loaded, "BEGIN")
    both(loaded, "INSERT INTO t VALUES (4, 'd', 1, 1.0)")
    both(loaded, "CREATE TABLE u AS SELECT id FROM t")  # sees the transaction's own insert
    both(loaded, "SELECT count(*) FROM u")
    both(loaded, "ROLLBACK")
    both_fail(loaded, "SELECT count(*) FROM u", "no such table")
    both(loaded, "SELECT count(*) FROM t")


def test_ctas_refusals(loaded: Pair) -> None:
    strata = loaded[1]
    with pytest.raises(dialect.NotSupportedError, match="columns"):
        strata.execute("CREATE TABLE x (a) AS SELECT 1")  # a syntax error in SQLite
    with pytest.raises(dialect.ProgrammingError, match="no such table"):
        strata.execute("CREATE TABLE x AS SELECT * FROM nope")
    assert strata.catalog.table("x") is None


# -- ALTER TABLE … DROP COLUMN -----------------------------------------------------------------


def test_drop_column(loaded: Pair) -> None:
    both(loaded, "ALTER TABLE t DROP COLUMN qty")
    assert names(loaded, "t") == ["id", "name", "price"]
    both(loaded, "SELECT * FROM t ORDER BY id")
    both(loaded, "INSERT INTO t VALUES (4, 'd', 9.0)")
    both(loaded, "UPDATE t SET price = price + 1 WHERE id < 3")
    both(loaded, "SELECT * FROM t ORDER BY id")


def test_drop_without_column_keyword(loaded: Pair) -> None:
    both(loaded, "ALTER TABLE t DROP price")
    assert names(loaded, "t") == ["id", "name", "qty"]


def test_dropped_values_do_not_reappear(loaded: Pair) -> None:
    both(loaded, "ALTER TABLE t DROP COLUMN qty")
    both(loaded, "ALTER TABLE t ADD COLUMN qty INTEGER")
    assert names(loaded, "t") == ["id", "name", "price", "qty"]
    both(loaded, "SELECT * FROM t ORDER BY id")
    both(loaded, "ALTER TABLE t DROP COLUMN qty")
    both(loaded, "ALTER TABLE t ADD COLUMN qty INTEGER DEFAULT 7")
    both(loaded, "INSERT INTO t (id, name) VALUES (8, 'h')")
    both(loaded, "SELECT * FROM t ORDER BY id")


def test_drop_column_then_index_and_ctas(loaded: Pair) -> None:
    both(loaded, "ALTER TABLE t DROP COLUMN qty")
    both(loaded, "CREATE INDEX ix_name ON t (name)")
    both(loaded, "SELECT id FROM t WHERE name = 'a' ORDER BY id")
    both(loaded, "CREATE TABLE u AS SELECT * FROM t")
    assert names(loaded, "u") == ["id", "name", "price"]


def test_drop_column_refusals(pair: Pair) -> None:
    both(pair, "CREATE TABLE p (id INTEGER PRIMARY KEY, u TEXT UNIQUE, k, g, h, v)")
    both(pair, "CREATE INDEX ix ON p (k)")
    both(pair, "CREATE UNIQUE INDEX ux ON p (g)")
    both(pair, "CREATE TABLE q (a, b, PRIMARY KEY (a, b))")
    both(pair, "CREATE TABLE r (a, b, c, UNIQUE (a, b))")
    both(pair, "CREATE TABLE r2 (a, b, c, CHECK (a > b))")
    both(pair, "CREATE TABLE r3 (a, b, c, FOREIGN KEY (b) REFERENCES p (id))")
    both(pair, "CREATE TABLE one (a)")
    both(pair, "CREATE VIEW vv AS SELECT v FROM p")
    refused(pair, "ALTER TABLE p DROP COLUMN id")
    refused(pair, "ALTER TABLE p DROP COLUMN u")
    refused(pair, "ALTER TABLE p DROP COLUMN k")
    refused(pair, "ALTER TABLE p DROP COLUMN g")
    refused(pair, "ALTER TABLE q DROP COLUMN b")
    refused(pair, "ALTER TABLE r DROP COLUMN a")
    refused(pair, "ALTER TABLE r2 DROP COLUMN a")
    refused(pair, "ALTER TABLE r3 DROP COLUMN b")
    refused(pair, "ALTER TABLE one DROP COLUMN a")
    refused(pair, "ALTER TABLE p DROP COLUMN nope")
    refused(pair, "ALTER TABLE p DROP COLUMN v")
    # what a refusal did not drop is still there; what is not named can go
    assert names(pair, "p") == ["id", "u", "k", "g", "h", "v"]
    both(pair, "ALTER TABLE p DROP COLUMN h")
    both(pair, "ALTER TABLE r2 DROP COLUMN c")
    assert names(pair, "r2") == ["a", "b"]
    both(pair, "DROP VIEW vv")
    both(pair, "ALTER TABLE p DROP COLUMN v")
    assert names(pair, "p") == ["id", "u", "k", "g"]


def test_drop_column_of_missing_table(mem: dialect.Connection) -> None:
    with pytest.raises(dialect.ProgrammingError, match="no such table"):
        mem.execute("ALTER TABLE nope DROP COLUMN a")
