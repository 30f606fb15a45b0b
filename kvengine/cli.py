"""The engine's administration commands: the ``admin`` click group (doctor, info, get, put,
delete, scan, manifest, gc, checkpoint, compact, compactor, clone) over Strata databases and
object stores.

This module registers nothing elsewhere; the top-level ``strata`` command
(:mod:`dialect.cli`) adds this group, as ``strata admin …`` and each command at top level."""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click
from rich import filesize
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, DownloadColumn, Progress, TimeElapsedColumn
from rich.table import Table

from kvengine.compaction_service import CompactorService
from kvengine.db import DB
from kvengine.doctor import diagnose
from kvengine.errors import Fenced, InvalidArgument, StrataError
from kvengine.gc import KINDS, GarbageCollector
from kvengine.manifest.model import Checkpoint
from kvengine.options import Options
from kvengine.store import open_store

console = Console()
err_console = Console(stderr=True)


def parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``key=value`` strings to storage options; ``true``/``false``/numbers are converted."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {pair!r}", param_hint="-o")
        lowered = value.lower()
        if lowered in ("true", "false"):
            options[key] = lowered == "true"
        elif value.lstrip("-").isdigit():
            options[key] = int(value)
        else:
            options[key] = value
    return options


def parse_engine_options(pairs: tuple[str, ...]) -> Options:
    """``name=value`` strings to :class:`Options` fields, converted to each field's type."""
    fields = {f.name: f for f in dataclasses.fields(Options)}
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in fields:
            raise click.BadParameter(f"expected an Options field=value, got {pair!r}")
        kind = str(fields[name].type).removesuffix(" | None")
        values[name] = float(value) if kind == "float" else int(value) if kind == "int" else value
    try:
        return Options(**values)
    except InvalidArgument as exc:
        raise click.BadParameter(str(exc)) from exc


engine_option = click.option(
    "--set",
    "engine_options",
    multiple=True,
    metavar="NAME=VALUE",
    help="An engine option (kvengine.Options field), e.g. --set sst_target_bytes=67108864.",
)


