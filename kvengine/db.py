"""The engine's front door: open a database on an object store, read and write keys.

A writer process claims the database on open (a new writer epoch in the manifest and a fence
WAL object), replays the WAL objects the manifest does not cover, then serves reads and writes.
Writes get sequence numbers under one lock, go to the WAL buffer and the memtable, and (when
durable) wait for their WAL object; full memtables are written as L0 SSTs by a background
thread, which also compacts. A read-only process never writes and sees what is durable.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from kvengine.batch import WriteBatch, check_key, check_value
from kvengine.compactor import Compactor
from kvengine.errors import Closed, Fenced, InvalidArgument, StrataError
from kvengine.manifest.model import Manifest, SSTMeta
from kvengine.manifest.store import FenceableManifest, ManifestStore
from kvengine.memtable import Memtable
from kvengine.options import Options
from kvengine.record import Kind
from kvengine.recovery import apply_wal, replay
from kvengine.store import ObjectStore, Store, open_store
from kvengine.table_store import TableStore
from kvengine.version import Version, get_value, scan
from kvengine.wal import WalBuilder
from kvengine.wal_writer import WalWriter

log = logging.getLogger(__name__)


class DB:
    """A key-value database whose durable state is objects in one store.

    Thread-safe: any number of threads may read and write at once. Use :meth:`open`.
    """

    def __init__(
        self,
        *,
        store: Store,
        tables: TableStore,
        manifest: FenceableManifest,
        version: Version,
        last_seq: int,
        options: Options,
        wal: WalWriter | None,
        writer_id: bytes,
        last_wal_id: int,
        owns_store: bool = True,
    ) -> None:
        self._store = store
        self._owns_store = owns_store
        self._tables = tables
        self._manifest = manifest
        self._version = version
        self._last_seq = last_seq
        self.options = options
        self._wal = wal
        self._writer_id = writer_id
        self._last_wal_id = last_wal_id  # readers: the last WAL object replayed
        self._write_lock = threading.Lock()
        self._state = threading.Condition()  # guards the fields below; flusher wake-ups
        self._snapshots: Counter[int] = Counter()
        self._fenced: Fenced | None = None
        self._closed = False
        self._next_sst_id = version.manifest.next_sst_id
        self._flushed_ssts = 0
        self._compactor = Compactor(tables, options)
        self._flusher: threading.Thread | None = None
        if wal is not None:
            self._flusher = threading.Thread(target=self._flush_loop, name="strata-flush")
            self._flusher.daemon = True
            self._flusher.start()

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        target: str | os.PathLike[str] | ObjectStore,
        *,
        options: Options | None = None,
        read_only: bool = False,
        **storage_options: Any,
    ) -> DB:
        """Open (creating if empty) the database at ``target``: a URL or local path (with
        ``storage_options`` for the fsspec backend), or a store from ``open_store``.

        A writer fences any earlier writer: its next WAL PUT or manifest update raises
        ``Fenced``. With ``read_only=True`` nothing is written and the view is what was durable
        at open; call :meth:`refresh` to see newer data.
        """
        options = options or Options()
        store = _as_store(target, options, storage_options)
        owns_store = not isinstance(target, ObjectStore)
        tables = TableStore(store, options)
        mstore = ManifestStore(store)
        writer_id = os.urandom(16)
        if read_only:
            fm = FenceableManifest.open_reader(mstore)
        else:
            fm = FenceableManifest.claim(mstore, "writer", writer_id)
        m = fm.manifest
        memtable = Memtable()
        replayed = replay(tables, m.wal_replay_after, m.last_seq, memtable)
        last_seq = replayed.last_seq
        wal: WalWriter | None = None
        if not read_only:
            # Take the next WAL id with a fence object; a WAL a zombie wrote meanwhile is
            # replayed and the next id tried.
            fence_id = replayed.last_wal_id + 1
            stored = list(replayed.wal_ids)
            while True:
                fence = WalBuilder(fence_id, fm.epoch, writer_id).finish()
                if tables.write_wal(fence_id, fence):
                    stored.append((fence_id, last_seq))
                    break
                obj = tables.read_wal(fence_id)
                if obj is not None:
                    last_seq = max(last_seq, apply_wal(obj, memtable, last_seq))
                    stored.append((fence_id, last_seq))
                fence_id += 1
            fm.refresh()  # a newer writer may have claimed the database meanwhile
            wal = WalWriter(
                tables,
                next_wal_id=fence_id + 1,
                writer_epoch=fm.epoch,
                writer_id=writer_id,
                flush_interval_s=options.flush_interval_ms / 1000,
                buffer_bytes=options.wal_buffer_bytes,
                stored=stored,
            )
            log.info(
                "opened %s as writer epoch %d at seq %d (replayed %d WAL objects)",
                store.url,
                fm.epoch,
                last_seq,
                len(replayed.wal_ids),
            )
        return cls(
            store=store,
            tables=tables,
            manifest=fm,
            version=Version(memtable, (), fm.manifest),
            last_seq=last_seq,
            options=options,
            wal=wal,
            writer_id=writer_id,
            last_wal_id=replayed.last_wal_id,
            owns_store=owns_store,
        )

    # -- writes ----------------------------------------------------------------------------

    def put(self, key: bytes, value: bytes, *, durable: bool = True) -> None:
        """Set ``key`` to ``value``. Durable (the default): returns after its WAL object is
        stored. Otherwise returns at once and is stored by a later WAL PUT."""
        self._write(((Kind.PUT, check_key(key), check_value(value)),), durable)

    def delete(self, key: bytes, *, durable: bool = True) -> None:
        """Remove ``key`` (a no-op if absent), with the same durability as :meth:`put`."""
        self._write(((Kind.DELETE, check_key(key), b""),), durable)

    def write(self, batch: WriteBatch, *, durable: bool = True) -> None:
        """Apply every operation of ``batch`` atomically: readers and recovery see all of it
        or none of it."""
        if not isinstance(batch, WriteBatch):
            raise InvalidArgument(f"write() takes a WriteBatch, got {type(batch).__name__}")
        if len(batch):
            self._write(batch.ops, durable)

    def _write(self, ops: tuple[tuple[Kind, bytes, bytes], ...], durable: bool) -> None:
        wal = self._writable()
        self._wait_for_room()
        with self._write_lock:
            wal = self._writable()
            first = self._last_seq + 1
            gen = wal.append(first, ops)
            version = self._version
            version.memtable.add(first, ops)
            self._last_seq = first + len(ops) - 1
            if version.memtable.size_bytes >= self.options.l0_sst_size:
                self._freeze_locked()
        if durable:
            wal.wait(gen)

    def _writable(self) -> WalWriter:
        self._check_open()
        if self._wal is None:
            raise InvalidArgument("the database was opened read-only")
        if self._fenced is not None:
            raise self._fenced
        return self._wal

    def _wait_for_room(self) -> None:
        """Backpressure: wait while frozen memtables hold too many unflushed bytes."""
        limit = self.options.max_unflushed_bytes
        with self._state:
            waited = False
            while sum(m.size_bytes for m in self._version.frozen) > limit:
                if self._fenced is not None:
                    raise self._fenced
                self._check_open()
                if not waited:
                    log.warning("writes waiting: unflushed memtables exceed %d bytes", limit)
                    waited = True
                self._state.wait(1.0)

    def _freeze_locked(self) -> None:
        """Start a new memtable; the flusher writes the old one out. Holds the write lock."""
        with self._state:
            v = self._version
            if v.memtable.is_empty:
                return
            self._version = Version(Memtable(), (v.memtable, *v.frozen), v.manifest)
            self._state.notify_all()

    def flush_wal(self) -> None:
        """Make every write so far durable (one WAL PUT if anything is buffered)."""
        self._writable().flush()

    def flush(self) -> None:
        """Write the memtable as an L0 SST and wait until every frozen memtable is in SSTs."""
        self.flush_wal()
        with self._write_lock:
            self._freeze_locked()
        with self._state:
            while self._version.frozen:
                if self._fenced is not None:
                    raise self._fenced
                self._check_open()
                self._state.wait(1.0)

    # -- reads -----------------------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        """The value of ``key``, or None."""
        self._check_open()
        return get_value(self._version, self._tables, check_key(key), self._last_seq)

    def scan(
        self, start: bytes | None = None, end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` pairs with ``start <= key < end`` (None: unbounded) in key order,
        or descending with ``reverse=True``, as of the call."""
        self._check_open()
        return scan(
            self._version, self._tables, *_bounds(start, end), self._last_seq, reverse=reverse
        )

    def scan_prefix(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Pairs whose key starts with ``prefix``."""
        return self.scan(prefix, prefix_end(prefix), reverse=reverse)

    def snapshot(self) -> Snapshot:
        """A consistent, unchanging view as of now; close it (or use ``with``) when done."""
        self._check_open()
        with self._state:
            seq = self._last_seq
            self._snapshots[seq] += 1
            return Snapshot(self, self._version, seq)

    def _release(self, seq: int) -> None:
        with self._state:
            self._snapshots[seq] -= 1
            if self._snapshots[seq] <= 0:
                del self._snapshots[seq]

    def refresh(self) -> None:
        """Read-only databases: catch up with what the writer has made durable since."""
        self._check_open()
        if self._wal is not None:
            return  # a writer's view is always current
        old = self._version.manifest
        manifest = self._manifest.refresh()
        if manifest != old:
            memtable = Memtable()
            replayed = replay(self._tables, manifest.wal_replay_after, manifest.last_seq, memtable)
        else:
            memtable = self._version.memtable
            replayed = replay(self._tables, self._last_wal_id, self._last_seq, memtable)
        with self._state:
            self._version = Version(memtable, (), manifest)
            self._last_seq = max(replayed.last_seq, manifest.last_seq)
            self._last_wal_id = replayed.last_wal_id

    # -- background flush and compaction -----------------------------------------------------

    def _flush_loop(self) -> None:
        while True:
            with self._state:
                while not self._version.frozen and not self._closed:
                    self._state.wait()
                if not self._version.frozen:
                    return
                oldest = self._version.frozen[-1]
            try:
                self._flush_memtable(oldest)
                self._maybe_compact()
            except Fenced as exc:
                with self._state:
                    self._fenced = exc
                    self._state.notify_all()
                log.error("%s", exc)
                return
            except StrataError as exc:
                log.warning("memtable flush failed, will retry: %s", exc)
                with self._state:
                    if self._closed:
                        return
                    self._state.wait(1.0)

    def _allocate_sst_id(self) -> int:
        with self._state:
            sst_id = max(self._next_sst_id, self._manifest.manifest.next_sst_id)
            self._next_sst_id = sst_id + 1
            return sst_id

    def _write_new_sst(self, data: bytes, info: Any) -> SSTMeta:
        while True:
            meta = self._tables.write_sst(self._allocate_sst_id(), data, info)
            if meta is not None:
                return meta

    def _flush_memtable(self, memtable: Memtable) -> None:
        assert self._wal is not None
        builder = self._tables.new_builder()
        for entry in memtable.entries():
            builder.add(entry)
        data, info = builder.finish()
        meta = self._write_new_sst(data, info)
        max_seq = info.max_seq
        covered = self._wal.stored_through(max_seq)

        def change(m: Manifest) -> Manifest:
            replay_after = max(m.wal_replay_after, covered or 0)
            return m.with_l0_flush(meta, replay_after, max(m.last_seq, max_seq))

        manifest = self._manifest.update(change)
        self._wal.forget_through(manifest.wal_replay_after)
        with self._state:
            v = self._version
            frozen = tuple(m for m in v.frozen if m is not memtable)
            self._version = Version(v.memtable, frozen, manifest)
            self._flushed_ssts += 1
            self._state.notify_all()
        log.info(
            "flushed memtable to SST %d (%d bytes, %d entries)",
            meta.sst_id,
            meta.size,
            meta.entries,
        )

    def _maybe_compact(self) -> None:
        with self._state:
            manifest = self._version.manifest
            keep = min(self._snapshots, default=self._last_seq + 1)
        plan = self._compactor.plan(manifest)
        if plan is None:
            return
        new_run = self._compactor.run(plan, keep, self._write_new_sst)
        manifest = self._manifest.update(lambda m: plan.apply(m, new_run))
        with self._state:
            v = self._version
            self._version = Version(v.memtable, v.frozen, manifest)

    # -- lifecycle and introspection ---------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters for monitoring: requests by kind, bytes, estimated cost, memtable, L0 and
        SST counts. The keys may grow; their meaning does not change."""
        s = self._store.stats()
        v = self._version
        m = v.manifest
        ssts = [*m.l0, *(meta for run in m.runs for meta in run.ssts)]
        return {
            "requests": dict(s.requests),
            "request_errors": dict(s.errors),
            "bytes_written": s.bytes_written,
            "bytes_read": s.bytes_read,
            "retries": self._store.retries,
            "cost_usd": s.costs_usd(),
            "wal_puts": self._wal.puts if self._wal else 0,
            "memtable_bytes": v.memtable.size_bytes,
            "frozen_memtables": len(v.frozen),
            "l0_ssts": len(m.l0),
            "sorted_runs": len(m.runs),
            "ssts": len(ssts),
            "sst_bytes": sum(meta.size for meta in ssts),
            "last_seq": self._last_seq,
            "manifest_id": self._manifest.manifest_id,
            "writer_epoch": m.writer_epoch,
            "read_only": self._wal is None,
        }

    @property
    def manifest(self) -> tuple[int, Manifest]:
        """The id and contents of the manifest version this process last read or wrote."""
        return self._manifest.manifest_id, self._manifest.manifest

    @property
    def store(self) -> Store:
        """The object store under this database."""
        return self._store

    def _check_open(self) -> None:
        if self._closed:
            raise Closed("the database is closed")

    def close(self) -> None:
        """Make buffered writes durable and stop background work; close the store if the
        database opened it (a store passed to :meth:`open` stays open)."""
        if self._closed:
            return
        error: StrataError | None = None
        if self._wal is not None:
            if self._fenced is None:
                try:
                    self._wal.flush()
                except StrataError as exc:
                    error = exc
            self._wal.close()
        with self._state:
            self._closed = True
            self._state.notify_all()
        if self._flusher is not None:
            self._flusher.join()
        if self._owns_store:
            self._store.close()
        if error is not None and not isinstance(error, Fenced):
            raise error

    def __enter__(self) -> DB:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Snapshot:
    """A point-in-time view of a :class:`DB`: reads see exactly the writes made before it."""

    def __init__(self, db: DB, version: Version, seq: int) -> None:
        self._db = db
        self._version = version
        self.seq = seq
        self._closed = False

    def get(self, key: bytes) -> bytes | None:
        """The value of ``key`` when the snapshot was taken, or None."""
        self._check()
        return get_value(self._version, self._db._tables, check_key(key), self.seq)

    def scan(
        self, start: bytes | None = None, end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Like :meth:`DB.scan`, as of the snapshot."""
        self._check()
        return scan(
            self._version, self._db._tables, *_bounds(start, end), self.seq, reverse=reverse
        )

    def scan_prefix(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        return self.scan(prefix, prefix_end(prefix), reverse=reverse)

    def _check(self) -> None:
        if self._closed:
            raise Closed("the snapshot is closed")
        self._db._check_open()

    def close(self) -> None:
        """Release the snapshot."""
        if not self._closed:
            self._closed = True
            self._db._release(self.seq)

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (None: no bound)."""
    stripped = bytes(prefix).rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def _bounds(start: bytes | None, end: bytes | None) -> tuple[bytes | None, bytes | None]:
    for name, bound in (("start", start), ("end", end)):
        if bound is not None and not isinstance(bound, bytes | bytearray | memoryview):
            raise InvalidArgument(f"scan {name} must be bytes or None, got {type(bound).__name__}")
    return (None if start is None else bytes(start), None if end is None else bytes(end))


def _as_store(
    target: str | os.PathLike[str] | ObjectStore, options: Options, storage_options: dict[str, Any]
) -> Store:
    if isinstance(target, Store):
        return target
    if isinstance(target, ObjectStore):
        return Store(target)
    if isinstance(target, str | os.PathLike):
        return open_store(target, timeout_s=options.request_timeout_s, **storage_options)
    raise InvalidArgument(f"DB.open takes a URL, a path or a store, got {type(target).__name__}")
