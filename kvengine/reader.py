"""A following reader: ``DB.open(url, read_only=True)`` keeps up with the writers by itself and
holds a short-lived checkpoint so that garbage collection keeps what it reads
(docs/design/0005-storage-lifecycle.md, "Readers").

Every ``reader_poll_ms`` the thread probes the next WAL id (one GET when nothing is new; new
objects are read and applied); after ``IDLE_TURNS`` polls in a row found nothing it polls
``IDLE_FACTOR`` times less often, until something new arrives (reads still probe for
themselves unless ``max_staleness_ms`` allows otherwise). A poll soon after a read's probe
makes no request. It never writes data. Its only writes are its checkpoint,
named ``reader-<16 hex>``, in the manifest: created at open, renewed (one manifest write
that adds the new one and removes the old) at half its lifetime or when the view has moved
to a manifest version the checkpoint does not pin (the view adopts newer versions only
when its memtables grow past ``l0_sst_size``, or after a long pause), and deleted at close.
A renewal pins the latest version, which the view then reads. A reader whose credentials
cannot write the manifest follows without a checkpoint (a warning, retried each minute), and
so does a reader of a database that has no manifest yet (a LIST each minute until one exists).
"""

from __future__ import annotations

import logging
import os
import threading

from kvengine import checkpoint as checkpoints
from kvengine.background import SYSTEM_CLOCK, Clock
from kvengine.errors import InvalidArgument, StrataError
from kvengine.flusher import IDLE_FACTOR, IDLE_TURNS
from kvengine.manifest.model import Checkpoint, Manifest
from kvengine.manifest.store import ManifestStore
from kvengine.options import Options
from kvengine.view import View

log = logging.getLogger(__name__)

#: A checkpoint that could not be written is tried again this much later.
RETRY_S = 60.0


class ReaderThread:
    """The polling thread of a read-only :class:`~kvengine.DB` and the checkpoint it holds."""

    def __init__(
        self,
        view: View,
        mstore: ManifestStore,
        options: Options,
        *,
        clock: Clock = SYSTEM_CLOCK,
        threaded: bool = True,
    ) -> None:
        self._view = view
        self._clock = clock
        self._threaded = threaded
        self._idle = 0  # polls in a row that found nothing new
        self._mstore = mstore
        self._poll_s = options.reader_poll_ms / 1000
        self._lifetime_s = options.reader_checkpoint_s
        self._prefix = f"reader-{os.urandom(8).hex()}"
        self._serial = 0
        #: the checkpoint this reader holds, if any
        self.held: Checkpoint | None = None
        self._renew_at = 0.0  # monotonic time of the next renewal (or retry)
        self.renewals = 0
        self._failed = False  # the last checkpoint write failed: wait for _renew_at
        self._closed = threading.Event()
        if self._lifetime_s > 0:
            self._renew()
        self._thread = threading.Thread(target=self._run, name="strata-reader", daemon=True)
        if threaded:  # else the owner calls poll() (kvengine/background.py)
            self._thread.start()

    def _run(self) -> None:
        while not self._closed.wait(
            self._poll_s * (IDLE_FACTOR if self._idle >= IDLE_TURNS else 1)
        ):
            try:
                self.poll()
            except StrataError as exc:
                log.warning("reader could not follow the database, will retry: %s", exc)
            except Exception:  # a bug: never let the thread die
                log.exception("reader could not follow the database, will retry")

    def poll(self) -> None:
        """One poll (the "poll" unit of kvengine/background.py): follow the WAL, and renew
        the checkpoint when due. Store errors are raised."""
        view = self._view
        tail = view.tail_id
        view.sync(view.clock() - self._poll_s)
        self._idle = self._idle + 1 if view.tail_id == tail else 0
        if self._due():
            self._renew()

    def _due(self) -> bool:
        if self._lifetime_s <= 0:
            return False
        if self._clock.monotonic() >= self._renew_at:
            return True
        with self._view.cond:
            manifest_id = self._view.manifest_id
        if self.held is None:  # none yet: the database had no manifest, or a write failed
            return not self._failed and manifest_id > 0
        return manifest_id != self.held.manifest_id

    def _renew(self) -> None:
        """Replace the held checkpoint by one of the latest version, and read that version."""
        view = self._view
        with view.cond:
            tail = view.tail_id
            empty = view.manifest_id == 0
        if empty and self._mstore.latest_id() is None:
            # Nothing to keep yet, and a read-only open must not create the database.
            self._renew_at = self._clock.monotonic() + min(RETRY_S, self._lifetime_s / 2)
            return
        self._serial += 1
        name = f"{self._prefix}-{self._serial}"
        old = self.held
        made: list[Checkpoint] = []
        lifetime_ms = max(1, round(self._lifetime_s * 1000))

        def change(new_id: int, m: Manifest) -> Manifest:
            created = checkpoints.now_ms()
            wal_tail = max(tail, m.wal_replay_after)
            cp = Checkpoint(name, new_id, wal_tail, created, created + lifetime_ms)
            made[:] = [cp]
            if m.checkpoint(name) is not None:
                # Only this reader makes this name: a write of it that landed was taken for
                # a lost race (a stale view's guard, ManifestStore.try_write). Try again later.
                raise InvalidArgument(f"a checkpoint named {name!r} exists")
            if old is not None:
                m = m.without_checkpoints((old.name,))
            return m.with_checkpoint(cp)

        try:
            new_id, manifest = checkpoints.update_manifest(self._mstore, change)
        except StrataError as exc:
            log.warning("reader could not write its checkpoint (retry in %ds): %s", RETRY_S, exc)
            self._failed = True
            self._renew_at = self._clock.monotonic() + min(RETRY_S, self._lifetime_s / 2)
            return
        self.held = made[0]
        self._failed = False
        self.renewals += 1
        self._renew_at = self._clock.monotonic() + self._lifetime_s / 2
        view.adopt(new_id, manifest)
        if view.manifest_id != new_id:
            # The view is behind the version's replay point and could not catch up (a
            # store error): renew again at the next poll.
            self._renew_at = 0.0

    def close(self) -> None:
        """Stop polling and delete the held checkpoint."""
        self._closed.set()
        if self._threaded:
            self._thread.join()
        held, self.held = self.held, None
        if held is None:
            return
        try:
            checkpoints.update_manifest(
                self._mstore, lambda _id, m: m.without_checkpoints((held.name,))
            )
        except StrataError as exc:
            log.warning("reader could not delete checkpoint %s (it expires): %s", held.name, exc)
