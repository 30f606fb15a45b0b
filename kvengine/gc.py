"""Garbage collection: deleting SST, WAL and manifest-version objects that nothing kept can
read (docs/design/0005-storage-lifecycle.md).

Kept manifest versions: the latest; every version superseded less than ``min_age_s`` ago (a
slow reader may still read it); every version a checkpoint pins, until ``min_age_s`` after the
checkpoint was deleted or expired. Then an object is garbage when it is older than
``min_age_s`` and:

* an SST that no kept version lists, with an id below the latest ``next_sst_id`` (higher ids
  may belong to a flush or compaction not yet committed);
* a WAL object at or below the replay point of the latest version and of every version kept
  for readers, and outside every checkpoint's WAL range (0003, invariant 5);
* a manifest version that is not kept.

Ages are judged by the store's clock: a run first writes ``gc/clock`` and reads its
modification time back, so the clock of the process running GC does not matter.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from kvengine.checkpoint import update_manifest
from kvengine.errors import StrataError
from kvengine.manifest.model import Manifest
from kvengine.manifest.store import PREFIX as MANIFEST_PREFIX
from kvengine.manifest.store import ManifestStore
from kvengine.store.base import ObjectInfo, ObjectStore
from kvengine.store.pricing import storage_cost_usd_per_month
from kvengine.table_store import SST_PREFIX, WAL_PREFIX

log = logging.getLogger(__name__)

CLOCK_PATH = "gc/clock"
#: Deletes sent at once (the stores have no batch delete in the narrow interface).
DELETE_THREADS = 16
KINDS = ("sst", "wal", "manifest")


@dataclass
class GcReport:
    """What one run deleted (or, dry, would delete), by kind."""

    dry_run: bool
    min_age_s: float
    deleted: dict[str, list[ObjectInfo]] = field(default_factory=lambda: {k: [] for k in KINDS})
    kept_versions: tuple[int, ...] = ()
    objects_before: int = 0
    bytes_before: int = 0

    def count(self, kind: str) -> int:
        return len(self.deleted[kind])

    def bytes(self, kind: str) -> int:
        return sum(o.size for o in self.deleted[kind])

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes(k) for k in KINDS)

    @property
    def total_count(self) -> int:
        return sum(self.count(k) for k in KINDS)

    def monthly_savings_usd(self, table: str = "gcs-standard") -> float:
        return storage_cost_usd_per_month(self.total_bytes, table)


def _ids(objects: Iterable[ObjectInfo], prefix: str, suffix: str = "") -> dict[int, ObjectInfo]:
    out = {}
    for o in objects:
        name = o.path[len(prefix) :]
        if suffix and name.endswith(suffix):
            name = name[: -len(suffix)]
        if len(name) == 20 and name.isdigit():
            out[int(name)] = o
    return out


class GarbageCollector:
    """Collects one database's garbage; keeps decoded manifest versions between runs (they
    never change). Not thread-safe: one run at a time."""

    def __init__(self, store: ObjectStore, *, min_age_s: float) -> None:
        self.store = store
        self.mstore = ManifestStore(store)
        self.min_age_s = min_age_s
        self._manifests: dict[int, Manifest] = {}

    def _manifest(self, manifest_id: int) -> Manifest:
        m = self._manifests.get(manifest_id)
        if m is None:
            m = self._manifests[manifest_id] = self.mstore.read(manifest_id)
        return m

    def store_now(self, dry_run: bool) -> float:
        """The store's clock now (seconds since the epoch), read by writing ``gc/clock``; a
        dry run writes nothing and uses this process's clock."""
        if not dry_run:
            self.store.put(CLOCK_PATH, b"")
            for o in self.store.list(CLOCK_PATH):
                if o.path == CLOCK_PATH and o.mtime is not None:
                    return o.mtime
        return time.time()

    def run(self, *, dry_run: bool = False) -> GcReport:
        """Find the garbage and delete it (unless ``dry_run``); return what it was."""
        report = GcReport(dry_run, self.min_age_s)
        now = self.store_now(dry_run)
        horizon = now - self.min_age_s  # objects written at or before this are old enough

        def old(o: ObjectInfo) -> bool:
            return o.mtime is not None and o.mtime <= horizon

        versions = _ids(self.store.list(MANIFEST_PREFIX), MANIFEST_PREFIX)
        if not versions:
            return report
        latest_id = max(versions)
        latest = self._manifest(latest_id)
        ssts = _ids(self.store.list(SST_PREFIX), SST_PREFIX, ".sst")
        wals = _ids(self.store.list(WAL_PREFIX), WAL_PREFIX)
        everything = [*versions.values(), *ssts.values(), *wals.values()]
        report.objects_before = len(everything)
        report.bytes_before = sum(o.size for o in everything)

        # Versions readers may hold: the latest, and any superseded within min age.
        ordered = sorted(versions)
        followed = {latest_id}
        for older, newer in itertools.pairwise(ordered):
            if not old(versions[newer]):
                followed.add(older)
        # Checkpoints: those of every followed version (a deleted or expired one still
        # protects its objects for min age, for readers that opened it before).
        grace_ms = (now - self.min_age_s) * 1000
        wal_ranges: list[tuple[int, int]] = []
        pinned: set[int] = set()
        for vid in sorted(followed):
            for cp in self._manifest(vid).checkpoints:
                if cp.expires_ms is not None and cp.expires_ms <= grace_ms:
                    continue
                if cp.manifest_id not in versions:
                    log.warning("checkpoint %r pins missing version %d", cp.name, cp.manifest_id)
                    continue
                pinned.add(cp.manifest_id)
                replay = self._manifest(cp.manifest_id).wal_replay_after
                wal_ranges.append((replay, cp.wal_tail))
        kept = followed | pinned
        report.kept_versions = tuple(sorted(kept))

        live_ssts: set[int] = set()
        for vid in kept:
            live_ssts |= self._manifest(vid).live_sst_ids()
        wal_floor = min(self._manifest(vid).wal_replay_after for vid in followed)

        for sst_id, o in ssts.items():
            if sst_id not in live_ssts and sst_id < latest.next_sst_id and old(o):
                report.deleted["sst"].append(o)
        for wal_id, o in wals.items():
            in_checkpoint = any(lo < wal_id <= hi for lo, hi in wal_ranges)
            if wal_id <= wal_floor and not in_checkpoint and old(o):
                report.deleted["wal"].append(o)
        for vid, o in versions.items():
            if vid not in kept and old(o):
                report.deleted["manifest"].append(o)
        for vid in list(self._manifests):
            if vid not in kept:
                del self._manifests[vid]

        if not dry_run:
            # Data first, versions last: a run cut short leaves only garbage for the next.
            self._delete(report.deleted["sst"] + report.deleted["wal"])
            self._delete(report.deleted["manifest"])
            self._drop_expired(grace_ms)
        log.info(
            "gc%s: %d objects, %d bytes (%s)",
            " (dry run)" if dry_run else "",
            report.total_count,
            report.total_bytes,
            ", ".join(f"{k} {report.count(k)}" for k in KINDS),
        )
        return report

    def _delete(self, objects: list[ObjectInfo]) -> None:
        if not objects:
            return
        with ThreadPoolExecutor(min(DELETE_THREADS, len(objects))) as pool:
            for _ in pool.map(lambda o: self.store.delete(o.path), objects):
                pass

    def _drop_expired(self, grace_ms: float) -> None:
        """Remove checkpoints that expired more than min age ago from the manifest (one
        manifest write, only when there are some), so the list stays short."""
        found = self.mstore.read_latest()
        if found is None:
            return

        def gone(m: Manifest) -> list[str]:
            return [
                c.name
                for c in m.checkpoints
                if c.expires_ms is not None and c.expires_ms <= grace_ms
            ]

        if gone(found[1]):
            update_manifest(self.mstore, lambda _id, m: m.without_checkpoints(gone(m)))


class GcThread:
    """Runs garbage collection every ``interval_s`` while ``holds_role()`` says this process
    holds the flush-and-compaction role."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        min_age_s: float,
        interval_s: float,
        holds_role: Callable[[], bool],
        threaded: bool = True,
    ) -> None:
        self._gc = GarbageCollector(store, min_age_s=min_age_s)
        self._interval_s = interval_s
        self._holds_role = holds_role
        self._stop = threading.Event()
        self.runs = 0
        self._thread: threading.Thread | None = None
        if threaded:  # else the owner calls step() (kvengine/background.py)
            self._thread = threading.Thread(target=self._run, name="strata-gc", daemon=True)
            self._thread.start()

    def step(self) -> None:
        """One run if this process holds the role (the "gc" unit of kvengine/background.py);
        store errors are raised."""
        if self._holds_role():
            self._gc.run()
            self.runs += 1

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.step()
            except StrataError as exc:
                log.warning("garbage collection failed, will retry: %s", exc)
            except Exception:
                log.exception("garbage collection failed, will retry")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
