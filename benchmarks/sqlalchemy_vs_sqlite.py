"""Strata and sqlite3 through SQLAlchemy, same machine, same run: Core insert, primary-key
selects, and a pandas to_sql/read_sql round trip.

    python benchmarks/sqlalchemy_vs_sqlite.py --rows 10000 --frame-rows 100000
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def workload(url: str, rows: int, frame_rows: int) -> dict[str, float]:
    engine = sa.create_engine(url)
    md = sa.MetaData()
    items = sa.Table(
        "items",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(40)),
        sa.Column("price", sa.Float),
    )
    md.create_all(engine)
    data = [{"id": i, "name": f"item-{i}", "price": i * 0.5} for i in range(rows)]
    out = {}

    def insert() -> None:
        with engine.begin() as conn:
            conn.execute(items.insert(), data)

    out[f"Core insert {rows:,} rows"] = timed(insert)
    rng = random.Random(3)
    keys = [rng.randrange(rows) for _ in range(rows)]
    query = sa.select(items.c.name, items.c.price).where(items.c.id == sa.bindparam("k"))

    def selects() -> None:
        with engine.connect() as conn:
            for k in keys:
                conn.execute(query, {"k": k}).one()

    out[f"{rows:,} primary-key selects"] = timed(selects)
    gen = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "id": np.arange(frame_rows),
            "x": gen.normal(size=frame_rows),
            "label": [f"l{i % 100}" for i in range(frame_rows)],
            "when": pd.date_range("2026-01-01", periods=frame_rows, freq="s"),
        }
    )
    out[f"pandas to_sql {frame_rows:,} rows"] = timed(
        lambda: frame.to_sql("frame", engine, index=False, chunksize=10_000)
    )
    out[f"pandas read_sql {frame_rows:,} rows"] = timed(
        lambda: pd.read_sql("SELECT * FROM frame", engine)
    )
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--frame-rows", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        results = {
            "sqlite (file)": workload(
                f"sqlite:///{os.path.join(d, 'x.db')}", args.rows, args.frame_rows
            ),
            "strata (local dir)": workload(
                f"strata:///{os.path.join(d, 'strata')}", args.rows, args.frame_rows
            ),
        }
    table = Table(title="Through SQLAlchemy: seconds (lower is better)")
    table.add_column("workload")
    for name in results:
        table.add_column(name, justify="right")
    table.add_column("strata / sqlite", justify="right")
    sqlite, strata = results.values()
    for w in sqlite:
        table.add_row(w, f"{sqlite[w]:.3f}", f"{strata[w]:.3f}", f"{strata[w] / sqlite[w]:.1f}x")
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
