from __future__ import annotations

import uuid

import pytest

from kvengine.store import MemoryStore, open_store
from tests.kvengine.store.conformance import StoreConformance, Target


class TestMemoryStore(StoreConformance):
    @pytest.fixture
    def target(self) -> Target:
        return f"memory://{uuid.uuid4().hex}", {}


def test_named_store_is_shared_and_survives_close() -> None:
    name = uuid.uuid4().hex
    a = open_store(f"memory://{name}")
    a.put("k", b"v")
    a.close()
    b = open_store(f"memory://{name}")
    assert b.get("k") == b"v"
    assert MemoryStore.named(name).get("k") == b"v"
