"""Engine benchmark on a store with injected object-store latency.

Prints one row per workload: ops/s, p50/p99 latency, object-store requests per 1,000 ops and
dollars per million ops at GCS Standard prices, beside sqlite3 (a local file, WAL mode,
synchronous=FULL for durable rows) doing the same work.

    python benchmarks/kv_engine.py --put-ms 50 --get-ms 20
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from kvengine import DB, Options
from kvengine.store import GET, PUT, LatencyStore, ObjectStore, Store, open_store


@dataclass
class Row:
    system: str
    workload: str
    ops: int
    seconds: float
    latencies_ms: list[float]
    requests: int = 0
    cost_usd: float = 0.0
    note: str = ""

    def cells(self) -> list[str]:
        lat = sorted(self.latencies_ms)
        p50 = f"{statistics.median(lat):.1f}" if lat else "-"
        p99 = f"{lat[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))]:.1f}" if lat else "-"
        per_k = f"{1000 * self.requests / self.ops:.1f}" if self.system == "strata" else "-"
        usd = f"{1e6 * self.cost_usd / self.ops:.2f}" if self.system == "strata" else "-"
        return [
            self.system,
            self.workload,
            f"{self.ops:,}",
            f"{self.ops / self.seconds:,.0f}",
            p50,
            p99,
            per_k,
            usd,
            self.note,
        ]


def latency_store(put_ms: float, get_ms: float) -> Store:
    def wrap(inner: ObjectStore) -> ObjectStore:
        return LatencyStore(
            inner,
            {PUT: put_ms / 1000, GET: get_ms / 1000, "LIST": get_ms / 1000, "HEAD": get_ms / 1000},
            seed=7,
        )

    return open_store(f"memory://bench-{uuid.uuid4().hex}", wrap=wrap)


def timed(n: int, fn: Callable[[int], object]) -> tuple[float, list[float]]:
    lat = []
    t0 = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        lat.append((time.perf_counter() - t) * 1000)
    return time.perf_counter() - t0, lat


def measure(
    db: DB, system_workload: str, n: int, fn: Callable[[int], object], note: str = ""
) -> Row:
    before = db.store.stats()
    seconds, lat = timed(n, fn)
    delta = db.store.stats() - before
    return Row(
        "strata",
        system_workload,
        n,
        seconds,
        lat,
        delta.total_requests,
        delta.cost_usd("gcs-standard"),
        note,
    )


def concurrent_puts(db: DB, threads: int, per_thread: int) -> Row:
    lat: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)
    before = db.store.stats()
    wal_before = db.stats()["wal_puts"]

    def body(t: int) -> None:
        mine = []
        barrier.wait()
        for i in range(per_thread):
            s = time.perf_counter()
            db.put(b"c%02d-%05d" % (t, i), b"v" * 100)
            mine.append((time.perf_counter() - s) * 1000)
        with lock:
            lat.extend(mine)

    workers = [threading.Thread(target=body, args=(t,)) for t in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - t0
    delta = db.store.stats() - before
    n = threads * per_thread
    wal_puts = db.stats()["wal_puts"] - wal_before
    return Row(
        "strata",
        f"durable put, {threads} threads",
        n,
        seconds,
        lat,
        delta.total_requests,
        delta.cost_usd("gcs-standard"),
        f"{1000 * wal_puts / n:.0f} WAL PUTs / 1k commits",
    )


def sqlite_rows(n: int, n_durable: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as d:
        con = sqlite3.connect(os.path.join(d, "kv.db"), check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB)")
        con.execute("PRAGMA synchronous=FULL")

        def durable(i: int) -> None:
            con.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (b"d%06d" % i, b"v" * 100))
            con.commit()

        s1, l1 = timed(n_durable, durable)
        con.execute("PRAGMA synchronous=OFF")
        con.execute("BEGIN")
        s2, l2 = timed(
            n,
            lambda i: con.execute(
                "INSERT OR REPLACE INTO kv VALUES (?, ?)", (b"k%07d" % i, b"v" * 100)
            ),
        )
        con.commit()
        rng = random.Random(3)
        keys = [b"k%07d" % rng.randrange(n) for _ in range(n)]
        s3, l3 = timed(
            n, lambda i: con.execute("SELECT v FROM kv WHERE k = ?", (keys[i],)).fetchone()
        )
        con.close()
    return [
        Row("sqlite3", "durable put, 1 thread", n_durable, s1, l1, note="local file, fsync"),
        Row("sqlite3", "non-durable put, 1 thread", n, s2, l2, note="one transaction"),
        Row("sqlite3", "cached get, 1 thread", n, s3, l3),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--put-ms", type=float, default=50.0, help="injected latency per PUT")
    ap.add_argument("--get-ms", type=float, default=20.0, help="injected latency per GET/LIST")
    ap.add_argument("--n", type=int, default=50_000, help="ops for the non-durable/get rows")
    ap.add_argument("--durable", type=int, default=100, help="durable puts on one thread")
    ap.add_argument("--threads", type=int, default=64)
    ap.add_argument("--per-thread", type=int, default=20)
    args = ap.parse_args()

    rows: list[Row] = []
    store = latency_store(args.put_ms, args.get_ms)
    opts = Options(l0_compaction_trigger=0)
    # The single-process figures: exclusive mode (no other writer, so no start probes).
    with DB.open(store, options=opts, exclusive=True) as db:
        rows.append(
            measure(
                db,
                "durable put, 1 thread",
                args.durable,
                lambda i: db.put(b"d%06d" % i, b"v" * 100),
            )
        )
        rows.append(concurrent_puts(db, args.threads, args.per_thread))
        rows.append(
            measure(
                db,
                "non-durable put, 1 thread",
                args.n,
                lambda i: db.put(b"k%07d" % i, b"v" * 100, durable=False),
            )
        )
        db.flush()
        rng = random.Random(3)
        keys = [b"k%07d" % rng.randrange(args.n) for _ in range(args.n)]
        for _ in db.scan():
            pass  # reads every block once: the block cache is warm
        rows.append(
            measure(
                db,
                "cached get, 1 thread",
                args.n,
                lambda i: db.get(keys[i]),
                "SST blocks in the block cache",
            )
        )
    # Shared mode: each read first probes the next WAL id (one GET), unless a view up to
    # max_staleness_ms old is good enough.
    with DB.open(store, options=opts) as db:
        rows.append(
            measure(
                db,
                "get, shared mode",
                min(args.n, 200),
                lambda i: db.get(keys[i]),
                "a probe GET per read (fresh across processes)",
            )
        )
    stale = Options(l0_compaction_trigger=0, max_staleness_ms=60_000)
    with DB.open(store, options=stale) as db:
        rows.append(
            measure(
                db,
                "get, shared, max_staleness 60 s",
                args.n,
                lambda i: db.get(keys[i]),
                "no probe while the view is younger",
            )
        )
    cold_opts = Options(block_cache_bytes=0, l0_compaction_trigger=0, max_staleness_ms=60_000)
    with DB.open(store, options=cold_opts, read_only=True) as db:
        first = measure(
            db,
            "first read of an SST",
            1,
            lambda i: db.get(keys[0]),
            "footer+index+filter, then the block",
        )
        cold = measure(
            db, "cold point read", 200, lambda i: db.get(keys[i + 1]), "index cached, block not"
        )
        rows += [first, cold]
    rows += sqlite_rows(args.n, args.durable)

    table = Table(
        title=f"kvengine vs sqlite3 — injected latency PUT {args.put_ms:g} ms, "
        f"GET/LIST {args.get_ms:g} ms"
    )
    for col in [
        "system",
        "workload",
        "ops",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "requests/1k ops",
        "$/1M ops (GCS)",
        "note",
    ]:
        table.add_column(col, justify="left" if col in ("system", "workload", "note") else "right")
    for row in rows:
        table.add_row(*row.cells())
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
