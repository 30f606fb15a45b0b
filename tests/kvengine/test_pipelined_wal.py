"""Pipelined WAL PUTs (exclusive mode, docs/design/0006-pipelined-wal.md): several PUTs in
flight at consecutive ids, commits acknowledged strictly in WAL-id order, a failure or an
unknown outcome at one id holding back every later one, and a fence between ids in flight.

The store is a real one (memory://) behind a wrapper that holds each WAL PUT until the test
releases its id, so the order in which PUTs finish is the test's to choose."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvengine import DB, Fenced, Options, RetryPolicy, StrataError
from kvengine.errors import StorePermissionDenied, StoreUnavailable
from kvengine.store import MemoryStore
from kvengine.store.opener import Store
from kvengine.store.wrapper import StoreWrapper

DEPTH = 4
WAIT_S = 10.0


class WalGate:
    """Holds every WAL PUT made while ``armed`` until its id is released; a release may carry
    an error the PUT raises instead of storing (and the retry is held again)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.armed = False
        self.held: set[int] = set()
        self.released: set[int] = set()
        self.stored: list[int] = []
        self.failed: list[int] = []  # ids whose PUT raised the error released with it
        self.fail: dict[int, StrataError] = {}
        self.max_held = 0

    def store(self, name: str) -> Store:
        gate = self

        class Held(StoreWrapper):
            def put_if_absent(self, path: str, data: bytes) -> bool:
                if not (gate.armed and path.startswith("wal/")):
                    return self.inner.put_if_absent(path, data)
                wal_id = int(path.removeprefix("wal/"))
                with gate.cond:
                    gate.held.add(wal_id)
                    gate.max_held = max(gate.max_held, len(gate.held))
                    gate.cond.notify_all()
                    while wal_id not in gate.released:
                        gate.cond.wait()
                    gate.held.discard(wal_id)
                    error = gate.fail.pop(wal_id, None)
                    if error is not None:
                        gate.released.discard(wal_id)  # the read-back's retry waits again
                        gate.failed.append(wal_id)
                        gate.cond.notify_all()
                if error is not None:
                    raise error
                created = self.inner.put_if_absent(path, data)
                with gate.cond:
                    gate.stored.append(wal_id)
                    gate.cond.notify_all()
                return created

        retry = RetryPolicy(attempts=1, base_wait_s=0.001, max_wait_s=0.002)
        return Store(MemoryStore.named(name), retry=retry, wrap=Held)

    def until(self, what: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_S
        with self.cond:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"gave up waiting for {what}")
                self.cond.wait(left)

    def wait_held(self, ids: Iterable[int]) -> None:
        want = set(ids)
        self.until(f"PUTs {sorted(want)} in flight", lambda: want <= self.held)

    def wait_stored(self, wal_id: int) -> None:
        self.until(f"WAL object {wal_id} stored", lambda: wal_id in self.stored)

    def release(self, *ids: int, error: StrataError | None = None) -> None:
        with self.cond:
            for i in ids:
                if error is not None:
                    self.fail[i] = error
                self.released.add(i)
            self.cond.notify_all()


class Writer:
    """One durable put on its own thread; ``outcome`` is None until it returns."""

    def __init__(self, db: DB, key: bytes, value: bytes) -> None:
        self.outcome: str | StrataError | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(db, key, value), daemon=True)
        self.thread.start()

    def _run(self, db: DB, key: bytes, value: bytes) -> None:
        try:
            db.put(key, value)
            self.outcome = "ok"
        except StrataError as exc:
            self.outcome = exc
        self.done.set()

    def result(self) -> str | StrataError | None:
        assert self.done.wait(WAIT_S), "the write never returned"
        return self.outcome


def open_gated(depth: int = DEPTH) -> tuple[str, WalGate, DB]:
    name = uuid.uuid4().hex
    gate = WalGate()
    db = DB.open(gate.store(name), exclusive=True, options=Options(wal_pipeline_depth=depth))
    gate.armed = True
    return name, gate, db


def start_in_order(
    db: DB, gate: WalGate, first: int, writes: list[tuple[bytes, bytes]]
) -> list[Writer]:
    """One writer per write, each waiting for the PUT of the one before to be in flight, so
    that write ``i`` goes out alone at WAL id ``first + i``."""
    writers = []
    for i, (key, value) in enumerate(writes):
        writers.append(Writer(db, key, value))
        gate.wait_held([first + i])
    return writers


