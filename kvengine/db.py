"""The engine's front door: open a database on an object store, read, write and run
transactions.

Any number of processes, on any number of machines, may open one database and write it
(docs/design/0003-shared-writers.md). Each commits through one shared sequence of WAL objects,
each created with a create-only PUT at the next id; what a process reads is its
:class:`~kvengine.view.View` of that sequence plus the manifest's SSTs, brought up to date by
one small probe when a read or transaction starts. ``exclusive=True`` is the single-writer
mode: opening fences every other writer, and reads and commits skip the probes.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from types import TracebackType
from typing import Any, ClassVar

from kvengine import checkpoint as checkpoints
from kvengine import clone as clones
from kvengine.background import SYSTEM_CLOCK, Background, Clock
from kvengine.batch import WriteBatch, check_key, check_value
from kvengine.committer import CommitRequest, Committer
from kvengine.errors import CheckpointUnavailable, Closed, Corruption, Fenced, InvalidArgument
from kvengine.flusher import Flusher
from kvengine.gc import GcThread
from kvengine.manifest.model import Checkpoint, Manifest
from kvengine.manifest.store import FenceableManifest, ManifestStore
from kvengine.manifest.store import fresh_s as manifest_fresh_s
from kvengine.options import Options
from kvengine.reader import ReaderThread
from kvengine.record import MAX_KEY_BYTES, MAX_VALUE_BYTES, Entry, Kind, prefix_end
from kvengine.store import ObjectStore, Store, open_store
from kvengine.table_store import TableStore
from kvengine.transaction import Transaction
from kvengine.version import Version, get_value, scan
from kvengine.view import View
from kvengine.wal import WalBuilder, WalObject

log = logging.getLogger(__name__)

__all__ = ["DB", "Snapshot", "prefix_end"]

_Key = tuple[str, str, bool, bool]  # (store URL, storage options, read_only, exclusive)
#: Protocols that name the same backend with the same URL syntax.
_PROTOCOL_ALIASES = {"gcs": "gs", "s3a": "s3"}


class DB:
    """A key-value database whose durable state is objects in one store.

    Thread-safe: any number of threads may read, write and run transactions at once. Use
    :meth:`open`.
    """

    _registry: ClassVar[dict[_Key, DB]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        *,
        store: Store,
        tables: TableStore,
        mstore: ManifestStore,
        view: View,
        options: Options,
        writer_id: bytes,
        writer_epoch: int,
        exclusive: bool,
        read_only: bool,
        role: FenceableManifest | None,
        owns_store: bool,
        checkpoint: Checkpoint | None = None,
        clock: Clock = SYSTEM_CLOCK,
        manual: bool = False,
    ) -> None:
        self._store = store
        self._owns_store = owns_store
        self._tables = tables
        self._mstore = mstore
        self._view = view
        self.options = options
        self._writer_id = writer_id
        self._exclusive = exclusive
        self._read_only = read_only
        #: opened at this checkpoint: reads never move past it
        self.opened_checkpoint = checkpoint
        self._snapshots: Counter[int] = Counter()  # guarded by view.cond
        self._closed = False
        self.l0_stops = 0  # writes that waited for L0 to shrink
        self.l0_slowdowns = 0  # writes paused a little because L0 is large
        self._refs = 1
        self._key: _Key | None = None
        self._committer: Committer | None = None
        self._staleness_s = 0.0 if exclusive else options.max_staleness_ms / 1000
        if not read_only:
            self._committer = Committer(
                tables,
                view,
                writer_epoch=writer_epoch,
                writer_id=writer_id,
                flush_interval_s=options.flush_interval_ms / 1000,
                buffer_bytes=options.wal_buffer_bytes,
                gc_min_age_s=options.wal_gc_min_age_s,
                exclusive=exclusive,
                pipeline_depth=options.wal_pipeline_depth or (2 if exclusive else 1),
                manual=manual,
            )
        # Readers follow too (adopting manifests keeps their memtables bounded) but never
        # claim the role, which writes the manifest.
        self._flusher = Flusher(
            tables,
            view,
            mstore,
            options,
            writer_id=writer_id,
            exclusive=exclusive,
            role=role,
            keep_seq=self._keep_seq,
            may_claim=not read_only,
            clock=clock,
            threaded=not manual,
        )
        #: a read-only open (not at a checkpoint) follows the writers and holds a checkpoint
        self._reader: ReaderThread | None = None
        if read_only and checkpoint is None:
            self._reader = ReaderThread(view, mstore, options, clock=clock, threaded=not manual)
        self._gc: GcThread | None = None
        if not read_only and options.gc_interval_s > 0:
            flusher = self._flusher
            self._gc = GcThread(
                store,
                min_age_s=options.gc_min_age_s,
                interval_s=options.gc_interval_s,
                holds_role=lambda: flusher.role is not None,
                threaded=not manual,
            )
        units: dict[str, Callable[[], None]] = {"flush": self._flusher.turn}
        if self._committer is not None:
            units["wal"] = self._committer.step
            units["compact"] = self._flusher.compact_turn
        if self._gc is not None:
            units["gc"] = self._gc.step
        if self._reader is not None:
            units["poll"] = self._reader.poll
        #: who runs the background work: its threads, or (``manual``) the caller, one unit
        #: at a time (kvengine/background.py)
        self.background = Background(manual, units)

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        target: str | os.PathLike[str] | ObjectStore,
        *,
        options: Options | None = None,
        read_only: bool = False,
        exclusive: bool = False,
        checkpoint: str | None = None,
        clock: Clock | None = None,
        manual: bool = False,
        **storage_options: Any,
    ) -> DB:
        """Open (creating if empty) the database at ``target``: a URL or local path (with
        ``storage_options`` for the fsspec backend), or a store from ``open_store``.

        By default any number of processes may open the database read-write at once.
        ``exclusive=True`` fences every other writer (their next commit raises ``Fenced``)
        until another process opens it. ``read_only=True`` writes nothing.

        The same URL opened again in this process, in the same mode and under any spelling,
        returns the same engine (each open needs its own :meth:`close`); the options of the
        first open apply. A store object always gets an engine of its own.

        ``checkpoint=NAME`` opens that checkpoint read-only: reads see exactly the database
        as it was when the checkpoint was taken, nothing newer; ``CheckpointUnavailable``
        if it does not exist, was deleted or expired. Such an engine is never shared.

        For deterministic simulations (kvengine/background.py): ``clock`` measures the
        engine's intervals and timeouts (default: the system's monotonic clock), and
        ``manual=True`` starts no commit, flush, compaction, GC or reader thread: the caller
        runs that work with ``db.background.step(unit)``, and ``flush``/``compact`` (and a
        call waiting for a WAL PUT) do theirs in the calling thread. A manual engine is
        never shared either.
        """
        if read_only and exclusive:
            raise InvalidArgument("a database cannot be opened both read-only and exclusive")
        options = options or Options()
        clock = clock or SYSTEM_CLOCK
        store = _as_store(target, options, storage_options)
        if checkpoint is not None:
            if exclusive:
                raise InvalidArgument("a checkpoint opens read-only, not exclusive")
            owns = not isinstance(target, ObjectStore)
            try:
                return cls._open_checkpoint(
                    store,
                    options,
                    checkpoint,
                    owns_store=owns,
                    storage_options=storage_options,
                    clock=clock,
                    manual=manual,
                )
            except BaseException:
                if owns:
                    store.close()
                raise
        if isinstance(target, ObjectStore) or manual:
            owns = not isinstance(target, ObjectStore)
            try:
                return cls._open(
                    store, options, read_only, exclusive, owns, storage_options, clock, manual
                )
            except BaseException:
                if owns:
                    store.close()
                raise
        key = _registry_key(store.adapter.url, storage_options, read_only, exclusive)
        with cls._registry_lock:
            found = cls._registry.get(key)
            if found is not None:
                found._refs += 1
                store.close()
                return found
            db = cls._open(
                store, options, read_only, exclusive, True, storage_options, clock, manual
            )
            db._key = key
            cls._registry[key] = db
            return db

    @classmethod
    def _open(
        cls,
        store: Store,
        options: Options,
        read_only: bool,
        exclusive: bool,
        owns_store: bool,
        storage_options: dict[str, Any],
        clock: Clock = SYSTEM_CLOCK,
        manual: bool = False,
    ) -> DB:
        tables = TableStore(store, options)
        mstore = ManifestStore(store, clock, manifest_fresh_s(options))
        writer_id = os.urandom(16)
        role: FenceableManifest | None = None
        if not read_only and mstore.read_latest() is None:
            # Create the database's first manifest before any WAL object, so that every
            # process validates transactions with the same txn_wal_span (fixed from here on;
            # of two racing creators one wins, and both read its span). A database whose WAL
            # was written by a Strata without the span keeps no limit.
            span = options.txn_wal_span if tables.read_wal(1) is None else 0
            mstore.try_write(1, Manifest.empty(span))
        if exclusive:
            FenceableManifest.claim(mstore, "writer", writer_id)
            role = FenceableManifest.claim(mstore, "compactor", writer_id)
            manifest_id, manifest = role.manifest_id, role.manifest
        else:
            found = mstore.read_latest()
            manifest_id, manifest = found if found else (0, Manifest.empty())
        _open_roots(tables, manifest, options, storage_options)

        def read_manifest() -> tuple[int, Manifest]:
            return mstore.read_latest() or (0, Manifest.empty())

        view = View(
            tables,
            options,
            manifest_id,
            manifest,
            writer_id=writer_id,
            exclusive=exclusive,
            epoch=manifest.writer_epoch,
            read_manifest=read_manifest,
            clock=clock.monotonic,
        )
        view.catch_up(probe=False)
        if exclusive:
            _write_fence(tables, view, manifest.writer_epoch, writer_id)
        view.fence_after = view.tail_id
        log.info(
            "opened %s (%s) at WAL %d, seq %d",
            store.url,
            "read-only" if read_only else "exclusive" if exclusive else "shared",
            view.tail_id,
            view.last_seq,
        )
        return cls(
            store=store,
            tables=tables,
            mstore=mstore,
            view=view,
            options=options,
            writer_id=writer_id,
            writer_epoch=manifest.writer_epoch,
            exclusive=exclusive,
            read_only=read_only,
            role=role,
            owns_store=owns_store,
            clock=clock,
            manual=manual,
        )

    @classmethod
    def _open_checkpoint(
        cls,
        store: Store,
        options: Options,
        name: str,
        owns_store: bool,
        storage_options: dict[str, Any] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        manual: bool = False,
    ) -> DB:
        tables = TableStore(store, options)
        mstore = ManifestStore(store)
        cp = checkpoints.find(mstore, name)
        try:
            manifest = mstore.read(cp.manifest_id)
        except Corruption:
            raise CheckpointUnavailable(name, "its manifest version is gone") from None
        _open_roots(tables, manifest, options, storage_options or {})
        # The WAL range is replayed whole into one memtable: nothing is frozen, so nothing
        # ever makes this view adopt a newer manifest.
        pinned = dataclasses.replace(options, l0_sst_size=2**62, gc_interval_s=0)
        view = View(
            tables,
            pinned,
            cp.manifest_id,
            manifest,
            writer_id=os.urandom(16),
            exclusive=False,
            read_manifest=lambda: (cp.manifest_id, manifest),
            clock=clock.monotonic,
        )
        ids = list(range(manifest.wal_replay_after + 1, cp.wal_tail + 1))
        for wal_id, obj in zip(ids, tables.read_wals(ids), strict=True):
            if obj is None:
                raise CheckpointUnavailable(name, f"its WAL object {wal_id} is gone")
            view.apply(wal_id, obj)
        log.info("opened %s at checkpoint %r (WAL %d)", store.url, name, cp.wal_tail)
        return cls(
            store=store,
            tables=tables,
            mstore=mstore,
            view=view,
            options=pinned,
            writer_id=os.urandom(16),
            writer_epoch=0,
            exclusive=False,
            read_only=True,
            role=None,
            owns_store=owns_store,
            checkpoint=cp,
            clock=clock,
            manual=manual,
        )

    @classmethod
    def clone(
        cls,
        source: str | os.PathLike[str],
        checkpoint: str,
        target: str | os.PathLike[str],
        *,
        options: Options | None = None,
        **storage_options: Any,
    ) -> None:
        """Create a new database at ``target`` from checkpoint ``checkpoint`` of the one at
        ``source``, without copying its SSTs: the clone lists them where they are and holds
        a checkpoint in the source, named ``clone:<target>#<attempt>``, until its own compactions
        have rewritten all of them. Writes to either database are not seen by the other.
        ``storage_options`` must reach both (for now: two prefixes of one bucket or store);
        the source's URL is stored without credentials, and every open of the clone uses
        its own storage options for the source too. ``InvalidArgument`` if ``target``
        holds a database; ``CheckpointUnavailable`` if the checkpoint does not exist."""
        options = options or Options()
        source_store = _as_store(source, options, storage_options)
        target_store = _as_store(target, options, storage_options)
        try:

            def replay() -> list[Entry]:
                at = cls._open_checkpoint(source_store, options, checkpoint, owns_store=False)
                try:
                    return list(at._view.version.memtable.entries())
                finally:
                    at.close()

            clones.create(
                source_store,
                source if isinstance(source, str) else getattr(source, "url", str(source)),
                checkpoint,
                target_store,
                target if isinstance(target, str) else getattr(target, "url", str(target)),
                options,
                replay,
            )
        finally:
            source_store.close()
            target_store.close()

    # -- checkpoints -----------------------------------------------------------------------

    def checkpoint(
        self, name: str | None = None, lifetime: float | timedelta | None = None
    ) -> Checkpoint:
        """Record the database as of now as a checkpoint: every write acknowledged before
        this call, in any process, is in it. ``lifetime`` (seconds or a timedelta): it
        expires then; None: it lasts until :meth:`delete_checkpoint`. Garbage collection
        keeps what it needs. Costs one manifest write; nothing is flushed."""
        committer = self._writable()
        committer.flush()
        view = self._view
        view.sync(view.clock())
        if isinstance(lifetime, timedelta):
            lifetime = lifetime.total_seconds()
        return checkpoints.create(self._mstore, view.tail_id, name, lifetime)

    def checkpoints(self) -> tuple[Checkpoint, ...]:
        """Every checkpoint the latest manifest lists, oldest first."""
        self._check_open()
        return checkpoints.listed(self._mstore)

    def delete_checkpoint(self, name: str) -> None:
        """Delete checkpoint ``name`` (``CheckpointUnavailable`` if there is none); garbage
        collection may then delete what only it kept, ``gc_min_age_s`` later."""
        self._writable()
        checkpoints.delete(self._mstore, name)

    # -- writes ----------------------------------------------------------------------------

    def put(self, key: bytes, value: bytes, *, durable: bool = True) -> None:
        """Set ``key`` to ``value``. Durable (the default): returns after its WAL object is
        stored. Otherwise returns at once and is stored by a later WAL PUT, within
        ``flush_interval_ms``. Either way it is visible once stored."""
        # The usual bytes key and value are checked here, without two calls each
        if type(key) is not bytes or not 0 < len(key) <= MAX_KEY_BYTES:
            key = check_key(key)
        if type(value) is not bytes or len(value) > MAX_VALUE_BYTES:
            value = check_value(value)
        self._write(((Kind.PUT, key, value),), durable)

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
        request = self._submit(CommitRequest(ops, durable=durable))
        if durable:
            self._committer_wait(request)

    def _submit(self, request: CommitRequest) -> CommitRequest:
        committer = self._writable()
        self._wait_for_room()
        return committer.submit(request)

    def _committer_wait(self, request: CommitRequest) -> None:
        # No fencing check here: a request stored before this process was fenced succeeded.
        assert self._committer is not None
        self._committer.wait(request)

    def _writable(self) -> Committer:
        self._check_open()
        if self._committer is None:
            raise InvalidArgument("the database was opened read-only")
        self._view.check_fenced()
        return self._committer

    def _wait_for_room(self) -> None:
        """Backpressure: wait while frozen memtables and writes waiting for their WAL PUT
        hold too many unflushed bytes, or L0 holds ``l0_stop_trigger`` SSTs; pause a little
        past ``l0_slowdown_trigger``."""
        limit = self.options.max_unflushed_bytes
        view = self._view
        committer = self._committer
        assert committer is not None
        self._wait_for_l0()
        if not view.version.frozen and committer.queued_bytes <= limit:
            return  # the common case, without the lock (a Version never changes)
        with view.cond:
            waited = False
            while view.frozen_bytes() + committer.queued_bytes > limit:
                view.check_fenced()
                self._check_open()
                if not waited:
                    log.warning("writes waiting: unflushed memtables exceed %d bytes", limit)
                    waited = True
                view.cond.wait(1.0)

    def _l0_count(self) -> int:
        return len(self._view.version.manifest.l0)  # a Version never changes: no lock

    def _wait_for_l0(self) -> None:
        """Slow writes down while L0 is past ``l0_slowdown_trigger`` (a pause of 1 ms per SST
        over it, at most 100 ms) and stop them while it holds ``l0_stop_trigger`` SSTs, until
        a compaction takes L0 below that. A waiting writer reads the latest manifest each
        second (a process that does not hold the flush role otherwise reads it each
        ``flusher_poll_ms`` only when it has frozen memtables, else about once a minute)."""
        opts = self.options
        if opts.l0_compaction_trigger == 0:
            return
        stop, slow = opts.l0_stop_trigger, opts.l0_slowdown_trigger
        n = self._l0_count()
        if stop and n >= stop:
            log.warning("writes waiting: L0 holds %d SSTs (l0_stop_trigger %d)", n, stop)
            self.l0_stops += 1
            view = self._view
            while n >= stop:
                view.check_fenced()
                self._check_open()
                if self._flusher.role is None:
                    self._flusher.note_l0_full()
                    found = self._mstore.read_latest(view.manifest_id)
                    if found is not None:
                        view.adopt(*found)
                with view.cond:
                    if len(view.version.manifest.l0) >= stop:
                        view.cond.wait(1.0)
                n = self._l0_count()
            log.info("writes resumed: L0 holds %d SSTs", n)
        if slow and n >= slow:
            self.l0_slowdowns += 1
            time.sleep(min(0.1, 0.001 * (n - slow + 1)))

    def flush_wal(self) -> None:
        """Make every write so far durable (and visible)."""
        self._writable().flush()

    def flush(self) -> None:
        """Make every write so far durable and write it into SSTs, taking the flush role from
        any other process that holds it."""
        self.flush_wal()
        view = self._view
        view.freeze()
        with view.cond:
            waiting = view.version.frozen
        self._flusher.request_role()
        self._await(lambda: not any(m in view.version.frozen for m in waiting), self._flusher.turn)

    def _await(self, done: Callable[[], bool], *turns: Callable[[], None]) -> None:
        """Wait until ``done()`` (called holding the view's lock), for the background threads
        to get there; a manual engine runs ``turns`` in this thread instead."""
        view = self._view
        while True:
            with view.cond:
                if done():
                    return
                view.check_fenced()
                self._check_open()
                if not self.background.manual:
                    view.cond.wait(1.0)
                    continue
            for turn in turns:
                turn()

    def compact(self) -> None:
        """Flush, then compact every L0 SST and sorted run into one run, taking the flush
        role from any other process that holds it; returns once the result is in the
        manifest this process reads."""
        self.flush()
        done = self._flusher.request_compact_all()
        flusher = self._flusher
        self._await(lambda: flusher.compact_all_done >= done, flusher.turn, flusher.compact_turn)
        with self._view.cond:
            error = flusher.compact_all_error
        if error is not None and error[0] >= done:
            raise Fenced(f"another process took the compaction role during compact(): {error[1]}")

    # -- transactions ------------------------------------------------------------------------

    def transaction(self) -> Transaction:
        """Begin a transaction that sees every commit that returned before this call (in any
        process, within ``max_staleness_ms``). Commit it, or use ``with``."""
        return Transaction(self, self.snapshot())

    # -- reads -----------------------------------------------------------------------------

    def _begin_read(self, key: bytes | None = None) -> tuple[Version, int]:
        """The view, brought up to date: this process's earlier non-durable writes are stored
        (those of ``key`` alone, for a read of one key), and (shared mode) any commit another
        process finished before now is applied."""
        self._check_open()
        if self._committer is not None:
            if key is None:
                self._committer.wait_nondurable()
            else:
                self._committer.wait_nondurable_key(key)
        view = self._view
        if not self._exclusive and self.opened_checkpoint is None:
            now = view.clock()
            view.sync(now - self._staleness_s)
        return view.current()

    def get(self, key: bytes) -> bytes | None:
        """The value of ``key``, or None."""
        key = check_key(key)
        version, seq = self._begin_read(key)
        return get_value(version, self._tables, key, seq)

    def scan(
        self, start: bytes | None = None, end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` pairs with ``start <= key < end`` (None: unbounded) in key order,
        or descending with ``reverse=True``, as of the call."""
        bounds = _bounds(start, end)
        version, seq = self._begin_read()
        return scan(version, self._tables, *bounds, seq, reverse=reverse)

    def scan_prefix(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Pairs whose key starts with ``prefix``."""
        return self.scan(prefix, prefix_end(prefix), reverse=reverse)

    def snapshot(self) -> Snapshot:
        """A consistent, unchanging view as of now; close it (or use ``with``) when done."""
        version, seq = self._begin_read()
        with self._view.cond:
            self._snapshots[seq] += 1
        return Snapshot(self, version, seq)

    def _release(self, seq: int) -> None:
        with self._view.cond:
            self._snapshots[seq] -= 1
            if self._snapshots[seq] <= 0:
                del self._snapshots[seq]

    def _keep_seq(self) -> int:
        with self._view.cond:
            return min(self._snapshots, default=self._view.last_seq + 1)

    def refresh(self) -> None:
        """Catch up with every commit stored so far, and with the latest manifest (a
        database opened at a checkpoint stays there)."""
        self._check_open()
        if self.opened_checkpoint is not None:
            return
        self._view.catch_up()
        found = self._mstore.read_latest(self._view.manifest_id)
        if found is not None:
            self._view.adopt(*found)

    # -- lifecycle and introspection ---------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters for monitoring: requests by kind, bytes, estimated cost, memtable, L0 and
        SST counts, commits and conflicts. The keys may grow; their meaning does not change."""
        s = self._store.stats()
        v, last_seq = self._view.current()
        m = v.manifest
        ssts = m.all_ssts()
        committer, flusher = self._committer, self._flusher
        return {
            "requests": dict(s.requests),
            "request_errors": dict(s.errors),
            "bytes_written": s.bytes_written,
            "bytes_read": s.bytes_read,
            "retries": self._store.retries,
            "cost_usd": s.costs_usd(),
            "wal_puts": committer.puts if committer else 0,
            "conflicts": committer.conflicts if committer else 0,
            "memtable_bytes": v.memtable.size_bytes,
            "frozen_memtables": len(v.frozen),
            "l0_ssts": len(m.l0),
            "sorted_runs": len(m.runs),
            "ssts": len(ssts),
            "sst_bytes": sum(meta.size for meta in ssts),
            "last_seq": last_seq,
            "wal_tail": self._view.tail_id,
            "manifest_id": self._view.manifest_id,
            "writer_epoch": m.writer_epoch,
            "flush_role": flusher.role is not None,
            "flushed_ssts": flusher.flushed_ssts,
            "compactions": flusher.compactions,
            "abandoned_compactions": flusher.abandoned_compactions,
            "l0_stops": self.l0_stops,
            "l0_slowdowns": self.l0_slowdowns,
            "mode": "read-only"
            if self._read_only
            else "exclusive"
            if self._exclusive
            else "shared",
            "read_only": self._read_only,
            "reader_checkpoint": self._reader.held.name
            if self._reader is not None and self._reader.held is not None
            else None,
        }

    @property
    def manifest(self) -> tuple[int, Manifest]:
        """The id and contents of the manifest version this process reads."""
        with self._view.cond:
            return self._view.manifest_id, self._view.version.manifest

    @property
    def store(self) -> Store:
        """The object store under this database."""
        return self._store

    def _check_open(self) -> None:
        if self._closed:
            raise Closed("the database is closed")

    def close(self) -> None:
        """Store queued writes and stop background work; close the store if the database
        opened it. With several opens of one URL in this process, the last close does this."""
        with DB._registry_lock:
            if self._closed:
                return
            self._refs -= 1
            if self._refs > 0:
                return
            if self._key is not None:
                DB._registry.pop(self._key, None)
            self._closed = True
        if self._committer is not None:
            self._committer.close()
        self._flusher.close()
        if self._reader is not None:
            self._reader.close()
        if self._gc is not None:
            self._gc.close()
        self._tables.close()
        if self._owns_store:
            self._store.close()

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
        """Pairs whose key starts with ``prefix``, as of the snapshot."""
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


def _write_fence(tables: TableStore, view: View, epoch: int, writer_id: bytes) -> None:
    """Exclusive open: create an empty WAL object at the next id, which fences every writer
    that opened before (an id taken meanwhile is applied, and the next one tried)."""
    while True:
        fence_id = view.tail_id + 1
        if tables.write_wal(fence_id, WalBuilder(fence_id, epoch, writer_id).finish()):
            view.apply(fence_id, WalObject(fence_id, epoch, writer_id, ()))
            return
        view.catch_up(probe=False)


def _registry_key(
    url: str, storage_options: dict[str, Any], read_only: bool, exclusive: bool
) -> _Key:
    """One key per database and mode: protocol aliases folded together, and the storage
    options included (the same bucket name behind another endpoint is another database)."""
    protocol, sep, rest = url.partition("://")
    if sep:
        url = f"{_PROTOCOL_ALIASES.get(protocol, protocol)}://{rest}"
    return (url, repr(sorted(storage_options.items())), read_only, exclusive)


def _bounds(start: bytes | None, end: bytes | None) -> tuple[bytes | None, bytes | None]:
    for name, bound in (("start", start), ("end", end)):
        if bound is not None and not isinstance(bound, bytes | bytearray | memoryview):
            raise InvalidArgument(f"scan {name} must be bytes or None, got {type(bound).__name__}")
    return (None if start is None else bytes(start), None if end is None else bytes(end))


def _open_roots(
    tables: TableStore, manifest: Manifest, options: Options, storage_options: dict[str, Any]
) -> None:
    """Open the store of each of a clone's external roots, with the clone's own storage
    options (the manifest stores no credentials)."""
    for root in manifest.external:
        tables.roots[root.root_id] = open_store(
            root.url, timeout_s=options.request_timeout_s, **storage_options
        )


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
