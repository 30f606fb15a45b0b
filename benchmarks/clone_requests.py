"""Requests a clone costs (issue 13: a clone copies no SSTs), on the source and the target.

Builds a source with S flushed SSTs (100 keys each; compactions may merge them) and W WAL
objects written after the last flush, takes checkpoint ``base`` and clones it, counting the
requests of each store. Run over a local directory:

    python benchmarks/clone_requests.py [DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from kvengine import DB, Options, open_store
from kvengine import clone as clones
from kvengine.record import Entry
from kvengine.store import Store


def _kinds(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}


def measure(root: Path, ssts: int, wals: int) -> None:
    src_url, dst_url = str(root / f"src-{ssts}-{wals}"), str(root / f"dst-{ssts}-{wals}")
    with DB.open(src_url) as db:
        for s in range(ssts):
            for i in range(100):
                db.put(b"k%02d%04d" % (s, i), b"x" * 100)
            db.flush()
        for w in range(wals):
            db.put(b"w%04d" % w, b"y")
        db.checkpoint("base")
    options = Options()
    src: Store = open_store(src_url)
    dst: Store = open_store(dst_url)

    def replay() -> list[Entry]:
        at = DB._open_checkpoint(src, options, "base", owns_store=False)
        try:
            return list(at._view.version.memtable.entries())
        finally:
            at.close()

    s0, d0 = dict(src.instrumented.stats().requests), dict(dst.instrumented.stats().requests)
    m = clones.create(src, src_url, "base", dst, dst_url, options, replay)
    s1, d1 = dict(src.instrumented.stats().requests), dict(dst.instrumented.stats().requests)
    print(
        f"flushed SSTs {ssts:3d}, WAL objects in the range {wals:3d}: the clone lists "
        f"{len(m.all_ssts())} SSTs; source {_kinds(s0, s1)}, target {_kinds(d0, d1)}"
    )
    src.close()
    dst.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dir", nargs="?", help="where to put the databases (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.dir or tmp)
        for ssts, wals in ((4, 0), (4, 20), (40, 20)):
            measure(root, ssts, wals)


if __name__ == "__main__":
    main()
