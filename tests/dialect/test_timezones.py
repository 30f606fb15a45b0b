"""Aware timestamps (issue 10): a TIMESTAMP column keeps an aware value's UTC offset in rows
and in primary keys; keys and indexes order by the instant, and equal instants are one key,
as PostgreSQL's TIMESTAMP WITH TIME ZONE compares them (docs/sql-format.md#keys)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

import dialect
from dialect.errors import IntegrityError


def tz(hours: int) -> dt.timezone:
    return dt.timezone(dt.timedelta(hours=hours))


NOON_UTC = dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)
ONE_PM_PLUS_ONE = dt.datetime(2024, 1, 1, 13, tzinfo=tz(1))  # the same instant
# wall clocks in the opposite order of their instants
INSTANTS = [
    dt.datetime(2024, 1, 1, 14, tzinfo=tz(5)),  # 09:00 UTC
    dt.datetime(2024, 1, 1, 5, tzinfo=tz(-5)),  # 10:00 UTC
    dt.datetime(2024, 1, 1, 11, tzinfo=dt.UTC),  # 11:00 UTC
    dt.datetime(2024, 1, 1, 3, tzinfo=tz(-9)),  # 12:00 UTC
]


@pytest.fixture
def cur() -> dialect.Cursor:
    return dialect.connect(f"memory://{uuid.uuid4().hex}").cursor()


def test_aware_primary_key_reads_back_with_its_offset(cur: dialect.Cursor) -> None:
    cur.execute("CREATE TABLE t (at TIMESTAMP PRIMARY KEY, n INTEGER)")
    cur.executemany("INSERT INTO t VALUES (?, ?)", [(v, i) for i, v in enumerate(INSTANTS)])
    rows = cur.execute("SELECT at, n FROM t ORDER BY at").fetchall()
    assert [r[1] for r in rows] == [0, 1, 2, 3]
    assert [(r[0], r[0].utcoffset()) for r in rows] == [(v, v.utcoffset()) for v in INSTANTS]
    # a lookup by the same instant in another offset finds the row
    other = INSTANTS[1].astimezone(tz(3))
    assert cur.execute("SELECT n FROM t WHERE at = ?", (other,)).fetchall() == [(1,)]


def test_equal_instants_are_one_key(cur: dialect.Cursor) -> None:
    cur.execute("CREATE TABLE t (at TIMESTAMP PRIMARY KEY)")
    cur.execute("INSERT INTO t VALUES (?)", (NOON_UTC,))
    with pytest.raises(IntegrityError):
        cur.execute("INSERT INTO t VALUES (?)", (ONE_PM_PLUS_ONE,))
    # the first written keeps its offset
    (got,) = cur.execute("SELECT at FROM t").fetchone()
    assert got == NOON_UTC and got.utcoffset() == dt.timedelta(0)
    cur.execute("UPDATE t SET at = ?", (ONE_PM_PLUS_ONE,))  # same instant, new offset
    (got,) = cur.execute("SELECT at FROM t").fetchone()
    assert got.utcoffset() == dt.timedelta(hours=1) and got.hour == 13


def test_unique_index_compares_instants(cur: dialect.Cursor) -> None:
    cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, at TIMESTAMP UNIQUE)")
    cur.execute("INSERT INTO t VALUES (1, ?)", (NOON_UTC,))
    with pytest.raises(IntegrityError):
        cur.execute("INSERT INTO t VALUES (2, ?)", (ONE_PM_PLUS_ONE,))


def test_indexed_range_scan_orders_by_instant(cur: dialect.Cursor) -> None:
    cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, at TIMESTAMP)")
    cur.execute("CREATE INDEX t_at ON t (at)")
    cur.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(INSTANTS)))
    low = dt.datetime(2024, 1, 1, 11, 30, tzinfo=tz(1))  # 10:30 UTC
    high = dt.datetime(2024, 1, 1, 7, tzinfo=tz(-5))  # 12:00 UTC
    rows = cur.execute(
        "SELECT id, at FROM t WHERE at > ? AND at <= ? ORDER BY at", (low, high)
    ).fetchall()
    assert rows == [(2, INSTANTS[2]), (3, INSTANTS[3])]
    assert [r[1].utcoffset() for r in rows] == [v.utcoffset() for v in INSTANTS[2:]]
    rows = cur.execute("SELECT id FROM t WHERE at >= ? ORDER BY at DESC", (INSTANTS[1],))
    assert rows.fetchall() == [(3,), (2,), (1,)]


def test_composite_key_with_an_aware_timestamp(cur: dialect.Cursor) -> None:
    cur.execute("CREATE TABLE t (k TEXT, at TIMESTAMP, PRIMARY KEY (k, at))")
    cur.executemany("INSERT INTO t VALUES ('a', ?)", [(v,) for v in reversed(INSTANTS)])
    rows = cur.execute("SELECT at FROM t WHERE k = 'a'").fetchall()
    assert [r[0] for r in rows] == INSTANTS
    assert [r[0].tzinfo for r in rows] == [v.tzinfo for v in INSTANTS]


def test_sqlalchemy_datetime_with_timezone() -> None:
    sa = pytest.importorskip("sqlalchemy")
    engine = sa.create_engine(f"strata+memory://{uuid.uuid4().hex}")
    meta = sa.MetaData()
    t = sa.Table("t", meta, sa.Column("at", sa.DateTime(timezone=True), primary_key=True))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"at": v} for v in INSTANTS])
        got = conn.execute(sa.select(t.c.at).order_by(t.c.at)).scalars().all()
    assert got == INSTANTS
    assert [v.utcoffset() for v in got] == [v.utcoffset() for v in INSTANTS]
