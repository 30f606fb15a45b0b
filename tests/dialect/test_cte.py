"""Common table expressions (WITH, WITH RECURSIVE), compared with sqlite3."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import dialect
from tests.dialect.oracle import Pair, both, both_fail, open_pair


@pytest.fixture
def pair() -> Iterator[Pair]:
    with open_pair() as pair:
        yield pair


@pytest.fixture
def staff(pair: Pair) -> Pair:
    both(
        pair,
        "CREATE TABLE employees (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "manager_id INTEGER REFERENCES employees(id))",
    )
    rows = [
        (1, "ada", None),
        (2, "bob", 1),
        (3, "cy", 1),
        (4, "dee", 2),
        (5, "eve", 2),
        (6, "fay", 3),
        (7, "gus", 4),
        (8, "hal", 7),
    ]
    for row in rows:
        both(pair, "INSERT INTO employees VALUES (?, ?, ?)", *row)
    return pair


def test_plain_ctes(staff: Pair) -> None:
    both(staff, "WITH b AS (SELECT id, name FROM employees WHERE id < 4) SELECT * FROM b")
    both(staff, "WITH b(x, y) AS (SELECT id, name FROM employees) SELECT y FROM b WHERE x = 3")
    # a CTE reads the ones before it; a CTE referenced twice, under aliases
    both(
        staff,
        "WITH a AS (SELECT id, manager_id FROM employees), "
        "b AS (SELECT * FROM a WHERE manager_id IS NOT NULL) "
        "SELECT a.id, b.id FROM a JOIN b ON b.manager_id = a.id ORDER BY 1, 2",
    )
    both(staff, "WITH a AS (SELECT 1 AS v) SELECT v FROM a UNION SELECT 2 ORDER BY 1")
    both(staff, "SELECT * FROM (WITH c AS (SELECT 5 AS z) SELECT z FROM c)")
    both(staff, "SELECT (WITH c AS (SELECT count(*) AS k FROM employees) SELECT k FROM c)")
    # a CTE hides a table of the same name
    both(staff, "WITH employees AS (SELECT 1 AS id) SELECT * FROM employees")


def test_cte_reading_the_enclosing_query(staff: Pair) -> None:
    both(
        staff,
        "SELECT name, (WITH c AS (SELECT count(*) AS k FROM employees r "
        "WHERE r.manager_id = e.id) SELECT k FROM c) FROM employees e ORDER BY id",
    )


def test_cte_with_parameters_runs_per_execution(staff: Pair) -> None:
    for v in (1, 2, 3):
        both(staff, "WITH a AS (SELECT name FROM employees WHERE id = ?) SELECT * FROM a", v)


def test_cte_rows_kept_for_each_reference(staff: Pair) -> None:
    _, strata = staff
    plan = strata.execute(
        "EXPLAIN WITH a AS (SELECT id FROM employees) SELECT * FROM a x JOIN a y ON x.id = y.id"
    ).fetchall()
    assert sum("CTE a (rows kept for this execution)" in row[1] for row in plan) == 2


def test_counting(pair: Pair) -> None:
    both(
        pair,
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 10) "
        "SELECT * FROM t",
    )
    # no RECURSIVE word: a CTE reading itself is recursive, as in SQLite
    both(
        pair, "WITH t AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT n FROM t"
    )
    both(
        pair,
        "WITH RECURSIVE f(n, fact) AS (SELECT 1, 1 UNION ALL "
        "SELECT n + 1, fact * (n + 1) FROM f WHERE n < 15) SELECT fact FROM f WHERE n = 15",
    )


def test_limit_stops_endless_recursion(pair: Pair) -> None:
    both(
        pair,
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT * FROM t LIMIT 5",
    )
    both(
        pair,
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t LIMIT 7 OFFSET 2) "
        "SELECT * FROM t",
    )
    both(
        pair,
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) "
        "SELECT n * 2 FROM t WHERE n % 3 = 0 LIMIT 4",
    )


def test_union_drops_rows_seen_before(pair: Pair) -> None:
    # a cycle: UNION ends it, as SQLite's does
    both(pair, "WITH RECURSIVE t(n) AS (SELECT 1 UNION SELECT n % 4 + 1 FROM t) SELECT * FROM t")
    both(pair, "CREATE TABLE dup (x)")
    for x in (1, 1, 2, 1):
        both(pair, "INSERT INTO dup VALUES (?)", x)
    both(
        pair,
        "WITH RECURSIVE t(n) AS (SELECT x FROM dup UNION SELECT n + 1 FROM t WHERE n < 4) "
        "SELECT * FROM t",
    )
    both(
        pair,
        "WITH RECURSIVE t(n) AS (SELECT x FROM dup UNION ALL SELECT n + 1 FROM t WHERE n < 3) "
        "SELECT * FROM t",
    )


def test_employee_hierarchy_with_paths(staff: Pair) -> None:
    both(
        staff,
        "WITH RECURSIVE chain(id, name, path, depth) AS ("
        " SELECT id, name, name, 0 FROM employees WHERE manager_id IS NULL"
        " UNION ALL"
        " SELECT e.id, e.name, chain.path || '/' || e.name, chain.depth + 1"
        " FROM employees e JOIN chain ON e.manager_id = chain.id)"
        " SELECT id, path, depth FROM chain ORDER BY path",
    )
    # the working table written first: rows come out level by level, as SQLite's queue
    both(
        staff,
        "WITH RECURSIVE chain(id, depth) AS ("
        " SELECT id, 0 FROM employees WHERE manager_id IS NULL"
        " UNION ALL"
        " SELECT e.id, chain.depth + 1 FROM chain, employees e WHERE e.manager_id = chain.id)"
        " SELECT * FROM chain",
    )
    # up the tree: a key lookup per row
    both(
        staff,
        "WITH RECURSIVE up(id, manager_id) AS ("
        " SELECT id, manager_id FROM employees WHERE id = 8"
        " UNION ALL"
        " SELECT e.id, e.manager_id FROM employees e, up WHERE e.id = up.manager_id)"
        " SELECT id FROM up",
    )
    # a recursive CTE in a correlated subquery: each employee's depth
    both(
        staff,
        "SELECT e.name, (WITH RECURSIVE up(id, m, d) AS ("
        " SELECT id, manager_id, 0 FROM employees WHERE id = e.id"
        " UNION ALL SELECT x.id, x.manager_id, d + 1 FROM employees x JOIN up ON x.id = up.m)"
        " SELECT max(d) FROM up) FROM employees e ORDER BY e.id",
    )
    # the CTE joined with itself
    both(
        staff,
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) "
        "SELECT * FROM t a JOIN t b ON a.n <= b.n ORDER BY 1, 2",
    )


def test_ctes_in_writes(staff: Pair) -> None:
    both(staff, "CREATE TABLE z (a)")
    both(staff, "INSERT INTO z WITH q AS (SELECT id FROM employees) SELECT * FROM q")
    both(staff, "WITH q AS (SELECT id * 10 FROM employees) INSERT INTO z SELECT * FROM q")
    both(
        staff,
        "WITH RECURSIVE t(n) AS (SELECT 100 UNION ALL SELECT n + 1 FROM t WHERE n < 105) "
        "INSERT INTO z SELECT n FROM t",
    )
    both(
        staff,
        "WITH q AS (SELECT id FROM employees WHERE id > 5) "
        "DELETE FROM z WHERE a IN (SELECT id FROM q)",
    )
    both(staff, "WITH q AS (SELECT 5 AS v) UPDATE z SET a = a + (SELECT v FROM q) WHERE a < 100")
    both(staff, "SELECT * FROM z ORDER BY a")


def test_views_with_ctes(staff: Pair) -> None:
    both(
        staff,
        "CREATE VIEW counting AS WITH RECURSIVE c(n) AS "
        "(SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3) SELECT n FROM c",
    )
    both(staff, "SELECT * FROM counting")
    # the view's own c, not the statement's
    both(staff, "WITH c AS (SELECT 9 AS n) SELECT * FROM counting, c")
    both(staff, "CREATE VIEW names AS SELECT name FROM employees WHERE id < 3")
    both(staff, "WITH employees AS (SELECT 'x' AS name) SELECT * FROM names")


def test_errors_as_sqlite(staff: Pair) -> None:
    both_fail(staff, "WITH t AS (SELECT * FROM t) SELECT * FROM t", "circular reference: t")
    both_fail(staff, "WITH a(x, y) AS (SELECT 1) SELECT * FROM a", "1 values for 2 columns")
    both_fail(
        staff,
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT t.n + 1 FROM t, t AS u "
        "WHERE t.n < 3) SELECT * FROM t",
        "multiple references to recursive table: t",
    )
    both_fail(
        staff,
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT max(n) + 1 FROM t) SELECT * FROM t",
        "recursive aggregate queries not supported",
    )
    both_fail(
        staff,
        "WITH RECURSIVE t(n) AS (SELECT n FROM t UNION ALL SELECT 1) SELECT * FROM t",
        "circular reference: t",
    )
    _, strata = staff
    with pytest.raises(dialect.ProgrammingError, match="recursive reference in a subquery"):
        strata.execute(
            "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL "
            "SELECT n + 1 FROM employees WHERE id IN (SELECT n FROM t)) SELECT * FROM t"
        )
    with pytest.raises(dialect.NotSupportedError, match="ORDER BY in recursive"):
        strata.execute(
            "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t ORDER BY 1) "
            "SELECT * FROM t"
        )


def test_values_as_cte_and_from_item(pair: Pair) -> None:
    both(pair, "WITH c(a, b) AS (VALUES (1, 'x'), (2, 'y')) SELECT b FROM c WHERE a = 2")
    both(pair, "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v ORDER BY column1 DESC")
    both(
        pair, "WITH RECURSIVE t(n) AS (VALUES (1), (1), (2) UNION SELECT n FROM t) SELECT * FROM t"
    )


def test_several_recursive_selects(pair: Pair) -> None:
    for op in ("UNION ALL", "UNION"):
        both(
            pair,
            f"WITH RECURSIVE t(n) AS (SELECT 1 {op} SELECT n + 1 FROM t WHERE n < 3 "
            f"{op} SELECT n + 10 FROM t WHERE n < 3) SELECT * FROM t",
        )
    both(
        pair,
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT 2 UNION ALL "
        "SELECT n + 1 FROM t WHERE n < 3) SELECT * FROM t",
    )


def test_nested_with_hides_the_name(pair: Pair) -> None:
    both(pair, "WITH t AS (WITH t AS (SELECT 1 AS n) SELECT * FROM t) SELECT * FROM t")
    both_fail(pair, "WITH a AS (SELECT 1 AS x), a AS (SELECT 2 AS x) SELECT * FROM a", "duplicate")
