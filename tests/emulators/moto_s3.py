"""moto_server (PyPI ``moto[server]``) as an S3 endpoint."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator

from tests.emulators.process import Emulator, EmulatorError, free_port, server_process

BUCKET = "strata-test"


@contextlib.contextmanager
def moto_s3() -> Iterator[Emulator]:
    """A moto_server process with bucket ``strata-test``."""
    exe = shutil.which("moto_server") or os.path.join(
        os.path.dirname(sys.executable), "moto_server"
    )
    if not os.path.exists(exe):
        raise EmulatorError("moto_server is missing; pip install -e '.[test]'")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # Buckets are created in AWS_DEFAULT_REGION; a region_name in client_kwargs breaks creation.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with server_process([exe, "-H", "127.0.0.1", "-p", str(port)], f"{endpoint}/moto-api/"):
        import s3fs

        options = {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}
        s3fs.S3FileSystem(**options, skip_instance_cache=True).mkdir(BUCKET)
        yield Emulator("moto_server", f"s3://{BUCKET}", options, endpoint)
