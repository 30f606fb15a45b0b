"""Regressions of the bugs the crash loop (test_crash_loop.py) found, each reproduced
deterministically."""

from __future__ import annotations

from kvengine import DB
from kvengine.store import MemoryStore, ObjectStore
from kvengine.store.base import ObjectInfo
from kvengine.store.wrapper import StoreWrapper
from kvengine.table_store import WAL_PREFIX


class MissedByListing(StoreWrapper):
    """Lists without the objects in ``hidden``, as a local directory listed while two objects
    are created can show the later one only."""

    def __init__(self, inner: ObjectStore) -> None:
        super().__init__(inner)
        self.hidden: set[str] = set()

    def list(self, prefix: str = "", start_after: str | None = None) -> list[ObjectInfo]:
        return [o for o in super().list(prefix, start_after) if o.path not in self.hidden]


def test_a_wal_object_missed_by_a_listing_is_read_not_reported_missing() -> None:
    # Before: a reader catching up listed wal/N+1 but not wal/N (created during the listing)
    # and failed with "AssertionError: WAL object N is missing", though it was there.
    inner = MemoryStore()
    listing = MissedByListing(inner)
    with DB.open(StoreWrapper(inner)) as writer, DB.open(listing) as reader:
        assert reader.get(b"k0") is None  # the reader's view is at the tail
        for i in range(3):
            writer.put(b"k%d" % i, b"v%d" % i)
        wals = sorted(o.path for o in inner.list(WAL_PREFIX))
        listing.hidden = {wals[-2]}  # the middle one of the three
        assert [reader.get(b"k%d" % i) for i in range(3)] == [b"v0", b"v1", b"v2"]
