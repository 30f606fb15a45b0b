"""Behaviour of the DB facade on the in-memory store (other backends: test_db_backends.py)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from kvengine import DB, Closed, InvalidArgument, Options, WriteBatch
from kvengine.store import PUT, LatencyStore, ObjectStore, open_store

SMALL = Options(l0_sst_size=4096, block_bytes=512, l0_compaction_trigger=3)


def fresh_url() -> str:
    return f"memory://{uuid.uuid4().hex}"


def test_put_get_delete_and_reopen() -> None:
    url = fresh_url()
    with DB.open(url) as db:
        db.put(b"a", b"1")
        db.put(b"b", b"2")
        db.delete(b"a")
        assert db.get(b"a") is None
        assert db.get(b"b") == b"2"
    with DB.open(url) as db:
        assert db.get(b"a") is None
        assert db.get(b"b") == b"2"


def test_write_batch_is_atomic_and_ordered() -> None:
    with DB.open(fresh_url()) as db:
        db.put(b"x", b"old")
        batch = WriteBatch().put(b"x", b"1").put(b"y", b"2").delete(b"x").put(b"z", b"3")
        db.write(batch)
        assert list(db.scan()) == [(b"y", b"2"), (b"z", b"3")]


def test_scan_bounds_reverse_prefix() -> None:
    with DB.open(fresh_url(), options=SMALL) as db:
        for i in range(300):
            db.put(b"k%04d" % i, b"v%d" % i, durable=False)
        db.flush()
        for i in range(0, 300, 7):
            db.delete(b"k%04d" % i, durable=False)
        keys = [b"k%04d" % i for i in range(300) if i % 7]
        assert [k for k, _ in db.scan()] == keys
        assert [k for k, _ in db.scan(reverse=True)] == keys[::-1]
        assert [k for k, _ in db.scan(b"k0100", b"k0110")] == [
            k for k in keys if b"k0100" <= k < b"k0110"
        ]
        assert [k for k, _ in db.scan_prefix(b"k001")] == [k for k in keys if k.startswith(b"k001")]
        assert [k for k, _ in db.scan(None, b"k0003", reverse=True)] == [b"k0002", b"k0001"]


def test_snapshot_is_stable_across_writes_flushes_and_compactions() -> None:
    with DB.open(fresh_url(), options=SMALL) as db:
        for i in range(100):
            db.put(b"k%03d" % i, b"a", durable=False)
        with db.snapshot() as snap:
            for i in range(100):
                db.put(b"k%03d" % i, b"b" * 50, durable=False)
            db.delete(b"k000")
            db.flush()
            assert db.stats()["ssts"] >= 1
            assert snap.get(b"k000") == b"a"
            assert [v for _, v in snap.scan()] == [b"a"] * 100
            assert db.get(b"k000") is None
        with pytest.raises(Closed):
            snap.get(b"k001")


def test_flush_writes_ssts_and_compaction_merges_them() -> None:
    url = fresh_url()
    with DB.open(url, options=SMALL) as db:
        for round_ in range(8):
            for i in range(50):
                db.put(b"key%03d" % i, b"round%d" % round_, durable=False)
            db.flush()
        # compaction follows the flushes in its own thread: wait for it (a guard, not a timing)
        deadline = time.monotonic() + 60
        while (stats := db.stats())["sorted_runs"] < 1 or stats["l0_ssts"] >= 3:
            assert time.monotonic() < deadline, stats
            time.sleep(0.05)
        assert all(v == b"round7" for _, v in db.scan())
    with DB.open(url, options=SMALL) as db:
        assert dict(db.scan()) == {b"key%03d" % i: b"round7" for i in range(50)}


def test_durable_put_costs_one_wal_put_and_non_durable_rides_along() -> None:
    with DB.open(fresh_url(), options=Options(flush_interval_ms=60_000)) as db:
        before = db.stats()["requests"][PUT]
        db.put(b"a", b"1")
        assert db.stats()["requests"][PUT] - before == 1
        for i in range(100):
            db.put(b"n%d" % i, b"x", durable=False)
        assert db.stats()["requests"][PUT] - before == 1  # nothing sent yet
        db.put(b"b", b"2")  # carries the 100 non-durable writes too
        assert db.stats()["requests"][PUT] - before == 2


def test_concurrent_durable_writers_share_wal_puts() -> None:
    # 5 ms per PUT: writers arriving during a PUT must ride on the next one
    def slow(inner: ObjectStore) -> ObjectStore:
        return LatencyStore(inner, {PUT: 0.005})

    with DB.open(open_store(fresh_url(), wrap=slow)) as db:
        before = db.stats()["wal_puts"]

        def writer(t: int) -> None:
            for i in range(20):
                db.put(b"t%02d-%03d" % (t, i), b"v")

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(16)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert len(list(db.scan())) == 16 * 20
        assert db.stats()["wal_puts"] - before <= 16 * 20 // 2  # at least two commits per PUT


def test_bad_input() -> None:
    with DB.open(fresh_url()) as db:
        for bad_key in [b"", "text", 5, None, b"x" * (64 * 1024 + 1)]:
            with pytest.raises(InvalidArgument):
                db.put(bad_key, b"v")  # type: ignore[arg-type]
            with pytest.raises(InvalidArgument):
                db.get(bad_key)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument):
            db.put(b"k", "not bytes")  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument):
            db.write([(b"k", b"v")])  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument):
            list(db.scan("a", None))  # type: ignore[arg-type]
        assert db.get(b"k") is None
    with pytest.raises(Closed):
        db.put(b"k", b"v")
    with pytest.raises(Closed):
        db.get(b"k")


def test_read_only_sees_durable_data_and_refreshes() -> None:
    url = fresh_url()
    with DB.open(url, options=SMALL) as writer:
        writer.put(b"a", b"1")
        reader = DB.open(url, read_only=True)
        assert reader.get(b"a") == b"1"
        writer.put(b"b", b"2")
        for i in range(200):
            writer.put(b"c%03d" % i, b"x" * 40, durable=False)
        writer.flush()
        assert reader.get(b"b") == b"2"  # each read probes for newer commits
        assert len(list(reader.scan_prefix(b"c"))) == 200
        with pytest.raises(InvalidArgument):
            reader.put(b"z", b"1")
        epoch = writer.stats()["writer_epoch"]
        assert reader.stats()["writer_epoch"] == epoch  # the reader claimed nothing
        reader.close()


def test_stale_reader_catches_up_on_refresh() -> None:
    url = fresh_url()
    with DB.open(url, options=SMALL) as writer:
        writer.put(b"a", b"1")
        stale = Options(max_staleness_ms=3_600_000)
        with DB.open(open_store(url), options=stale, read_only=True) as reader:
            assert reader.get(b"a") == b"1"
            writer.put(b"b", b"2")
            assert reader.get(b"b") is None  # within max_staleness_ms: no probe
            reader.refresh()
            assert reader.get(b"b") == b"2"


def test_stats_shape() -> None:
    with DB.open(fresh_url()) as db:
        db.put(b"a", b"1")
        s = db.stats()
        for key in ("requests", "bytes_written", "cost_usd", "memtable_bytes", "l0_ssts", "ssts"):
            assert key in s
        assert s["cost_usd"]["gcs-standard"] > 0


def test_a_store_passed_in_stays_open() -> None:
    store = open_store(fresh_url())
    with DB.open(store) as db:
        db.put(b"a", b"1")
    assert store.list("wal/")  # still usable
    with DB.open(store) as db:
        assert db.get(b"a") == b"1"


def test_a_lone_non_durable_write_is_stored_within_the_interval() -> None:
    # Regression: a non-durable write into an empty queue never woke the commit thread, so it
    # stayed unstored (and invisible) until some durable write came along.
    url = fresh_url()
    with DB.open(url) as writer, DB.open(open_store(url)) as other:
        writer.put(b"nd", b"1", durable=False)
        deadline = time.monotonic() + 10
        while other.get(b"nd") is None:
            assert time.monotonic() < deadline, "the non-durable write was never stored"
            time.sleep(0.02)
        assert writer.stats()["wal_puts"] == 1


def test_flush_leaves_the_flusher_idle() -> None:
    # Regression: DB.flush() asked for the flush role, and a holder never cleared the request,
    # so its thread turned without pause: a probe GET per turn, thousands a second.
    with DB.open(fresh_url()) as db:
        db.put(b"a", b"1")
        db.flush()  # takes the role
        db.put(b"b", b"2")
        db.flush()  # asks the holder again
        before = db.stats()["requests"].get("GET", 0)
        time.sleep(0.5)  # flusher_poll_ms is 1000: at most one turn
        assert db.stats()["requests"].get("GET", 0) - before <= 2


def test_a_reader_drops_memtables_the_writers_flushed() -> None:
    # A read-only process follows the WAL into its memtables; without adopting the flusher's
    # manifests it would hold every write ever made in memory.
    url = fresh_url()
    options = Options(l0_sst_size=4096, flusher_poll_ms=50, l0_compaction_trigger=0)
    with DB.open(url, options=options) as writer:
        writer.put(b"seed", b"x")
        with DB.open(open_store(url), options=options, read_only=True) as reader:
            for i in range(200):
                writer.put(b"k%04d" % i, b"v" * 200, durable=False)
                if i % 20 == 0:
                    assert reader.get(b"seed") == b"x"  # follows the WAL, freezing memtables
            writer.flush()
            assert reader.get(b"k0199") == b"v" * 200
            assert reader.stats()["frozen_memtables"] > 0
            deadline = time.monotonic() + 10
            while reader.stats()["frozen_memtables"]:
                assert time.monotonic() < deadline, "the reader kept its flushed memtables"
                time.sleep(0.05)
            assert reader.stats()["flush_role"] is False
            assert reader.get(b"k0100") == b"v" * 200  # now from the SSTs
