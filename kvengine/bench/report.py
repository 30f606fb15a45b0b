"""The report of a ``strata bench`` run: one :class:`Result` per (system, workload), rendered as
a rich table, as JSON (``--json``) or as a PNG of latency over time (``--plot``).

JSON schema (``SCHEMA_VERSION`` 1)::

    {"schema": 1, "kind": "kv" | "sql", "config": {...},
     "results": [{"system", "workload", "ops", "seconds", "ops_per_s",
                  "latency_ms": {"p50", "p99", "p99.9", "max", "mean"}, "latency_unit",
                  "requests": {kind: n}, "requests_total", "requests_per_1k_ops": {kind: x},
                  "bytes_written", "bytes_read", "user_bytes_written",
                  "write_amplification" (null when nothing was written),
                  "usd_per_million_ops": {price table: x}, "peak_rss_bytes",
                  "ratio_vs_sqlite" (sql, strata rows: strata seconds / sqlite seconds),
                  "retries" (operations run again after a write conflict)}],
     "store_requests": {kind: n}, "unmeasured_requests": {kind: n}}

``requests`` of a Strata result are the store's counters over the timed phase plus the
flush that makes its writes durable and stored in SSTs; ``store_requests`` are the counters
at the end, and ``unmeasured_requests`` what setup (opening, preloading) sent, so the
results' requests and the unmeasured add up to the store's. sqlite3 rows have no requests.
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram
from rich import filesize
from rich.console import Console
from rich.table import Table

from kvengine.store.base import REQUEST_KINDS
from kvengine.store.instrumented import StoreStats
from kvengine.store.pricing import PRICES_PER_MILLION, cost_usd

SCHEMA_VERSION = 1
PERCENTILES = (("p50", 50.0), ("p99", 99.0), ("p99.9", 99.9))


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


@dataclass
class Result:
    """One workload on one system. ``stats`` is None for systems without a store (sqlite3)."""

    system: str
    workload: str
    ops: int
    seconds: float
    histogram: HdrHistogram
    stats: StoreStats | None = None
    user_bytes_written: int = 0
    latency_unit: str = "operation"
    timeline: list[tuple[float, float]] = field(default_factory=list)
    peak_rss_bytes: int = field(default_factory=peak_rss_bytes)
    ratio_vs_sqlite: float | None = None
    retries: int = 0  # operations run again after a write conflict (sql, threads > 1)

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    def latency_ms(self) -> dict[str, float]:
        h = self.histogram
        if h.get_total_count() == 0:
            return {name: 0.0 for name in (*(p for p, _ in PERCENTILES), "max", "mean")}
        out = {name: h.get_value_at_percentile(p) / 1000 for name, p in PERCENTILES}
        out["max"] = h.get_max_value() / 1000
        out["mean"] = h.get_mean_value() / 1000
        return out

    def requests(self) -> dict[str, int]:
        return dict(self.stats.requests) if self.stats else {}

    def write_amplification(self) -> float | None:
        if self.stats is None or self.user_bytes_written == 0:
            return None
        return self.stats.bytes_written / self.user_bytes_written

    def usd_per_million_ops(self) -> dict[str, float]:
        if self.stats is None or self.ops == 0:
            return {}
        return {t: 1e6 * cost_usd(self.stats.requests, t) / self.ops for t in PRICES_PER_MILLION}

    def to_json(self) -> dict[str, Any]:
        requests = self.requests()
        return {
            "system": self.system,
            "workload": self.workload,
            "ops": self.ops,
            "seconds": self.seconds,
            "ops_per_s": self.ops_per_s,
            "latency_ms": self.latency_ms(),
            "latency_unit": self.latency_unit,
            "requests": requests,
            "requests_total": sum(requests.values()),
            "requests_per_1k_ops": {
                k: 1000 * n / self.ops if self.ops else 0.0 for k, n in requests.items()
            },
            "bytes_written": self.stats.bytes_written if self.stats else 0,
            "bytes_read": self.stats.bytes_read if self.stats else 0,
            "user_bytes_written": self.user_bytes_written,
            "write_amplification": self.write_amplification(),
            "usd_per_million_ops": self.usd_per_million_ops(),
            "peak_rss_bytes": self.peak_rss_bytes,
            "ratio_vs_sqlite": self.ratio_vs_sqlite,
            "retries": self.retries,
        }


@dataclass
class Report:
    """Every result of a run, with its configuration and the store's final counters."""

    kind: str
    config: Mapping[str, Any]
    results: list[Result] = field(default_factory=list)
    store_requests: dict[str, int] = field(default_factory=dict)

    def unmeasured_requests(self) -> dict[str, int]:
        measured = dict.fromkeys(REQUEST_KINDS, 0)
        for r in self.results:
            for k, n in r.requests().items():
                measured[k] += n
        return {k: self.store_requests.get(k, 0) - measured[k] for k in REQUEST_KINDS}

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "kind": self.kind,
            "config": dict(self.config),
            "results": [r.to_json() for r in self.results],
            "store_requests": dict(self.store_requests),
            "unmeasured_requests": self.unmeasured_requests(),
        }


