"""Compaction on a local directory: throughput, peak memory, and point-read latency with L0 at
its stop limit against after a compaction.

The input is built directly as L0 SSTs (random keys from a key space half the entry count, so
about half the versions are overwritten; incompressible 1000-byte values), then a fresh
process opens the database and runs ``DB.compact`` and reports its peak resident memory above
what it used after opening. Each measurement runs in its own process.

    python benchmarks/compaction.py                 # the table in docs/benchmarks.md
    python benchmarks/compaction.py --mb 200 --sst-target-mb 4
    python benchmarks/compaction.py build DIR --mb 200 --ssts 25
    python benchmarks/compaction.py compact DIR --sst-target-mb 4   # prints one JSON line
    python benchmarks/compaction.py emulated s3 --mb 200 --sst-target-mb 64

``emulated gcs|s3|azure`` starts that emulator (``tests/emulators``; run from the repository
root) and builds and compacts there instead of a local directory; ``build`` and ``compact``
take a URL and ``--options JSON`` (storage options) as well as a directory.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from kvengine import DB, Options
from kvengine.manifest.store import FenceableManifest, ManifestStore
from kvengine.record import Entry, Kind
from kvengine.store import open_store
from kvengine.table_store import TableStore

VALUE_BYTES = 1000


def _peak_mib() -> float:
    """This process's peak resident memory (Linux ``VmHWM``)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(
    path: str, mb: float, ssts: int, seed: int = 1, options: dict[str, object] | None = None
) -> dict[str, int]:
    """``ssts`` L0 SSTs of about ``mb / ssts`` MB each, committed by one manifest each."""
    store = open_store(path, **(options or {}))
    tables = TableStore(store, Options())
    role = FenceableManifest.claim(ManifestStore(store), "compactor", os.urandom(16))
    rng = random.Random(seed)
    per_sst = max(1, int(mb * 1e6 / ssts / (VALUE_BYTES + 20)))
    key_space = max(1, per_sst * ssts // 2)
    seq = 0
    for sst_id in range(1, ssts + 1):
        keys = sorted({rng.randrange(key_space) for _ in range(per_sst)})
        builder = tables.new_builder()
        for k in keys:
            seq += 1
            builder.add(Entry(b"key%012d" % k, seq, Kind.PUT, os.urandom(VALUE_BYTES)))
        meta = tables.write_sst(sst_id, *builder.finish())
        assert meta is not None
        role.update(lambda m, meta=meta: m.with_l0_flush(meta, 0, meta.max_seq))
    store.close()
    return {"key_space": key_space, "input_bytes": role.manifest.total_bytes()}


def compact(
    path: str, sst_target_mb: float, storage: dict[str, object] | None = None
) -> dict[str, float]:
    """Open, compact everything, report seconds, MB/s and memory (run in a fresh process)."""
    # The compaction's own memory: with cache_written_blocks="all" (the default) a compaction
    # also fills the block cache with its outputs, up to block_cache_bytes (docs/benchmarks.md).
    options = Options(
        l0_compaction_trigger=0,
        sst_target_bytes=int(sst_target_mb * 1e6),
        cache_written_blocks="none",
    )
    with DB.open(path, options=options, **(storage or {})) as db:
        db.get(b"warm-up")
        input_bytes = db.manifest[1].total_bytes()
        base = _peak_mib()
        t0 = time.perf_counter()
        db.compact()
        seconds = time.perf_counter() - t0
        peak = _peak_mib()
        _, manifest = db.manifest
        keys = sum(1 for _ in db.scan())
    return {
        "input_mb": input_bytes / 1e6,
        "output_mb": manifest.total_bytes() / 1e6,
        "output_ssts": sum(len(r.ssts) for r in manifest.runs),
        "seconds": seconds,
        "mb_per_s": input_bytes / 1e6 / seconds,
        "base_mib": base,
        "peak_growth_mib": peak - base,
        "keys": keys,
    }


def latency(path: str, key_space: int, gets: int, then_compact: bool) -> dict[str, float]:
    """Point gets of random keys in a fresh process: mean and p99 microseconds, GETs per read
    (footer, index and filter reads of each SST included: the block cache starts cold; the
    start-of-read probe of the WAL tail is one of them)."""
    options = Options(l0_compaction_trigger=0)
    with DB.open(path, options=options) as db:
        if then_compact:
            db.compact()
        rng = random.Random(5)
        keys = [b"key%012d" % rng.randrange(key_space) for _ in range(gets)]
        before = db.stats()["requests"].get("GET", 0)
        times = []
        for key in keys:
            t0 = time.perf_counter()
            db.get(key)
            times.append((time.perf_counter() - t0) * 1e6)
        after = db.stats()["requests"].get("GET", 0)
        _, manifest = db.manifest
    times.sort()
    return {
        "l0": len(manifest.l0),
        "runs": len(manifest.runs),
        "mean_us": statistics.fmean(times),
        "p99_us": times[int(len(times) * 0.99)],
        "gets_per_read": (after - before) / gets,
    }


def _child(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", nargs="?", default="all")
    parser.add_argument("path", nargs="?")
    parser.add_argument("--mb", type=float, default=240.0)
    parser.add_argument("--ssts", type=int, default=8)
    parser.add_argument("--sst-target-mb", type=float, default=4.0)
    parser.add_argument("--l0-limit", type=int, default=Options().l0_stop_trigger)
    parser.add_argument("--gets", type=int, default=2000)
    parser.add_argument("--key-space", type=int, default=0)
    parser.add_argument("--then-compact", action="store_true")
    parser.add_argument("--options", default="{}", help="storage options (JSON) for a URL")
    a = parser.parse_args()
    storage = json.loads(a.options)
    if a.command == "build":
        print(json.dumps(build(a.path, a.mb, a.ssts, options=storage)))
    elif a.command == "compact":
        print(json.dumps(compact(a.path, a.sst_target_mb, storage)))
    elif a.command == "emulated":
        print(json.dumps(_emulated(a.path, a.mb, a.ssts, a.sst_target_mb)))
    elif a.command == "latency":
        print(json.dumps(latency(a.path, a.key_space, a.gets, a.then_compact)))
    else:
        _all(a)


def _emulated(kind: str, mb: float, ssts: int, sst_target_mb: float) -> dict[str, float]:
    """Build and compact (each in its own process) on a fresh emulator of ``kind``."""
    sys.path.insert(0, os.getcwd())
    from tests.emulators.azurite import azurite
    from tests.emulators.fake_gcs import fake_gcs
    from tests.emulators.moto_s3 import moto_s3

    launch = {"gcs": fake_gcs, "s3": moto_s3, "azure": azurite}[kind]
    with launch() as emulator:
        url = f"{emulator.url_prefix}/bench"
        opts = json.dumps(emulator.storage_options)
        _child("build", url, "--mb", str(mb), "--ssts", str(ssts), "--options", opts)
        return _child("compact", url, "--sst-target-mb", str(sst_target_mb), "--options", opts)


def _all(a: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    with tempfile.TemporaryDirectory() as tmp:
        table = Table(title="Compaction into one run on a local directory")
        cols = ("input MB", "input SSTs", "output MB", "output SSTs", "s", "MB/s", "peak RSS +MiB")
        for col in cols:
            table.add_column(col, justify="right")
        for ssts in sorted({a.ssts, 25}):
            big = os.path.join(tmp, f"big{ssts}")
            built = _child("build", big, "--mb", str(a.mb), "--ssts", str(ssts))
            c = _child("compact", big, "--sst-target-mb", str(a.sst_target_mb))
            assert c["keys"] <= built["key_space"]
            table.add_row(
                f"{c['input_mb']:.0f}",
                str(ssts),
                f"{c['output_mb']:.0f}",
                f"{c['output_ssts']:.0f}",
                f"{c['seconds']:.1f}",
                f"{c['mb_per_s']:.0f}",
                f"{c['peak_growth_mib']:.0f}",
            )
        Console().print(table)
        small = os.path.join(tmp, "l0")
        mb = a.l0_limit * 1.0  # one MB per L0 SST
        built = _child("build", small, "--mb", str(mb), "--ssts", str(a.l0_limit))
        common = ("latency", small, "--key-space", str(built["key_space"]), "--gets", str(a.gets))
        rows = [
            (f"L0 at its stop limit ({a.l0_limit} SSTs)", _child(*common)),
            ("after compaction (one run)", _child(*common, "--then-compact")),
        ]
        table = Table(title=f"Point gets, {a.gets} random keys, cold cache, local directory")
        for col in ("shape", "L0 SSTs", "runs", "mean µs", "p99 µs", "GETs per read"):
            table.add_column(col, justify="right")
        for name, r in rows:
            table.add_row(
                name,
                f"{r['l0']:.0f}",
                f"{r['runs']:.0f}",
                f"{r['mean_us']:.0f}",
                f"{r['p99_us']:.0f}",
                f"{r['gets_per_read']:.2f}",
            )
        Console().print(table)


if __name__ == "__main__":
    main()
