"""``Options.cache_written_blocks``: the SSTs this process writes (flush and compaction
outputs, spilled or not) enter the block cache as they are created, so reading them back
costs no GET; what is read is what a database without a cache reads; the cache's capacity
holds."""

from __future__ import annotations

import dataclasses
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvengine import DB, Options
from kvengine.record import Entry, Kind
from kvengine.sst import BlockCache, SSTBuilder, SSTReader
from kvengine.sst.block import DataBlock, block_cache_bytes
from tests.kvengine.ops import apply_op

BIG = Options(block_bytes=256, l0_compaction_trigger=0, block_cache_bytes=64 << 20)


def _open(options: Options) -> DB:
    return DB.open(f"memory://warm-{uuid.uuid4().hex}", options=options, exclusive=True)


def _gets(db: DB) -> int:
    return db.store.stats().requests["GET"]


def _fill(db: DB, n: int, value_bytes: int = 100) -> dict[bytes, bytes]:
    data = {b"key%06d" % i: bytes([i % 251]) * value_bytes for i in range(n)}
    for k, v in data.items():
        db.put(k, v, durable=False)
    return data


def _reads_cost_no_get(db: DB, data: dict[bytes, bytes]) -> bool:
    """Every key of ``data`` reads back its value, and no read sent a GET."""
    before = _gets(db)
    return all(db.get(k) == v for k, v in data.items()) and _gets(db) == before


def test_a_just_flushed_sst_is_read_with_no_get() -> None:
    db = _open(BIG)
    try:
        data = _fill(db, 2000)
        db.flush()
        assert _reads_cost_no_get(db, data)
    finally:
        db.close()


def test_without_the_option_the_flushed_sst_is_read_back() -> None:
    db = _open(dataclasses.replace(BIG, cache_written_blocks="none"))
    try:
        data = _fill(db, 200)
        db.flush()
        before = _gets(db)
        k = next(iter(data))
        assert db.get(k) == data[k]
        assert _gets(db) > before
    finally:
        db.close()


def test_compaction_outputs_spilled_or_not_are_read_with_no_get() -> None:
    for spill in (1 << 30, 4096):  # outputs built in memory; outputs spilled to a file
        options = dataclasses.replace(BIG, compaction_spill_bytes=spill, sst_target_bytes=1 << 16)
        db = _open(options)
        try:
            data: dict[bytes, bytes] = {}
            for _ in range(3):
                data.update(_fill(db, 1500))
                db.flush()
            db.compact()
            assert _reads_cost_no_get(db, data), spill
        finally:
            db.close()


def test_flush_only_leaves_compaction_outputs_out() -> None:
    db = _open(dataclasses.replace(BIG, cache_written_blocks="flush"))
    try:
        data = _fill(db, 1500)
        db.flush()
        db.compact()
        before = _gets(db)
        k = next(iter(data))
        assert db.get(k) == data[k]
        assert _gets(db) > before
    finally:
        db.close()


def test_capacity_holds_and_the_first_blocks_are_kept() -> None:
    capacity = 20_000
    db = _open(dataclasses.replace(BIG, block_cache_bytes=capacity))
    try:
        data = _fill(db, 3000)  # ~330 KB of blocks: far more than the cache
        db.flush()
        cache = db._tables.cache
        assert 0 < cache._bytes <= capacity
        first = next(iter(data))
        before = _gets(db)
        assert db.get(first) == data[first]  # the first blocks were kept
        assert _gets(db) == before
        last = list(data)[-1]
        assert db.get(last) == data[last]  # read from the store
        assert _gets(db) == before + 1
        assert cache._bytes <= capacity
    finally:
        db.close()


def test_builder_keeps_blocks_within_its_budget_as_a_reader_decodes_them() -> None:
    entries = [Entry(b"k%05d" % i, i + 1, Kind(i % 2), b"v" * (i % 50)) for i in range(2000)]
    for budget in (0, 5000, 1 << 30):
        builder = SSTBuilder(block_bytes=512, keep_blocks_bytes=budget)
        for e in entries:
            builder.add(e)
        sst, _ = builder.finish()
        parts = builder.parts
        assert parts is not None and not parts.spilled
        assert sum(block_cache_bytes(b) for _, b in parts.blocks) <= budget
        cache = BlockCache(1 << 30)
        reader = SSTReader.open("s", len(sst), lambda a, b, s=sst: s[a:b], cache=cache)
        for e in entries:
            assert reader.get(e.key) == e  # every block now cached, decoded by the reader
        assert [h[1:] for h in parts.index] == reader._handles
        for offset, block in parts.blocks:
            cached: DataBlock = cache.get("s", offset)
            assert cached == block
            assert [type(v) for v in cached.values] == [type(v) for v in block.values]
            assert [type(s) for s in cached.kinds] == [type(s) for s in block.kinds]
        if budget >= 1 << 30:
            assert len(parts.blocks) == len(parts.index)


KEYS = st.sampled_from([b"k%02d" % i for i in range(12)])
OPS = st.one_of(
    st.tuples(st.just("put"), KEYS, st.binary(max_size=300)),
    st.tuples(st.just("delete"), KEYS, st.just(b"")),
    st.tuples(st.sampled_from(["flush", "compact", "check"]), st.just(b""), st.just(b"")),
)
SMALL = Options(
    l0_sst_size=1024,
    block_bytes=64,
    sst_target_bytes=1024,
    compaction_spill_bytes=256,
    l0_compaction_trigger=2,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(OPS, max_size=60),
    st.sampled_from([700, 1 << 20]),
    st.sampled_from(["all", "flush"]),
)
def test_reads_after_warmed_writes_equal_reads_without_a_cache(
    ops: list[tuple[str, bytes, bytes]], cache_bytes: int, mode: str
) -> None:
    warm_opts = dataclasses.replace(
        SMALL,
        block_cache_bytes=cache_bytes,
        cache_written_blocks=mode,  # type: ignore[arg-type]
    )
    warm = _open(warm_opts)
    cold = _open(dataclasses.replace(SMALL, block_cache_bytes=0))
    try:
        for op, key, value in ops:
            for db in (warm, cold):
                apply_op(db, op, key, value)
            if op == "check":
                assert list(warm.scan()) == list(cold.scan())
                for k in [b"k%02d" % i for i in range(12)]:
                    assert warm.get(k) == cold.get(k)
            assert warm._tables.cache._bytes <= cache_bytes
        warm.flush()
        cold.flush()
        assert list(warm.scan()) == list(cold.scan())
        assert list(warm.scan(reverse=True)) == list(cold.scan(reverse=True))
    finally:
        warm.close()
        cold.close()