def test_several_puts_are_in_flight_and_at_most_the_depth() -> None:
    _, gate, db = open_gated()
    first = db.stats()["wal_tail"] + 1
    # One at a time until DEPTH PUTs are in flight (writers started together may all ride
    # in the first PUT when their threads are slow to start), then more than the slots take.
    writers = start_in_order(db, gate, first, [(b"k%d" % i, b"v") for i in range(DEPTH)])
    writers += [Writer(db, b"k%d" % i, b"v") for i in range(DEPTH, 3 * DEPTH)]
    gate.release(*range(first, first + 10 * DEPTH))
    assert all(w.result() == "ok" for w in writers)
    assert gate.max_held == DEPTH
    assert all(db.get(b"k%d" % i) == b"v" for i in range(3 * DEPTH))
    db.close()


def test_depth_one_keeps_one_put_in_flight() -> None:
    _, gate, db = open_gated(depth=1)
    first = db.stats()["wal_tail"] + 1
    writers = [Writer(db, b"k%d" % i, b"v") for i in range(8)]
    gate.wait_held([first])
    gate.release(*range(first, first + 20))
    assert all(w.result() == "ok" for w in writers)
    assert gate.max_held == 1
    db.close()


def test_a_later_put_that_finishes_first_waits_for_the_earlier_one() -> None:
    name, gate, db = open_gated()
    first = db.stats()["wal_tail"] + 1
    a, b = start_in_order(db, gate, first, [(b"k", b"a"), (b"k", b"b")])
    gate.release(first + 1)
    gate.wait_stored(first + 1)
    time.sleep(0.2)  # room for a wrong acknowledgement; nothing below depends on the time
    assert not b.done.is_set() and not a.done.is_set()
    gate.release(first)
    assert a.result() == "ok" and b.result() == "ok"
    assert db.get(b"k") == b"b"  # in WAL-id order: the later put wins
    db.close()
    again = DB.open(MemoryStore.named(name))
    assert again.get(b"k") == b"b"
    again.close()


def test_an_unknown_outcome_holds_back_the_later_acknowledgements() -> None:
    _, gate, db = open_gated()
    first = db.stats()["wal_tail"] + 1
    a, b = start_in_order(db, gate, first, [(b"k", b"a"), (b"k", b"b")])
    gate.release(first, error=StoreUnavailable("timeout", path="wal"))  # not stored
    gate.release(first + 1)
    gate.wait_stored(first + 1)
    gate.until("the failed PUT", lambda: first in gate.failed)
    gate.wait_held([first])  # the read-back found nothing: created again, held again
    assert not b.done.is_set() and not a.done.is_set()
    gate.release(first)
    assert a.result() == "ok" and b.result() == "ok"
    assert db.get(b"k") == b"b"
    db.close()


def test_a_failed_put_acknowledges_nothing_after_it() -> None:
    name, gate, db = open_gated()
    first = db.stats()["wal_tail"] + 1
    a, b = start_in_order(db, gate, first, [(b"x", b"a"), (b"y", b"b")])
    gate.release(first + 1)
    gate.wait_stored(first + 1)
    gate.release(first, error=StorePermissionDenied("denied", path="wal"))
    assert isinstance(a.result(), StorePermissionDenied)
    outcome = b.result()
    assert isinstance(outcome, StoreUnavailable) and "unknown" in str(outcome)
    with pytest.raises(StrataError):  # a hole before a stored object: no more writes here
        db.put(b"z", b"1")
    db.close()
    # The next writer fills the hole with its fence, and the object after it, from an older
    # writer epoch, is void: the unknown outcome of b resolves to "not applied", as a's.
    again = DB.open(MemoryStore.named(name), exclusive=True)
    again.put(b"w", b"1")
    assert again.get(b"x") is None
    assert again.get(b"y") is None
    assert again.get(b"w") == b"1"
    again.close()


def test_a_fence_between_puts_in_flight() -> None:
    name, gate, db = open_gated()
    first = db.stats()["wal_tail"] + 1
    writes = [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]
    a, b, c = start_in_order(db, gate, first, writes)
    gate.release(first)
    gate.wait_stored(first)
    newer = DB.open(MemoryStore.named(name), exclusive=True)  # fence at first + 1
    assert newer.stats()["wal_tail"] == first + 1
    gate.release(first + 1, first + 2)
    assert a.result() == "ok"
    assert isinstance(b.result(), Fenced)  # lost its id to the fence
    # stored after the fence by a writer of an older epoch: void, for every process
    assert isinstance(c.result(), Fenced)
    with pytest.raises(Fenced):
        db.put(b"d", b"4")
    db.close()
    newer.put(b"e", b"5")  # lands after c, which it leaves out
    assert [newer.get(k) for k in (b"a", b"b", b"c", b"e")] == [b"1", None, None, b"5"]
    newer.close()
    reader = DB.open(MemoryStore.named(name), read_only=True)
    assert [reader.get(k) for k in (b"a", b"b", b"c", b"e")] == [b"1", None, None, b"5"]
    reader.close()


