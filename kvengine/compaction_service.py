"""A process that holds the flush-and-compaction role and keeps it (``strata compactor URL``).

It opens the database like any shared writer, claims the role at once (fencing the previous
holder) and then lets its flusher thread do the work: follow the WAL every
``flusher_poll_ms``, flush everybody's commits into L0 SSTs, compact. Writers do not take the
role back while it runs, by the ordinary takeover rule: they claim only when the manifest has
not changed for ``flusher_takeover_ms`` while they have unflushed memtables, and the compactor's
flushes keep changing it.

A second compactor fences the first: the first one's next manifest update raises ``Fenced``,
so nothing it wrote after that is ever referenced. An idle compactor may have nothing to
update, so it also reads the latest manifest every ``fence_check_s`` and stops when it sees a
newer compactor epoch.
"""

from __future__ import annotations

import logging
import threading
import time

from kvengine.db import DB
from kvengine.errors import Fenced

log = logging.getLogger(__name__)


class CompactorService:
    """The role-holding loop over an open shared :class:`DB`."""

    def __init__(self, db: DB, *, fence_check_s: float = 15.0) -> None:
        self.db = db
        self.fence_check_s = fence_check_s
        self.stop_event = threading.Event()

    def claim(self) -> int:
        """Take the role now and never claim it again once lost; returns the epoch."""
        flusher = self.db._flusher
        flusher.keep_role_only()
        view = self.db._view
        flusher.request_role()
        with view.cond:
            while flusher.role is None:
                view.check_fenced()
                view.cond.wait(0.1)
            return flusher.role.epoch

    def run(self) -> Fenced | None:
        """Hold the role until :meth:`stop` (None) or until fenced (the reason)."""
        flusher = self.db._flusher
        next_check = time.monotonic() + self.fence_check_s
        while not self.stop_event.wait(min(0.2, self.fence_check_s)):
            role = flusher.role
            if role is None:
                return flusher.lost_role or Fenced("lost the compaction role")
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + self.fence_check_s
                try:
                    role.refresh()
                except Fenced as exc:
                    return exc
        return None

    def stop(self) -> None:
        self.stop_event.set()
