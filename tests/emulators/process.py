"""Starting and stopping an emulator process, and what a test needs to reach it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any


class EmulatorError(RuntimeError):
    """An emulator could not be started; the message says why and what to install."""


@dataclass(frozen=True)
class Emulator:
    """A running store: ``url_prefix`` (e.g. ``gs://strata-test``) and the fsspec storage
    options that reach it."""

    name: str
    url_prefix: str
    storage_options: dict[str, Any] = field(default_factory=dict)
    endpoint: str = ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None, log: str) -> None:
    """Wait until ``url`` answers any HTTP status, or raise EmulatorError with the log tail."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise EmulatorError(f"{url}: server exited with {proc.returncode}\n{tail(log)}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.05)
    raise EmulatorError(f"{url}: no answer within {timeout_s} s\n{tail(log)}")


def tail(path: str, lines: int = 30) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def server_process(
    argv: Sequence[str],
    ready_url: str,
    *,
    env: dict[str, str] | None = None,
    timeout_s: float = 30.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` with its output in a temporary log file until the block ends."""
    with tempfile.NamedTemporaryFile("w+b", prefix="strata-emulator-", suffix=".log") as log:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        try:
            wait_http(ready_url, timeout_s, proc, log.name)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
