from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import dialect


@pytest.fixture
def conn() -> Iterator[dialect.Connection]:
    """A connection to a fresh database on the memory store: SQL semantics do not depend on
    the backend (tests/dialect/test_backends.py runs SQL on each one; the engine's tests
    cover the backends themselves)."""
    connection = dialect.connect(f"memory://{uuid.uuid4().hex}")
    yield connection
    connection.close()


@pytest.fixture
def mem() -> Iterator[dialect.Connection]:
    connection = dialect.connect(f"memory://{uuid.uuid4().hex}")
    yield connection
    connection.close()
