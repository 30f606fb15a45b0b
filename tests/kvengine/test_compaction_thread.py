"""Compaction in its own thread of the role holder: flushes go on while a merge runs, and the
merge's result is re-applied on the latest manifest (docs/architecture.md, "Compaction")."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from kvengine import DB, Options
from kvengine.manifest.model import Manifest, SortedRun, SSTMeta

OPTIONS = Options(l0_compaction_trigger=3, sst_target_bytes=1024, block_bytes=256)


def wait_for(what: str, condition: object, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def write_round(db: DB, model: dict[bytes, bytes], round_: int) -> None:
    for i in range(0, 120, 1 + round_ % 3):
        key, value = b"key%04d" % i, b"round %d " % round_ * 5
        db.put(key, value, durable=False)
        model[key] = value
    if round_ % 2:
        db.delete(b"key%04d" % round_)
        model.pop(b"key%04d" % round_, None)


def test_a_flush_completes_while_a_long_compaction_runs() -> None:
    url = f"memory://{uuid.uuid4().hex}"
    model: dict[bytes, bytes] = {}
    entered, release = threading.Event(), threading.Event()

    def gate(done: int, total: int) -> None:
        """Called after each output SST: hold the first compaction after its first output."""
        if not release.is_set():
            entered.set()
            release.wait()

    with DB.open(url, options=OPTIONS) as db:
        db.flush()  # takes the role
        db._flusher.compaction_progress = gate
        round_ = 0
        while len(db.manifest[1].l0) < OPTIONS.l0_compaction_trigger:
            write_round(db, model, round_)
            db.flush()
            round_ += 1
        wait_for("the compaction to start", entered.is_set)  # and it is held at the gate
        _, before = db.manifest
        assert len(before.l0) == OPTIONS.l0_compaction_trigger
        assert db.stats()["compactions"] == 0

        # The merge is held inside the compaction thread; flushes still complete.
        for _ in range(2):
            write_round(db, model, round_)
            db.flush()
            round_ += 1
        _, during = db.manifest
        assert len(during.l0) == len(before.l0) + 2
        assert db.stats()["compactions"] == 0 and entered.is_set() and not release.is_set()
        assert dict(db.scan()) == model

        release.set()
        wait_for("the compaction to commit", lambda: db.stats()["compactions"] >= 1)
        _, after = db.manifest
        assert after.runs, "the held compaction's run is in the manifest"
        assert db.stats()["compactions"] == 1  # L0 is below the trigger again
        newest_flush = max(m.sst_id for m in after.l0)
        run_ids = [m.sst_id for m in after.runs[-1].ssts]
        # Its first output id was picked before the flushes raised next_sst_id past it.
        assert min(run_ids) < newest_flush < after.next_sst_id
        assert dict(db.scan()) == model
        db.compact()
        assert dict(db.scan()) == model
    with DB.open(url, options=OPTIONS) as db:
        assert dict(db.scan()) == model


def meta(sst_id: int, first: bytes, last: bytes, seq: int) -> SSTMeta:
    return SSTMeta(sst_id, 100, first, last, 1, seq, seq)


def test_with_compaction_accepts_unused_ids_from_the_floor() -> None:
    m = Manifest.empty()
    m = m.with_l0_flush(meta(1, b"a", b"b", 1), 1, 1)
    m = m.with_l0_flush(meta(2, b"a", b"b", 2), 2, 2)
    floor = m.next_sst_id  # 3: the compaction picks 3, a flush then takes 4
    m = m.with_l0_flush(meta(4, b"a", b"b", 3), 3, 3, fresh_from=floor)
    assert m.next_sst_id == 5
    run = SortedRun(m.next_run_id, (meta(3, b"a", b"b", 2),))
    out = m.with_compaction(frozenset({1, 2}), frozenset(), run, fresh_from=floor)
    assert [s.sst_id for s in out.l0] == [4] and out.runs == (run,) and out.next_sst_id == 5
    with pytest.raises(ValueError, match="not fresh"):
        m.with_compaction(frozenset({1, 2}), frozenset(), run)  # without the floor: refused
    in_use = SortedRun(m.next_run_id, (meta(4, b"a", b"b", 2),))
    with pytest.raises(ValueError, match="in use"):
        m.with_compaction(frozenset({1, 2}), frozenset(), in_use, fresh_from=floor)
    below = SortedRun(m.next_run_id, (meta(2, b"a", b"b", 2),))
    with pytest.raises(ValueError, match="not fresh"):
        m.with_compaction(frozenset({1}), frozenset(), below, fresh_from=floor)
