"""Regression tests for the bugs reported in issue 9 that live in planning and execution,
each compared with sqlite3 where sqlite has the behaviour."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

import dialect
from tests.dialect.oracle import both, open_pair


@pytest.fixture
def pair() -> Iterator[tuple[sqlite3.Connection, dialect.Connection]]:
    with open_pair() as pair:
        yield pair


def test_issue_9_insert_subquery_runs_each_time(
    pair: tuple[sqlite3.Connection, dialect.Connection],
) -> None:
    # Before: the cached INSERT plan kept the subquery's result: 0, 0, 0 (sqlite: 0, 1, 2).
    both(pair, "CREATE TABLE t (x)")
    for _ in range(3):
        both(pair, "INSERT INTO t (x) VALUES ((SELECT count(*) FROM t))")
    assert both(pair, "SELECT x FROM t ORDER BY x") == [(0,), (1,), (2,)]


def test_issue_9_explain_runs_nothing(mem: dialect.Connection) -> None:
    # Before: EXPLAIN ran FROM-subqueries and views while planning.
    mem.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    mem.execute("INSERT INTO t VALUES (1, 'x')")
    mem.execute(
        "CREATE VIEW bad AS SELECT CAST(v AS DATE) AS d, (SELECT count(*) FROM t) AS n FROM t"
    )
    with pytest.raises(dialect.Error):
        mem.execute("SELECT * FROM bad").fetchall()
    stats = mem.stats()["requests"]
    plan = mem.execute("EXPLAIN SELECT * FROM (SELECT * FROM bad) AS s").fetchall()
    assert any("SCAN t" in row[1] for row in plan)
    assert mem.stats()["requests"] == stats


def test_issue_9_insert_or_replace_and_ignore_on_unique_index(
    pair: tuple[sqlite3.Connection, dialect.Connection],
) -> None:
    # Before: only primary-key conflicts were replaced or ignored.
    both(pair, "CREATE TABLE u (id INTEGER PRIMARY KEY, e TEXT UNIQUE, v INT)")
    both(pair, "INSERT INTO u VALUES (1, 'a', 1), (2, 'b', 2)")
    both(pair, "INSERT OR REPLACE INTO u VALUES (3, 'a', 3)")
    both(pair, "INSERT OR IGNORE INTO u VALUES (4, 'b', 4)")
    both(pair, "INSERT OR REPLACE INTO u VALUES (2, 'a', 5)")  # both a key and a unique value
    assert both(pair, "SELECT * FROM u ORDER BY id") == [(2, "a", 5)]
    assert both(pair, "SELECT id FROM u WHERE e = 'a'") == [(2,)]


def test_issue_9_refused_statements_are_named(mem: dialect.Connection) -> None:
    # Before: SAVEPOINT raised ProgrammingError "syntax error" (savepoints now run: issue 10).
    with pytest.raises(dialect.NotSupportedError, match="ATTACH"):
        mem.execute("ATTACH DATABASE 'x.db' AS x")
    with pytest.raises(dialect.NotSupportedError, match="VACUUM"):
        mem.execute("VACUUM")


def test_issue_9_parenthesised_join(pair: tuple[sqlite3.Connection, dialect.Connection]) -> None:
    # Before: "unsupported query". SQLAlchemy emits this for with_polymorphic(..., flat=True).
    both(pair, "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT)")
    both(pair, "CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INT, y TEXT)")
    both(pair, "CREATE TABLE c (id INTEGER PRIMARY KEY, z TEXT)")
    both(pair, "INSERT INTO a VALUES (1, 'a1'), (2, 'a2'), (3, 'a3')")
    both(pair, "INSERT INTO b VALUES (1, 1, 'b1'), (2, 2, 'b2')")
    both(pair, "INSERT INTO c VALUES (1, 'c1')")
    rows = both(
        pair,
        "SELECT a.x, b.y, c.z FROM a LEFT OUTER JOIN (b JOIN c ON b.id = c.id) "
        "ON a.id = b.a_id ORDER BY a.id",
    )
    assert rows == [("a1", "b1", "c1"), ("a2", None, None), ("a3", None, None)]


def test_issue_9_in_table_and_empty_list(
    pair: tuple[sqlite3.Connection, dialect.Connection],
) -> None:
    # Before: `2 IN t4` answered 0 where t4 holds 2; `NULL IN ()` answered NULL.
    both(pair, "CREATE TABLE t4 (a)")
    both(pair, "INSERT INTO t4 VALUES (2)")
    assert both(pair, "SELECT 2 IN t4, 3 IN t4, 2 NOT IN t4") == [(1, 0, 0)]
    assert both(pair, "SELECT NULL IN (), 1 IN (), NULL NOT IN ()") == [(0, 0, 1)]


def test_issue_9_invalid_sql_is_refused(mem: dialect.Connection) -> None:
    # Before: both were accepted.
    mem.execute("CREATE TABLE t (a)")
    with pytest.raises(dialect.ProgrammingError, match="2 columns"):
        mem.execute("SELECT 1 WHERE 1 IN (SELECT 1, 2)")
    with pytest.raises(dialect.ProgrammingError, match="DISTINCT"):
        mem.execute("SELECT count(DISTINCT *) FROM t")
    with pytest.raises(dialect.ProgrammingError, match="2 columns"):
        mem.execute("SELECT (SELECT 1, 2)")


def test_issue_9_total_and_sums_over_text(
    pair: tuple[sqlite3.Connection, dialect.Connection],
) -> None:
    # Before: total() was unknown; avg()/sum() over text raised DataError.
    both(pair, "CREATE TABLE t (a, s TEXT)")
    both(pair, "INSERT INTO t VALUES (1, 'x'), (2, '3'), (NULL, NULL)")
    both(pair, "SELECT total(a), total(s), sum(s), avg(s), total(NULL) FROM t")
    both(pair, "SELECT total(a) FROM t WHERE a > 5")
    both(pair, "SELECT sum(s), avg(s) FROM t WHERE s = '3'")


def test_using_column_appears_once(pair: tuple[sqlite3.Connection, dialect.Connection]) -> None:
    both(pair, "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT)")
    both(pair, "CREATE TABLE b (id INTEGER PRIMARY KEY, y TEXT)")
    both(pair, "INSERT INTO a VALUES (1, 'a1'), (2, 'a2')")
    both(pair, "INSERT INTO b VALUES (1, 'b1'), (3, 'b3')")
    both(pair, "SELECT * FROM a JOIN b USING (id)")
    both(pair, "SELECT id, x, y FROM a LEFT JOIN b USING (id) ORDER BY id")


def test_views_keep_the_types_of_their_casts(mem: dialect.Connection) -> None:
    # Found with the regression tests above: view text was written in sqlglot's SQLite
    # dialect, which turns CAST(v AS DATE) into DATE(v), a different function.
    import datetime as dt

    mem.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    mem.execute("INSERT INTO t VALUES (1, '2024-02-03')")
    mem.execute("CREATE VIEW d AS SELECT CAST(v AS DATE) AS day, CAST(id AS BOOLEAN) AS b FROM t")
    assert mem.execute("SELECT day, b FROM d").fetchall() == [(dt.date(2024, 2, 3), True)]


def test_outer_join_on_a_constant(pair: tuple[sqlite3.Connection, dialect.Connection]) -> None:
    # Found by SQLAlchemy's suite (JoinTest.test_outer_join_false): the constant ON part was
    # applied after the join, removing the padded rows.
    both(pair, "CREATE TABLE a (id INTEGER PRIMARY KEY)")
    both(pair, "CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INT)")
    both(pair, "INSERT INTO a VALUES (1), (2)")
    both(pair, "INSERT INTO b VALUES (1, 1)")
    both(pair, "SELECT a.id, b.id FROM a LEFT JOIN b ON 0 = 1 ORDER BY a.id")
    both(pair, "SELECT a.id, b.id FROM a LEFT JOIN b ON 1 = 1 AND b.a_id = a.id ORDER BY a.id")
    both(
        pair,
        "SELECT a.id, b.id FROM a LEFT JOIN b ON b.a_id = a.id "
        "AND EXISTS (SELECT 1 FROM b AS c WHERE c.id = a.id) ORDER BY a.id",
    )


def test_using_column_in_where(pair: tuple[sqlite3.Connection, dialect.Connection]) -> None:
    both(pair, "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT)")
    both(pair, "CREATE TABLE b (id INTEGER PRIMARY KEY, y TEXT)")
    both(pair, "INSERT INTO a VALUES (1, 'a1'), (2, 'a2')")
    both(pair, "INSERT INTO b VALUES (1, 'b1'), (2, 'b2')")
    both(pair, "SELECT * FROM a JOIN b USING (id) WHERE id = 2")
    both(pair, "SELECT x, y FROM a JOIN b USING (id) WHERE id > 0 ORDER BY id")


def test_schema_names_of_no_schema_are_refused(mem: dialect.Connection) -> None:
    # Found by pandas' suite: CREATE TABLE public.x made a table x that lookups naming the
    # schema could not find. Schemas must now be created first (tests/dialect/test_schemas.py).
    with pytest.raises(dialect.ProgrammingError, match=r"no such schema: public"):
        mem.execute("CREATE TABLE public.x (a INT)")
    mem.execute("CREATE TABLE main.y (a INT)")
    mem.execute("INSERT INTO main.y VALUES (1)")
    assert mem.execute("SELECT a FROM y").fetchall() == [(1,)]


def test_comparisons_apply_the_column_affinity(
    pair: tuple[sqlite3.Connection, dialect.Connection],
) -> None:
    # Found while writing the closing note: `id = '5'` found the row through the key, then the
    # filter compared 5 with '5' and dropped it; sqlite converts the text to the column's type.
    both(pair, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INT, s TEXT, r REAL)")
    both(pair, "INSERT INTO t VALUES (5, 7, '3', 2.5), (6, 8, '10', 1.0)")
    both(pair, "CREATE INDEX t_n ON t (n)")
    for where in [
        "id = '5'",
        "n > '7'",
        "s = 3",
        "r = '2.5'",
        "n = 'x'",
        "'8' = n",
        "id IN ('5', '6')",
        "n BETWEEN '7' AND '7.5'",
        "s IN (3, 10)",
    ]:
        both(pair, f"SELECT id FROM t WHERE {where} ORDER BY id")
    both(pair, "SELECT '5' = 5, 5 = '5'")  # no column: no conversion
    both(pair, "SELECT id FROM t WHERE id = ?", "6")


@pytest.fixture
def review(pair: tuple[sqlite3.Connection, dialect.Connection]) -> Any:
    """The schema the review of this change used."""
    for sql in [
        "CREATE TABLE t1 (a INTEGER PRIMARY KEY, b INT, c TEXT)",
        "CREATE INDEX t1_b ON t1 (b)",
        "CREATE TABLE t2 (x, y, z, PRIMARY KEY (x, y))",
        "CREATE TABLE t3 (id INTEGER PRIMARY KEY, a INT, w INT)",
        "INSERT INTO t1 VALUES (1, 1, 'a'), (2, 2, 'b'), (3, NULL, 'c'), (8, 3, NULL), (9, 1, 'x')",
        "INSERT INTO t2 VALUES (1, 1, 1), (3, 2, 2), (8, 1, 1)",
        "INSERT INTO t3 VALUES (1, 1, 1), (2, 3, 2), (3, 8, 3)",
    ]:
        both(pair, sql)
    return pair


@pytest.mark.parametrize(
    "sql",
    [
        # an uncorrelated subquery holding a correlated one (crashed)
        "SELECT (SELECT count(*) FROM t3 WHERE EXISTS (SELECT 1 FROM t2 q WHERE q.x = t3.a))",
        # a nested subquery's `a` is the middle query's t3.a, not the outer t1.a
        "SELECT t1.a, (SELECT count(*) FROM t2 JOIN t3 ON t3.id = t2.x "
        "WHERE EXISTS (SELECT 1 FROM t2 q WHERE q.x = a)) FROM t1 ORDER BY 1",
        # a parenthesised join whose first item is a subquery (the join was dropped)
        "SELECT * FROM ((SELECT a, b FROM t1) q1 JOIN t3 ON q1.a = t3.id) ORDER BY 1",
        "SELECT t1.a, t3.w FROM t1 JOIN ((SELECT a, b FROM t1) q1 JOIN t3 ON q1.a = t3.id) "
        "ON t1.a = t3.a ORDER BY 1",
        # USING with an unnamed subquery (matched every row)
        "SELECT * FROM t1 JOIN (SELECT 3 AS a, 9 AS q) USING (a)",
        # GROUP BY a result column's number or alias
        "SELECT b, count(*) FROM t1 GROUP BY 1 ORDER BY 1",
        "SELECT b + 1 AS k, count(*) FROM t1 GROUP BY k ORDER BY k",
        # NULLS FIRST / LAST
        "SELECT a, b FROM t1 ORDER BY b NULLS LAST, a",
        "SELECT a, b FROM t1 ORDER BY b DESC NULLS FIRST, a",
        "SELECT a, b FROM t1 WHERE b > 0 OR b IS NULL ORDER BY b NULLS LAST, a LIMIT 10",
        # plain columns beside one min() or max() come from its row
        "SELECT a, max(b) FROM t1",
        "SELECT b, max(a), c FROM t1 GROUP BY b ORDER BY b",
    ],
)
def test_review_findings(review: Any, sql: str) -> None:
    both(review, sql)


def test_hash_join_only_where_equal_values_hash_alike(
    pair: tuple[sqlite3.Connection, dialect.Connection],
) -> None:
    # A DATE and text, NUMERIC and REAL, TIMESTAMP and DATE compare equal after conversion
    # but hash differently: a hash join on them found nothing.
    _, strata = pair
    strata.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, d DATE, n NUMERIC, ts TIMESTAMP)")
    strata.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, s TEXT, r REAL, d2 DATE)")
    strata.execute("INSERT INTO a VALUES (1, '2024-01-02', 0.1, '2024-01-02 00:00:00')")
    strata.execute("INSERT INTO b VALUES (1, '2024-01-02', 0.1, '2024-01-02')")
    for cond in ["a.d = b.s", "a.n = b.r", "a.ts = b.d2"]:
        assert strata.execute(f"SELECT a.id, b.id FROM a, b WHERE {cond}").fetchall() == [(1, 1)]


def test_insert_or_ignore_skips_not_null_and_check(
    pair: tuple[sqlite3.Connection, dialect.Connection],
) -> None:
    both(pair, "CREATE TABLE u (id INTEGER PRIMARY KEY, n INT NOT NULL, k INT CHECK (k > 0))")
    both(pair, "INSERT OR IGNORE INTO u VALUES (1, NULL, 1), (2, 1, -1), (3, 1, 1)")
    assert both(pair, "SELECT * FROM u") == [(3, 1, 1)]
