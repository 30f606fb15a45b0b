"""Choosing and running compactions: merging L0 SSTs (and, when there are too many, the
sorted runs) into one new sorted run.

The policy is size-tiered and simple: once ``l0_compaction_trigger`` L0 SSTs exist, all of them
are merged into a new run; if that would leave more than ``MAX_RUNS`` runs, every run joins the
merge too, which then holds the oldest data and may drop tombstones. Versions that a live
snapshot may read are kept (``iterators.compact_entries``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from kvengine.iterators import compact_entries, merge
from kvengine.manifest.model import Manifest, SortedRun, SSTMeta
from kvengine.options import Options
from kvengine.record import Entry
from kvengine.sst import SSTInfo
from kvengine.table_store import TableStore

#: Sorted runs kept before a compaction merges them all.
MAX_RUNS = 4

WriteSST = Callable[[bytes, SSTInfo], SSTMeta]


@dataclass(frozen=True)
class CompactionPlan:
    """Which SSTs and runs to merge, and whether the output is the bottom of the tree."""

    l0: tuple[SSTMeta, ...]
    runs: tuple[SortedRun, ...]
    bottom: bool
    run_id: int

    def apply(self, manifest: Manifest, new_run: SortedRun | None) -> Manifest:
        """``manifest`` with the inputs replaced by ``new_run``."""
        return manifest.with_compaction(
            frozenset(m.sst_id for m in self.l0),
            frozenset(r.run_id for r in self.runs),
            new_run,
        )


class Compactor:
    """Plans and runs compactions for one database."""

    def __init__(self, tables: TableStore, options: Options) -> None:
        self.tables = tables
        self.options = options

    def plan(self, manifest: Manifest) -> CompactionPlan | None:
        """The compaction ``manifest`` needs now, or None."""
        trigger = self.options.l0_compaction_trigger
        if trigger == 0 or len(manifest.l0) < trigger:
            return None
        runs = manifest.runs if len(manifest.runs) + 1 > MAX_RUNS else ()
        return CompactionPlan(
            manifest.l0, runs, bottom=len(runs) == len(manifest.runs), run_id=manifest.next_run_id
        )

    def _sources(self, plan: CompactionPlan) -> list[Iterable[Entry]]:
        sources: list[Iterable[Entry]] = [self.tables.reader(m).scan() for m in plan.l0]
        for run in plan.runs:
            sources.append(self._run_entries(run))
        return sources

    def _run_entries(self, run: SortedRun) -> Iterator[Entry]:
        for meta in run.ssts:
            yield from self.tables.reader(meta).scan()

    def run(self, plan: CompactionPlan, keep_seq: int, write_sst: WriteSST) -> SortedRun | None:
        """Merge the plan's inputs into SSTs of about ``sst_target_bytes`` each (a key's
        versions never split across two) and return them as a run; None if nothing is left."""
        entries = compact_entries(
            merge(self._sources(plan)), keep_seq_at_or_above=keep_seq, drop_tombstones=plan.bottom
        )
        target = self.options.sst_target_bytes
        outputs: list[SSTMeta] = []
        builder = self.tables.new_builder()
        count = 0
        last_key: bytes | None = None
        for entry in entries:
            if count and entry.key != last_key and builder.estimated_bytes >= target:
                outputs.append(write_sst(*builder.finish()))
                builder = self.tables.new_builder()
                count = 0
            builder.add(entry)
            count += 1
            last_key = entry.key
        if count:
            outputs.append(write_sst(*builder.finish()))
        return SortedRun(plan.run_id, tuple(outputs)) if outputs else None
