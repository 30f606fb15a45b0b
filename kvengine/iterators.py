"""Reading across sources: merging sorted entry streams, choosing what a snapshot sees, and
deciding which versions a compaction keeps."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence

from kvengine.record import Entry, Kind, sort_key


def merge(sources: Sequence[Iterable[Entry]], *, reverse: bool = False) -> Iterator[Entry]:
    """One stream in record order (or its reverse) from streams that each are in that order."""
    if len(sources) == 1:
        return iter(sources[0])
    return heapq.merge(*sources, key=sort_key, reverse=reverse)


def visible(
    entries: Iterable[Entry], snapshot_seq: int, *, reverse: bool = False
) -> Iterator[tuple[bytes, bytes]]:
    """``(key, value)`` for each key whose newest entry with ``seq <= snapshot_seq`` is a put.

    ``entries`` is a merged stream: in record order (newest version of a key first) or, with
    ``reverse``, its exact reverse (keys descending, oldest version first).
    """
    if reverse:
        yield from _visible_reverse(entries, snapshot_seq)
        return
    decided: bytes | None = None
    for e in entries:
        if e.key == decided or e.seq > snapshot_seq:
            continue
        decided = e.key
        if e.kind == Kind.PUT:
            yield e.key, e.value


def _visible_reverse(entries: Iterable[Entry], snapshot_seq: int) -> Iterator[tuple[bytes, bytes]]:
    current: bytes | None = None
    best: Entry | None = None
    for e in entries:
        if e.key != current:
            if best is not None and best.kind == Kind.PUT:
                yield best.key, best.value
            current, best = e.key, None
        if e.seq <= snapshot_seq:
            best = e  # versions come oldest first: the last one seen is the newest visible
    if best is not None and best.kind == Kind.PUT:
        yield best.key, best.value


def compact_entries(
    entries: Iterable[Entry], *, keep_seq_at_or_above: int, drop_tombstones: bool
) -> Iterator[Entry]:
    """The entries a compaction writes, from a merged stream in record order.

    For each key: every version with ``seq >= keep_seq_at_or_above`` (a live snapshot may read
    it), plus the newest version below that bound (what every older snapshot and the current
    state see); older versions are dropped. With ``drop_tombstones`` (the output holds the
    oldest data, so nothing older exists anywhere), that newest-below version is dropped too
    when it is a tombstone. Duplicate ``(key, seq)`` entries are written once.
    """
    key: bytes | None = None
    kept_below = False
    last_seq = -1
    for e in entries:
        if e.key != key:
            key, kept_below, last_seq = e.key, False, -1
        elif e.seq == last_seq:
            continue
        last_seq = e.seq
        if e.seq >= keep_seq_at_or_above:
            yield e
        elif not kept_below:
            kept_below = True
            if not (drop_tombstones and e.kind == Kind.DELETE):
                yield e
