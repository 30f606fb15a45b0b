"""Corrupt or truncated objects raise Corruption naming the object, never wrong data."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from kvengine import DB, Corruption, Options
from kvengine.store import open_store

OPTS = Options(block_bytes=256, compression="none", l0_compaction_trigger=0)


def _damage(store_url: str, prefix: str, how: Callable[[bytes], bytes], pick: int = -1) -> str:
    store = open_store(store_url)
    obj = store.list(prefix)[pick]
    store.put(obj.path, how(store.get(obj.path)))
    return obj.path


def _flip(offset: int) -> Callable[[bytes], bytes]:
    def flip(data: bytes) -> bytes:
        i = offset % len(data)
        return data[:i] + bytes([data[i] ^ 0x40]) + data[i + 1 :]

    return flip


def _truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _make_db(with_sst: bool) -> str:
    url = f"memory://{uuid.uuid4().hex}"
    with DB.open(url, options=OPTS) as db:
        for i in range(200):
            db.put(b"key%04d" % i, b"value-%04d" % i, durable=False)
        if with_sst:
            db.flush()
        db.put(b"tail", b"in the WAL")
    return url


@pytest.mark.parametrize("how", [_flip(20), _flip(-3), _truncate], ids=["flip", "flip-end", "cut"])
def test_corrupt_wal_is_reported_on_open(how: Callable[[bytes], bytes]) -> None:
    url = _make_db(with_sst=False)
    path = _damage(url, "wal/", how, pick=0)
    with pytest.raises(Corruption) as info:
        DB.open(url, read_only=True)
    assert info.value.object_name == path


@pytest.mark.parametrize("how", [_flip(7), _flip(-2), _truncate], ids=["flip", "flip-end", "cut"])
def test_corrupt_manifest_is_reported_on_open(how: Callable[[bytes], bytes]) -> None:
    url = _make_db(with_sst=True)
    path = _damage(url, "manifest/", how)
    with pytest.raises(Corruption) as info:
        DB.open(url, read_only=True)
    assert info.value.object_name == path


def test_corrupt_sst_block_is_reported_on_read() -> None:
    url = _make_db(with_sst=True)
    path = _damage(url, "sst/", _flip(100))  # inside the first data block
    with DB.open(url, read_only=True) as db:
        with pytest.raises(Corruption) as info:
            list(db.scan())
        assert info.value.object_name == path
        with pytest.raises(Corruption):
            db.get(b"key0000")


@pytest.mark.parametrize("how", [_flip(-5), _truncate], ids=["footer", "cut"])
def test_corrupt_sst_footer_is_reported_on_read(how: Callable[[bytes], bytes]) -> None:
    url = _make_db(with_sst=True)
    path = _damage(url, "sst/", how)
    with DB.open(url, read_only=True) as db:
        with pytest.raises(Corruption) as info:
            db.get(b"key0100")
        assert info.value.object_name == path
