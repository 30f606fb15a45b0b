"""Injects failures into requests, seeded and reproducible, to test retries and recovery.

Three kinds of fault, each with a probability per request:

* *before*: the request fails before reaching the store (no effect);
* *after*: the request reaches the store and takes effect, then the caller sees a failure
  (the ambiguous case: a timeout after the server acted);
* *stall*: the request waits ``stall_s`` and then proceeds.

Faults can also be scripted: ``fail_next(kind, after_effect=True)`` makes the next request of
that kind fail that way. Injected failures are ``StoreUnavailable`` (retryable), as a timeout or a
503 would be.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TypeVar

from kvengine.errors import StoreUnavailable
from kvengine.store.base import REQUEST_KINDS, ObjectStore
from kvengine.store.wrapper import StoreWrapper

T = TypeVar("T")


class FaultyStore(StoreWrapper):
    """An ObjectStore that fails some requests to ``inner`` on purpose."""

    def __init__(
        self,
        inner: ObjectStore,
        *,
        seed: int = 0,
        error_before: float = 0.0,
        error_after: float = 0.0,
        stall: float = 0.0,
        stall_s: float = 1.0,
        kinds: Iterable[str] = REQUEST_KINDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(inner)
        self.error_before = error_before
        self.error_after = error_after
        self.stall = stall
        self.stall_s = stall_s
        self.kinds = frozenset(kinds)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._sleep = sleep
        self._scripted: dict[str, list[bool]] = {}
        #: how many faults of each sort were injected: "before", "after", "stall"
        self.injected: Counter[str] = Counter()
        self.enabled = True

    def fail_next(self, kind: str, *, after_effect: bool = False, count: int = 1) -> None:
        """Make the next ``count`` requests of ``kind`` fail (after taking effect if asked)."""
        with self._lock:
            self._scripted.setdefault(kind, []).extend([after_effect] * count)

    def _draw(self, kind: str) -> str | None:
        with self._lock:
            scripted = self._scripted.get(kind)
            if scripted:
                return "after" if scripted.pop(0) else "before"
            if not self.enabled or kind not in self.kinds:
                return None
            r = self._rng.random()
        if r < self.error_before:
            return "before"
        if r < self.error_before + self.error_after:
            return "after"
        if r < self.error_before + self.error_after + self.stall:
            return "stall"
        return None

    def around(self, kind: str, path: str | None, op: Callable[[], T], written: int) -> T:
        fault = self._draw(kind)
        if fault is None:
            return op()
        with self._lock:
            self.injected[fault] += 1
        if fault == "before":
            raise StoreUnavailable(f"injected fault before {kind} {path!r}", path=path)
        if fault == "stall":
            self._sleep(self.stall_s)
            return op()
        op()
        raise StoreUnavailable(f"injected fault after {kind} {path!r} took effect", path=path)
