"""Who runs an engine's background work, and on which clock.

By default the work runs on threads that wait on the system clock (docs/architecture.md):
the commit thread (``strata-commit``), the flusher (``strata-flush``), the compaction thread
(``strata-compact``), garbage collection (``strata-gc``) and a read-only open's poller
(``strata-reader``). A deterministic simulation (tests/sim) opens the engine with
``DB.open(..., clock=ManualClock(), manual=True)`` instead: no such thread is started, every
interval and timeout (the commit timer and retry backoff, the flusher's poll and takeover, a
reader's checkpoint renewal, the WAL tail's age) is read from the injected clock, and the
caller runs each unit of work when it chooses, with :meth:`Background.step`. Each thread's
loop runs the same unit functions. ``DB.flush`` and ``DB.compact`` then do their work in the
caller's thread and raise its store errors; so does a caller that waits for the commit
thread's work (a durable write, a read of this process's non-durable writes, ``flush_wal``, a
full queue, ``close``): it runs the ``"wal"`` units itself until what it waits for is done,
without waiting for the timer or a backoff (simulated time cannot pass while it waits).
Several threads may write to a manual engine; they run the units one at a time.

The units (:data:`UNITS`):

``"wal"``
    one unit of the commit thread (kvengine/committer.py, ``Committer.step``), if one is due
    by the clock: store one group (the queued writes once a durable write waits, the queue
    is full, or the oldest has waited ``flush_interval_ms``; a failed group once its retry
    backoff passed). With pipelined PUTs (exclusive mode): start one PUT, run the PUT of the
    lowest one in flight, or settle it (in id order). Nothing if nothing is due.
``"flush"``
    one turn of the flusher: the holder of the flush role syncs with the WAL and writes every
    frozen memtable as an L0 SST; another process adopts newer manifests and claims the role
    if it looks abandoned (``flusher_takeover_ms`` on the clock).
``"compact"``
    what the compaction thread does when woken: the compactions the policy plans (a few at
    most) and a pending ``DB.compact``, while this process holds the role.
``"gc"``
    one garbage-collection run, if this process holds the role (ages are judged by the
    store's clock).
``"poll"``
    a read-only open's poll: follow the WAL, renew the held checkpoint when due.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from kvengine.errors import InvalidArgument

UNITS = ("wal", "flush", "compact", "gc", "poll")


class Clock(Protocol):
    """The time the engine's intervals and timeouts are measured by."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, never decreasing."""
        ...


class SystemClock:
    """``time.monotonic``: the clock of an engine whose background work runs on threads."""

    #: the builtin itself: no extra call on the read path (``DB.get`` reads the clock)
    monotonic = staticmethod(time.monotonic)


SYSTEM_CLOCK = SystemClock()


class ManualClock:
    """A clock that moves when told to (:meth:`advance`), and by ``tick_s`` at each reading:
    no two readings are equal, as on a real clock no two events happen at the same instant
    (a read that starts after a commit returned must see a later time than the commit's).
    ``time`` gives a wall-clock reading on the same time line, from ``epoch_s`` (e.g. a
    ``MemoryStore``'s modification times, so that garbage collection's ages are simulated
    too). Thread-safe."""

    def __init__(self, epoch_s: float = 1_000_000_000.0, tick_s: float = 1e-6) -> None:
        self._now = 0.0
        self.epoch_s = epoch_s
        self.tick_s = tick_s
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            self._now += self.tick_s
            return self._now

    def time(self) -> float:
        return self.epoch_s + self.monotonic()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise InvalidArgument("a clock does not go back")
        with self._lock:
            self._now += seconds


class Background:
    """The background work of one engine: on threads, or (``manual``) run by :meth:`step`."""

    def __init__(self, manual: bool, units: dict[str, Callable[[], None]]) -> None:
        self.manual = manual
        self._units = units

    @property
    def units(self) -> tuple[str, ...]:
        """The units this engine has (a read-only open: ``flush``, ``poll``; a writer: ``wal``,
        ``flush``, ``compact`` and, with ``gc_interval_s`` > 0, ``gc``), in :data:`UNITS`
        order."""
        return tuple(u for u in UNITS if u in self._units)

    def step(self, unit: str) -> None:
        """Run one unit of work now, in this thread; its store errors are raised."""
        if not self.manual:
            raise InvalidArgument("this engine's background work runs on its own threads")
        if unit not in self._units:
            raise InvalidArgument(f"no background unit {unit!r} here (units: {self.units})")
        self._units[unit]()
