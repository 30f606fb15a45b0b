"""Random and mutated SQL strings and parameters: only PEP 249 errors or success, never
another exception or a hang, and the database unchanged after a failed statement."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dialect
from tests.fuzz.sqlgen import STATEMENTS, mutate, new_database, parameters, run_one


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(STATEMENTS), st.integers(0, 2**32)), max_size=6))
def test_mutated_statements(script: list[tuple[str, int]]) -> None:
    _url, conn, db = new_database()
    try:
        for sql, seed in script:
            rng = random.Random(seed)
            text = mutate(sql, rng) if rng.random() < 0.8 else sql
            run_one(conn, db, text, parameters(text, rng))
    finally:
        conn.close()
        db.close()


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=200), st.lists(st.none() | st.integers() | st.text() | st.binary()))
def test_arbitrary_text(sql: str, params: list[object]) -> None:
    _url, conn, db = new_database()
    try:
        run_one(conn, db, sql, tuple(params))
    finally:
        conn.close()
        db.close()


# -- regressions the fuzzer found ------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT " + "(" * 5000 + "1" + ")" * 5000,
        "SELECT " + "NOT " * 5000 + "1",
        "SELECT 1 FROM t WHERE " + " AND ".join(["id = 1"] * 5000),
    ],
    ids=["parentheses", "not-chain", "and-chain"],
)
def test_deep_nesting_is_a_programming_error(sql: str) -> None:
    """Was: RecursionError from sqlglot's parser (or the planner) escaped the driver."""
    _url, conn, db = new_database()
    try:
        assert not run_one(conn, db, sql, ())
    finally:
        conn.close()
        db.close()


@pytest.mark.parametrize("value", [object(), "a\x00b", {"a": 1}])
def test_a_parameter_an_operation_cannot_take_is_a_data_error(value: object) -> None:
    """Was: substr(v, ?, 2) with an object() or non-numeric text as the start escaped as a
    TypeError or ValueError from evaluation."""
    _url, conn, db = new_database()
    try:
        with pytest.raises(dialect.Error):
            conn.cursor().execute("SELECT substr(v, ?, 2) FROM t", (value,)).fetchall()
        assert not run_one(conn, db, "UPDATE t SET v = substr(v, ?, 2)", (value,))
    finally:
        conn.close()
        db.close()


def test_a_statement_without_a_target_table_is_a_programming_error() -> None:
    """Was: `DELETE u WHERE 1` (sqlglot parses the target as False) raised AttributeError."""
    _url, conn, db = new_database()
    try:
        with pytest.raises(dialect.ProgrammingError, match="no table"):
            conn.cursor().execute("DELETE u WHERE 1")
    finally:
        conn.close()
        db.close()
