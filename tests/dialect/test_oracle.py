"""Random INSERT/UPDATE/DELETE/SELECT run on Strata and on sqlite3 (the oracle); every
result, rowcount and error class must agree."""

from __future__ import annotations

import math
import sqlite3
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dialect

SCHEMA = "CREATE TABLE t (id INTEGER PRIMARY KEY, a INT, b TEXT, c REAL)"
INDEX = "CREATE INDEX t_a ON t (a)"

INTS = st.none() | st.integers(-5, 5)
TEXTS = st.none() | st.sampled_from(["x", "y", "ab", "Ab", "b%", ""])
REALS = st.none() | st.sampled_from([-1.5, 0.0, 0.25, 2.0, 10.0])

CONDITIONS = [
    ("a = ?", [INTS]),
    ("a < ?", [INTS]),
    ("a >= ? AND a <= ?", [INTS, INTS]),
    ("a BETWEEN ? AND ?", [INTS, INTS]),
    ("a IS NULL", []),
    ("a IS NOT NULL AND c > ?", [REALS]),
    ("b = ?", [TEXTS]),
    ("b LIKE ?", [st.sampled_from(["a%", "A%", "%B", "_", "%", "X"])]),
    ("id IN (?, ?, ?)", [INTS, INTS, INTS]),
    ("id = ?", [INTS]),
    ("id > ? AND id < ?", [INTS, INTS]),
    ("NOT (a > ?)", [INTS]),
    ("a > ? OR b = ?", [INTS, TEXTS]),
    ("c IS NULL OR c < ?", [REALS]),
    ("a IN (SELECT id FROM t WHERE b IS NOT NULL)", []),
]

SELECTS = [
    "SELECT id, a, b, c FROM t WHERE {} ORDER BY id",
    "SELECT id FROM t WHERE {} ORDER BY id DESC LIMIT 3",
    "SELECT a, COUNT(*), SUM(c), MIN(b) FROM t WHERE {} GROUP BY a ORDER BY a",
    "SELECT COUNT(*), COUNT(a), SUM(a), MAX(b), AVG(c) FROM t WHERE {}",
    "SELECT DISTINCT b FROM t WHERE {} ORDER BY b",
    "SELECT id, a * 2 + 1, COALESCE(b, '-') FROM t WHERE {} ORDER BY a, id",
]


@st.composite
def condition(draw: st.DrawFn) -> tuple[str, list[Any]]:
    text, strategies = draw(st.sampled_from(CONDITIONS))
    return text, [draw(s) for s in strategies]


@st.composite
def statement(draw: st.DrawFn) -> tuple[str, list[Any]]:
    kind = draw(st.sampled_from(["insert"] * 4 + ["update", "delete"] + ["select"] * 4))
    if kind == "insert":
        return "INSERT INTO t (id, a, b, c) VALUES (?, ?, ?, ?)", [
            draw(st.integers(0, 12)),
            draw(INTS),
            draw(TEXTS),
            draw(REALS),
        ]
    cond, params = draw(condition())
    if kind == "update":
        return f"UPDATE t SET a = ?, b = ? WHERE {cond}", [draw(INTS), draw(TEXTS), *params]
    if kind == "delete":
        return f"DELETE FROM t WHERE {cond}", params
    return draw(st.sampled_from(SELECTS)).format(cond), params


def same(x: Any, y: Any) -> bool:
    if isinstance(x, float) or isinstance(y, float):
        return x is not None and y is not None and math.isclose(x, y, rel_tol=1e-9)
    return bool(x == y)


def run(conn: Any, sql: str, params: list[Any]) -> tuple[str, Any]:
    try:
        cur = conn.execute(sql, params)
    except Exception as exc:
        return "error", type(exc).__name__
    if cur.description is not None:
        return "rows", cur.fetchall()
    return "count", cur.rowcount


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(statement(), min_size=1, max_size=25))
def test_same_results_as_sqlite(statements: list[tuple[str, list[Any]]]) -> None:
    oracle = sqlite3.connect(":memory:")
    strata = dialect.connect(f"memory://{uuid.uuid4().hex}")
    for sql in (SCHEMA, INDEX):
        oracle.execute(sql)
        strata.execute(sql)
    try:
        for sql, params in statements:
            expected, got = run(oracle, sql, params), run(strata, sql, params)
            assert expected[0] == got[0], (sql, params, expected, got)
            if expected[0] == "rows":
                assert len(expected[1]) == len(got[1]), (sql, params, expected, got)
                for er, gr in zip(expected[1], got[1], strict=True):
                    assert all(same(e, g) for e, g in zip(er, gr, strict=True)), (
                        sql,
                        params,
                        expected,
                        got,
                    )
            elif expected[0] == "error":
                assert got[1] == expected[1], (sql, params, expected, got)
            else:
                assert expected == got, (sql, params)
        oracle.commit()
        strata.commit()
        final = "SELECT id, a, b, c FROM t ORDER BY id"
        assert run(oracle, final, []) == run(strata, final, [])
    finally:
        strata.close()
        oracle.close()
