"""Expressions evaluated by Strata and by sqlite3 (the oracle) must agree."""

from __future__ import annotations

import sqlite3
import uuid

import pytest

import dialect

EXPRESSIONS = [
    "1 + 2 * 3",
    "7 / 2",
    "-7 / 2",
    "7 % 3",
    "-7 % 3",
    "7.5 / 2",
    "1 / 0",
    "5 % 0",
    "2 - 3.5",
    "'3' + 4",
    "'abc' + 1",
    "NULL + 1",
    "1 = 1",
    "1 = 1.0",
    "1 < 2",
    "'a' < 'b'",
    "1 < 'a'",
    "NULL = NULL",
    "NULL IS NULL",
    "1 IS NOT NULL",
    "1 IS 1",
    "NULL AND 0",
    "NULL AND 1",
    "NULL OR 1",
    "NULL OR 0",
    "NOT NULL",
    "NOT 0",
    "3 BETWEEN 1 AND 5",
    "3 BETWEEN 4 AND 5",
    "NULL BETWEEN 1 AND 2",
    "2 IN (1, 2, 3)",
    "4 IN (1, 2, NULL)",
    "4 NOT IN (1, 2, NULL)",
    "NULL IN (1)",
    "'abc' LIKE 'a%'",
    "'ABC' LIKE 'a_c'",
    "'a%c' LIKE 'a!%c' ESCAPE '!'",
    "'abc' NOT LIKE '%d'",
    "CASE WHEN 1 > 2 THEN 'x' WHEN 2 > 1 THEN 'y' ELSE 'z' END",
    "CASE 3 WHEN 1 THEN 'one' WHEN 3 THEN 'three' END",
    "CASE NULL WHEN NULL THEN 1 ELSE 0 END",
    "COALESCE(NULL, NULL, 3)",
    "IFNULL(NULL, 'd')",
    "NULLIF(2, 2)",
    "NULLIF(2, 3)",
    "'ab' || 'cd'",
    "'n' || 1",
    "'x' || NULL",
    "length('hello')",
    "length(12345)",
    "lower('AbC')",
    "upper('abc')",
    "trim('  x  ')",
    "substr('hello', 2, 3)",
    "substr('hello', -3)",
    "substr('hello', 0, 2)",
    "abs(-4)",
    "abs(-4.5)",
    "round(2.5)",
    "round(2.345, 2)",
    "round(-2.5)",
    "CAST('42' AS INTEGER)",
    "CAST(3.9 AS INTEGER)",
    "CAST(-3.9 AS INTEGER)",
    "CAST(12 AS TEXT)",
    "CAST('1.5' AS REAL)",
    "CAST(NULL AS INTEGER)",
    "typeof(1)",
    "typeof(1.5)",
    "typeof('a')",
    "typeof(NULL)",
    "(SELECT 5)",
    "(SELECT 1 WHERE 0)",
    "EXISTS (SELECT 1)",
    "NOT EXISTS (SELECT 1 WHERE 0)",
    "1 IN (SELECT 1 UNION SELECT 2)",
    "'abc' GLOB 'a*'",
    "'abc' GLOB 'A*'",
    "'abc' NOT GLOB '?b?'",
    "1 IS NOT 2",
    "NULL IS NOT NULL",
]


@pytest.fixture(scope="module")
def connections() -> tuple[sqlite3.Connection, dialect.Connection]:
    return sqlite3.connect(":memory:"), dialect.connect(f"memory://{uuid.uuid4().hex}")


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_expression_agrees_with_sqlite(
    connections: tuple[sqlite3.Connection, dialect.Connection], expression: str
) -> None:
    oracle, strata = connections
    expected = oracle.execute(f"SELECT {expression}").fetchone()
    got = strata.execute(f"SELECT {expression}").fetchone()
    assert got == expected
    assert [type(v) for v in got] == [type(v) for v in expected] or all(
        isinstance(v, bool) and isinstance(e, int) for v, e in zip(got, expected, strict=True)
    )
