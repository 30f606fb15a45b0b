"""Garbage collection (docs/design/0005-storage-lifecycle.md): it deletes only what no kept
manifest version, checkpoint or lagging writer can need, and the data stays the model's."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvengine import DB, CheckpointUnavailable, Options
from kvengine.cli import admin
from kvengine.gc import GarbageCollector
from kvengine.manifest.store import ManifestStore, manifest_path
from kvengine.store import ObjectStore
from kvengine.store.memory import MemoryStore
from kvengine.table_store import sst_path, wal_path

SMALL = Options(l0_compaction_trigger=2, gc_interval_s=0)


def check_reachable(store: ObjectStore, kept: tuple[int, ...]) -> None:
    """Every object a kept version references exists, and every WAL object that the latest
    version's checkpoints and its readers need (at min age 0 no older version is followed;
    a version kept for a checkpoint needs its SSTs, not its own list of checkpoints)."""
    mstore = ManifestStore(store)
    present = {o.path for o in store.list("")}
    latest = max(kept)
    wal_ids = sorted(int(p[4:]) for p in present if p.startswith("wal/"))
    for vid in kept:
        assert manifest_path(vid) in present
        m = mstore.read(vid)
        for sst_id in m.live_sst_ids():
            assert sst_path(sst_id) in present, f"version {vid} lost SST {sst_id}"
    for cp in mstore.read(latest).checkpoints:
        assert cp.manifest_id in kept
        pinned = mstore.read(cp.manifest_id)
        for w in range(pinned.wal_replay_after + 1, cp.wal_tail + 1):
            assert wal_path(w) in present, f"checkpoint {cp.name} lost WAL {w}"
    replay = mstore.read(latest).wal_replay_after
    tail = max(wal_ids, default=replay)
    for w in range(replay + 1, tail + 1):
        assert wal_path(w) in present, f"WAL {w} past the replay point is gone"


keys = st.sampled_from([b"k%d" % i for i in range(8)])
ops = st.one_of(
    st.tuples(st.just("put"), keys, st.binary(min_size=1, max_size=30)),
    st.tuples(st.just("delete"), keys),
    st.tuples(st.just("flush")),
    st.tuples(st.just("checkpoint")),
    st.tuples(st.just("gc")),
    st.tuples(st.just("reopen")),
    st.tuples(st.just("drop_checkpoint"), st.integers(0, 5)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, max_size=40))
def test_gc_keeps_every_reachable_object_and_the_data(workload: list[tuple[object, ...]]) -> None:
    name = f"gc-prop-{uuid.uuid4().hex}"
    store = MemoryStore.named(name)
    db = DB.open(store, options=SMALL)
    model: dict[bytes, bytes] = {}
    saved: dict[str, dict[bytes, bytes]] = {}  # checkpoint name -> model then
    try:
        for op in workload:
            match op:
                case ("put", bytes() as k, bytes() as v):
                    db.put(k, v)
                    model[k] = v
                case ("delete", bytes() as k):
                    db.delete(k)
                    model.pop(k, None)
                case ("flush",):
                    db.flush()
                case ("checkpoint",):
                    saved[db.checkpoint().name] = dict(model)
                case ("drop_checkpoint", int() as i) if saved:
                    victim = sorted(saved)[i % len(saved)]
                    db.delete_checkpoint(victim)
                    del saved[victim]
                case ("gc",):
                    report = GarbageCollector(store, min_age_s=0).run()
                    if report.kept_versions:
                        check_reachable(store, report.kept_versions)
                    assert dict(db.scan()) == model
                case ("reopen",):
                    db.close()
                    db = DB.open(MemoryStore.named(name), options=SMALL)
            assert dict(db.scan()) == model
        GarbageCollector(store, min_age_s=0).run()
        db.close()
        db = DB.open(MemoryStore.named(name), options=SMALL)
        assert dict(db.scan()) == model
        assert {c.name for c in db.checkpoints()} == set(saved)
        for cp_name, then in saved.items():  # old checkpoints read their point in time
            with DB.open(MemoryStore.named(name), checkpoint=cp_name) as old:
                assert dict(old.scan()) == then
    finally:
        db.close()


def test_overwrites_then_gc_leave_about_the_live_data() -> None:
    """The issue's target, small: 20 rounds over the same keys, compaction, GC at min age 0."""
    store = MemoryStore.named(f"gc-{uuid.uuid4().hex}")
    with DB.open(store, options=SMALL) as db:
        for r in range(20):
            for i in range(200):
                db.put(b"key%04d" % i, b"round %02d " % r * 4, durable=False)
            db.flush()
        db.compact()  # one run, and no compaction left to commit while GC runs
        live = sum(len(k) + len(v) for k, v in db.scan())
        before = sum(o.size for o in store.list(""))
        report = GarbageCollector(store, min_age_s=0).run()
        after = sum(o.size for o in store.list(""))
        assert report.bytes_before >= before and report.total_bytes > before - 2 * live
        assert before > 10 * live
        assert after < 2 * live
        assert len(store.list("manifest/")) <= 2  # finding the latest stays cheap
        assert dict(db.scan()) == {b"key%04d" % i: b"round 19 " * 4 for i in range(200)}


