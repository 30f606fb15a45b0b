"""Adds a delay to each request, per kind, with seeded jitter: object-store latency for tests
and benchmarks on a fast local backend."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from kvengine.store.base import ObjectStore
from kvengine.store.wrapper import StoreWrapper

T = TypeVar("T")


class LatencyStore(StoreWrapper):
    """Sleeps ``latency_s[kind] * (1 ± jitter)`` before each request of that kind.

    Kinds missing from ``latency_s`` are not delayed. The same ``seed`` gives the same delays
    for the same sequence of requests.
    """

    def __init__(
        self,
        inner: ObjectStore,
        latency_s: Mapping[str, float],
        *,
        jitter: float = 0.1,
        seed: int = 0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(inner)
        if not 0.0 <= jitter <= 1.0:
            raise ValueError(f"jitter must be within [0, 1], got {jitter}")
        self.latency_s = dict(latency_s)
        self.jitter = jitter
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._sleep = sleep

    def around(self, kind: str, path: str | None, op: Callable[[], T], written: int) -> T:
        base = self.latency_s.get(kind, 0.0)
        if base > 0:
            with self._lock:
                factor = 1.0 + self._rng.uniform(-self.jitter, self.jitter)
            self._sleep(base * factor)
        return op()
