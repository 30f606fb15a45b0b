"""Following readers: ``DB.open(url, read_only=True)`` keeps up with writers in other processes
by polling, never writes data, and holds a checkpoint that garbage collection respects."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from kvengine import DB, ObjectNotFound, Options, SSTGone, Store
from kvengine.background import ManualClock
from kvengine.gc import GarbageCollector
from kvengine.store.memory import MemoryStore
from kvengine.table_store import sst_path

SMALL = Options(l0_compaction_trigger=2, gc_interval_s=0)

#: Reads never probe (a day of staleness): what the reader sees comes from its poll thread.
READER = """
import sys, time
from kvengine import DB, Options
db = DB.open(sys.argv[1], read_only=True,
             options=Options(reader_poll_ms=50, max_staleness_ms=86_400_000))
print("ready", db.stats()["reader_checkpoint"] is not None, flush=True)
deadline = time.monotonic() + 60
for line in sys.stdin:
    want = line.strip().encode()
    while db.get(b"k") != want:
        if time.monotonic() > deadline:
            print("timeout", db.get(b"k"), flush=True)
            sys.exit(1)
        time.sleep(0.01)
    print("saw", want.decode(), flush=True)
db.close()
"""


def test_a_reader_in_another_process_follows_commits(tmp_path: Path) -> None:
    url = str(tmp_path / "db")
    with DB.open(url, options=SMALL) as db:
        db.put(b"k", b"v0")
        db.flush()  # a manifest exists: the reader holds a checkpoint
        reader = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(READER), url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert reader.stdin is not None and reader.stdout is not None
        try:
            assert reader.stdout.readline().split() == ["ready", "True"]
            assert [c.name.startswith("reader-") for c in db.checkpoints()] == [True]
            for i in range(1, 6):
                db.put(b"k", b"v%d" % i)
                if i == 3:
                    db.flush()  # the reader follows a flush and a compaction too
                    db.compact()
                reader.stdin.write(f"v{i}\n")
                reader.stdin.flush()
                assert reader.stdout.readline().split() == ["saw", f"v{i}"]
            reader.stdin.close()
            assert reader.wait(60) == 0
        finally:
            reader.kill()
            reader.wait()
        assert db.checkpoints() == ()  # deleted on close


def test_gc_keeps_what_a_reader_reads() -> None:
    name = f"rd-{uuid.uuid4().hex}"
    store = MemoryStore.named(name)
    with DB.open(store, options=SMALL) as db:
        for i in range(50):
            db.put(b"old%02d" % i, b"x" * 100)
        db.flush()
        db.put(b"k", b"first")
        db.flush()
        # A reader that polls rarely: its view stays on the version it opened on.
        slow = Options(reader_poll_ms=3_600_000, max_staleness_ms=86_400_000)
        with DB.open(MemoryStore.named(name), read_only=True, options=slow) as reader:
            manifest_id, manifest = reader.manifest
            held = reader.stats()["reader_checkpoint"]
            assert held is not None
            assert [c.manifest_id for c in db.checkpoints() if c.name == held] == [manifest_id]
            for r in range(4):
                for i in range(50):
                    db.put(b"old%02d" % i, b"r%d" % r)
                db.put(b"k", b"round%d" % r)
                db.flush()
            db.compact()
            assert not set(manifest.all_ssts()) & set(db.manifest[1].all_ssts())
            report = GarbageCollector(store, min_age_s=0).run()
            assert report.total_count > 0
            names = {o.path for o in store.list("sst/")}
            assert {sst_path(meta.sst_id) for meta in manifest.all_ssts()} <= names
            assert dict(reader.scan()) == {
                **{b"old%02d" % i: b"x" * 100 for i in range(50)},
                b"k": b"first",
            }
            reader.refresh()
            assert reader.get(b"k") == b"round3"
        assert db.checkpoints() == ()
        GarbageCollector(store, min_age_s=0).run()  # nothing of the reader's is kept now
        assert len(db.manifest[1].all_ssts()) == len(store.list("sst/"))


def test_a_reader_may_hold_no_checkpoint(tmp_path: Path) -> None:
    url = str(tmp_path / "db")
    with DB.open(url, options=SMALL) as db:
        db.put(b"k", b"v")
        opts = Options(reader_checkpoint_s=0)
        with DB.open(url, read_only=True, options=opts) as reader:
            assert reader.get(b"k") == b"v"
            assert reader.stats()["reader_checkpoint"] is None
            assert db.checkpoints() == ()


def _reader_checkpoints(db: DB) -> list[str]:
    return [c.name for c in db.checkpoints() if c.name.startswith("reader-")]


def test_a_reader_renews_its_checkpoint_and_keeps_one() -> None:
    name = f"rd-{uuid.uuid4().hex}"
    with DB.open(MemoryStore.named(name), options=SMALL) as db:
        db.put(b"k", b"v")
        db.flush()
        quick = Options(reader_poll_ms=20, reader_checkpoint_s=0.1)
        with DB.open(MemoryStore.named(name), read_only=True, options=quick) as reader:
            first = reader.stats()["reader_checkpoint"]
            assert first is not None
            deadline = time.monotonic() + 60
            while reader.stats()["reader_checkpoint"] == first:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert len(_reader_checkpoints(db)) == 1
            assert reader.get(b"k") == b"v"
        assert _reader_checkpoints(db) == []


def test_a_reader_renews_when_its_view_adopts_an_unpinned_version() -> None:
    name = f"rd-{uuid.uuid4().hex}"
    with DB.open(MemoryStore.named(name), options=SMALL) as db:
        db.put(b"k", b"v0")
        # A tiny memtable: the reader's view freezes and adopts newer manifests.
        follow = Options(reader_poll_ms=20, l0_sst_size=256, max_staleness_ms=86_400_000)
        with DB.open(MemoryStore.named(name), read_only=True, options=follow) as reader:
            for i in range(20):
                db.put(b"k%02d" % i, b"x" * 64)
                db.flush()
            deadline = time.monotonic() + 60
            while True:
                pinned = {c.name: c.manifest_id for c in db.checkpoints()}
                held = reader.stats()["reader_checkpoint"]
                if reader.get(b"k19") == b"x" * 64 and pinned.get(held) == reader.manifest[0]:
                    break
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert reader.manifest[0] > 1 and len(_reader_checkpoints(db)) == 1


def test_a_reader_of_an_empty_location_creates_nothing() -> None:
    store = MemoryStore.named(f"rd-{uuid.uuid4().hex}")
    with DB.open(store, read_only=True) as reader:
        assert reader.get(b"k") is None
        assert reader.stats()["reader_checkpoint"] is None
    assert store.list("") == []


def test_a_reader_whose_sst_was_collected_gets_sst_gone(tmp_path: Path) -> None:
    """A reader holding a version without a checkpoint, past the GC age: the SST it lists is
    gone, and the error names it and says why (not a bare ObjectNotFound, not other data)."""
    url = str(tmp_path / "db")
    with DB.open(url, options=SMALL) as db:
        db.put(b"k", b"old")
        db.flush()
        old_ssts = {m.sst_id for m in db.manifest[1].all_ssts()}
        day = 86_400_000
        held = Options(reader_checkpoint_s=0, reader_poll_ms=day, max_staleness_ms=day)
        with DB.open(url, read_only=True, options=held) as reader:
            db.put(b"k", b"new")
            db.flush()
            db.compact()
            GarbageCollector(db.store, min_age_s=0).run()
            with pytest.raises(SSTGone) as caught:
                reader.get(b"k")
    assert caught.value.sst_id in old_ssts
    assert caught.value.path == sst_path(caught.value.sst_id)
    assert isinstance(caught.value, ObjectNotFound)
    assert "garbage-collected" in str(caught.value) and "checkpoint" in str(caught.value)


def test_a_writer_without_the_role_follows_the_manifest_before_gc_takes_its_ssts() -> None:
    # Found by the crash loop on GCS (SSTGone in a SQL worker): a process that did not hold
    # the flush role read the latest manifest only when it had a memtable to flush, so a
    # read-mostly process kept the SST list it opened with; once compaction replaced those
    # SSTs and GC deleted them (gc_min_age_s later), its reads failed.
    mem = MemoryStore.named(f"follow-{uuid.uuid4().hex}")
    holder = DB.open(Store(mem))
    for round_ in range(2):
        for i in range(50):
            holder.put(b"k%03d" % i, b"v%d" % round_)
        holder.flush()
    clock = ManualClock()
    options = Options(block_cache_bytes=0, gc_min_age_s=40.0, wal_gc_min_age_s=40.0)
    other = DB.open(Store(mem), options=options, clock=clock, manual=True)
    assert other.get(b"k001") == b"v1"
    holder.compact()  # the SSTs `other` lists are replaced
    clock.advance(10.0)  # a quarter of the minimum age: time to read the manifest again
    other.background.step("flush")
    GarbageCollector(Store(mem), min_age_s=0).run()  # as GC would after gc_min_age_s
    assert [other.get(b"k%03d" % i) for i in range(50)] == [b"v1"] * 50
    other.close()
    holder.close()
