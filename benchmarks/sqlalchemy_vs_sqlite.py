"""Strata and sqlite3 through SQLAlchemy, same machine, same run: Core insert, primary-key
selects, and a pandas to_sql/read_sql round trip.

    python benchmarks/sqlalchemy_vs_sqlite.py --rows 10000 --frame-rows 100000

A thin wrapper over ``strata bench sql`` (dialect/bench.py) keeping this table's shape: the
Core insert is one commit of every row, Strata runs on a local directory.
"""

from __future__ import annotations

import argparse
import tempfile

from rich.console import Console
from rich.table import Table

from dialect.bench import SQLConfig, run_sql


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--frame-rows", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        small = SQLConfig(rows=args.rows, ops=args.rows, batch=args.rows, url=d)
        frame = SQLConfig(rows=args.frame_rows, batch=10_000, url=d)
        results = run_sql(["insert", "pk-select"], small).results
        results += run_sql(["to_sql", "read_sql"], frame).results
    labels = {
        "insert": f"Core insert {args.rows:,} rows",
        "pk-select": f"{args.rows:,} primary-key selects",
        "to_sql": f"pandas to_sql {args.frame_rows:,} rows",
        "read_sql": f"pandas read_sql {args.frame_rows:,} rows",
    }
    table = Table(title="Through SQLAlchemy: seconds (lower is better)")
    for col in ("workload", "sqlite (file)", "strata (local dir)", "strata / sqlite"):
        table.add_column(col, justify="left" if col == "workload" else "right")
    for lite, ours in zip(results[::2], results[1::2], strict=True):
        ratio = ours.ratio_vs_sqlite
        table.add_row(
            labels[ours.workload],
            f"{lite.seconds:.3f}",
            f"{ours.seconds:.3f}",
            f"{ratio:.1f}x" if ratio is not None else "-",
        )
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
