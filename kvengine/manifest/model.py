"""The manifest's contents: an immutable snapshot of which SSTs make up the database, how far
the WAL is covered by them, and which writer and compactor own it (docs/formats/manifest.md).

Read order is recency order: the memtables, then L0 newest first, then the sorted runs newest
first; a read takes the first version of a key it finds. Every transition keeps that true.

Invariants, checked by :meth:`Manifest.check_invariants` (and so on every decode):

1. ``writer_id`` has 16 bytes; epochs, ``wal_replay_after`` and ``last_seq`` are >= 0.
2. SST ids are >= 1, unique across L0 and every run, and below ``next_sst_id``; run ids are
   >= 1, unique, and below ``next_run_id``. An id is never handed out twice.
3. Each SST has ``first_key <= last_key``, ``0 <= min_seq <= max_seq <= last_seq``, and a
   non-negative size and entry count.
4. L0 is newest first: ``max_seq`` never increases along it.
5. A sorted run holds at least one SST; its SSTs are ordered by key and do not overlap
   (each one's ``last_key`` is below the next one's ``first_key``).
6. Checkpoints have unique, non-empty names of printable characters (at most
   ``MAX_CHECKPOINT_NAME`` of them), pin a version id >= 1, and end (if they do) after they
   were created. (``with_checkpoint`` also checks that ``wal_tail`` is not behind the
   replay point of the version that records the checkpoint, which is the one it pins.)
7. ``txn_wal_span`` is >= 0. It is set when the database is created and never changes (every
   transition carries it over), so every process validates transactions with the same span
   (the tombstone horizon, docs/design/0005-storage-lifecycle.md).
8. External roots (format version 5, clones) have unique ids >= 1 and a non-empty URL and
   checkpoint name; an SST's ``root`` is 0 (this database's ``sst/``) or one of them.
9. The fence (format version 6) is none (all zero) or a WAL id at or before the replay point
   with an epoch from 1 to ``writer_epoch`` and, if overtaken, a later id up to the replay
   point: the latest final fence at or before the replay point (docs/design/0003-shared-
   writers.md, "Exclusive mode"), so that a process starting from this version knows which
   objects after the replay point are void, and its writer whether it was fenced meanwhile.

Between consecutive versions the transitions also keep epochs, ``wal_replay_after``,
``last_seq`` and the ``next_*`` counters from going backwards (a single manifest cannot show
that, so decoding does not check it).

SST and run ids: ``next_sst_id`` and ``next_run_id`` are high-water marks, not allocators.
A process picks new ids at or above them itself (skipping an id whose create-only PUT finds an
object, e.g. one left by a crashed writer), and the transition that adds the SST or run raises
the mark past it. Ids are therefore unique without a manifest write per allocation.

A flush and a compaction of the role holder run at once (the compaction in its own thread),
so one may commit an SST id above the other's, already written, ids: the holder passes
``fresh_from``, the mark of the manifest it read *before* picking its ids, and the transition
accepts any id from there up that this manifest does not use. Why no id is ever reused: an id
at or above that mark was in no manifest when it was picked; only the holder can have added
SSTs since (a fenced holder's update fails), and the holder picks every id from one counter
that only grows, so no two of its SSTs share one; the object was created by a create-only PUT,
so it is this holder's own. GC keeps an unreferenced SST for ``gc_min_age_s`` after it is
written, which is why a flush or compaction must commit within that time.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, replace

WRITER_ID_BYTES = 16
#: As ``kvengine.wal.SEQ_BITS``: the ops of WAL object n are numbered from ``n << SEQ_BITS``.
SEQ_BITS = 24
MAX_CHECKPOINT_NAME = 200


@dataclass(frozen=True)
class Checkpoint:
    """A named point in time that garbage collection keeps: manifest version ``manifest_id``
    (its SSTs) plus WAL objects up to ``wal_tail`` (the writes acknowledged when it was taken
    that the version's SSTs do not hold yet). Times are milliseconds since the epoch;
    ``expires_ms`` None means it lasts until deleted."""

    name: str
    manifest_id: int
    wal_tail: int
    created_ms: int
    expires_ms: int | None = None

    def expired(self, now_ms: int) -> bool:
        return self.expires_ms is not None and now_ms >= self.expires_ms


@dataclass(frozen=True)
class SSTMeta:
    """One SST as the manifest knows it: id, object size, key range, entry count and the
    range of sequence numbers it holds."""

    sst_id: int
    size: int
    first_key: bytes
    last_key: bytes
    entries: int
    min_seq: int
    max_seq: int
    #: 0: this database's ``sst/``; otherwise the id of an ``ExternalRoot`` (format version 5)
    root: int = 0


@dataclass(frozen=True)
class ExternalRoot:
    """Another database whose SSTs this one (a clone) lists without copying them: its store
    URL (no credentials) and the checkpoint this database holds there, which keeps them."""

    root_id: int
    url: str
    checkpoint: str


@dataclass(frozen=True)
class SortedRun:
    """SSTs with disjoint key ranges, in key order: the output of one compaction."""

    run_id: int
    ssts: tuple[SSTMeta, ...]


@dataclass(frozen=True)
class Fence:
    """The final fence in effect at a WAL position (format version 6): the exclusive
    writer's empty WAL object ``wal_id`` (0: none), its writer epoch and writer id, and
    ``overtaken_at``, the first later object up to that position that another writer stored
    and that is not void (0: none), which fences the fence's writer."""

    wal_id: int = 0
    epoch: int = 0
    writer_id: bytes = bytes(WRITER_ID_BYTES)
    overtaken_at: int = 0

    def supersedes(self, other: Fence) -> bool:
        """Whether this is news to a holder of ``other``: a later fence in effect (an epoch
        at least ``other``'s), or ``other`` overtaken since."""
        if self.wal_id != other.wal_id:
            return self.wal_id > other.wal_id and self.epoch >= other.epoch
        return bool(self.overtaken_at) and not other.overtaken_at

    def at(self, wal_id: int) -> Fence:
        """This fence as of WAL position ``wal_id`` (not yet overtaken before that)."""
        return self if self.overtaken_at <= wal_id else replace(self, overtaken_at=0)


@dataclass(frozen=True)
class Manifest:
    """One version of the database's shape. Transitions (``with_*``) return a new manifest
    and raise ``ValueError`` when the change would break an invariant."""

    writer_epoch: int
    compactor_epoch: int
    writer_id: bytes  # the process that wrote this version (makes its bytes unique to it)
    wal_replay_after: int  # WAL ids <= this are covered by SSTs; recovery replays the rest
    last_seq: int  # the highest sequence number held in SSTs
    l0: tuple[SSTMeta, ...]  # newest first
    runs: tuple[SortedRun, ...]  # newest first
    next_sst_id: int  # every SST id in use, or ever used, is below this
    next_run_id: int  # every run id in use, or ever used, is below this
    checkpoints: tuple[Checkpoint, ...] = ()  # oldest first (format version 2)
    # A transaction batch in WAL object n whose read point is before WAL object n - span is
    # refused; 0: no limit (format versions 1 and 2). Fixed at creation (format version 3).
    txn_wal_span: int = 0
    # The databases whose SSTs a clone lists (format version 5), oldest first.
    external: tuple[ExternalRoot, ...] = ()
    # The latest final fence at or before the replay point, as of the replay point (format
    # version 6). The objects after it from an older epoch are void.
    fence: Fence = Fence()

    @classmethod
    def empty(cls, txn_wal_span: int = 0) -> Manifest:
        """The manifest of a database nobody has written yet (``txn_wal_span``: see
        :meth:`txn_horizon`)."""
        return cls(
            txn_wal_span=txn_wal_span,
            writer_epoch=0,
            compactor_epoch=0,
            writer_id=bytes(WRITER_ID_BYTES),
            wal_replay_after=0,
            last_seq=0,
            l0=(),
            runs=(),
            next_sst_id=1,
            next_run_id=1,
        )

    # -- transitions -------------------------------------------------------------------------

    def with_writer(self, epoch: int, writer_id: bytes) -> Manifest:
        """Claimed by the writer ``writer_id`` with ``epoch``, which must exceed the current
        writer epoch (every older writer is then fenced)."""
        _check_writer_id(writer_id)
        if epoch <= self.writer_epoch:
            raise ValueError(f"writer epoch {epoch} is not above {self.writer_epoch}")
        return replace(self, writer_epoch=epoch, writer_id=writer_id)._checked()

    def with_compactor(self, epoch: int, writer_id: bytes) -> Manifest:
        """Claimed by the compactor process ``writer_id`` with ``epoch``, which must exceed
        the current compactor epoch."""
        _check_writer_id(writer_id)
        if epoch <= self.compactor_epoch:
            raise ValueError(f"compactor epoch {epoch} is not above {self.compactor_epoch}")
        return replace(self, compactor_epoch=epoch, writer_id=writer_id)._checked()

    def with_l0_flush(
        self, sst: SSTMeta, wal_replay_after: int, last_seq: int, *, fresh_from: int | None = None
    ) -> Manifest:
        """``sst`` added as the newest L0 SST, with the WAL replay point and ``last_seq`` moved
        to the given values.

        ``sst`` must have a fresh id (at or above ``next_sst_id``), be no older than the newest
        L0 SST, and hold no sequence number above ``last_seq``; neither ``wal_replay_after``
        nor ``last_seq`` may go backwards. ``fresh_from``: see the module docstring (ids).
        """
        self._check_fresh((sst,), fresh_from)
        if wal_replay_after < self.wal_replay_after:
            raise ValueError(
                f"WAL replay point {wal_replay_after} is behind {self.wal_replay_after}"
            )
        if last_seq < self.last_seq:
            raise ValueError(f"last_seq {last_seq} is behind {self.last_seq}")
        if sst.max_seq > last_seq:
            raise ValueError(f"SST {sst.sst_id} holds seq {sst.max_seq}, above last_seq")
        if self.l0 and sst.max_seq < self.l0[0].max_seq:
            raise ValueError(f"SST {sst.sst_id} is older than the newest L0 SST")
        return replace(
            self,
            l0=(sst, *self.l0),
            wal_replay_after=wal_replay_after,
            last_seq=last_seq,
            next_sst_id=max(self.next_sst_id, sst.sst_id + 1),
        )._checked()

    def with_replay_point(self, wal_replay_after: int) -> Manifest:
        """The WAL replay point moved to ``wal_replay_after`` with no new SST: the WAL objects
        up to it hold nothing above ``last_seq`` (only fences, or batches that did not apply).
        It may not go backwards."""
        if wal_replay_after < self.wal_replay_after:
            raise ValueError(
                f"WAL replay point {wal_replay_after} is behind {self.wal_replay_after}"
            )
        return replace(self, wal_replay_after=wal_replay_after)._checked()

    def with_fence(self, fence: Fence) -> Manifest:
        """``fence`` recorded as the final fence in effect at the replay point, unless the
        recorded one is as recent."""
        if not fence.supersedes(self.fence):
            return self
        return replace(self, fence=fence)._checked()

    def with_compaction(
        self,
        removed_l0: frozenset[int],
        removed_runs: frozenset[int],
        new_run: SortedRun | None,
        *,
        fresh_from: int | None = None,
    ) -> Manifest:
        """The L0 SSTs ``removed_l0`` and runs ``removed_runs`` replaced by ``new_run`` (None
        when the merge left nothing, e.g. only tombstones that could be dropped).

        Placement rule, which keeps read order equal to recency order: the inputs must be
        one contiguous stretch of the recency order (L0 newest to oldest, then the runs
        newest to oldest) that leaves no L0 SST older than an input. That is: the removed L0
        SSTs are the oldest ones; the removed runs are adjacent to each other, and include
        the newest run whenever L0 SSTs are removed too. The new run takes the stretch's
        place: where the newest removed run was, or first among the runs when only L0 SSTs
        were merged.

        ``new_run`` must have a fresh run id (at or above ``next_run_id``) and fresh SST ids
        (at or above ``next_sst_id``), hold at least one SST, and keep its SSTs in key order
        without overlap (``fresh_from``: SST ids from there up that this manifest does not
        use count as fresh; see the module docstring). Raises ``ValueError`` otherwise, or if
        there are no inputs or an input is not in this manifest.
        """
        if not removed_l0 and not removed_runs:
            raise ValueError("a compaction needs at least one input")
        l0_ids = [m.sst_id for m in self.l0]
        if missing := removed_l0 - set(l0_ids):
            raise ValueError(f"L0 SSTs {sorted(missing)} are not in L0")
        if set(l0_ids[len(l0_ids) - len(removed_l0) :]) != removed_l0:
            raise ValueError("a compaction must take the oldest L0 SSTs")
        positions = [i for i, run in enumerate(self.runs) if run.run_id in removed_runs]
        if missing := removed_runs - {self.runs[i].run_id for i in positions}:
            raise ValueError(f"runs {sorted(missing)} do not exist")
        if positions and positions[-1] - positions[0] + 1 != len(positions):
            raise ValueError("the runs a compaction takes must be adjacent")
        if removed_l0 and positions and positions[0] != 0:
            raise ValueError("a compaction of L0 SSTs and runs must take the newest run")
        place = positions[0] if positions else 0
        output: tuple[SortedRun, ...] = ()
        next_sst_id, next_run_id = self.next_sst_id, self.next_run_id
        if new_run is not None:
            if new_run.run_id < self.next_run_id:
                raise ValueError(f"run id {new_run.run_id} is below next_run_id")
            if not new_run.ssts:
                raise ValueError(f"run {new_run.run_id} holds no SSTs (pass None instead)")
            self._check_fresh(new_run.ssts, fresh_from)
            _check_run_order(new_run)
            output = (new_run,)
            next_sst_id = max(next_sst_id, max(m.sst_id for m in new_run.ssts) + 1)
            next_run_id = new_run.run_id + 1
        return replace(
            self,
            l0=tuple(m for m in self.l0 if m.sst_id not in removed_l0),
            runs=(*self.runs[:place], *output, *self.runs[place + len(positions) :]),
            next_sst_id=next_sst_id,
            next_run_id=next_run_id,
        )._checked()

    def with_checkpoint(self, checkpoint: Checkpoint) -> Manifest:
        """``checkpoint`` added (last). Its name must be new, and it may not pin a version
        with data past ``wal_tail``: callers pin the version that records it (this one's id
        + 1), whose replay point is this one's."""
        if any(c.name == checkpoint.name for c in self.checkpoints):
            raise ValueError(f"a checkpoint named {checkpoint.name!r} exists")
        if checkpoint.wal_tail < self.wal_replay_after:
            raise ValueError(
                f"checkpoint WAL tail {checkpoint.wal_tail} is behind the replay point "
                f"{self.wal_replay_after}"
            )
        return replace(self, checkpoints=(*self.checkpoints, checkpoint))._checked()

    def without_checkpoints(self, names: Iterable[str]) -> Manifest:
        """The checkpoints named ``names`` removed (names not present are ignored)."""
        gone = set(names)
        return replace(
            self, checkpoints=tuple(c for c in self.checkpoints if c.name not in gone)
        )._checked()

    def with_checkpoint_copy(self, of: str, name: str, created_ms: int) -> Manifest:
        """A checkpoint ``name`` that pins what checkpoint ``of`` pins, less its WAL range
        (a clone holds its source this way: it replayed that range into an SST of its own).
        ``of`` must exist: while it does, GC has kept everything it pins."""
        source = self.checkpoint(of)
        if source is None:
            raise ValueError(f"no checkpoint named {of!r}")
        if any(c.name == name for c in self.checkpoints):
            raise ValueError(f"a checkpoint named {name!r} exists")
        copy = Checkpoint(name, source.manifest_id, 0, created_ms, None)
        return replace(self, checkpoints=(*self.checkpoints, copy))._checked()

    def without_external(self, root_id: int) -> Manifest:
        """The external root ``root_id`` dropped; no SST may still refer to it."""
        return replace(
            self, external=tuple(e for e in self.external if e.root_id != root_id)
        )._checked()

    def external_sst_count(self) -> int:
        """How many SSTs of this version live in another database."""
        return sum(1 for m in self.all_ssts() if m.root)

    def checkpoint(self, name: str) -> Checkpoint | None:
        """The checkpoint called ``name``, or None."""
        return next((c for c in self.checkpoints if c.name == name), None)

    def _check_fresh(self, ssts: tuple[SSTMeta, ...], fresh_from: int | None) -> None:
        if fresh_from is None or fresh_from >= self.next_sst_id:
            _check_new_ssts(ssts, self.next_sst_id)
            return
        _check_new_ssts(ssts, fresh_from)
        if used := {m.sst_id for m in ssts} & {m.sst_id for m in self.all_ssts()}:
            raise ValueError(f"SST ids {sorted(used)} are in use: not fresh")

    def _checked(self) -> Manifest:
        # The transitions check their own preconditions first, for clear messages; this
        # backstop makes "every transition keeps the invariants" hold by construction.
        self.check_invariants()
        return self

    # -- queries -----------------------------------------------------------------------------

    def txn_horizon(self, wal_id: int) -> int:
        """The oldest read point (a sequence number) a transaction's batch in WAL object
        ``wal_id`` may have: one that read before it is refused as too old, by every process
        alike. 0 (no limit) when ``txn_wal_span`` is 0 or ``wal_id`` is within the span of
        the start. Since the batches of later objects have later horizons, a compaction whose
        output serves only objects after ``wal_id - 1`` may drop tombstones below this."""
        return txn_horizon(self.txn_wal_span, wal_id)

    def all_ssts(self) -> tuple[SSTMeta, ...]:
        """Every SST, in read order: L0 newest first, then each run (newest first) in key
        order."""
        return (*self.l0, *(m for run in self.runs for m in run.ssts))

    def live_sst_ids(self) -> frozenset[int]:
        """Ids of every SST of this database's own ``sst/`` this version refers to; any
        other SST object there is garbage (external SSTs, of a clone's source, are not)."""
        return frozenset(m.sst_id for m in self.all_ssts() if not m.root)

    def total_bytes(self) -> int:
        """The summed size of every SST this version refers to."""
        return sum(m.size for m in self.all_ssts())

    def check_invariants(self) -> None:
        """Raise ``ValueError`` naming the first broken invariant (see the module docstring)."""
        _check_writer_id(self.writer_id)
        if (
            min(
                self.writer_epoch,
                self.compactor_epoch,
                self.wal_replay_after,
                self.last_seq,
                self.txn_wal_span,
            )
            < 0
        ):
            raise ValueError("an epoch, the WAL replay point, last_seq or txn_wal_span is negative")
        ssts = self.all_ssts()
        _check_ids("SST", [m.sst_id for m in ssts], self.next_sst_id)
        _check_ids("run", [r.run_id for r in self.runs], self.next_run_id)
        for m in ssts:
            if m.first_key > m.last_key:
                raise ValueError(f"SST {m.sst_id}: first key is above last key")
            if not 0 <= m.min_seq <= m.max_seq <= self.last_seq:
                raise ValueError(
                    f"SST {m.sst_id}: seqs {m.min_seq}..{m.max_seq} are not in "
                    f"0..last_seq ({self.last_seq})"
                )
            if m.size < 0 or m.entries < 0:
                raise ValueError(f"SST {m.sst_id}: negative size or entry count")
        for newer, older in itertools.pairwise(self.l0):
            if newer.max_seq < older.max_seq:
                raise ValueError(f"L0 SST {newer.sst_id} is listed before newer {older.sst_id}")
        for run in self.runs:
            if not run.ssts:
                raise ValueError(f"run {run.run_id} holds no SSTs")
            _check_run_order(run)
        names = [c.name for c in self.checkpoints]
        if len(names) != len(set(names)):
            raise ValueError("a checkpoint name appears twice")
        for c in self.checkpoints:
            check_checkpoint_name(c.name)
            if c.manifest_id < 1 or min(c.wal_tail, c.created_ms) < 0:
                raise ValueError(f"checkpoint {c.name!r}: bad version id, WAL tail or time")
            if c.expires_ms is not None and c.expires_ms <= c.created_ms:
                raise ValueError(f"checkpoint {c.name!r} ends before it was created")
        f = self.fence
        if f.wal_id == 0:
            if f != Fence():
                raise ValueError(f"fence {f} has no WAL id but other fields")
        elif not (
            f.wal_id <= self.wal_replay_after
            and 1 <= f.epoch <= self.writer_epoch
            and len(f.writer_id) == WRITER_ID_BYTES
            and (f.overtaken_at == 0 or f.wal_id < f.overtaken_at <= self.wal_replay_after)
        ):
            raise ValueError(
                f"fence {f} is not a WAL id up to the replay point {self.wal_replay_after} "
                f"with an epoch up to {self.writer_epoch}, a writer id and a later overtaking id"
            )
        roots = [e.root_id for e in self.external]
        if len(roots) != len(set(roots)) or any(r < 1 for r in roots):
            raise ValueError("external root ids must be unique and >= 1")
        if any(not e.url or not e.checkpoint for e in self.external):
            raise ValueError("an external root has no URL or checkpoint")
        if stray := {m.root for m in ssts if m.root} - set(roots):
            raise ValueError(f"SSTs refer to unknown external roots {sorted(stray)}")


def txn_horizon(txn_wal_span: int, wal_id: int) -> int:
    """:meth:`Manifest.txn_horizon` for a database with ``txn_wal_span``."""
    if txn_wal_span == 0 or wal_id <= txn_wal_span:
        return 0
    return (wal_id - txn_wal_span) << SEQ_BITS


def check_checkpoint_name(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` may name a checkpoint."""
    if not isinstance(name, str) or not name or len(name) > MAX_CHECKPOINT_NAME:
        raise ValueError(f"checkpoint name {name!r} is not 1..{MAX_CHECKPOINT_NAME} characters")
    if not name.isprintable():
        raise ValueError(f"checkpoint name {name!r} has unprintable characters")


def _check_writer_id(writer_id: bytes) -> None:
    if len(writer_id) != WRITER_ID_BYTES:
        raise ValueError(f"writer id has {len(writer_id)} bytes, not {WRITER_ID_BYTES}")


def _check_ids(what: str, ids: list[int], next_id: int) -> None:
    """``ids`` are unique, >= 1 and below ``next_id``."""
    if len(ids) != len(set(ids)):
        raise ValueError(f"a {what} id appears twice")
    if ids and (min(ids) < 1 or max(ids) >= next_id):
        raise ValueError(f"a {what} id is outside 1..next_{what.lower()}_id ({next_id})")


def _check_new_ssts(ssts: Iterable[SSTMeta], next_sst_id: int) -> None:
    ids = [m.sst_id for m in ssts]
    if len(ids) != len(set(ids)):
        raise ValueError("a new SST id appears twice")
    if min(ids) < next_sst_id:
        raise ValueError(f"SST id {min(ids)} is below next_sst_id ({next_sst_id}): not fresh")


def _check_run_order(run: SortedRun) -> None:
    for a, b in itertools.pairwise(run.ssts):
        if a.last_key >= b.first_key:
            raise ValueError(f"run {run.run_id}: SSTs {a.sst_id} and {b.sst_id} overlap")
