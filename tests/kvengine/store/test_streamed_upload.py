"""Streamed create-only uploads on the real emulators (fake-gcs-server, moto, Azurite) and on
local disk: large objects arrive byte for byte, racing streamed creates have one winner whose
bytes are the only ones ever visible, and the upload holds a bounded amount of memory whatever
the object's size (docs/object-stores.md, "Streamed uploads")."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from kvengine.store import Store, fsspec_store, open_store
from kvengine.store.base import FileChunks
from tests.conftest import fresh_target
from tests.emulators import Emulator
from tests.kvengine.store.conformance import FAST_RETRY, one_winner

MiB = 1024 * 1024
#: The large object: past gcsfs's resumable threshold (50 MiB) and above the default
#: ``sst_target_bytes`` (64 MiB).
BIG = 80 * MiB
#: Peak Python allocation allowed while streaming ``BIG`` bytes: a few chunks (``FileChunks``
#: reads 8 MiB at a time), never the object.
PEAK_LIMIT = 24 * MiB


@pytest.fixture(params=["gcs", "s3", "azure", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    kind = request.param
    if kind == "local":
        return open_store(str(tmp_path / "db"), retry=FAST_RETRY)
    server: Emulator = request.getfixturevalue(
        {"gcs": "gcs_server", "s3": "s3_server", "azure": "azure_server"}[kind]
    )
    url, options = fresh_target(server)
    return open_store(url, retry=FAST_RETRY, **options)


def spool(path: Path, size: int, seed: int) -> tuple[Any, str]:
    """A file of ``size`` pseudo-random bytes (made from ``seed``), open for reading, and the
    sha256 of its bytes."""
    digest = hashlib.sha256()
    block = hashlib.shake_256(b"%d" % seed).digest(MiB)
    with open(path, "wb") as f:
        for i in range(0, size, MiB):
            piece = (block[i // MiB % 251 :] + block)[: min(MiB, size - i)]
            f.write(piece)
            digest.update(piece)
    return open(path, "rb"), digest.hexdigest()


def stored_digest(store: Store, path: str, size: int) -> str:
    digest = hashlib.sha256()
    for start in range(0, size, 8 * MiB):
        digest.update(store.get(path, start, min(size, start + 8 * MiB)))
    return digest.hexdigest()


def test_large_streamed_create_is_bounded_and_exact(store: Store, tmp_path: Path) -> None:
    mine, mine_digest = spool(tmp_path / "mine", BIG, 1)
    theirs, _ = spool(tmp_path / "theirs", BIG, 2)
    with mine, theirs:
        tracemalloc.start()
        try:
            created = store.put_if_absent_stream("big/obj", FileChunks(mine, BIG), BIG)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert created is True
        print(f"{store.url}: peak Python allocation {peak / MiB:.1f} MiB for {BIG // MiB} MiB")
        assert peak < PEAK_LIMIT
        assert store.head("big/obj").size == BIG
        assert stored_digest(store, "big/obj", BIG) == mine_digest
        # a second large create loses and changes nothing
        assert store.put_if_absent_stream("big/obj", FileChunks(theirs, BIG), BIG) is False
        assert stored_digest(store, "big/obj", BIG) == mine_digest
    assert [o.path for o in store.list("big/")] == ["big/obj"]


@pytest.mark.parametrize("store", ["gcs", "azure", "local"], indirect=True)
def test_racing_streamed_creates_of_many_blocks(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four writers stream 6 MiB each to one name (on Azure in 48 blocks of 128 KiB, so the
    block lists of the racers interleave): one wins, the object is exactly its bytes.

    Not on moto: its ``PutObject`` checks ``If-None-Match`` once the body is in, then hashes
    the body and stores it, unlocked (``moto/s3/responses.py``), so two racing multi-MiB PUTs
    can both succeed there, buffered or streamed alike. The conformance suite's race of small
    streamed creates runs on it."""
    monkeypatch.setattr(fsspec_store, "AZURE_BLOCK_BYTES", 128 * 1024)
    size = 6 * MiB
    piece = MiB // 2

    def body(i: int) -> list[bytes]:
        return [bytes([i]) * piece] * (size // piece)

    for round_ in range(2):
        name = f"race/{round_}"
        winner = one_winner(4, lambda i, name=name: store.put_if_absent_stream(name, body(i), size))
        assert store.get(name) == bytes([winner]) * size
    assert [o.path for o in store.list("race/")] == ["race/0", "race/1"]


def test_streamed_create_rejects_a_wrong_size(store: Store) -> None:
    """Chunks longer or shorter than announced fail the request and create nothing."""
    from kvengine.errors import InvalidArgument

    with pytest.raises(InvalidArgument):
        store.put_if_absent_stream("w/short", [b"x" * 100_000], 100_001)
    with pytest.raises(InvalidArgument):
        store.put_if_absent_stream("w/long", [b"x" * 100_000, b"y"], 100_000)
    assert store.list("w/") == []
