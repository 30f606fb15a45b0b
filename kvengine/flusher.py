"""The flush-and-compaction role: writing frozen memtables as L0 SSTs, advancing the manifest's
WAL replay point, and compacting. One process holds it at a time, through the manifest's
compactor epoch (docs/design/0003-shared-writers.md, "The flusher role").

Every writing process runs a :class:`Flusher` thread. The holder tails the WAL every
``flusher_poll_ms`` (other processes' commits fill its memtable too) and flushes what is frozen;
its compactions run in a second thread (``strata-compact``), so a long merge never holds a
flush back: each result is re-applied on the latest manifest (flushes add L0 SSTs meanwhile)
and abandoned if an input is gone. Any other process only adopts newer manifests, which drops
the memtables they cover (each ``flusher_poll_ms`` while it has frozen memtables, else at least
every ``MANIFEST_RECHECK_MAX_S``, so that its reads never go to SSTs GC has deleted); if it
has frozen memtables and the manifest has not changed for
``flusher_takeover_ms`` (or no process ever held the role), it claims the role, which fences
the previous holder's manifest updates. A holder that loses the role carries on as a plain writer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kvengine import clone as clones
from kvengine.background import SYSTEM_CLOCK, Clock
from kvengine.compactor import (
    CompactAllPolicy,
    CompactionPlan,
    CompactionPolicy,
    Compactor,
    Progress,
    SizeTieredPolicy,
)
from kvengine.errors import Fenced, ObjectNotFound, StrataError
from kvengine.manifest.model import Manifest, SortedRun, SSTMeta
from kvengine.manifest.store import FenceableManifest, ManifestStore
from kvengine.memtable import Memtable
from kvengine.options import Options
from kvengine.sst import SSTOutput, SSTParts
from kvengine.table_store import TableStore, sst_path
from kvengine.view import View

log = logging.getLogger(__name__)

#: Compactions run in a row at most before the compaction thread looks at its requests again.
MAX_COMPACTIONS_PER_TURN = 8
#: An idle holder (this many turns in a row found no new WAL object) polls IDLE_FACTOR times
#: less often, so that an idle database stays under one request per second with its garbage
#: collection (benchmarks/idle_requests.py); the first new object brings the interval back.
IDLE_TURNS = 10
IDLE_FACTOR = 3
#: A process without the role reads the latest manifest at least this often even with
#: nothing to flush (and at least four times per ``min(gc_min_age_s, wal_gc_min_age_s)``):
#: its reads go to the SSTs of the version it adopted last, which garbage collection deletes
#: once that version has not been the latest for the minimum age.
MANIFEST_RECHECK_MAX_S = 60.0


def _log_failure(what: str, exc: Exception) -> None:
    """Log a failed turn of a background thread, which then tries again: a store error as a
    warning, anything else (a bug) with its traceback. Call from an ``except`` block."""
    if isinstance(exc, StrataError):
        log.warning("%s failed, will retry: %s", what, exc)
    else:
        log.exception("%s failed, will retry", what)


class _Abandoned(Exception):
    """A compaction's inputs left the manifest while it ran: its output is not referenced."""


