"""Query results stream from the store to the cursor, and stay correct when the connection
does something else before they are fully read."""

from __future__ import annotations

import pytest

import dialect


def fill(conn: dialect.Connection, n: int) -> None:
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.cursor().executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i}") for i in range(n)])
    conn.commit()


def test_fetchmany_reads_only_what_is_asked(mem: dialect.Connection) -> None:
    fill(mem, 3000)
    cur = mem.execute("SELECT id, v FROM t ORDER BY id")
    seen = 0
    while batch := cur.fetchmany(100):
        assert batch[0][0] == seen
        seen += len(batch)
        assert len(cur._rows) <= 100  # the cursor holds one batch, not the result
    assert seen == 3000


def test_another_statement_reads_the_rest_first(mem: dialect.Connection) -> None:
    fill(mem, 500)
    cur = mem.execute("SELECT id FROM t ORDER BY id")
    assert cur.fetchmany(10) == [(i,) for i in range(10)]
    mem.execute("DELETE FROM t WHERE id >= 10")  # the open result is read before this runs
    assert len(cur.fetchall()) == 490
    mem.commit()
    assert mem.execute("SELECT count(*) FROM t").fetchone() == (10,)


def test_autocommit_stream_survives_until_next_statement(mem: dialect.Connection) -> None:
    fill(mem, 300)
    mem.autocommit = True
    cur = mem.execute("SELECT id FROM t")
    assert cur.fetchone() == (0,)
    other = mem.execute("SELECT count(*) FROM t")
    assert other.fetchone() == (300,)
    assert len(cur.fetchall()) == 299


def test_errors_while_streaming_are_pep249(mem: dialect.Connection) -> None:
    mem.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, x TEXT)")
    mem.execute("INSERT INTO b VALUES (1, NULL), (2, 'nope')")
    cur = mem.execute("SELECT CAST(x AS DATE) FROM b ORDER BY id")
    assert cur.fetchone() == (None,)
    with pytest.raises(dialect.DataError):  # 'nope' is no date
        cur.fetchone()


def test_a_query_failing_on_its_first_row_leaves_no_stale_description(
    mem: dialect.Connection,
) -> None:
    cur = mem.execute("SELECT 1 AS one")
    assert cur.description is not None
    with pytest.raises(dialect.DataError):
        cur.execute("SELECT CAST('nope' AS DATE) AS d")
    assert cur.description is None
    with pytest.raises(dialect.ProgrammingError):
        cur.fetchall()
