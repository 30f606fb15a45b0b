"""Local TCP ports for emulators: picking a free one and waiting until a server answers on it."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free when asked; a server started on it may still lose
    a race for it, which its launcher detects and retries."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def answers_http(url: str, timeout_s: float = 1.0) -> bool:
    """Whether an HTTP server answers ``url`` with any status, error statuses included."""
    try:
        urllib.request.urlopen(url, timeout=timeout_s).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def wait_for_http(url: str, timeout_s: float, alive: Callable[[], bool]) -> bool:
    """Poll ``url`` until it answers (True) or ``alive()`` turns false (False).

    Raises TimeoutError if neither happens within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            return False
        if answers_http(url):
            return True
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout_s:g} s")