def test_a_reader_stops_at_a_hole_and_goes_on_once_it_is_filled() -> None:
    name, gate, db = open_gated()
    first = db.stats()["wal_tail"] + 1
    a, b = start_in_order(db, gate, first, [(b"a", b"1"), (b"b", b"2")])
    gate.release(first + 1)
    gate.wait_stored(first + 1)
    reader = DB.open(MemoryStore.named(name), read_only=True)
    assert reader.get(b"b") is None  # after the hole: not acknowledged, not seen
    gate.release(first)
    assert a.result() == "ok" and b.result() == "ok"
    assert reader.get(b"a") == b"1" and reader.get(b"b") == b"2"  # the hole is filled
    db.close()
    reader.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=st.permutations(range(DEPTH)))
def test_acknowledgements_follow_wal_ids_whatever_order_the_puts_finish_in(
    order: list[int],
) -> None:
    """Model: write i goes out alone at id first + i and writes key k = i. Whatever order the
    PUTs finish in, write i returns only after every write before it is stored, and the
    final value is the last write's."""
    _, gate, db = open_gated()
    first = db.stats()["wal_tail"] + 1
    writers = start_in_order(db, gate, first, [(b"k", b"%d" % i) for i in range(DEPTH)])
    for i in order:
        gate.release(first + i)
        gate.wait_stored(first + i)
        stored = {s - first for s in gate.stored}
        prefix = next(j for j in range(DEPTH + 1) if j not in stored)
        for j, w in enumerate(writers):
            if j >= prefix:  # an earlier id is not stored yet: never acknowledged
                assert not w.done.is_set()
    assert all(w.result() == "ok" for w in writers)
    assert db.get(b"k") == b"%d" % (DEPTH - 1)
    db.close()


CRASH_CHILD = textwrap.dedent(
    """
    import sys, threading
    from kvengine import DB, Options
    from kvengine.store import PUT, LatencyStore, open_store
    seed = int(sys.argv[3])
    store = open_store(sys.argv[1], wrap=lambda s: LatencyStore(s, {PUT: 0.02}, seed=seed))
    db = DB.open(store, exclusive=True, options=Options(wal_pipeline_depth=4))
    run = sys.argv[2]
    lock = threading.Lock()
    def writer(t):
        i = 0
        while True:
            key = f"{run}-{t:02d}-{i:06d}".encode()
            db.put(key, key)
            with lock:
                print(key.decode(), flush=True)
            i += 1
    for t in range(16):
        threading.Thread(target=writer, args=(t,), daemon=True).start()
    threading.Event().wait()
    """
)


def test_a_pipelined_writer_killed_mid_flight_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """Sixteen threads of durable puts, each waiting for the one before: after SIGKILL (holes
    and stored objects after them likely), every acknowledged put is there, and each thread's
    puts present are a prefix of its sequence, at most one past its last acknowledged one."""
    url = str(tmp_path / "db")
    rng = random.Random(12)
    acked: dict[tuple[str, int], int] = {}
    for run in range(4):
        child = subprocess.Popen(
            [sys.executable, "-c", CRASH_CHILD, url, f"r{run}", str(run)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=lines.extend, args=(child.stdout,))
        reader.start()
        deadline = time.monotonic() + 30
        target = rng.randint(20, 300)
        while len(lines) < target and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait()
        reader.join()
        assert lines, f"run {run}: nothing acknowledged"
        for line in lines:
            r, t, i = line.strip().split("-")
            acked[(r, int(t))] = max(acked.get((r, int(t)), -1), int(i))
        with DB.open(url, read_only=True) as db:
            present: dict[tuple[str, int], list[int]] = {}
            for key, _ in db.scan():
                r, t, i = key.decode().split("-")
                present.setdefault((r, int(t)), []).append(int(i))
        for who, last in acked.items():
            got = sorted(present.get(who, []))
            assert got == list(range(len(got))), f"{who}: not a prefix"
            assert last < len(got) <= last + 2, (
                f"{who}: acknowledged up to {last}, {len(got)} there"
            )


@pytest.mark.parametrize(("depth", "held"), [(None, 1), (2, 2)])
def test_shared_mode_keeps_one_put_in_flight_unless_told(depth: int | None, held: int) -> None:
    """Shared mode defaults to one PUT in flight (processes racing for ids: one with more
    PUTs in flight starves the others, 0006 "Shared mode"); a depth given applies to it."""
    gate = WalGate()
    name = uuid.uuid4().hex
    db = DB.open(gate.store(name), options=Options(wal_pipeline_depth=depth))
    gate.armed = True
    first = db.stats()["wal_tail"] + 1
    writers = start_in_order(db, gate, first, [(b"k%d" % i, b"v") for i in range(held)])
    writers += [Writer(db, b"k%d" % i, b"v") for i in range(held, 6)]
    gate.release(*range(first, first + 20))
    assert all(w.result() == "ok" for w in writers)
    assert gate.max_held == held
    db.close()
