"""Conflict checks for optimistic transactions: has a key, or any key in a range, been written
after a given sequence number?

Only sources that can hold such a write are read: the memtables (the WAL tail), and SSTs whose
``max_seq`` is above the sequence number, which exist only when a flush ran during the
transaction. A version dropped by a compaction is always shadowed by a newer one that is kept,
so an overwrite is never missed (docs/design/0003-shared-writers.md, "Validation").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sortedcontainers import SortedSet

from kvengine.manifest.model import SSTMeta
from kvengine.record import MAX_SEQ, Entry
from kvengine.table_store import TableStore
from kvengine.version import Version
from kvengine.wal import KeyRange, Op


def _newer_ssts(version: Version, above: int) -> list[SSTMeta]:
    return [meta for meta in version.manifest.all_ssts() if meta.max_seq > above]


def key_changed(
    version: Version,
    tables: TableStore,
    key: bytes,
    above: int,
    newer: Sequence[SSTMeta] | None = None,
) -> bool:
    """True if ``key`` has a version (a put or a delete) with a sequence number > ``above``.
    ``newer``: the SSTs of ``version`` with entries above ``above``, if already known."""
    for mt in version.memtables():
        entry = mt.get(key)
        if entry is not None:
            return entry.seq > above
    for meta in _newer_ssts(version, above) if newer is None else newer:
        if meta.first_key <= key <= meta.last_key:
            reader = tables.reader(meta)
            if reader.may_contain(key):
                entry = reader.get(key, MAX_SEQ)
                if entry is not None and entry.seq > above:
                    return True
    return False


def range_changed(
    version: Version, tables: TableStore, start: bytes, end: bytes | None, above: int
) -> bool:
    """True if some key in ``[start, end)`` (None: unbounded) has a version with a sequence
    number > ``above``."""
    sources: list[Iterable[Entry]] = [mt.scan(start, end) for mt in version.memtables()]
    for meta in _newer_ssts(version, above):
        if meta.last_key >= start and (end is None or meta.first_key < end):
            sources.append(tables.reader(meta).scan(start, end))
    return any(entry.seq > above for source in sources for entry in source)


def batch_conflict(
    version: Version,
    tables: TableStore,
    read_seq: int,
    ops: Sequence[Op],
    ranges: Sequence[KeyRange],
    written: SortedSet,
    last_seq: int | None = None,
) -> str | None:
    """Why a transaction that read at ``read_seq`` cannot apply ``ops`` (having watched
    ``ranges``): a key it writes, or a key in a range it watched, was written after
    ``read_seq`` — in ``version`` (whose newest entry is at ``last_seq``, if known), or by a
    batch before it in the same group, whose keys are in ``written``. None if it can."""
    # nothing in the version is newer than the transaction's snapshot: only the group counts
    in_version = last_seq is None or read_seq < last_seq
    newer = _newer_ssts(version, read_seq) if in_version else []
    for _, key, _ in ops:
        if key in written or (in_version and key_changed(version, tables, key, read_seq, newer)):
            return f"key {key[:40]!r} was changed by a commit after this transaction began"
    for start, end in ranges:
        if any(True for _ in written.irange(start, end, inclusive=(True, False))) or (
            in_version and range_changed(version, tables, start, end, read_seq)
        ):
            return f"a commit after this transaction began wrote in the range from {start!r}"
    return None
