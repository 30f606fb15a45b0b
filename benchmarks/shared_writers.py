"""Shared writers: transactions from many threads and processes on one database (issue 8).

Every process opens the same local directory through its own store, wrapped in
``LatencyStore`` (50 ms per PUT, 20 ms per GET/HEAD by default, LIST like GET), so the figures
show the engine's request pattern at object-store latency, not the disk. Each worker thread
runs read-modify-write transactions (``get`` then ``put`` of one key) for ``--seconds``,
retrying on ``Conflict``. Workloads:

1. 1 process x 64 threads, shared mode, disjoint keys;
2. the same, exclusive mode;
3. 4 processes x 16 threads, shared, disjoint keys;
4. 4 processes x 16 threads, shared, 100 hot keys (conflicts expected, retried);
5. one thread, sequential transactions: the latency of a lone durable commit.

Commits, conflicts and requests are counted over the window (``--seconds`` from the start,
every process's store, every attempt); latencies cover every transaction, including those still
running when the window closed, whose finishing time is the "drain" column. "p50/p99" are whole
transactions, from ``db.transaction()`` (the start probe in shared mode) to the durable commit,
conflict retries included; "begin" is ``db.transaction()`` alone. "/c" is per commit.

    python benchmarks/shared_writers.py            # 10 s per workload
    python benchmarks/shared_writers.py --quick    # CI smoke run, about 20 s in all
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import queue
import random
import statistics
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from rich.console import Console
from rich.table import Table

from kvengine import DB, Conflict, Options
from kvengine.store import (
    DELETE,
    GET,
    HEAD,
    LIST,
    PUT,
    REQUEST_KINDS,
    LatencyStore,
    ObjectStore,
    Store,
    cost_usd,
    open_store,
)

PRICE_TABLE = "gcs-standard"
#: Keys each thread cycles through in the disjoint workloads.
KEYS_PER_THREAD = 100
VALUE_PAD = b"v" * 92
#: A worker process that has not reported this long after the window closed is a hang.
REPORT_GRACE_S = 300.0


@dataclass(frozen=True)
class Latency:
    put_ms: float
    get_ms: float
    list_ms: float

    def wrap(self, seed: int) -> LatencyWrap:
        return LatencyWrap(self, seed)


@dataclass(frozen=True)
class LatencyWrap:
    """``open_store(wrap=...)`` callable; a class so that it pickles for spawned processes."""

    latency: Latency
    seed: int

    def __call__(self, inner: ObjectStore) -> ObjectStore:
        lat = self.latency
        return LatencyStore(
            inner,
            {
                PUT: lat.put_ms / 1000,
                GET: lat.get_ms / 1000,
                HEAD: lat.get_ms / 1000,
                LIST: lat.list_ms / 1000,
            },
            seed=self.seed,
        )


@dataclass(frozen=True)
class Workload:
    name: str
    procs: int
    threads: int  # per process
    exclusive: bool = False
    hot_keys: int = 0  # 0: each thread has keys of its own


@dataclass
class ProcResult:
    """What one worker process measured; sent to the parent. Counts are for the window
    (``seconds`` from the start); latencies cover every transaction, including those that
    finished after the window closed (the drain)."""

    commits: int = 0
    conflicts: int = 0
    commit_ms: list[float] = field(default_factory=list)
    begin_ms: list[float] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    request_s: dict[str, float] = field(default_factory=dict)
    wal_puts: int = 0
    drain_s: float = 0.0  # from the end of the window until the last transaction finished
    conflicts_raised: int = 0  # whole run, to check the engine's counter
    conflicts_counted: int = 0
    error: str | None = None


@dataclass
class Row:
    workload: Workload
    seconds: float
    commits: int
    conflicts: int
    commit_ms: list[float]
    begin_ms: list[float]
    requests: dict[str, int]
    request_s: dict[str, float]
    wal_puts: int
    drain_s: float

    @property
    def rate(self) -> float:
        return self.commits / self.seconds

    @property
    def p50(self) -> float:
        return statistics.median(self.commit_ms) if self.commit_ms else float("nan")

    @property
    def p99(self) -> float:
        return percentile(self.commit_ms, 0.99)

    def per_commit(self, kind: str) -> float:
        return self.requests.get(kind, 0) / self.commits if self.commits else float("nan")

    def mean_request_ms(self, kind: str) -> float:
        n = self.requests.get(kind, 0)
        return 1000 * self.request_s.get(kind, 0.0) / n if n else float("nan")

    @property
    def usd_per_million(self) -> float:
        if not self.commits:
            return float("nan")
        return 1e6 * cost_usd(self.requests, PRICE_TABLE) / self.commits

    def cells(self) -> list[str]:
        w = self.workload
        begin = f"{statistics.median(self.begin_ms):.1f}" if self.begin_ms else "-"
        commits_per_put = f"{self.commits / self.wal_puts:.2f}" if self.wal_puts else "-"
        return [
            w.name,
            f"{w.procs}x{w.threads}",
            "exclusive" if w.exclusive else "shared",
            f"{self.commits:,}",
            f"{self.rate:,.1f}",
            f"{self.p50:.1f}",
            f"{self.p99:.1f}",
            begin,
            f"{self.conflicts / self.seconds:,.1f}",
            commits_per_put,
            *(f"{self.per_commit(kind):.3f}" for kind in (PUT, GET, LIST, HEAD, DELETE)),
            f"{self.usd_per_million:.2f}",
            f"{self.drain_s:.2f}",
        ]


COLUMNS = [
    "workload",
    "procs x thr",
    "mode",
    "commits",
    "commits/s",
    "p50 ms",
    "p99 ms",
    "begin p50",
    "conflicts/s",
    "commits/WAL PUT",
    "PUT/c",
    "GET/c",
    "LIST/c",
    "HEAD/c",
    "DEL/c",
    "$/1M (GCS)",
    "drain s",
]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def bump(value: bytes | None) -> bytes:
    """The read-modify-write: a counter in the first 8 bytes, padded to 100 bytes."""
    n = int(value[:8]) if value else 0
    return b"%08d" % ((n + 1) % 100_000_000) + VALUE_PAD


# -- the worker process ------------------------------------------------------------------------


def worker(
    index: int,
    directory: str,
    workload: Workload,
    latency: Latency,
    seconds: float,
    barrier: Barrier,
    results: Queue[ProcResult],
) -> None:
    try:
        results.put(run_process(index, directory, workload, latency, seconds, barrier))
    except BaseException:
        barrier.abort()  # the other processes fail at the barrier instead of hanging
        results.put(ProcResult(error=f"process {index}:\n{traceback.format_exc()}"))


def run_process(
    index: int,
    directory: str,
    workload: Workload,
    latency: Latency,
    seconds: float,
    barrier: Barrier,
) -> ProcResult:
    store: Store = open_store(directory, wrap=latency.wrap(seed=1000 + index))
    out = ProcResult()
    lock = threading.Lock()
    db = DB.open(store, options=Options(), exclusive=workload.exclusive)
    try:
        barrier.wait()  # every process has opened the database
        before, stats_before = store.stats(), db.stats()
        start = time.monotonic()
        deadline = start + seconds

        def body(t: int) -> None:
            rng = random.Random(index * 10_000 + t)
            if workload.hot_keys:
                keys = [b"hot-%03d" % i for i in range(workload.hot_keys)]
            else:
                keys = [b"p%d-t%02d-k%03d" % (index, t, i) for i in range(KEYS_PER_THREAD)]
            commit_ms: list[float] = []
            begin_ms: list[float] = []
            commits = conflicts = conflicts_all = 0
            i = 0
            while time.monotonic() < deadline:
                key = rng.choice(keys) if workload.hot_keys else keys[i % len(keys)]
                i += 1
                t0 = time.perf_counter()
                while True:
                    b0 = time.perf_counter()
                    try:
                        with db.transaction() as txn:
                            begin_ms.append((time.perf_counter() - b0) * 1000)
                            txn.put(key, bump(txn.get(key)))
                    except Conflict:
                        conflicts_all += 1
                        conflicts += time.monotonic() <= deadline
                        continue
                    break
                commit_ms.append((time.perf_counter() - t0) * 1000)
                commits += time.monotonic() <= deadline
            with lock:
                out.commit_ms += commit_ms
                out.begin_ms += begin_ms
                out.commits += commits
                out.conflicts += conflicts
                out.conflicts_raised += conflicts_all

        threads = [threading.Thread(target=body, args=(t,)) for t in range(workload.threads)]
        for th in threads:
            th.start()
        time.sleep(max(0.0, deadline - time.monotonic()))
        at_deadline, stats_at_deadline = store.stats(), db.stats()
        for th in threads:
            th.join()
        out.drain_s = time.monotonic() - deadline
        out.conflicts_counted = db.stats()["conflicts"] - stats_before["conflicts"]
    finally:
        db.close()
    delta = at_deadline - before
    out.requests = dict(delta.requests)
    out.request_s = dict(delta.seconds)
    out.wal_puts = stats_at_deadline["wal_puts"] - stats_before["wal_puts"]
    return out


# -- the parent --------------------------------------------------------------------------------


def run_workload(workload: Workload, latency: Latency, seconds: float) -> Row:
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="strata-shared-") as directory:
        barrier = ctx.Barrier(workload.procs)
        results: Queue[ProcResult] = ctx.Queue()
        procs = [
            ctx.Process(
                target=worker,
                args=(i, directory, workload, latency, seconds, barrier, results),
                name=f"{workload.name}-{i}",
            )
            for i in range(workload.procs)
        ]
        for p in procs:
            p.start()
        got: list[ProcResult] = []
        try:
            for _ in procs:
                got.append(results.get(timeout=seconds + REPORT_GRACE_S))
        except queue.Empty:
            raise RuntimeError(f"{workload.name}: a worker process did not report") from None
        finally:
            for p in procs:
                p.join(timeout=30)
                if p.is_alive():
                    p.terminate()
        errors = [r.error for r in got if r.error]
        if errors:
            raise RuntimeError("\n".join(errors))
    raised = sum(r.conflicts_raised for r in got)
    counted = sum(r.conflicts_counted for r in got)
    if raised != counted:
        print(f"note: {workload.name}: {raised} Conflict raised, {counted} counted by db.stats()")
    return Row(
        workload=workload,
        seconds=seconds,
        commits=sum(r.commits for r in got),
        conflicts=sum(r.conflicts for r in got),
        commit_ms=[x for r in got for x in r.commit_ms],
        begin_ms=[x for r in got for x in r.begin_ms],
        requests={k: sum(r.requests.get(k, 0) for r in got) for k in REQUEST_KINDS},
        request_s={k: sum(r.request_s.get(k, 0.0) for r in got) for k in REQUEST_KINDS},
        wal_puts=sum(r.wal_puts for r in got),
        drain_s=max(r.drain_s for r in got),
    )


def target_line(name: str, met: bool, detail: str) -> str:
    return f"[{'x' if met else ' '}] {name}: {detail} -> {'met' if met else 'NOT met'}"


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each workload")
    ap.add_argument("--put-ms", type=float, default=50.0, help="injected latency per PUT")
    ap.add_argument("--get-ms", type=float, default=20.0, help="injected latency per GET/HEAD")
    ap.add_argument("--list-ms", type=float, default=None, help="per LIST (default: --get-ms)")
    ap.add_argument("--threads", type=int, default=64, help="threads in all (split over procs)")
    ap.add_argument("--procs", type=int, default=4, help="processes of the multi-process rows")
    ap.add_argument("--hot-keys", type=int, default=100)
    ap.add_argument(
        "--quick", action="store_true", help="CI smoke run: 2 s per workload, 16 threads"
    )
    ap.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.threads = 2.0, 16
    latency = Latency(
        args.put_ms, args.get_ms, args.get_ms if args.list_ms is None else args.list_ms
    )
    n, p = args.threads, args.procs
    per_proc = max(1, n // p)
    workloads = [
        Workload("disjoint", 1, n),
        Workload("disjoint", 1, n, exclusive=True),
        Workload("disjoint", p, per_proc),
        Workload(f"{args.hot_keys} hot keys", p, per_proc, hot_keys=args.hot_keys),
        Workload("single commit", 1, 1),
    ]
    console = Console(width=220)
    rows = []
    for w in workloads:
        mode = "exclusive" if w.exclusive else "shared"
        console.print(f"running {w.name}, {w.procs}x{w.threads} {mode}, {args.seconds:g} s ...")
        rows.append(run_workload(w, latency, args.seconds))

    table = Table(
        title=f"Shared writers: read-modify-write transactions, injected latency PUT "
        f"{latency.put_ms:g} ms, GET/HEAD {latency.get_ms:g} ms, LIST {latency.list_ms:g} ms, "
        f"{args.seconds:g} s each"
    )
    for col in COLUMNS:
        table.add_column(col, justify="left" if col in ("workload", "mode") else "right")
    for row in rows:
        table.add_row(*row.cells())
    console.print(table)
    if args.markdown:
        print("| " + " | ".join(COLUMNS) + " |")
        print("|" + "|".join("---" if c in ("workload", "mode") else "---:" for c in COLUMNS) + "|")
        for row in rows:
            print("| " + " | ".join(row.cells()) + " |")

    shared, exclusive, multi, _hot, single = rows
    r1 = shared.rate / exclusive.rate if exclusive.rate else float("nan")
    r2 = multi.rate / shared.rate if shared.rate else float("nan")
    nominal = latency.put_ms + latency.get_ms
    r3 = single.p50 / nominal
    measured = single.mean_request_ms(PUT) + single.mean_request_ms(GET)
    lines = [
        target_line(
            f"shared 1 proc within 10% of exclusive ({n} threads)",
            r1 >= 0.9,
            f"{shared.rate:,.1f} / {exclusive.rate:,.1f} commits/s = {r1:.2f}x (need >= 0.90)",
        ),
        target_line(
            f"{p} procs disjoint >= 0.5x of 1 proc {n} threads",
            r2 >= 0.5,
            f"{multi.rate:,.1f} / {shared.rate:,.1f} commits/s = {r2:.2f}x (need >= 0.50)",
        ),
        target_line(
            "single commit p50 <= 1.2 x (PUT + probe GET)",
            r3 <= 1.2,
            f"{single.p50:.1f} ms / ({latency.put_ms:g} + {latency.get_ms:g}) ms = {r3:.2f}x "
            f"(measured mean PUT + GET {measured:.1f} ms: {single.p50 / measured:.2f}x)",
        ),
    ]
    if args.quick:
        lines.append("(quick run: 2 s workloads, fewer threads; the targets are for full runs)")
    for line in lines:
        console.print(line, markup=False, highlight=False)


if __name__ == "__main__":
    main()
