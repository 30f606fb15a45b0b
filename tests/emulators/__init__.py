"""Real object-store servers for the tests, each started on a free 127.0.0.1 port.

Launchers (each a context manager yielding an :class:`Emulator`, the server stopped on exit):

- ``fake_gcs.fake_gcs()``: fake-gcs-server from the PyPI wheel, as a process (``gs://``).
- ``gcs_container.gcs_container()``: the same server in a container, through testcontainers.
- ``moto_s3.moto_s3()``: ``moto_server`` from ``moto[server]`` (``s3://``).
- ``azurite.azurite()``: Azurite's blob service from npm, installed by ``.ci/azurite.sh``
  (``az://``).

A server that is missing or does not come up raises :class:`EmulatorError` saying what to
install or start, with the server's log tail: the tests that need it fail, they never skip.
"""

from __future__ import annotations

from dataclasses import dataclass


class EmulatorError(RuntimeError):
    """An emulator could not be started; the message says why and what to install or run."""


@dataclass(frozen=True)
class Emulator:
    """A running object store.

    ``url_prefix`` names its bucket or container (``gs://strata-test``); ``storage_options``
    are the keyword arguments that reach it, so ``fsspec.filesystem(protocol,
    **storage_options)`` and ``open_store(f"{url_prefix}/db", **storage_options)`` work.
    """

    url_prefix: str
    storage_options: dict[str, object]
    protocol: str


__all__ = ["Emulator", "EmulatorError"]
