"""Optimistic transactions: reads from a snapshot plus the transaction's own writes; at commit,
its writes are applied atomically unless a commit after the snapshot (from any process) wrote
one of the same keys, or a key in a range the transaction watched (first committer wins).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, cast

from sortedcontainers import SortedList

from kvengine.batch import check_key, check_value
from kvengine.committer import CommitRequest
from kvengine.errors import Closed
from kvengine.record import Kind, prefix_end
from kvengine.wal import KeyRange

if TYPE_CHECKING:
    from kvengine.db import DB, Snapshot

_ABSENT = object()


class Transaction:
    """A snapshot-isolated read-write transaction; use :meth:`DB.transaction`.

    ``with db.transaction() as txn:`` commits when the block ends and rolls back if it
    raises. Reads see the snapshot taken when the transaction began plus its own writes.
    :meth:`commit` raises ``Conflict`` (retryable) if another transaction that committed after
    this one began wrote a key this one writes, or a key in a range passed to :meth:`watch`.
    Not thread-safe: use a transaction from one thread.
    """

    def __init__(self, db: DB, snapshot: Snapshot) -> None:
        self._db = db
        self._snapshot = snapshot
        self._writes: dict[bytes, bytes | None] = {}  # key -> value, or None for a delete
        # The written keys in order, for scans, kept lazily: keys written since the last scan
        # wait in _unsorted (a bulk load never sorts until it commits).
        self._sorted = SortedList()
        self._unsorted: list[bytes] = []
        self._resort = False  # a rollback removed keys: rebuild _sorted from _writes
        self._undo: list[tuple[bytes, object]] = []
        self._ranges: list[KeyRange] = []
        self._request: CommitRequest | None = None
        self._open = True

    @property
    def read_seq(self) -> int:
        """The sequence number of the snapshot this transaction reads."""
        return self._snapshot.seq

    # -- reads --------------------------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        """The value of ``key`` in this transaction, or None."""
        self._check()
        key = check_key(key)
        if key in self._writes:
            return self._writes[key]
        return self._snapshot.get(key)

    def scan(
        self, start: bytes | None = None, end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Live pairs with ``start <= key < end`` in key order (descending with ``reverse``),
        this transaction's writes applied."""
        self._check()
        base = self._snapshot.scan(start, end, reverse=reverse)
        mine = [
            (k, self._writes[k])
            for k in self._keys().irange(start, end, inclusive=(True, False), reverse=reverse)
        ]
        if not mine:
            return base
        return _overlay(mine, base, reverse)

    def scan_prefix(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Pairs whose key starts with ``prefix``."""
        return self.scan(prefix, prefix_end(prefix), reverse=reverse)

    def watch(self, start: bytes, end: bytes | None = None) -> None:
        """Make the commit fail with ``Conflict`` if a transaction that commits after this one
        began writes any key in ``[start, end)`` (``end`` None: just ``start``). For reads the
        transaction's outcome depends on, such as a uniqueness check or a schema version."""
        self._check()
        start = check_key(start)
        self._ranges.append((start, start + b"\x00" if end is None else bytes(end)))

    # -- writes -------------------------------------------------------------------------------

    def put(self, key: bytes, value: bytes) -> None:
        """Set ``key`` to ``value`` when the transaction commits."""
        self._check()
        self._set(check_key(key), check_value(value))

    def delete(self, key: bytes) -> None:
        """Remove ``key`` when the transaction commits."""
        self._check()
        self._set(check_key(key), None)

    def _set(self, key: bytes, value: bytes | None) -> None:
        previous = self._writes.get(key, _ABSENT)
        self._undo.append((key, previous))
        if previous is _ABSENT:
            self._unsorted.append(key)
        self._writes[key] = value

    def _keys(self) -> SortedList:
        """Every key written, in order."""
        if self._resort:
            self._sorted = SortedList(self._writes)
            self._unsorted.clear()
            self._resort = False
        elif self._unsorted:
            self._sorted.update(self._unsorted)
            self._unsorted.clear()
        return self._sorted

    def savepoint(self) -> int:
        """A mark to roll back to with :meth:`rollback_to`."""
        return len(self._undo)

    def rollback_to(self, savepoint: int) -> None:
        """Undo the writes made since ``savepoint`` was taken."""
        while len(self._undo) > savepoint:
            key, previous = self._undo.pop()
            if previous is _ABSENT:
                self._writes.pop(key, None)
                self._resort = True
            else:
                self._writes[key] = cast("bytes | None", previous)

    def release_savepoints(self) -> None:
        """Forget every savepoint (their writes stay)."""
        self._undo.clear()

    @property
    def has_writes(self) -> bool:
        """True if committing would write anything."""
        return bool(self._writes)

    # -- ending -------------------------------------------------------------------------------

    def commit(self, *, durable: bool = True) -> None:
        """Apply the writes atomically. Durable (the default): returns once they are stored,
        or raises ``Conflict`` if another commit won. With ``durable=False`` returns at once;
        the outcome is known later (:meth:`wait`). A read-only transaction never conflicts."""
        self._check()
        self._open = False
        try:
            if not self._writes:
                return
            writes, put, delete = self._writes, Kind.PUT, Kind.DELETE
            ops = tuple(
                (delete, k, b"") if (v := writes[k]) is None else (put, k, v) for k in self._keys()
            )
            request = CommitRequest(ops, self.read_seq, tuple(self._ranges), durable)
            self._request = self._db._submit(request)
        finally:
            self._snapshot.close()
        if durable:
            self.wait()

    def wait(self) -> None:
        """Wait until a commit is stored; raises what it raised (``Conflict`` among others)."""
        if self._request is not None:
            self._db._committer_wait(self._request)

    def rollback(self) -> None:
        """Discard the writes. Safe to call more than once."""
        if self._open:
            self._open = False
            self._snapshot.close()

    def _check(self) -> None:
        if not self._open:
            raise Closed("the transaction has ended")

    def __enter__(self) -> Transaction:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if et is None and self._open:
            self.commit()
        else:
            self.rollback()


def _overlay(
    mine: list[tuple[bytes, bytes | None]],
    base: Iterator[tuple[bytes, bytes]],
    reverse: bool,
) -> Iterator[tuple[bytes, bytes]]:
    """``base`` with ``mine`` laid over it (ours win on equal keys; None deletes)."""
    # Tag 0 sorts our write before the snapshot's (tag 1) for equal keys.
    tagged_mine = ((k, 0, v) for k, v in mine)
    tagged_base = ((k, 1, v) for k, v in base)
    if reverse:
        merged = heapq.merge(tagged_mine, tagged_base, key=lambda t: (t[0], -t[1]), reverse=True)
    else:
        merged = heapq.merge(tagged_mine, tagged_base, key=lambda t: (t[0], t[1]))
    last: bytes | None = None
    for key, _tag, value in merged:
        if key == last:
            continue
        last = key
        if value is not None:
            yield key, value
