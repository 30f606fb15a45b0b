"""The manifest's contents: an immutable snapshot of the database's shape.

Invariants (checked by :meth:`Manifest.check_invariants`, and on every decode):

* epochs and ``next_*`` counters never go backwards between versions;
* every SST id is unique across L0 and all runs, and below ``next_sst_id``; every run id is
  unique and below ``next_run_id``;
* each SST's ``first_key <= last_key`` and ``min_seq <= max_seq``;
* within a sorted run, SSTs are ordered by key and do not overlap;
* L0 is newest first; sorted runs are newest first, and every L0 SST is newer than every run
  (reads search L0 then runs, taking the first version found).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class SSTMeta:
    """One SST: its id (object ``sst/<id>.sst``), size, key range, entry count, seq range."""

    sst_id: int
    size: int
    first_key: bytes
    last_key: bytes
    entries: int
    min_seq: int
    max_seq: int


@dataclass(frozen=True)
class SortedRun:
    """SSTs with disjoint key ranges, ordered by key: the output of one compaction."""

    run_id: int
    ssts: tuple[SSTMeta, ...]


@dataclass(frozen=True)
class Manifest:
    """One version of the database's shape. Transitions return new manifests."""

    writer_epoch: int
    compactor_epoch: int
    writer_id: bytes  # the process that wrote this version (makes its bytes unique)
    wal_replay_after: int  # WAL ids <= this are covered by SSTs; recovery replays the rest
    last_seq: int  # the highest sequence number in SSTs
    l0: tuple[SSTMeta, ...]  # newest first
    runs: tuple[SortedRun, ...]  # newest first
    next_sst_id: int
    next_run_id: int

    @classmethod
    def empty(cls) -> Manifest:
        """The manifest of a database nobody has written yet."""
        return cls(0, 0, b"\0" * 16, 0, 0, (), (), 1, 1)

    def with_writer(self, epoch: int, writer_id: bytes) -> Manifest:
        """This manifest claimed by a writer with ``epoch`` (greater than the current one)."""
        if epoch <= self.writer_epoch:
            raise ValueError(f"writer epoch {epoch} is not above {self.writer_epoch}")
        return replace(self, writer_epoch=epoch, writer_id=writer_id)

    def with_compactor(self, epoch: int, writer_id: bytes) -> Manifest:
        """This manifest claimed by a compactor with ``epoch`` (greater than the current one)."""
        if epoch <= self.compactor_epoch:
            raise ValueError(f"compactor epoch {epoch} is not above {self.compactor_epoch}")
        return replace(self, compactor_epoch=epoch, writer_id=writer_id)

    def with_l0_flush(self, sst: SSTMeta, wal_replay_after: int, last_seq: int) -> Manifest:
        """``sst`` added as the newest L0 SST, with the replay point and ``last_seq`` moved."""
        if sst.sst_id < self.next_sst_id:
            raise ValueError(f"SST id {sst.sst_id} was allocated before ({self.next_sst_id})")
        if wal_replay_after < self.wal_replay_after or last_seq < self.last_seq:
            raise ValueError("the WAL replay point and last_seq never go backwards")
        return replace(
            self,
            l0=(sst, *self.l0),
            wal_replay_after=wal_replay_after,
            last_seq=last_seq,
            next_sst_id=sst.sst_id + 1,
        )

    def with_compaction(
        self,
        removed_l0: frozenset[int],
        removed_runs: frozenset[int],
        new_run: SortedRun | None,
    ) -> Manifest:
        """The inputs replaced by ``new_run``. The run takes the place of the newest input run,
        or becomes the newest run when only L0 SSTs were merged; the removed L0 SSTs must be
        the oldest ones, so that everything left in L0 stays newer than every run."""
        l0_ids = [m.sst_id for m in self.l0]
        if not removed_l0 <= set(l0_ids):
            raise ValueError(f"L0 SSTs {sorted(removed_l0 - set(l0_ids))} are not in L0")
        if removed_l0 and set(l0_ids[len(l0_ids) - len(removed_l0) :]) != removed_l0:
            raise ValueError("a compaction must take the oldest L0 SSTs")
        run_ids = [r.run_id for r in self.runs]
        if not removed_runs <= set(run_ids):
            raise ValueError(f"runs {sorted(removed_runs - set(run_ids))} do not exist")
        runs = list(self.runs)
        place = next((i for i, r in enumerate(runs) if r.run_id in removed_runs), 0)
        kept = [r for r in runs if r.run_id not in removed_runs]
        place = min(place, len(kept))
        if new_run is not None:
            if new_run.run_id < self.next_run_id:
                raise ValueError(f"run id {new_run.run_id} was allocated before")
            kept.insert(place, new_run)
        top_sst = max((m.sst_id for m in new_run.ssts), default=0) if new_run else 0
        return replace(
            self,
            l0=tuple(m for m in self.l0 if m.sst_id not in removed_l0),
            runs=tuple(kept),
            next_sst_id=max(self.next_sst_id, top_sst + 1),
            next_run_id=max(self.next_run_id, new_run.run_id + 1 if new_run else 0),
        )

    def all_ssts(self) -> tuple[SSTMeta, ...]:
        return (*self.l0, *(m for run in self.runs for m in run.ssts))

    def live_sst_ids(self) -> frozenset[int]:
        """Ids of every SST this version refers to."""
        return frozenset(m.sst_id for m in self.all_ssts())

    def check_invariants(self) -> None:
        """Raise ValueError naming the first broken invariant (see the module docstring)."""
        ssts = self.all_ssts()
        ids = [m.sst_id for m in ssts]
        if len(ids) != len(set(ids)):
            raise ValueError("an SST id appears twice")
        if ids and max(ids) >= self.next_sst_id:
            raise ValueError("an SST id is not below next_sst_id")
        run_ids = [r.run_id for r in self.runs]
        if len(run_ids) != len(set(run_ids)) or (run_ids and max(run_ids) >= self.next_run_id):
            raise ValueError("run ids are not unique or not below next_run_id")
        for m in ssts:
            if m.first_key > m.last_key or m.min_seq > m.max_seq or m.size < 0:
                raise ValueError(f"SST {m.sst_id} has an inverted range")
        for run in self.runs:
            for a, b in zip(run.ssts, run.ssts[1:], strict=False):
                if a.last_key >= b.first_key:
                    raise ValueError(f"run {run.run_id}: SSTs {a.sst_id} and {b.sst_id} overlap")
        for a, b in zip(self.l0, self.l0[1:], strict=False):
            if a.max_seq < b.max_seq:
                raise ValueError("L0 is not newest first")
        if min(self.writer_epoch, self.compactor_epoch, self.wal_replay_after, self.last_seq) < 0:
            raise ValueError("negative epoch, replay point or sequence number")
