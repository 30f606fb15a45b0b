from __future__ import annotations

import uuid
from pathlib import Path

from click.testing import CliRunner

from kvengine.cli import admin
from kvengine.doctor import diagnose
from kvengine.store import FsspecStore, Store, open_store


def test_doctor_passes_on_local_disk(tmp_path: Path) -> None:
    result = CliRunner().invoke(admin, ["doctor", str(tmp_path), "--samples", "3"])
    assert result.exit_code == 0, result.output
    assert "verdict: safe for Strata" in result.output
    assert "FAIL" not in result.output
    assert not (tmp_path / "doctor").exists()  # cleaned up, directories included


def test_doctor_fails_a_store_without_atomic_create(tmp_path: Path) -> None:
    # fsspec's in-memory filesystem has no server-side create-only: the doctor must say so.
    import fsspec

    adapter = FsspecStore(fsspec.filesystem("memory"), f"/doctor-{uuid.uuid4().hex}")
    assert not adapter.atomic_create
    report = diagnose(Store(adapter), samples=3)
    assert not report.ok
    assert [c.name for c in report.checks if not c.ok] == ["create-only is atomic"]


def test_doctor_reports_latency_for_every_request_kind() -> None:
    report = diagnose(open_store(f"memory://{uuid.uuid4().hex}"), samples=4)
    assert report.ok
    names = " ".join(t.name for t in report.timings)
    for kind in ("PUT", "GET", "HEAD", "LIST", "DELETE", "create-only"):
        assert kind in names
    assert all(len(t.samples_ms) == 4 and t.p99_ms >= t.p50_ms >= 0 for t in report.timings)


def test_doctor_bad_url_exits_2() -> None:
    result = CliRunner().invoke(admin, ["doctor", "nosuchproto://bucket/x"])
    assert result.exit_code == 2
    assert "cannot open" in result.output
