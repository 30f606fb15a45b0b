"""What a read sees: the memtables and the manifest's SSTs at one moment, searched newest first.

A :class:`Version` is immutable; the DB swaps in a new one when a memtable is frozen or
flushed or the manifest changes, while reads in progress keep the one they started with.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kvengine.iterators import merge, visible
from kvengine.manifest.model import Manifest, SortedRun, SSTMeta
from kvengine.memtable import Memtable
from kvengine.record import Entry, Kind
from kvengine.table_store import TableStore


@dataclass(frozen=True)
class Version:
    """The sources of data at one moment, each newer than the ones after it."""

    memtable: Memtable
    frozen: tuple[Memtable, ...]  # newest first
    manifest: Manifest

    def __post_init__(self) -> None:
        object.__setattr__(self, "_memtables", (self.memtable, *self.frozen))

    def memtables(self) -> tuple[Memtable, ...]:
        """The memtable, then the frozen ones, newest first."""
        memtables: tuple[Memtable, ...] = self._memtables  # type: ignore[attr-defined]
        return memtables


def _overlaps(meta: SSTMeta, start: bytes | None, end: bytes | None) -> bool:
    return (start is None or meta.last_key >= start) and (end is None or meta.first_key < end)


def _find_in_run(run: SortedRun, key: bytes) -> SSTMeta | None:
    ssts = run.ssts
    i = bisect.bisect_left(ssts, key, key=lambda m: m.last_key)
    if i < len(ssts) and ssts[i].first_key <= key:
        return ssts[i]
    return None


def get_entry(version: Version, tables: TableStore, key: bytes, seq: int) -> Entry | None:
    """The newest entry of ``key`` with a sequence number <= ``seq`` (a tombstone included)."""
    for mt in version.memtables():
        entry = mt.get(key, seq)
        if entry is not None:
            return entry
    candidates: list[SSTMeta] = [m for m in version.manifest.l0 if m.first_key <= key <= m.last_key]
    for run in version.manifest.runs:
        found = _find_in_run(run, key)
        if found is not None:
            candidates.append(found)
    for meta in candidates:
        if meta.min_seq > seq:
            continue
        entry = tables.reader(meta).get(key, seq)  # probes the filter first
        if entry is not None:
            return entry
    return None


def get_value(version: Version, tables: TableStore, key: bytes, seq: int) -> bytes | None:
    """The value of ``key`` as of ``seq``, or None if absent or deleted."""
    entry = get_entry(version, tables, key, seq)
    return entry.value if entry is not None and entry.kind == Kind.PUT else None


def _sst_scan(
    tables: TableStore,
    metas: Iterable[SSTMeta],
    start: bytes | None,
    end: bytes | None,
    reverse: bool,
) -> Iterator[Entry]:
    """Entries of SSTs that do not overlap each other, read one SST after another."""
    for meta in metas:
        yield from tables.reader(meta).scan(start, end, reverse=reverse)


def scan(
    version: Version,
    tables: TableStore,
    start: bytes | None,
    end: bytes | None,
    seq: int,
    *,
    reverse: bool = False,
) -> Iterator[tuple[bytes, bytes]]:
    """Live ``(key, value)`` pairs with ``start <= key < end`` as of ``seq``, in key order."""
    sources: list[Iterable[Entry]] = [
        mt.scan(start, end, reverse=reverse) for mt in version.memtables()
    ]
    for meta in version.manifest.l0:
        if _overlaps(meta, start, end) and meta.min_seq <= seq:
            sources.append(_sst_scan(tables, [meta], start, end, reverse))
    for run in version.manifest.runs:
        metas = [m for m in run.ssts if _overlaps(m, start, end)]
        if metas:
            ordered = list(reversed(metas)) if reverse else metas
            sources.append(_sst_scan(tables, ordered, start, end, reverse))
    return visible(merge(sources, reverse=reverse), seq, reverse=reverse)
