"""What a read sees: the memtables and the manifest's SSTs at one moment, searched newest first.

A :class:`Version` is immutable; the DB swaps in a new one when a memtable is frozen or
flushed or the manifest changes, while reads in progress keep the one they started with.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kvengine.iterators import merge, visible
from kvengine.manifest.model import Manifest, SSTMeta
from kvengine.memtable import Memtable
from kvengine.record import Entry, Kind
from kvengine.sst.block import DataBlock
from kvengine.sst.bloom import key_hashes
from kvengine.sst.reader import NOT_CACHED, SSTReader
from kvengine.table_store import TableStore


@dataclass(frozen=True)
class Version:
    """The sources of data at one moment, each newer than the ones after it."""

    memtable: Memtable
    frozen: tuple[Memtable, ...]  # newest first
    manifest: Manifest

    def __post_init__(self) -> None:
        object.__setattr__(self, "_memtables", (self.memtable, *self.frozen))
        # What a point read searches, ready: each sorted run's last keys for one bisect.
        runs = tuple(([m.last_key for m in r.ssts], r.ssts) for r in self.manifest.runs)
        object.__setattr__(self, "_runs", runs)
        #: SST readers this version has used, by (root, sst id): one dict lookup, no lock
        object.__setattr__(self, "_readers", {})
        # A frozen memtable takes no more writes: its size is fixed (writers check it each time)
        object.__setattr__(self, "_frozen_bytes", sum(m.size_bytes for m in self.frozen))

    def frozen_bytes(self) -> int:
        """The bytes held by the frozen memtables (not yet flushed)."""
        frozen_bytes: int = self._frozen_bytes  # type: ignore[attr-defined]
        return frozen_bytes

    def memtables(self) -> tuple[Memtable, ...]:
        """The memtable, then the frozen ones, newest first."""
        memtables: tuple[Memtable, ...] = self._memtables  # type: ignore[attr-defined]
        return memtables


def _overlaps(meta: SSTMeta, start: bytes | None, end: bytes | None) -> bool:
    return (start is None or meta.last_key >= start) and (end is None or meta.first_key < end)


def ssts_for(version: Version, key: bytes) -> list[SSTMeta]:
    """The SSTs whose key range holds ``key``, newest first: L0, then one per sorted run."""
    found = [m for m in version.manifest.l0 if m.first_key <= key <= m.last_key]
    runs: tuple[tuple[list[bytes], tuple[SSTMeta, ...]], ...] = version._runs  # type: ignore[attr-defined]
    for last_keys, ssts in runs:
        i = bisect.bisect_left(last_keys, key)
        if i < len(ssts) and ssts[i].first_key <= key:
            found.append(ssts[i])
    return found


def _lookup(
    version: Version, tables: TableStore, key: bytes, seq: int
) -> Entry | tuple[DataBlock, int] | None:
    """Where the newest entry of ``key`` with a sequence number <= ``seq`` is: a memtable's
    entry, or an SST's block and index in it; None if there is none. Stops at the first
    source that has one (sources are newest first); every SST block already cached is
    searched before any filter is probed, and the key is hashed at most once for all."""
    for mt in version.memtables():
        entry = mt.get(key, seq)
        if entry is not None:
            return entry
    hashes: tuple[int, int] | None = None
    readers: dict[tuple[int, int], SSTReader] = version._readers  # type: ignore[attr-defined]
    for meta in ssts_for(version, key):
        if meta.min_seq > seq:
            continue
        reader = readers.get((meta.root, meta.sst_id))
        if reader is None:
            reader = readers[meta.root, meta.sst_id] = tables.reader(meta)
        found = reader.lookup_cached(key, seq)
        if found is NOT_CACHED:  # a filter probe, and maybe a GET: the key hashed once
            if hashes is None:
                hashes = key_hashes(key)
            found = reader.lookup(key, seq, hashes)
        if found is not None:
            return found
    return None


def get_entry(version: Version, tables: TableStore, key: bytes, seq: int) -> Entry | None:
    """The newest entry of ``key`` with a sequence number <= ``seq`` (a tombstone included)."""
    found = _lookup(version, tables, key, seq)
    if found is None or isinstance(found, Entry):
        return found
    block, j = found
    return block.entry(j)


def get_value(version: Version, tables: TableStore, key: bytes, seq: int) -> bytes | None:
    """The value of ``key`` as of ``seq``, or None if absent or deleted."""
    found = _lookup(version, tables, key, seq)
    if found is None:
        return None
    if isinstance(found, Entry):
        return found.value if found.kind == Kind.PUT else None
    block, j = found
    return block.values[j] if block.kinds[j] == Kind.PUT else None


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
