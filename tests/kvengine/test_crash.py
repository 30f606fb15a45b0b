"""Crash durability: every write acknowledged before a SIGKILL is there after reopening."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import IO

from kvengine import DB, Options

CHILD = textwrap.dedent(
    """
    import sys, threading
    from kvengine import DB, Options
    db = DB.open(sys.argv[1], options=Options(l0_sst_size=16384, l0_compaction_trigger=3,
                                              block_bytes=1024))
    run = sys.argv[2]
    lock = threading.Lock()
    def writer(t):
        i = 0
        while True:
            key = f"{run}-{t}-{i:06d}".encode()
            db.put(key, key * 3)
            with lock:
                print(key.decode(), flush=True)
            i += 1
    for t in range(4):
        threading.Thread(target=writer, args=(t,), daemon=True).start()
    threading.Event().wait()
    """
)


def _collect(stream: IO[str], lines: list[str]) -> None:
    lines.extend(stream)


KILLS = int(os.environ.get("STRATA_CRASH_KILLS", "20"))


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    url = str(tmp_path / "db")
    rng = random.Random(1234)
    acknowledged: list[bytes] = []
    for run in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, url, f"r{run:02d}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=_collect, args=(child.stdout, lines))
        reader.start()
        # Kill at a random moment once it has written something (or after a bounded wait).
        deadline = time.monotonic() + 30
        target = rng.randint(1, 600)
        while len(lines) < target and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait()
        reader.join()
        assert lines, f"run {run}: the child acknowledged nothing"
        acknowledged.extend(line.strip().encode() for line in lines if line.strip())
        with DB.open(url, read_only=True) as db:
            missing = [k for k in acknowledged if db.get(k) != k * 3]
            assert missing == [], f"run {run}: {len(missing)} acknowledged writes lost"
    with DB.open(url, options=Options()) as db:
        found = {k for k, _ in db.scan()}
        assert set(acknowledged) <= found
