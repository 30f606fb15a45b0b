"""Applying WAL objects to a memtable: how recovery, and every process following the shared
WAL, turns stored commits into readable entries.

WAL objects are applied in id order from just after the manifest's replay point (see
``view.py``); entries already in SSTs (sequence number <= the manifest's ``last_seq``) are
skipped. A damaged WAL object raises ``Corruption`` when read: it is never skipped, because
acknowledged writes may be in it.
"""

from __future__ import annotations

from kvengine.memtable import Memtable
from kvengine.wal import WalObject


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
