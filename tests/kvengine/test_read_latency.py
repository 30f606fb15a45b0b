"""Reads in a process that writes non-durably: they see every write that returned before they
began (read-your-writes within a process) and never wait for the writes queued after."""

from __future__ import annotations

import threading
import uuid

from kvengine import DB, Options
from kvengine.store import PUT, LatencyStore, ObjectStore, open_store
from kvengine.store.wrapper import StoreWrapper

#: Generous: a reader that is not starved finishes in seconds.
TIMEOUT_S = 120.0


def _slow_puts(inner: ObjectStore) -> ObjectStore:
    return LatencyStore(inner, {PUT: 0.02}, seed=1)


def test_readers_finish_while_a_nondurable_writer_never_stops() -> None:
    # A small WAL buffer bounds each wait to a small object, so the test stays quick on a
    # loaded machine; the bound it checks is the same at any size.
    db = DB.open(
        open_store(f"memory://{uuid.uuid4().hex}", wrap=_slow_puts),
        options=Options(wal_buffer_bytes=256 * 1024),
        exclusive=True,
    )
    stop = threading.Event()
    returned = [0]  # the writer's latest put that returned
    reads_done = [0]
    errors: list[BaseException] = []

    def writer() -> None:
        i = 0
        try:
            while not stop.is_set():
                i += 1
                db.put(b"w", b"%012d" % i, durable=False)
                db.put(b"fill%06d" % (i % 50_000), b"x" * 100, durable=False)
                returned[0] = i
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for n in range(30):
                own = b"r%03d" % n
                db.put(own, b"mine", durable=False)
                seen_returned = returned[0]
                assert db.get(own) == b"mine"  # its own earlier write
                value = db.get(b"w")
                # the writer's put that returned before this get began is visible
                assert int(value or b"0") >= seen_returned
                reads_done[0] += 1
        except BaseException as exc:
            errors.append(exc)

    w = threading.Thread(target=writer, daemon=True)
    r = threading.Thread(target=reader, daemon=True)
    w.start()
    while returned[0] < 1000 and w.is_alive():
        stop.wait(0.01)  # the writer is well ahead before the reads start
    r.start()
    r.join(TIMEOUT_S)
    starved = r.is_alive()
    stop.set()
    w.join(TIMEOUT_S)
    db.close()
    assert not errors, errors
    assert not starved, f"the reader finished {reads_done[0]} of 30 reads in {TIMEOUT_S} s"
    assert reads_done[0] == 30


class _HeldWal(StoreWrapper):
    """Holds every WAL PUT until ``release`` is set; ``waiting`` is set once one is held."""

    def __init__(self, inner: ObjectStore) -> None:
        super().__init__(inner)
        self.waiting = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def put_if_absent(self, path: str, data: bytes) -> bool:
        if path.startswith("wal/"):
            self.waiting.set()
            assert self.release.wait(TIMEOUT_S)
        return self.inner.put_if_absent(path, data)


def test_a_get_waits_only_for_the_unstored_writes_of_its_key() -> None:
    # Before: every get waited for all of this process's non-durable writes to be stored, so
    # a workload mixing puts and gets paid a WAL PUT round trip per get after a put.
    held: list[_HeldWal] = []

    def wrap(inner: ObjectStore) -> ObjectStore:
        held.append(_HeldWal(inner))
        return held[0]

    db = DB.open(open_store(f"memory://{uuid.uuid4().hex}", wrap=wrap), exclusive=True)
    db.put(b"b", b"stored")  # durable: stored before the gate closes
    gate = held[0]
    gate.release.clear()
    gate.waiting.clear()
    db.put(b"a", b"1", durable=False)  # its PUT is held
    assert db.get(b"b") == b"stored"  # another key: answered while the PUT is held
    assert db.get(b"zz") is None
    got: list[bytes | None] = []
    reader = threading.Thread(target=lambda: got.append(db.get(b"a")), daemon=True)
    reader.start()
    assert gate.waiting.wait(TIMEOUT_S)  # the get asked for the PUT of its key's write ...
    assert not got  # ... and cannot have its answer while that PUT is held
    gate.release.set()
    reader.join(TIMEOUT_S)
    assert got == [b"1"]  # read-your-writes for the key
    db.close()
