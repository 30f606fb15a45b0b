"""A byte-bounded, thread-safe LRU cache of decoded SST parts (data blocks, indexes,
filters), keyed by ``(object name, offset)``."""

from __future__ import annotations

import threading
from typing import Any

from cachetools import LRUCache


def _size(item: tuple[Any, int]) -> int:
    return item[1]


class BlockCache:
    """Holds decoded blocks up to ``capacity_bytes`` (their decoded size), least recently used
    out first. A capacity of 0 caches nothing."""

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self._cache: LRUCache[tuple[str, int], tuple[Any, int]] = LRUCache(
            maxsize=max(1, capacity_bytes), getsizeof=_size
        )
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, name: str, offset: int) -> Any | None:
        """The cached value for this block, or None."""
        with self._lock:
            item = self._cache.get((name, offset))
            if item is None:
                self.misses += 1
                return None
            self.hits += 1
            return item[0]

    def put(self, name: str, offset: int, value: Any, size: int) -> None:
        """Cache ``value``, which takes ``size`` bytes; too large a value is not cached."""
        if size > self.capacity_bytes:
            return
        with self._lock:
            self._cache[(name, offset)] = (value, size)
