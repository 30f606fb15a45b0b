"""The DB-API driver beside sqlite3 on the same machine, same run: executemany insert, primary
key selects and a full-table scan.

    python benchmarks/sql_vs_sqlite.py --rows 10000
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

import dialect

SCHEMA = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL, qty INT)"


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def workload(conn: Any, rows: int) -> dict[str, float]:
    data = [(i, f"item-{i}", i * 0.5, i % 7) for i in range(rows)]
    conn.execute(SCHEMA)
    conn.commit()
    out = {}
    cur = conn.cursor()

    def insert() -> None:
        cur.executemany("INSERT INTO items VALUES (?, ?, ?, ?)", data)
        conn.commit()

    out["executemany insert"] = timed(insert)
    rng = random.Random(5)
    keys = [rng.randrange(rows) for _ in range(rows)]

    def selects() -> None:
        for k in keys:
            cur.execute("SELECT name, price FROM items WHERE id = ?", (k,)).fetchone()

    out["primary-key select"] = timed(selects)

    def scan() -> None:
        got = cur.execute("SELECT id, name, price, qty FROM items").fetchall()
        assert len(got) == rows

    out["full-table scan"] = timed(scan)

    def aggregate() -> None:
        cur.execute("SELECT qty, COUNT(*), SUM(price) FROM items GROUP BY qty").fetchall()

    out["group by"] = timed(aggregate)
    conn.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        results = {
            "sqlite3 (file)": workload(sqlite3.connect(os.path.join(d, "x.db")), args.rows),
            "strata (local dir)": workload(dialect.connect(os.path.join(d, "strata")), args.rows),
            "strata (memory)": workload(dialect.connect("memory://bench"), args.rows),
        }
    table = Table(title=f"DB-API: {args.rows:,} rows, ops/s (seconds)")
    table.add_column("workload")
    for name in results:
        table.add_column(name, justify="right")
    for w in next(iter(results.values())):
        ops = 1 if w in ("full-table scan", "group by") else args.rows
        table.add_row(w, *(f"{ops / r[w]:,.0f}/s ({r[w]:.3f} s)" for r in results.values()))
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
