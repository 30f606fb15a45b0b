"""Smoke test of ``strata bench kv``: every workload, tiny sizes, checking the report's
correctness (counts, schema, requests against the store's own record), never its timings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kvengine.bench.cli import kv
from kvengine.bench.profiles import PROFILES_MS, parse_latency
from kvengine.bench.recorder import run_timed
from kvengine.bench.workloads import WORKLOADS
from kvengine.store import REQUEST_KINDS, cost_usd

RESULT_KEYS = {
    "system",
    "workload",
    "ops",
    "seconds",
    "ops_per_s",
    "latency_ms",
    "latency_unit",
    "requests",
    "requests_total",
    "requests_per_1k_ops",
    "bytes_written",
    "bytes_read",
    "user_bytes_written",
    "write_amplification",
    "usd_per_million_ops",
    "peak_rss_bytes",
    "ratio_vs_sqlite",
    "retries",
}
WRITERS = {"fillseq", "fillrandom", "overwrite", "readwhilewriting", "mixed"}


def bench(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(kv, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def check_report(doc: dict[str, Any], ops: int) -> None:
    assert doc["schema"] == 1 and doc["kind"] == "kv"
    for r in doc["results"]:
        assert set(r) == RESULT_KEYS
        assert r["system"] == "strata"
        assert r["ops"] == ops
        assert r["ops_per_s"] == pytest.approx(r["ops"] / r["seconds"])
        lat = r["latency_ms"]
        assert 0 < lat["p50"] <= lat["p99"] <= lat["p99.9"] <= lat["max"]
        assert r["requests_total"] == sum(r["requests"].values())
        assert set(r["requests"]) == set(REQUEST_KINDS)
        for kind, n in r["requests"].items():
            assert r["requests_per_1k_ops"][kind] == pytest.approx(1000 * n / ops)
        for table, usd in r["usd_per_million_ops"].items():
            assert usd == pytest.approx(1e6 * cost_usd(r["requests"], table) / ops)
        if r["workload"] in WRITERS:
            assert r["user_bytes_written"] > 0
            assert r["write_amplification"] == pytest.approx(
                r["bytes_written"] / r["user_bytes_written"]
            )
            assert r["requests"]["PUT"] > 0
        else:
            assert r["user_bytes_written"] == 0 and r["write_amplification"] is None
        assert r["peak_rss_bytes"] > 0
    # What the workloads and their setup sent adds up to what the stores counted.
    for kind in REQUEST_KINDS:
        measured = sum(r["requests"][kind] for r in doc["results"])
        assert measured + doc["unmeasured_requests"][kind] == doc["store_requests"][kind]
        assert doc["unmeasured_requests"][kind] >= 0


def test_every_workload_json_and_plot(tmp_path: Path) -> None:
    plot = tmp_path / "latency.png"
    doc = bench("--num", "300", "--ops", "60", "--threads", "2", "--plot", str(plot))
    assert [r["workload"] for r in doc["results"]] == list(WORKLOADS)
    check_report(doc, 60)
    assert doc["config"]["threads"] == 2 and doc["config"]["latency"] == "none"
    by_name = {r["workload"]: r for r in doc["results"]}
    assert by_name["readrandom"]["requests_total"] == 0  # warm cache, exclusive: no requests
    assert by_name["readrandom-cold"]["requests"]["GET"] >= 60  # a block GET per read
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_requests_match_objects_in_a_local_directory(tmp_path: Path) -> None:
    """Every PUT the report counts is an object in the directory (nothing is deleted in a
    short run, and a lone exclusive writer loses no create-only race)."""
    doc = bench("fillseq,fillrandom", "--num", "50", "--durable", "--url", str(tmp_path))
    check_report(doc, 50)
    objects = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert doc["store_requests"]["PUT"] == len(objects)
    assert doc["store_requests"]["DELETE"] == 0
    for r in doc["results"]:
        assert r["requests"]["PUT"] >= 50  # a durable put on one thread is a WAL PUT
        assert r["usd_per_million_ops"]["gcs-standard"] >= 5.0


def test_latency_profile_and_duration() -> None:
    doc = bench("mixed", "--num", "100", "--ops", "1000000000", "--duration", "0.3",
                "--latency", "put=1,get=1,jitter=0")  # fmt: skip
    assert 0 < doc["results"][0]["ops"] < 1_000_000_000
    assert doc["config"]["latency_ms"] == {"PUT": 1.0, "GET": 1.0}
    doc = bench("readrandom", "--num", "20", "--latency", "s3-express")
    check_report(doc, 20)
    assert doc["config"]["latency_ms"] == dict(PROFILES_MS["s3-express"])


def test_table_output() -> None:
    result = CliRunner().invoke(kv, ["fillseq", "--num", "20"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "fillseq" in result.stdout and "p99.9 ms" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["nosuch"],
        ["--latency", "gcs2"],
        ["--latency", "put=x"],
        ["--latency", "jitter=2"],
        ["--num", "1000", "--key-size", "2"],
    ],
)
def test_bad_arguments(args: list[str]) -> None:
    result = CliRunner().invoke(kv, args)
    assert result.exit_code == 2
    assert "Error" in result.output


def test_parse_latency() -> None:
    model = parse_latency("PUT=50,get=20.5,jitter=0")
    assert dict(model.ms) == {"PUT": 50.0, "GET": 20.5} and model.jitter == 0
    assert parse_latency("none").wrapper(0) is None
    assert parse_latency("gcs").wrapper(0) is not None


def test_run_timed_counts_every_call_once() -> None:
    seen: list[tuple[int, int]] = []
    timing = run_timed(lambda t, i: seen.append((t, i)), threads=3, max_ops=50, keep_timeline=True)
    assert timing.ops == 50 == timing.histogram.get_total_count() == len(timing.timeline)
    assert sorted(i for _, i in seen) == list(range(50))
    assert {t for t, _ in seen} <= {0, 1, 2}


def test_run_timed_raises_what_an_operation_raised() -> None:
    def op(t: int, i: int) -> None:
        if i == 7:
            raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        run_timed(op, threads=2, max_ops=100)
    with pytest.raises(ValueError, match="max_ops or duration_s"):
        run_timed(op)
    with pytest.raises(ValueError, match="threads"):
        run_timed(op, threads=0, max_ops=1)


def test_engine_options_reach_the_engine() -> None:
    warm = bench("readrandom", "--num", "300")
    cold = bench("readrandom", "--num", "300", "--set", "block_cache_bytes=0")
    assert warm["config"]["engine_options"] == {}
    assert cold["config"]["engine_options"] == {"block_cache_bytes": 0}
    assert warm["results"][0]["requests"].get("GET", 0) == 0  # every block cached
    assert cold["results"][0]["requests"]["GET"] >= 300  # no cache: a GET per read
    result = CliRunner().invoke(kv, ["fillseq", "--num", "5", "--set", "nosuch=1"])
    assert result.exit_code == 2 and "nosuch" in result.output
