"""Engine benchmark on a store with injected object-store latency.

Prints one row per workload: ops/s, p50/p99/p99.9 latency, object-store requests per 1,000 ops
and dollars per million ops, beside sqlite3 (a local file, WAL mode, synchronous=FULL for
durable rows) doing the same work. The timing, histograms and table are ``strata bench``'s
(kvengine/bench/); the rows here are the ones it has no workload for (shared-mode reads, the
first read of an SST) and the sqlite3 comparison.

    python benchmarks/kv_engine.py --put-ms 50 --get-ms 20
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import tempfile
import uuid
from collections.abc import Callable

from rich.console import Console

from kvengine import DB, Options
from kvengine.bench.profiles import LatencyModel
from kvengine.bench.recorder import run_timed
from kvengine.bench.report import Report, Result, render_table
from kvengine.store import GET, HEAD, LIST, PUT, Store, open_store


def latency_store(put_ms: float, get_ms: float) -> Store:
    model = LatencyModel("script", {PUT: put_ms, GET: get_ms, LIST: get_ms, HEAD: get_ms})
    return open_store(f"memory://bench-{uuid.uuid4().hex}", wrap=model.wrapper(7))


def measure(
    system: str, workload: str, n: int, fn: Callable[[int], object], db: DB | None = None
) -> Result:
    """Time ``fn(i)`` for i in range(n) on one thread; with ``db``, count its store's
    requests."""
    before = db.store.stats() if db else None
    timing = run_timed(lambda t, i: fn(i), max_ops=n)
    stats = db.store.stats() - before if db and before else None
    return Result(system, workload, timing.ops, timing.seconds, timing.histogram, stats)


def concurrent_puts(db: DB, threads: int, per_thread: int) -> Result:
    before = db.store.stats()
    timing = run_timed(
        lambda t, i: db.put(b"c%08d" % i, b"v" * 100), threads=threads, max_ops=threads * per_thread
    )
    return Result(
        "strata",
        f"durable put, {threads} threads (exclusive)",
        timing.ops,
        timing.seconds,
        timing.histogram,
        db.store.stats() - before,
    )


def sqlite_rows(n: int, n_durable: int) -> list[Result]:
    with tempfile.TemporaryDirectory() as d:
        con = sqlite3.connect(os.path.join(d, "kv.db"), check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB)")
        con.execute("PRAGMA synchronous=FULL")

        def durable(i: int) -> None:
            con.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (b"d%06d" % i, b"v" * 100))
            con.commit()

        rows = [measure("sqlite3", "durable put, 1 thread (fsync)", n_durable, durable)]
        con.execute("PRAGMA synchronous=OFF")
        con.execute("BEGIN")
        rows.append(
            measure(
                "sqlite3",
                "non-durable put, 1 thread (one transaction)",
                n,
                lambda i: con.execute(
                    "INSERT OR REPLACE INTO kv VALUES (?, ?)", (b"k%07d" % i, b"v" * 100)
                ),
            )
        )
        con.commit()
        rng = random.Random(3)
        keys = [b"k%07d" % rng.randrange(n) for _ in range(n)]
        rows.append(
            measure(
                "sqlite3",
                "cached get, 1 thread",
                n,
                lambda i: con.execute("SELECT v FROM kv WHERE k = ?", (keys[i],)).fetchone(),
            )
        )
        con.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--put-ms", type=float, default=50.0, help="injected latency per PUT")
    ap.add_argument("--get-ms", type=float, default=20.0, help="injected latency per GET/LIST")
    ap.add_argument("--n", type=int, default=50_000, help="ops for the non-durable/get rows")
    ap.add_argument("--durable", type=int, default=100, help="durable puts on one thread")
    ap.add_argument("--threads", type=int, default=64)
    ap.add_argument("--per-thread", type=int, default=20)
    args = ap.parse_args()

    rows: list[Result] = []
    store = latency_store(args.put_ms, args.get_ms)
    opts = Options(l0_compaction_trigger=0)
    # The single-process figures: exclusive mode (no other writer, so no start probes).
    with DB.open(store, options=opts, exclusive=True) as db:
        rows.append(
            measure(
                "strata",
                "durable put, 1 thread (exclusive)",
                args.durable,
                lambda i: db.put(b"d%06d" % i, b"v" * 100),
                db,
            )
        )
        rows.append(concurrent_puts(db, args.threads, args.per_thread))
        rows.append(
            measure(
                "strata",
                "non-durable put, 1 thread (exclusive)",
                args.n,
                lambda i: db.put(b"k%07d" % i, b"v" * 100, durable=False),
                db,
            )
        )
        db.flush()
        rng = random.Random(3)
        keys = [b"k%07d" % rng.randrange(args.n) for _ in range(args.n)]
        for _ in db.scan():
            pass  # reads every block once: the block cache is warm
        rows.append(
            measure(
                "strata", "cached get, 1 thread (exclusive)", args.n, lambda i: db.get(keys[i]), db
            )
        )
    # Shared mode: each read first probes the next WAL id (one GET), unless a view up to
    # max_staleness_ms old is good enough.
    with DB.open(store, options=opts) as db:
        rows.append(
            measure(
                "strata",
                "get, shared mode (a probe GET per read)",
                min(args.n, 200),
                lambda i: db.get(keys[i]),
                db,
            )
        )
    stale = Options(l0_compaction_trigger=0, max_staleness_ms=60_000)
    with DB.open(store, options=stale) as db:
        rows.append(
            measure(
                "strata",
                "get, shared mode, max_staleness_ms=60000",
                args.n,
                lambda i: db.get(keys[i]),
                db,
            )
        )
    cold_opts = Options(block_cache_bytes=0, l0_compaction_trigger=0, max_staleness_ms=60_000)
    with DB.open(store, options=cold_opts, read_only=True) as db:
        rows.append(
            measure(
                "strata",
                "first read of an SST (footer+index+filter, block)",
                1,
                lambda i: db.get(keys[0]),
                db,
            )
        )
        rows.append(
            measure(
                "strata",
                "cold point read (index cached)",
                200,
                lambda i: db.get(keys[i + 1]),
                db,
            )
        )
    rows += sqlite_rows(args.n, args.durable)
    config = {"put_ms": args.put_ms, "get_ms": args.get_ms, "jitter": 0.1}
    render_table(Report("kv", config, rows), Console(width=220))


if __name__ == "__main__":
    main()
