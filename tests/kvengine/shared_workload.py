"""Workloads for the shared-writer system tests, run by threads of the test process or by
child processes (``python -m tests.kvengine.shared_workload MODE URL ...``).

Every commit writes one tag key (``wal_history.tag_key``) and is recorded as a
:class:`~tests.kvengine.wal_history.CommitRecord`, so the WAL can be checked afterwards.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kvengine import DB, Conflict, Options, StrataError, WriteBatch
from kvengine.record import prefix_end
from kvengine.store import FaultyStore, ObjectStore, open_store
from tests.kvengine.wal_history import CONFLICT, ERROR, OK, READ, CommitRecord, tag_key

KEYS = [b"k%02d" % i for i in range(24)]
ACCOUNT_PREFIX = b"acct/"


def account(i: int) -> bytes:
    return ACCOUNT_PREFIX + b"%02d" % i


@dataclass
class WorkerLog:
    """What one worker thread did: its commit records and anything it found wrong."""

    records: list[CommitRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    committed: int = 0


def _commit(txn_commit: Callable[[], None], record: CommitRecord) -> None:
    try:
        txn_commit()
    except Conflict:
        record.outcome = CONFLICT
    except StrataError:
        record.outcome = ERROR
    else:
        record.outcome, record.acked_at = OK, time.monotonic()


def random_commit(db: DB, tag: str, rng: random.Random, log: WorkerLog) -> None:
    """One random transaction, blind write or read-only transaction on ``KEYS``, recorded."""
    roll = rng.random()
    began = time.monotonic()
    if roll < 0.2:  # a blind batch: never conflicts
        batch = WriteBatch()
        record = CommitRecord(tag, {}, began_at=began)
        for key in rng.sample(KEYS, rng.randint(1, 2)):
            if rng.random() < 0.3:
                batch.delete(key)
                record.writes[key] = None
            else:
                batch.put(key, b"%s:%s" % (tag.encode(), key))
                record.writes[key] = b"%s:%s" % (tag.encode(), key)
        batch.put(tag_key(tag), b"")
        log.records.append(record)
        _commit(lambda: db.write(batch), record)
        return
    try:
        txn = db.transaction()
    except StrataError:
        return  # the snapshot's probe failed: nothing was attempted
    record = CommitRecord(tag, {}, read_seq=txn.read_seq, began_at=began)
    log.records.append(record)
    try:
        if roll < 0.3:  # read-only: the whole key space must be one snapshot
            record.outcome = READ
            record.scans.append((b"k", b"l", list(txn.scan(b"k", b"l"))))
            txn.rollback()
            return
        for key in rng.sample(KEYS, rng.randint(0, 3)):
            record.reads[key] = txn.get(key)
        if rng.random() < 0.3:
            i = rng.randrange(len(KEYS) - 4)
            start, end = KEYS[i], KEYS[i + 4]
            record.scans.append((start, end, list(txn.scan(start, end))))
            if rng.random() < 0.6:
                txn.watch(start, end)
                record.ranges.append((start, end))
        if rng.random() < 0.15:  # a slow one: others commit, flush and compact meanwhile
            time.sleep(rng.uniform(0.005, 0.03))
        for key in rng.sample(KEYS, rng.randint(1, 3)):
            if rng.random() < 0.2:
                txn.delete(key)
                record.writes[key] = None
            else:
                value = b"%s:%s" % (tag.encode(), key)
                txn.put(key, value)
                record.writes[key] = value
        if rng.random() < 0.2:  # a rolled-back write never reaches the WAL
            mark = txn.savepoint()
            txn.put(rng.choice(KEYS), b"rolled back")
            txn.rollback_to(mark)
        key = next(iter(record.writes))
        if txn.get(key) != record.writes[key]:
            log.problems.append(f"{tag}: does not read its own write of {key!r}")
    except StrataError:
        txn.rollback()
        return
    txn.put(tag_key(tag), b"")
    _commit(txn.commit, record)


def transfer(db: DB, tag: str, rng: random.Random, accounts: int, log: WorkerLog) -> bool:
    """Move a random amount between two random accounts; True if it committed."""
    a, b = (account(i) for i in rng.sample(range(accounts), 2))
    began = time.monotonic()
    try:
        txn = db.transaction()
    except StrataError:
        return False
    record = CommitRecord(tag, {}, read_seq=txn.read_seq, began_at=began)
    log.records.append(record)
    try:
        va, vb = txn.get(a), txn.get(b)
    except StrataError:
        txn.rollback()
        return False
    record.reads = {a: va, b: vb}
    if va is None or vb is None:
        log.problems.append(f"{tag}: account {a!r} or {b!r} is missing")
        txn.rollback()
        return False
    amount = min(int(va), rng.randint(1, 10))
    new_a, new_b = b"%d" % (int(va) - amount), b"%d" % (int(vb) + amount)
    txn.put(a, new_a)
    txn.put(b, new_b)
    record.writes = {a: new_a, b: new_b}
    txn.put(tag_key(tag), b"")
    _commit(txn.commit, record)
    return record.outcome == OK


def audit(db: DB, tag: str, accounts: int, total: int, log: WorkerLog) -> None:
    """A read-only transaction: the balances in one snapshot add up to ``total``."""
    began = time.monotonic()
    try:
        with db.transaction() as txn:
            got = list(txn.scan_prefix(ACCOUNT_PREFIX))
            seq = txn.read_seq
    except StrataError:
        return
    end = prefix_end(ACCOUNT_PREFIX)
    assert end is not None
    log.records.append(
        CommitRecord(
            tag, {}, READ, read_seq=seq, scans=[(ACCOUNT_PREFIX, end, got)], began_at=began
        )
    )
    if len(got) != accounts or sum(int(v) for _, v in got) != total:
        log.problems.append(f"{tag}: snapshot {seq} sees {got}, not a total of {total}")


def transfers(
    db: DB,
    name: str,
    seed: int,
    *,
    count: int,
    accounts: int,
    total: int,
    deadline: float,
) -> WorkerLog:
    """Commit ``count`` transfers (retrying each on Conflict or a store error), with an audit
    after each, unless ``deadline`` (a ``time.monotonic`` reading) passes first."""
    rng = random.Random(seed)
    log = WorkerLog()
    n = 0
    while log.committed < count and time.monotonic() < deadline:
        n += 1
        if transfer(db, f"{name}-{n}", rng, accounts, log):
            log.committed += 1
            audit(db, f"{name}-{n}-audit", accounts, total, log)
        else:
            time.sleep(rng.uniform(0, 0.01))  # back off a little before retrying
    return log


def seed_accounts(db: DB, accounts: int, balance: int) -> CommitRecord:
    """Open ``accounts`` accounts holding ``balance`` each; the commit's record."""
    record = CommitRecord("seed-accounts", {account(i): b"%d" % balance for i in range(accounts)})
    batch = WriteBatch()
    for key, value in record.writes.items():
        assert value is not None
        batch.put(key, value)
    db.write(batch.put(tag_key(record.tag), b""))
    record.outcome, record.acked_at = OK, time.monotonic()
    return record


