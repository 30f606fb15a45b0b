"""Manual background mode (kvengine/background.py): no flush, compaction, GC or reader thread;
the caller runs each unit, and every interval is read from an injected clock."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import TypeVar

import pytest

from kvengine import DB, InvalidArgument, Options, RetryPolicy, WriteBatch
from kvengine.background import ManualClock
from kvengine.batch import Kind
from kvengine.committer import RETRY_FIRST_S, STALE_TAIL_S, CommitRequest
from kvengine.errors import StoreUnavailable
from kvengine.store import Store
from kvengine.store.base import GET, LIST
from kvengine.store.memory import MemoryStore
from kvengine.store.wrapper import StoreWrapper
from kvengine.table_store import SST_PREFIX

T = TypeVar("T")
BACKGROUND = {"strata-flush", "strata-compact", "strata-gc", "strata-reader"}
OPTIONS = Options(
    l0_sst_size=2048,
    l0_compaction_trigger=2,
    flusher_takeover_ms=5000,
    gc_interval_s=60,
    gc_min_age_s=30,
    wal_gc_min_age_s=30,
    l0_slowdown_trigger=0,
    l0_stop_trigger=0,
    # one PUT in flight: a "wal" step stores a group (pipelined, a step starts a PUT, runs
    # one or settles one: test_pipelined_puts_are_stepped_and_settled_in_id_order)
    wal_pipeline_depth=1,
)


def engine(memory: MemoryStore, clock: ManualClock, *, read_only: bool = False) -> DB:
    return DB.open(Store(memory), options=OPTIONS, read_only=read_only, clock=clock, manual=True)


def fill(db: DB, tag: bytes, n: int = 40) -> None:
    batch = WriteBatch()
    for i in range(n):
        batch.put(b"%s/%03d" % (tag, i), b"x" * 64)
    db.write(batch)


def strata_threads() -> set[str]:
    return {t.name for t in threading.enumerate()} & BACKGROUND


def test_a_manual_engine_starts_no_background_thread_and_does_its_work_when_told() -> None:
    clock = ManualClock()
    memory = MemoryStore(clock=clock.time)
    before = strata_threads()
    db = engine(memory, clock)
    reader = engine(memory, clock, read_only=True)
    try:
        assert db.background.manual and db.background.units == ("wal", "flush", "compact", "gc")
        assert reader.background.units == ("flush", "poll")
        assert strata_threads() == before
        db.put(b"a", b"1", durable=False)
        db.background.step("wal")  # what the commit timer does
        reader.background.step("poll")
        assert reader.stats()["wal_tail"] == 0  # it probed at open, less than a poll ago
        clock.advance(OPTIONS.reader_poll_ms / 1000)
        reader.background.step("poll")
        assert reader.stats()["wal_tail"] == db.stats()["wal_tail"]
        db.flush()  # in this thread: the SST is there when it returns
        assert db.stats()["flushed_ssts"] == 1 and db.stats()["flush_role"]
        fill(db, b"b")
        fill(db, b"c")
        db.background.step("flush")
        assert db.stats()["l0_ssts"] >= 2 and db.stats()["compactions"] == 0
        db.background.step("compact")  # the policy's compaction, run now
        assert db.stats()["compactions"] == 1 and db.stats()["l0_ssts"] == 0
        db.compact()
        assert db.get(b"a") == b"1" and reader.get(b"c/039") == b"x" * 64
        with pytest.raises(InvalidArgument):
            db.background.step("poll")
    finally:
        reader.close()
        db.close()


def test_step_is_refused_while_threads_run_the_work() -> None:
    with DB.open(Store(MemoryStore())) as db:
        assert not db.background.manual
        with pytest.raises(InvalidArgument):
            db.background.step("flush")


def test_takeover_after_the_simulated_takeover_time() -> None:
    clock = ManualClock()
    memory = MemoryStore(clock=clock.time)
    a, b = engine(memory, clock), engine(memory, clock)
    try:
        fill(a, b"a")
        a.flush()
        assert a.stats()["flush_role"]
        fill(b, b"b", 80)  # freezes a memtable in b; nobody flushes it
        b.background.step("flush")
        assert b.stats()["frozen_memtables"] and not b.stats()["flush_role"]
        clock.advance(OPTIONS.flusher_takeover_ms / 1000 / 2)
        b.background.step("flush")
        assert not b.stats()["flush_role"]  # not yet: the manifest changed too recently
        clock.advance(OPTIONS.flusher_takeover_ms / 1000)
        b.background.step("flush")
        assert b.stats()["flush_role"] and not b.stats()["frozen_memtables"]
        fill(a, b"a2", 80)
        a.background.step("flush")  # learns that it was fenced
        assert not a.stats()["flush_role"]
    finally:
        a.close()
        b.close()


def test_flush_after_losing_the_role_claims_it_back_at_once() -> None:
    """A flush whose process learns during the flush that the role was taken claims it again
    at once, not after flusher_takeover_ms: the clock does not move here, so waiting for the
    takeover time would never end."""
    clock = ManualClock()
    memory = MemoryStore(clock=clock.time)
    a, b = engine(memory, clock), engine(memory, clock)
    try:
        fill(a, b"a")
        a.flush()
        fill(b, b"b")
        b.flush()  # takes the role from a
        fill(a, b"a2")
        a.flush()
        assert a.stats()["flush_role"] and a.get(b"a2/039") == b"x" * 64
    finally:
        a.close()
        b.close()


def test_gc_ages_are_simulated_time() -> None:
    clock = ManualClock()
    memory = MemoryStore(clock=clock.time)
    db = engine(memory, clock)
    try:
        for tag in (b"a", b"b", b"c"):
            fill(db, tag)
            db.flush()
        db.compact()  # the flushed SSTs are garbage now, but young

        def ssts() -> int:
            return len(memory.list(SST_PREFIX))

        before = ssts()
        db.background.step("gc")
        assert ssts() == before
        clock.advance(OPTIONS.gc_min_age_s + 1)
        db.background.step("gc")
        assert ssts() == 1
        assert db.get(b"b/000") == b"x" * 64
    finally:
        db.close()


class _Stopped:
    """A clock whose every reading is the same: the coarsest clock there is."""

    def monotonic(self) -> float:
        return 100.0


def test_a_commit_within_one_clock_tick_of_a_probe_is_read() -> None:
    # Before: a read skipped its probe when the last probe started at the same clock reading
    # as the read, so on a coarse clock it missed a commit that returned within that tick.
    store = MemoryStore.named(f"tick-{uuid.uuid4().hex}")
    reader = DB.open(Store(store), clock=_Stopped())
    writer = DB.open(Store(store))
    assert reader.get(b"k") is None  # a probe at reading 100.0
    writer.put(b"k", b"v")  # returned after that probe
    assert reader.get(b"k") == b"v"  # a read that starts later, at the same reading
    writer.close()
    reader.close()


# -- the commit thread's work, stepped ------------------------------------------------------


class _Outage(StoreWrapper):
    """While ``down``, reads (GET, LIST) fail before reaching the store, as in an outage."""

    down = False

    def around(self, kind: str, path: str | None, op: Callable[[], T], written: int) -> T:
        if self.down and kind in (GET, LIST):
            raise StoreUnavailable(f"outage: {kind} {path!r}", path=path)
        return op()


def test_a_manual_engine_stores_non_durable_writes_when_a_step_finds_them_due() -> None:
    """No commit thread: the "wal" unit stores the queue once its oldest write has waited
    ``flush_interval_ms`` on the injected clock; a durable write (or a read) is stored by
    its caller, who runs the work."""
    clock = ManualClock()
    memory = MemoryStore(clock=clock.time)
    before = {t.name for t in threading.enumerate()}
    db = engine(memory, clock)
    try:
        assert "strata-commit" not in {t.name for t in threading.enumerate()} - before
        db.put(b"a", b"1", durable=False)
        db.background.step("wal")
        assert db.stats()["wal_puts"] == 0  # not due: the timer has not run out
        clock.advance(OPTIONS.flush_interval_ms / 1000)
        db.background.step("wal")
        assert db.stats()["wal_puts"] == 1
        db.put(b"b", b"2", durable=False)
        db.put(b"c", b"3")  # durable: in this thread, with the write queued before it
        assert db.stats()["wal_puts"] == 2
        db.put(b"d", b"4", durable=False)
        assert db.get(b"d") == b"4" and db.stats()["wal_puts"] == 3  # read-your-writes
    finally:
        db.close()
    with engine(memory, clock, read_only=True) as reader:
        assert [reader.get(k) for k in (b"a", b"b", b"c", b"d")] == [b"1", b"2", b"3", b"4"]


def test_a_failed_group_is_tried_again_after_its_backoff_on_the_injected_clock() -> None:
    clock = ManualClock()
    memory = MemoryStore(clock=clock.time)
    outage = _Outage(memory)
    db = DB.open(
        Store(outage, retry=RetryPolicy(attempts=1)),
        options=OPTIONS,
        clock=clock,
        manual=True,
    )
    try:
        db.put(b"a", b"1", durable=False)
        clock.advance(STALE_TAIL_S + 1)  # the commit reads the WAL tail first: it fails
        outage.down = True
        db.background.step("wal")
        outage.down = False
        assert db.stats()["wal_puts"] == 0 and db.stats()["wal_tail"] == 0
        db.background.step("wal")
        assert db.stats()["wal_puts"] == 0  # the backoff has not passed on the clock
        clock.advance(RETRY_FIRST_S)
        db.background.step("wal")
        assert db.stats()["wal_puts"] == 1 and db.stats()["wal_tail"] == 1
    finally:
        db.close()


EXCLUSIVE = Options(
    l0_sst_size=1 << 20, wal_pipeline_depth=4, l0_slowdown_trigger=0, l0_stop_trigger=0
)


def test_pipelined_puts_are_stepped_and_settled_in_id_order() -> None:
    """Exclusive mode with pipelined PUTs, manual: a step starts a PUT, runs the PUT of the
    lowest in flight, or settles it; commits are acknowledged in id order."""
    clock = ManualClock()
    memory = MemoryStore(clock=clock.time)
    db = DB.open(Store(memory), options=EXCLUSIVE, exclusive=True, clock=clock, manual=True)
    try:
        committer = db._committer
        assert committer is not None
        requests = []
        in_flight = 0
        for i in range(3):
            requests.append(committer.submit(CommitRequest(((Kind.PUT, b"k%d" % i, b"v"),))))
            db.background.step("wal")  # starts its PUT while the earlier ones are in flight
            in_flight = max(in_flight, len(committer._flights))
        assert in_flight >= 2 and db.stats()["wal_puts"] == 0  # started, none sent yet
        done: list[list[bool]] = []
        for _ in range(12):
            db.background.step("wal")
            done.append([r.done for r in requests])
        assert all(done[-1]) and all(r.error is None for r in requests)
        for state in done:  # a later commit is never acknowledged before an earlier one
            assert state == sorted(state, reverse=True)
        assert db.stats()["wal_tail"] == db.stats()["wal_puts"] + 1  # after the fence's
    finally:
        db.close()
    with DB.open(Store(memory), read_only=True) as reader:
        assert [reader.get(b"k%d" % i) for i in range(3)] == [b"v"] * 3


def test_threads_writing_to_a_manual_engine_each_run_the_work_they_wait_for() -> None:
    clock = ManualClock()
    memory = MemoryStore(clock=clock.time)
    before = {t.name for t in threading.enumerate()}  # other tests' engines may still run
    db = DB.open(Store(memory), options=EXCLUSIVE, exclusive=True, clock=clock, manual=True)
    try:

        def writer(t: int) -> None:
            for i in range(25):
                db.put(b"t%d/%02d" % (t, i), b"v", durable=i % 3 != 0)
            db.flush_wal()

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert "strata-commit" not in {t.name for t in threading.enumerate()} - before
        assert sum(1 for _ in db.scan()) == 150
    finally:
        db.close()
