"""A writer process for the crash loop (tests/crash/test_crash_loop.py), killed at random.

    python -m tests.crash.worker kv|sql URL LOG SEED OPTIONS_JSON STORAGE_JSON

It writes until killed and appends one JSON line to ``LOG`` per acknowledged write, with an
unbuffered ``os.write`` after the call returned, so a line is there before the process can be
killed past the acknowledgement. ``kv``: one thread of ordered puts, deletes, batches and
transactions, durable or not, on fresh keys (each line its ``n``, durability and effects), and
one thread of transfers between shared accounts. ``sql``: inserts, counter updates, transfers,
UNIQUE inserts and now and then a CREATE or DROP INDEX, through one DB-API connection.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
from typing import Any

import dialect
from kvengine import DB, Conflict, Options, WriteBatch

#: shared KV accounts, and what they hold in total
KV_ACCOUNTS = 8
KV_TOTAL = KV_ACCOUNTS * 100
SQL_ACCOUNTS = 10
SQL_TOTAL = SQL_ACCOUNTS * 100
EMAILS = 5


def kv_account(i: int) -> bytes:
    return b"kv-acct/%02d" % i


class Log:
    """Appends JSON lines to a file, each with one ``write`` system call."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._lock = threading.Lock()

    def __call__(self, **entry: Any) -> None:
        line = (json.dumps(entry) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)


def kv_ordered(db: DB, inc: str, rng: random.Random, log: Log) -> None:
    """Ops in one order; ``alive``: keys put durably and not deleted (deletes pick from them,
    so whether a delete applied is told by the key's absence)."""
    alive: list[str] = []
    n = 0
    while True:
        n += 1
        durable = rng.random() < 0.5
        roll = rng.random()
        effects: dict[str, str | None] = {}
        pad = "p" * rng.randint(0, 300)
        victim = alive.pop(rng.randrange(len(alive))) if alive else None
        # The intent first: a delete in flight when the process is killed may still land.
        log(op="kv-try", n=n, victim=victim)
        if roll < 0.35 or (roll < 0.5 and victim is None):
            key = f"kv/{inc}/{n}"
            effects[key] = value = f"{key}:{pad}"
            db.put(key.encode(), value.encode(), durable=durable)
        elif roll < 0.5:
            assert victim is not None
            key, victim = victim, None
            effects[key] = None
            db.delete(key.encode(), durable=durable)
        elif roll < 0.75:
            batch = WriteBatch()
            for j in range(rng.randint(2, 4)):
                key = f"kv/{inc}/{n}.{j}"
                effects[key] = value = f"{key}:{pad}"
                batch.put(key.encode(), value.encode())
            if victim is not None and rng.random() < 0.5:
                key, victim = victim, None
                effects[key] = None
                batch.delete(key.encode())
            db.write(batch, durable=durable)
        else:
            txn = db.transaction()
            for j in range(rng.randint(1, 3)):
                key = f"kv/{inc}/{n}.{j}"
                assert txn.get(key.encode()) is None
                effects[key] = value = f"{key}:{pad}"
                txn.put(key.encode(), value.encode())
            txn.commit(durable=durable)
        log(op="kv", n=n, durable=durable, effects=effects)
        if victim is not None:
            alive.append(victim)  # not deleted after all
        if durable:
            alive.extend(k for k, v in effects.items() if v is not None)


def kv_transfers(db: DB, inc: str, rng: random.Random, log: Log) -> None:
    n = 0
    while True:
        n += 1
        a, b = (kv_account(i) for i in rng.sample(range(KV_ACCOUNTS), 2))
        durable = rng.random() < 0.7
        marker = f"kv-t/{inc}/{n}"
        try:
            with db.transaction() as txn:
                va, vb = int(txn.get(a) or b"0"), int(txn.get(b) or b"0")
                amount = min(va, rng.randint(1, 10))
                txn.put(a, b"%d" % (va - amount))
                txn.put(b, b"%d" % (vb + amount))
                txn.put(marker.encode(), b"")
                txn.commit(durable=durable)
        except Conflict:
            continue
        log(op="transfer", marker=marker, durable=durable)


def run_kv(
    url: str, inc: str, rng: random.Random, log: Log, options: Options, storage: dict[str, Any]
) -> None:
    db = DB.open(url, options=options, **storage)
    log(op="open")
    seeds = rng.randrange(2**32), rng.randrange(2**32)
    threading.Thread(
        target=kv_transfers, args=(db, inc, random.Random(seeds[1]), log), daemon=True
    ).start()
    kv_ordered(db, inc, random.Random(seeds[0]), log)


def _commit(conn: dialect.Connection, statements: list[tuple[str, tuple[Any, ...]]]) -> bool:
    """Run ``statements`` in one transaction; False if it lost a conflict."""
    cur = conn.cursor()
    try:
        for sql, params in statements:
            cur.execute(sql, params)
        conn.commit()
    except dialect.ConflictError:
        conn.rollback()
        return False
    return True


def run_sql(
    url: str, inc: str, slot: int, rng: random.Random, log: Log, storage: dict[str, Any]
) -> None:
    conn = dialect.connect(url, **storage)
    log(op="open")
    cur = conn.cursor()
    n = 0
    while True:
        n += 1
        roll = rng.random()
        try:
            if roll < 0.3:
                if _commit(conn, [("INSERT INTO events (inc, n) VALUES (?, ?)", (inc, n))]):
                    log(op="event", n=n)
            elif roll < 0.45:
                log(op="counter-try")
                if _commit(conn, [("UPDATE counters SET v = v + 1 WHERE slot = ?", (slot,))]):
                    log(op="counter")
            elif roll < 0.75:
                a, b = rng.sample(range(SQL_ACCOUNTS), 2)
                cur.execute("SELECT balance FROM accounts WHERE id = ?", (a,))
                (balance,) = cur.fetchone()
                amount = min(balance, rng.randint(1, 20))
                if _commit(
                    conn,
                    [
                        ("UPDATE accounts SET balance = balance - ? WHERE id = ?", (amount, a)),
                        ("UPDATE accounts SET balance = balance + ? WHERE id = ?", (amount, b)),
                    ],
                ):
                    log(op="sql-transfer")
            elif roll < 0.97:
                email = f"user{rng.randrange(EMAILS)}@example.com"
                if rng.random() < 0.5:
                    try:
                        _commit(
                            conn, [("INSERT INTO users (email, inc) VALUES (?, ?)", (email, inc))]
                        )
                    except dialect.IntegrityError:
                        conn.rollback()
                else:
                    _commit(conn, [("DELETE FROM users WHERE email = ?", (email,))])
            else:
                statement = rng.choice(
                    ["CREATE INDEX ix_events_n ON events (n)", "DROP INDEX ix_events_n"]
                )
                try:
                    _commit(conn, [(statement, ())])
                except dialect.DatabaseError as exc:
                    conn.rollback()
                    message = str(exc).lower()
                    if "exist" not in message and "no such" not in message:
                        raise
        except dialect.ConflictError:
            conn.rollback()  # a read before the commit lost to a schema change: next


def main(argv: list[str]) -> int:
    mode, url, log_path, seed = argv[0], argv[1], argv[2], int(argv[3])
    options = Options(**json.loads(argv[4]))
    storage = json.loads(argv[5])
    inc = os.path.basename(log_path).removesuffix(".log")  # s<slot>-<incarnation>
    log = Log(log_path)
    rng = random.Random(seed)
    if mode == "kv":
        run_kv(url, inc, rng, log, options, storage)
    else:
        run_sql(url, inc, int(inc.split("-")[0].removeprefix("s")), rng, log, storage)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
