"""Rebuilding the memtable from WAL objects the manifest does not cover yet.

WAL objects are replayed in id order from just after the manifest's replay point, stopping at
the first id that does not exist; entries already in SSTs (sequence number <= the manifest's
``last_seq``) are skipped. A damaged WAL object raises ``Corruption``: it is never skipped,
because acknowledged writes may be in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kvengine.memtable import Memtable
from kvengine.table_store import TableStore
from kvengine.wal import WalObject


@dataclass
class Replayed:
    """Where a replay ended: the last WAL id read, the highest sequence number seen, and
    (id, highest seq) of every WAL object read."""

    last_wal_id: int
    last_seq: int
    wal_ids: list[tuple[int, int]] = field(default_factory=list)


def apply_wal(obj: WalObject, memtable: Memtable, min_seq: int) -> int:
    """Add ``obj``'s batches with sequence numbers > ``min_seq`` to ``memtable``; returns the
    highest sequence number in ``obj`` (``min_seq`` if it has none above)."""
    top = min_seq
    for batch in obj.batches:
        last = batch.first_seq + len(batch.ops) - 1
        if last <= min_seq:
            continue
        skip = max(0, min_seq + 1 - batch.first_seq)
        memtable.add(batch.first_seq + skip, batch.ops[skip:])
        top = max(top, last)
    return top


def replay(tables: TableStore, after_wal_id: int, last_seq: int, memtable: Memtable) -> Replayed:
    """Replay every WAL object after ``after_wal_id`` into ``memtable``, skipping sequence
    numbers <= ``last_seq``."""
    result = Replayed(after_wal_id, last_seq)
    for wal_id in tables.list_wal_ids(after_wal_id):
        if wal_id != result.last_wal_id + 1:
            break  # ids are consecutive; a gap means the rest are not ours to replay
        obj = tables.read_wal(wal_id)
        if obj is None:
            break
        result.last_seq = max(result.last_seq, apply_wal(obj, memtable, result.last_seq))
        result.last_wal_id = wal_id
        result.wal_ids.append((wal_id, result.last_seq))
    return result