def test_nothing_younger_than_min_age_is_deleted() -> None:
    store = MemoryStore.named(f"gc-{uuid.uuid4().hex}")
    with DB.open(store, options=SMALL) as db:
        for r in range(5):
            db.put(b"k", b"%d" % r)
            db.flush()
        before = {o.path for o in store.list("")}
        report = GarbageCollector(store, min_age_s=3600).run()
        assert report.total_count == 0
        assert {o.path for o in store.list("")} >= before
        dry = GarbageCollector(store, min_age_s=0).run(dry_run=True)
        assert dry.total_count > 0 and dry.count("wal") > 0 and dry.count("manifest") > 0
        assert {o.path for o in store.list("")} >= before  # a dry run deletes nothing
        assert db.get(b"k") == b"4"


def test_a_lagging_writer_never_recreates_a_collected_wal_id() -> None:
    """0003 invariant 5: writer A last looked at the WAL tail long ago (more than half of
    wal_gc_min_age_s); B wrote and flushed past it, and GC deleted B's WAL objects. A's
    next commit must not land at one of the deleted ids (it would be covered by the replay
    point and lost); it starts over from the manifest."""
    name = f"gc-lag-{uuid.uuid4().hex}"
    opts = Options(wal_gc_min_age_s=1.0, gc_min_age_s=1.0, gc_interval_s=0)
    a = DB.open(MemoryStore.named(name), options=opts)
    b = DB.open(MemoryStore.named(name), options=opts)
    try:
        a.put(b"a0", b"1")
        for i in range(10):
            b.put(b"b%d" % i, b"x")
        b.flush()
        replay = b.manifest[1].wal_replay_after
        assert replay >= 11
        time.sleep(1.2)  # every WAL object is older than the minimum age now
        store = MemoryStore.named(name)
        report = GarbageCollector(store, min_age_s=1.0).run()
        assert report.count("wal") == replay
        a.put(b"a1", b"2")  # A's view is stale: without the rule it would take id 2
        wal_ids = [int(o.path[4:]) for o in store.list("wal/")]
        assert min(wal_ids) > replay, f"a collected WAL id was re-created: {wal_ids}"
        b.refresh()
        assert b.get(b"a1") == b"2"
    finally:
        a.close()
        b.close()
    with DB.open(MemoryStore.named(name), options=opts) as db:
        expected = {b"a0": b"1", b"a1": b"2", **{b"b%d" % i: b"x" for i in range(10)}}
        assert dict(db.scan()) == expected


def test_a_manifest_write_below_a_newer_version_counts_as_lost() -> None:
    """A process whose cached manifest id is stale may re-create a collected version id; the
    write must not count, since the newer version is what everyone reads."""
    store = MemoryStore.named(f"gc-{uuid.uuid4().hex}")
    with DB.open(store, options=SMALL) as db:
        for i in range(3):
            db.put(b"k", b"%d" % i)
            db.flush()
        latest, m = db.manifest
    mstore = ManifestStore(store)
    store.delete(manifest_path(latest - 1))
    assert mstore.try_write(latest - 1, m) is False
    assert mstore.read_latest() is not None and mstore.read_latest()[0] == latest  # type: ignore[index]


