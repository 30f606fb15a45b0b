"""SAVEPOINT, ROLLBACK TO and RELEASE, compared with sqlite3 (run with ``isolation_level=None``
so that sqlite3 sends the statements as written; an explicit BEGIN stands for the transaction a
PEP 249 connection always has open)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import dialect
from dialect.parse import prepare
from tests.dialect.oracle import both

Pair = tuple[sqlite3.Connection, dialect.Connection]


def _pair(autocommit: bool) -> tuple[sqlite3.Connection, dialect.Connection]:
    oracle = sqlite3.connect(":memory:", isolation_level=None)
    strata = dialect.connect(f"memory://{uuid.uuid4().hex}", autocommit=autocommit)
    return oracle, strata


@pytest.fixture
def pair() -> Iterator[Pair]:
    """Strata in its default mode (a transaction is always open) and sqlite inside BEGIN."""
    oracle, strata = _pair(autocommit=False)
    yield oracle, strata
    oracle.close()
    strata.close()


@pytest.fixture
def auto() -> Iterator[Pair]:
    """Both in autocommit mode."""
    oracle, strata = _pair(autocommit=True)
    yield oracle, strata
    oracle.close()
    strata.close()


def both_fail(pair: Pair, sql: str) -> dialect.Error:
    """``sql`` fails on both, with the same message; Strata's error."""
    oracle, strata = pair
    with pytest.raises(sqlite3.Error) as expected:
        oracle.execute(sql)
    with pytest.raises(dialect.Error) as got:
        strata.execute(sql)
    assert str(got.value) == str(expected.value), sql
    return got.value


def rows(pair: Pair) -> Any:
    return both(pair, "SELECT id, v FROM t ORDER BY id")


