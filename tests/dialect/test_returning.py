"""RETURNING on INSERT, UPDATE and DELETE, compared with sqlite3 (SQLite ≥ 3.35)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import dialect

Pair = tuple[sqlite3.Connection, dialect.Connection]


@pytest.fixture
def pair() -> Iterator[Pair]:
    oracle = sqlite3.connect(":memory:")
    strata = dialect.connect(f"memory://{uuid.uuid4().hex}")
    for sql in (
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INT DEFAULT 7)",
        "INSERT INTO t (name, n) VALUES ('a', 1), ('b', 2), ('c', 3)",
    ):
        oracle.execute(sql)
        strata.execute(sql)
    yield oracle, strata
    oracle.close()
    strata.close()


def both(pair: Pair, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run ``sql`` on both; Strata's rows, after checking they and the row counts are
    sqlite's (sqlite3 sets ``rowcount`` once the rows are fetched; Strata when it runs)."""
    oracle, strata = pair
    expected_cur = oracle.execute(sql, params)
    expected = expected_cur.fetchall()
    cur = strata.execute(sql, params)
    assert cur.description is not None, sql
    assert cur.rowcount == expected_cur.rowcount, sql
    got = cur.fetchall()
    assert got == expected, sql
    assert cur.rowcount == expected_cur.rowcount, sql
    assert strata.execute("SELECT * FROM t ORDER BY id").fetchall() == (
        oracle.execute("SELECT * FROM t ORDER BY id").fetchall()
    )
    return got


def test_insert_returning_columns_star_and_expressions(pair: Pair) -> None:
    assert both(pair, "INSERT INTO t (name) VALUES ('d') RETURNING id, n") == [(4, 7)]
    assert both(pair, "INSERT INTO t (name, n) VALUES (?, ?), (?, ?) RETURNING *", "e", 5, "f", 6)
    assert both(pair, "INSERT INTO t (name) VALUES ('g') RETURNING n * 2 AS twice, upper(name)")


def test_insert_returning_sets_lastrowid(pair: Pair) -> None:
    oracle, strata = pair
    cur = strata.execute("INSERT INTO t (name) VALUES ('d'), ('e') RETURNING id")
    assert cur.fetchall() == [(4,), (5,)]
    assert cur.lastrowid == oracle.execute("INSERT INTO t (name) VALUES ('x'), ('y')").lastrowid


def test_insert_select_returning(pair: Pair) -> None:
    both(pair, "INSERT INTO t (name, n) SELECT name || '2', n + 10 FROM t RETURNING id, name, n")


def test_update_returning(pair: Pair) -> None:
    both(pair, "UPDATE t SET n = n + 1 WHERE n >= 2 RETURNING id, n")
    both(pair, "UPDATE t SET name = 'z' WHERE id = 1 RETURNING *")
    assert both(pair, "UPDATE t SET n = 0 WHERE id = 99 RETURNING id") == []


def test_delete_returning(pair: Pair) -> None:
    both(pair, "DELETE FROM t WHERE n > 1 RETURNING name, n")
    both(pair, "DELETE FROM t RETURNING *")


def test_returning_qualified_columns(pair: Pair) -> None:
    both(pair, "UPDATE t SET n = 5 WHERE id = 2 RETURNING t.id, t.n")


def test_insert_or_ignore_returns_only_rows_written(pair: Pair) -> None:
    both(pair, "INSERT OR IGNORE INTO t (id, name) VALUES (1, 'x'), (9, 'y') RETURNING id, name")


def test_returning_description(pair: Pair) -> None:
    _, strata = pair
    cur = strata.execute("INSERT INTO t (name) VALUES ('d') RETURNING id, n AS count, *")
    assert [d[0] for d in cur.description or ()] == ["id", "count", "id", "name", "n"]


def test_returning_with_repeated_parameter_rows(pair: Pair) -> None:
    rows = [f"r{i}" for i in range(20)]
    sql = "INSERT INTO t (name) VALUES " + ", ".join(["(?)"] * len(rows)) + " RETURNING id, name"
    both(pair, sql, *rows)


def test_write_fails_before_any_row_is_returned(pair: Pair) -> None:
    _, strata = pair
    with pytest.raises(dialect.IntegrityError):
        strata.execute("INSERT INTO t (id, name) VALUES (10, 'x'), (1, 'y') RETURNING id")
    assert strata.execute("SELECT id FROM t WHERE id = 10").fetchall() == []  # as in sqlite


def test_aggregates_in_returning_are_refused(pair: Pair) -> None:
    _, strata = pair
    with pytest.raises(dialect.ProgrammingError, match="aggregate"):
        strata.execute("DELETE FROM t RETURNING count(*)")


def test_explain_shows_returning(pair: Pair) -> None:
    _, strata = pair
    lines = [r[1] for r in strata.execute("EXPLAIN DELETE FROM t RETURNING id").fetchall()]
    assert lines[0].startswith("RETURNING id")
    assert "DELETE" in lines[1]
    assert strata.execute("SELECT count(*) FROM t").fetchone() == (3,)
