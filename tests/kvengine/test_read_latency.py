"""Reads in a process that writes non-durably: they see every write that returned before they
began (read-your-writes within a process) and never wait for the writes queued after."""

from __future__ import annotations

import threading
import uuid

from kvengine import DB
from kvengine.store import PUT, LatencyStore, ObjectStore, open_store

#: Generous: a reader that is not starved finishes in seconds.
TIMEOUT_S = 120.0


def _slow_puts(inner: ObjectStore) -> ObjectStore:
    return LatencyStore(inner, {PUT: 0.02}, seed=1)


def test_readers_finish_while_a_nondurable_writer_never_stops() -> None:
    db = DB.open(open_store(f"memory://{uuid.uuid4().hex}", wrap=_slow_puts), exclusive=True)
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
