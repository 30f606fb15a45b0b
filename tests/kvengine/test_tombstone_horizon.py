"""The tombstone horizon in shared mode (docs/design/0005-storage-lifecycle.md): a transaction
whose commit lands more than ``txn_wal_span`` WAL objects after its snapshot is refused by every
process alike, so compaction at the bottom may drop tombstones below the horizon without a
conflict ever being missed. Engines on their own store objects act as separate processes.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator

import pytest

from kvengine import DB, Conflict, Options
from kvengine.manifest.store import ManifestStore
from kvengine.record import Kind
from kvengine.store import Store, open_store
from kvengine.table_store import TableStore
from tests.kvengine.shared_workload import WorkerLog, random_commit, run_threads
from tests.kvengine.wal_history import CONFLICT, OK, check, read_history

SPAN = 4
#: Small memtables and a small span, so flushes, compactions and too-old refusals all happen.
OPTIONS = Options(
    l0_sst_size=8192,
    block_bytes=512,
    l0_compaction_trigger=3,
    flusher_poll_ms=100,
    flusher_takeover_ms=2000,
    txn_wal_span=SPAN,
)


def engines(name: str, n: int, options: Options) -> list[tuple[Store, DB]]:
    out = []
    for _ in range(n):
        store = open_store(f"memory://{name}")
        out.append((store, DB.open(store, options=options)))
    return out


def close(pairs: list[tuple[Store, DB]]) -> None:
    for store, db in pairs:
        db.close()
        store.close()


def tombstones(store: Store) -> list[bytes]:
    """Keys of every tombstone in the SSTs of the latest manifest."""
    found = ManifestStore(store).read_latest()
    assert found is not None
    tables = TableStore(store, Options())
    return [
        e[0]
        for meta in found[1].all_ssts()
        for e in tables.reader(meta).scan(b"", None)
        if e[2] == Kind.DELETE
    ]


@pytest.fixture
def pair() -> Iterator[tuple[DB, DB, Store]]:
    pairs = engines(uuid.uuid4().hex, 2, OPTIONS)
    try:
        yield pairs[0][1], pairs[1][1], pairs[0][0]
    finally:
        close(pairs)


def test_the_span_is_fixed_when_the_database_is_created(pair: tuple[DB, DB, Store]) -> None:
    _, _, store = pair
    found = ManifestStore(store).read_latest()
    assert found is not None and found[1].txn_wal_span == SPAN
    # A process opening with other options validates with the database's span, not its own.
    with DB.open(open_store(store.url), options=Options(txn_wal_span=0)) as other:
        assert other._view.version.manifest.txn_wal_span == SPAN


def test_a_dropped_tombstone_never_hides_a_conflict(pair: tuple[DB, DB, Store]) -> None:
    a, b, store = pair
    a.put(b"k", b"1")
    old = b.transaction()
    assert old.get(b"k") == b"1"
    young_reader = None
    a.delete(b"k")
    for i in range(SPAN + 1):  # one WAL object each: the delete falls below the horizon
        a.put(b"other", b"%d" % i)
        if i == 1:
            young_reader = b.transaction()  # read after the delete, within the span
    a.flush()
    a.compact()
    assert b"k" not in tombstones(store)  # dropped at the bottom, in shared mode
    b.refresh()  # b's view holds the compacted SSTs only: the delete is nowhere to be seen

    old.put(b"k", b"2")  # its conflict (the delete) was compacted away: refused as too old
    with pytest.raises(Conflict, match="too old"):
        old.commit()
    assert young_reader is not None
    young_reader.put(b"k", b"3")  # read after the delete: no conflict, and not too old
    young_reader.commit()
    for db in (a, b):
        db.refresh()
        assert db.get(b"k") == b"3"


def test_a_tombstone_above_the_horizon_is_kept_and_still_conflicts(
    pair: tuple[DB, DB, Store],
) -> None:
    a, b, store = pair
    a.put(b"k", b"1")
    txn = b.transaction()
    assert txn.get(b"k") == b"1"
    a.delete(b"k")
    a.flush()
    a.compact()
    assert tombstones(store) == [b"k"]  # within the span: kept at the bottom
    b.refresh()  # b checks against the compacted SSTs: the kept tombstone is the conflict
    txn.put(b"k", b"2")
    with pytest.raises(Conflict, match="changed by a commit"):
        txn.commit()
    for db in (a, b):
        db.refresh()
        assert db.get(b"k") is None


@pytest.mark.parametrize("span", [SPAN, 0])
def test_deleted_keys_leave_no_tombstones_after_compaction(span: int) -> None:
    """The space test: 500 keys written and deleted in shared mode; once the WAL has moved
    ``span`` objects past the deletes, compaction leaves no tombstone (a database created
    with no span keeps them all, as before)."""
    pairs = engines(uuid.uuid4().hex, 2, Options(txn_wal_span=span))
    try:
        (store, a), (_, b) = pairs
        keys = [b"key%04d" % i for i in range(500)]
        for i in range(0, 500, 100):
            with a.transaction() as txn:
                for key in keys[i : i + 100]:
                    txn.put(key, b"v" * 100)
        a.flush()
        for i in range(0, 500, 100):
            with b.transaction() as txn:
                for key in keys[i : i + 100]:
                    txn.delete(key)
        for i in range(SPAN + 1):
            b.put(b"live", b"%d" % i)
        b.flush()
        b.compact()
        left = tombstones(store)
        assert len(left) == (0 if span else 500)
        found = ManifestStore(store).read_latest()
        assert found is not None
        entries = sum(m.entries for m in found[1].all_ssts())
        assert entries == (1 if span else 501)
        for db in (a, b):
            db.refresh()
            assert dict(db.scan()) == {b"live": b"%d" % SPAN}
    finally:
        close(pairs)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_random_transactions_with_compactions_dropping_tombstones_match_the_wal(
    seed: int,
) -> None:
    """Three engines run random transactions (blind writes, deletes, watched ranges, slow
    ones) while one of them compacts everything again and again, dropping tombstones below
    the horizon. The WAL, replayed with the span rule, must agree with every recorded
    outcome (no lost update, first committer wins), and every engine ends with its state."""
    name = uuid.uuid4().hex
    pairs = engines(name, 3, OPTIONS)
    stop = threading.Event()
    compactions = [0]

    def compact() -> None:
        db = pairs[0][1]
        while not stop.is_set():
            db.compact()
            compactions[0] += 1

    compactor = threading.Thread(target=compact)
    try:
        compactor.start()

        def work(i: int) -> WorkerLog:
            db, rng, log = pairs[i % 3][1], random.Random(seed * 100 + i), WorkerLog()
            for n in range(150):
                random_commit(db, f"w{i}-{n}", rng, log)
            return log

        logs = run_threads(6, work)
        stop.set()
        compactor.join()
        assert [p for log in logs for p in log.problems] == []
        records = [r for log in logs for r in log.records]
        history = read_history(open_store(f"memory://{name}"))
        assert history.txn_wal_span == SPAN
        assert check(history, records) == []
        outcomes = {r.outcome for r in records}
        assert {OK, CONFLICT} <= outcomes
        assert history.too_old, "no transaction was old enough to be refused"
        assert compactions[0] > 0

        final = history.final()
        for _, db in pairs:
            db.refresh()
            assert dict(db.scan()) == final
        # Move the WAL past the span, compact: no tombstone is left anywhere.
        db = pairs[1][1]
        for i in range(SPAN + 1):
            db.put(b"zz-last", b"%d" % i)
        db.flush()
        db.compact()
        assert tombstones(pairs[1][0]) == []
        final[b"zz-last"] = b"%d" % SPAN
        for _, db in pairs:
            db.refresh()
            assert dict(db.scan()) == final
    finally:
        stop.set()
        if compactor.is_alive():
            compactor.join()
        close(pairs)


def test_a_reader_opened_before_the_database_existed_refuses_the_same_batches() -> None:
    name = uuid.uuid4().hex
    with DB.open(open_store(f"memory://{name}"), read_only=True) as reader:
        pairs = engines(name, 2, OPTIONS)
        try:
            (_, a), (_, b) = pairs
            a.put(b"k", b"1")
            txn = b.transaction()
            txn.put(b"k", b"old")
            for i in range(SPAN + 2):  # b has not seen these: its commit is stored, then
                a.put(b"other", b"%d" % i)  # refused where it lands, by everyone
            with pytest.raises(Conflict, match="too old"):
                txn.commit()
            for db in (a, b, reader):
                db.refresh()
                assert db.get(b"k") == b"1"
            assert read_history(open_store(f"memory://{name}")).too_old
        finally:
            close(pairs)