def run_threads(n: int, target: Callable[[int], WorkerLog]) -> list[WorkerLog]:
    """Run ``target(i)`` for ``i`` in ``range(n)`` on threads; their logs, in order. A thread
    that raises fails the call."""
    logs: list[WorkerLog | None] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            logs[i] = target(i)
        except BaseException as exc:
            errors.append(exc)
            raise

    threads = [threading.Thread(target=run, args=(i,), name=f"worker-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [log for log in logs if log is not None]


# -- child processes -----------------------------------------------------------------------


#: the fault injectors of this process (their ``injected`` counts go in the summary)
INJECTED: list[FaultyStore] = []


def _open(args: argparse.Namespace) -> DB:
    options = Options(**json.loads(args.options))
    storage = json.loads(args.storage)
    if not args.faults:
        return DB.open(args.url, options=options, **storage)

    def faulty(inner: ObjectStore) -> ObjectStore:
        # Errors before and after the effect, on every kind of request, seeded per process.
        p = args.faults
        INJECTED.append(FaultyStore(inner, seed=args.seed, error_before=p, error_after=p))
        return INJECTED[-1]

    return DB.open(open_store(args.url, wrap=faulty, **storage), options=options)


def _main_transfers(args: argparse.Namespace) -> int:
    """Transfers on ``--threads`` threads; prints one JSON line per record, then a summary."""
    with _open(args) as db:
        deadline = time.monotonic() + args.seconds
        logs = run_threads(
            args.threads,
            lambda i: transfers(
                db,
                f"{args.name}-{i}",
                args.seed * 100 + i,
                count=args.count,
                accounts=args.accounts,
                total=args.total,
                deadline=deadline,
            ),
        )
    for log in logs:
        for record in log.records:
            print("record", record.to_json())
    summary = {
        "committed": [log.committed for log in logs],
        "problems": [p for log in logs for p in log.problems],
        "faults": sum(sum(f.injected.values()) for f in INJECTED),
    }
    print("summary", json.dumps(summary), flush=True)
    return 0


def _main_stream(args: argparse.Namespace) -> int:
    """Durable puts on ``--threads`` threads until killed, printing each acknowledged key.
    ``--flush-first``: claim the flush role first and print ``role``."""
    db = _open(args)
    lock = threading.Lock()
    if args.flush_first:
        db.put(b"%s/first" % args.name.encode(), b"x" * 100)
        db.flush()
        print("role", json.dumps(db.stats()["flush_role"]), flush=True)
    value = b"v" * args.value_bytes

    def write(t: int) -> None:
        i = 0
        while True:
            key = b"%s/%d/%06d" % (args.name.encode(), t, i)
            db.put(key, value + key)
            with lock:
                print("ack", key.decode(), flush=True)
            i += 1
            time.sleep(args.interval_ms / 1000)

    for t in range(args.threads):
        threading.Thread(target=write, args=(t,), daemon=True).start()
    threading.Event().wait()
    return 0


def _main_rows(args: argparse.Namespace) -> int:
    """``--count`` single-row commits ``--interval-ms`` apart, once a line arrives on stdin;
    prints how many committed."""
    with _open(args) as db:
        print("open", flush=True)
        sys.stdin.readline()  # start together with the other processes
        committed = 0
        for i in range(args.count):
            db.put(b"%s/%03d" % (args.name.encode(), i), b"%d" % i)
            committed += 1
            time.sleep(args.interval_ms / 1000)
        print("committed", committed, flush=True)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["transfers", "stream", "rows"])
    parser.add_argument("url")
    parser.add_argument("--name", default="p")
    parser.add_argument("--options", default="{}")
    parser.add_argument("--storage", default="{}")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--accounts", type=int, default=8)
    parser.add_argument("--total", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval-ms", type=float, default=0.0)
    parser.add_argument("--value-bytes", type=int, default=100)
    parser.add_argument("--flush-first", action="store_true")
    parser.add_argument("--faults", type=float, default=0.0, help="fault probability per request")
    args = parser.parse_args(argv)
    modes = {"transfers": _main_transfers, "stream": _main_stream, "rows": _main_rows}
    return modes[args.mode](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
