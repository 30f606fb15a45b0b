"""``OFFSET … FETCH FIRST … {ONLY|WITH TIES}`` and ``PERCENT``. SQLite has no FETCH: each
query is compared with the sqlite3 query that means the same (LIMIT/OFFSET; RANK() for ties;
a count for percent)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

import dialect
from tests.dialect.oracle import Pair, open_pair

ROWS = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 4), (6, None), (7, 2)]


@pytest.fixture
def pair() -> Iterator[Pair]:
    with open_pair("CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER)") as pair:
        for db in pair:
            for row in ROWS:
                db.execute("INSERT INTO t VALUES (?, ?)", row)
            db.commit()
        yield pair


def same(pair: Pair, fetch_sql: str, sqlite_sql: str, *params: object) -> list[tuple[object, ...]]:
    """Strata's rows of ``fetch_sql`` equal sqlite3's of ``sqlite_sql``, in order."""
    oracle, strata = pair
    expected = oracle.execute(sqlite_sql, params).fetchall()
    got = [tuple(r) for r in strata.execute(fetch_sql, params).fetchall()]
    assert got == expected, fetch_sql
    return got


@pytest.mark.parametrize(
    ("fetch", "limit"),
    [
        ("FETCH FIRST 3 ROWS ONLY", "LIMIT 3"),
        ("FETCH NEXT 1 ROW ONLY", "LIMIT 1"),
        ("FETCH FIRST ROW ONLY", "LIMIT 1"),
        ("FETCH FIRST 0 ROWS ONLY", "LIMIT 0"),
        ("OFFSET 2 ROWS FETCH FIRST 2 ROWS ONLY", "LIMIT 2 OFFSET 2"),
        ("OFFSET 5 ROWS", "LIMIT -1 OFFSET 5"),
        ("OFFSET 1 ROW FETCH FIRST (1 + 1) ROWS ONLY", "LIMIT 1 + 1 OFFSET 1"),
        ("OFFSET 9 ROWS FETCH FIRST 2 ROWS ONLY", "LIMIT 2 OFFSET 9"),
    ],
)
def test_fetch_only_is_limit(pair: Pair, fetch: str, limit: str) -> None:
    for order in ("id", "x DESC, id", "id DESC"):
        same(
            pair,
            f"SELECT * FROM t ORDER BY {order} {fetch}",
            f"SELECT * FROM t ORDER BY {order} {limit}",
        )


def test_fetch_with_parameters(pair: Pair) -> None:
    same(
        pair,
        "SELECT id FROM t ORDER BY id OFFSET ? ROWS FETCH FIRST ? ROWS ONLY",
        "SELECT id FROM t ORDER BY id LIMIT ?2 OFFSET ?1",
        1,
        3,
    )


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 7, 9])
@pytest.mark.parametrize("order", ["x", "x DESC", "x DESC, id % 2"])
def test_with_ties_keeps_rows_equal_to_the_last(pair: Pair, n: int, order: str) -> None:
    oracle, strata = pair
    got = strata.execute(f"SELECT * FROM t ORDER BY {order} FETCH FIRST {n} ROWS WITH TIES")
    expected = oracle.execute(
        f"SELECT id, x FROM (SELECT *, RANK() OVER (ORDER BY {order}) AS r FROM t) "
        f"WHERE r <= (SELECT COALESCE(MAX(r), 0) FROM (SELECT RANK() OVER (ORDER BY {order}) "
        f"AS r FROM t ORDER BY {order} LIMIT {n}))"
    )
    assert sorted(map(tuple, got.fetchall()), key=str) == sorted(expected.fetchall(), key=str)


def test_with_ties_after_an_offset_and_over_an_index_order(pair: Pair) -> None:
    """NULLs first, as SQLite orders them: x is NULL, 1, 2, 2, 3, 4, 4."""
    _, strata = pair
    strata.execute("CREATE INDEX ix ON t (x)")
    got = strata.execute(
        "SELECT id, x FROM t ORDER BY x, id OFFSET 3 ROWS FETCH FIRST 2 ROWS WITH TIES"
    ).fetchall()
    assert [tuple(r) for r in got] == [(7, 2), (3, 3)]
    got = strata.execute(
        "SELECT id FROM t ORDER BY x OFFSET 4 ROWS FETCH FIRST 2 ROWS WITH TIES"
    ).fetchall()
    assert sorted(r[0] for r in got) == [3, 4, 5]


@pytest.mark.parametrize(
    ("percent", "count"), [(0, 0), (10, 1), (20, 2), (50, 4), (100, 7), (250, 7)]
)
def test_percent_of_all_rows_rounded_up(pair: Pair, percent: int, count: int) -> None:
    same(
        pair,
        f"SELECT * FROM t ORDER BY id FETCH FIRST {percent} PERCENT ROWS ONLY",
        f"SELECT * FROM t ORDER BY id LIMIT {count}",
    )
    same(
        pair,
        f"SELECT * FROM t ORDER BY id OFFSET 1 ROWS FETCH FIRST {percent} PERCENT ROWS ONLY",
        f"SELECT * FROM t ORDER BY id LIMIT {count} OFFSET 1",
    )


def test_percent_with_ties(pair: Pair) -> None:
    _, strata = pair
    got = strata.execute("SELECT id FROM t ORDER BY x DESC FETCH FIRST 10 PERCENT ROWS WITH TIES")
    assert sorted(r[0] for r in got.fetchall()) == [4, 5]


def test_errors(pair: Pair) -> None:
    _, strata = pair
    with pytest.raises(dialect.ProgrammingError, match="WITH TIES needs ORDER BY"):
        strata.execute("SELECT * FROM t FETCH FIRST 1 ROWS WITH TIES")
    with pytest.raises(dialect.ProgrammingError, match="must be"):
        strata.execute("SELECT * FROM t ORDER BY id FETCH FIRST 'x' PERCENT ROWS ONLY").fetchall()
    with pytest.raises(dialect.ProgrammingError, match="must be an integer"):
        strata.execute("SELECT * FROM t ORDER BY id FETCH FIRST 'x' ROWS WITH TIES").fetchall()


def test_explain_names_the_fetch(pair: Pair) -> None:
    _, strata = pair
    plan = strata.execute("EXPLAIN SELECT * FROM t ORDER BY x FETCH FIRST 2 ROWS WITH TIES")
    assert plan.fetchall()[0][1] == "FETCH FIRST 2 WITH TIES"


def test_sqlalchemy_fetch_renders_expressions_in_parentheses() -> None:
    engine = sa.create_engine(f"strata+memory://{uuid.uuid4().hex}")
    meta = sa.MetaData()
    t = sa.Table("t", meta, sa.Column("id", sa.Integer, primary_key=True))
    meta.create_all(engine)
    with engine.begin() as c:
        c.execute(t.insert(), [{"id": i} for i in range(1, 6)])
        one = sa.literal_column("1")
        stmt = sa.select(t.c.id).order_by(t.c.id).fetch(one + one).offset(one + one)
        assert "FETCH FIRST (1 + 1) ROWS ONLY" in str(stmt.compile(engine))
        assert c.execute(stmt).scalars().all() == [3, 4]
        assert c.execute(sa.select(t.c.id).order_by(t.c.id).fetch(2)).scalars().all() == [1, 2]
    engine.dispose()
