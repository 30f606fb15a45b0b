"""RIGHT and FULL OUTER joins, compared with sqlite3 (which has them from 3.39)."""

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
        "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT)",
        "CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER, y TEXT)",
        "CREATE TABLE c (id INTEGER PRIMARY KEY, b_id INTEGER, z)",
        "INSERT INTO a VALUES (1, 'a1'), (2, 'a2'), (3, 'a3')",
        "INSERT INTO b VALUES (10, 1, 'b10'), (11, 1, 'b11'), (12, 5, 'b12'), (13, NULL, 'b13')",
        "INSERT INTO c VALUES (100, 10, 1), (101, 12, 2), (102, 99, 3)",
    ):
        oracle.execute(sql)
        strata.execute(sql)
    yield oracle, strata
    oracle.close()
    strata.close()


def both(pair: Pair, sql: str, *params: Any) -> Any:
    """Run ``sql`` on both; return Strata's rows after checking they equal sqlite's (in
    order: the order of RIGHT and FULL join rows is SQLite's)."""
    oracle, strata = pair
    expected = oracle.execute(sql, params).fetchall()
    cur = strata.execute(sql, params)
    got = cur.fetchall() if cur.description is not None else []
    assert [tuple(r) for r in got] == expected, sql
    return got


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM a RIGHT JOIN b ON a.id = b.a_id",
        "SELECT * FROM a RIGHT OUTER JOIN b ON a.id = b.a_id AND a.x = 'a1'",
        "SELECT * FROM a FULL JOIN b ON a.id = b.a_id",
        "SELECT * FROM a FULL OUTER JOIN b ON a.id = b.a_id AND b.y <> 'b11'",
        # a condition on the kept side only does not drop its rows
        "SELECT * FROM a RIGHT JOIN b ON b.y = 'b12'",
        # no equality: a nested loop
        "SELECT * FROM a RIGHT JOIN b ON a.id < b.a_id",
        "SELECT * FROM a FULL JOIN b ON a.id < b.a_id",
        # WHERE applies after the padding
        "SELECT * FROM a RIGHT JOIN b ON a.id = b.a_id WHERE a.x IS NULL",
        "SELECT * FROM a FULL JOIN b ON a.id = b.a_id WHERE b.y IS NULL OR a.id = 1",
        "SELECT count(*), count(a.id), count(b.id) FROM a FULL JOIN b ON a.id = b.a_id",
        "SELECT b.y, a.x FROM a RIGHT JOIN b ON a.id = b.a_id ORDER BY b.y DESC",
    ],
)
def test_two_tables(pair: Pair, sql: str) -> None:
    both(pair, sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a.x, b.y, c.z FROM a JOIN b ON a.id = b.a_id RIGHT JOIN c ON c.b_id = b.id",
        "SELECT a.x, b.y, c.z FROM a LEFT JOIN b ON a.id = b.a_id FULL JOIN c ON c.b_id = b.id",
        "SELECT a.x, b.y, c.z FROM a FULL JOIN b ON a.id = b.a_id LEFT JOIN c ON c.b_id = b.id",
        "SELECT a.x, b.y, c.z FROM a FULL JOIN b ON a.id = b.a_id FULL JOIN c ON c.b_id = b.id",
        "SELECT * FROM a RIGHT JOIN (SELECT * FROM b WHERE id > 10) s ON s.a_id = a.id",
        "SELECT * FROM (SELECT * FROM a WHERE id > 1) s FULL JOIN b ON s.id = b.a_id",
        "SELECT * FROM a FULL JOIN b ON a.id = b.a_id "
        "AND EXISTS (SELECT 1 FROM c WHERE c.b_id = b.id)",
    ],
)
def test_several_items(pair: Pair, sql: str) -> None:
    both(pair, sql)


def test_full_join_of_empty_sides(pair: Pair) -> None:
    both(pair, "CREATE TABLE e (id INTEGER PRIMARY KEY)")
    both(pair, "SELECT * FROM e FULL JOIN a ON e.id = a.id")
    both(pair, "SELECT * FROM a FULL JOIN e ON e.id = a.id")
    both(pair, "SELECT * FROM e RIGHT JOIN a ON e.id = a.id")


def test_explain_names_the_join(pair: Pair) -> None:
    _, strata = pair
    plan = [r[1] for r in strata.execute("EXPLAIN SELECT * FROM a FULL JOIN b ON a.id = b.a_id")]
    assert any("FULL JOIN by hash ON a.id = b.a_id" in line for line in plan)


def test_using_is_refused(pair: Pair) -> None:
    _, strata = pair
    with pytest.raises(dialect.NotSupportedError, match="RIGHT JOIN … USING"):
        strata.execute("SELECT * FROM a RIGHT JOIN b USING (id)")
