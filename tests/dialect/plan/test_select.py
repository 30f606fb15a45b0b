"""The planner, called directly: which nodes a query becomes (not EXPLAIN's wording)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import dialect
from dialect.catalog import Catalog
from dialect.execute import plan_statement
from dialect.parse import prepare
from dialect.plan import nodes as n


@pytest.fixture
def catalog(mem: dialect.Connection) -> Catalog:
    for name in "abcde":
        mem.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, ref INT, v INT, w TEXT)")
    mem.execute("CREATE INDEX a_v ON a (v)")
    mem.execute("CREATE TABLE kv (k1 TEXT, k2 INT, x INT, PRIMARY KEY (k1, k2))")
    mem.execute("CREATE VIEW av AS SELECT id, v FROM a WHERE v > 0")
    return mem.catalog


def plan(catalog: Catalog, sql: str) -> n.Node:
    return plan_statement(catalog, prepare(sql).ast).root


def walk(node: n.Node) -> Iterator[n.Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def kinds(node: n.Node) -> list[type[n.Node]]:
    return [type(x) for x in walk(node)]


def test_primary_key_equality_is_a_get(catalog: Catalog) -> None:
    root = plan(catalog, "SELECT w FROM a WHERE id = ?")
    gets = [x for x in walk(root) if isinstance(x, n.KeyGet)]
    assert len(gets) == 1 and len(gets[0].keys) == 1
    root = plan(catalog, "SELECT w FROM a WHERE id IN (1, 2, ?)")
    assert [len(x.keys) for x in walk(root) if isinstance(x, n.KeyGet)] == [3]


def test_key_prefix_and_ranges(catalog: Catalog) -> None:
    scans = [x for x in walk(plan(catalog, "SELECT * FROM kv WHERE k1 = 'p' AND k2 > 3"))]
    scan = next(x for x in scans if isinstance(x, n.TableScan))
    assert scan.range is not None and len(scan.range.prefix) == 1 and scan.range.low
    full = next(
        x for x in walk(plan(catalog, "SELECT * FROM kv WHERE x = 1")) if isinstance(x, n.TableScan)
    )
    assert full.range is None


def test_index_is_used_for_its_columns(catalog: Catalog) -> None:
    root = plan(catalog, "SELECT id FROM a WHERE v = 3 AND w = 'x'")
    index = next(x for x in walk(root) if isinstance(x, n.IndexScan))
    assert index.index is not None and index.index.name == "a_v"


def test_comma_join_becomes_key_lookups(catalog: Catalog) -> None:
    root = plan(
        catalog,
        "SELECT count(*) FROM e, d, c, b, a WHERE a.ref = b.id AND b.ref = c.id "
        "AND c.ref = d.id AND d.ref = e.id AND a.v = 3",
    )
    joins = [x for x in walk(root) if isinstance(x, n.Join)]
    assert len(joins) == 4 and all(isinstance(j, n.LookupJoin) for j in joins)
    # the table with a constant condition (through its index) is read first
    first = next(x for x in walk(root) if isinstance(x, n.Access) and not isinstance(x, n.KeyGet))
    assert first.table.name == "a" and isinstance(first, n.IndexScan)
    assert not any(isinstance(x, n.NestedLoopJoin) for x in walk(root))


def test_equality_on_non_key_columns_is_a_hash_join(catalog: Catalog) -> None:
    root = plan(catalog, "SELECT * FROM b, c WHERE b.w = c.w AND c.id < 10")
    assert n.HashJoin in kinds(root)


def test_no_condition_is_a_nested_loop(catalog: Catalog) -> None:
    assert n.NestedLoopJoin in kinds(plan(catalog, "SELECT * FROM b, c WHERE b.v < c.v"))


def test_outer_join_keeps_its_order_and_looks_up(catalog: Catalog) -> None:
    root = plan(catalog, "SELECT * FROM b LEFT JOIN a ON a.id = b.ref WHERE b.id = 1")
    join = next(x for x in walk(root) if isinstance(x, n.Join))
    assert isinstance(join, n.LookupJoin) and join.left_outer
    assert isinstance(next(x for x in walk(join.left) if isinstance(x, n.Access)), n.KeyGet)


def test_order_by_key_needs_no_sort(catalog: Catalog) -> None:
    assert n.Sort not in kinds(plan(catalog, "SELECT * FROM a ORDER BY id DESC LIMIT 3"))
    assert n.Sort not in kinds(plan(catalog, "SELECT * FROM a WHERE v > 2 ORDER BY v"))
    assert n.Sort in kinds(plan(catalog, "SELECT * FROM a ORDER BY w"))
    assert n.Sort in kinds(plan(catalog, "SELECT id AS w, w AS id FROM a ORDER BY id"))
    # with a LIMIT, an index can give the order instead of a sort
    assert n.Sort not in kinds(plan(catalog, "SELECT * FROM a ORDER BY v DESC LIMIT 5"))


def test_views_and_subqueries_are_planned_not_run(catalog: Catalog) -> None:
    root = plan(catalog, "SELECT * FROM av JOIN (SELECT id FROM b) AS s ON s.id = av.id")
    tables = {x.table.name for x in walk(root) if isinstance(x, n.Access)}
    assert tables == {"a", "b"}


def test_plans_hold_no_run_state(catalog: Catalog, mem: dialect.Connection) -> None:
    # the same plan runs twice with different parameters and subquery results
    mem.execute("INSERT INTO a VALUES (1, 0, 1, 'x')")
    sql = "SELECT (SELECT count(*) FROM a), ? FROM a WHERE id = ?"
    assert mem.execute(sql, (5, 1)).fetchall() == [(1, 5)]
    mem.execute("INSERT INTO a VALUES (2, 0, 1, 'y')")
    assert mem.execute(sql, (6, 2)).fetchall() == [(2, 6)]
