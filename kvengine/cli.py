"""The ``strata`` command: administration of Strata databases and object stores."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from kvengine.doctor import diagnose
from kvengine.errors import StrataError
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


storage_option = click.option(
    "-o",
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Storage option passed to the fsspec backend (repeatable), e.g. -o endpoint_url=http://…",
)


@click.group()
@click.version_option(package_name="strata")
def main() -> None:
    """Strata: a SQL database whose only durable home is object storage."""


@main.command()
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
