"""The unit every engine layer passes around: one versioned write of one key.

Order is by key ascending, then sequence number descending, so the newest version of a key comes
first. A sequence number is assigned to every write when it enters the memtable; a snapshot at
sequence ``s`` sees, for each key, the newest entry with ``seq <= s``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple


class Kind(IntEnum):
    """What an entry does to its key. The values are stored in WAL and SST objects."""

    DELETE = 0
    PUT = 1


class Entry(NamedTuple):
    """One version of one key; ``value`` is ``b""`` for a delete (tombstone)."""

    key: bytes
    seq: int
    kind: Kind
    value: bytes


def sort_key(entry: Entry) -> tuple[bytes, int]:
    """The engine's total order: key ascending, then newest (highest seq) first."""
    return (entry.key, -entry.seq)


MAX_KEY_BYTES = 64 * 1024
MAX_VALUE_BYTES = 64 * 1024 * 1024
MAX_SEQ = (1 << 63) - 1


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix`` (None: no bound)."""
    stripped = bytes(prefix).rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])
