"""Temporary tables, views and indexes (dialect/temp.py): SQLite's semantics, with sqlite3 as
the oracle, private to their connection, gone when it closes, never stored."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
import sqlalchemy as sa

import dialect
from tests.dialect.oracle import Pair, both, both_fail, open_pair


def test_create_insert_select_update_delete() -> None:
    with open_pair("CREATE TABLE s (a INT)", "INSERT INTO s VALUES (1), (2)") as pair:
        both(pair, "CREATE TEMP TABLE t (id INTEGER PRIMARY KEY, b TEXT UNIQUE, c INT)")
        both(pair, "INSERT INTO t (b, c) VALUES ('x', 1), ('y', 2), ('z', 3)")
        both(pair, "SELECT * FROM t ORDER BY id")
        both(pair, "UPDATE t SET c = c * 10 WHERE b <> 'y'")
        both(pair, "DELETE FROM t WHERE b = 'z'")
        both(pair, "SELECT t.b, s.a FROM t JOIN s ON s.a = t.id ORDER BY 1")
        both_fail(pair, "INSERT INTO t (b) VALUES ('x')", "UNIQUE")
        both(pair, "CREATE INDEX ix_c ON t (c)")
        both(pair, "SELECT b FROM t WHERE c = 10")
        both(pair, "DROP INDEX ix_c")
        both(pair, "SELECT count(*) FROM t")
        both(pair, "DROP TABLE t")
        both_fail(pair, "SELECT * FROM t", "no such table")


def test_create_as_select_and_views() -> None:
    with open_pair(
        "CREATE TABLE s (a INT, b TEXT)", "INSERT INTO s VALUES (1, 'p'), (2, 'q')"
    ) as p:
        both(p, "CREATE TEMPORARY TABLE c AS SELECT a * 2 AS d, b FROM s")
        both(p, "SELECT * FROM c ORDER BY d")
        both(p, "CREATE TEMP VIEW v AS SELECT d + 1 AS e FROM c")
        both(p, "SELECT * FROM v ORDER BY e")
        both(p, "DROP VIEW v")
        both_fail(p, "SELECT * FROM v", "no such table")
        both(p, "CREATE TEMP TABLE IF NOT EXISTS c (x INT)")
        both_fail(p, "CREATE TEMP TABLE c (x INT)", "already exists")


def test_temp_shadows_stored_table_of_the_same_name() -> None:
    with open_pair("CREATE TABLE s (a INT)", "INSERT INTO s VALUES (1)") as pair:
        both(pair, "CREATE TEMP TABLE s (z INT)")
        both(pair, "INSERT INTO s VALUES (7)")
        both(pair, "SELECT * FROM s")
        both(pair, "SELECT * FROM main.s")
        both(pair, "SELECT * FROM temp.s")
        both(pair, "INSERT INTO main.s VALUES (2)")
        both(pair, "SELECT * FROM main.s ORDER BY a")
        both(pair, "DROP TABLE s")  # the temporary one
        both(pair, "SELECT * FROM s ORDER BY a")


def _pair_no_autocommit() -> tuple[sqlite3.Connection, dialect.Connection]:
    oracle = sqlite3.connect(":memory:", isolation_level=None)
    strata = dialect.connect(f"memory://{uuid.uuid4().hex}")
    return oracle, strata


def test_rows_and_schema_roll_back_with_the_transaction() -> None:
    oracle, strata = _pair_no_autocommit()
    pair: Pair = (oracle, strata)
    try:
        oracle.execute("BEGIN")
        both(pair, "CREATE TEMP TABLE t (a INT)")
        both(pair, "INSERT INTO t VALUES (1)")
        oracle.execute("COMMIT")
        strata.commit()
        oracle.execute("BEGIN")
        both(pair, "INSERT INTO t VALUES (2)")
        both(pair, "SAVEPOINT sp")
        both(pair, "INSERT INTO t VALUES (3)")
        both(pair, "CREATE TEMP TABLE u (b INT)")
        both(pair, "ROLLBACK TO sp")
        both_fail(pair, "SELECT * FROM u", "no such table")
        both(pair, "SELECT * FROM t ORDER BY a")
        both(pair, "RELEASE sp")
        oracle.execute("ROLLBACK")
        strata.rollback()
        both(pair, "SELECT * FROM t ORDER BY a")
        oracle.execute("BEGIN")
        both(pair, "DROP TABLE t")
        oracle.execute("ROLLBACK")
        strata.rollback()
        both(pair, "SELECT * FROM t ORDER BY a")  # the drop was undone
    finally:
        oracle.close()
        strata.close()


def test_private_to_the_connection_and_gone_when_it_closes() -> None:
    url = f"memory://{uuid.uuid4().hex}"
    first = dialect.connect(url)
    other = dialect.connect(url)
    first.execute("CREATE TEMP TABLE t (a INT)")
    first.execute("INSERT INTO t VALUES (1)")
    first.commit()
    with pytest.raises(dialect.ProgrammingError, match="no such table"):
        other.execute("SELECT * FROM t")
    other.execute("CREATE TEMP TABLE t (b TEXT)")  # its own, no clash
    other.execute("INSERT INTO t VALUES ('x')")
    assert first.execute("SELECT * FROM t").fetchall() == [(1,)]
    assert other.execute("SELECT * FROM t").fetchall() == [("x",)]
    assert first.catalog.table("t") is not None
    assert other.catalog.table("t").columns[0].name == "b"  # type: ignore[union-attr]
    first.close()
    again = dialect.connect(url)
    with pytest.raises(dialect.ProgrammingError, match="no such table"):
        again.execute("SELECT * FROM t")
    assert again.catalog.tables == ()  # nothing of either reached the stored catalog
    again.close()
    other.close()


def test_stored_schema_changes_keep_temp_tables() -> None:
    with dialect.connect(f"memory://{uuid.uuid4().hex}") as conn:
        conn.execute("CREATE TEMP TABLE t (a INT)")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("CREATE TABLE s (a INT)")  # in the same transaction: it stores s only
        conn.execute("CREATE INDEX ix_s ON s (a)")
        conn.commit()
        conn.execute("INSERT INTO s SELECT a FROM t")
        conn.execute("ALTER TABLE s ADD COLUMN b TEXT")
        assert conn.execute("SELECT a FROM s").fetchall() == [(1,)]
        conn.rollback()
        assert conn.execute("SELECT * FROM t").fetchall() == [(1,)]
        assert conn.execute("SELECT * FROM s").fetchall() == []
        assert [t.name for t in conn._database.read_catalog().tables] == ["s"]
        conn.execute("CREATE TABLE u (a INT)")
        conn.rollback()  # the stored table goes, the temporary one stays
        assert conn.execute("SELECT * FROM t").fetchall() == [(1,)]
        assert [t.name for t in conn._database.read_catalog().tables] == ["s"]


def test_temp_tables_make_no_object_store_request() -> None:
    conn = dialect.connect(f"memory://{uuid.uuid4().hex}", max_staleness_ms=60_000)
    conn.execute("CREATE TABLE s (a INT)")
    conn.commit()
    before = conn.stats()["requests"]
    conn.execute("CREATE TEMP TABLE t (id INTEGER PRIMARY KEY, b TEXT)")
    conn.execute("CREATE INDEX ix ON t (b)")
    conn.cursor().executemany("INSERT INTO t (b) VALUES (?)", [("x",), ("y",)] * 50)
    conn.commit()
    conn.execute("CREATE TEMP TABLE c AS SELECT b FROM t WHERE id < 10")
    conn.execute("UPDATE t SET b = 'z' WHERE id > 90")
    assert conn.execute("SELECT count(*) FROM t WHERE b = 'z'").fetchall() == [(10,)]
    conn.execute("DROP TABLE t")
    conn.commit()
    assert conn.stats()["requests"] == before
    conn.close()


def test_alter_of_a_temp_table_is_refused() -> None:
    with dialect.connect(f"memory://{uuid.uuid4().hex}") as conn:
        conn.execute("CREATE TEMP TABLE t (a INT)")
        with pytest.raises(dialect.NotSupportedError, match="temporary"):
            conn.execute("ALTER TABLE t ADD COLUMN b INT")


def test_sqlalchemy_temporary_table() -> None:
    engine = sa.create_engine(f"strata+memory://{uuid.uuid4().hex}")
    meta = sa.MetaData()
    tmp = sa.Table(
        "tmp",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(20)),
        prefixes=["TEMPORARY"],
    )
    with engine.connect() as conn:
        tmp.create(conn)
        conn.execute(tmp.insert(), [{"name": "a"}, {"name": "b"}])
        assert conn.execute(sa.select(tmp.c.name).order_by(tmp.c.id)).scalars().all() == [
            "a",
            "b",
        ]
        insp = sa.inspect(conn)
        assert insp.has_table("tmp")
        assert insp.get_temp_table_names() == ["tmp"]
        assert insp.get_table_names() == []
        assert [c["name"] for c in insp.get_columns("tmp")] == ["id", "name"]
        conn.commit()
    engine.dispose()  # closes the pooled connection, and its temporary table with it
    with engine.connect() as other:
        assert not sa.inspect(other).has_table("tmp")
    engine.dispose()


def test_a_read_only_connection_may_use_temp_tables() -> None:
    url = f"memory://{uuid.uuid4().hex}"
    with dialect.connect(url) as writer:
        writer.execute("CREATE TABLE s (a INT)")
        writer.execute("INSERT INTO s VALUES (1), (2)")
    reader = dialect.connect(url, read_only=True)
    reader.execute("CREATE TEMP TABLE t AS SELECT a * 10 AS b FROM s")
    reader.execute("INSERT INTO t VALUES (30)")
    reader.execute("UPDATE t SET b = b + 1")
    assert reader.execute("SELECT b FROM t ORDER BY b").fetchall() == [(11,), (21,), (31,)]
    with pytest.raises(dialect.OperationalError, match="readonly"):
        reader.execute("INSERT INTO s VALUES (3)")
    with pytest.raises(dialect.OperationalError, match="readonly"):
        reader.execute("CREATE TABLE u (a INT)")
    reader.close()


def test_ids_go_on_after_a_drop_is_rolled_back() -> None:
    with dialect.connect(f"memory://{uuid.uuid4().hex}") as conn:
        conn.execute("CREATE TEMP TABLE t (id INTEGER PRIMARY KEY, b TEXT)")
        conn.execute("INSERT INTO t (b) VALUES ('x'), ('y')")
        conn.commit()
        conn.execute("DROP TABLE t")
        conn.rollback()
        conn.execute("INSERT INTO t (b) VALUES ('z')")
        assert conn.execute("SELECT b FROM t ORDER BY id").fetchall() == [("x",), ("y",), ("z",)]


def test_a_stored_view_reads_stored_tables_only() -> None:
    with open_pair("CREATE TABLE s (a INT)", "INSERT INTO s VALUES (5)") as pair:
        both(pair, "CREATE TEMP TABLE tt (a INT)")
        both(pair, "CREATE TEMP TABLE s (a INT)")  # shadows the stored s for the connection
        both(pair, "INSERT INTO tt VALUES (1)")
        both(pair, "CREATE VIEW v AS SELECT a + 1 AS b FROM tt")  # accepted, as in SQLite
        both_fail(pair, "SELECT * FROM v", "no such table")
        both(pair, "CREATE VIEW w AS WITH tt AS (SELECT a FROM s) SELECT a FROM tt")
        both(pair, "SELECT * FROM w")  # the stored s, and the CTE named tt
        both(pair, "CREATE TEMP VIEW tv AS SELECT a FROM tt")  # a temporary view may
        both(pair, "SELECT * FROM tv")


def test_a_failed_statement_leaves_no_temp_row() -> None:
    with open_pair() as pair:
        both(pair, "CREATE TEMP TABLE t (a INT PRIMARY KEY, b TEXT UNIQUE)")
        both(pair, "CREATE INDEX ix_b ON t (b)")
        both(pair, "INSERT INTO t VALUES (1, 'x')")
        both_fail(pair, "INSERT INTO t VALUES (2, 'y'), (3, 'x')", "UNIQUE")
        both(pair, "INSERT INTO t VALUES (2, 'y')")
        both_fail(pair, "UPDATE t SET b = 'x' WHERE a = 2", "UNIQUE")
        both(pair, "SELECT * FROM t ORDER BY a")
        both(pair, "SELECT a FROM t WHERE b = 'y'")


@pytest.mark.parametrize("options", [{"autocommit": True}, {"durable": False}])
def test_autocommit_and_non_durable_connections(options: dict[str, bool]) -> None:
    conn = dialect.connect(f"memory://{uuid.uuid4().hex}", **options)
    conn.execute("CREATE TEMP TABLE t (a INT)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.execute("INSERT INTO t VALUES (2)")
    conn.rollback()
    expected = [(1,), (2,)] if options.get("autocommit") else [(1,)]
    assert conn.execute("SELECT a FROM t ORDER BY a").fetchall() == expected
    conn.close()
