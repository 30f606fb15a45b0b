"""Manifest versions in the object store, written create-only, and fencing on top of them.

Each version is a whole manifest at ``manifest/<20-digit id>``; the next version takes the next
id with a create-only write, so of two processes updating from the same version exactly one
wins, and the other re-reads and tries again (or finds it was fenced). The latest version is
found by listing after the cached id. Nothing relies on object versioning or overwrites.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal

from kvengine.errors import Corruption, Fenced, ObjectNotFound
from kvengine.manifest.codec import decode_manifest, encode_manifest
from kvengine.manifest.model import Manifest
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


class ManifestStore:
    """Reads and writes manifest versions; knows nothing of epochs."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

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

    def read_after_conflict(self, manifest_id: int) -> tuple[int, Manifest]:
        """After losing the create of ``manifest_id + 1``: the newest version, which is at
        least that one (read directly if the listing does not show it yet)."""
        return self.read_latest(manifest_id) or (manifest_id + 1, self.read(manifest_id + 1))

    def try_write(self, manifest_id: int, manifest: Manifest) -> bool:
        """Create version ``manifest_id``; False if that id is taken already, or if a newer
        version exists: then the id was taken and garbage-collected while this process's
        view was stale, and the version just written is a stray that no one will read
        (docs/design/0005-storage-lifecycle.md). Either way the caller re-reads the latest."""
        if not self.store.put_if_absent(
            manifest_path(manifest_id), encode_manifest(manifest, manifest_id)
        ):
            return False
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
        self, mstore: ManifestStore, role: Role, manifest_id: int, manifest: Manifest, epoch: int
    ) -> None:
        self.mstore = mstore
        self.role = role
        self.epoch = epoch
        self._id = manifest_id
        self._manifest = manifest
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
        found = mstore.read_latest()
        manifest_id, manifest = found if found else (0, Manifest.empty())
        return cls(mstore, "reader", manifest_id, manifest, 0)

    @classmethod
    def claim(cls, mstore: ManifestStore, role: Role, writer_id: bytes) -> FenceableManifest:
        """Become the writer (or compactor): write a version with that epoch one higher."""
        if role == "reader":
            raise ValueError("readers claim nothing")
        found = mstore.read_latest()
        manifest_id, manifest = found if found else (0, Manifest.empty())
        while True:
            if role == "writer":
                epoch = manifest.writer_epoch + 1
                claimed = manifest.with_writer(epoch, writer_id)
            else:
                epoch = manifest.compactor_epoch + 1
                claimed = manifest.with_compactor(epoch, writer_id)
            if mstore.try_write(manifest_id + 1, claimed):
                log.info("claimed %s epoch %d with manifest %d", role, epoch, manifest_id + 1)
                return cls(mstore, role, manifest_id + 1, claimed, epoch)
            manifest_id, manifest = mstore.read_after_conflict(manifest_id)

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
            found = self.mstore.read_latest(self._id)
            if found:
                self._id, self._manifest = found
            self._check_fence(self._manifest)
            return self._manifest

    def update(self, change: Callable[[Manifest], Manifest]) -> Manifest:
        """Write ``change(latest)`` as the next version, re-reading and re-applying after a lost
        race. ``Fenced`` if a newer epoch of this role appears. Returns the written manifest."""
        if self.role == "reader":
            raise ValueError("a reader cannot update the manifest")
        with self._lock:
            while True:
                self._check_fence(self._manifest)
                new = change(self._manifest)
                if self.mstore.try_write(self._id + 1, new):
                    self._id, self._manifest = self._id + 1, new
                    return new
                self._id, self._manifest = self.mstore.read_after_conflict(self._id)
