"""Several connections and several processes writing one database through SQL (issue 8):
no lost update, no duplicate UNIQUE value, schema changes beside writes, ids unique across
processes, and every worker making progress."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

import dialect
from kvengine.store import LatencyStore, open_store
from tests.emulators import Emulator

ROOT = Path(__file__).resolve().parents[2]


def run_workers(url: str, workload: str, workers: int, count: int) -> list[dict[str, int]]:
    """Start ``workers`` processes of ``tests/sqla/shared_worker.py`` at once; their results."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.sqla.shared_worker", url, workload, str(w), str(count)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def gcs_url(server: Emulator) -> str:
    bucket = server.url_prefix.removeprefix("gs://")
    endpoint = server.storage_options["endpoint_url"]
    return (
        f"strata+gs://{bucket}/shared-{uuid.uuid4().hex[:8]}"
        f"?endpoint_url={endpoint}&token=anon&project=strata-test"
    )


@pytest.mark.slow
def test_upserts_savepoints_and_returning_from_three_processes(tmp_path: Path) -> None:
    """Issue 10's constructs under concurrency: ON CONFLICT DO UPDATE increments from three
    processes lose none (each is a read-modify-write of the stored row, so a concurrent one
    conflicts and is run again), savepoints undo only their part, RETURNING ids are unique."""
    url = f"strata:///{tmp_path}/db"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE counters (k TEXT PRIMARY KEY, n INT NOT NULL)"))
        conn.execute(sa.text("CREATE TABLE log (id INTEGER PRIMARY KEY, worker INT, k TEXT)"))
    results = run_workers(url, "upserts", 3, 25)
    with engine.connect() as conn:
        total = conn.execute(sa.text("SELECT sum(n) FROM counters")).scalar_one()
        logged = conn.execute(sa.text("SELECT id, k FROM log ORDER BY id")).all()
        per_key = dict(conn.execute(sa.text("SELECT k, n FROM counters")).all())
        log_per_key = dict(conn.execute(sa.text("SELECT k, count(*) FROM log GROUP BY k")).all())
    engine.dispose()
    assert total == 3 * 25 == sum(r["committed"] for r in results)
    assert per_key == log_per_key  # each increment and its log row committed together
    ids = [i for r in results for i in r["ids"]]  # type: ignore[attr-defined]
    assert sorted(ids) == [row.id for row in logged] and len(set(ids)) == len(ids)
    assert all(row.k != "dup" for row in logged)  # no duplicate survived its savepoint


@pytest.mark.slow
def test_issue_8_two_processes_both_commit_every_insert(tmp_path: Path) -> None:
    # Before: the second process fenced the first, which committed 3 of 40 and then failed.
    url = f"strata:///{tmp_path}/db"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE events (id INTEGER PRIMARY KEY, worker INT, n INT)"))
    results = run_workers(url, "inserts", 2, 40)
    assert [r["committed"] for r in results] == [40, 40]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT worker, COUNT(*), COUNT(DISTINCT id) FROM events "
                "GROUP BY worker ORDER BY worker"
            )
        ).all()
    assert [tuple(r) for r in rows] == [(0, 40, 40), (1, 40, 40)]
    engine.dispose()


@pytest.mark.slow
def test_issue_8_transfers_from_four_processes_on_gcs(gcs_server: Emulator) -> None:
    # Before: four transfer workers on the GCS emulator committed nothing at all.
    url = gcs_url(gcs_server)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INT)"))
        for i in range(10):
            conn.execute(sa.text("INSERT INTO accounts VALUES (:i, 100)"), {"i": i})
    results = run_workers(url, "transfers", 4, 15)
    assert all(r["committed"] == 15 for r in results), results
    with engine.connect() as conn:
        total = conn.execute(sa.text("SELECT SUM(balance), COUNT(*) FROM accounts")).one()
    assert tuple(total) == (1000, 10)
    engine.dispose()


