"""Transactions: snapshot reads, own writes, atomic commit, rollback, conflicts, durability."""

from __future__ import annotations

import threading
import uuid

import pytest

import dialect


def url() -> str:
    return f"memory://{uuid.uuid4().hex}"


def make(u: str) -> dialect.Connection:
    conn = dialect.connect(u)
    conn.execute("CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INT NOT NULL)")
    conn.cursor().executemany("INSERT INTO acct VALUES (?, ?)", [(1, 100), (2, 100)])
    conn.commit()
    return conn


def test_isolation_and_own_writes() -> None:
    u = url()
    a, b = make(u), dialect.connect(u)
    a.execute("UPDATE acct SET balance = 50 WHERE id = 1")
    assert a.execute("SELECT balance FROM acct WHERE id = 1").fetchone() == (50,)
    assert b.execute("SELECT balance FROM acct WHERE id = 1").fetchone() == (100,)
    a.commit()
    # b's transaction still reads its snapshot; a new one sees the commit
    assert b.execute("SELECT balance FROM acct WHERE id = 1").fetchone() == (100,)
    b.rollback()
    assert b.execute("SELECT balance FROM acct WHERE id = 1").fetchone() == (50,)
    a.close()
    b.close()


def test_rollback_discards() -> None:
    conn = make(url())
    conn.execute("DELETE FROM acct")
    assert conn.execute("SELECT COUNT(*) FROM acct").fetchone() == (0,)
    conn.rollback()
    assert conn.execute("SELECT COUNT(*) FROM acct").fetchone() == (2,)
    conn.close()


def test_first_committer_wins() -> None:
    u = url()
    a, b = make(u), dialect.connect(u)
    a.execute("UPDATE acct SET balance = balance - 10 WHERE id = 1")
    b.execute("UPDATE acct SET balance = balance - 20 WHERE id = 1")
    a.commit()
    with pytest.raises(dialect.OperationalError, match="conflict"):
        b.commit()
    assert b.execute("SELECT balance FROM acct WHERE id = 1").fetchone() == (90,)
    a.close()
    b.close()


def test_no_lost_updates_under_threads() -> None:
    u = url()
    make(u).close()
    conflicts = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal conflicts
        conn = dialect.connect(u)
        done = 0
        while done < 10:
            conn.execute("UPDATE acct SET balance = balance + 1 WHERE id = 2")
            try:
                conn.commit()
                done += 1
            except dialect.OperationalError:
                with lock:
                    conflicts += 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with dialect.connect(u) as conn:
        assert conn.execute("SELECT balance FROM acct WHERE id = 2").fetchone() == (140,)


def test_failed_statement_keeps_earlier_writes() -> None:
    conn = make(url())
    conn.execute("INSERT INTO acct VALUES (3, 1)")
    with pytest.raises(dialect.IntegrityError):
        conn.cursor().executemany("INSERT INTO acct VALUES (?, ?)", [(4, 1), (1, 1)])
    with pytest.raises(dialect.IntegrityError, match="NOT NULL"):
        conn.execute("UPDATE acct SET balance = NULL WHERE id = 3")
    # the failed executemany kept its first row (each execution is a statement); the failing
    # ones left nothing
    assert conn.execute("SELECT id, balance FROM acct ORDER BY id").fetchall() == [
        (1, 100),
        (2, 100),
        (3, 1),
        (4, 1),
    ]
    conn.rollback()
    assert conn.execute("SELECT COUNT(*) FROM acct").fetchone() == (2,)
    conn.close()


def test_commit_survives_reopen(tmp_path: object) -> None:
    path = f"{tmp_path}/db"
    conn = make(path)
    conn.execute("UPDATE acct SET balance = 7 WHERE id = 2")
    conn.commit()
    conn.execute("UPDATE acct SET balance = 8 WHERE id = 2")  # never committed
    conn.close()
    with dialect.connect(path) as again:
        assert again.execute("SELECT balance FROM acct WHERE id = 2").fetchone() == (7,)


def test_autocommit() -> None:
    u = url()
    a = make(u)
    a.autocommit = True
    a.execute("UPDATE acct SET balance = 1 WHERE id = 1")
    with dialect.connect(u) as b:
        assert b.execute("SELECT balance FROM acct WHERE id = 1").fetchone() == (1,)
    a.close()


def test_read_only_reader_sees_commits_after_refresh(tmp_path: object) -> None:
    path = f"{tmp_path}/db"
    writer = make(path)
    reader = dialect.connect(path, read_only=True)
    assert reader.execute("SELECT COUNT(*) FROM acct").fetchone() == (2,)
    writer.execute("INSERT INTO acct VALUES (3, 3)")
    writer.commit()
    reader.rollback()  # a new transaction refreshes
    assert reader.execute("SELECT COUNT(*) FROM acct").fetchone() == (3,)
    with pytest.raises(dialect.OperationalError, match="readonly"):
        reader.execute("DELETE FROM acct")
    reader.close()
    writer.close()


def test_fenced_writer_is_an_operational_error(tmp_path: object) -> None:
    import kvengine

    path = f"{tmp_path}/db"
    conn = make(path)
    kvengine.DB.open(path, exclusive=True).close()  # an exclusive writer fences the others
    conn.execute("INSERT INTO acct VALUES (5, 5)")
    with pytest.raises(dialect.OperationalError, match="fenced"):
        conn.commit()
    conn.close()
