"""Requests per second of an idle database, per role (issue 13: at most one per second).

Opens, on one store, three processes' worth of engines (each on its own store object, so each
has its own request counters): the flush-and-compaction *holder* (a writer that flushed once,
so it holds the role; it polls every ``flusher_poll_ms``), a *writer* that does not hold the
role, and a *reader* (``read_only=True``, polling every ``reader_poll_ms`` and holding its
checkpoint). Nothing is written during the measurement; after 10 polls that found nothing,
the holder and the reader poll 3 times less often (kvengine/flusher.py ``IDLE_FACTOR``).
The holder's garbage collection runs every ``gc_interval_s`` (300 s by default, longer than a
measurement): one run is timed apart and its requests spread over that interval.

    python benchmarks/idle_requests.py [DIR] [--seconds 30] [--warmup 12]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter

from kvengine import DB, Options, open_store
from kvengine.gc import GarbageCollector


def _count(db: DB) -> Counter[str]:
    return Counter(db.stats()["requests"])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dir", nargs="?")
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument(
        "--warmup",
        type=float,
        default=12.0,
        help="idle seconds before measuring (the polls "
        "slow down after 10 that found nothing; 0 measures from the opens)",
    )
    args = p.parse_args()
    root = args.dir or tempfile.mkdtemp(prefix="strata-idle-")
    options = Options()
    holder = DB.open(open_store(root), options=options)
    holder.put(b"k", b"v")
    holder.flush()  # takes the flush-and-compaction role
    writer = DB.open(open_store(root), options=options)
    writer.get(b"k")
    reader = DB.open(open_store(root), read_only=True, options=options)
    reader.get(b"k")
    roles = {"holder": holder, "writer": writer, "reader": reader}
    try:
        assert holder.stats()["flush_role"] and not writer.stats()["flush_role"]
        time.sleep(args.warmup)
        before = {name: _count(db) for name, db in roles.items()}
        started = time.monotonic()
        time.sleep(args.seconds)
        elapsed = time.monotonic() - started
        after = {name: _count(db) for name, db in roles.items()}
        gc_store = open_store(root)
        GarbageCollector(gc_store, min_age_s=options.gc_min_age_s).run()
        gc_requests = sum(gc_store.stats().requests.values())
        gc_store.close()
        total = 0.0
        print(
            f"idle for {elapsed:.1f} s (flusher_poll_ms={options.flusher_poll_ms}, "
            f"reader_poll_ms={options.reader_poll_ms}, gc_interval_s={options.gc_interval_s})"
        )
        for name in roles:
            diff = after[name] - before[name]
            rate = sum(diff.values()) / elapsed
            if name == "holder":
                rate += gc_requests / options.gc_interval_s
            total += rate
            detail = ", ".join(f"{k} {v}" for k, v in sorted(diff.items())) or "none"
            extra = f" + GC {gc_requests} requests / {options.gc_interval_s:.0f} s" * (
                name == "holder"
            )
            print(f"{name:7} {rate:5.2f} requests/s ({detail}{extra})")
        print(f"total   {total:5.2f} requests/s")
    finally:
        for db in roles.values():
            db.close()


if __name__ == "__main__":
    main()
