"""Reading across sources: merging sorted entry streams, choosing what a snapshot sees, and
choosing the versions a compaction keeps.

Streams are in record order (key ascending, then newest version first) or, where a function
takes ``reverse``, that order's exact reverse (key descending, then oldest version first).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from kvengine.record import Entry, Kind, sort_key

_PUT = Kind.PUT
_DELETE = Kind.DELETE


def merge(sources: Sequence[Iterable[Entry]], *, reverse: bool = False) -> Iterator[Entry]:
    """One stream from ``sources``, each already in record order (or, with ``reverse``, each
    in reverse record order), in the same order.

    Sources are listed newest first. The same ``(key, seq)`` should not appear in two sources;
    if it does, the entry from the earliest source is kept and the others are dropped. Each
    source is read lazily, one entry ahead.
    """
    if not sources:
        return iter(())
    if len(sources) == 1:
        return iter(sources[0])
    if reverse:
        return _drop_repeats(heapq.merge(*sources, key=sort_key, reverse=True))
    return _merge_forward(sources)


def _merge_forward(sources: Sequence[Iterable[Entry]]) -> Iterator[Entry]:
    # Heap items are lists updated in place, compared as [key, -seq, source index]; the index
    # is unique, so comparison never reaches the entry or the iterator. Values are bytes, int,
    # Entry and Iterator, hence Any.
    heap: list[list[Any]] = []
    for index, source in enumerate(sources):
        it = iter(source)
        head = next(it, None)
        if head is not None:
            heap.append([head[0], -head[1], index, head, it])
    heapq.heapify(heap)
    last_key: bytes | None = None
    last_neg_seq = 0
    while len(heap) > 1:
        top = heap[0]
        key, neg_seq = top[0], top[1]
        if neg_seq != last_neg_seq or key != last_key:  # else: a later source repeats it
            yield top[3]
            last_key, last_neg_seq = key, neg_seq
        entry = next(top[4], None)
        if entry is None:
            heapq.heappop(heap)
        else:
            top[0], top[1], top[3] = entry[0], -entry[1], entry
            heapq.heapreplace(heap, top)
    if heap:
        top = heap[0]
        if top[1] != last_neg_seq or top[0] != last_key:
            yield top[3]
        yield from top[4]


def _drop_repeats(entries: Iterator[Entry]) -> Iterator[Entry]:
    """``entries`` without an entry equal in ``(key, seq)`` to the one before it."""
    last_key: bytes | None = None
    last_seq = -1
    for entry in entries:
        if entry[1] != last_seq or entry[0] != last_key:
            last_key, last_seq = entry[0], entry[1]
            yield entry


def visible(
    entries: Iterable[Entry], snapshot_seq: int, *, reverse: bool = False
) -> Iterator[tuple[bytes, bytes]]:
    """``(key, value)`` for each key whose newest version with ``seq <= snapshot_seq`` is a
    put, in the stream's key order.

    ``entries`` is a merged stream in record order or, with ``reverse``, in reverse record
    order. A tombstone hides its key; versions newer than ``snapshot_seq`` are ignored.
    """
    if reverse:
        return _visible_reverse(entries, snapshot_seq)
    return _visible_forward(entries, snapshot_seq)


def _visible_forward(entries: Iterable[Entry], snapshot_seq: int) -> Iterator[tuple[bytes, bytes]]:
    decided: bytes | None = None  # the last key whose visible version was found
    for key, seq, kind, value in entries:
        if seq > snapshot_seq or key == decided:
            continue
        decided = key  # newest first: the first version at or below the snapshot decides
        if kind == _PUT:
            yield key, value


def _visible_reverse(entries: Iterable[Entry], snapshot_seq: int) -> Iterator[tuple[bytes, bytes]]:
    current: bytes | None = None
    best_kind: Kind | None = None  # newest version of ``current`` at or below the snapshot
    best_value = b""
    for key, seq, kind, value in entries:
        if key != current:
            if best_kind == _PUT:
                assert current is not None
                yield current, best_value
            current, best_kind = key, None
        if seq <= snapshot_seq:  # oldest first: the last such version is the newest
            best_kind, best_value = kind, value
    if best_kind == _PUT:
        assert current is not None
        yield current, best_value


def pick_newest(candidates: Iterable[Entry | None]) -> Entry | None:
    """The candidate with the highest ``seq`` (the first of equals), ignoring None; None if
    there is none. For point reads that ask each source for its newest version."""
    best: Entry | None = None
    for entry in candidates:
        if entry is not None and (best is None or entry[1] > best[1]):
            best = entry
    return best


def compact_entries(
    entries: Iterable[Entry],
    *,
    keep_seq_at_or_above: int,
    drop_tombstones: bool,
    tombstone_horizon: int | None = None,
) -> Iterator[Entry]:
    """The entries a compaction writes, from a merged stream in record order, in that order.

    Every read at a sequence number ``s >= keep_seq_at_or_above`` (the oldest live snapshot, or
    the current sequence number if there is none) sees the same data after the compaction as
    before. For each key the output holds:

    1. every version with ``seq >= keep_seq_at_or_above`` (some snapshot may read it), and
    2. the newest version with ``seq < keep_seq_at_or_above`` (what a read at
       ``keep_seq_at_or_above`` sees if nothing newer exists); older versions are dropped,
       as no read at ``s >= keep_seq_at_or_above`` can reach them.
    3. With ``drop_tombstones`` (the output is the bottom of the tree: no older version of
       any of its keys exists anywhere else), the tombstones among those versions that are
       older than every put kept for the key are dropped too: a read that stopped at one
       finds nothing older, so the key is absent either way. A tombstone newer than a kept
       put is always kept. With ``tombstone_horizon`` (shared mode), only tombstones with a
       ``seq`` below it are dropped: a transaction that may still commit read at or above the
       horizon, and its conflict check must still find a newer tombstone of a key it writes
       (docs/design/0005-storage-lifecycle.md, "Tombstone horizon").

    A repeated ``(key, seq)`` is written once.
    """
    keep = keep_seq_at_or_above
    horizon = tombstone_horizon
    current: bytes | None = None
    last_seq = -1
    kept_below = False  # rule 2 is used up for the current key
    pending: list[Entry] = []  # tombstones that rule 3 drops unless an older put follows
    for entry in entries:
        key, seq = entry[0], entry[1]
        if key != current:
            current, kept_below = key, False
            pending.clear()
        elif kept_below or seq == last_seq:
            continue
        last_seq = seq
        if seq < keep:
            kept_below = True
        if drop_tombstones and entry[2] == _DELETE and (horizon is None or seq < horizon):
            pending.append(entry)
            continue
        if pending:
            yield from pending
            pending.clear()
        yield entry