@pytest.mark.slow
def test_unique_values_from_a_small_pool_never_duplicate(tmp_path: Path) -> None:
    url = f"strata:///{tmp_path}/db"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE, worker INT)")
        )
    results = run_workers(url, "unique", 3, 25)
    assert all(r["committed"] > 0 for r in results), results
    with engine.connect() as conn:
        dupes = conn.execute(
            sa.text("SELECT email, COUNT(*) FROM users GROUP BY email HAVING COUNT(*) > 1")
        ).all()
        rows = conn.execute(sa.text("SELECT email FROM users")).all()
        # the UNIQUE index agrees with the table: one entry per row, found by value
        for (email,) in rows:
            assert (
                conn.execute(
                    sa.text("SELECT COUNT(*) FROM users WHERE email = :e"), {"e": email}
                ).scalar_one()
                == 1
            )
    assert dupes == []
    engine.dispose()


@pytest.mark.slow
def test_schema_changes_beside_inserts_from_other_processes(tmp_path: Path) -> None:
    url = f"strata:///{tmp_path}/db"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE events (id INTEGER PRIMARY KEY, worker INT, n INT)"))
    inserters = threading.Thread(target=lambda: results.extend(run_workers(url, "inserts", 2, 30)))
    results: list[dict[str, int]] = []
    inserters.start()
    ddl = run_workers(url, "ddl", 1, 1)
    inserters.join()
    assert ddl == [{"committed": 4}]
    assert [r["committed"] for r in results] == [30, 30]
    assert sum(r["conflicts"] for r in results) <= 8  # at most one per schema change each
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, worker, n, note FROM events")).all()
        assert len(rows) == 60
        assert {r.note for r in rows} == {"x"}
        # every row is in the index created while the inserts ran, and nothing else is
        for r in rows:
            found = conn.execute(
                sa.text("SELECT id FROM events WHERE worker = :w AND n = :n"),
                {"w": r.worker, "n": r.n},
            ).all()
            assert [f.id for f in found] == [r.id]
        plan = conn.execute(sa.text("EXPLAIN SELECT id FROM events WHERE worker = 1 AND n = 2"))
        assert "ix_events_worker" in " ".join(str(row) for row in plan)
    engine.dispose()


def test_issue_8_unique_value_inserted_by_two_transactions_conflicts() -> None:
    # Before: both committed, because index keys include the primary key.
    u = f"memory://{uuid.uuid4().hex}"
    a, b = dialect.connect(u), dialect.connect(u)
    a.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE)")
    a.commit()  # schema changes are transactional
    a.execute("INSERT INTO users (email) VALUES ('x@example.com')")
    b.execute("INSERT INTO users (email) VALUES ('x@example.com')")
    a.commit()
    with pytest.raises(dialect.ConflictError):
        b.commit()
    # the same for UPDATE to a value another transaction inserts
    a.execute("INSERT INTO users (email) VALUES ('y@example.com')")
    b.execute("UPDATE users SET email = 'z@example.com' WHERE email = 'x@example.com'")
    b.execute("INSERT INTO users (email) VALUES ('x2@example.com')")
    c = dialect.connect(u)
    c.execute("INSERT INTO users (email) VALUES ('z@example.com')")
    c.commit()
    with pytest.raises(dialect.ConflictError):
        b.commit()
    a.commit()
    emails = sorted(r[0] for r in a.execute("SELECT email FROM users").fetchall())
    assert emails == ["x@example.com", "y@example.com", "z@example.com"]
    for conn in (a, b, c):
        conn.close()


