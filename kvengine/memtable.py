"""The memtable: recent writes, sorted in memory, versioned by sequence number.

Entries are kept in record order (key ascending, newest first). One thread adds (the DB's write
path, under its write lock) while any number read; scans read in chunks under a short lock and
re-seek after the last entry they returned, so they never iterate a list being changed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from sortedcontainers import SortedList

from kvengine.record import MAX_SEQ, Entry, Kind

_CHUNK = 256
#: Memory counted per entry beyond its key and value.
ENTRY_OVERHEAD_BYTES = 64


class Memtable:
    """A sorted, thread-safe table of entries."""

    def __init__(self) -> None:
        # Items are (key, -seq, kind, value): tuple order is record order.
        self._items: SortedList = SortedList()
        self._lock = threading.Lock()
        self.size_bytes = 0
        self.entry_count = 0
        self.min_seq: int | None = None
        self.max_seq: int | None = None

    @property
    def is_empty(self) -> bool:
        return self.entry_count == 0

    def add(self, first_seq: int, ops: Sequence[tuple[Kind, bytes, bytes]]) -> None:
        """Add ``ops``; operation ``i`` gets sequence number ``first_seq + i``."""
        if not ops:
            return
        items = [(key, -(first_seq + i), kind, value) for i, (kind, key, value) in enumerate(ops)]
        size = sum(len(it[0]) + len(it[3]) for it in items) + ENTRY_OVERHEAD_BYTES * len(items)
        last = first_seq + len(ops) - 1
        with self._lock:
            if len(items) == 1:
                self._items.add(items[0])
            else:
                self._items.update(items)
            self.size_bytes += size
            self.entry_count += len(items)
            if self.min_seq is None:
                self.min_seq = first_seq
            self.max_seq = last if self.max_seq is None else max(self.max_seq, last)

    def get(self, key: bytes, max_seq: int = MAX_SEQ) -> Entry | None:
        """The newest entry of ``key`` with sequence number <= ``max_seq`` (tombstones too)."""
        probe = (key, -max_seq)
        with self._lock:
            i = self._items.bisect_left(probe)
            if i == len(self._items):
                return None
            item = self._items[i]
        if item[0] != key:
            return None
        return Entry(item[0], -item[1], Kind(item[2]), item[3])

    def scan(
        self, start: bytes | None = None, end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[Entry]:
        """Every entry with ``start <= key < end`` in record order, or its exact reverse."""
        return self._scan_reverse(start, end) if reverse else self._scan_forward(start, end)

    def _scan_forward(self, start: bytes | None, end: bytes | None) -> Iterator[Entry]:
        items = self._items
        with self._lock:
            pos = 0 if start is None else items.bisect_left((start,))
        last: tuple[bytes, int, int, bytes] | None = None
        while True:
            with self._lock:
                if last is not None:
                    pos = items.bisect_right(last)
                chunk = list(items.islice(pos, pos + _CHUNK))
            for item in chunk:
                if end is not None and item[0] >= end:
                    return
                yield Entry(item[0], -item[1], Kind(item[2]), item[3])
            if len(chunk) < _CHUNK:
                return
            last = chunk[-1]

    def _scan_reverse(self, start: bytes | None, end: bytes | None) -> Iterator[Entry]:
        items = self._items
        with self._lock:
            pos = len(items) if end is None else items.bisect_left((end,))
        first: tuple[bytes, int, int, bytes] | None = None
        while True:
            with self._lock:
                if first is not None:
                    pos = items.bisect_left(first)
                lo = max(0, pos - _CHUNK)
                chunk = list(items.islice(lo, pos))
            for item in reversed(chunk):
                if start is not None and item[0] < start:
                    return
                yield Entry(item[0], -item[1], Kind(item[2]), item[3])
            if lo == 0:
                return
            first = chunk[0]

    def entries(self) -> Iterator[Entry]:
        """All entries in record order (for writing the memtable as an SST)."""
        return self._scan_forward(None, None)
