"""Schema changes compared with sqlite3: renames that CHECKs, foreign keys and views follow;
CREATE INDEX that fails or is interrupted leaves nothing behind; refused statements."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dialect
from dialect.catalog import Index
from dialect.errors import IntegrityError, NotSupportedError, ProgrammingError
from dialect.layout import index_prefix
from dialect.tablerows import RowCodec


@pytest.fixture
def pair() -> Iterator[tuple[dialect.Connection, sqlite3.Connection]]:
    """A Strata connection and a sqlite3 one (the oracle), both autocommitting."""
    strata = dialect.connect(f"memory://{uuid.uuid4().hex}", autocommit=True)
    oracle = sqlite3.connect(":memory:", isolation_level=None)
    yield strata, oracle
    strata.close()
    oracle.close()


def both(pair: tuple[dialect.Connection, sqlite3.Connection], sql: str, *params: Any) -> Any:
    """Run ``sql`` on both; the rows (or the rowcount) must agree, or both must fail."""
    strata, oracle = pair
    outcomes = []
    for conn in (strata, oracle):
        try:
            cur = conn.execute(sql, params)
            outcomes.append(
                ("rows", cur.fetchall()) if cur.description is not None else ("n", cur.rowcount)
            )
        except (dialect.Error, sqlite3.Error) as exc:
            outcomes.append(("error", type(exc).__name__))
    got, expected = outcomes
    if expected[0] == "error":
        assert got[0] == "error", (sql, got, expected)
    else:
        assert got == expected, (sql, got, expected)
    return got[1]


def foreign_keys(oracle: sqlite3.Connection, table: str) -> list[tuple[str, str, str]]:
    return [
        (row[3], row[2], row[4])  # from, table, to
        for row in oracle.execute(f"PRAGMA foreign_key_list({table})")
    ]


def strata_foreign_keys(strata: dialect.Connection, table: str) -> list[tuple[str, str, str]]:
    t = strata.catalog.table(table)
    assert t is not None
    return [
        (col, fk.ref_table, ref)
        for fk in t.foreign_keys
        for col, ref in zip(fk.columns, fk.ref_columns, strict=True)
    ]


SCHEMA = [
    "CREATE TABLE p (id INTEGER PRIMARY KEY, a INT CHECK (a > 0), b INT, "
    "CONSTRAINT a_below_b CHECK (a < b))",
    "CREATE TABLE c (x INT REFERENCES p (a), y INT, FOREIGN KEY (y) REFERENCES p (id))",
    "CREATE VIEW v AS SELECT a, b AS bb FROM p WHERE a > 1",
    "CREATE VIEW w AS SELECT p.a, c.y FROM p JOIN c ON p.a = c.x",
    "INSERT INTO p VALUES (1, 2, 3)",
    "INSERT INTO c VALUES (2, 1)",
]


def test_rename_column_renames_checks(
    pair: tuple[dialect.Connection, sqlite3.Connection],
) -> None:
    for sql in SCHEMA:
        both(pair, sql)
    both(pair, "ALTER TABLE p RENAME COLUMN a TO z")
    both(pair, "INSERT INTO p VALUES (2, 5, 9)")  # was: no such column: a
    both(pair, "INSERT INTO p VALUES (3, -1, 9)")  # CHECK (z > 0) still holds
    both(pair, "INSERT INTO p VALUES (4, 9, 5)")  # CHECK (z < b) still holds
    both(pair, "UPDATE p SET z = 0 WHERE id = 1")
    both(pair, "SELECT id, z, b FROM p ORDER BY id")
    strata, _ = pair
    table = strata.catalog.table("p")
    assert table is not None
    assert [c.sql for c in table.checks] == ["z > 0", "z < b"]


def test_rename_column_renames_foreign_keys_and_views(
    pair: tuple[dialect.Connection, sqlite3.Connection],
) -> None:
    for sql in SCHEMA:
        both(pair, sql)
    both(pair, "ALTER TABLE p RENAME COLUMN a TO z")
    both(pair, "ALTER TABLE c RENAME COLUMN y TO yy")
    strata, oracle = pair
    for table in ("p", "c"):
        assert sorted(strata_foreign_keys(strata, table)) == sorted(foreign_keys(oracle, table))
    for view in ("v", "w"):
        both(pair, f"SELECT * FROM {view}")
        names = [d[0] for d in strata.execute(f"SELECT * FROM {view}").description]
        assert names == [d[0] for d in oracle.execute(f"SELECT * FROM {view}").description]


def test_rename_table_renames_views_and_foreign_keys_of_other_tables(
    pair: tuple[dialect.Connection, sqlite3.Connection],
) -> None:
    for sql in SCHEMA:
        both(pair, sql)
    both(pair, "ALTER TABLE p RENAME TO q")
    both(pair, "SELECT * FROM v")  # was: no such table: p
    both(pair, "SELECT * FROM w")
    both(pair, "INSERT INTO q VALUES (5, 6, 7)")
    both(pair, "SELECT * FROM v")
    strata, oracle = pair
    assert sorted(strata_foreign_keys(strata, "c")) == sorted(foreign_keys(oracle, "c"))
    both(pair, "SELECT * FROM p")  # gone under its old name


def test_rename_checks_names(pair: tuple[dialect.Connection, sqlite3.Connection]) -> None:
    both(pair, "CREATE TABLE t (a INT, b INT)")
    both(pair, "CREATE TABLE u (a INT)")
    both(pair, "ALTER TABLE t RENAME COLUMN a TO b")  # duplicate
    both(pair, "ALTER TABLE t RENAME COLUMN nope TO c")
    both(pair, "ALTER TABLE t RENAME TO u")  # taken
    both(pair, "CREATE TABLE bad (a INT CHECK (nope > 0))")
    both(pair, "CREATE TABLE bad (a INT, PRIMARY KEY (nope))")
    both(pair, "CREATE TABLE bad (a INT PRIMARY KEY, b INT PRIMARY KEY)")
    both(pair, "ALTER TABLE t RENAME COLUMN A TO x")  # names match without case
    both(pair, "INSERT INTO t (x, b) VALUES (1, 2)")
    both(pair, "SELECT x, b FROM t")


def test_renamed_key_and_index_columns_keep_working(
    pair: tuple[dialect.Connection, sqlite3.Connection],
) -> None:
    both(pair, "CREATE TABLE t (k TEXT, n INT, v INT, PRIMARY KEY (k, n), UNIQUE (v))")
    both(pair, "CREATE INDEX t_v_n ON t (v, n)")
    both(pair, "INSERT INTO t VALUES ('a', 1, 10), ('a', 2, 20), ('b', 1, 30)")
    both(pair, "ALTER TABLE t RENAME COLUMN n TO m")
    both(pair, "ALTER TABLE t RENAME COLUMN v TO w")
    both(pair, "INSERT INTO t VALUES ('a', 1, 40)")  # primary key
    both(pair, "INSERT INTO t VALUES ('c', 1, 10)")  # UNIQUE
    both(pair, "SELECT k, m FROM t WHERE w >= 20 AND m = 1 ORDER BY k")
    both(pair, "UPDATE t SET w = w + 1 WHERE k = 'a' AND m = 2")
    both(pair, "SELECT * FROM t ORDER BY k, m")


def test_failed_unique_index_leaves_nothing_for_the_next_index(
    pair: tuple[dialect.Connection, sqlite3.Connection],
) -> None:
    both(pair, "CREATE TABLE t (id INTEGER PRIMARY KEY, a INT, b INT)")
    rows = [(i, i, i) for i in range(1500)]
    rows[1400] = (1400, 7, 1400)  # a duplicate of row 7, late in the table
    strata, oracle = pair
    strata.cursor().executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    oracle.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    both(pair, "CREATE UNIQUE INDEX t_a ON t (a)")
    both(pair, "CREATE INDEX t_b ON t (b)")
    assert both(pair, "SELECT COUNT(*) FROM t WHERE b >= 0") == [(1500,)]
    assert both(pair, "UPDATE t SET a = a + 1 WHERE b >= 0") == 1500
    assert both(pair, "SELECT COUNT(*) FROM t WHERE a >= 0") == [(1500,)]


def _index_keys(conn: dialect.Connection, index_id: int) -> int:
    start = index_prefix(index_id)
    with conn._database.db.transaction() as txn:
        return sum(1 for _ in txn.scan_prefix(start))


def test_create_index_interrupted_mid_backfill_leaves_nothing(
    mem: dialect.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    mem.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, b INT)")
    mem.cursor().executemany("INSERT INTO t VALUES (?, ?)", [(i, i % 10) for i in range(1500)])
    mem.commit()
    real = RowCodec.index_entry
    calls = 0

    def failing(self: RowCodec, index: Any, row: Any) -> bytes:
        nonlocal calls
        calls += 1
        if calls == 1200:
            raise KeyboardInterrupt  # not an SQL error: the process is being stopped
        return real(self, index, row)

    monkeypatch.setattr(RowCodec, "index_entry", failing)
    with pytest.raises(KeyboardInterrupt):
        mem.execute("CREATE INDEX t_b ON t (b)")
    monkeypatch.setattr(RowCodec, "index_entry", real)
    assert mem.catalog.index("t_b") is None
    assert _index_keys(mem, mem.catalog.next_index_id) == 0
    mem.execute("CREATE INDEX t_b2 ON t (b)")
    assert mem.execute("SELECT COUNT(*) FROM t WHERE b >= 0").fetchall() == [(1500,)]
    assert mem.execute("SELECT COUNT(*) FROM t WHERE b = 3").fetchall() == [(150,)]


def test_new_index_ignores_entries_left_in_its_key_range(mem: dialect.Connection) -> None:
    """Entries under an unused index id (left by a failure before this version) are not
    inherited by the index that gets the id."""
    mem.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, b INT)")
    mem.cursor().executemany("INSERT INTO t VALUES (?, ?)", [(i, i) for i in range(100)])
    mem.commit()
    table = mem.catalog.table("t")
    assert table is not None
    codec = RowCodec(table)
    fresh_id = mem.catalog.next_index_id
    stale = Index(fresh_id, "stale", (table.column("b").id,), False)  # type: ignore[union-attr]
    with mem._database.db.transaction() as txn:
        for i in range(1000, 1050):
            txn.put(codec.index_entry(stale, (i, i)), b"")
    mem.execute("CREATE INDEX t_b ON t (b)")
    mem.commit()
    assert mem.execute("SELECT COUNT(*) FROM t WHERE b >= 0").fetchall() == [(100,)]
    assert _index_keys(mem, fresh_id) == 100


CHILD = """
import os, sys
import dialect
from dialect.tablerows import RowCodec
conn = dialect.connect(sys.argv[1])
conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, b INT)")
conn.cursor().executemany("INSERT INTO t VALUES (?, ?)", [(i, i % 10) for i in range(1500)])
conn.commit()
real = RowCodec.index_entry
calls = [0]
def dying(self, index, row):
    calls[0] += 1
    if calls[0] == 1200:
        os._exit(3)  # killed in the middle of the backfill
    return real(self, index, row)
