"""``strata bench kv``: the key-value workloads as a click command, and the options, progress
bar and output that ``strata bench sql`` (:mod:`dialect.bench`) shares.

This module registers nothing elsewhere; :mod:`dialect.cli` puts both commands under
``strata bench``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kvengine.bench.profiles import PROFILES_MS, LatencyModel, parse_latency
from kvengine.bench.report import Report, plot_latency, render_table
from kvengine.bench.workloads import WORKLOADS, KVConfig, run_workload
from kvengine.cli import engine_option, parse_engine_options, parse_options, storage_option

F = TypeVar("F", bound=Callable[..., Any])


def _latency(ctx: click.Context, param: click.Parameter, value: str) -> LatencyModel:
    try:
        return parse_latency(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def common_options(fn: F) -> F:
    """The options every ``strata bench`` command takes (latency, URL, seed, output)."""
    decorators = [
        click.option(
            "--latency",
            default="none",
            show_default=True,
            callback=_latency,
            metavar="|".join(PROFILES_MS) + "|KIND=MS,…",
            help="Modelled object-store latency under the store: a profile (per-request "
            "medians, ±10% jitter; see docs/benchmarks.md) or e.g. put=50,get=20,jitter=0.1.",
        ),
        click.option(
            "--url",
            default=None,
            help="Store to run on (a bucket URL, emulator, local directory); each workload "
            "uses a fresh prefix under it. Default: in memory.",
        ),
        storage_option,
        click.option("--seed", default=0, show_default=True, help="Seed of keys and jitter."),
        click.option("--json", "as_json", is_flag=True, help="Print the report as JSON."),
        click.option(
            "--plot",
            type=click.Path(dir_okay=False, writable=True),
            default=None,
            help="Write a PNG of latency over time (needs strata[bench]).",
        ),
    ]
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


@contextmanager
def progress_bar(quiet: bool) -> Iterator[Callable[[str, int | None], Callable[[int], None]]]:
    """Yields ``start(description, total)`` returning an ``update(done)`` for one task; the
    bar draws on stderr, and not at all when ``quiet``."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=quiet,
        transient=True,
    )

    def start(description: str, total: int | None) -> Callable[[int], None]:
        task = progress.add_task(description, total=total)
        return lambda done: progress.update(task, completed=done)

    with progress:
        yield start


def emit(report: Report, as_json: bool, plot: str | None) -> None:
    """Print the report (a table, or JSON) and write the plot if asked."""
    if plot is not None:
        try:
            plot_latency(report.results, plot)
        except RuntimeError as exc:
            Console(stderr=True).print(f"[red]{exc}")
            sys.exit(2)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        render_table(report, Console(width=220))


def workload_list(names: Sequence[str], known: Sequence[str]) -> list[str]:
    """Comma- or space-separated names (all of ``known`` when none), checked."""
    chosen = [n for arg in names for n in arg.split(",") if n] or list(known)
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise click.BadParameter(
            f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(known)}",
            param_hint="WORKLOADS",
        )
    return chosen


@click.command(name="kv")
@click.argument("workloads", nargs=-1)
@click.option("--num", default=10_000, show_default=True, help="Keys in the key space.")
@click.option("--ops", type=int, default=None, help="Operations per workload [default: --num].")
@click.option("--duration", type=float, default=None, help="Stop each workload after this (s).")
@click.option("--key-size", default=16, show_default=True, help="Key bytes.")
@click.option("--value-size", default=100, show_default=True, help="Value bytes.")
@click.option("--threads", default=1, show_default=True, help="Concurrent client threads.")
@click.option("--durable/--no-durable", default=False, show_default=True, help="Durable puts.")
@click.option(
    "--mode",
    type=click.Choice(["exclusive", "shared"]),
    default="exclusive",
    show_default=True,
    help="Open the database exclusive (single writer) or shared.",
)
@click.option("--scan-length", default=100, show_default=True, help="Pairs read per scan.")
@click.option("--read-percent", default=50, show_default=True, help="Gets in mixed (%).")
@engine_option
@common_options
def kv(
    workloads: tuple[str, ...],
    num: int,
    ops: int | None,
    duration: float | None,
    key_size: int,
    value_size: int,
    threads: int,
    durable: bool,
    mode: str,
    scan_length: int,
    read_percent: int,
    engine_options: tuple[str, ...],
    latency: LatencyModel,
    url: str | None,
    options: tuple[str, ...],
    seed: int,
    as_json: bool,
    plot: str | None,
) -> None:
    """Key-value workloads on the engine: WORKLOADS among fillseq, fillrandom, overwrite,
    readrandom, readrandom-cold, readwhilewriting, scan, mixed (default: all)."""
    chosen = workload_list(workloads, WORKLOADS)
    try:
        cfg = KVConfig(
            num=num,
            ops=ops,
            key_size=key_size,
            value_size=value_size,
            threads=threads,
            durable=durable,
            duration_s=duration,
            seed=seed,
            scan_length=scan_length,
            read_percent=read_percent,
            exclusive=mode == "exclusive",
            latency=latency,
            url=url,
            storage_options=parse_options(options),
            engine_options=parse_engine_options(engine_options),
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    report = Report("kv", {"workloads": chosen, **cfg.describe()})
    totals: dict[str, int] = {}
    with progress_bar(quiet=False) as start:
        for name in chosen:
            update = start(name, cfg.ops if cfg.ops is not None else cfg.num)
            result, store_stats = run_workload(
                name, cfg, keep_timeline=plot is not None, progress=update
            )
            report.results.append(result)
            for kind, n in store_stats.requests.items():
                totals[kind] = totals.get(kind, 0) + n
    report.store_requests = totals
    emit(report, as_json, plot)
