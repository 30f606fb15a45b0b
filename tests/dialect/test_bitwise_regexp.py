"""Bitwise operators and regular expressions, compared with sqlite3 (REGEXP and
regexp_replace registered there as SQLAlchemy's SQLite dialect registers REGEXP: Python's
``re``)."""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

import dialect
from tests.dialect.oracle import Pair, both, open_pair


def _regexp(pattern: str | None, value: str | None) -> bool | None:
    if pattern is None or value is None:
        return None
    return re.search(pattern, value) is not None


def _regexp_replace(value: str | None, pattern: str | None, replacement: str | None) -> str | None:
    if value is None or pattern is None or replacement is None:
        return None
    return re.sub(pattern, replacement, value)


@pytest.fixture
def pair() -> Iterator[Pair]:
    with open_pair(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER, s TEXT)",
        "INSERT INTO t VALUES (1, 12, 10, 'abcde'), (2, -7, 3, 'ABCDE'), (3, NULL, 1, NULL), "
        "(4, 0, -1, 'a.cde a1cde'), (5, 9223372036854775807, 1, '')",
    ) as pair:
        oracle: sqlite3.Connection = pair[0]
        oracle.create_function("regexp", 2, _regexp)
        oracle.create_function("regexp_replace", 3, _regexp_replace)
        yield pair


@pytest.mark.parametrize(
    "expr",
    [
        "a & b",
        "a | b",
        "~a",
        "a << b",
        "a >> b",
        "a << 70",
        "a >> 70",
        "a << -2",
        "b >> -3",
        "(a | b) - (a & b)",
        "a & 3.7",
        "'15x' | a",
        "~(a + b) & 255",
        "1 << 63",
        "a + 1 << 1",
    ],
)
def test_bitwise_as_sqlite(pair: Pair, expr: str) -> None:
    both(pair, f"SELECT id, {expr} FROM t ORDER BY id")


def test_xor_which_sqlite_lacks(pair: Pair) -> None:
    """``^`` is ``(a | b) - (a & b)``."""
    _, strata = pair
    got = strata.execute("SELECT a ^ b FROM t ORDER BY id").fetchall()
    expected = strata.execute("SELECT (a | b) - (a & b) FROM t ORDER BY id").fetchall()
    assert got == expected
    assert got[0] == (6,)


def test_bitwise_in_where(pair: Pair) -> None:
    both(pair, "SELECT id FROM t WHERE a & 4 ORDER BY id")
    both(pair, "SELECT id FROM t WHERE (a >> 1) & 1 = 1 ORDER BY id")


@pytest.mark.parametrize("pattern", ["b", "^a", "a.cde", r"a\.cde", "(?i)abc", "e$", "^$", "[0-9]"])
def test_regexp_as_sqlalchemy_defines_it_on_sqlite(pair: Pair, pattern: str) -> None:
    both(pair, "SELECT id, s REGEXP ? FROM t ORDER BY id", pattern)
    both(pair, "SELECT id FROM t WHERE s NOT REGEXP ? ORDER BY id", pattern)


def test_regexp_replace_replaces_every_match(pair: Pair) -> None:
    both(pair, "SELECT id, regexp_replace(s, 'a.c', 'X') FROM t ORDER BY id")
    both(pair, r"SELECT id, regexp_replace(s, '(b)(c)', '\2\1') FROM t ORDER BY id")
    both(pair, "SELECT id, regexp_replace(s, ?, ?) FROM t ORDER BY id", "[ace]", "")


def test_regexp_flags(pair: Pair) -> None:
    _, strata = pair
    rows = strata.execute("SELECT id FROM t WHERE regexp_like(s, 'abc', 'i') ORDER BY id")
    assert rows.fetchall() == [(1,), (2,)]
    rows = strata.execute("SELECT regexp_replace(s, 'B', '-', 'ig') FROM t WHERE id = 1")
    assert rows.fetchall() == [("a-cde",)]
    with pytest.raises(dialect.ProgrammingError, match="flag"):
        strata.execute("SELECT regexp_like(s, 'a', 'q') FROM t").fetchall()


def test_regexp_errors(pair: Pair) -> None:
    _, strata = pair
    with pytest.raises(dialect.ProgrammingError, match="bad regular expression"):
        strata.execute("SELECT s REGEXP '(' FROM t").fetchall()
    with pytest.raises(dialect.NotSupportedError, match="regexp_replace takes"):
        strata.execute("SELECT regexp_replace(s, 'a', 'b', 2) FROM t").fetchall()


def test_sqlalchemy_renders_them() -> None:
    engine = sa.create_engine(f"strata+memory://{uuid.uuid4().hex}")
    meta = sa.MetaData()
    t = sa.Table("t", meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("s", sa.Text))
    meta.create_all(engine)
    with engine.begin() as c:
        c.execute(t.insert(), [{"id": 5, "s": "abc"}, {"id": 6, "s": "ABX"}])
        ids = c.execute(sa.select(t.c.id).where(t.c.s.regexp_match("^ab"))).scalars().all()
        assert ids == [5]
        flagged = sa.select(t.c.id).where(t.c.s.regexp_match("^ab", flags="i")).order_by(t.c.id)
        assert c.execute(flagged).scalars().all() == [5, 6]
        assert c.execute(sa.select(t.c.id).where(~t.c.s.regexp_match("^ab"))).scalar() == 6
        replaced = sa.select(t.c.s.regexp_replace("[bB]", "-")).order_by(t.c.id)
        assert c.execute(replaced).scalars().all() == ["a-c", "A-X"]
        bits = sa.select(
            t.c.id.bitwise_and(4),
            t.c.id.bitwise_or(8),
            t.c.id.bitwise_xor(3),
            t.c.id.bitwise_not(),
            t.c.id.bitwise_lshift(2),
            t.c.id.bitwise_rshift(1),
        ).order_by(t.c.id)
        assert c.execute(bits).all() == [(4, 13, 6, -6, 20, 2), (4, 14, 5, -7, 24, 3)]
    engine.dispose()
