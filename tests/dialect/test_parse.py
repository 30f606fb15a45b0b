"""SQL text into prepared statements: markers numbered, multi-row VALUES of markers parsed as
one row, stored SQL round-tripping its types."""

from __future__ import annotations

import pytest
from sqlglot import exp

import dialect
from dialect.parse import bind, parse_stored, prepare, stored_text


def test_prepared_statements_are_cached_by_text() -> None:
    assert prepare("SELECT 1") is prepare("SELECT 1")


@pytest.mark.parametrize(
    ("sql", "rows"),
    [
        ("INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?)", 3),
        ("insert into t values (?,?) ,( ?, ? );", 2),
        ('INSERT INTO "values" (a) VALUES (?), (?)', 2),
        ("INSERT INTO t (a) VALUES (?), (?) ON CONFLICT DO NOTHING", 2),  # a tail: no markers
        ("INSERT INTO t (a) VALUES (?), (?), (?) RETURNING id, a AS x", 3),
    ],
)
def test_repeated_rows_of_markers_are_parsed_once(sql: str, rows: int) -> None:
    prepared = prepare(sql)
    assert prepared.value_rows == rows
    assert isinstance(prepared.ast, exp.Insert)
    assert len(prepared.ast.expression.expressions) == 1
    assert prepared.param_count == rows * len(prepared.ast.expression.expressions[0].expressions)


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO t (a, b) VALUES (?, ?)",  # one row: nothing to collapse
        "INSERT INTO t (a, b) VALUES (?, ?), (?, 1)",  # not only markers
        "INSERT INTO t (a, b) VALUES (?, ?), (?)",  # rows of different widths
        "INSERT INTO t (a) VALUES (?), (?) RETURNING a + ?",  # a tail with a marker
        "INSERT INTO t (a) VALUES (?), (?) x",  # a tail that is not a clause
        "SELECT 'VALUES (?), (?)'",
        "INSERT INTO t (a) SELECT x FROM v WHERE y IN (SELECT 'VALUES (?), (?)')",
    ],
)
def test_other_statements_are_parsed_whole(sql: str) -> None:
    try:
        prepared = prepare(sql)
    except dialect.Error:
        return  # refused or not parsed: not collapsed either
    assert prepared.value_rows == 1


def test_collapsed_rows_run_as_many_rows(mem: dialect.Connection) -> None:
    mem.execute("CREATE TABLE t (a INT, b TEXT)")
    cur = mem.execute(
        "INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?)", (1, "x", 2, "y", 3, "z")
    )
    assert cur.rowcount == 3
    assert mem.execute("SELECT a, b FROM t ORDER BY a").fetchall() == [
        (1, "x"),
        (2, "y"),
        (3, "z"),
    ]
    with pytest.raises(dialect.ProgrammingError, match="bindings"):
        mem.execute("INSERT INTO t (a, b) VALUES (?, ?), (?, ?)", (1, "x", 2))


def test_bind_checks_the_count_and_kind() -> None:
    assert bind(prepare("SELECT ?, ?"), (1, 2)) == [1, 2]
    assert bind(prepare("SELECT :a, :b, :a"), {"a": 1, "b": 2}) == [1, 2]
    with pytest.raises(dialect.ProgrammingError):
        bind(prepare("SELECT ?"), {"a": 1})
    with pytest.raises(dialect.ProgrammingError):
        bind(prepare("SELECT :a"), (1,))


def test_stored_sql_keeps_cast_types() -> None:
    tree = prepare("SELECT CAST(v AS DATE), CAST(v AS BOOLEAN), CAST(v AS DECIMAL(5, 2))").ast
    again = parse_stored(stored_text(tree))
    casts = [c.to.sql() for c in again.find_all(exp.Cast)]
    assert casts == ["DATE", "BOOLEAN", "DECIMAL(5, 2)"]


def test_comments_turn_the_repeated_row_shortcut_off() -> None:
    # Found in review: a trailing comment repeating the row made one row count as three.
    assert prepare("INSERT INTO t (a) VALUES (?) -- VALUES (?), (?)").value_rows == 1
    assert prepare("INSERT INTO t (a) VALUES (?), /* (?), */ (?)").value_rows == 1
