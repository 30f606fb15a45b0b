"""Azurite's blob service (npm ``azurite``, installed by ``.ci/azurite.sh``) as an Azure
endpoint."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.emulators.process import Emulator, EmulatorError, free_port, server_process

CONTAINER = "strata-test"
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development account key (public, documented by Microsoft).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
REPO = Path(__file__).resolve().parents[2]


def azurite_binary() -> str:
    candidates = [
        os.environ.get("STRATA_AZURITE_BIN", ""),
        str(REPO / ".ci" / "azurite-npm" / "node_modules" / ".bin" / "azurite-blob"),
        shutil.which("azurite-blob") or "",
    ]
    for c in candidates:
        if c and os.path.exists(c):
            return c
    raise EmulatorError(
        "Azurite is missing: run `bash .ci/azurite.sh` (npm install into .ci/azurite-npm) "
        "or set STRATA_AZURITE_BIN"
    )


@contextlib.contextmanager
def azurite() -> Iterator[Emulator]:
    """An Azurite blob process (in-memory) with container ``strata-test``."""
    exe = azurite_binary()
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}/{ACCOUNT}"
    with tempfile.TemporaryDirectory(prefix="strata-azurite-") as workdir:
        argv = [
            exe,
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--skipApiVersionCheck",
            "--loose",
            "--location",
            workdir,
            "--silent",
        ]
        with server_process(argv, f"http://127.0.0.1:{port}/"):
            import adlfs

            conn = (
                f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                f"BlobEndpoint={endpoint};"
            )
            options = {"connection_string": conn}
            adlfs.AzureBlobFileSystem(**options, skip_instance_cache=True).mkdir(CONTAINER)
            yield Emulator("azurite", f"az://{CONTAINER}", options, endpoint)
