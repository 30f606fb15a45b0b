"""Transactional DDL: a schema change commits or rolls back with the transaction it runs in
(sqlite3, which has transactional DDL, as the oracle)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import dialect
from tests.dialect.oracle import Pair, both, both_fail, open_pair


@pytest.fixture
def pair() -> Iterator[Pair]:
    with open_pair(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b')",
    ) as p:
        yield p


def test_rollback_undoes_create_table_and_its_rows(pair: Pair) -> None:
    both(pair, "BEGIN")
    both(pair, "CREATE TABLE u (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
    both(pair, "INSERT INTO u VALUES (1, 'x')")
    both(pair, "SELECT * FROM u")
    both(pair, "ROLLBACK")
    both_fail(pair, "SELECT * FROM u", "no such table")
    both(pair, "CREATE TABLE u (id INTEGER PRIMARY KEY, w INT)")  # the name is free again
    both(pair, "INSERT INTO u VALUES (1, 5)")
    both(pair, "COMMIT")
    both(pair, "SELECT * FROM u")


def test_rollback_undoes_add_and_drop_column_and_rename(pair: Pair) -> None:
    both(pair, "BEGIN")
    both(pair, "ALTER TABLE t ADD COLUMN n INT DEFAULT 7")
    both(pair, "UPDATE t SET n = id * 10")
    both(pair, "ALTER TABLE t DROP COLUMN name")
    both(pair, "ALTER TABLE t RENAME TO t2")
    both(pair, "SELECT * FROM t2 ORDER BY id")
    both(pair, "ROLLBACK")
    both(pair, "SELECT * FROM t ORDER BY id")
    both_fail(pair, "SELECT * FROM t2", "no such table")


def test_rollback_undoes_drop_table_and_drop_index(pair: Pair) -> None:
    both(pair, "CREATE INDEX ix_name ON t (name)")
    for db in pair:
        db.commit()
    both(pair, "BEGIN")
    both(pair, "DROP INDEX ix_name")
    both(pair, "DROP TABLE t")
    both_fail(pair, "SELECT * FROM t", "no such table")
    both(pair, "ROLLBACK")
    both(pair, "SELECT * FROM t WHERE name = 'b'")
    plan = pair[1].execute("EXPLAIN SELECT id FROM t WHERE name = 'b'").fetchall()
    assert "ix_name" in str(plan)


def test_commit_keeps_schema_changes_and_rows(pair: Pair) -> None:
    both(pair, "BEGIN")
    both(pair, "CREATE TABLE u AS SELECT id, name FROM t")
    both(pair, "ALTER TABLE t ADD COLUMN n INT")
    both(pair, "CREATE UNIQUE INDEX ix_u ON u (name)")
    both(pair, "INSERT INTO t VALUES (3, 'c', 30)")
    both(pair, "COMMIT")
    both(pair, "SELECT * FROM t ORDER BY id")
    both(pair, "SELECT * FROM u ORDER BY id")
    both_fail(pair, "INSERT INTO u VALUES (9, 'a')", "UNIQUE")


def test_rollback_to_savepoint_undoes_later_schema_changes_only(pair: Pair) -> None:
    both(pair, "BEGIN")
    both(pair, "CREATE TABLE keep (a INT)")
    both(pair, "SAVEPOINT s")
    both(pair, "SELECT * FROM t ORDER BY id")  # planned before the change
    both(pair, "ALTER TABLE t ADD COLUMN n INT DEFAULT 1")
    both(pair, "CREATE TABLE gone (a INT)")
    both(pair, "SELECT * FROM t ORDER BY id")
    both(pair, "ROLLBACK TO s")
    both(pair, "SELECT * FROM t ORDER BY id")  # no stale plan with column n
    both_fail(pair, "SELECT * FROM gone", "no such table")
    both(pair, "SELECT * FROM keep")
    both(pair, "ALTER TABLE t ADD COLUMN m TEXT DEFAULT 'z'")  # the catalog goes on from here
    both(pair, "RELEASE s")
    both(pair, "COMMIT")
    both(pair, "SELECT * FROM t ORDER BY id")
    both(pair, "SELECT * FROM keep")


def test_a_failed_schema_change_undoes_only_itself(pair: Pair) -> None:
    both(pair, "BEGIN")
    both(pair, "INSERT INTO t VALUES (3, 'b')")
    both(pair, "CREATE TABLE u (a INT)")
    both_fail(pair, "CREATE UNIQUE INDEX ix ON t (name)", "UNIQUE")
    both(pair, "SELECT * FROM u")
    both(pair, "COMMIT")
    both(pair, "SELECT * FROM t ORDER BY id")
    both(pair, "SELECT * FROM u")


def test_a_failed_create_table_as_leaves_no_table() -> None:
    with open_pair("CREATE TABLE t (a INT)", "INSERT INTO t VALUES (1), (2)") as pair:
        strata = pair[1]
        strata.execute("CREATE TABLE ok (a INT)")
        with pytest.raises(dialect.Error):
            strata.execute("CREATE TABLE u AS SELECT 1 / (a - 2) + nosuch FROM t")
        assert strata.catalog.table("u") is None
        assert strata.catalog.table("ok") is not None


def _two() -> tuple[dialect.Connection, dialect.Connection]:
    url = f"memory://{uuid.uuid4().hex}"
    a, b = dialect.connect(url), dialect.connect(url)
    a.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INT)")
    a.commit()
    return a, b


def test_a_concurrent_schema_change_conflicts_at_commit() -> None:
    a, b = _two()
    a.execute("INSERT INTO t VALUES (1, 1)")
    a.execute("ALTER TABLE t ADD COLUMN x INT")
    b.execute("CREATE TABLE other (a INT)")
    assert b.catalog.table("t") is not None and b.catalog.table("t").column("x") is None  # type: ignore[union-attr]
    b.commit()
    with pytest.raises(dialect.ConflictError):
        a.commit()
    a.execute("SELECT * FROM t").fetchall()
    assert a.execute("SELECT * FROM t").fetchall() == []
    assert a.catalog.table("other") is not None
    assert a.catalog.table("t").column("x") is None  # type: ignore[union-attr]


def test_a_transaction_of_schema_changes_only_is_run_again() -> None:
    a, b = _two()
    a.execute("ALTER TABLE t ADD COLUMN x INT")
    a.execute("CREATE INDEX ix_v ON t (v)")
    b.execute("ALTER TABLE t ADD COLUMN y INT")
    b.commit()
    a.commit()  # lost to b, run again from b's schema
    table = a.catalog.table("t")
    assert table is not None
    assert [c.name for c in table.visible_columns] == ["id", "v", "y", "x"]
    assert [i.name for i in table.indexes] == ["ix_v"]


def test_a_schema_change_after_a_query_is_not_run_again() -> None:
    a, b = _two()
    a.execute("SELECT * FROM t").fetchall()
    a.execute("ALTER TABLE t ADD COLUMN x INT")
    b.execute("ALTER TABLE t ADD COLUMN y INT")
    b.commit()
    with pytest.raises(dialect.ConflictError):
        a.commit()


def test_autocommit_schema_change_commits_at_once() -> None:
    a, b = _two()
    a.autocommit = True
    a.execute("ALTER TABLE t ADD COLUMN x INT")
    b.rollback()
    assert b.catalog.table("t").column("x") is not None  # type: ignore[union-attr]


def test_drop_and_create_again_in_one_transaction(pair: Pair) -> None:
    # pandas' to_sql(if_exists="replace"): generated ids are reserved by commits of their own,
    # which must not conflict with the DROP TABLE
    both(pair, "BEGIN")
    both(pair, "INSERT INTO t (name) VALUES ('c')")
    both(pair, "DROP TABLE t")
    both(pair, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    pair[0].execute("INSERT INTO t (name) VALUES ('d')")
    pair[1].execute("INSERT INTO t (name) VALUES ('d')")
    both(pair, "COMMIT")
    both(pair, "SELECT name FROM t")
