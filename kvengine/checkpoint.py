"""Checkpoints: named points in time recorded in the manifest, which garbage collection keeps
and ``DB.open(url, checkpoint=NAME)`` opens read-only (docs/design/0005-storage-lifecycle.md).

A checkpoint pins the manifest version that records it (its SSTs) and the WAL objects from
that version's replay point up to ``wal_tail``: the writes acknowledged when it was taken that
no SST holds yet. Taking one therefore costs one manifest write and no flush, and a
long-lived checkpoint keeps only its own WAL range, not every WAL object after it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

from kvengine.errors import CheckpointUnavailable, InvalidArgument
from kvengine.manifest.model import Checkpoint, Manifest, check_checkpoint_name
from kvengine.manifest.store import ManifestStore

__all__ = ["Checkpoint", "create", "delete", "find", "listed", "update_manifest"]


def now_ms() -> int:
    return int(time.time() * 1000)


def update_manifest(
    mstore: ManifestStore, change: Callable[[int, Manifest], Manifest]
) -> tuple[int, Manifest]:
    """Write ``change(new_id, latest)`` as version ``new_id`` (the latest id + 1), re-reading
    and re-applying after a lost race; any process may do this (the flush-and-compaction
    holder re-applies its own changes on top). Returns the id and manifest written."""
    seen_at: float | None
    seen_at, found = mstore.read_latest_seen()
    manifest_id, manifest = found if found else (0, Manifest.empty())
    while True:
        new = change(manifest_id + 1, manifest)
        if mstore.try_write(manifest_id + 1, new, seen_at):
            return manifest_id + 1, new
        manifest_id, manifest, seen_at = mstore.read_after_conflict_seen(manifest_id)


def default_name(at_ms: int) -> str:
    """A name for an unnamed checkpoint: its UTC time and 4 random hex digits."""
    stamp = datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{os.urandom(2).hex()}"


def create(
    mstore: ManifestStore, wal_tail: int, name: str | None, lifetime_s: float | None
) -> Checkpoint:
    """Record a checkpoint of the latest manifest plus WAL objects up to ``wal_tail`` (every
    write acknowledged before the caller's call); ``lifetime_s`` None: until deleted."""
    if lifetime_s is not None and not lifetime_s > 0:
        raise InvalidArgument(f"a checkpoint lifetime must be positive, got {lifetime_s}")
    created = now_ms()
    name = default_name(created) if name is None else name
    try:
        check_checkpoint_name(name)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    expires = None if lifetime_s is None else created + max(1, round(lifetime_s * 1000))
    made: list[Checkpoint] = []

    def change(new_id: int, m: Manifest) -> Manifest:
        if m.checkpoint(name) is not None:
            raise InvalidArgument(f"a checkpoint named {name!r} exists")
        # Pin the version being written: it has m's SSTs and replay point. A replay point
        # past wal_tail (a flush landed meanwhile) only makes the point a little later.
        cp = Checkpoint(name, new_id, max(wal_tail, m.wal_replay_after), created, expires)
        made[:] = [cp]
        return m.with_checkpoint(cp)

    update_manifest(mstore, change)
    return made[0]


def delete(mstore: ManifestStore, name: str) -> None:
    """Remove the checkpoint ``name``; ``CheckpointUnavailable`` if there is none."""

    def change(new_id: int, m: Manifest) -> Manifest:
        if m.checkpoint(name) is None:
            raise CheckpointUnavailable(name, "no checkpoint has this name")
        return m.without_checkpoints((name,))

    update_manifest(mstore, change)


def listed(mstore: ManifestStore) -> tuple[Checkpoint, ...]:
    """The checkpoints of the latest manifest, oldest first (expired ones included until
    garbage collection drops them)."""
    found = mstore.read_latest()
    return found[1].checkpoints if found else ()


def find(mstore: ManifestStore, name: str) -> Checkpoint:
    """The live checkpoint ``name``; ``CheckpointUnavailable`` if it is absent or expired."""
    found = mstore.read_latest()
    cp = found[1].checkpoint(name) if found else None
    if cp is None:
        raise CheckpointUnavailable(name, "no checkpoint has this name (deleted, or never made)")
    if cp.expired(now_ms()):
        when = datetime.fromtimestamp((cp.expires_ms or 0) / 1000, UTC).isoformat()
        raise CheckpointUnavailable(name, f"it expired at {when}")
    return cp
