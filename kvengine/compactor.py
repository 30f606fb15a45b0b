"""Choosing and running compactions.

A :class:`CompactionPolicy` looks at a manifest and names the next :class:`CompactionPlan`, or
None; :class:`SizeTieredPolicy` is the one Strata uses (another policy only has to implement
``plan``). A plan's inputs are always one contiguous stretch of the recency order, as the
manifest's placement rule requires (``Manifest.with_compaction``).

Size-tiered, as in RocksDB's universal compaction:

* once ``l0_compaction_trigger`` L0 SSTs exist, all of them are merged into a new sorted run,
  the newest one;
* runs of similar size are merged: starting from some run, older adjacent runs join the window
  while each is at most ``compaction_size_ratio`` times the window's size so far; a window of
  at least ``compaction_min_merge_width`` runs is merged (the newest such window first);
* if more than ``compaction_max_runs`` runs exist anyway, the newest ones are merged until
  that many are left.

A compaction streams: each input SST is read a few data blocks at a time
(``compaction_readahead_bytes`` per ranged GET, outside the block cache), and each output SST
is cut when it reaches ``sst_target_bytes`` (a key's versions never split across two), its
blocks moved to a temporary file past ``compaction_spill_bytes`` and written create-only
from there (``put_if_absent_stream``: streamed on local disk, GCS, S3 and Azure with their
create-only preconditions, docs/object-stores.md "Streamed uploads"). Memory is therefore
about one read-ahead per input plus the spill threshold, whatever the store.

What a compaction keeps (``iterators.compact_entries``): every version a live snapshot of this
process may read (``keep_seq``), and each key's newest version. Tombstones are dropped only
when the output is the bottom of the tree (it includes the oldest run). In shared mode other
processes check their transactions' writes against each key's newest version, so only
tombstones below the tombstone horizon go: ``Manifest.txn_horizon`` of the WAL object after the
plan's replay point, the oldest read point any transaction that may still apply can have
(docs/design/0005-storage-lifecycle.md, "Tombstone horizon").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from kvengine.iterators import compact_entries, merge
from kvengine.manifest.model import Manifest, SortedRun, SSTMeta
from kvengine.options import Options
from kvengine.record import Entry
from kvengine.sst import SpooledSST, SSTBuilder, SSTInfo, SSTOutput, SSTParts
from kvengine.table_store import TableStore

log = logging.getLogger(__name__)

WriteSST = Callable[[SSTOutput, SSTInfo, SSTParts | None], SSTMeta]
#: Called after each output SST with (input bytes read so far, total input bytes).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CompactionPlan:
    """Which SSTs and runs to merge, and whether the output is the bottom of the tree."""

    l0: tuple[SSTMeta, ...]
    runs: tuple[SortedRun, ...]
    bottom: bool
    run_id: int
    #: ``next_sst_id`` of the manifest planned on: output ids are picked at or above it.
    sst_floor: int = 1

    @property
    def input_bytes(self) -> int:
        """The summed size of the input SSTs."""
        return sum(m.size for m in self.l0) + sum(m.size for r in self.runs for m in r.ssts)

    def inputs_present(self, manifest: Manifest) -> bool:
        """True if every input is still in ``manifest`` (a concurrent change may have removed
        one, and then this plan's output must be abandoned)."""
        l0_ids = {m.sst_id for m in manifest.l0}
        run_ids = {r.run_id for r in manifest.runs}
        return all(m.sst_id in l0_ids for m in self.l0) and all(
            r.run_id in run_ids for r in self.runs
        )

    def apply(self, manifest: Manifest, new_run: SortedRun | None) -> Manifest:
        """``manifest`` with the inputs replaced by ``new_run``."""
        return manifest.with_compaction(
            frozenset(m.sst_id for m in self.l0),
            frozenset(r.run_id for r in self.runs),
            new_run,
            fresh_from=self.sst_floor,
        )

    def describe(self) -> str:
        return (
            f"{len(self.l0)} L0 SSTs and {len(self.runs)} runs "
            f"({self.input_bytes / 1e6:.1f} MB{', bottom' if self.bottom else ''})"
        )


class CompactionPolicy(Protocol):
    """Chooses the next compaction for a manifest."""

    def plan(self, manifest: Manifest) -> CompactionPlan | None:
        """The compaction ``manifest`` needs now, or None."""
        ...


def _run_bytes(run: SortedRun) -> int:
    return sum(m.size for m in run.ssts)


class SizeTieredPolicy:
    """Merge L0 into a new run at ``l0_compaction_trigger`` SSTs; merge windows of runs of
    similar size (see the module docstring)."""

    def __init__(self, options: Options) -> None:
        self.options = options

    def plan(self, manifest: Manifest) -> CompactionPlan | None:
        opts = self.options
        if opts.l0_compaction_trigger == 0:
            return None
        runs = manifest.runs
        if len(manifest.l0) >= opts.l0_compaction_trigger:
            return _plan(manifest, manifest.l0, ())
        if len(runs) > opts.compaction_max_runs:
            return _plan(manifest, (), runs[: len(runs) - opts.compaction_max_runs + 1])
        sizes = [_run_bytes(r) for r in runs]
        for first in range(len(runs)):
            window = sizes[first]
            last = first + 1
            while last < len(runs) and sizes[last] <= opts.compaction_size_ratio * window:
                window += sizes[last]
                last += 1
            if last - first >= opts.compaction_min_merge_width:
                return _plan(manifest, (), runs[first:last])
        return None


class CompactAllPolicy:
    """Everything into one run: every L0 SST and every run (``DB.compact``). None when the
    database is one run of its own already (a clone's run of its source's SSTs is rewritten),
    or empty."""

    def plan(self, manifest: Manifest) -> CompactionPlan | None:
        if not manifest.l0 and len(manifest.runs) <= 1 and not manifest.external_sst_count():
            return None
        return _plan(manifest, manifest.l0, manifest.runs)


def _plan(
    manifest: Manifest, l0: tuple[SSTMeta, ...], runs: tuple[SortedRun, ...]
) -> CompactionPlan:
    bottom = not manifest.runs or (bool(runs) and runs[-1] == manifest.runs[-1])
    return CompactionPlan(
        l0, runs, bottom=bottom, run_id=manifest.next_run_id, sst_floor=manifest.next_sst_id
    )


def _write(write_sst: WriteSST, builder: SSTBuilder) -> SSTMeta:
    """Finish ``builder`` and store its SST; a spooled one's file is deleted afterwards."""
    data, info = builder.finish_output()
    try:
        return write_sst(data, info, builder.parts)
    finally:
        if isinstance(data, SpooledSST):
            data.close()


class Compactor:
    """Runs compaction plans for one database."""

    def __init__(self, tables: TableStore, options: Options) -> None:
        self.tables = tables
        self.options = options

    def _sources(self, plan: CompactionPlan, counted: list[int]) -> list[Iterable[Entry]]:
        sources: list[Iterable[Entry]] = [self._ssts((m,), counted) for m in plan.l0]
        sources.extend(self._ssts(run.ssts, counted) for run in plan.runs)
        return sources

    def _ssts(self, ssts: tuple[SSTMeta, ...], counted: list[int]) -> Iterator[Entry]:
        readahead = self.options.compaction_readahead_bytes
        for meta in ssts:
            yield from self.tables.reader(meta, keep=False).stream(readahead)
            counted[0] += meta.size

    def run(
        self,
        plan: CompactionPlan,
        keep_seq: int,
        write_sst: WriteSST,
        *,
        drop_tombstones: bool | None = None,
        tombstone_horizon: int | None = None,
        progress: Progress | None = None,
    ) -> SortedRun | None:
        """Merge the plan's inputs into SSTs of about ``sst_target_bytes`` each (a key's
        versions never split across two) and return them as a run; None if nothing is left.
        Tombstones are dropped when ``drop_tombstones`` (default: ``plan.bottom``), only
        those below ``tombstone_horizon`` if given (shared mode)."""
        started = time.monotonic()
        counted = [0]
        total = plan.input_bytes
        drop = plan.bottom if drop_tombstones is None else drop_tombstones
        entries = compact_entries(
            merge(self._sources(plan, counted)),
            keep_seq_at_or_above=keep_seq,
            drop_tombstones=drop,
            tombstone_horizon=tombstone_horizon,
        )
        target = self.options.sst_target_bytes
        outputs: list[SSTMeta] = []
        builder = self.tables.new_builder(spill=True)
        count = 0
        last_key: bytes | None = None
        for entry in entries:
            if count and entry.key != last_key and builder.estimated_bytes >= target:
                outputs.append(_write(write_sst, builder))
                builder = self.tables.new_builder(spill=True)
                count = 0
                if progress is not None:
                    progress(counted[0], total)
            builder.add(entry)
            count += 1
            last_key = entry.key
        if count:
            outputs.append(_write(write_sst, builder))
        if progress is not None:
            progress(total, total)
        elapsed = time.monotonic() - started
        log.info(
            "compacted %s into %d SSTs (%.1f MB) in %.1f s",
            plan.describe(),
            len(outputs),
            sum(m.size for m in outputs) / 1e6,
            elapsed,
        )
        return SortedRun(plan.run_id, tuple(outputs)) if outputs else None
