"""The ``strata`` command line: its SQL commands (an interactive shell, CSV loading, a demo)
and the top-level ``main`` group, the console script's entry point.

``main`` adds the engine's administration group (:mod:`kvengine.cli`) explicitly, both as
``strata admin …`` and command by command at top level (``strata doctor URL`` as documented);
no module registers commands on another's group when imported."""

from __future__ import annotations

import csv
import os
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table as RichTable

import dialect
from dialect.bench import SQL_WORKLOADS, SQLConfig, run_sql
from dialect.catalog import Table
from kvengine.bench.cli import common_options, emit, progress_bar, workload_list
from kvengine.bench.cli import kv as kv_bench
from kvengine.bench.profiles import LatencyModel
from kvengine.cli import admin, engine_option, parse_engine_options, parse_options, storage_option

console = Console()
err_console = Console(stderr=True)


def _connect(
    url: str, options: tuple[str, ...], read_only: bool = False, checkpoint: str | None = None
) -> dialect.Connection:
    try:
        return dialect.connect(
            url, read_only=read_only, checkpoint=checkpoint, **parse_options(options)
        )
    except dialect.Error as exc:
        err_console.print(f"[red]cannot open {url}: {exc}")
        sys.exit(2)


def print_rows(names: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Print a result as an aligned table; returns the number of rows."""
    table = RichTable(show_edge=False, header_style="bold")
    for name in names:
        table.add_column(name)
    n = 0
    for row in rows:
        table.add_row(*("NULL" if v is None else str(v) for v in row))
        n += 1
    console.print(table)
    return n


def schema_sql(table: Table) -> str:
    """A CREATE TABLE (and CREATE INDEX) statement describing ``table``."""
    parts = []
    for c in table.visible_columns:
        text = f"{c.name} {c.declared}"
        if c.not_null and c.name not in table.pk:
            text += " NOT NULL"
        if c.default_sql is not None:
            text += f" DEFAULT {c.default_sql}"
        parts.append(text)
    if table.pk != ("_rowid_",):
        parts.append(f"PRIMARY KEY ({', '.join(table.pk)})")
    for ix in table.indexes:
        if ix.implicit:
            parts.append(f"UNIQUE ({', '.join(ix.columns)})")
    for fk in table.foreign_keys:
        parts.append(
            f"FOREIGN KEY ({', '.join(fk.columns)}) REFERENCES {fk.ref_table} "
            f"({', '.join(fk.ref_columns)})"
        )
    out = f"CREATE TABLE {table.name} (\n  " + ",\n  ".join(parts) + "\n);"
    for ix in table.indexes:
        if not ix.implicit:
            unique = "UNIQUE " if ix.unique else ""
            out += f"\nCREATE {unique}INDEX {ix.name} ON {table.name} ({', '.join(ix.columns)});"
    return out


def run_statement(conn: dialect.Connection, sql: str) -> None:
    """Run one statement and print its result or its error."""
    started = time.perf_counter()
    try:
        cur = conn.execute(sql)
        conn.commit()
    except dialect.Error as exc:
        err_console.print(f"[red]{type(exc).__name__}: {exc}")
        conn.rollback()
        return
    elapsed = (time.perf_counter() - started) * 1000
    if cur.description is not None:
        n = print_rows([d[0] for d in cur.description], cur.fetchall())
        console.print(f"[dim]{n} row(s) in {elapsed:.1f} ms")
    else:
        console.print(f"[dim]{max(cur.rowcount, 0)} row(s) affected in {elapsed:.1f} ms")


def _dot_command(conn: dialect.Connection, line: str) -> bool:
    """Handle a shell command such as ``.tables``; False means quit."""
    words = line.split()
    if words[0] in (".quit", ".exit"):
        return False
    if words[0] == ".tables":
        console.print("  ".join(sorted(t.name for t in conn.catalog.tables)))
    elif words[0] == ".schema":
        tables = (
            [conn.catalog.table(w) for w in words[1:]]
            if len(words) > 1
            else list(conn.catalog.tables)
        )
        for t in tables:
            console.print(schema_sql(t) if t else "[red]no such table")
    elif words[0] == ".help":
        console.print(".tables  .schema [TABLE]  .quit — end SQL statements with ;")
    else:
        err_console.print(f"[red]unknown command {words[0]} (try .help)")
    return True


def shell(conn: dialect.Connection) -> None:
    """Read statements (ending with ``;``, over several lines if need be) until EOF."""
    try:
        import readline

        history = os.path.expanduser("~/.strata_history")
        if os.path.exists(history):
            readline.read_history_file(history)
    except (ImportError, OSError):
        history = ""
    console.print("Strata SQL shell. End statements with ';'. .help for commands.")
    buffer: list[str] = []
    while True:
        try:
            line = input("strata> " if not buffer else "   ...> ")
        except EOFError:
            break
        except KeyboardInterrupt:
            buffer = []
            console.print()
            continue
        if not buffer and line.strip().startswith("."):
            if not _dot_command(conn, line.strip()):
                break
            continue
        buffer.append(line)
        if line.rstrip().endswith(";"):
            run_statement(conn, "\n".join(buffer).rstrip().rstrip(";"))
            buffer = []
    if history:
        import readline

        readline.write_history_file(history)


@click.command()
@click.argument("url")
@storage_option
@click.option("-c", "--command", "command", help="Run this one statement and exit.")
@click.option("--read-only", is_flag=True, help="Open as a reader.")
@click.option(
    "--checkpoint",
    metavar="NAME",
    help="Open the database as it was at this checkpoint, read-only (strata checkpoint list).",
)
def sql(
    url: str, options: tuple[str, ...], command: str | None, read_only: bool, checkpoint: str | None
) -> None:
    """An interactive SQL shell on URL (or one statement with -c)."""
    conn = _connect(url, options, read_only, checkpoint)
    try:
        if command is not None:
            run_statement(conn, command)
        else:
            shell(conn)
    finally:
        conn.close()


def _infer(values: Iterable[str]) -> str:
    kinds = set()
    for v in values:
        if v == "":
            continue
        try:
            int(v)
            kinds.add("INTEGER")
            continue
        except ValueError:
            pass
        try:
            float(v)
            kinds.add("REAL")
        except ValueError:
            return "TEXT"
    if kinds == {"INTEGER"}:
        return "INTEGER"
    return "REAL" if kinds else "TEXT"


def _convert(value: str, kind: str) -> Any:  # Any: a SQL value
    if value == "":
        return None
    if kind == "INTEGER":
        return int(value)
    if kind == "REAL":
        return float(value)
    return value


@click.command()
@click.argument("url")
@click.argument("table")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@storage_option
@click.option("--batch", default=5000, show_default=True, help="Rows per commit.")
def load(url: str, table: str, csv_file: str, options: tuple[str, ...], batch: int) -> None:
    """Load CSV_FILE (with a header row) into TABLE, creating it if needed."""
    conn = _connect(url, options)
    size = os.path.getsize(csv_file)
    with open(csv_file, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            err_console.print("[red]the CSV file has no header row")
            sys.exit(2)
        sample = [row for _, row in zip(range(1000), reader, strict=False)]
        existing = conn.catalog.table(table)
        if existing is None:
            kinds = [_infer(r[i] for r in sample if i < len(r)) for i in range(len(header))]
            cols = ", ".join(f'"{h}" {k}' for h, k in zip(header, kinds, strict=True))
            conn.execute(f'CREATE TABLE "{table}" ({cols})')
        else:
            by_name = {c.name.lower(): c.type for c in existing.visible_columns}
            kinds = [by_name.get(h.lower(), "TEXT") for h in header]
        names = ", ".join(f'"{h}"' for h in header)
        insert = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(header))})'
        cur = conn.cursor()
        total = 0
        started = time.perf_counter()
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            task = progress.add_task(f"loading {table}", total=size, rows=0)

            def flush(rows: list[list[Any]]) -> None:
                nonlocal total
                try:
                    cur.executemany(insert, rows)
                    conn.commit()
                except dialect.Error as exc:
                    err_console.print(f"[red]{type(exc).__name__} near row {total + 1}: {exc}")
                    sys.exit(1)
                total += len(rows)
                progress.update(task, completed=f.tell(), rows=total)

            rows: list[list[Any]] = []
            for raw in (*sample, *reader):
                rows.append([_convert(v, k) for v, k in zip(raw, kinds, strict=False)])
                if len(rows) >= batch:
                    flush(rows)
                    rows = []
            if rows:
                flush(rows)
    elapsed = time.perf_counter() - started
    console.print(
        f"loaded {total:,} rows into {table} in {elapsed:.2f} s "
        f"({total / max(elapsed, 1e-9):,.0f} rows/s)"
    )
    conn.close()


DEMO_SQL = [
    "CREATE TABLE IF NOT EXISTS cities (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "country TEXT, population INT)",
    "CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY, city_id INT REFERENCES "
    "cities(id), visitor TEXT, day DATE, spent NUMERIC(10, 2))",
    "CREATE INDEX IF NOT EXISTS visits_city ON visits (city_id)",
]
CITIES = [
    ("Paris", "FR", 2_102_650),
    ("Lyon", "FR", 522_250),
    ("Berlin", "DE", 3_878_100),
    ("Hamburg", "DE", 1_964_021),
    ("Tokyo", "JP", 14_094_034),
    ("Osaka", "JP", 2_753_862),
]
QUERIES = [
    (
        "Largest cities",
        "SELECT name, country, population FROM cities ORDER BY population DESC LIMIT 3",
    ),
    ("A primary-key lookup (one get)", "SELECT * FROM cities WHERE id = 3"),
    (
        "Visits per country",
        "SELECT c.country, COUNT(*) AS visits, SUM(v.spent) AS spent FROM "
        "visits v JOIN cities c ON c.id = v.city_id GROUP BY c.country ORDER BY spent DESC",
    ),
    ("Through the index", "SELECT visitor, day FROM visits WHERE city_id = 5 ORDER BY day LIMIT 5"),
    ("How that last one runs", "EXPLAIN SELECT visitor, day FROM visits WHERE city_id = 5"),
]


@click.command()
@click.argument("url", default="./data/demo")
@storage_option
def demo(url: str, options: tuple[str, ...]) -> None:
    """Create tables at URL, load sample rows, run queries and show what it cost."""
    import datetime as dt
    import decimal
    import random

    conn = _connect(url, options)
    for statement in DEMO_SQL:
        conn.execute(statement)
    if conn.execute("SELECT COUNT(*) FROM cities").fetchone() == (0,):
        conn.cursor().executemany(
            "INSERT INTO cities (name, country, population) VALUES (?, ?, ?)", CITIES
        )
        rng = random.Random(7)
        visits = [
            (
                rng.randrange(1, len(CITIES) + 1),
                rng.choice(["ada", "grace", "alan", "linus"]),
                dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(300)),
                decimal.Decimal(rng.randrange(1000, 50000)) / 100,
            )
            for _ in range(500)
        ]
        conn.cursor().executemany(
            "INSERT INTO visits (city_id, visitor, day, spent) VALUES (?, ?, ?, ?)", visits
        )
        conn.commit()
        console.print(f"loaded {len(CITIES)} cities and {len(visits)} visits into {url}")
    for title, query in QUERIES:
        console.rule(title)
        console.print(f"[dim]{query}")
        cur = conn.execute(query)
        print_rows([d[0] for d in cur.description or ()], cur.fetchall())
    stats = conn.stats()
    console.rule("Object-store requests so far")
    print_rows(["request", "count"], sorted(stats["requests"].items()))
    console.print(
        f"about ${stats['cost_usd']['gcs-standard']:.6f} at GCS Standard prices; "
        f"{stats['ssts']} SSTs, {stats['wal_puts']} WAL PUTs"
    )
    conn.close()


@click.group()
@click.version_option(package_name="strata")
def main() -> None:
    """Strata: a SQL database whose only durable home is object storage.

    The engine's commands (doctor, info, get, put, delete, scan, manifest) are also the group
    "strata admin"."""


main.add_command(sql)
main.add_command(load)
main.add_command(demo)
main.add_command(admin)


@click.group()
def bench() -> None:
    """Benchmarks: key-value workloads on the engine (kv), SQL beside sqlite3 (sql), on a
    modelled object store (--latency) or a real one (--url). See docs/benchmarks.md."""


@click.command(name="sql")
@click.argument("workloads", nargs=-1)
@click.option("--rows", default=10_000, show_default=True, help="Rows of the bulk loads.")
@click.option("--ops", default=1_000, show_default=True, help="Operations per other workload.")
@click.option("--batch", default=1_000, show_default=True, help="Rows per insert commit.")
@click.option("--range-rows", default=100, show_default=True, help="Rows per range select.")
@click.option(
    "--threads",
    default=1,
    show_default=True,
    help="Client threads (a connection each) of the per-operation workloads.",
)
@click.option("--duration", type=float, default=None, help="Stop each workload after this (s).")
@click.option("--durable/--no-durable", default=True, show_default=True, help="Durable commits.")
@click.option(
    "--mode",
    type=click.Choice(["shared", "exclusive"]),
    default="shared",
    show_default=True,
    help="Connect shared (the default of connect()) or exclusive.",
)
@engine_option
@common_options
def sql_bench(
    workloads: tuple[str, ...],
    rows: int,
    ops: int,
    batch: int,
    range_rows: int,
    threads: int,
    duration: float | None,
    durable: bool,
    mode: str,
    engine_options: tuple[str, ...],
    latency: LatencyModel,
    url: str | None,
    options: tuple[str, ...],
    seed: int,
    as_json: bool,
    plot: str | None,
) -> None:
    """SQL through SQLAlchemy on sqlite3 and Strata, with the ratio: WORKLOADS among insert,
    to_sql, read_sql, pk-select, range-select, update, orm-write, orm-read (default: all)."""
    chosen = workload_list(workloads, SQL_WORKLOADS)
    if min(rows, ops, batch, range_rows, threads) < 1:
        raise click.UsageError("--rows, --ops, --batch, --range-rows and --threads must be >= 1")
    cfg = SQLConfig(
        rows=rows,
        ops=ops,
        batch=batch,
        range_rows=range_rows,
        threads=threads,
        duration_s=duration,
        durable=durable,
        exclusive=mode == "exclusive",
        seed=seed,
        latency=latency,
        url=url,
        storage_options=parse_options(options),
        engine_options=parse_engine_options(engine_options),
    )
    with progress_bar(quiet=False) as start:
        report = run_sql(chosen, cfg, keep_timeline=plot is not None, start=start)
    emit(report, as_json, plot)


bench.add_command(kv_bench)
bench.add_command(sql_bench)
main.add_command(bench)
for _command in admin.commands.values():  # top level too: `strata doctor URL` as documented
    main.add_command(_command)
