"""What one process knows of the database: a :class:`Version` (memtables and manifest), the
last sequence number and the WAL id it has applied through (the *tail*).

The view only moves forward, and only by stored objects: a WAL object is applied after it is
stored (by this process or read back from the store), in id order, so a read never sees a
write that could still fail. Every process sharing the database applies the same objects in
the same order and so agrees on every sequence number (docs/design/0003-shared-writers.md).

The memtables are the WAL tail past the manifest's replay point: a full memtable is frozen,
and a frozen memtable is dropped once a manifest whose replay point covers it is adopted.
Thread-safe; catching up with the store is single-flight.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from operator import itemgetter

from sortedcontainers import SortedSet

from kvengine.conflicts import batch_conflict
from kvengine.errors import Fenced
from kvengine.manifest.model import Fence, Manifest, txn_horizon
from kvengine.memtable import Memtable
from kvengine.options import Options
from kvengine.table_store import TableStore
from kvengine.version import Version
from kvengine.wal import WalBatch, WalObject

#: a WalBatch's (first_seq, ops), what Memtable.add_batches takes
_SEQ_AND_OPS = itemgetter(0, 1)
_FIRST_SEQ = itemgetter(0)
_READ_SEQ = itemgetter(2)

log = logging.getLogger(__name__)

#: A catch-up that finds more WAL objects than this re-reads the manifest first, in case the
#: flusher has covered most of them with SSTs (then replaying from its replay point is cheaper).
LAG_OBJECTS = 64
#: The longest a probe waits for other readers starting at about the same time to join it.
PROBE_GATHER_MAX_S = 0.003


class View:
    """The process's view of the shared WAL and manifest."""

    def __init__(
        self,
        tables: TableStore,
        options: Options,
        manifest_id: int,
        manifest: Manifest,
        *,
        writer_id: bytes,
        exclusive: bool,
        epoch: int = 0,
        read_manifest: Callable[[], tuple[int, Manifest]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tables = tables
        self._options = options
        self._writer_id = writer_id
        self._exclusive = exclusive
        self._epoch = epoch
        self._read_manifest = read_manifest
        self.clock = clock
        self.cond = threading.Condition()  # guards the fields below
        start = manifest.wal_replay_after
        self.version = Version(Memtable(start + 1), (), manifest)
        self.manifest_id = manifest_id
        #: the database's txn_wal_span (fixed at creation); None until a manifest is known
        self._txn_wal_span: int | None = manifest.txn_wal_span if manifest_id else None
        self.last_seq = manifest.last_seq
        self.tail_id = start
        #: when this process last saw that WAL object ``tail_id + 1`` did not exist
        self.tail_seen_at = -float("inf")
        #: foreign objects above this id that fence us (set once open has caught up)
        self.fence_after: int | None = None
        self.fenced: Fenced | None = None
        #: indexes of the batches of our objects left out (conflicts), or Fenced if void
        self._outcomes: dict[int, list[int] | Fenced] = {}
        #: the final fences this view knows, in WAL order, from the one in effect at the
        #: start: every object after the last from an older epoch is void
        self._fences: list[Fence] = [manifest.fence]
        self._probe_s = 0.0  # how long a probe takes (moving average)
        self._sync_lock = threading.Lock()
        self._apply_lock = threading.Lock()  # one applier at a time: decide, then change
        #: the id this process is creating, if any: a rebuild must not jump past it, or its
        #: outcome would never be known here
        self.own_in_flight: int | None = None

    # -- reading the state -----------------------------------------------------------------

    def current(self) -> tuple[Version, int]:
        """The version and last sequence number, taken together."""
        with self.cond:
            return self.version, self.last_seq

    def check_fenced(self) -> None:
        if self.fenced is not None:
            raise self.fenced

    # -- applying stored WAL objects ---------------------------------------------------------

    def apply(self, wal_id: int, obj: WalObject, *, seen_next_at: float | None = None) -> None:
        """Apply the stored WAL object ``wal_id`` if it is the next one (an object applied
        already is skipped). ``seen_next_at``: when ``wal_id + 1`` was known to be absent.

        A transaction's batch is applied only if nothing applied after its ``read_seq`` wrote
        a key it writes or a key in a range it watched; every process decides the same, since
        all apply the same objects in the same order. An object after a final fence from an
        older writer epoch is void: nothing of it applies (docs/design/0003-shared-writers.md,
        "Exclusive mode"). For this process's own objects the outcome is kept for
        :meth:`take_outcome`. Every batch is
        decided before anything changes, so a store error while deciding (reading an SST)
        leaves the view as it was."""
        with self._apply_lock:
            if self._txn_wal_span is None:
                # Opened before the database had a manifest: a writer creates version 1
                # before any WAL object (so it exists now), unless the database was written
                # by a Strata without the span (then there is no limit).
                found_id, found = self._read_manifest()
                self._txn_wal_span = found.txn_wal_span if found_id else 0
            with self.cond:
                if wal_id <= self.tail_id:
                    return
                if wal_id != self.tail_id + 1:
                    raise AssertionError(f"WAL object {wal_id} applied after {self.tail_id}")
                version, last_seq = self.version, self.last_seq
                fence = self._fences[-1]
            void = bool(obj.batches) and obj.writer_epoch < fence.epoch
            applied: list[WalBatch] = []
            aborted: list[int] = []
            if not void:
                applied, aborted = self._decide(obj, version, last_seq)
            with self.cond:
                memtable = self.version.memtable
                memtable.add_batches(map(_SEQ_AND_OPS, applied))
                if applied:
                    self.last_seq = applied[-1].first_seq + len(applied[-1].ops) - 1
                self.tail_id = memtable.last_wal_id = wal_id
                if seen_next_at is not None:
                    self.tail_seen_at = max(self.tail_seen_at, seen_next_at)
                if void:
                    self._void(wal_id, obj, fence.wal_id)
                else:
                    if obj.writer_id == self._writer_id:
                        self._outcomes[wal_id] = aborted
                    self._note_fence(wal_id, obj, fence)
                    self._check_fence(wal_id, obj)
                if memtable.size_bytes >= self._options.l0_sst_size:
                    self._freeze_locked()
                self.cond.notify_all()

    def _decide(
        self, obj: WalObject, version: Version, last_seq: int
    ) -> tuple[list[WalBatch], list[int]]:
        """The batches of ``obj`` to apply, and the indexes of those left out (conflicts)."""
        applied: list[WalBatch] = []
        aborted: list[int] = []
        written: SortedSet = SortedSet()  # keys of the batches applied before, in this object
        tables = self._tables
        horizon = txn_horizon(self._txn_wal_span or 0, obj.wal_id)
        # Only a transaction checks the keys written before it in the object: past the
        # last one, blind writes need no bookkeeping (most objects hold blind writes only).
        read_seqs = list(map(_READ_SEQ, obj.batches))
        if read_seqs.count(None) == len(read_seqs):
            if not read_seqs or min(map(_FIRST_SEQ, obj.batches)) > last_seq:
                return list(obj.batches), []  # blind writes, none applied yet: all apply
            last_txn = -1
        else:
            last_txn = max(i for i, r in enumerate(read_seqs) if r is not None)
        for i, batch in enumerate(obj.batches):
            if batch.first_seq + len(batch.ops) - 1 <= last_seq:
                continue  # in SSTs already (decided when it was first applied)
            if batch.read_seq is not None and batch.read_seq < horizon:
                aborted.append(i)  # too old: compaction may have dropped what it would see
                continue
            if batch.read_seq is not None and batch_conflict(
                version, tables, batch.read_seq, batch.ops, batch.ranges, written, last_seq
            ):
                aborted.append(i)
                continue
            applied.append(batch)
            if i < last_txn:
                written.update(k for _, k, _ in batch.ops)
        return applied, aborted

    def take_outcome(self, wal_id: int) -> list[int] | Fenced | None:
        """Indexes of the batches of this process's WAL object ``wal_id`` that were left out
        because they conflicted, or ``Fenced`` if the object is void (it came after a fence
        from a newer writer epoch); None if this view has not applied it."""
        with self.cond:
            return self._outcomes.pop(wal_id, None)

    def fence_at(self, wal_id: int) -> Fence:
        """The final fence in effect after WAL object ``wal_id`` (applied by this view): what
        a manifest whose replay point is ``wal_id`` records."""
        with self.cond:
            found = next((f for f in reversed(self._fences) if f.wal_id <= wal_id), Fence())
            return found.at(wal_id)

    def _note_fence(self, wal_id: int, obj: WalObject, fence: Fence) -> None:
        """Keep the fence in effect up to date after applying ``obj`` (not void): a final
        fence of an epoch at least the current one's replaces it; the first object after it
        from another writer overtakes it (that writer opened after the fence's, whom it
        fences). Holds ``cond``."""
        if obj.final_fence and obj.writer_epoch >= fence.epoch:
            self._fences.append(Fence(wal_id, obj.writer_epoch, obj.writer_id))
        elif (
            obj.batches
            and fence.wal_id
            and not fence.overtaken_at
            and obj.writer_id != fence.writer_id
        ):
            self._fences[-1] = replace(fence, overtaken_at=wal_id)

    def _void(self, wal_id: int, obj: WalObject, fence_id: int) -> None:
        """``obj`` came after the final fence ``fence_id`` from an older writer epoch: every
        process leaves it out whole, and a writer learning that its own object is void is
        fenced. Holds ``cond``."""
        log.info(
            "WAL object %d is void: writer epoch %d after fence %d",
            wal_id,
            obj.writer_epoch,
            fence_id,
        )
        if obj.writer_id != self._writer_id:
            return
        void = Fenced(
            f"fenced: WAL object {wal_id} of this process landed after an exclusive writer's "
            f"fence (WAL object {fence_id}) and is void; this process can no longer write"
        )
        self._outcomes[wal_id] = void
        if self.fenced is None:
            self.fenced = void
            log.error("%s", void)

    def _check_fence(self, wal_id: int, obj: WalObject) -> None:
        if self.fence_after is None or wal_id <= self.fence_after:
            return
        if obj.writer_id == self._writer_id or self.fenced is not None:
            return
        if self._exclusive:
            if obj.writer_epoch < self._epoch:
                return  # an older writer's fence, late (an older writer's data after ours is void)
            why = "another writer wrote WAL object %d after this exclusive writer opened"
        elif not obj.batches:
            why = "an exclusive writer opened the database (fence WAL object %d)"
        else:
            return
        self.fenced = Fenced(f"fenced: {why % wal_id}; this process can no longer write")
        log.error("%s", self.fenced)

    def freeze(self) -> None:
        """Start a new memtable so the current one can be flushed."""
        with self.cond:
            self._freeze_locked()

    def _freeze_locked(self) -> None:
        v = self.version
        if v.memtable.is_empty:
            return
        fresh = Memtable(self.tail_id + 1)
        self.version = Version(fresh, (v.memtable, *v.frozen), v.manifest)
        self.cond.notify_all()

    # -- catching up with the store ----------------------------------------------------------

    def sync(self, since: float) -> None:
        """Make sure the view includes every WAL object that existed at time ``since`` (a
        ``clock()`` reading): nothing to do if a probe started after it; otherwise probe the
        next WAL id, and read what is new. Concurrent callers share one probe. A probe that
        started at the same reading is not enough: on a coarse clock (15 ms ticks) a commit
        can return after it within one tick."""
        if self.tail_seen_at > since:
            return
        with self._sync_lock:
            if self.tail_seen_at > since:
                return
            # Transactions released together by one group commit arrive within a few ms:
            # a short pause (a tenth of a probe) lets one probe serve them all.
            time.sleep(min(self._probe_s / 10, PROBE_GATHER_MAX_S))
            started = self.clock()
            self._catch_up_locked(probe=True)
            self._probe_s = 0.8 * self._probe_s + 0.2 * (self.clock() - started)

    def catch_up(self, *, probe: bool = True) -> None:
        """Read and apply every WAL object past the tail. ``probe``: try one GET of the next id
        before listing (cheapest when nothing is new)."""
        with self._sync_lock:
            self._catch_up_locked(probe=probe)

    def catch_up_from_manifest(self) -> None:
        """Like :meth:`catch_up`, but first start over from the latest manifest if its replay
        point is past the tail (WAL objects up to it may be deleted)."""
        with self._sync_lock:
            self._rebuild_if_behind(*self._read_manifest())
            self._catch_up_locked(probe=True)

    def catch_up_to(self, wal_id: int) -> None:
        """Apply every WAL object up to ``wal_id``, all known to exist (read in parallel)."""
        with self._sync_lock:
            missing = list(range(self.tail_id + 1, wal_id + 1))
            for nxt, obj in zip(missing, self._tables.read_wals(missing), strict=True):
                if nxt <= self.tail_id:
                    continue
                if obj is None:  # deleted: only if this view is far behind the flusher
                    self._catch_up_locked(probe=False)
                    if self.tail_id < wal_id:
                        raise AssertionError(f"WAL object {nxt} is missing")
                    return
                self.apply(nxt, obj)

    def _catch_up_locked(self, *, probe: bool) -> None:
        started = self.clock()
        if probe:
            nxt = self.tail_id + 1
            obj = self._tables.read_wal(nxt)
            if obj is None:
                with self.cond:
                    if self.tail_id < nxt:
                        self.tail_seen_at = max(self.tail_seen_at, started)
                return
            self.apply(nxt, obj)
        started = self.clock()
        ids = self._tables.list_wal_ids(self.tail_id)
        if len(ids) > LAG_OBJECTS and self._rebuild_if_behind(*self._read_manifest()):
            return self._catch_up_locked(probe=False)
        ids = [i for i in ids if i > self.tail_id]
        for wal_id, obj in zip(ids, self._tables.read_wals(ids), strict=True):
            if wal_id <= self.tail_id:
                continue  # applied meanwhile (by the commit thread)
            if wal_id != self.tail_id + 1:
                obj = None
            if obj is None:  # a gap: objects below the flusher's replay point were deleted
                if self._rebuild_if_behind(*self._read_manifest()):
                    return self._catch_up_locked(probe=False)
                if self._tables.read_wal(self.tail_id + 1) is not None:
                    # Not a gap: the listing missed an object created while it ran (a local
                    # directory listed during two creations can show the later one only).
                    return self._catch_up_locked(probe=True)
                # A hole: an exclusive writer's pipelined PUT still in flight (or lost with
                # its process). Nothing after it was acknowledged, so the WAL ends here for
                # now (docs/design/0006-pipelined-wal.md, "No holes seen as the tail").
                log.debug("WAL object %d absent, %d after it present", self.tail_id + 1, wal_id)
                break
            self.apply(wal_id, obj)
        with self.cond:
            self.tail_seen_at = max(self.tail_seen_at, started)

    def _rebuild_if_behind(self, manifest_id: int, manifest: Manifest) -> bool:
        """Start over from ``manifest`` if its replay point is past the tail: an empty
        memtable after the replay point. True if it did. Snapshots keep their old version."""
        with self.cond:
            if manifest.wal_replay_after <= self.tail_id:
                return False
            if self.own_in_flight is not None and manifest.wal_replay_after >= self.own_in_flight:
                return False  # read the WAL object by object instead
            start = manifest.wal_replay_after
            log.info("view rebuilt from the manifest: WAL tail %d -> %d", self.tail_id, start)
            self.version = Version(Memtable(start + 1), (), manifest)
            self.manifest_id = manifest_id
            self.tail_id = start
            self.last_seq = max(self.last_seq, manifest.last_seq)
            if manifest.fence.supersedes(self._fences[-1]):
                self._fences.append(manifest.fence)  # the fence in effect at the replay point
            self._check_fence_skipped(manifest)
            self.cond.notify_all()
            return True

    def _check_fence_skipped(self, manifest: Manifest) -> None:
        """A rebuild skips the WAL objects up to the replay point unread, a fence among them
        too. A writer epoch above ours means an exclusive writer opened after us (its open
        claims the epoch before it writes its fence): we are fenced, as applying its fence
        would have told us, or about to be (a crashed open fences us anyway). An exclusive
        writer whose own fence the manifest says was overtaken (another writer, opened after
        it, stored an object that is not void) is fenced too, as applying that object would
        have told it. Holds ``cond``."""
        if self.fence_after is None or self.fenced is not None:
            return
        fence = manifest.fence
        if manifest.writer_epoch > self._epoch:
            why = (
                f"an exclusive writer opened the database (writer epoch "
                f"{manifest.writer_epoch}, ours {self._epoch})"
            )
        elif self._exclusive and fence.writer_id == self._writer_id and fence.overtaken_at:
            why = f"another writer wrote WAL object {fence.overtaken_at} after this one opened"
        else:
            return
        self.fenced = Fenced(f"fenced: {why}; this process can no longer write")
        log.error("%s", self.fenced)

    # -- manifests ---------------------------------------------------------------------------

    def adopt(self, manifest_id: int, manifest: Manifest) -> None:
        """Use ``manifest`` for reads: memtables whose WAL objects it covers are dropped. A
        manifest past the tail is adopted after catching up (or rebuilding from it)."""
        if manifest.wal_replay_after > self.tail_id:
            self.catch_up(probe=False)
            if manifest.wal_replay_after > self.tail_id:
                with self._sync_lock:
                    self._rebuild_if_behind(manifest_id, manifest)
        with self.cond:
            v = self.version
            if manifest_id <= self.manifest_id or manifest.wal_replay_after > self.tail_id:
                return  # older than ours, or past what this view has applied: not yet
            self.manifest_id = manifest_id
            covered = manifest.wal_replay_after
            frozen = tuple(m for m in v.frozen if m.last_wal_id > covered)
            memtable = v.memtable
            if memtable.last_wal_id <= covered and not memtable.is_empty:
                memtable = Memtable(self.tail_id + 1)
            self.version = Version(memtable, frozen, manifest)
            self.cond.notify_all()

    def drop_frozen(self, memtable: Memtable) -> None:
        """Stop reading ``memtable``: every entry in it is in the manifest's SSTs."""
        with self.cond:
            v = self.version
            frozen = tuple(m for m in v.frozen if m is not memtable)
            if len(frozen) != len(v.frozen):
                self.version = Version(v.memtable, frozen, v.manifest)
                self.cond.notify_all()

    def frozen_bytes(self) -> int:
        return self.version.frozen_bytes()  # (the version is immutable: no lock)
