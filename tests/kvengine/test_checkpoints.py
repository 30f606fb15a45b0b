"""Checkpoints: a named point in time that opens read-only and survives garbage collection;
a deleted or expired one is a clear error, never other data."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from kvengine import DB, CheckpointUnavailable, InvalidArgument, Options
from kvengine.cli import admin
from kvengine.gc import GarbageCollector
from kvengine.store.memory import MemoryStore

SMALL = Options(l0_compaction_trigger=2, gc_interval_s=0)


def fresh() -> str:
    return f"cp-{uuid.uuid4().hex}"


def test_a_checkpoint_holds_acknowledged_writes_of_every_process() -> None:
    name = fresh()
    a = DB.open(MemoryStore.named(name), options=SMALL)
    b = DB.open(MemoryStore.named(name), options=SMALL)
    try:
        a.put(b"flushed", b"1")
        a.flush()
        b.put(b"in-wal", b"2")  # acknowledged, in no SST yet
        a.put(b"mine", b"3", durable=False)  # stored before the checkpoint is taken
        cp = a.checkpoint("t1")
        a.put(b"later", b"4")
        b.delete(b"flushed")
        a.flush()
        assert cp.name == "t1" and cp.expires_ms is None
        assert [c.name for c in b.checkpoints()] == ["t1"]
        with DB.open(MemoryStore.named(name), checkpoint="t1") as old:
            expected = {b"flushed": b"1", b"in-wal": b"2", b"mine": b"3"}
            assert dict(old.scan()) == expected
            old.refresh()
            assert dict(old.scan()) == expected
            with pytest.raises(InvalidArgument):
                old.put(b"x", b"y")
            with pytest.raises(InvalidArgument):
                old.checkpoint()
    finally:
        a.close()
        b.close()


def test_checkpoints_survive_overwrites_compaction_and_gc() -> None:
    name = fresh()
    store = MemoryStore.named(name)
    with DB.open(store, options=SMALL) as db:
        states = {}
        for r in range(6):
            for i in range(20):
                db.put(b"k%02d" % i, b"r%d" % r)
            if r % 2:
                db.flush()
            states[db.checkpoint(f"r{r}", lifetime=timedelta(hours=1)).name] = dict(db.scan())
        for r in range(6, 10):
            for i in range(20):
                db.put(b"k%02d" % i, b"r%d" % r)
            db.flush()
        report = GarbageCollector(store, min_age_s=0).run()
        assert report.total_count > 0
        for cp_name, then in states.items():
            with DB.open(MemoryStore.named(name), checkpoint=cp_name) as old:
                assert dict(old.scan()) == then
        db.delete_checkpoint("r0")
        GarbageCollector(store, min_age_s=0).run()
        with pytest.raises(CheckpointUnavailable, match="r0"):
            DB.open(MemoryStore.named(name), checkpoint="r0")
        with DB.open(MemoryStore.named(name), checkpoint="r5") as old:
            assert dict(old.scan()) == states["r5"]


def test_expired_deleted_and_unknown_checkpoints_are_clear_errors() -> None:
    name = fresh()
    with DB.open(MemoryStore.named(name), options=SMALL) as db:
        db.put(b"k", b"v")
        db.checkpoint("short", lifetime=0.001)
        time.sleep(0.01)
        with pytest.raises(CheckpointUnavailable, match="expired"):
            DB.open(MemoryStore.named(name), checkpoint="short")
        with pytest.raises(CheckpointUnavailable, match="no checkpoint"):
            DB.open(MemoryStore.named(name), checkpoint="never")
        with pytest.raises(CheckpointUnavailable):
            db.delete_checkpoint("never")
        db.checkpoint("dup")
        with pytest.raises(InvalidArgument, match="exists"):
            db.checkpoint("dup")
        for bad in ("", "a\nb", "x" * 201):
            with pytest.raises(InvalidArgument):
                db.checkpoint(bad)
        with pytest.raises(InvalidArgument):
            db.checkpoint(lifetime=0)
        unnamed = db.checkpoint()
        assert unnamed.name in {c.name for c in db.checkpoints()}


def test_cli_checkpoint_create_list_delete(tmp_path: Path) -> None:
    url = str(tmp_path / "db")
    with DB.open(url) as db:
        db.put(b"k", b"before")
    made = CliRunner().invoke(admin, ["checkpoint", "create", url, "--name", "nightly"])
    assert made.exit_code == 0, made.output
    assert made.stdout.strip() == "nightly"
    timed = CliRunner().invoke(admin, ["checkpoint", "create", url, "--lifetime", "3600"])
    assert timed.exit_code == 0, timed.output
    with DB.open(url) as db:
        db.put(b"k", b"after")
    listed = CliRunner().invoke(admin, ["checkpoint", "list", url])
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["nightly", timed.stdout.strip()]
    assert lines[0].split("\t")[4] == "never"
    with DB.open(url, checkpoint="nightly") as old:
        assert old.get(b"k") == b"before"
    gone = CliRunner().invoke(admin, ["checkpoint", "delete", url, "nightly"])
    assert gone.exit_code == 0, gone.output
    again = CliRunner().invoke(admin, ["checkpoint", "delete", url, "nightly"])
    assert again.exit_code == 2 and "CheckpointUnavailable" in again.stderr