def test_issue_8_create_index_beside_an_open_transaction() -> None:
    # Before: the index missed the open transaction's rows once it committed.
    u = f"memory://{uuid.uuid4().hex}"
    a, b = dialect.connect(u), dialect.connect(u)
    a.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INT)")
    a.execute("INSERT INTO t VALUES (1, 10)")
    a.commit()
    a.execute("INSERT INTO t VALUES (2, 20)")
    b.execute("CREATE INDEX ix_v ON t (v)")
    b.commit()
    with pytest.raises(dialect.ConflictError, match="conflict"):
        a.commit()
    a.execute("INSERT INTO t VALUES (2, 20)")  # run again: now under the new schema
    a.commit()
    assert a.execute("SELECT id FROM t WHERE v = 20").fetchall() == [(2,)]
    plan = " ".join(str(r) for r in a.execute("EXPLAIN SELECT id FROM t WHERE v = 20"))
    assert "ix_v" in plan
    a.close()
    b.close()


def test_issue_8_unique_index_beside_a_duplicate_insert() -> None:
    # Before: the duplicate got into the new UNIQUE index.
    u = f"memory://{uuid.uuid4().hex}"
    a, b = dialect.connect(u), dialect.connect(u)
    a.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INT)")
    a.execute("INSERT INTO t VALUES (1, 10)")
    a.commit()
    a.execute("INSERT INTO t VALUES (2, 10)")
    b.execute("CREATE UNIQUE INDEX ux_v ON t (v)")
    b.commit()
    with pytest.raises(dialect.ConflictError):
        a.commit()
    with pytest.raises(dialect.IntegrityError):
        a.execute("INSERT INTO t VALUES (2, 10)")
    assert a.execute("SELECT COUNT(*) FROM t").fetchone() == (1,)
    a.close()
    b.close()


def test_issue_8_sql_commits_from_threads_share_wal_puts() -> None:
    # Before: Database.commit held a lock across the WAL PUT: 40 commits took 44 PUTs.
    store = open_store(
        f"memory://{uuid.uuid4().hex}", wrap=lambda s: LatencyStore(s, {"PUT": 0.05})
    )
    setup = dialect.connect(store)
    setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, worker INT)")
    setup.commit()
    before = setup.stats()["wal_puts"]
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            conn = dialect.connect(store)
            for _ in range(5):
                conn.execute("INSERT INTO t (worker) VALUES (?)", (w,))
                conn.commit()
            conn.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert setup.execute("SELECT COUNT(*) FROM t").fetchone() == (40,)
    puts = setup.stats()["wal_puts"] - before  # every connection shares setup's engine
    assert 1 <= puts < 30, f"{puts} WAL PUTs for 40 commits"
    setup.close()


def test_non_durable_commit_conflict_is_raised_by_the_next_call() -> None:
    u = f"memory://{uuid.uuid4().hex}"
    a = dialect.connect(u, durable=False)
    b = dialect.connect(u)
    a.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INT)")
    a.execute("INSERT INTO t VALUES (1, 0)")
    a.commit()
    a.execute("UPDATE t SET v = 1 WHERE id = 1")
    b.execute("UPDATE t SET v = 2 WHERE id = 1")
    b.commit()
    a.commit()  # returns before the PUT; the conflict is found when it is stored
    with pytest.raises(dialect.ConflictError):
        a.execute("SELECT v FROM t")
    assert a.execute("SELECT v FROM t").fetchone() == (2,)
    a.close()
    b.close()


def test_a_cached_insert_plan_still_conflicts_with_a_schema_change() -> None:
    # Regression: an INSERT whose plan was cached skipped registering its table, so a
    # CREATE INDEX committed meanwhile left the row out of the index.
    u = f"memory://{uuid.uuid4().hex}"
    a, b = dialect.connect(u), dialect.connect(u)
    a.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INT)")
    a.execute("INSERT INTO t VALUES (?, ?)", (1, 10))
    a.commit()
    a.execute("INSERT INTO t VALUES (?, ?)", (2, 20))  # the same text: the cached plan
    b.execute("CREATE INDEX ix_v ON t (v)")
    b.commit()
    with pytest.raises(dialect.ConflictError):
        a.commit()
    a.close()
    b.close()
