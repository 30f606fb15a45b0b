"""The point-get fast path (``version.get_value``: memtables, then SSTs newest first, cached
blocks searched before any filter probe, the key hashed once) against the slow truth: a
scan over the same sources, over random workloads with deletes, snapshots, flushes and
compactions, and an SST reader whose blocks are partly cached."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvengine import DB, Options
from kvengine.record import MAX_SEQ, Entry, Kind, sort_key
from kvengine.sst import BlockCache, SSTReader
from kvengine.sst.bloom import _split, key_digest, key_hashes
from kvengine.sst.reader import NOT_CACHED
from tests.kvengine.ops import apply_op
from tests.kvengine.sst.test_sst import CountingRead, build, entry_sets

#: few keys, so that most are written several times around snapshots, flushes, compactions
KEY_SPACE = [b"k%02d" % i for i in range(6)]
KEYS = st.sampled_from(KEY_SPACE)
#: tiny blocks and SSTs, so a few dozen writes make several SSTs, L0 and sorted runs; a
#: block cache of a few blocks (a get meets cached and uncached blocks alike), or of all
OPTS = Options(
    l0_sst_size=512,
    block_bytes=64,
    sst_target_bytes=512,
    l0_compaction_trigger=2,
    block_cache_bytes=600,
)
CACHE_BYTES = st.sampled_from([600, 1 << 20])

NONE = st.just(b"")
OPS = st.one_of(
    st.tuples(st.just("put"), KEYS, st.binary(max_size=40)),
    st.tuples(st.just("delete"), KEYS, st.just(b"")),
    st.tuples(
        st.sampled_from(["flush", "compact", "snapshot", "check"]), st.just(b""), st.just(b"")
    ),
)


def check_agrees(reader: Any) -> None:
    """Every key's point get equals what a scan of the same view says."""
    scanned = dict(reader.scan())
    for key in [*KEY_SPACE, b"absent"]:
        assert reader.get(key) == scanned.get(key), key


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, max_size=60), CACHE_BYTES)
def test_get_equals_scan(ops: list[tuple[str, bytes, bytes]], cache_bytes: int) -> None:
    options = dataclasses.replace(OPTS, block_cache_bytes=cache_bytes)
    db = DB.open(f"memory://pointget-{uuid.uuid4().hex}", options=options, exclusive=True)
    snapshots = []
    try:
        for op, key, value in ops:
            if apply_op(db, op, key, value):
                continue
            if op == "snapshot":
                snapshots.append(db.snapshot())
            else:
                check_agrees(db)
        check_agrees(db)
        for snap in snapshots:
            check_agrees(snap)
            snap.close()
    finally:
        db.close()


@st.composite
def many_versions(draw: st.DrawFn) -> list[Entry]:
    """A few keys with many versions each, so that one key's versions span blocks."""
    raw = draw(
        st.lists(
            st.tuples(st.sampled_from([b"a", b"b", b"c"]), st.integers(1, 50), st.booleans()),
            min_size=1,
            max_size=80,
        )
    )
    seen = {
        (k, q): Entry(k, q, Kind.PUT if put else Kind.DELETE, b"v%d" % q if put else b"")
        for k, q, put in raw
    }
    return sorted(seen.values(), key=sort_key)


@settings(max_examples=100, deadline=None)
@given(entry_sets() | many_versions(), st.integers(16, 256), st.integers(0, 60), st.data())
def test_reader_lookups_agree_with_get(
    entries: list[Entry], block_bytes: int, max_seq: int, data: st.DataObject
) -> None:
    """``lookup_cached`` answers from cached blocks or says ``NOT_CACHED``; ``lookup`` and
    ``get`` always answer; all agree with a linear search, whichever blocks are cached."""
    sst = build(entries, block_bytes, "none")
    cache = BlockCache(1 << 20)
    reader = SSTReader.open("sst/p.sst", len(sst), CountingRead(sst), cache=cache)
    for key in data.draw(st.lists(st.sampled_from([e.key for e in entries]), max_size=5)):
        reader.get(key)  # caches some of the blocks
    keys = {e.key for e in entries} | {b"\x00", b"\xff" * 6}
    for key in sorted(keys):
        versions = [e for e in entries if e.key == key and e.seq <= max_seq]
        want = versions[0] if versions else None
        assert reader.get(key, max_seq) == want
        located = reader.lookup(key, max_seq, key_hashes(key))
        assert (located[0].entry(located[1]) if located else None) == want
        cached = reader.lookup_cached(key, max_seq)
        if cached is not NOT_CACHED:
            assert (cached[0].entry(cached[1]) if cached else None) == want
    assert reader.get(entries[0].key, MAX_SEQ) is not None


@given(st.binary(min_size=1, max_size=40))
def test_key_hashes_are_the_filter_hashes(key: bytes) -> None:
    """The one-shot hashes equal those the filter format is defined by (docs/formats)."""
    assert key_hashes(key) == _split(key_digest(key))


def test_a_cached_block_answers_without_the_filter() -> None:
    entries = [Entry(b"key%03d" % i, i + 1, Kind.PUT, b"v") for i in range(100)]
    sst = build(entries, 128, "none")
    read = CountingRead(sst)
    reader = SSTReader.open("sst/c.sst", len(sst), read, cache=BlockCache(1 << 20))
    assert reader.lookup_cached(b"key050") is NOT_CACHED
    assert reader.get(b"key050") == entries[50]
    calls = read.calls
    found = reader.lookup_cached(b"key050")
    assert found is not NOT_CACHED and found is not None
    assert found[0].entry(found[1]) == entries[50]
    assert reader.lookup_cached(b"key050x") is None  # absent, and the block says so
    assert read.calls == calls
