"""The memtable: the newest writes, held in memory in record order until they are flushed to an
SST, every version tagged with its sequence number (a delete is kept as a tombstone).

Thread safety: one thread adds (the DB's write path, under its write lock) while any number of
threads get and scan. Every method holds the memtable's lock only briefly: a scan copies a
chunk of entries under the lock, yields them without it, then seeks past the last one, so it
never iterates a structure that is being changed.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice

from sortedcontainers import SortedList

from kvengine.record import MAX_SEQ, Entry, Kind

#: Memory counted per entry beyond its key and value bytes: CPython object headers, the entry
#: tuple, its sequence number and the slots that index it (measured at about 240-300 bytes on
#: 64-bit CPython 3.11). ``size_bytes`` is an estimate, not an exact figure.
ENTRY_OVERHEAD_BYTES = 256

#: Keys a scan copies per lock acquisition.
_SCAN_CHUNK_KEYS = 128


def _seq_of(entry: Entry) -> int:
    return entry.seq


class Memtable:
    """A sorted, versioned, thread-safe table of entries."""

    def __init__(self, first_wal_id: int = 1) -> None:
        self._lock = threading.Lock()
        #: The WAL objects applied to this memtable are ``first_wal_id .. last_wal_id``
        #: (the owner keeps these up to date; ``last_wal_id < first_wal_id`` while none is).
        self.first_wal_id = first_wal_id
        self.last_wal_id = first_wal_id - 1
        # Each key once, sorted: what scans walk. Comparing bytes is much cheaper than
        # comparing (key, seq) tuples, and a key with many versions is one item.
        self._keys = SortedList()
        #: keys added but not yet in ``_keys`` (scans merge them in: ``_sorted_keys``)
        self._new_keys: list[bytes] = []
        # Key -> its version (the usual case), or its versions in ascending seq order: what
        # gets look up. One version is held without a list: one object the cyclic GC tracks
        # per key rather than two (full collections walk the whole memtable).
        self._versions: dict[bytes, Entry | list[Entry]] = {}
        self._size_bytes = 0
        self._entry_count = 0
        self._min_seq: int | None = None
        self._max_seq: int | None = None

    # -- writing ---------------------------------------------------------------------------

    def add(self, first_seq: int, ops: Sequence[tuple[Kind, bytes, bytes]]) -> None:
        """Add ``(kind, key, value)`` operations; operation ``i`` becomes the version of its
        key with sequence number ``first_seq + i``.

        The operations appear together: a :meth:`get` sees all of them or none. A version
        added with a ``(key, seq)`` that is already present replaces it (replaying a WAL twice
        changes nothing). Keys and values must already be checked (``batch.check_key``).
        """
        self.add_batches(((first_seq, ops),))

    def add_batches(
        self, batches: Iterable[tuple[int, Sequence[tuple[Kind, bytes, bytes]]]]
    ) -> None:
        """:meth:`add` of each ``(first_seq, ops)``, all under one lock acquisition (a WAL
        object of many small writes is applied at once)."""
        new = tuple.__new__  # Entry(...) without the namedtuple constructor's overhead
        with self._lock:
            versions = self._versions
            get, add_key = versions.get, self._new_keys.append
            lowest, highest = self._min_seq, self._max_seq
            added_bytes = count = 0
            for first_seq, ops in batches:
                if not ops:
                    continue
                seq = first_seq
                for kind, key, value in ops:
                    entry = new(Entry, (key, seq, kind, value))
                    added_bytes += len(key) + len(value)
                    existing = get(key)
                    if existing is None:
                        versions[key] = entry
                        add_key(key)
                    else:
                        if not isinstance(existing, list):
                            existing = versions[key] = [existing]
                        if existing[-1][1] < seq:  # newer than all before: the usual case
                            existing.append(entry)
                        else:
                            added_bytes -= self._insert_older(existing, entry)
                    seq += 1
                count += seq - first_seq
                if lowest is None or first_seq < lowest:
                    lowest = first_seq
                if highest is None or seq - 1 > highest:
                    highest = seq - 1
            # _insert_older counts a replaced version out (entries and bytes) as it goes
            self._entry_count += count
            self._size_bytes += added_bytes + count * ENTRY_OVERHEAD_BYTES
            self._min_seq, self._max_seq = lowest, highest

    def _sorted_keys(self) -> SortedList:
        """Every key, sorted: the keys added since the last call are merged in first (one
        ``update`` of many keys costs much less than one ``add`` per write). Holds the lock."""
        if self._new_keys:
            self._keys.update(self._new_keys)
            self._new_keys.clear()
        return self._keys

    def _insert_older(self, existing: list[Entry], entry: Entry) -> int:
        """Put ``entry`` in seq order among ``existing``, replacing a version with the same
        seq; returns the bytes that the replaced version counted (0 if none). Holds the lock."""
        i = bisect.bisect_left(existing, entry.seq, key=_seq_of)
        if i < len(existing) and existing[i].seq == entry.seq:
            old = existing[i]
            existing[i] = entry
            self._entry_count -= 1
            return len(old.key) + len(old.value) + ENTRY_OVERHEAD_BYTES
        existing.insert(i, entry)
        return 0

    # -- reading ---------------------------------------------------------------------------

    def get(self, key: bytes, max_seq: int = MAX_SEQ) -> Entry | None:
        """The newest version of ``key`` with ``seq <= max_seq``, a tombstone included; None if
        there is none."""
        with self._lock:
            versions = self._versions.get(key)
            if versions is None:
                return None
            if not isinstance(versions, list):
                return versions if versions[1] <= max_seq else None
            newest = versions[-1]
            if newest[1] <= max_seq:
                return newest
            i = bisect.bisect_right(versions, max_seq, key=_seq_of)
            return versions[i - 1] if i else None

    def scan(
        self, start: bytes | None = None, end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[Entry]:
        """Every version of every key with ``start <= key < end`` (None: unbounded), in record
        order (key ascending, newest version first) or, with ``reverse``, its exact reverse
        (key descending, oldest version first).

        Safe while another thread adds. The versions of one key are read together; a key added
        after the scan passed its place is not returned, one added ahead of it may be.
        """
        if reverse:
            return self._scan_reverse(start, end)
        return self._scan_forward(start, end)

    def entries(self) -> Iterator[Entry]:
        """Every version in record order (what a flush writes to an SST)."""
        return self._scan_forward(None, None)

    def _scan_forward(self, start: bytes | None, end: bytes | None) -> Iterator[Entry]:
        lock, versions = self._lock, self._versions
        low, include_low = start, True
        while True:
            with lock:
                keys = self._sorted_keys()
                chunk_keys = list(
                    islice(keys.irange(low, end, (include_low, False)), _SCAN_CHUNK_KEYS)
                )
                chunk: list[Entry] = []
                for key in chunk_keys:
                    found = versions[key]
                    if not isinstance(found, list):
                        chunk.append(found)
                    elif len(found) == 1:
                        chunk.append(found[0])
                    else:
                        chunk.extend(reversed(found))
            yield from chunk
            if len(chunk_keys) < _SCAN_CHUNK_KEYS:
                return
            low, include_low = chunk_keys[-1], False

    def _scan_reverse(self, start: bytes | None, end: bytes | None) -> Iterator[Entry]:
        lock, versions = self._lock, self._versions
        high = end  # exclusive: first the scan's end, then the last key returned
        while True:
            with lock:
                keys = self._sorted_keys()
                chunk_keys = list(
                    islice(keys.irange(start, high, (True, False), reverse=True), _SCAN_CHUNK_KEYS)
                )
                chunk: list[Entry] = []
                for key in chunk_keys:
                    found = versions[key]
                    if isinstance(found, list):
                        chunk.extend(found)
                    else:
                        chunk.append(found)
            yield from chunk
            if len(chunk_keys) < _SCAN_CHUNK_KEYS:
                return
            high = chunk_keys[-1]

    # -- accounting ------------------------------------------------------------------------

    @property
    def size_bytes(self) -> int:
        """Approximate memory held: key and value bytes plus ``ENTRY_OVERHEAD_BYTES`` per
        version."""
        return self._size_bytes

    @property
    def entry_count(self) -> int:
        """Versions held, tombstones included."""
        return self._entry_count

    @property
    def min_seq(self) -> int | None:
        """The lowest sequence number added, or None while empty."""
        return self._min_seq

    @property
    def max_seq(self) -> int | None:
        """The highest sequence number added, or None while empty."""
        return self._max_seq

    @property
    def is_empty(self) -> bool:
        """True until something is added."""
        return self._entry_count == 0