READER = textwrap.dedent(
    """
    import sys
    from kvengine import DB, Options
    db = DB.open(sys.argv[1], options=Options(gc_interval_s=0), read_only=True)
    snap = db.snapshot()
    print("ready", flush=True)
    sys.stdin.readline()
    print(repr(sorted(snap.scan())), flush=True)
    """
)


def test_a_reader_process_holding_an_old_version_keeps_working(tmp_path: Path) -> None:
    url = str(tmp_path / "db")
    with DB.open(url, options=SMALL) as db:
        for i in range(50):
            db.put(b"k%02d" % i, b"old")
        db.flush()
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None and reader.stdin is not None
        assert reader.stdout.readline().strip() == "ready"
        with DB.open(url, options=SMALL) as db:
            for r in range(4):  # overwrite, flush and compact: the old SSTs become garbage
                for i in range(50):
                    db.put(b"k%02d" % i, b"new%d" % r, durable=False)
                db.flush()
            store = db.store
            report = GarbageCollector(store, min_age_s=3600).run()
            assert report.total_count == 0
            assert GarbageCollector(store, min_age_s=0).run(dry_run=True).count("sst") > 0
            reader.stdin.write("go\n")
            reader.stdin.flush()
            out = reader.stdout.readline()
        assert out.strip() == repr([(b"k%02d" % i, b"old") for i in range(50)])
    finally:
        reader.kill()
        reader.wait()


def test_gc_in_the_flush_role_holder() -> None:
    """The holder collects every gc_interval_s."""
    store = MemoryStore.named(f"gc-{uuid.uuid4().hex}")
    opts = Options(l0_compaction_trigger=2, gc_interval_s=0.05, gc_min_age_s=0)
    with DB.open(store, options=opts) as db:
        for r in range(6):
            db.put(b"k", b"%d" % r)
            db.flush()
        deadline = time.monotonic() + 30
        while len(store.list("wal/")) > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.list("wal/") == []
        assert db.get(b"k") == b"5"


def test_cli_gc_dry_run_then_gc(tmp_path: Path) -> None:
    url = str(tmp_path / "db")
    with DB.open(url, options=SMALL) as db:
        for r in range(4):
            db.put(b"k", b"%d" % r)
            db.flush()
    before = sorted(p.name for p in (tmp_path / "db").rglob("*") if p.is_file())
    dry = CliRunner().invoke(admin, ["gc", url, "--dry-run", "--min-age", "0", "-v"])
    assert dry.exit_code == 0, dry.output
    assert "would delete wal/" in dry.stdout and "/month" in dry.stdout
    assert sorted(p.name for p in (tmp_path / "db").rglob("*") if p.is_file()) == before
    real = CliRunner().invoke(admin, ["gc", url, "--min-age", "0"])
    assert real.exit_code == 0, real.output
    assert "deleted" in real.stdout
    assert not list((tmp_path / "db" / "wal").glob("*"))
    with DB.open(url) as db:
        assert db.get(b"k") == b"3"
    kept = CliRunner().invoke(admin, ["gc", url])  # default min age: nothing is old enough
    assert kept.exit_code == 0 and "deleted 0 of" in kept.stdout


def test_an_expired_checkpoint_is_a_clear_error_after_gc() -> None:
    name = f"gc-{uuid.uuid4().hex}"
    store = MemoryStore.named(name)
    with DB.open(store, options=SMALL) as db:
        db.put(b"k", b"then")
        db.checkpoint("brief", lifetime=0.001)
        time.sleep(0.01)
        db.put(b"k", b"now")
        db.flush()
        GarbageCollector(store, min_age_s=0).run()
        assert [c.name for c in db.checkpoints()] == []  # dropped once collected
    try:
        DB.open(MemoryStore.named(name), checkpoint="brief")
    except CheckpointUnavailable as exc:
        assert exc.name == "brief"
    else:
        raise AssertionError("an expired checkpoint opened")
