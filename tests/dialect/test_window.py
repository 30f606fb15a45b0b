"""Window functions (``… OVER (PARTITION BY … ORDER BY … frame)``), each compared with
sqlite3, which has them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import dialect
from tests.dialect.oracle import Pair, both, both_fail, open_pair

ROWS = [
    (1, "a", 3, "p"),
    (2, "a", None, "q"),
    (3, "a", 1, "r"),
    (4, "b", 5, "s"),
    (5, "b", None, "t"),
    (6, "a", 3, "u"),
    (7, "b", 2, "v"),
    (8, "a", 7, "w"),
    (9, None, 4, "x"),
    (10, "b", 5, "y"),
]


@pytest.fixture
def pair() -> Iterator[Pair]:
    with open_pair("CREATE TABLE t (id INTEGER PRIMARY KEY, g TEXT, x INTEGER, s TEXT)") as pair:
        for db in pair:
            db.cursor().executemany("INSERT INTO t VALUES (?, ?, ?, ?)", ROWS)
            db.commit()
        yield pair


@pytest.mark.parametrize(
    "call",
    [
        "row_number()",
        "rank()",
        "dense_rank()",
        "percent_rank()",
        "cume_dist()",
        "ntile(3)",
        "ntile(1)",
        "ntile(20)",
        "lag(x)",
        "lag(x, 2)",
        "lag(x, 2, -1)",
        "lag(x, 0)",
        "lag(x, -1)",
        "lag(s, 1, 'none')",
        "lead(x)",
        "lead(x, 3)",
        "lead(x, 1, x * 10)",
        "first_value(x)",
        "last_value(x)",
        "nth_value(x, 2)",
        "nth_value(s, 4)",
        "count(*)",
        "count(x)",
        "sum(x)",
        "avg(x)",
        "min(x)",
        "max(x)",
        "total(x)",
        "group_concat(s)",
        "group_concat(s, '-')",
        "min(s)",
        "max(s)",
    ],
)
@pytest.mark.parametrize(
    "window",
    [
        "()",
        "(ORDER BY x)",
        "(ORDER BY x DESC)",
        "(ORDER BY x DESC, id)",
        "(PARTITION BY g)",
        "(PARTITION BY g ORDER BY x)",
        "(PARTITION BY g ORDER BY x DESC NULLS FIRST, id)",
        "(ORDER BY x NULLS LAST)",
    ],
)
def test_every_function_over_windows(pair: Pair, call: str, window: str) -> None:
    both(pair, f"SELECT id, {call} OVER {window} FROM t ORDER BY id")


@pytest.mark.parametrize(
    "frame",
    [
        "ROWS UNBOUNDED PRECEDING",
        "ROWS 2 PRECEDING",
        "ROWS CURRENT ROW",
        "ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING",
        "ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING",
        "ROWS BETWEEN 2 FOLLOWING AND 4 FOLLOWING",
        "ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING",
        "ROWS BETWEEN 1 PRECEDING AND 3 PRECEDING",
        "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING",
        "ROWS BETWEEN 0 PRECEDING AND 0 FOLLOWING",
        "RANGE UNBOUNDED PRECEDING",
        "RANGE CURRENT ROW",
        "RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING",
        "RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING",
        "RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING",
        "RANGE BETWEEN 2 PRECEDING AND CURRENT ROW",
        "RANGE BETWEEN CURRENT ROW AND 2 FOLLOWING",
        "RANGE BETWEEN 1.5 PRECEDING AND 0.5 FOLLOWING",
        "RANGE BETWEEN 3 PRECEDING AND 1 PRECEDING",
        "RANGE BETWEEN 1 FOLLOWING AND 4 FOLLOWING",
    ],
)
@pytest.mark.parametrize("order", ["x", "x DESC", "x NULLS LAST", "x DESC NULLS FIRST"])
def test_frames(pair: Pair, frame: str, order: str) -> None:
    calls = ["sum(x)", "count(*)", "group_concat(s)", "first_value(s)", "last_value(s)", "min(x)"]
    if frame.startswith("ROWS"):
        order += ", id"  # ROWS frames over ties depend on the order of peers
    window = f"(PARTITION BY g ORDER BY {order} {frame})"
    both(pair, f"SELECT id, {', '.join(c + ' OVER ' + window for c in calls)} FROM t ORDER BY id")
    window = f"(ORDER BY {order} {frame})"
    both(pair, f"SELECT id, {', '.join(c + ' OVER ' + window for c in calls)} FROM t ORDER BY id")


def test_frames_without_order_by(pair: Pair) -> None:
    # without ORDER BY every row of the partition is a peer of every other
    both(
        pair,
        "SELECT id, sum(x) OVER (PARTITION BY g), count(*) OVER (), "
        "sum(x) OVER (RANGE CURRENT ROW), last_value(id) OVER (PARTITION BY g) "
        "FROM t ORDER BY id",
    )


def test_default_frame_includes_peers(pair: Pair) -> None:
    # x = 3 twice and 5 twice: the running sum takes both peers at once
    rows = both(pair, "SELECT x, sum(x) OVER (ORDER BY x), count(*) OVER (ORDER BY x) FROM t")
    assert rows.count((3, 9, 6)) == 2
    both(pair, "SELECT x, sum(x) OVER (ORDER BY x ROWS UNBOUNDED PRECEDING) FROM t ORDER BY x, id")


def test_ties_and_nulls_rank(pair: Pair) -> None:
    both(
        pair,
        "SELECT g, x, rank() OVER w, dense_rank() OVER w, row_number() OVER w, "
        "percent_rank() OVER w, cume_dist() OVER w FROM t "
        "WINDOW w AS (PARTITION BY g ORDER BY x) ORDER BY g, x, id",
    )


def test_rows_come_in_the_first_windows_order(pair: Pair) -> None:
    both(pair, "SELECT id, row_number() OVER (ORDER BY x DESC, id) FROM t")
    both(
        pair,
        "SELECT id, row_number() OVER (PARTITION BY g ORDER BY id), "
        "rank() OVER (ORDER BY x, id) FROM t",
    )


def test_several_windows_in_one_query(pair: Pair) -> None:
    both(
        pair,
        "SELECT id, row_number() OVER (ORDER BY id DESC), sum(x) OVER (PARTITION BY g), "
        "lag(s) OVER (PARTITION BY g ORDER BY id), rank() OVER (ORDER BY s DESC), "
        "x - avg(x) OVER (PARTITION BY g) AS dev FROM t ORDER BY id",
    )


def test_window_in_expressions_and_order_by(pair: Pair) -> None:
    both(
        pair,
        "SELECT id, 100.0 * x / sum(x) OVER () AS share, "
        "CASE WHEN rank() OVER (ORDER BY x DESC) <= 3 THEN 'top' ELSE 'rest' END "
        "FROM t ORDER BY row_number() OVER (ORDER BY s DESC)",
    )
    both(pair, "SELECT id, rank() OVER (ORDER BY x) AS r FROM t ORDER BY r DESC, id LIMIT 4")
    both(pair, "SELECT DISTINCT g, count(*) OVER (PARTITION BY g) FROM t ORDER BY 1")


def test_window_over_where_and_expressions(pair: Pair) -> None:
    both(
        pair,
        "SELECT id, sum(x * 2) OVER (PARTITION BY upper(g) ORDER BY x + id) FROM t "
        "WHERE id > ? ORDER BY id",
        3,
    )


def test_pandas_top_n_per_group(pair: Pair) -> None:
    # what analysts write: number rows per group, keep the first n in an outer query
    rows = both(
        pair,
        "SELECT g, id, x FROM (SELECT g, id, x, "
        "ROW_NUMBER() OVER (PARTITION BY g ORDER BY x DESC) AS rn FROM t) AS ranked "
        "WHERE rn <= 2 ORDER BY g, rn",
    )
    assert len(rows) == 5
    both(
        pair,
        "SELECT * FROM (SELECT g, s, x, lag(x) OVER (PARTITION BY g ORDER BY id) AS prev "
        "FROM t) WHERE prev IS NOT NULL AND x > prev ORDER BY s",
    )


def test_grouped_query(pair: Pair) -> None:
    both(
        pair,
        "SELECT g, count(*), rank() OVER (ORDER BY count(*) DESC) FROM t GROUP BY g ORDER BY g",
    )
    both(
        pair,
        "SELECT g, sum(x) AS total_x, sum(sum(x)) OVER () AS grand, "
        "sum(x) * 1.0 / sum(sum(x)) OVER () AS share, "
        "row_number() OVER (ORDER BY g DESC) FROM t GROUP BY g HAVING count(*) > 1 ORDER BY g",
    )
    both(
        pair,
        "SELECT x % 2 AS odd, max(id), lag(max(id)) OVER (ORDER BY x % 2) FROM t "
        "WHERE x IS NOT NULL GROUP BY x % 2 ORDER BY 1",
    )


def test_named_windows(pair: Pair) -> None:
    both(
        pair,
        "SELECT id, sum(x) OVER w, rank() OVER w, sum(x) OVER (w2 ROWS 1 PRECEDING), "
        "count(*) OVER w3 FROM t WINDOW w AS (PARTITION BY g ORDER BY x), "
        "w2 AS (PARTITION BY g), w3 AS (w2 ORDER BY id) ORDER BY id",
    )


def test_window_in_a_view_and_subquery(pair: Pair) -> None:
    for db in pair:
        db.execute(
            "CREATE VIEW ranked AS SELECT id, g, rank() OVER (PARTITION BY g ORDER BY x) AS r "
            "FROM t"
        )
    both(pair, "SELECT * FROM ranked WHERE r = 1 ORDER BY id")
    both(
        pair,
        "SELECT id, (SELECT max(r) FROM (SELECT row_number() OVER () AS r FROM t)) FROM t "
        "ORDER BY id",
    )


def test_window_over_no_rows_and_parameters(pair: Pair) -> None:
    both(pair, "SELECT row_number() OVER () FROM t WHERE id > 100")
    both(pair, "SELECT id, lag(x, ?, ?) OVER (ORDER BY id) FROM t ORDER BY id", 2, "d")
    both(
        pair,
        "SELECT id, sum(x) OVER (ORDER BY id ROWS BETWEEN ? PRECEDING AND ? FOLLOWING) "
        "FROM t ORDER BY id",
        1,
        2,
    )


def test_explain_shows_the_window(pair: Pair) -> None:
    _, strata = pair
    plan = strata.execute("EXPLAIN SELECT rank() OVER (ORDER BY x) FROM t").fetchall()
    assert any("WINDOW" in row[1] for row in plan)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT id FROM t WHERE rank() OVER (ORDER BY x) = 1",
        "SELECT g FROM t GROUP BY g HAVING rank() OVER (ORDER BY g) = 1",
        "SELECT ntile(0) OVER (ORDER BY x) FROM t",
        "SELECT nth_value(x, 0) OVER (ORDER BY x) FROM t",
        "SELECT sum(x) OVER (ROWS -1 PRECEDING) FROM t",
        "SELECT sum(x) OVER (ORDER BY x RANGE -1 PRECEDING) FROM t",
        "SELECT sum(x) OVER (ORDER BY x, id RANGE 1 PRECEDING) FROM t",
        "SELECT sum(x) OVER (ROWS BETWEEN 1 FOLLOWING AND CURRENT ROW) FROM t",
        "SELECT sum(x) OVER (ROWS BETWEEN CURRENT ROW AND 1 PRECEDING) FROM t",
        "SELECT sum(x) OVER w FROM t",
        "SELECT sum(x) OVER (w ORDER BY id) FROM t WINDOW w AS (ORDER BY x)",
        "SELECT abs(x) OVER () FROM t",
        "SELECT sum(DISTINCT x) OVER () FROM t",
        "SELECT sum(rank() OVER ()) OVER () FROM t",
    ],
)
def test_errors(pair: Pair, sql: str) -> None:
    both_fail(pair, sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT sum(x) OVER (ORDER BY x GROUPS 1 PRECEDING) FROM t",
        "SELECT sum(x) OVER (ORDER BY x ROWS 1 PRECEDING EXCLUDE TIES) FROM t",
        "SELECT count(*) FILTER (WHERE x > 1) OVER () FROM t",
    ],
)
def test_refused(pair: Pair, sql: str) -> None:
    _, strata = pair
    with pytest.raises(dialect.NotSupportedError):
        strata.execute(sql).fetchall()
