"""Exclusive mode over shared writers: once an exclusive open returned, a shared writer opened
before it can no longer commit, and nothing it writes shows (issue 11: "nothing a fenced
writer does after being fenced is visible"). Found by the SQL simulation (seed 2:
``STRATA_SIM_STRICT=1 python -m tests.sim --seed 2 --steps 20 --layer sql``)."""

from __future__ import annotations

import pytest

from kvengine import DB, Fenced, Options, Store
from kvengine.background import ManualClock
from kvengine.record import Kind
from kvengine.store import MemoryStore
from kvengine.table_store import TableStore
from kvengine.wal import WalBatch, WalObject, encode_wal, first_seq_of


def test_a_shared_writer_cannot_commit_after_an_exclusive_open_returned() -> None:
    memory = MemoryStore()
    a = DB.open(Store(memory))
    b = DB.open(Store(memory))
    a.put(b"a", b"1")
    b.put(b"b", b"1")  # a's view now ends before b's object: a's next commit loses a race
    x = DB.open(Store(memory), exclusive=True)  # the fence is the next WAL object
    try:
        with pytest.raises(Fenced):
            a.put(b"late", b"from a fenced writer")
        with DB.open(Store(memory), read_only=True) as reader:
            assert reader.get(b"late") is None
        assert x.get(b"late") is None
    finally:
        for db in (a, b, x):
            db.close()


def test_a_shared_writer_that_rebuilds_past_the_fence_is_fenced() -> None:
    """A shared writer idle for half ``wal_gc_min_age_s`` starts over from the manifest before
    its next commit (invariant 5 of 0003), skipping the WAL objects the manifest covers unread:
    the exclusive writer's fence among them must still fence it."""
    memory = MemoryStore()
    clock = ManualClock()
    a = DB.open(Store(memory), clock=clock, manual=True)
    a.put(b"a", b"1")
    x = DB.open(Store(memory), exclusive=True)
    try:
        for i in range(3):
            x.put(b"x%d" % i, b"1")
        x.flush()  # the replay point passes the fence
        clock.advance(a.options.wal_gc_min_age_s)
        with pytest.raises(Fenced):
            a.put(b"late", b"from a fenced writer")
        assert x.get(b"late") is None
    finally:
        for db in (a, x):
            db.close()


def test_a_late_object_is_void_for_a_process_that_starts_past_the_fence() -> None:
    """The fence's position travels in the manifest (format version 6): a process that opens
    from a manifest whose replay point is past the fence, and so never reads it, still leaves
    out an older writer's object that landed after it, as the processes that read it do."""
    memory = MemoryStore()
    a = DB.open(Store(memory))
    b = DB.open(Store(memory))
    a.put(b"a", b"1")
    b.put(b"b", b"1")  # a's view ends before b's object
    x = DB.open(Store(memory), exclusive=True)
    try:
        x.put(b"x", b"1")
        x.flush()  # the replay point passes the fence and x's object
        with pytest.raises(Fenced):
            a.put(b"late", b"from a fenced writer")  # lands after the replay point
        assert x.get(b"late") is None
        for mode in ({"read_only": True}, {}):
            with DB.open(Store(memory), **mode) as later:
                assert later.get(b"late") is None
                assert later.get(b"x") == b"1"
    finally:
        for db in (a, b, x):
            db.close()


@pytest.mark.parametrize(("fence_version", "late_stands"), [(3, True), (4, False)])
def test_only_a_final_fence_voids_what_follows(fence_version: int, late_stands: bool) -> None:
    """A fence written before WAL format version 4 did not void what came after it (such an
    object was applied and acknowledged then), so it still does not; a version 4 fence does."""
    memory = MemoryStore()
    tables = TableStore(Store(memory), Options())
    old, new = b"o" * 16, b"n" * 16
    objects = [
        WalObject(1, 0, old, (WalBatch(first_seq_of(1), ((Kind.PUT, b"early", b"1"),)),)),
        WalObject(2, 1, new, (), version=fence_version),
        WalObject(3, 0, old, (WalBatch(first_seq_of(3), ((Kind.PUT, b"late", b"1"),)),)),
        WalObject(4, 1, new, (WalBatch(first_seq_of(4), ((Kind.PUT, b"new", b"1"),)),)),
    ]
    for obj in objects:
        assert tables.write_wal(obj.wal_id, encode_wal(obj))
    with DB.open(Store(memory), read_only=True) as reader:
        assert reader.get(b"early") == b"1" and reader.get(b"new") == b"1"
        assert (reader.get(b"late") == b"1") is late_stands


def test_an_exclusive_writer_that_rebuilds_past_a_newer_writers_commit_is_fenced() -> None:
    """A shared writer opened after an exclusive one fences it with its first commit. An
    exclusive writer idle for half ``wal_gc_min_age_s`` starts over from the manifest before
    its next commit, skipping that commit unread: the manifest's fence (overtaken) must still
    fence it. Found by the SQL simulation (``python -m tests.sim --seed 20278 --steps 100
    --layer sql``: the zombie's commit returned)."""
    memory = MemoryStore()
    clock = ManualClock()
    x = DB.open(Store(memory), exclusive=True, clock=clock, manual=True)
    x.put(b"x", b"1")
    s = DB.open(Store(memory))
    try:
        s.put(b"s", b"1")  # fences x
        s.flush()  # the replay point passes s's object: x never reads it
        clock.advance(x.options.wal_gc_min_age_s)
        with pytest.raises(Fenced):
            x.put(b"late", b"from a fenced writer")
        assert s.get(b"late") is None
    finally:
        for db in (x, s):
            db.close()
