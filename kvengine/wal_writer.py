"""Group commit: every batch appended while a WAL PUT is in flight rides on the next PUT.

A durable write appends its batch to the open WAL buffer and waits for that buffer to be
stored. One background thread does the PUTs, one at a time and in id order: it starts a PUT as
soon as a durable writer waits and none is in flight, so a lone writer pays one round trip and
N concurrent writers share PUTs. Non-durable writes never start a PUT themselves; their buffer
is stored within ``flush_interval_ms`` or once it passes ``wal_buffer_bytes``.

WAL objects are created create-only under consecutive ids. Losing that race means another
writer has fenced this one: every waiter, and every later write, gets ``Fenced``. A PUT that
fails after its retries is kept and tried again, with the same id and bytes, before any later
buffer, so ids stay consecutive; its waiters get the error (their writes may still become
durable).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from kvengine.errors import Closed, Fenced, StrataError
from kvengine.record import Kind
from kvengine.table_store import TableStore
from kvengine.wal import WalBatch, WalBuilder

log = logging.getLogger(__name__)


class WalWriter:
    """Owns the open WAL buffer and the thread that stores WAL objects. Thread-safe."""

    def __init__(
        self,
        tables: TableStore,
        *,
        next_wal_id: int,
        writer_epoch: int,
        writer_id: bytes,
        flush_interval_s: float,
        buffer_bytes: int,
        stored: list[tuple[int, int]] | None = None,
    ) -> None:
        self._tables = tables
        self._epoch = writer_epoch
        self._writer_id = writer_id
        self._interval_s = flush_interval_s
        self._buffer_bytes = buffer_bytes
        self._cond = threading.Condition()
        # The open buffer: generation `_gen`, to be stored as WAL object `_next_id`.
        self._next_id = next_wal_id
        self._gen = 1
        self._builder = WalBuilder(next_wal_id, writer_epoch, writer_id)
        self._buffer_max_seq = 0
        self._buffer_since = 0.0
        self._durable_gen = 0  # every generation <= this is stored
        self._wanted_gen = 0  # a durable writer waits for this generation
        self._pending: tuple[int, int, bytes, int] | None = None  # (gen, id, data, max_seq)
        self._failure: tuple[int, StrataError] | None = None  # (gen, error) of the last failure
        self._fenced: Fenced | None = None
        self._closing = False
        self._closed = False
        #: (wal id, highest seq in it) of stored WAL objects not yet covered by an SST.
        self.stored: list[tuple[int, int]] = list(stored or [])
        self.puts = 0
        self._thread = threading.Thread(target=self._run, name="strata-wal", daemon=True)
        self._thread.start()

    # -- called by writers -------------------------------------------------------------------

    def append(self, first_seq: int, ops: Sequence[tuple[Kind, bytes, bytes]]) -> int:
        """Add a batch to the open buffer; returns the generation to pass to ``wait``.
        The caller serialises appends in sequence-number order."""
        with self._cond:
            self._check_usable()
            if self._builder.batch_count == 0:
                self._buffer_since = time.monotonic()
            self._builder.add(WalBatch(first_seq, tuple(ops)))
            self._buffer_max_seq = first_seq + len(ops) - 1
            if self._builder.size_bytes >= self._buffer_bytes:
                self._cond.notify_all()
            return self._gen

    def wait(self, gen: int) -> None:
        """Block until generation ``gen`` is stored. Raises ``Fenced``, the store's error if
        its PUT failed, or ``Closed``."""
        with self._cond:
            if gen > self._wanted_gen:
                self._wanted_gen = gen
                self._cond.notify_all()
            while self._durable_gen < gen:
                if self._fenced is not None:
                    raise self._fenced
                if self._failure is not None and self._failure[0] >= gen:
                    raise self._failure[1]
                if self._closed:
                    raise Closed("the database closed before the write was stored")
                self._cond.wait()

    def flush(self) -> None:
        """Store everything appended so far."""
        with self._cond:
            gen = self._gen if self._builder.batch_count else self._gen - 1
        self.wait(gen)

    def close(self) -> None:
        """Store what is buffered, then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()

    @property
    def next_wal_id(self) -> int:
        with self._cond:
            return self._next_id

    def stored_through(self, max_seq: int) -> int | None:
        """The highest stored WAL id such that it and every stored id before it hold only
        sequence numbers <= ``max_seq``; None if there is none."""
        with self._cond:
            covered = None
            for wal_id, top in self.stored:
                if top > max_seq:
                    break
                covered = wal_id
            return covered

    def forget_through(self, wal_id: int) -> None:
        """Stop tracking WAL ids <= ``wal_id`` (an SST now covers them)."""
        with self._cond:
            self.stored = [s for s in self.stored if s[0] > wal_id]

    def _check_usable(self) -> None:
        if self._fenced is not None:
            raise self._fenced
        if self._closing or self._closed:
            raise Closed("the database is closed")

    # -- the background thread ---------------------------------------------------------------

    def _next_job(self) -> tuple[int, int, bytes, int] | None:
        """Wait for something to store; None when closing with nothing left."""
        with self._cond:
            while True:
                if self._fenced is not None:
                    return None
                if self._pending is not None:
                    if self._closing and self._failure is not None:
                        log.error("closing with WAL object %d unstored", self._pending[1])
                        return None
                    return self._pending
                has_data = self._builder.batch_count > 0
                if has_data and (
                    self._closing
                    or self._wanted_gen >= self._gen
                    or self._builder.size_bytes >= self._buffer_bytes
                    or time.monotonic() - self._buffer_since >= self._interval_s
                ):
                    job = (self._gen, self._next_id, self._builder.finish(), self._buffer_max_seq)
                    self._gen += 1
                    self._next_id += 1
                    self._builder = WalBuilder(self._next_id, self._epoch, self._writer_id)
                    self._pending = job
                    return job
                if self._closing:
                    return None
                timeout = self._interval_s - (time.monotonic() - self._buffer_since)
                self._cond.wait(timeout if has_data else None)

    def _run(self) -> None:
        try:
            while (job := self._next_job()) is not None:
                self._store(job)
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def _store(self, job: tuple[int, int, bytes, int]) -> None:
        gen, wal_id, data, max_seq = job
        try:
            created = self._tables.write_wal(wal_id, data)
        except StrataError as exc:
            log.warning("WAL object %d not stored, will retry: %s", wal_id, exc)
            with self._cond:
                self._failure = (gen, exc)
                self._cond.notify_all()
                self._cond.wait(min(1.0, self._interval_s))  # back off before the next try
            return
        with self._cond:
            self.puts += 1
            self._pending = None
            if created:
                self._durable_gen = gen
                self._failure = None
                self.stored.append((wal_id, max_seq))
            else:
                self._fenced = Fenced(
                    f"fenced: WAL object {wal_id} was created by a newer writer; this writer "
                    f"(epoch {self._epoch}) can no longer write"
                )
                log.error("%s", self._fenced)
            self._cond.notify_all()
