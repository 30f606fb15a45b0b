"""Counts every request by kind, with bytes moved, errors and time spent, around any ObjectStore.

Placed under the retrying store, so each attempt is counted: the counts are what the provider
bills (a LIST that the backend pages through counts once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from kvengine.store.base import REQUEST_KINDS, ObjectStore
from kvengine.store.pricing import PRICES_PER_MILLION, cost_usd
from kvengine.store.wrapper import StoreWrapper

T = TypeVar("T")


def _zeros() -> dict[str, int]:
    return dict.fromkeys(REQUEST_KINDS, 0)


def _zero_seconds() -> dict[str, float]:
    return dict.fromkeys(REQUEST_KINDS, 0.0)


@dataclass(frozen=True)
class StoreStats:
    """A snapshot of request counts. ``bytes_written``/``bytes_read`` count payloads only."""

    requests: dict[str, int] = field(default_factory=_zeros)
    errors: dict[str, int] = field(default_factory=_zeros)
    seconds: dict[str, float] = field(default_factory=_zero_seconds)
    bytes_written: int = 0
    bytes_read: int = 0

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def cost_usd(self, table: str = "gcs-standard") -> float:
        """What these requests cost under a price table of :mod:`kvengine.store.pricing`."""
        return cost_usd(self.requests, table)

    def costs_usd(self) -> dict[str, float]:
        """Cost under every known price table."""
        return {name: cost_usd(self.requests, name) for name in PRICES_PER_MILLION}

    def __sub__(self, other: StoreStats) -> StoreStats:
        return StoreStats(
            {k: self.requests[k] - other.requests[k] for k in REQUEST_KINDS},
            {k: self.errors[k] - other.errors[k] for k in REQUEST_KINDS},
            {k: self.seconds[k] - other.seconds[k] for k in REQUEST_KINDS},
            self.bytes_written - other.bytes_written,
            self.bytes_read - other.bytes_read,
        )


class InstrumentedStore(StoreWrapper):
    """An ObjectStore that counts the requests it passes to ``inner``."""

    def __init__(
        self, inner: ObjectStore, *, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        super().__init__(inner)
        self._clock = clock
        self._lock = threading.Lock()
        self._requests = _zeros()
        self._errors = _zeros()
        self._seconds = _zero_seconds()
        self._written = 0
        self._read = 0

    def stats(self) -> StoreStats:
        """The counts so far."""
        with self._lock:
            return StoreStats(
                dict(self._requests),
                dict(self._errors),
                dict(self._seconds),
                self._written,
                self._read,
            )

    def around(self, kind: str, path: str | None, op: Callable[[], T], written: int) -> T:
        t0 = self._clock()
        try:
            result = op()
        except BaseException:
            self._record(kind, t0, 0, failed=True)
            raise
        self._record(kind, t0, written, read=len(result) if isinstance(result, bytes) else 0)
        return result

    def _record(
        self, kind: str, t0: float, written: int, read: int = 0, failed: bool = False
    ) -> None:
        elapsed = self._clock() - t0
        with self._lock:
            self._requests[kind] += 1
            self._seconds[kind] += elapsed
            self._errors[kind] += failed
            self._written += written
            self._read += read