def _log_to_stderr() -> None:
    handler = RichHandler(console=err_console, show_path=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("kvengine.compactor", "kvengine.flusher", "kvengine.compaction_service"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)


storage_option = click.option(
    "-o",
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Storage option passed to the fsspec backend (repeatable), e.g. -o endpoint_url=http://…",
)


@click.group(name="admin")
def admin() -> None:
    """Engine administration: check a store, inspect a database, read and write keys."""


@admin.command()
@click.argument("url")
@storage_option
@click.option("--samples", default=20, show_default=True, help="Requests timed per kind.")
def doctor(url: str, options: tuple[str, ...], samples: int) -> None:
    """Measure a store's latency and prove its create-only writes are atomic."""
    try:
        store = open_store(url, single_writer=True, **parse_options(options))
    except StrataError as exc:
        err_console.print(f"[red]cannot open {url}: {exc}")
        sys.exit(2)
    report = diagnose(store, samples=samples)
    store.close()
    timings = Table(title=f"Request latency: {report.url}")
    for col in ("request", "n", "p50 ms", "p99 ms"):
        timings.add_column(col, justify="left" if col == "request" else "right")
    for t in report.timings:
        timings.add_row(t.name, str(len(t.samples_ms)), f"{t.p50_ms:.2f}", f"{t.p99_ms:.2f}")
    console.print(timings)
    verdicts = Table(title="Checks")
    for col in ("check", "verdict", "detail"):
        verdicts.add_column(col)
    for c in report.checks:
        verdicts.add_row(c.name, "[green]PASS" if c.ok else "[red]FAIL", c.detail)
    console.print(verdicts)
    stats = store.stats()
    console.print(
        f"{stats.total_requests} requests, about ${stats.cost_usd('gcs-standard'):.6f} "
        "at GCS Standard prices"
    )
    console.print("[green]verdict: safe for Strata" if report.ok else "[red]verdict: NOT SAFE")
    sys.exit(0 if report.ok else 1)


def _open_db(url: str, options: tuple[str, ...], read_only: bool) -> DB:
    # A one-shot inspection writes nothing: no reader checkpoint in the manifest. A one-shot
    # command that writes serves no reads afterwards: what it writes need not be cached.
    opts = Options(reader_checkpoint_s=0) if read_only else Options(cache_written_blocks="none")
    try:
        return DB.open(url, read_only=read_only, options=opts, **parse_options(options))
    except Fenced as exc:
        err_console.print(f"[red]fenced: {exc}")
        sys.exit(3)
    except StrataError as exc:
        err_console.print(f"[red]cannot open {url}: {exc}")
        sys.exit(2)


def _run(fn: Callable[[], None]) -> None:
    """Run a command body, turning engine errors into messages and exit codes."""
    try:
        fn()
    except Fenced as exc:
        err_console.print(f"[red]fenced: {exc}")
        sys.exit(3)
    except StrataError as exc:
        err_console.print(f"[red]{type(exc).__name__}: {exc}")
        sys.exit(2)


def _bytes_arg(text: str, hex_input: bool) -> bytes:
    return bytes.fromhex(text) if hex_input else text.encode()


def _show(data: bytes, hex_output: bool) -> str:
    if hex_output:
        return data.hex()
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data.hex()


hex_option = click.option("--hex", "hex_io", is_flag=True, help="Keys and values are hex.")


@admin.command()
@click.argument("url")
@storage_option
def info(url: str, options: tuple[str, ...]) -> None:
    """Manifest id, epochs, WAL and SST counts and bytes."""
    db = _open_db(url, options, read_only=True)
    with db:
        s = db.stats()
        wal = db.store.list("wal/")
        table = Table(title=f"Strata database {url}")
        table.add_column("property")
        table.add_column("value", justify="right")
        rows = [
            ("manifest id", s["manifest_id"]),
            ("writer epoch", s["writer_epoch"]),
            ("compactor epoch", db.manifest[1].compactor_epoch),
            ("last sequence number", s["last_seq"]),
            ("WAL objects", len(wal)),
            ("WAL bytes", sum(o.size for o in wal)),
            ("L0 SSTs", s["l0_ssts"]),
            ("sorted runs", s["sorted_runs"]),
            ("SSTs", s["ssts"]),
            ("SST bytes", s["sst_bytes"]),
        ]
        for name, value in rows:
            table.add_row(name, str(value))
        console.print(table)


@admin.command()
@click.argument("url")
@click.argument("key")
@storage_option
@hex_option
def get(url: str, key: str, options: tuple[str, ...], hex_io: bool) -> None:
    """Print the value of KEY; exit 1 if there is none."""
    db = _open_db(url, options, read_only=True)
    with db:
        value = db.get(_bytes_arg(key, hex_io))
    if value is None:
        err_console.print("not found")
        sys.exit(1)
    click.echo(_show(value, hex_io))


@admin.command()
@click.argument("url")
@click.argument("key")
@click.argument("value")
@storage_option
@hex_option
def put(url: str, key: str, value: str, options: tuple[str, ...], hex_io: bool) -> None:
    """Set KEY to VALUE (durably)."""
    db = _open_db(url, options, read_only=False)
    with db:
        _run(lambda: db.put(_bytes_arg(key, hex_io), _bytes_arg(value, hex_io)))


@admin.command()
@click.argument("url")
@click.argument("key")
@storage_option
@hex_option
def delete(url: str, key: str, options: tuple[str, ...], hex_io: bool) -> None:
    """Delete KEY (durably)."""
    db = _open_db(url, options, read_only=False)
    with db:
        _run(lambda: db.delete(_bytes_arg(key, hex_io)))


@admin.command()
@click.argument("url")
@storage_option
@hex_option
@click.option("--from", "start", help="First key (inclusive).")
@click.option("--to", "end", help="Last key (exclusive).")
@click.option("--prefix", help="Only keys starting with this.")
@click.option("--limit", type=int, help="At most this many pairs.")
@click.option("--reverse", is_flag=True, help="Descending key order.")
def scan(
    url: str,
    options: tuple[str, ...],
    hex_io: bool,
    start: str | None,
    end: str | None,
    prefix: str | None,
    limit: int | None,
    reverse: bool,
) -> None:
    """Print key<TAB>value for a key range."""
    db = _open_db(url, options, read_only=True)
    with db:
        if prefix is not None:
            pairs = db.scan_prefix(_bytes_arg(prefix, hex_io), reverse=reverse)
        else:
            pairs = db.scan(
                None if start is None else _bytes_arg(start, hex_io),
                None if end is None else _bytes_arg(end, hex_io),
                reverse=reverse,
            )
        for i, (k, v) in enumerate(pairs):
            if limit is not None and i >= limit:
                break
            click.echo(f"{_show(k, hex_io)}\t{_show(v, hex_io)}")


def _jsonable(value: object) -> object:
    if isinstance(value, bytes):
        return {"hex": value.hex()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return value


@admin.command()
@click.argument("url")
@storage_option
def manifest(url: str, options: tuple[str, ...]) -> None:
    """Print the latest manifest as JSON."""
    db = _open_db(url, options, read_only=True)
    with db:
        manifest_id, contents = db.manifest
        doc = {"manifest_id": manifest_id, "manifest": _jsonable(contents)}
    click.echo(json.dumps(doc, indent=2))


def _open_shared(url: str, options: tuple[str, ...], engine_options: tuple[str, ...]) -> DB:
    # `compact` and the compactor service serve no reads: the SSTs they write need not enter
    # their block cache, unless asked for (--set cache_written_blocks=…).
    if not any(pair.startswith("cache_written_blocks=") for pair in engine_options):
        engine_options = (*engine_options, "cache_written_blocks=none")
    opts = parse_engine_options(engine_options)
    try:
        return DB.open(url, options=opts, **parse_options(options))
    except StrataError as exc:
        err_console.print(f"[red]cannot open {url}: {exc}")
        sys.exit(2)


@admin.command()
@click.argument("url")
@storage_option
@click.option("--dry-run", is_flag=True, help="Print what would be deleted; delete nothing.")
@click.option(
    "--min-age",
    type=click.FloatRange(min=0),
    default=Options().gc_min_age_s,
    show_default=True,
    help="Delete nothing younger than this many seconds (keep it above every process's "
    "wal_gc_min_age_s; 0 is safe only when no other process has the database open).",
)
@click.option("--prices", default="gcs-standard", show_default=True, help="Price table.")
@click.option("--verbose", "-v", is_flag=True, help="Name every object.")
def gc(
    url: str, options: tuple[str, ...], dry_run: bool, min_age: float, prices: str, verbose: bool
) -> None:
    """Delete the SSTs, WAL objects and manifest versions nothing needs any more."""
    try:
        store = open_store(url, **parse_options(options))
    except StrataError as exc:
        err_console.print(f"[red]cannot open {url}: {exc}")
        sys.exit(2)
    try:
        report = GarbageCollector(store, min_age_s=min_age).run(dry_run=dry_run)
    except StrataError as exc:
        err_console.print(f"[red]{type(exc).__name__}: {exc}")
        sys.exit(2)
    finally:
        store.close()
    verb = "would delete" if dry_run else "deleted"
    if verbose:
        for kind in KINDS:
            for o in report.deleted[kind]:
                click.echo(f"{verb} {o.path} ({o.size} bytes)")
    t = Table(title=f"Garbage collection of {url}{' (dry run)' if dry_run else ''}")
    for col in ("kind", "objects", "bytes"):
        t.add_column(col, justify="left" if col == "kind" else "right")
    for kind in KINDS:
        t.add_row(kind, str(report.count(kind)), filesize.decimal(report.bytes(kind)))
    t.add_row("total", str(report.total_count), filesize.decimal(report.total_bytes))
    console.print(t)
    left = report.bytes_before - report.total_bytes
    console.print(
        f"{verb} {report.total_count} of {report.objects_before} objects, "
        f"{filesize.decimal(report.total_bytes)} of {filesize.decimal(report.bytes_before)} "
        f"({filesize.decimal(left)} left); "
        f"saves ${report.monthly_savings_usd(prices):.4f}/month at {prices} storage prices; "
        f"kept manifest versions {', '.join(map(str, report.kept_versions)) or 'none'}"
    )


@admin.group()
def checkpoint() -> None:
    """Named points in time that garbage collection keeps: create, list, delete."""


@checkpoint.command("create")
@click.argument("url")
@storage_option
@click.option("--name", help="Its name (default: the UTC time and 4 random hex digits).")
@click.option(
    "--lifetime", type=click.FloatRange(min=0, min_open=True), help="Expire after SECONDS."
)
def checkpoint_create(
    url: str, options: tuple[str, ...], name: str | None, lifetime: float | None
) -> None:
    """Record the database as of now; prints its name."""
    db = _open_db(url, options, read_only=False)
    with db:
        made: list[Checkpoint] = []
        _run(lambda: made.append(db.checkpoint(name, lifetime)))
    click.echo(made[0].name)


def _when(ms: int | None) -> str:
    return "never" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


@checkpoint.command("list")
@click.argument("url")
@storage_option
def checkpoint_list(url: str, options: tuple[str, ...]) -> None:
    """Print name, manifest version, WAL tail, created and expiry times, tab-separated."""
    db = _open_db(url, options, read_only=True)
    with db:
        for c in db.checkpoints():
            expired = " (expired)" if c.expired(int(time.time() * 1000)) else ""
            fields = (c.name, c.manifest_id, c.wal_tail, _when(c.created_ms), _when(c.expires_ms))
            click.echo("\t".join(map(str, fields)) + expired)


@checkpoint.command("delete")
@click.argument("url")
@click.argument("name")
@storage_option
def checkpoint_delete(url: str, name: str, options: tuple[str, ...]) -> None:
    """Delete checkpoint NAME (what only it kept is collected gc_min_age_s later)."""
    db = _open_db(url, options, read_only=False)
    with db:
        _run(lambda: db.delete_checkpoint(name))


@admin.command()
@click.argument("url")
@storage_option
@engine_option
def compact(url: str, options: tuple[str, ...], engine_options: tuple[str, ...]) -> None:
    """Flush and compact everything into one sorted run now (takes the compaction role)."""
    _log_to_stderr()
    db = _open_shared(url, options, engine_options)
    with db:
        before = db.stats()
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=err_console,
        ) as progress:
            task = progress.add_task("compacting", total=None)

            def report(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            db._flusher.compaction_progress = report
            _run(db.compact)
        after = db.stats()
    console.print(
        f"compacted: {before['l0_ssts']} L0 SSTs and {before['sorted_runs']} runs "
        f"({before['sst_bytes']} bytes) -> {after['l0_ssts']} L0 SSTs and "
        f"{after['sorted_runs']} runs ({after['sst_bytes']} bytes)"
    )


@admin.command()
@click.argument("url")
@storage_option
@engine_option
@click.option(
    "--fence-check-s",
    default=15.0,
    show_default=True,
    help="How often an idle compactor reads the manifest to learn it was fenced.",
)
def compactor(
    url: str, options: tuple[str, ...], engine_options: tuple[str, ...], fence_check_s: float
) -> None:
    """Hold the flush-and-compaction role until SIGINT/SIGTERM: flush every writer's commits
    into L0 and compact. A later compactor fences this one (exit code 3)."""
    _log_to_stderr()
    db = _open_shared(url, options, engine_options)
    service = CompactorService(db, fence_check_s=fence_check_s)

    def stop(signum: int, frame: object) -> None:
        service.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        epoch = service.claim()
        click.echo(f"compactor holding the role (compactor epoch {epoch}) for {url}", err=True)
        fenced = service.run()
    except Fenced as exc:
        fenced = exc
    finally:
        stats = db.stats()
        db.close()
    click.echo(
        f"compactor stopped: {stats['flushed_ssts']} SSTs flushed, {stats['compactions']} "
        f"compactions, {stats['abandoned_compactions']} abandoned",
        err=True,
    )
    if fenced is not None:
        err_console.print(f"[red]fenced: another compactor took the role; stopping. ({fenced})")
        sys.exit(3)


if __name__ == "__main__":
    admin()


@admin.command()
@click.argument("source")
@click.argument("checkpoint_name", metavar="CHECKPOINT")
@click.argument("target")
@storage_option
def clone(source: str, checkpoint_name: str, target: str, options: tuple[str, ...]) -> None:
    """Create a database at TARGET from checkpoint CHECKPOINT of SOURCE without copying its
    SSTs (the storage options must reach both: for now, two prefixes of one bucket)."""
    _run(lambda: DB.clone(source, checkpoint_name, target, **parse_options(options)))
    click.echo(f"cloned {source} at {checkpoint_name!r} into {target}")
