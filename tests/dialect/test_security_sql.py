"""SQL-side security: read-only connections write nothing, names cannot escape the key space,
credentials never show in errors or ``repr``."""

from __future__ import annotations

import traceback
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dialect
from kvengine import DB
from kvengine.store import open_store
from tests.emulators import Emulator
from tests.kvengine.test_security import stored_state

SECRET = "SENTINEL-" + uuid.uuid4().hex


def _snapshot(url: str) -> tuple[dict[str, bytes], tuple[object, ...] | None]:
    return stored_state(open_store(url))


def _database() -> str:
    url = f"memory://{uuid.uuid4().hex}"
    with dialect.connect(url) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
        cur.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        cur.execute("CREATE VIEW w AS SELECT id FROM t")
        conn.commit()
    return url


WRITES = [
    "INSERT INTO t VALUES (3, 'c')",
    "UPDATE t SET v = 'z' WHERE id = 1",
    "DELETE FROM t",
    "INSERT INTO t VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET v = excluded.v",
    "CREATE TABLE u (id INTEGER PRIMARY KEY)",
    "CREATE TABLE u AS SELECT * FROM t",
    "DROP TABLE t",
    "ALTER TABLE t ADD COLUMN w INTEGER",
    "ALTER TABLE t RENAME TO t2",
    "CREATE INDEX ix ON t (v)",
    "CREATE VIEW w2 AS SELECT 1",
    "DROP VIEW w",
    "CREATE SCHEMA s",
]


@pytest.mark.parametrize("sql", WRITES)
def test_a_read_only_connection_cannot_write(sql: str) -> None:
    url = _database()
    before = _snapshot(url)
    with dialect.connect(url, read_only=True) as conn:
        cur = conn.cursor()
        with pytest.raises(dialect.Error):
            cur.execute(sql)
            conn.commit()
        conn.rollback()
        cur.execute("SELECT id, v FROM t ORDER BY id")
        assert cur.fetchall() == [(1, "a"), (2, "b")]
    assert _snapshot(url) == before


def test_a_read_only_connection_may_use_temporary_tables() -> None:
    """docs/sql.md: read-only connections may create and write temporary tables."""
    url = _database()
    before = _snapshot(url)
    with dialect.connect(url, read_only=True) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TEMPORARY TABLE scratch (id INTEGER PRIMARY KEY, v TEXT)")
        cur.execute("INSERT INTO scratch SELECT id, v FROM t")
        cur.execute("SELECT count(*) FROM scratch")
        assert cur.fetchall() == [(2,)]
        conn.commit()
    assert _snapshot(url) == before


# -- names ---------------------------------------------------------------------------------------

NAMES = st.one_of(
    st.text(min_size=1, max_size=12),
    st.sampled_from(['a"b', "a'b", "a\x00b", "t\x00", "\x00", "a.b", "a/b", "\\", "t", "T"]),
    st.sampled_from(["\u00e9t\u00e9", "\U0001f600", "\u202e", "x" * 300, "catalog", "seq"]),
)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(NAMES, NAMES), min_size=1, max_size=4))
def test_names_round_trip_or_are_refused_and_never_share_keys(
    tables: list[tuple[str, str]],
) -> None:
    url = f"memory://{uuid.uuid4().hex}"
    made: dict[str, tuple[str, int]] = {}
    with dialect.connect(url, autocommit=True) as conn:
        cur = conn.cursor()
        for n, (table, column) in enumerate(tables):
            try:
                cur.execute(f"CREATE TABLE {_quote(table)} ({_quote(column)} INTEGER PRIMARY KEY)")
                cur.execute(f"INSERT INTO {_quote(table)} VALUES (?)", (n,))
            except dialect.Error:
                continue
            made[table] = (column, n)
        for table, (column, n) in made.items():
            cur.execute(f"SELECT {_quote(column)} FROM {_quote(table)}")
            assert cur.fetchall() == [(n,)]
            assert [d[0] for d in cur.description] == [column]
    with DB.open(url, read_only=True) as db:
        for key, _ in db.scan():
            assert key[:1] in (b"\x00", b"t", b"i"), key  # catalog, a row or an index entry


# -- credentials ---------------------------------------------------------------------------------


def test_credentials_never_show_in_errors_or_repr() -> None:
    with pytest.raises(dialect.Error) as info:
        dialect.connect(f"memory://{uuid.uuid4().hex}", token=SECRET)
    shown = [str(info.value), repr(info.value), "".join(traceback.format_exception(info.value))]
    url = _database()
    with dialect.connect(url) as conn:
        cur = conn.cursor()
        shown += [repr(conn), repr(cur)]
    engine = sa.create_engine(f"strata+memory://{uuid.uuid4().hex}?token={SECRET}")
    with pytest.raises(sa.exc.DBAPIError) as sa_info:
        engine.connect()
    shown += [str(sa_info.value), "".join(traceback.format_exception(sa_info.value))]
    shown += [repr(engine), str(engine.url), repr(engine.url)]
    assert not [s for s in shown if SECRET in s]


def test_an_engine_hides_its_storage_options_and_connects_with_them(s3_server: Emulator) -> None:
    # Before: repr(engine) printed the URL's query string, credentials included.
    endpoint = s3_server.storage_options["endpoint_url"]
    url = (
        f"strata+{s3_server.url_prefix}/sec-{uuid.uuid4().hex[:10]}"
        f"?endpoint_url={endpoint}&key=testing&secret={SECRET}&writer=shared"
    )
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
    engine.dispose()  # a new connection from the pool's arguments, not from engine.url
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id FROM t")).all() == [(1,)]
    for shown in (repr(engine), str(engine.url), engine.url.render_as_string(False)):
        assert SECRET not in shown and "secret=redacted" in shown and "key=redacted" in shown
        assert "writer=shared" in shown  # Strata's own parameters stay readable
