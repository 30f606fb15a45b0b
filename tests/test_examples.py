"""Every example runs as a user would run it (gcs.py against the GCS emulator)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.emulators import Emulator

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.py"))
LOCAL = [p for p in EXAMPLES if p.name != "gcs.py"]


def run(args: list[str], env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    return result.stdout


@pytest.mark.parametrize("script", LOCAL, ids=[p.name for p in LOCAL])
def test_example_runs(script: Path, tmp_path: Path) -> None:
    run([str(script), str(tmp_path / "db")])


def test_gcs_example(gcs_server: Emulator) -> None:
    bucket = gcs_server.url_prefix.removeprefix("gs://")
    options = gcs_server.storage_options
    url = (
        f"strata+gs://{bucket}/example-{uuid.uuid4().hex[:8]}"
        f"?endpoint_url={options['endpoint_url']}&token=anon&project=strata-test"
    )
    out = run([str(EXAMPLES[0].parent / "gcs.py")], {"STRATA_GCS_URL": url})
    assert "from GCS" in out
