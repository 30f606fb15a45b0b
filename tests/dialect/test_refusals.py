"""Statements recognised as refused from their first words."""

from __future__ import annotations

import pytest

from dialect.refusals import refusal


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 1; END", "triggers"),
        ("create temp trigger if not exists tr before delete on t begin select 1; end", "trigger"),
        ("  /* note */ CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END", "triggers"),
        ("DROP TRIGGER tr", "triggers"),
        ("CREATE VIRTUAL TABLE v USING fts5(a)", "virtual tables"),
        ("ATTACH DATABASE 'other.db' AS other", "ATTACH"),
        ("DETACH other", "DETACH"),
        ("VACUUM", "VACUUM"),
        ("REINDEX t", "REINDEX"),
        ("PRAGMA journal_mode = WAL", "PRAGMA journal_mode"),
        ("PRAGMA main.cache_size(100)", "PRAGMA cache_size"),
        ("EXPLAIN QUERY PLAN CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END", "trigger"),
    ],
)
def test_refused(sql: str, named: str) -> None:
    message = refusal(sql)
    assert message is not None and named in message


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE temp (a INT)",
        "CREATE TEMPORARY TABLE t (a INT)",
        "CREATE TEMP TABLE IF NOT EXISTS t AS SELECT 1",
        "CREATE TEMP VIEW v AS SELECT 1",
        'CREATE TABLE "temp" (a INT)',
        "CREATE INDEX trigger_ix ON t (a)",
        "SELECT 'CREATE TRIGGER'",
        "PRAGMA table_info(t)",
        "PRAGMA user_version",
        "EXPLAIN SELECT 1",
        "SAVEPOINT s",
        "RELEASE s",
        "",
        "SELECT 'unterminated",
    ],
)
def test_not_refused(sql: str) -> None:
    assert refusal(sql) is None
