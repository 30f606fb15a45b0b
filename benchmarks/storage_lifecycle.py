"""Space amplification before and after garbage collection (issue 13's target).

Overwrites the same KEYS keys ROUNDS times with random values (each round flushed to an SST,
compactions as the options trigger them), compacts everything into one run, then runs GC at
min age 0 and prints bucket bytes / live data bytes before and after, with object counts.

    python benchmarks/storage_lifecycle.py [DIR] [--keys 1000] [--rounds 20] [--value-bytes 100]
"""

from __future__ import annotations

import argparse
import os
import tempfile

from kvengine import DB, Options
from kvengine.gc import KINDS, GarbageCollector


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dir", nargs="?")
    p.add_argument("--keys", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--value-bytes", type=int, default=100)
    p.add_argument("--trigger", type=int, default=Options().l0_compaction_trigger)
    args = p.parse_args()
    root = args.dir or tempfile.mkdtemp(prefix="strata-gc-")
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


if __name__ == "__main__":
    main()
