"""Space amplification before and after garbage collection (issue 13's target).

Overwrites the same KEYS keys ROUNDS times with random values (each round flushed to an SST,
compactions as the options trigger them), compacts everything into one run, then runs GC at
min age 0 and prints bucket bytes / live data bytes before and after, with object counts.

    python benchmarks/storage_lifecycle.py [DIR] [--keys 1000] [--rounds 20] [--value-bytes 100]

With ``--bytes N`` it instead writes N bytes of random overwrites (random keys among KEYS, in
shared mode, flushes and compactions as the options trigger them, GC at min age 0 every
``--gc-every`` bytes), then compacts everything and collects once more. It prints write
amplification (bytes PUT to ``sst/`` and ``wal/`` per byte written by the user) and space
amplification (bucket bytes per live byte) at the end of the writes and after the final
compaction and GC:

    python benchmarks/storage_lifecycle.py --bytes 500e6 --keys 100000 --value-bytes 1000
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time

from kvengine import DB, Options
from kvengine.gc import KINDS, GarbageCollector


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dir", nargs="?")
    p.add_argument("--keys", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--value-bytes", type=int, default=100)
    p.add_argument("--trigger", type=int, default=Options().l0_compaction_trigger)
    p.add_argument("--bytes", type=float, default=0, help="random overwrites of this many bytes")
    p.add_argument("--gc-every", type=float, default=50e6, help="bytes between GC runs")
    p.add_argument("--l0-mb", type=float, default=Options().l0_sst_size / 2**20)
    args = p.parse_args()
    root = args.dir or tempfile.mkdtemp(prefix="strata-gc-")
    if args.bytes:
        overwrites(root, args)
        return
    options = Options(l0_compaction_trigger=args.trigger, gc_interval_s=0)
    with DB.open(root, options=options) as db:
        for _round in range(args.rounds):
            for i in range(args.keys):  # random values: compression cannot hide anything
                db.put(b"key%08d" % i, os.urandom(args.value_bytes), durable=False)
            db.flush()
        db.compact()
        live = sum(len(k) + len(v) for k, v in db.scan())
        store = db.store

        def total() -> tuple[int, int]:
            objs = [o for o in store.list("") if not o.path.startswith("gc/")]
            return len(objs), sum(o.size for o in objs)

        n0, b0 = total()
        report = GarbageCollector(store, min_age_s=0).run()
        n1, b1 = total()
        stats = db.stats()
    print(f"{args.keys} keys x {args.rounds} rounds, {args.value_bytes}-byte values: live {live} B")
    print(f"L0 SSTs {stats['l0_ssts']}, sorted runs {stats['sorted_runs']}")
    print(f"before GC: {n0} objects, {b0} B = {b0 / live:.1f}x live")
    print(f"after GC:  {n1} objects, {b1} B = {b1 / live:.2f}x live")
    print("deleted: " + ", ".join(f"{k} {report.count(k)} ({report.bytes(k)} B)" for k in KINDS))


def _bucket(db: DB) -> tuple[int, int]:
    objs = [o for o in db.store.list("") if not o.path.startswith("gc/")]
    return len(objs), sum(o.size for o in objs)


def _live(db: DB) -> int:
    return sum(len(k) + len(v) for k, v in db.scan())


def _written(db: DB) -> int:
    """Bytes PUT so far to SSTs and WAL objects (instrumented store: every attempt)."""
    return db.store.stats().bytes_written


def overwrites(root: str, args: argparse.Namespace) -> None:
    options = Options(
        l0_compaction_trigger=args.trigger, gc_interval_s=0, l0_sst_size=int(args.l0_mb * 2**20)
    )
    rng = random.Random(1)
    user = 0
    next_gc = args.gc_every
    started = time.monotonic()
    gc = None
    with DB.open(root, options=options) as db:
        while user < args.bytes:
            key = b"key%010d" % rng.randrange(args.keys)
            value = rng.randbytes(args.value_bytes)
            db.put(key, value, durable=False)
            user += len(key) + len(value)
            if user >= next_gc:
                GarbageCollector(db.store, min_age_s=0).run()
                next_gc += args.gc_every
        db.flush()
        write_s = time.monotonic() - started
        written_end = _written(db)
        live = _live(db)
        n_end, b_end = _bucket(db)
        stats_end = db.stats()
        compactions = stats_end["compactions"]
        gc = GarbageCollector(db.store, min_age_s=0).run()
        n_gc, b_gc = _bucket(db)
        db.compact()
        GarbageCollector(db.store, min_age_s=0).run()
        n_final, b_final = _bucket(db)
        written_final = _written(db)
    print(
        f"{user / 1e6:.0f} MB of random overwrites over {args.keys} keys "
        f"({args.value_bytes}-byte values) in {write_s:.0f} s, shared mode, L0 SSTs of "
        f"{args.l0_mb:g} MiB, trigger {args.trigger}; live {live / 1e6:.1f} MB"
    )
    print(
        f"end of writes: {compactions} compactions, L0 SSTs {stats_end['l0_ssts']}, "
        f"runs {stats_end['sorted_runs']}; "
        f"bucket {n_end} objects {b_end / 1e6:.1f} MB = {b_end / live:.2f}x live"
    )
    print(f"after GC:      {n_gc} objects {b_gc / 1e6:.1f} MB = {b_gc / live:.2f}x live")
    print(
        f"after compact + GC: {n_final} objects {b_final / 1e6:.1f} MB = {b_final / live:.2f}x live"
    )
    print(
        f"write amplification (bytes PUT / user bytes): {written_end / user:.2f} at the end of "
        f"the writes, {written_final / user:.2f} with the final compaction"
    )
    assert gc is not None


if __name__ == "__main__":
    main()
