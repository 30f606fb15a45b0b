"""A connection's transaction: reads from a snapshot plus its own writes; commits them as one
atomic, durable write batch, or fails with a conflict if another transaction committed a
write to one of the same keys since this one began (first committer wins)."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import cast

from sortedcontainers import SortedDict

import kvengine

#: a pending write: the new value, or None for a delete
Pending = bytes | None
_ABSENT = object()


class Transaction:
    """Buffered writes over a snapshot. Statements take a savepoint and roll back to it when
    they fail, so a failed statement leaves the transaction's earlier writes intact."""

    def __init__(self, snapshot: kvengine.Snapshot, start_commit: int) -> None:
        self.snapshot = snapshot
        self.start_commit = start_commit
        self.writes: SortedDict = SortedDict()  # bytes -> Pending
        self._undo: list[tuple[bytes, object]] = []

    # -- reads --------------------------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        pending = self.writes.get(key, _ABSENT)
        if pending is not _ABSENT:
            return cast(Pending, pending)
        return self.snapshot.get(key)

    def scan(
        self, start: bytes | None, end: bytes | None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Live pairs in ``[start, end)``, this transaction's writes applied."""
        base = self.snapshot.scan(start, end, reverse=reverse)
        if not self.writes:
            yield from base
            return
        mine = [
            (k, self.writes[k])
            for k in self.writes.irange(start, end, inclusive=(True, False), reverse=reverse)
        ]
        if not mine:
            yield from base
            return
        # merge: for equal keys our write wins (tag 0 sorts before the snapshot's tag 1)
        tagged_mine = ((k, 0, v) for k, v in mine)
        tagged_base = ((k, 1, v) for k, v in base)
        if reverse:
            merged = heapq.merge(
                tagged_mine, tagged_base, key=lambda t: (t[0], -t[1]), reverse=True
            )
        else:
            merged = heapq.merge(tagged_mine, tagged_base, key=lambda t: (t[0], t[1]))
        last: bytes | None = None
        for key, _tag, value in merged:
            if key == last:
                continue
            last = key
            if value is not None:
                yield key, value

    # -- writes -------------------------------------------------------------------------------

    def put(self, key: bytes, value: bytes) -> None:
        self._undo.append((key, self.writes.get(key, _ABSENT)))
        self.writes[key] = value

    def delete(self, key: bytes) -> None:
        self._undo.append((key, self.writes.get(key, _ABSENT)))
        self.writes[key] = None

    def savepoint(self) -> int:
        return len(self._undo)

    def rollback_to(self, savepoint: int) -> None:
        while len(self._undo) > savepoint:
            key, previous = self._undo.pop()
            if previous is _ABSENT:
                self.writes.pop(key, None)
            else:
                self.writes[key] = previous

    def release(self) -> None:
        """Forget savepoints (the statement succeeded)."""
        self._undo.clear()

    def batch(self) -> kvengine.WriteBatch:
        batch = kvengine.WriteBatch()
        for key, value in self.writes.items():
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        return batch

    def close(self) -> None:
        self.snapshot.close()
