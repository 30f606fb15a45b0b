"""Memory while reading a large table through the DB-API: ``fetchmany`` in batches (rows
stream from the store) against ``fetchall``, beside sqlite3. Each reader runs in a fresh
process and reports its peak resident memory above what it used after connecting.

    python benchmarks/streaming.py --rows 1000000
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from typing import Any

from rich.console import Console
from rich.table import Table

import dialect
import kvengine

BATCH = 1000


def _fill(conn: Any, rows: int) -> None:
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
    cur = conn.cursor()
    for start in range(0, rows, 50_000):
        chunk = [(i, f"name-{i:09d}", i * 0.5) for i in range(start, min(rows, start + 50_000))]
        cur.executemany("INSERT INTO t VALUES (?, ?, ?)", chunk)
        conn.commit()


def _peak_mib() -> float:
    """This process's peak resident memory (Linux ``VmHWM``; ``ru_maxrss`` would carry the
    parent's peak across exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _read(kind: str, mode: str, path: str, cache_mib: str) -> None:
    """Child process: read every row and print ``rows seconds peak-MiB-above-start
    MiB-at-start``."""
    if kind == "strata" and cache_mib != "default":  # the engine the connection will share
        kvengine.DB.open(path, options=kvengine.Options(block_cache_bytes=int(cache_mib) << 20))
    conn: Any = sqlite3.connect(path) if kind == "sqlite" else dialect.connect(path)
    conn.execute("SELECT 1").fetchall()
    base = _peak_mib()
    t0 = time.perf_counter()
    cur = conn.execute("SELECT id, name, price FROM t")
    n = 0
    if mode == "fetchall":
        n = len(cur.fetchall())
    else:
        while batch := cur.fetchmany(BATCH):
            n += len(batch)
    print(n, time.perf_counter() - t0, _peak_mib() - base, base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _read(*args.child)
        return
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"sqlite": f"{tmp}/db.sqlite", "strata": f"{tmp}/strata"}
        with console.status(f"writing {args.rows:,} rows to each"):
            for kind, path in paths.items():
                conn: Any = sqlite3.connect(path) if kind == "sqlite" else dialect.connect(path)
                _fill(conn, args.rows)
                conn.close()
        table = Table(title=f"Reading {args.rows:,} rows: peak memory above start")
        cols = (
            "database",
            "how",
            "block cache",
            "rows",
            "seconds",
            "MiB at start",
            "peak MiB above",
        )
        for col in cols:
            table.add_column(col, justify="left" if col in ("database", "how") else "right")
        runs = [("sqlite", "-"), ("strata", "default"), ("strata", "4")]
        for kind, cache in runs:
            path = paths[kind]
            for mode in (f"fetchmany({BATCH})", "fetchall"):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", kind, mode.split("(")[0], path, cache],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.split()
                rows, seconds, above, start = out
                table.add_row(
                    kind,
                    mode,
                    cache if cache in ("-", "default") else f"{cache} MiB",
                    f"{int(rows):,}",
                    f"{float(seconds):.2f}",
                    f"{float(start):.1f}",
                    f"{float(above):.1f}",
                )
        console.print(table)


if __name__ == "__main__":
    main()
