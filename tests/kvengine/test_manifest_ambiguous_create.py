"""A create of manifest version ``n`` whose response is lost, but which landed, and on which
another process built version ``n + 1`` before the writer read it back: version ``n`` is the
writer's (everyone read it), so its write succeeded. ``ManifestStore.try_write`` took it for a
stray re-created after garbage collection (docs/formats/manifest.md "Stale writes"), and the
caller re-applied its change on top of ``n + 1``, which already held it: a checkpoint "exists"
(``ValueError`` out of ``DB.open(read_only=True)`` and ``dialect.connect``, since a following
reader writes its checkpoint at open), a flush's SST is "not fresh", a claim bumped its epoch
twice. Found by the SQL simulation (``python -m tests.sim --seed 1000 --seeds 5000 --steps 20
--layer sql --jobs 1 --bugs-fail``: seed 2656 on the first run). Fixed by time: a create that
returns less than ``fresh_s`` (half the minimum age of garbage collection) after the process
found the previous version the latest was first, and is ours whatever newer versions exist; a
staler view is refreshed before writing, and a process paused between its read and its PUT
still takes a newer version for a sign of a stray."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

from kvengine import DB, RetryPolicy, Store
from kvengine import checkpoint as checkpoints
from kvengine.background import ManualClock
from kvengine.errors import ObjectNotFound, StoreUnavailable
from kvengine.gc import GarbageCollector
from kvengine.manifest.model import Manifest
from kvengine.manifest.store import FenceableManifest, ManifestStore, manifest_path
from kvengine.options import Options
from kvengine.store import MemoryStore
from kvengine.store.base import PUT
from kvengine.store.wrapper import StoreWrapper

T = TypeVar("T")

WRITER = b"w" * 16
FRESH_S = 1800.0
RETRY = RetryPolicy(attempts=3, base_wait_s=0.0, max_wait_s=0.0, total_s=5)


class LostResponse(StoreWrapper):
    """The first create of a manifest version lands, ``meanwhile`` runs (another process),
    and then the response is lost: the caller sees a transient error and retries."""

    meanwhile: Callable[[], None] | None = None

    def around(self, kind: str, path: str | None, op: Callable[[], T], written: int) -> T:
        result = op()
        if self.meanwhile is not None and kind == PUT and (path or "").startswith("manifest/"):
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
            raise StoreUnavailable(f"the response to the create of {path!r} was lost", path=path)
        return result


def builds_on(other: ManifestStore, manifest_id: int) -> Callable[[], None]:
    """Another process reads version ``manifest_id`` (the lost create) and builds the next."""

    def build() -> None:
        found = other.read_latest()
        assert found is not None and found[0] == manifest_id
        m = found[1]
        assert other.try_write(manifest_id + 1, m.with_replay_point(m.wal_replay_after))

    return build


def setup() -> tuple[MemoryStore, ManifestStore, LostResponse, ManifestStore]:
    memory = MemoryStore()
    other = ManifestStore(Store(memory))
    assert other.try_write(1, Manifest.empty())
    lossy = LostResponse(memory)
    ours = ManifestStore(Store(lossy, retry=RETRY), ManualClock(), FRESH_S)
    return memory, other, lossy, ours


def test_a_landed_create_that_others_built_on_is_not_a_lost_race() -> None:
    _, other, lossy, ours = setup()
    lossy.meanwhile = builds_on(other, 2)
    seen_at, found = ours.read_latest_seen()
    assert found is not None and found[0] == 1
    # Version 2 is ours: the other process read it and built version 3 on it.
    assert ours.try_write(2, found[1].with_replay_point(0), seen_at)


def test_a_claim_whose_create_was_built_on_bumps_its_epoch_once() -> None:
    _, other, lossy, ours = setup()
    lossy.meanwhile = builds_on(other, 2)
    role = FenceableManifest.claim(ours, "writer", WRITER)
    assert (role.manifest_id, role.epoch) == (2, 1)
    found = other.read_latest()
    assert found is not None and found[0] == 3 and found[1].writer_epoch == 1


def test_an_update_whose_create_was_built_on_is_applied_once() -> None:
    _, other, lossy, ours = setup()
    role = FenceableManifest.claim(ours, "compactor", WRITER)
    lossy.meanwhile = builds_on(other, 3)
    role.update(lambda m: m.with_replay_point(m.wal_replay_after + 1))
    assert role.manifest_id == 3
    found = other.read_latest()
    assert found is not None and found[0] == 4 and found[1].wal_replay_after == 1


def test_a_checkpoint_whose_create_was_built_on_is_made() -> None:
    _, other, lossy, ours = setup()
    lossy.meanwhile = builds_on(other, 2)
    cp = checkpoints.create(ours, 0, "cp", None)
    assert cp.manifest_id == 2
    assert [c.name for c in checkpoints.listed(other)] == ["cp"]


# -- the genuinely stale case -------------------------------------------------------------


def collect_all_but_latest(memory: MemoryStore, clock: ManualClock) -> None:
    """Age every version past the minimum age and run garbage collection: it keeps the
    latest version only."""
    clock.advance(10.0)
    GarbageCollector(Store(memory), min_age_s=4.0).run()


def stale_setup() -> tuple[MemoryStore, ManualClock, ManifestStore, ManifestStore]:
    clock = ManualClock()
    memory = MemoryStore(clock=clock.time)
    other = ManifestStore(Store(memory), clock, 2.0)
    ours = ManifestStore(Store(memory), clock, 2.0)
    assert other.try_write(1, Manifest.empty())
    return memory, clock, other, ours


def test_a_view_older_than_fresh_s_still_detects_a_stray() -> None:
    """A process reads version 1, pauses past ``fresh_s``; meanwhile version 2 is created,
    built on and garbage-collected. Its create of version 2 lands (the id is free again) but
    is a stray no one reads: a lost race."""
    memory, clock, other, ours = stale_setup()
    seen_at, found = ours.read_latest_seen()
    assert found is not None and found[0] == 1
    clock.advance(3.0)  # past fresh_s: ours is now paused between its read and its PUT
    assert other.try_write(2, Manifest.empty().with_replay_point(1))
    assert other.try_write(3, Manifest.empty().with_replay_point(2))
    collect_all_but_latest(memory, clock)
    with pytest.raises(ObjectNotFound):
        memory.get(manifest_path(2))
    assert not ours.try_write(2, Manifest.empty().with_replay_point(7), seen_at)
    assert ours.latest_id() == 3


def test_a_stale_view_reads_the_latest_before_writing() -> None:
    """A role holder idle past ``fresh_s``, whose next id was created and collected meanwhile,
    reads the latest version before its update: it creates no stray, and its change lands on
    top of the latest."""
    memory, clock, other, ours = stale_setup()
    role = FenceableManifest.claim(ours, "compactor", WRITER)
    assert role.manifest_id == 2
    clock.advance(3.0)
    found = other.read_latest()
    assert found is not None
    assert other.try_write(3, found[1].with_replay_point(1))
    assert other.try_write(4, found[1].with_replay_point(2))
    collect_all_but_latest(memory, clock)
    role.update(lambda m: m.with_replay_point(m.wal_replay_after + 1))
    assert role.manifest_id == 5
    assert [o.path for o in memory.list("manifest/")] == [manifest_path(4), manifest_path(5)]
    latest = ours.read_latest()
    assert latest is not None and latest[1].wal_replay_after == 3


def test_a_following_reader_whose_checkpoint_was_misread_still_opens() -> None:
    """A reader paused past ``fresh_s`` between its read and its checkpoint's create, whose
    create lands and is built on before its lost response is retried, cannot tell it from a
    stray: it re-applies its change, finds its own checkpoint and gives up until its next
    renewal. ``DB.open(read_only=True)`` still returns (no ``ValueError``)."""
    clock = ManualClock()
    memory = MemoryStore(clock=clock.time)
    options = Options(gc_min_age_s=4.0, wal_gc_min_age_s=4.0)
    DB.open(Store(memory), options=options, clock=clock, manual=True).close()
    other = ManifestStore(Store(memory))

    class PausedLostResponse(LostResponse):
        def around(self, kind: str, path: str | None, op: Callable[[], T], written: int) -> T:
            if self.meanwhile is not None and kind == PUT and (path or "").startswith("manif"):
                clock.advance(3.0)
            return super().around(kind, path, op, written)

    lossy = PausedLostResponse(memory)
    latest = other.latest_id()
    assert latest is not None
    lossy.meanwhile = builds_on(other, latest + 1)
    reader = DB.open(
        Store(lossy, retry=RETRY), read_only=True, options=options, clock=clock, manual=True
    )
    try:
        assert reader.get(b"k") is None
    finally:
        reader.close()
