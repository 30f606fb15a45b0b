"""The engine end to end on every backend: memory, local disk, fake-gcs-server, moto S3."""

from __future__ import annotations

import pytest

from kvengine import DB, Corruption, Fenced, Options, WriteBatch
from kvengine.store import open_store

SMALL = Options(l0_sst_size=8192, block_bytes=512, l0_compaction_trigger=3)
Target = tuple[str, dict[str, object]]


def test_write_flush_compact_reopen(any_target: Target) -> None:
    url, opts = any_target
    with DB.open(url, options=SMALL, **opts) as db:
        for round_ in range(5):
            batch = WriteBatch()
            for i in range(60):
                batch.put(b"k%03d" % i, b"r%d-" % round_ + b"x" * 60)
            db.write(batch)
            db.flush()
        db.delete(b"k000")
        db.compact()  # compaction runs in its own thread: wait for one here
        assert db.stats()["sorted_runs"] >= 1
    with DB.open(url, options=SMALL, **opts) as db:
        pairs = list(db.scan())
        assert len(pairs) == 59
        assert all(v.startswith(b"r4-") for _, v in pairs)
        assert db.get(b"k000") is None
        assert [k for k, _ in db.scan(b"k010", b"k013", reverse=True)] == [
            b"k012",
            b"k011",
            b"k010",
        ]


def test_fencing(any_target: Target) -> None:
    url, opts = any_target
    w1 = DB.open(open_store(url, **opts), exclusive=True)
    w1.put(b"a", b"1")
    w2 = DB.open(open_store(url, **opts), exclusive=True)
    with pytest.raises(Fenced):
        w1.put(b"b", b"zombie")
    w2.put(b"c", b"3")
    w1.close()
    w2.close()
    with DB.open(url, read_only=True, **opts) as r:
        assert (r.get(b"a"), r.get(b"b"), r.get(b"c")) == (b"1", None, b"3")


def test_corrupt_wal_detected(any_target: Target) -> None:
    url, opts = any_target
    with DB.open(url, **opts) as db:
        db.put(b"a", b"1")
    store = open_store(url, **opts)
    wal = store.list("wal/")[-1].path
    data = store.get(wal)
    store.put(wal, data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(Corruption, match=wal.split("/")[-1]):
        DB.open(url, read_only=True, **opts)


def test_point_read_costs_one_get_when_index_is_cached(any_target: Target) -> None:
    url, opts = any_target
    options = Options(block_bytes=256, l0_compaction_trigger=0, block_cache_bytes=0)
    with DB.open(url, options=options, **opts) as db:
        for i in range(500):
            db.put(b"key%04d" % i, b"v" * 50, durable=False)
        db.flush()
    # A reader that accepts a stale view makes no probe for newer commits.
    stale = Options(block_bytes=256, block_cache_bytes=0, max_staleness_ms=3_600_000)
    with DB.open(url, options=stale, read_only=True, **opts) as db:
        assert db.get(b"key0001") == b"v" * 50  # opens the SST: footer+index+filter, one block
        before = db.stats()["requests"]["GET"]
        for i in range(100, 110):
            assert db.get(b"key%04d" % i) == b"v" * 50
        assert db.stats()["requests"]["GET"] - before == 10
        before = db.stats()["requests"]["GET"]
        for i in range(100):
            assert db.get(b"nokey%04d" % i) is None
        # the bloom filter answers most misses without a GET (about 1% false positives)
        assert db.stats()["requests"]["GET"] - before <= 5
