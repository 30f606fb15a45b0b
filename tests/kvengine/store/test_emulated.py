"""The conformance suite against real servers: fake-gcs-server (as a process and in a
container through testcontainers), moto_server for S3, Azurite for Azure."""

from __future__ import annotations

import pytest

from tests.conftest import fresh_target
from tests.emulators import Emulator
from tests.kvengine.store.conformance import StoreConformance, Target


class TestGCS(StoreConformance):
    @pytest.fixture
    def target(self, gcs_server: Emulator) -> Target:
        return fresh_target(gcs_server)


class TestGCSInContainer(StoreConformance):
    @pytest.fixture
    def target(self, gcs_container_server: Emulator) -> Target:
        return fresh_target(gcs_container_server)


class TestS3(StoreConformance):
    @pytest.fixture
    def target(self, s3_server: Emulator) -> Target:
        return fresh_target(s3_server)


class TestAzure(StoreConformance):
    @pytest.fixture
    def target(self, azure_server: Emulator) -> Target:
        return fresh_target(azure_server)
