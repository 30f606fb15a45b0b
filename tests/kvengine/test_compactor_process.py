"""``strata compactor`` as its own process beside a writer process: it takes the flush and
compaction role and keeps it; a second compactor fences the first, which stops with exit code
3; the data equals the writer's model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from kvengine import DB
from kvengine.manifest.store import ManifestStore
from kvengine.store import open_store

ROOT = Path(__file__).resolve().parents[2]
COMPACTOR_SETTINGS = [
    "--set", "l0_sst_size=16384",
    "--set", "l0_compaction_trigger=3",
    "--set", "compaction_min_merge_width=2",
    "--set", "sst_target_bytes=32768",
    "--set", "block_bytes=1024",
    "--set", "flusher_poll_ms=50",
    "--fence-check-s", "0.2",
]  # fmt: skip


class Proc:
    """A child process whose stdout and stderr lines are collected as they come."""

    def __init__(self, *argv: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *argv],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._threads = [
            threading.Thread(target=self._collect, args=(self.proc.stdout, self.out)),
            threading.Thread(target=self._collect, args=(self.proc.stderr, self.err)),
        ]
        for t in self._threads:
            t.start()

    @staticmethod
    def _collect(stream: IO[str], into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s  # a guard against hanging, not an assertion
        while not any(text in line for line in [*self.out, *self.err]):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {text!r}; stderr:\n" + "\n".join(self.err[-30:]))
            time.sleep(0.05)

    def finish(self, timeout_s: float = 120.0) -> int:
        code = self.proc.wait(timeout=timeout_s)
        for t in self._threads:
            t.join()
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.finish()


def _compactor(url: str) -> Proc:
    return Proc("kvengine.cli", "compactor", url, *COMPACTOR_SETTINGS)


def test_a_compactor_process_beside_a_writer_then_a_second_one_fences_it(tmp_path: Path) -> None:
    url = str(tmp_path / "db")
    procs: list[Proc] = []
    try:
        first = _compactor(url)
        procs.append(first)
        first.wait_for("holding the role (compactor epoch 1)")
        writer = Proc("tests.kvengine.compaction_writer", url, "150", "13")
        procs.append(writer)
        assert writer.finish() == 0, "\n".join(writer.err[-30:])
        model = json.loads(next(x for x in writer.out if x.startswith("model "))[6:])
        stats = json.loads(next(x for x in writer.out if x.startswith("stats "))[6:])
        assert stats == {"flushed_ssts": 0, "flush_role": False}  # never took the role
        first.wait_for("compacted ")  # it flushed the writer's commits and compacted them

        second = _compactor(url)
        procs.append(second)
        second.wait_for("holding the role (compactor epoch 2)")
        assert first.finish() == 3
        assert any("fenced: another compactor took the role" in line for line in first.err)
        assert any("compactor stopped" in line for line in first.err)

        mstore = ManifestStore(open_store(url))
        found = mstore.read_latest()
        assert found is not None and found[1].compactor_epoch == 2
        assert found[1].runs  # compactions landed
        with DB.open(url, read_only=True) as db:
            assert {k.hex(): v.hex() for k, v in db.scan()} == model
        second.proc.send_signal(signal.SIGTERM)
        assert second.finish() == 0, "\n".join(second.err[-30:])
    finally:
        for p in procs:
            p.stop()
