"""Smoke test of ``strata bench sql`` through the top-level command: every workload on
sqlite3 and Strata, tiny sizes, checking the report (pairs, ratios, requests), never timings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from dialect import ConflictError, OperationalError
from dialect.bench import ITEMS, SQL_WORKLOADS, SQLConfig, _workload, systems
from dialect.cli import main
from kvengine.store import REQUEST_KINDS


def bench(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["bench", "sql", *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_every_workload_beside_sqlite(tmp_path: Path) -> None:
    plot = tmp_path / "sql.png"
    doc = bench("--rows", "120", "--ops", "15", "--batch", "50", "--plot", str(plot))
    assert doc["schema"] == 1 and doc["kind"] == "sql"
    results = doc["results"]
    assert [(r["workload"], r["system"]) for r in results] == [
        (w, s) for w in SQL_WORKLOADS for s in ("sqlite3", "strata")
    ]
    for lite, ours in zip(results[::2], results[1::2], strict=True):
        name = ours["workload"]
        expected = 120 if name in ("insert", "to_sql", "read_sql") else 15
        assert lite["ops"] == ours["ops"] == expected
        assert lite["requests"] == {} and lite["ratio_vs_sqlite"] is None
        assert ours["ratio_vs_sqlite"] == pytest.approx(
            (ours["seconds"] / ours["ops"]) / (lite["seconds"] / lite["ops"])
        )
        assert ours["requests_total"] == sum(ours["requests"].values())
        lat = ours["latency_ms"]
        assert 0 < lat["p50"] <= lat["p99"] <= lat["p99.9"] <= lat["max"]
        if name in ("insert", "to_sql", "update", "orm-write"):
            assert ours["requests"]["PUT"] >= 1  # durable commits store WAL objects
        if name in ("update", "orm-write"):
            assert ours["requests"]["PUT"] >= expected  # a commit each
    by_name = {r["workload"]: r for r in results[1::2]}
    assert by_name["insert"]["latency_unit"] == "batch of 50 rows"
    for kind in REQUEST_KINDS:
        measured = sum(r["requests"][kind] for r in results[1::2])
        assert measured + doc["unmeasured_requests"][kind] == doc["store_requests"][kind]
        assert doc["unmeasured_requests"][kind] >= 0
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_one_workload_on_a_directory_with_latency(tmp_path: Path) -> None:
    doc = bench("pk-select", "--rows", "50", "--ops", "5", "--url", str(tmp_path),
                "--latency", "put=1,get=1", "--mode", "exclusive")  # fmt: skip
    assert [r["system"] for r in doc["results"]] == ["sqlite3", "strata"]
    assert doc["config"]["mode"] == "exclusive" and doc["config"]["latency_ms"]["PUT"] == 1
    assert any(tmp_path.iterdir())  # the database lives under --url


def test_kv_is_under_bench_too() -> None:
    result = CliRunner().invoke(main, ["bench", "kv", "fillseq", "--num", "10", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results"][0]["ops"] == 10


def test_unknown_sql_workload() -> None:
    result = CliRunner().invoke(main, ["bench", "sql", "nosuch"])
    assert result.exit_code == 2 and "unknown workload" in result.output


def test_per_operation_workloads_from_several_threads() -> None:
    doc = bench("pk-select", "orm-write", "--rows", "40", "--ops", "24", "--threads", "3")
    assert doc["config"]["threads"] == 3
    for r in doc["results"]:
        assert r["ops"] == 24 and r["retries"] >= 0


def test_concurrent_updates_lose_none() -> None:
    # 3 connections increment 5 rows 60 times in all: each update commits exactly once,
    # retried after a conflict, so the prices grow by exactly 60 on both systems.
    cfg = SQLConfig(rows=5, ops=60, threads=3)
    with systems(cfg) as pair:
        for system in pair:
            result = _workload("update", system, False, None)
            assert result.ops == 60
            with system.engine.connect() as conn:
                total = conn.execute(sa.select(sa.func.sum(ITEMS.c.price))).scalar_one()
            assert total == sum(i * 0.5 for i in range(5)) + 60, system.name


def test_a_conflicting_write_is_run_again_and_counted() -> None:
    cfg = SQLConfig(rows=1, ops=1)
    with systems(cfg) as (_, strata):
        tries: list[int] = []

        def attempt() -> None:
            tries.append(1)
            if len(tries) < 3:
                raise sa.exc.OperationalError("COMMIT", {}, ConflictError("write conflict"))

        strata.retrying(attempt)
        assert len(tries) == 3 and strata.retries == 2
        with pytest.raises(sa.exc.OperationalError):  # anything else is raised at once

            def broken() -> None:
                raise sa.exc.OperationalError("SELECT", {}, OperationalError("disk gone"))

            strata.retrying(broken)
        assert strata.retries == 2
