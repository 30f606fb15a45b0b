"""Azurite's blob service (npm ``azurite``) as a local Azure Blob Storage endpoint.

``bash .ci/azurite.sh`` installs it into ``.ci/azurite-npm``; ``STRATA_AZURITE_BIN`` may name
another ``azurite-blob``. It enforces ``If-None-Match: *`` (409 on a clash), so adlfs's
``pipe_file(path, data, mode="create")`` is atomic against it and raises FileExistsError.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.emulators import Emulator, EmulatorError
from tests.emulators.ports import HOST
from tests.emulators.process import serve

CONTAINER = "strata-test"
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development account key, published by Microsoft; not a secret.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
REPO = Path(__file__).resolve().parents[2]
NPM_BIN = REPO / ".ci" / "azurite-npm" / "node_modules" / ".bin" / "azurite-blob"


@contextlib.contextmanager
def azurite(*, container: str = CONTAINER) -> Iterator[Emulator]:
    """An in-memory Azurite blob process holding the empty container ``container``, stopped
    on exit.

    Raises EmulatorError if Azurite or Node.js is missing or the server does not come up.
    """
    exe = azurite_binary()
    # In-memory Azurite refuses --location but may still write files into its working
    # directory.
    with tempfile.TemporaryDirectory(prefix="strata-azurite-") as workdir:

        def argv(port: int) -> list[str]:
            return [
                exe,
                *("--blobHost", HOST, "--blobPort", str(port)),
                *("--inMemoryPersistence", "--skipApiVersionCheck", "--loose"),
                *("--disableTelemetry", "--silent"),
            ]

        with serve("azurite-blob", argv, "/", cwd=workdir) as port:
            conn = (
                f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                f"BlobEndpoint=http://{HOST}:{port}/{ACCOUNT};"
            )
            create_container(conn, container)
            yield Emulator(f"az://{container}", {"connection_string": conn}, "az")


def azurite_binary() -> str:
    """The ``azurite-blob`` to run: ``STRATA_AZURITE_BIN``, else ``.ci/azurite-npm``'s, else
    the one on PATH."""
    if shutil.which("node") is None:
        raise EmulatorError("Azurite needs Node.js: install it (Debian: apt-get install nodejs)")
    override = os.environ.get("STRATA_AZURITE_BIN")
    if override:
        if not os.access(override, os.X_OK):
            raise EmulatorError(f"STRATA_AZURITE_BIN={override} is not an executable file")
        return override
    exe = str(NPM_BIN) if NPM_BIN.exists() else shutil.which("azurite-blob")
    if exe is None:
        raise EmulatorError(
            "Azurite is missing: run `bash .ci/azurite.sh` (npm install into .ci/azurite-npm) "
            "or set STRATA_AZURITE_BIN to an azurite-blob executable"
        )
    return exe


def create_container(connection_string: str, container: str) -> None:
    """Create ``container`` in the account ``connection_string`` names."""
    try:
        from azure.storage.blob import BlobServiceClient
    except ImportError as exc:
        raise EmulatorError(f"{exc}: pip install -e '.[az]' (adlfs)") from exc
    with BlobServiceClient.from_connection_string(connection_string) as service:
        service.create_container(container)
