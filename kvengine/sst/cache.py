"""A byte-bounded, thread-safe LRU cache of decoded SST parts (data blocks, indexes,
filters), keyed by ``(object name, offset)``."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class BlockCache:
    """Holds decoded blocks up to ``capacity_bytes`` (their decoded size), least recently used
    out first. A capacity of 0 caches nothing. An ``OrderedDict`` (whose ``move_to_end`` is
    C code) keeps the order: a hit is on the path of every cached read."""

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self._cache: OrderedDict[tuple[str, int], tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, name: str, offset: int) -> Any | None:
        """The cached value for this block, or None.

        Takes no lock (it is on the path of every cached read): each ``OrderedDict`` call is
        one step under the GIL, and a key evicted between the lookup and ``move_to_end`` is
        simply not moved. ``hits`` and ``misses`` may miss a count under contention."""
        key = (name, offset)
        cache = self._cache
        item = cache.get(key)
        if item is None:
            self.misses += 1
            return None
        try:  # noqa: SIM105 - contextlib.suppress costs more than the hit itself
            cache.move_to_end(key)
        except KeyError:  # evicted meanwhile: the value is still good to use
            pass
        self.hits += 1
        return item[0]

    def put(self, name: str, offset: int, value: Any, size: int) -> None:
        """Cache ``value``, which takes ``size`` bytes; too large a value is not cached."""
        if size > self.capacity_bytes:
            return
        key = (name, offset)
        with self._lock:
            old = self._cache.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._cache[key] = (value, size)
            self._bytes += size
            while self._bytes > self.capacity_bytes:
                _, (_, evicted) = self._cache.popitem(last=False)
                self._bytes -= evicted