def setup(pair: Pair) -> None:
    both(pair, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
    both(pair, "INSERT INTO t VALUES (1, 'a')")
    pair[1].commit()  # sqlite (isolation_level=None) committed it already
    both(pair, "BEGIN")


def test_rollback_to_undoes_later_writes_and_keeps_the_savepoint(pair: Pair) -> None:
    setup(pair)
    both(pair, "INSERT INTO t VALUES (2, 'b')")
    both(pair, "SAVEPOINT s")
    both(pair, "INSERT INTO t VALUES (3, 'c')")
    both(pair, "UPDATE t SET v = 'A' WHERE id = 1")
    both(pair, "DELETE FROM t WHERE id = 2")
    assert rows(pair) == [(1, "A"), (3, "c")]
    both(pair, "ROLLBACK TO s")
    assert rows(pair) == [(1, "a"), (2, "b")]
    both(pair, "INSERT INTO t VALUES (4, 'd')")  # more writes after ROLLBACK TO
    both(pair, "ROLLBACK TO SAVEPOINT s")  # still open: back to the same point
    both(pair, "INSERT INTO t VALUES (5, 'e')")
    both(pair, "RELEASE s")
    both(pair, "COMMIT")
    assert rows(pair) == [(1, "a"), (2, "b"), (5, "e")]


def test_nested_savepoints(pair: Pair) -> None:
    setup(pair)
    both(pair, "SAVEPOINT outer_sp")
    both(pair, "INSERT INTO t VALUES (2, 'b')")
    both(pair, "SAVEPOINT inner_sp")
    both(pair, "INSERT INTO t VALUES (3, 'c')")
    both(pair, "SAVEPOINT innermost")
    both(pair, "INSERT INTO t VALUES (4, 'd')")
    both(pair, "ROLLBACK TO inner_sp")  # also drops innermost
    both_fail(pair, "RELEASE innermost")
    assert rows(pair) == [(1, "a"), (2, "b")]
    both(pair, "INSERT INTO t VALUES (6, 'f')")
    both(pair, "RELEASE inner_sp")
    both(pair, "ROLLBACK TO outer_sp")  # undoes what the released inner savepoint kept
    assert rows(pair) == [(1, "a")]
    both(pair, "INSERT INTO t VALUES (7, 'g')")
    both(pair, "COMMIT")
    assert rows(pair) == [(1, "a"), (7, "g")]


def test_repeated_names_innermost_wins(pair: Pair) -> None:
    setup(pair)
    both(pair, "SAVEPOINT s")
    both(pair, "INSERT INTO t VALUES (2, 'b')")
    both(pair, "SAVEPOINT S")  # names are case-insensitive, as in SQLite
    both(pair, "INSERT INTO t VALUES (3, 'c')")
    both(pair, "ROLLBACK TO s")
    assert rows(pair) == [(1, "a"), (2, "b")]
    both(pair, "RELEASE s")  # the inner one
    both(pair, "ROLLBACK TO s")  # the outer one is still there
    assert rows(pair) == [(1, "a")]
    both(pair, 'RELEASE SAVEPOINT "s"')
    both_fail(pair, "RELEASE s")


def test_release_keeps_writes_and_rollback_discards_them(pair: Pair) -> None:
    setup(pair)
    both(pair, "SAVEPOINT s")
    both(pair, "INSERT INTO t VALUES (2, 'b')")
    both(pair, "RELEASE SAVEPOINT s")
    both(pair, "ROLLBACK")
    assert rows(pair) == [(1, "a")]
    both(pair, "BEGIN")
    both(pair, "SAVEPOINT s")
    both(pair, "INSERT INTO t VALUES (2, 'b')")
    both(pair, "RELEASE s")
    both(pair, "COMMIT")
    assert rows(pair) == [(1, "a"), (2, "b")]


def test_failed_statement_inside_a_savepoint(pair: Pair) -> None:
    setup(pair)
    both(pair, "SAVEPOINT s")
    both(pair, "INSERT INTO t VALUES (2, 'b')")
    both(pair, "SAVEPOINT t2")
    both(pair, "INSERT INTO t VALUES (3, 'c')")
    with pytest.raises(dialect.IntegrityError):
        pair[1].execute("INSERT INTO t VALUES (4, 'a'), (5, 'z')")  # the second row is undone too
    with pytest.raises(sqlite3.IntegrityError):
        pair[0].execute("INSERT INTO t VALUES (4, 'a'), (5, 'z')")
    assert rows(pair) == [(1, "a"), (2, "b"), (3, "c")]
    both(pair, "ROLLBACK TO t2")  # the undo entries of the statements before it were kept
    assert rows(pair) == [(1, "a"), (2, "b")]
    both(pair, "RELEASE s")
    both(pair, "COMMIT")
    assert rows(pair) == [(1, "a"), (2, "b")]


def test_unknown_savepoints(pair: Pair) -> None:
    both(pair, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
    error = both_fail(pair, "ROLLBACK TO nope")  # no transaction open
    assert isinstance(error, dialect.OperationalError)
    both_fail(pair, "RELEASE nope")
    both(pair, "BEGIN")
    both(pair, "SAVEPOINT s")
    both_fail(pair, "RELEASE SAVEPOINT nope")
    both_fail(pair, "ROLLBACK TO SAVEPOINT nope")
    both(pair, "COMMIT")  # ends the savepoints with the transaction
    both_fail(pair, "ROLLBACK TO s")


def test_rollback_to_undoes_a_schema_change(mem: dialect.Connection) -> None:
    # Schema changes are transactional: the savepoint stays, as in SQLite.
    mem.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    mem.execute("SAVEPOINT s")
    mem.execute("INSERT INTO t VALUES (1)")
    mem.execute("CREATE TABLE u (id INTEGER PRIMARY KEY)")
    mem.execute("ROLLBACK TO s")
    assert mem.catalog.table("u") is None
    mem.commit()
    assert mem.execute("SELECT id FROM t").fetchall() == []


def test_autocommit_savepoint_begins_a_transaction_release_commits(auto: Pair) -> None:
    oracle, strata = auto
    both(auto, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
    both(auto, "SAVEPOINT a")
    both(auto, "INSERT INTO t VALUES (1, 'a')")
    both(auto, "SAVEPOINT b")
    both(auto, "INSERT INTO t VALUES (2, 'b')")
    with pytest.raises(sqlite3.IntegrityError):
        oracle.execute("INSERT INTO t VALUES (3, 'a')")
    with pytest.raises(dialect.IntegrityError):  # fails alone: the transaction stays open
        strata.execute("INSERT INTO t VALUES (3, 'a')")
    both(auto, "ROLLBACK TO b")
    both(auto, "RELEASE b")  # not the outermost: nothing is committed yet
    assert oracle.in_transaction
    both(auto, "RELEASE a")  # the outermost: commits
    assert not oracle.in_transaction
    assert rows(auto) == [(1, "a")]
    both(auto, "SAVEPOINT c")
    both(auto, "INSERT INTO t VALUES (4, 'd')")
    both(auto, "ROLLBACK TO c")
    both(auto, "RELEASE c")
    both(auto, "INSERT INTO t VALUES (5, 'e')")  # autocommit again: commits on its own
    assert rows(auto) == [(1, "a"), (5, "e")]


def test_autocommit_release_is_visible_to_other_connections() -> None:
    url = f"memory://{uuid.uuid4().hex}"
    with dialect.connect(url, autocommit=True) as writer, dialect.connect(url) as reader:
        writer.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        writer.execute("SAVEPOINT a")
        writer.execute("INSERT INTO t VALUES (1)")
        reader.rollback()
        assert reader.execute("SELECT count(*) FROM t").fetchall() == [(0,)]
        writer.execute("RELEASE a")
        reader.rollback()
        assert reader.execute("SELECT count(*) FROM t").fetchall() == [(1,)]


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SAVEPOINT", dialect.ProgrammingError),
        ("SAVEPOINT a b", dialect.ProgrammingError),
        ("RELEASE SAVEPOINT a b", dialect.ProgrammingError),
        ("EXPLAIN SAVEPOINT a", dialect.NotSupportedError),
    ],
)
def test_malformed(mem: dialect.Connection, sql: str, error: type[dialect.Error]) -> None:
    with pytest.raises(error):
        mem.execute(sql)


@pytest.mark.parametrize(
    ("sql", "action", "name"),
    [
        ("savepoint sp", "SAVEPOINT", "sp"),
        ('SAVEPOINT "a b";', "SAVEPOINT", "a b"),
        ("RELEASE sp", "RELEASE", "sp"),
        ("/* c */ release savepoint sa_savepoint_1", "RELEASE", "sa_savepoint_1"),
        ("RELEASE SAVEPOINT", "RELEASE", "SAVEPOINT"),  # alone, the keyword is the name
        ("ROLLBACK TO sp", "ROLLBACK TO", "sp"),
        ("rollback transaction to savepoint [sp] ;", "ROLLBACK TO", "sp"),
    ],
)
def test_recognised(sql: str, action: str, name: str) -> None:
    statement = prepare(sql).savepoint
    assert statement is not None
    assert (statement.action, statement.name) == (action, name)


def test_rollback_without_to_is_not_a_savepoint_statement() -> None:
    assert prepare("ROLLBACK TRANSACTION").savepoint is None
    assert prepare("SELECT 1 AS savepoint").savepoint is None
