from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import dialect


@pytest.fixture(params=["memory", "local", "gcs"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, object]]:
    """A fresh database on each backend the SQL tests run on."""
    if request.param == "memory":
        return f"memory://{uuid.uuid4().hex}", {}
    if request.param == "local":
        return os.path.join(str(tmp_path), "sql"), {}
    server = request.getfixturevalue("gcs_server")
    return f"{server.url_prefix}/sql-{uuid.uuid4().hex[:12]}", dict(server.storage_options)


@pytest.fixture
def conn(target: tuple[str, dict[str, object]]) -> Iterator[dialect.Connection]:
    url, options = target
    connection = dialect.connect(url, **options)
    yield connection
    connection.close()


@pytest.fixture
def mem() -> Iterator[dialect.Connection]:
    connection = dialect.connect(f"memory://{uuid.uuid4().hex}")
    yield connection
    connection.close()
