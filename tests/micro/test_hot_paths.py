"""pytest-benchmark micro-benchmarks of the hot paths: SQL key encoding, SST data block
encode/decode, bloom filter probe, memtable insert and WAL-object apply, cached point get,
SQL plan cache hit.

The suite runs them with ``--benchmark-disable`` (pyproject.toml ``addopts``): each body runs
once, as a smoke test of the code path, and nothing depends on time. To measure:

    python -m pytest tests/micro --benchmark-enable -p no:randomly

Each benchmark also checks its result, so a broken fast path fails here either way.
"""

from __future__ import annotations

import uuid
from typing import Any

from dialect import dbapi
from dialect.keycodec import decode_key, encode_key
from kvengine import DB
from kvengine.committer import CommitRequest
from kvengine.memtable import Memtable
from kvengine.record import Kind
from kvengine.sst.block import Compressor, decode_data_block, encode_data_block, unframe
from kvengine.sst.bloom import BloomFilter, build_filter
from kvengine.wal import WalBuilder, decode_wal, first_seq_of

KEYS = [b"%016d" % i for i in range(1000)]
VALUE = bytes(range(100))


def test_key_encoding(benchmark: Any) -> None:
    row = (12345, "customer-0042", 3.5)

    def round_trip() -> tuple[object, ...]:
        return decode_key(encode_key(row))

    assert benchmark(round_trip) == row


def test_block_encode(benchmark: Any) -> None:
    flat: list[object] = []
    for seq, key in enumerate(KEYS[:40], 1):  # about one 4 KiB block of 100-byte values
        flat.extend((key, seq, int(Kind.PUT), VALUE))
    compressor = Compressor("zstd")
    framed = benchmark(lambda: compressor.frame(encode_data_block(flat)))
    block = decode_data_block("bench", unframe("bench", framed, "data block"), 0)
    assert block.keys == KEYS[:40]


def test_block_decode(benchmark: Any) -> None:
    flat: list[object] = []
    for seq, key in enumerate(KEYS[:40], 1):
        flat.extend((key, seq, int(Kind.PUT), VALUE))
    framed = Compressor("zstd").frame(encode_data_block(flat))

    def decode() -> Any:
        return decode_data_block("bench", unframe("bench", framed, "data block"), 0)

    assert benchmark(decode).values[-1] == VALUE


def test_bloom_probe(benchmark: Any) -> None:
    bloom = BloomFilter("bench", build_filter(KEYS, len(KEYS), 10))
    assert benchmark(bloom.may_contain, KEYS[500])
    assert all(bloom.may_contain(k) for k in KEYS)  # no false negatives


def test_memtable_insert(benchmark: Any) -> None:
    memtable = Memtable()
    ops = [(Kind.PUT, key, VALUE) for key in KEYS]
    seq = [1]

    def insert() -> None:  # 1,000 single-op writes, as non-durable puts arrive
        for op in ops:
            memtable.add(seq[0], (op,))
            seq[0] += 1

    benchmark(insert)
    entry = memtable.get(KEYS[7])
    assert entry is not None and entry.value == VALUE


def test_sql_plan_cache_hit(benchmark: Any) -> None:
    conn = dbapi.connect(f"memory://{uuid.uuid4().hex}", exclusive=True, autocommit=True)
    try:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.cursor().executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i}") for i in range(100)])
        cur = conn.cursor()
        sql = "SELECT v FROM t WHERE id = ?"
        cur.execute(sql, (1,)).fetchone()  # prepared and planned: the rest are cache hits

        def select() -> Any:
            return cur.execute(sql, (42,)).fetchone()

        assert benchmark(select) == ("v42",)
    finally:
        conn.close()


def test_cached_point_get(benchmark: Any) -> None:
    """``DB.get`` of keys in SSTs whose blocks are cached: the path of ``readrandom``."""
    db = DB.open(f"memory://{uuid.uuid4().hex}", exclusive=True)
    try:
        for key in KEYS:
            db.put(key, VALUE, durable=False)
        db.flush()
        for _ in db.scan():
            pass  # every block cached
        probe = iter(KEYS * 10_000)

        def get() -> bytes | None:
            return db.get(next(probe))

        assert benchmark(get) == VALUE
        assert db.get(b"absent") is None
    finally:
        db.close()


def test_memtable_apply_object(benchmark: Any) -> None:
    """One WAL object of 1,000 single-op writes applied to a memtable at once, as the
    commit thread applies the non-durable puts of one group commit."""
    batches = [(seq, ((Kind.PUT, key, VALUE),)) for seq, key in enumerate(KEYS, 1)]
    tables: list[Memtable] = []

    def fresh() -> tuple[tuple[Any, ...], dict[str, Any]]:
        tables.append(Memtable())  # each round adds new keys, as fillrandom does
        return (tables[-1], batches), {}

    benchmark.pedantic(Memtable.add_batches, setup=fresh, rounds=200)
    memtable = tables[-1]
    entry = memtable.get(KEYS[7])
    assert entry is not None and entry.value == VALUE
    assert [e.key for e in memtable.entries()] == KEYS


def test_wal_group_encode(benchmark: Any) -> None:
    """One WAL object of 1,000 non-durable puts encoded by group commit
    (``WalBuilder.add_writes`` of the requests, then ``finish``)."""
    requests = [CommitRequest(((Kind.PUT, key, VALUE),), durable=False) for key in KEYS]

    def encode() -> bytes:
        builder = WalBuilder(5, 1, bytes(16))
        builder.add_writes(first_seq_of(5), requests)
        return builder.finish()

    data = benchmark(encode)
    assert [b.ops for b in decode_wal("wal/5", data).batches] == [r.ops for r in requests]


def test_nondurable_puts(benchmark: Any) -> None:
    """1,000 non-durable ``DB.put`` calls then ``flush_wal``: the calling thread's and the
    commit thread's work for each put (the path of ``fillrandom``)."""
    db = DB.open(f"memory://{uuid.uuid4().hex}", exclusive=True)
    try:

        def puts() -> None:
            for key in KEYS:
                db.put(key, VALUE, durable=False)
            db.flush_wal()

        benchmark(puts)
        assert db.get(KEYS[7]) == VALUE
    finally:
        db.close()
