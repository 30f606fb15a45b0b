"""INSERT … ON CONFLICT (upserts), compared with sqlite3."""

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
        "CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT UNIQUE, n INT NOT NULL DEFAULT 0,"
        " a INT, b INT, UNIQUE (a, b))",
        "INSERT INTO t VALUES (1, 'x', 1, 1, 1), (2, 'y', 2, 1, 2), (3, NULL, 3, NULL, NULL)",
    ):
        oracle.execute(sql)
        strata.execute(sql)
    yield oracle, strata
    oracle.close()
    strata.close()


def both(pair: Pair, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run ``sql`` on both: the same rows returned, row count and table afterwards (but for
    generated ids: Strata's are not consecutive, and a row that conflicts uses one up)."""
    oracle, strata = pair
    expected_cur = oracle.execute(sql, params)
    expected = expected_cur.fetchall()
    cur = strata.execute(sql, params)
    got = cur.fetchall() if cur.description is not None else []
    assert got == expected, sql
    assert cur.rowcount == expected_cur.rowcount, sql
    table = "SELECT u, n, a, b FROM t ORDER BY id"
    assert strata.execute(table).fetchall() == oracle.execute(table).fetchall(), sql
    return got


def error(pair: Pair, sql: str, kind: type[dialect.Error], *params: Any) -> None:
    """``sql`` fails on both, with the same message, and changes nothing."""
    oracle, strata = pair
    with pytest.raises(sqlite3.Error) as expected:
        oracle.execute(sql, params)
    with pytest.raises(kind, match=str(expected.value)):
        strata.execute(sql, params)
    both(pair, "SELECT 1")


def test_do_nothing_on_key_unique_and_any(pair: Pair) -> None:
    both(pair, "INSERT INTO t (id, u) VALUES (1, 'new') ON CONFLICT (id) DO NOTHING")
    both(pair, "INSERT INTO t (id, u) VALUES (9, 'x') ON CONFLICT (u) DO NOTHING")
    both(pair, "INSERT INTO t (id, u) VALUES (8, 'y'), (9, 'z') ON CONFLICT DO NOTHING")
    both(pair, "INSERT INTO t (u, a, b) VALUES ('q', 1, 2) ON CONFLICT DO NOTHING")
    both(pair, "INSERT INTO t (u, a, b) VALUES ('r', 1, 2) ON CONFLICT (b, a) DO NOTHING")


def test_do_nothing_with_another_constraint_failing(pair: Pair) -> None:
    error(
        pair,
        "INSERT INTO t (id, u) VALUES (9, 'x') ON CONFLICT (id) DO NOTHING",
        dialect.IntegrityError,
    )
    error(
        pair,
        "INSERT INTO t (u, n) VALUES ('w', NULL) ON CONFLICT DO NOTHING",
        dialect.IntegrityError,
    )


def test_do_update_with_excluded(pair: Pair) -> None:
    both(
        pair,
        "INSERT INTO t (id, u, n) VALUES (1, 'x2', 10) "
        "ON CONFLICT (id) DO UPDATE SET n = n + excluded.n, u = excluded.u",
    )
    both(
        pair,
        "INSERT INTO t (u, n) VALUES ('y', 5), ('fresh', 6) "
        "ON CONFLICT (u) DO UPDATE SET n = t.n * 100 + excluded.n",
    )


def test_do_update_where(pair: Pair) -> None:
    sql = (
        "INSERT INTO t (u, n) VALUES (?, ?) ON CONFLICT (u) DO UPDATE SET n = excluded.n "
        "WHERE excluded.n > t.n"
    )
    both(pair, sql, "x", 0)  # not greater: nothing changes, no row counted
    both(pair, sql, "x", 50)


def test_do_update_returning(pair: Pair) -> None:
    assert both(
        pair,
        "INSERT INTO t (u, n) VALUES ('x', 4), ('new', 5), ('y', 6) "
        "ON CONFLICT (u) DO UPDATE SET n = excluded.n RETURNING u, n",
    )
    assert (
        both(
            pair,
            "INSERT INTO t (u) VALUES ('x') ON CONFLICT DO NOTHING RETURNING id",
        )
        == []
    )


def test_rows_of_one_statement_conflict_with_each_other(pair: Pair) -> None:
    both(
        pair,
        "INSERT INTO t (u, n) VALUES ('k', 1), ('k', 2), ('k', 3) "
        "ON CONFLICT (u) DO UPDATE SET n = t.n + excluded.n",
    )


def test_unique_target_checked_before_the_key(pair: Pair) -> None:
    # the row conflicts on both id and u: the upsert's target (u) wins, as in SQLite
    both(pair, "INSERT INTO t (id, u, n) VALUES (1, 'x', 9) ON CONFLICT (u) DO UPDATE SET n = 9")
    error(
        pair,
        "INSERT INTO t (id, u, n) VALUES (1, 'fresh', 9) ON CONFLICT (u) DO UPDATE SET n = 9",
        dialect.IntegrityError,
    )


def test_update_that_breaks_a_constraint(pair: Pair) -> None:
    error(
        pair,
        "INSERT INTO t (u) VALUES ('x') ON CONFLICT (u) DO UPDATE SET u = 'y'",
        dialect.IntegrityError,
    )
    error(
        pair,
        "INSERT INTO t (u) VALUES ('x') ON CONFLICT (u) DO UPDATE SET n = NULL",
        dialect.IntegrityError,
    )


def test_update_can_move_the_key(pair: Pair) -> None:
    both(pair, "INSERT INTO t (u) VALUES ('x') ON CONFLICT (u) DO UPDATE SET id = 50")
    both(pair, "INSERT INTO t (u) VALUES ('after') RETURNING id")


def test_nulls_never_conflict(pair: Pair) -> None:
    both(pair, "INSERT INTO t (id, a, b) VALUES (7, NULL, NULL) ON CONFLICT (a, b) DO NOTHING")


def test_target_must_match_a_constraint(pair: Pair) -> None:
    error(
        pair,
        "INSERT INTO t (u) VALUES ('x') ON CONFLICT (n) DO NOTHING",
        dialect.OperationalError,
    )
    error(
        pair,
        "INSERT INTO t (u) VALUES ('x') ON CONFLICT (a) DO NOTHING",
        dialect.OperationalError,
    )


def test_target_on_a_unique_index(pair: Pair) -> None:
    both(pair, "CREATE UNIQUE INDEX t_n ON t (n)")
    both(pair, "INSERT INTO t (u, n) VALUES ('m', 2) ON CONFLICT (n) DO UPDATE SET u = 'm'")


def test_parameters_in_the_update(pair: Pair) -> None:
    both(
        pair,
        "INSERT INTO t (u, n) VALUES (?, ?) ON CONFLICT (u) DO UPDATE SET n = ? + excluded.n",
        "y",
        1,
        100,
    )


def test_executemany_upsert(pair: Pair) -> None:
    oracle, strata = pair
    sql = "INSERT INTO t (u, n) VALUES (?, ?) ON CONFLICT (u) DO UPDATE SET n = excluded.n"
    rows = [("x", 11), ("new", 12), ("new", 13)]
    oracle.executemany(sql, rows)
    strata.cursor().executemany(sql, rows)
    both(pair, "SELECT 1")


def test_do_update_needs_a_target(pair: Pair) -> None:
    _, strata = pair
    with pytest.raises(dialect.Error):
        strata.execute("INSERT INTO t (u) VALUES ('x') ON CONFLICT DO UPDATE SET n = 1")


def test_unsupported_forms_are_named(pair: Pair) -> None:
    _, strata = pair
    with pytest.raises(dialect.NotSupportedError, match="ON CONSTRAINT"):
        strata.execute("INSERT INTO t (u) VALUES ('x') ON CONFLICT ON CONSTRAINT c DO NOTHING")
    with pytest.raises(dialect.NotSupportedError, match="several ON CONFLICT"):
        strata.execute(
            "INSERT INTO t (u) VALUES ('x') ON CONFLICT (u) DO NOTHING ON CONFLICT DO NOTHING"
        )
