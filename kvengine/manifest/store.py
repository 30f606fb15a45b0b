"""Manifest versions in the object store, written create-only, and fencing on top of them.

Each version is a whole manifest at ``manifest/<20-digit id>``; the next version takes the next
id with a create-only write, so of two processes updating from the same version exactly one
wins, and the other re-reads and tries again (or finds it was fenced). The latest version is
found by listing after the cached id. Nothing relies on object versioning or overwrites.

A create of version ``n`` that succeeds while a newer version exists is either a stray (id ``n``
was garbage-collected while this process's view was stale: the version is never read) or this
process's own create, which landed although its response was lost, and which another process
read and built on before the retry read it back. Only the first is a lost race. They are told
apart by time (docs/formats/manifest.md "Stale writes"): id ``n`` was absent when this process
last found ``n - 1`` the latest (at ``seen_at``), so another process's version ``n`` was created
after that and garbage collection deleted it only once it was ``min_age`` old; a create that
returns less than ``min_age / 2`` after ``seen_at`` was therefore first, and is ours.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal

from kvengine.background import SYSTEM_CLOCK, Clock
from kvengine.errors import Corruption, Fenced, ObjectNotFound
from kvengine.manifest.codec import decode_manifest, encode_manifest
from kvengine.manifest.model import Manifest
from kvengine.options import Options
from kvengine.store.base import ObjectStore

log = logging.getLogger(__name__)

PREFIX = "manifest/"
_ID_DIGITS = 20
Role = Literal["writer", "compactor", "reader"]


def manifest_path(manifest_id: int) -> str:
    """The object path of manifest version ``manifest_id``."""
    return f"{PREFIX}{manifest_id:0{_ID_DIGITS}d}"


def _parse_id(path: str) -> int | None:
    name = path[len(PREFIX) :]
    return int(name) if len(name) == _ID_DIGITS and name.isdigit() else None


def fresh_s(options: Options) -> float:
    """How long after finding a version the latest a process may write the next one without
    checking for newer ones: half the shortest GC minimum age (a stray needs its id created
    and garbage-collected meanwhile, and every process sets ``gc_min_age_s`` at least as
    high as the others' ``wal_gc_min_age_s``)."""
    return min(options.gc_min_age_s, options.wal_gc_min_age_s) / 2


class ManifestStore:
    """Reads and writes manifest versions; knows nothing of epochs.

    ``fresh_s``: how long after finding version ``n - 1`` the latest this process may create
    version ``n`` and count it as its own whatever newer versions exist; half the minimum age
    at which garbage collection deletes a version (``min(gc_min_age_s, wal_gc_min_age_s) /
    2`` for an engine, since every process's ``gc_min_age_s`` is at least the others'
    ``wal_gc_min_age_s``). 0: every create is checked against newer versions. ``clock``
    measures it.
    """

    def __init__(
        self, store: ObjectStore, clock: Clock = SYSTEM_CLOCK, fresh_s: float = 0.0
    ) -> None:
        self.store = store
        self.clock = clock
        self.fresh_s = fresh_s

    def fresh(self, seen_at: float | None) -> bool:
        """Whether a view found the latest at ``seen_at`` (a reading of ``clock``) is fresh
        enough to write the next version without checking for newer ones."""
        return seen_at is not None and self.clock.monotonic() - seen_at < self.fresh_s

    def latest_id(self, after: int = 0) -> int | None:
        """The highest version id greater than ``after``, or None if there is none."""
        start = manifest_path(after) if after > 0 else None
        ids = [i for o in self.store.list(PREFIX, start_after=start) if (i := _parse_id(o.path))]
        return max(ids) if ids else None

    def read(self, manifest_id: int) -> Manifest:
        """Version ``manifest_id``; ``Corruption`` if it is damaged or vanished."""
        path = manifest_path(manifest_id)
        try:
            data = self.store.get(path)
        except ObjectNotFound:
            raise Corruption(path, "manifest version listed but missing") from None
        return decode_manifest(path, data, manifest_id)

    def read_latest(self, after: int = 0) -> tuple[int, Manifest] | None:
        """The newest version after ``after`` with its id, or None if nothing newer exists."""
        latest = self.latest_id(after)
        return None if latest is None else (latest, self.read(latest))

    def read_latest_seen(self, after: int = 0) -> tuple[float, tuple[int, Manifest] | None]:
        """``read_latest(after)`` and the clock reading taken before it: no version above
        the one returned (or above ``after`` if None) had ever been created then (the latest
        version is never deleted, so the listing shows any newer one)."""
        seen_at = self.clock.monotonic()
        return seen_at, self.read_latest(after)

    def read_after_conflict(self, manifest_id: int) -> tuple[int, Manifest]:
        """After losing the create of ``manifest_id + 1``: the newest version, which is at
        least that one (read directly if the listing does not show it yet)."""
        found_id, found, _ = self.read_after_conflict_seen(manifest_id)
        return found_id, found

    def read_after_conflict_seen(self, manifest_id: int) -> tuple[int, Manifest, float | None]:
        """``read_after_conflict`` with the ``seen_at`` of ``read_latest_seen`` (None if the
        listing did not show the version: then nothing is known of newer ones)."""
        seen_at, found = self.read_latest_seen(manifest_id)
        if found is not None:
            return found[0], found[1], seen_at
        return manifest_id + 1, self.read(manifest_id + 1), None

    def try_write(self, manifest_id: int, manifest: Manifest, seen_at: float | None = None) -> bool:
        """Create version ``manifest_id``; False if that id is taken already, or if it may be
        a stray: a newer version exists and the create returned ``fresh_s`` or more after
        ``seen_at``, when this process found ``manifest_id - 1`` the latest (None: unknown).
        Then the id may have been taken and garbage-collected while this process's view was
        stale, and the version just written is a stray that no one will read
        (docs/design/0005-storage-lifecycle.md). Either way the caller re-reads the latest.
        Within ``fresh_s`` the create was first and is ours, even if its response was lost
        and another process built a newer version on it before the retry read it back."""
        if not self.store.put_if_absent(
            manifest_path(manifest_id), encode_manifest(manifest, manifest_id)
        ):
            return False
        if self.fresh(seen_at):
            return True
        if self.latest_id(manifest_id) is not None:
            log.warning("manifest %d re-created after garbage collection: stale", manifest_id)
            return False
        return True


class FenceableManifest:
    """The cached manifest of one process in one role, with that role's epoch.

    A writer (or compactor) claims its role by writing a version with a bumped epoch; from then
    on, every update re-checks that no newer epoch has appeared and raises ``Fenced`` if one has.
    Methods are thread-safe.
    """

    def __init__(
        self,
        mstore: ManifestStore,
        role: Role,
        manifest_id: int,
        manifest: Manifest,
        epoch: int,
        seen_at: float | None = None,
    ) -> None:
        self.mstore = mstore
        self.role = role
        self.epoch = epoch
        self._id = manifest_id
        self._manifest = manifest
        #: when the version held was last known to be the latest (``ManifestStore.clock``)
        self._seen_at = seen_at
        self._lock = threading.Lock()

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    @property
    def manifest_id(self) -> int:
        return self._id

    def current(self) -> tuple[int, Manifest]:
        """The id and contents of the version held, read together (another thread may be
        updating it)."""
        with self._lock:
            return self._id, self._manifest

    @classmethod
    def open_reader(cls, mstore: ManifestStore) -> FenceableManifest:
        """The latest version, for a process that never writes (an empty manifest if none)."""
        seen_at, found = mstore.read_latest_seen()
        manifest_id, manifest = found if found else (0, Manifest.empty())
        return cls(mstore, "reader", manifest_id, manifest, 0, seen_at)

    @classmethod
    def claim(cls, mstore: ManifestStore, role: Role, writer_id: bytes) -> FenceableManifest:
        """Become the writer (or compactor): write a version with that epoch one higher."""
        if role == "reader":
            raise ValueError("readers claim nothing")
        seen_at: float | None
        seen_at, found = mstore.read_latest_seen()
        manifest_id, manifest = found if found else (0, Manifest.empty())
        while True:
            if role == "writer":
                epoch = manifest.writer_epoch + 1
                claimed = manifest.with_writer(epoch, writer_id)
            else:
                epoch = manifest.compactor_epoch + 1
                claimed = manifest.with_compactor(epoch, writer_id)
            # No version above the one created had existed before the create began.
            started = mstore.clock.monotonic()
            if mstore.try_write(manifest_id + 1, claimed, seen_at):
                log.info("claimed %s epoch %d with manifest %d", role, epoch, manifest_id + 1)
                return cls(mstore, role, manifest_id + 1, claimed, epoch, started)
            manifest_id, manifest, seen_at = mstore.read_after_conflict_seen(manifest_id)

    def _stored_epoch(self, manifest: Manifest) -> int:
        return manifest.writer_epoch if self.role == "writer" else manifest.compactor_epoch

    def _check_fence(self, manifest: Manifest) -> None:
        if self.role != "reader" and self._stored_epoch(manifest) > self.epoch:
            raise Fenced(
                f"fenced: this {self.role} has epoch {self.epoch} but the manifest has "
                f"{self._stored_epoch(manifest)}; a newer {self.role} took over"
            )

    def refresh(self) -> Manifest:
        """Load any newer version; ``Fenced`` if it carries a newer epoch of this role."""
        with self._lock:
            self._refresh_locked()
            self._check_fence(self._manifest)
            return self._manifest

    def _refresh_locked(self) -> None:
        seen_at, found = self.mstore.read_latest_seen(self._id)
        if found:
            self._id, self._manifest = found
        self._seen_at = seen_at

    def update(self, change: Callable[[Manifest], Manifest]) -> Manifest:
        """Write ``change(latest)`` as the next version, re-reading and re-applying after a lost
        race. ``Fenced`` if a newer epoch of this role appears. Returns the written manifest."""
        if self.role == "reader":
            raise ValueError("a reader cannot update the manifest")
        with self._lock:
            if not self.mstore.fresh(self._seen_at):
                # A stale view would race for ids that may have been garbage-collected, and
                # could not tell its own create from a stray: read the latest first.
                self._refresh_locked()
            while True:
                self._check_fence(self._manifest)
                new = change(self._manifest)
                started = self.mstore.clock.monotonic()
                if self.mstore.try_write(self._id + 1, new, self._seen_at):
                    self._id, self._manifest, self._seen_at = self._id + 1, new, started
                    return new
                self._id, self._manifest, self._seen_at = self.mstore.read_after_conflict_seen(
                    self._id
                )