RowCodec.index_entry = dying
conn.execute("CREATE UNIQUE INDEX t_b ON t (b, id)")
"""


def test_create_index_killed_mid_backfill(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run([sys.executable, "-c", CHILD, path], env=env, timeout=120)
    assert done.returncode == 3
    conn = dialect.connect(path)
    try:
        assert conn.catalog.index("t_b") is None
        assert _index_keys(conn, conn.catalog.next_index_id) == 0
        conn.execute("CREATE INDEX t_b ON t (b)")
        assert conn.execute("SELECT COUNT(*) FROM t WHERE b >= 0").fetchall() == [(1500,)]
        assert conn.execute("SELECT COUNT(*) FROM t WHERE b = 9").fetchall() == [(150,)]
    finally:
        conn.close()


def test_add_column_keeps_its_constraints(mem: dialect.Connection) -> None:
    mem.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
    mem.execute("CREATE TABLE t (a INT)")
    mem.execute("ALTER TABLE t ADD COLUMN pid INT REFERENCES p (id)")
    assert strata_foreign_keys(mem, "t") == [("pid", "p", "id")]
    with pytest.raises(NotSupportedError, match="CHECK"):
        mem.execute("ALTER TABLE t ADD COLUMN c INT CHECK (c > 0)")
    with pytest.raises(NotSupportedError):
        mem.execute("ALTER TABLE t ADD COLUMN u INT UNIQUE")


def test_unique_index_over_a_duplicate_fails(mem: dialect.Connection) -> None:
    mem.execute("CREATE TABLE t (a INT, b INT)")
    mem.execute("INSERT INTO t VALUES (1, 1), (1, 2), (NULL, 3), (NULL, 3)")
    with pytest.raises(IntegrityError):
        mem.execute("CREATE UNIQUE INDEX t_a ON t (a)")
    mem.execute("CREATE UNIQUE INDEX t_b ON t (a, b)")  # NULLs never collide
    with pytest.raises(ProgrammingError):
        mem.execute("CREATE INDEX t_x ON t (_rowid_)")
