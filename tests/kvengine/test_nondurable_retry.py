"""A non-durable write whose WAL PUT fails is tried again, before anything written after it:
without a crash, a fenced writer or a closed database it is never lost, so a lost non-durable
write is only ever a suffix of the process's writes, never a hole (issue 11; found by the
simulation: ``python -m tests.sim --seed 5322 --steps 60``). Durable writes of the failed
attempt get its error: their callers see it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

from kvengine import DB, Options, RetryPolicy, Store, StrataError
from kvengine.errors import StorePermissionDenied, StoreUnavailable
from kvengine.store import MemoryStore
from kvengine.store.base import PUT
from kvengine.store.wrapper import StoreWrapper
from kvengine.table_store import WAL_PREFIX

T = TypeVar("T")


#: every failure reaches the commit thread (no retry inside the store)
ONCE = RetryPolicy(attempts=1, base_wait_s=0.0, max_wait_s=0.0, total_s=5.0)


class RefusesWalPuts(StoreWrapper):
    """Fails the next ``refuse`` WAL object creations before their effect: with a transient
    error (503-like), or with ``error``."""

    def __init__(self, inner: MemoryStore, error: type[Exception] = StoreUnavailable) -> None:
        super().__init__(inner)
        self.error = error
        self.refuse = 0
        self.refused = 0
        self._lock = threading.Lock()

    def around(self, kind: str, path: str | None, op: Callable[[], T], written: int) -> T:
        if kind == PUT and path is not None and path.startswith(WAL_PREFIX):
            with self._lock:
                if self.refuse > 0:
                    self.refuse -= 1
                    self.refused += 1
                    raise self.error(f"refused: {path}")
        return op()


def test_a_failed_nondurable_write_is_stored_before_the_later_ones() -> None:
    memory = MemoryStore()
    faults = RefusesWalPuts(memory)
    with DB.open(Store(faults, retry=ONCE)) as db:
        faults.refuse = 2
        db.put(b"first", b"1", durable=False)
        db.flush_wal()  # its PUT is refused twice, then stored
        db.put(b"second", b"2", durable=False)
        db.flush_wal()
        assert faults.refused == 2
        assert db.get(b"first") == b"1"
        assert db.get(b"second") == b"2"
    with DB.open(Store(memory), read_only=True) as reader:
        assert reader.get(b"first") == b"1"
        assert reader.get(b"second") == b"2"


@pytest.mark.parametrize("exclusive", [False, True])
def test_durable_writes_of_a_refused_attempt_get_its_error(exclusive: bool) -> None:
    """A refusal that trying again cannot help (403): the durable write fails (its caller
    sees it), the non-durable write queued beside it is given up, and the database stops
    writing, so nothing lands after it (shared mode, and exclusive mode's pipeline)."""
    memory = MemoryStore()
    faults = RefusesWalPuts(memory, StorePermissionDenied)
    options = Options(wal_pipeline_depth=2)
    with DB.open(Store(faults, retry=ONCE), exclusive=exclusive, options=options) as db:
        faults.refuse = 1
        db.put(b"early", b"0", durable=False)  # queued: the durable put below takes it along
        with pytest.raises(StorePermissionDenied):
            db.put(b"durable", b"1")
        with pytest.raises(StrataError, match="stopped writing"):
            db.put(b"late", b"2")
    with DB.open(Store(memory), read_only=True) as reader:
        assert [reader.get(k) for k in (b"early", b"durable", b"late")] == [None, None, None]


def test_a_write_that_cannot_be_stored_stops_the_writes_after_it() -> None:
    # Found in review: a non-durable write refused for good (credentials lost, 403) went back
    # to the queue for ever, and every writer blocked once the queue was full.
    memory = MemoryStore()
    faults = RefusesWalPuts(memory, StorePermissionDenied)
    with DB.open(Store(faults, retry=ONCE)) as db:
        faults.refuse = 1
        db.put(b"lost", b"1", durable=False)
        with pytest.raises(StrataError, match="stopped writing"):
            db.flush_wal()
            db.put(b"after", b"2")  # refused too: nothing may land after the lost write
    with DB.open(Store(memory), read_only=True) as reader:
        assert reader.get(b"lost") is None and reader.get(b"after") is None