def _per_kind(requests: Mapping[str, int], ops: int) -> str:
    parts = [f"{k} {1000 * n / ops:,.1f}" for k, n in requests.items() if n and ops]
    return " ".join(parts) or "0"


def render_table(report: Report, console: Console) -> None:
    """Print the report as a rich table."""
    hidden = ("workloads", "latency_ms")
    title = f"strata bench {report.kind}: " + ", ".join(
        f"{k}={v}" for k, v in report.config.items() if k not in hidden
    )
    table = Table(title=title, title_justify="left")
    columns = ["system", "workload", "ops", "ops/s", "p50 ms", "p99 ms", "p99.9 ms"]
    columns += ["req / 1k ops", "up", "down", "W-amp", "$/1M GCS", "$/1M S3", "peak RSS"]
    if report.kind == "sql":
        columns.append("x sqlite")
    for col in columns:
        table.add_column(col, justify="left" if col in ("system", "workload") else "right")
    for r in report.results:
        lat = r.latency_ms()
        usd = r.usd_per_million_ops()
        wamp = r.write_amplification()
        cells = [
            r.system,
            f"{r.workload} ({r.retries:,} retries)" if r.retries else r.workload,
            f"{r.ops:,}",
            f"{r.ops_per_s:,.0f}",
            *(f"{lat[p]:.2f}" for p, _ in PERCENTILES),
            _per_kind(r.requests(), r.ops) if r.stats else "-",
            filesize.decimal(r.stats.bytes_written) if r.stats else "-",
            filesize.decimal(r.stats.bytes_read) if r.stats else "-",
            f"{wamp:.2f}" if wamp is not None else "-",
            f"{usd['gcs-standard']:.2f}" if usd else "-",
            f"{usd['s3-standard']:.2f}" if usd else "-",
            filesize.decimal(r.peak_rss_bytes),
        ]
        if report.kind == "sql":
            cells.append(f"{r.ratio_vs_sqlite:.2f}x" if r.ratio_vs_sqlite is not None else "-")
        table.add_row(*cells)
    console.print(table)


def plot_latency(results: Sequence[Result], path: str) -> None:
    """Write a PNG of each result's latency over time (needs matplotlib: ``strata[bench]``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise RuntimeError(
            "--plot needs matplotlib; install it with: pip install 'strata[bench]'"
        ) from exc
    fig, ax = plt.subplots(figsize=(10, 5))
    for r in results:
        if r.timeline:
            xs, ys = zip(*r.timeline, strict=True)
            ax.plot(xs, ys, ".", markersize=2, label=f"{r.system} {r.workload}")
    ax.set_xlabel("seconds since the workload started")
    ax.set_ylabel("latency (ms)")
    ax.set_yscale("log")
    ax.set_title("strata bench: latency over time")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(markerscale=4, fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
