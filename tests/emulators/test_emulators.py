"""Each launcher starts a real server that enforces create-only writes, and fails loudly when
its server cannot run."""

from __future__ import annotations

import contextlib
import socket
import sys
import uuid
from collections.abc import Callable, Iterator

import fsspec
import pytest

from tests.emulators import Emulator, EmulatorError
from tests.emulators.azurite import azurite
from tests.emulators.fake_gcs import fake_gcs
from tests.emulators.gcs_container import gcs_container
from tests.emulators.moto_s3 import moto_s3
from tests.emulators.process import serve

Launcher = Callable[[], contextlib.AbstractContextManager[Emulator]]
LAUNCHERS: dict[str, Launcher] = {
    "fake_gcs": fake_gcs,
    "gcs_container": gcs_container,
    "moto_s3": moto_s3,
    "azurite": azurite,
}


@pytest.fixture(params=list(LAUNCHERS))
def emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    with LAUNCHERS[request.param]() as running:
        yield running


def test_create_only_write_is_enforced(emulator: Emulator) -> None:
    fs = fsspec.filesystem(emulator.protocol, skip_instance_cache=True, **emulator.storage_options)
    path = f"{emulator.url_prefix}/smoke/{uuid.uuid4().hex}"

    fs.pipe_file(path, b"first", mode="create")
    with pytest.raises(FileExistsError):
        fs.pipe_file(path, b"second", mode="create")

    assert fs.cat_file(path) == b"first"
    assert emulator.url_prefix.startswith(f"{emulator.protocol}://")


def test_gcs_uses_plain_gcsfs() -> None:
    # gcsfs's ExtendedGcsFileSystem stalls 60 s per bucket against an emulator.
    import gcsfs.core

    with fake_gcs() as emulator:
        fs = fsspec.filesystem("gs", skip_instance_cache=True, **emulator.storage_options)
        assert type(fs) is gcsfs.core.GCSFileSystem


def test_s3_options_ignore_ambient_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with moto_s3() as emulator:
        fs = fsspec.filesystem("s3", skip_instance_cache=True, **emulator.storage_options)
        fs.pipe_file(f"{emulator.url_prefix}/x", b"x", mode="create")
        assert fs.cat_file(f"{emulator.url_prefix}/x") == b"x"


def test_missing_azurite_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATA_AZURITE_BIN", "/nonexistent/azurite-blob")
    with pytest.raises(EmulatorError, match="STRATA_AZURITE_BIN"), azurite():
        pass


def test_unreachable_docker_says_how_to_start_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(EmulatorError, match=r"\.ci/dockerd\.sh"), gcs_container():
        pass


def test_server_that_exits_reports_its_log() -> None:
    argv = [sys.executable, "-c", "print('cannot start: no config'); raise SystemExit(3)"]
    with (
        pytest.raises(EmulatorError, match=r"(?s)status 3.*no config"),
        serve("x", lambda _: argv, "/"),
    ):
        pass


def test_server_that_lost_its_port_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.emulators.process as process
    from tests.emulators.ports import free_port

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken: int = squatter.getsockname()[1]
        offered = iter([taken])
        monkeypatch.setattr(process, "free_port", lambda: next(offered, None) or free_port())
        with fake_gcs() as emulator:
            assert f":{taken}" not in str(emulator.storage_options["endpoint_url"])
