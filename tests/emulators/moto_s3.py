"""moto_server (PyPI ``moto[server]``, a test extra) as a local S3 endpoint.

It enforces ``If-None-Match: *`` on every s3fs write path, so ``pipe_file(path, data,
mode="create")`` is atomic against it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import urllib.request
from collections.abc import Iterator

from tests.emulators import Emulator, EmulatorError
from tests.emulators.ports import HOST
from tests.emulators.process import serve

BUCKET = "strata-test"
REGION = "us-east-1"


@contextlib.contextmanager
def moto_s3(*, bucket: str = BUCKET) -> Iterator[Emulator]:
    """A moto_server process holding the empty bucket ``bucket``, stopped on exit.

    The storage options carry dummy credentials and pin the region, so ambient ``AWS_*``
    settings do not change them. Raises EmulatorError if ``moto_server`` is missing or does
    not come up.
    """
    exe = moto_server_binary()
    with serve("moto_server", lambda port: [exe, "-H", HOST, "-p", str(port)], "/") as port:
        endpoint = f"http://{HOST}:{port}"
        # Created by a plain request: s3fs's mkdir sends a LocationConstraint whenever a region
        # is set, and S3 (so moto) rejects one naming us-east-1.
        urllib.request.urlopen(
            urllib.request.Request(f"{endpoint}/{bucket}", method="PUT"), timeout=10
        ).close()
        options: dict[str, object] = {
            "endpoint_url": endpoint,
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"region_name": REGION},
        }
        yield Emulator(f"s3://{bucket}", options, "s3")


def moto_server_binary() -> str:
    """The path of ``moto_server``: beside this Python (its virtualenv), else on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "moto_server")
    exe = beside if os.path.exists(beside) else shutil.which("moto_server")
    if exe is None:
        raise EmulatorError("moto_server is missing: pip install -e '.[test]' (moto[server])")
    return exe
