"""Running an emulator as a local process for the length of a ``with`` block."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence

from tests.emulators import EmulatorError
from tests.emulators.ports import HOST, free_port, wait_for_http

# What a server logs when it lost the race for the port free_port() picked.
_PORT_TAKEN = ("address already in use", "eaddrinuse")


@contextlib.contextmanager
def serve(
    name: str,
    argv_for_port: Callable[[int], Sequence[str]],
    ready_path: str,
    *,
    cwd: str | None = None,
    timeout_s: float = 30.0,
    attempts: int = 3,
) -> Iterator[int]:
    """Run ``argv_for_port(port)`` on a free 127.0.0.1 port and yield the port once
    ``http://127.0.0.1:{port}{ready_path}`` answers.

    Output goes to a temporary log file. Raises EmulatorError, with the log's tail, if the
    server exits or does not answer within ``timeout_s``; a server that lost its port to
    another process is retried on a new port, up to ``attempts`` times. On exit the server
    gets SIGTERM, then SIGKILL after 5 s.
    """
    for attempt in range(1, attempts + 1):
        port = free_port()
        with tempfile.NamedTemporaryFile(prefix=f"strata-{name}-", suffix=".log") as log:
            proc = subprocess.Popen(
                list(argv_for_port(port)),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
            )

            def running(p: subprocess.Popen[bytes] = proc) -> bool:
                return p.poll() is None

            try:
                try:
                    ready = wait_for_http(f"http://{HOST}:{port}{ready_path}", timeout_s, running)
                except TimeoutError as exc:
                    raise EmulatorError(f"{name}: {exc}\n{log_tail(log.name)}") from None
                if not ready:
                    tail = log_tail(log.name)
                    if attempt < attempts and any(s in tail.lower() for s in _PORT_TAKEN):
                        continue
                    raise EmulatorError(f"{name} exited with status {proc.returncode}:\n{tail}")
                yield port
                return
            finally:
                stop(proc)
    raise AssertionError("unreachable")  # the last attempt returns or raises


def stop(proc: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """Terminate ``proc``, kill it if it is still running after ``grace_s``, and reap it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def log_tail(path: str, lines: int = 40) -> str:
    """The last ``lines`` lines of the log at ``path``, for error messages."""
    try:
        with open(path, errors="replace") as f:
            text = "".join(f.readlines()[-lines:])
    except OSError as exc:
        return f"(log unreadable: {exc})"
    return f"--- last lines of its log ---\n{text}" if text else "(its log is empty)"