class Flusher:
    """The background thread of one writing process for the flush-and-compaction role."""

    def __init__(
        self,
        tables: TableStore,
        view: View,
        mstore: ManifestStore,
        options: Options,
        *,
        writer_id: bytes,
        exclusive: bool,
        role: FenceableManifest | None,
        keep_seq: Callable[[], int],
        may_claim: bool = True,
        clock: Clock = SYSTEM_CLOCK,
        threaded: bool = True,
    ) -> None:
        self._tables = tables
        self._view = view
        self._mstore = mstore
        self._options = options
        self._writer_id = writer_id
        self._exclusive = exclusive
        self.role = role  # the compactor role, while this process holds it
        self._keep_seq = keep_seq
        self._may_claim = may_claim
        self._clock = clock
        self._threaded = threaded
        self._compactor = Compactor(tables, options)
        self.policy: CompactionPolicy = SizeTieredPolicy(options)
        self._next_sst_id = 1
        self._sst_id_lock = threading.Lock()
        self._closed = False
        self._want_role = False
        self._compact_all_wanted = 0  # requests of DB.compact, answered by number
        self._compact_all_handed = 0  # of those, passed on to the compaction thread
        self.compact_all_done = 0
        self.compaction_progress: Progress | None = None
        self.lost_role: Fenced | None = None  # why this process last lost the role
        self.compact_all_error: tuple[int, Fenced] | None = None
        self._keep_role_only = False  # a compactor process: once lost, never claim again
        self._l0_waiting = False  # a writer waits for L0 to shrink (counts like frozen)
        self.compactions = 0
        self.abandoned_compactions = 0
        self._stalled_since: float | None = None  # frozen memtables and no manifest change
        self.flushed_ssts = 0
        self._idle_turns = 0  # holder turns in a row that found no new WAL object
        self._recheck_s = min(
            MANIFEST_RECHECK_MAX_S, min(options.gc_min_age_s, options.wal_gc_min_age_s) / 4
        )
        self._manifest_read_at = self._clock.monotonic()  # the view was read at open
        self._role_lock = threading.Lock()  # taking and losing the role (two threads)
        self._compact_cond = threading.Condition()
        self._compact_wake = False
        self._thread = threading.Thread(target=self._run, name="strata-flush", daemon=True)
        self._compact_thread = threading.Thread(
            target=self._compact_loop, name="strata-compact", daemon=True
        )
        if threaded:  # else the owner runs turn() and compact_turn() (kvengine/background.py)
            self._thread.start()
            self._compact_thread.start()

    def request_role(self) -> None:
        """Claim the role at the next turn (an explicit ``DB.flush``), and wake the thread."""
        with self._view.cond:
            self._want_role = True
            self._view.cond.notify_all()

    def request_compact_all(self) -> int:
        """Claim the role and compact everything into one run at the next turn; returns the
        number that ``compact_all_done`` reaches once done."""
        with self._view.cond:
            self._compact_all_wanted += 1
            self._want_role = True
            self._view.cond.notify_all()
            return self._compact_all_wanted

    def keep_role_only(self) -> None:
        """For a compactor process: claim the role as usual, but never again once lost."""
        self._keep_role_only = True

    def note_l0_full(self) -> None:
        """A writer waits at ``l0_stop_trigger``: if nobody compacts for
        ``flusher_takeover_ms``, claim the role (as with frozen memtables)."""
        with self._view.cond:
            self._l0_waiting = True

    def close(self) -> None:
        with self._view.cond:
            self._closed = True
            self._view.cond.notify_all()
        with self._compact_cond:
            self._compact_cond.notify_all()
        if self._threaded:
            self._thread.join()
            self._compact_thread.join()

    # -- the loop ------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            poll_s = self._options.flusher_poll_ms / 1000
            if self._idle_turns >= IDLE_TURNS:
                poll_s *= IDLE_FACTOR
            with self._view.cond:
                # Sleep the whole interval: the condition is notified for every WAL object
                # applied, and a turn costs a probe (holder) or a manifest LIST (others).
                deadline = time.monotonic() + poll_s
                while not (self._closed or self._want_role or self._wants_compact_all()):
                    if self.role is not None and self._view.version.frozen:
                        break  # the holder flushes at once
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._view.cond.wait(remaining)
                if self._closed:
                    return
            try:
                self.turn()
            except Exception as exc:  # a store error, or a bug: never let the thread die
                _log_failure("flush or compaction", exc)
                with self._view.cond:
                    if not self._closed:
                        self._view.cond.wait(1.0)

    def turn(self) -> None:
        """One turn of the flusher thread (the "flush" unit of kvengine/background.py): the
        holder flushes what is frozen; another process follows, and claims the role if it
        looks abandoned. Losing the role is handled here; store errors are raised."""
        with self._view.cond:
            if self._view.fenced is not None:
                # A fenced process still reads: it follows the manifests (which keeps
                # its memory bounded) but flushes and claims nothing.
                self.role, self._may_claim = None, False
        try:
            self._turn()
        except Fenced as exc:
            self._lost_role(exc)

    def _turn(self) -> None:
        if self.role is None:
            self._follow()
            if self.role is None:
                return
        tail = self._view.tail_id
        if not self._exclusive:
            self._view.sync(self._view.clock())  # others' commits are ours to flush too
        self._idle_turns = self._idle_turns + 1 if self._view.tail_id == tail else 0
        while (memtable := self._oldest_frozen()) is not None:
            self._flush(memtable)
            self._wake_compactor()  # L0 grew: the compaction thread plans (flushing goes on)
        with self._view.cond:
            # A request for the role is answered only now: had this turn learnt that the
            # role was taken (Fenced), the next one would claim it back at once, not after
            # flusher_takeover_ms (found by the simulation, seed 19).
            self._want_role = False
            self._compact_all_handed = self._compact_all_wanted
        self._wake_compactor()

    def _wants_compact_all(self) -> bool:
        return self.role is not None and self._compact_all_wanted > self._compact_all_handed

    def _wake_compactor(self) -> None:
        with self._compact_cond:
            self._compact_wake = True
            self._compact_cond.notify_all()

    def _oldest_frozen(self) -> Memtable | None:
        with self._view.cond:
            frozen = self._view.version.frozen
            return frozen[-1] if frozen else None

    def _follow(self) -> None:
        """Not the holder: adopt newer manifests; claim the role if it looks abandoned."""
        view = self._view
        now = self._clock.monotonic()
        with view.cond:
            idle = not view.version.frozen and not self._want_role and not self._l0_waiting
        if idle and now - self._manifest_read_at < self._recheck_s:
            self._stalled_since = None
            return
        found = self._mstore.read_latest(view.manifest_id)
        self._manifest_read_at = now
        if found is not None:
            view.adopt(*found)
            self._stalled_since = None
        if idle:
            return
        with view.cond:
            manifest = view.version.manifest
            stop = self._options.l0_stop_trigger
            self._l0_waiting = self._l0_waiting and bool(stop) and len(manifest.l0) >= stop
            frozen = bool(view.version.frozen) or self._l0_waiting
            want = self._want_role
        if not self._may_claim:
            with view.cond:
                self._want_role = False  # a reader (or a fenced process) never claims
            return
        if not frozen and not want:
            return
        now = self._clock.monotonic()
        if self._stalled_since is None:
            self._stalled_since = now
        takeover_s = self._options.flusher_takeover_ms / 1000
        if want or manifest.compactor_epoch == 0 or now - self._stalled_since >= takeover_s:
            view.catch_up()  # a process fenced by an exclusive writer must not claim
            if view.fenced is not None:
                return
            role = FenceableManifest.claim(self._mstore, "compactor", self._writer_id)
            with self._role_lock:
                self.role = role
            with view.cond:
                self._want_role = False
            view.adopt(*role.current())
            log.info("took the flush role (compactor epoch %d)", role.epoch)

    def _lost_role(self, exc: Fenced, role: FenceableManifest | None = None) -> None:
        """This process no longer holds the role; with ``role``, only if that is the one
        held (the compaction thread may learn it late, after the role was taken again)."""
        with self._role_lock:
            if role is not None and self.role is not role:
                return
            self._lost_role_locked(exc)

    def _lost_role_locked(self, exc: Fenced) -> None:
        if self._exclusive:
            with self._view.cond:
                self._view.fenced = self._view.fenced or exc
                self._view.cond.notify_all()
            log.error("%s", exc)
            return
        log.info("gave up the flush role: %s", exc)
        self.lost_role = exc
        self.role = None
        if self._keep_role_only:
            self._may_claim = False
        with self._view.cond:
            if self._compact_all_wanted > self.compact_all_done:
                self.compact_all_error = (self._compact_all_wanted, exc)
                self.compact_all_done = self._compact_all_wanted
                self._view.cond.notify_all()
        self._stalled_since = None

    # -- flushing and compacting ---------------------------------------------------------------

    def _write_new_sst(
        self, role: FenceableManifest, data: SSTOutput, info: Any, parts: SSTParts | None
    ) -> SSTMeta:
        # One counter for both threads: ids only grow, so a flush and a compaction running
        # at once never pick the same one (Manifest: "fresh_from").
        while True:
            with self._sst_id_lock:
                sst_id = max(self._next_sst_id, role.manifest.next_sst_id)
                self._next_sst_id = sst_id + 1
            meta = self._tables.write_sst(sst_id, data, info, parts)
            if meta is not None:
                return meta

    def _flush(self, memtable: Memtable) -> None:
        role = self.role
        assert role is not None
        current = role.refresh()
        if memtable.last_wal_id > current.wal_replay_after:
            if memtable.first_wal_id > current.wal_replay_after + 1:
                raise AssertionError(
                    f"memtable of WAL {memtable.first_wal_id}..{memtable.last_wal_id} leaves a "
                    f"gap after the replay point {current.wal_replay_after}"
                )
            builder = self._tables.new_builder()
            for entry in memtable.entries():
                if entry.seq > current.last_seq:  # older ones are in SSTs already
                    builder.add(entry)
            last_wal = memtable.last_wal_id
            fence = self._view.fence_at(last_wal)  # for whoever starts from the new point
            if builder.entry_count:
                data, info = builder.finish()
                floor = current.next_sst_id  # read before the id was picked
                meta = self._write_new_sst(role, data, info, builder.parts)

                def change(m: Manifest) -> Manifest:
                    return m.with_l0_flush(
                        meta,
                        max(m.wal_replay_after, last_wal),
                        max(m.last_seq, meta.max_seq),
                        fresh_from=floor,
                    ).with_fence(fence)

                role.update(change)
                self.flushed_ssts += 1
                log.info("flushed WAL ..%d to SST %d", last_wal, meta.sst_id)
            else:  # nothing new (fences, batches that did not apply): move the point on
                role.update(
                    lambda m: m.with_replay_point(max(m.wal_replay_after, last_wal)).with_fence(
                        fence
                    )
                )
        self._view.adopt(*role.current())
        self._view.drop_frozen(memtable)  # its entries are all in SSTs now

    # -- the compaction thread -----------------------------------------------------------------

    def _compact_loop(self) -> None:
        """Run compactions while this process holds the role, woken by the flusher thread
        (after each flush and each turn) and by ``DB.compact``."""
        while True:
            with self._compact_cond:
                while not (self._closed or self._compact_wake):
                    self._compact_cond.wait()
                if self._closed:
                    return
                self._compact_wake = False
            try:
                self.compact_turn()
            except Exception as exc:  # a store error, or a bug: never let the thread die
                _log_failure("compaction", exc)
                with self._compact_cond:
                    if not self._closed:
                        self._compact_cond.wait(1.0)
                        self._compact_wake = True

    def compact_turn(self) -> None:
        """What the compaction thread does when woken (the "compact" unit of
        kvengine/background.py): the compactions the policy plans and a pending
        ``DB.compact``, while this process holds the role. Losing the role is handled here;
        store errors are raised."""
        role = self.role
        if role is None:
            return
        with self._view.cond:
            wanted = self._compact_all_handed
        try:
            self._maybe_compact(role)
            if wanted > self.compact_all_done:
                self._compact(role, CompactAllPolicy().plan(role.manifest))
                self._release_sources(role)
                with self._view.cond:
                    self.compact_all_done = max(self.compact_all_done, wanted)
                    self._view.cond.notify_all()
        except Fenced as exc:
            self._lost_role(exc, role)

    def _maybe_compact(self, role: FenceableManifest) -> None:
        """Run what the policy plans, a few compactions at most."""
        for _ in range(MAX_COMPACTIONS_PER_TURN):
            if self._closed or self.role is not role:
                return
            if not self._compact(role, self.policy.plan(role.manifest)):
                return

    def _compact(self, role: FenceableManifest, plan: CompactionPlan | None) -> bool:
        """Run ``plan`` and commit its result; False if it was abandoned (or None)."""
        if plan is None:
            return False
        # Shared mode keeps tombstones at or above the horizon: a transaction that read
        # before them may still commit, in any process, and its check must find them. Every
        # batch that will be checked against this output is in a WAL object after the replay
        # point, and one that read before that object's horizon is refused.
        manifest = role.manifest
        horizon = None if self._exclusive else manifest.txn_horizon(manifest.wal_replay_after + 1)
        new_run = self._compactor.run(
            plan,
            self._keep_seq(),
            lambda data, info, parts: self._write_new_sst(role, data, info, parts),
            drop_tombstones=plan.bottom,
            tombstone_horizon=horizon,
            progress=self.compaction_progress,
        )
        try:
            self._check_outputs_exist(role, new_run)
            role.update(lambda m: _apply_plan(plan, m, new_run))
        except _Abandoned as exc:
            self.abandoned_compactions += 1
            log.warning("compaction abandoned, its output is not referenced: %s", exc)
            return False
        self.compactions += 1
        self._view.adopt(*role.current())
        self._release_sources(role)
        return True

    def _release_sources(self, role: FenceableManifest) -> None:
        """A clone none of whose SSTs are its source's any more lets go of the source."""
        m = role.manifest
        if m.external and not m.external_sst_count() and clones.release(self._mstore, self._tables):
            role.refresh()
            self._view.adopt(*role.current())

    def _check_outputs_exist(self, role: FenceableManifest, new_run: SortedRun | None) -> None:
        """A flush that committed while the merge ran raised ``next_sst_id`` past output ids:
        from then on only their age keeps GC from collecting them (docs/design/
        0005-storage-lifecycle.md, rule 3), so make sure none is gone (one HEAD each, only
        then). ``_Abandoned`` if one is."""
        if new_run is None:
            return
        mark = role.manifest.next_sst_id
        for meta in new_run.ssts:
            if meta.sst_id < mark:
                try:
                    self._tables.store.head(sst_path(meta.sst_id))
                except ObjectNotFound as exc:
                    raise _Abandoned(f"output SST {meta.sst_id} was collected") from exc


def _apply_plan(plan: CompactionPlan, manifest: Manifest, new_run: SortedRun | None) -> Manifest:
    """The compaction's result on top of ``manifest``, the latest version (re-applied after a
    lost race): ``_Abandoned`` if a concurrent change removed one of its inputs."""
    if not plan.inputs_present(manifest):
        raise _Abandoned("an input SST or run is no longer in the manifest")
    return plan.apply(manifest, new_run)
