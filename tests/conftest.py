"""Session-wide fixtures: the object-store emulators, each started once on a free 127.0.0.1
port and stopped at the end. A server that cannot start fails the tests that need it."""

from __future__ import annotations

import logging
import os
import random
import uuid
from collections.abc import Iterator

import pytest

from tests.emulators import Emulator
from tests.emulators.azurite import azurite
from tests.emulators.fake_gcs import fake_gcs
from tests.emulators.gcs_container import gcs_container
from tests.emulators.moto_s3 import moto_s3

# Keep the engine's background logging visible when a test fails.
logging.getLogger("kvengine").setLevel(logging.INFO)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--seed",
        type=int,
        default=None,
        help="seed of the seeded tests (crash loop, simulation); default: $STRATA_SEED or random",
    )


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """The seed of a seeded test: ``--seed N``, else ``$STRATA_SEED``, else a random one;
    printed, so a failure shows the command that reproduces it."""
    given = request.config.getoption("--seed")
    if given is None:
        given = int(os.environ.get("STRATA_SEED", random.randrange(2**31)))
    print(f"seed {given}: reproduce with pytest {request.node.nodeid} --seed {given}")
    return int(given)


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[Emulator]:
    with fake_gcs() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def gcs_container_server() -> Iterator[Emulator]:
    with gcs_container() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def s3_server() -> Iterator[Emulator]:
    with moto_s3() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def azure_server() -> Iterator[Emulator]:
    with azurite() as emulator:
        yield emulator


def fresh_target(emulator: Emulator) -> tuple[str, dict[str, object]]:
    """A new, empty database root on ``emulator``."""
    return f"{emulator.url_prefix}/t-{uuid.uuid4().hex[:12]}", dict(emulator.storage_options)


@pytest.fixture(params=["memory", "local", "gcs", "s3"])
def any_target(request: pytest.FixtureRequest, tmp_path: object) -> tuple[str, dict[str, object]]:
    """A fresh database root on each backend the engine tests run on."""
    kind = request.param
    if kind == "memory":
        return f"memory://{uuid.uuid4().hex}", {}
    if kind == "local":
        return os.path.join(str(tmp_path), "db"), {}
    server = request.getfixturevalue("gcs_server" if kind == "gcs" else "s3_server")
    return fresh_target(server)
