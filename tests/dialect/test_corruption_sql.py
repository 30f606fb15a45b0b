"""The corruption matrix through SQL: a damaged object of any kind makes a query raise a
``dialect.DatabaseError`` naming the object, never return wrong rows, never hang."""

from __future__ import annotations

import uuid

import pytest

import dialect
from kvengine import DB
from kvengine.store import open_store
from tests.kvengine.test_corruption_matrix import KINDS, OPTS, REPLACEABLE, Built, corrupt

ROWS = 60


def build_sql() -> tuple[Built, list[tuple[int, str]]]:
    url = f"memory://{uuid.uuid4().hex}"
    with dialect.connect(url) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        cur.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"old-{i:04d}") for i in range(ROWS)])
        conn.commit()
    with DB.open(url, options=OPTS) as db:
        db.flush()
    with dialect.connect(url) as conn:
        conn.cursor().execute("UPDATE t SET v = 'new' || substr(v, 4)")
        conn.commit()
    with DB.open(url, options=OPTS) as db:
        db.flush()
    for i in range(2):
        with dialect.connect(url) as conn:
            conn.cursor().execute("INSERT INTO t VALUES (?, ?)", (1000 + i, "tail"))
            conn.commit()
    store = open_store(url)
    wals = [o.path for o in store.list("wal/")]
    ssts = [o.path for o in store.list("sst/")]
    manifests = [o.path for o in store.list("manifest/")]
    rows = [(i, f"new-{i:04d}") for i in range(ROWS)] + [(1000, "tail"), (1001, "tail")]
    built = Built(
        url, {}, (wals[-1], wals[-2]), (ssts[-1], ssts[0]), (manifests[-1], manifests[-2])
    )
    return built, rows


CASES = [(kind, how) for kind in KINDS for how in ("flip0", "flip50", "flip100", "cut60")] + [
    (kind, "replaced") for kind in REPLACEABLE
]


@pytest.mark.parametrize(("kind", "how"), CASES)
def test_a_query_over_a_damaged_object_is_a_database_error(kind: str, how: str) -> None:
    built, rows = build_sql()
    path = corrupt(built, kind, how)
    try:
        with dialect.connect(built.url, read_only=True) as conn:
            cur = conn.cursor()
            cur.execute("SELECT id, v FROM t ORDER BY id")
            got = cur.fetchall()
            for i in (0, ROWS - 1, 1001):
                cur.execute("SELECT v FROM t WHERE id = ?", (i,))
                cur.fetchall()
    except dialect.DatabaseError as exc:
        assert path in str(exc)
        return
    assert [tuple(r) for r in got] == rows, "wrong rows returned"
    pytest.fail(f"{kind}/{how} was not detected (the rows were right)")
