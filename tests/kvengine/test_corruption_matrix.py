"""The corruption matrix: every object kind by (flipped byte, truncation, another object's
valid bytes) → ``Corruption`` naming the object, never wrong data, never a hang.

Object kinds: a WAL object the recovery replays; the newest SST's data blocks, bloom filter,
index and footer (each damaged inside its own byte range), and the whole SST replaced by an
older SST; the latest manifest. Reads go through the engine (``DB.open`` and a full scan plus
a point read of every key); ``tests/dialect/test_corruption_sql.py`` does the same through SQL.

``python -m tests.kvengine.test_corruption_matrix`` prints the number of cases per kind and
how many were detected (the figures in docs/reliability.md).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from kvengine import DB, Corruption, Options
from kvengine.store import open_store

OPTS = Options(block_bytes=256, compression="none", l0_compaction_trigger=0)


@dataclass(frozen=True)
class Built:
    url: str
    expected: dict[bytes, bytes]
    wal: tuple[str, str]  # (target, another WAL object)
    sst: tuple[str, str]  # (newest SST, an older SST)
    manifest: tuple[str, str]  # (latest, the one before)


def build() -> Built:
    """Two SSTs of the same size (the newer overwrites every key with a value of the same
    length), then WAL objects of the same size after the replay point: a replacement is
    caught only by the object's own id, not by its size or checksums."""
    url = f"memory://{uuid.uuid4().hex}"
    expected = {}
    with DB.open(url, options=OPTS) as db:
        for i in range(120):
            db.put(b"key%04d" % i, b"old-%04d" % i, durable=False)
            expected[b"key%04d" % i] = b"old-%04d" % i
        db.flush()
        for i in range(120):
            db.put(b"key%04d" % i, b"new-%04d" % i, durable=False)
            expected[b"key%04d" % i] = b"new-%04d" % i
        db.flush()
        for i in range(3):
            db.put(b"tail%d" % i, b"in the WAL %d" % i)
            expected[b"tail%d" % i] = b"in the WAL %d" % i
    store = open_store(url)
    wals = [o.path for o in store.list("wal/")]
    ssts = [o.path for o in store.list("sst/")]
    manifests = [o.path for o in store.list("manifest/")]
    assert len(ssts) == 2 and len(wals) >= 4 and len(manifests) >= 2
    assert len(store.get(ssts[0])) == len(store.get(ssts[1]))
    assert len(store.get(wals[-1])) == len(store.get(wals[-2]))
    # the last two WAL objects are after the replay point (they hold tail1 and tail2)
    return Built(
        url, expected, (wals[-1], wals[-2]), (ssts[-1], ssts[0]), (manifests[-1], manifests[-2])
    )


def read_everything(url: str, keys: list[bytes]) -> dict[bytes, bytes]:
    with DB.open(url, read_only=True, options=OPTS) as db:
        seen = dict(db.scan())
        for key in keys:
            assert db.get(key) == seen.get(key)
        return seen


# -- the damage ------------------------------------------------------------------------------

Damage = Callable[[bytes, bytes, tuple[int, int]], bytes]  # (target, other, part range) → bytes


def flip(where: float) -> Damage:
    """Flip one bit of the byte at fraction ``where`` of the part (1.0: its last byte)."""

    def damage(data: bytes, other: bytes, part: tuple[int, int]) -> bytes:
        start, end = part
        i = min(end - 1, start + int((end - start) * where))
        return data[:i] + bytes([data[i] ^ 0x10]) + data[i + 1 :]

    return damage


def cut(where: float) -> Damage:
    """Truncate the object at fraction ``where`` of the part (0.0: just before it)."""

    def damage(data: bytes, other: bytes, part: tuple[int, int]) -> bytes:
        start, end = part
        return data[: min(end - 1, start + int((end - start) * where))]

    return damage


def replace_with_other(data: bytes, other: bytes, part: tuple[int, int]) -> bytes:
    return other


FLIPS = {f"flip{int(w * 100)}": flip(w) for w in (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)}
CUTS = {f"cut{int(w * 100)}": cut(w) for w in (0.0, 0.3, 0.6, 0.99)}
DAMAGES = {**FLIPS, **CUTS}


def sst_parts(data: bytes) -> dict[str, tuple[int, int]]:
    """Byte ranges of an SST's parts, from its (version 2) footer."""
    _, _, f_off, f_len, i_off, i_len = struct.unpack_from("<4sHQIQI", data, len(data) - 34)
    footer = len(data) - 42
    return {
        "sst-data": (0, f_off),
        "sst-filter": (f_off, f_off + f_len),
        "sst-index": (i_off, i_off + i_len),
        "sst-footer": (footer, len(data)),
    }


KINDS = ["wal", "sst-data", "sst-filter", "sst-index", "sst-footer", "manifest"]
REPLACEABLE = ["wal", "sst", "manifest"]


def cases() -> list[tuple[str, str]]:
    return [(kind, name) for kind in KINDS for name in DAMAGES] + [
        (kind, "replaced") for kind in REPLACEABLE
    ]


def corrupt(built: Built, kind: str, how: str) -> str:
    """Damage the object of ``kind`` with ``how``; the damaged object's path."""
    store = open_store(built.url)
    family = kind.split("-")[0]
    target, other = getattr(built, family)
    data, other_data = store.get(target), store.get(other)
    if how == "replaced":
        new = other_data
    else:
        part = sst_parts(data)[kind] if family == "sst" else (0, len(data))
        new = DAMAGES[how](data, other_data, part)
    assert new != data
    store.put(target, new)
    return target


def outcome(kind: str, how: str) -> tuple[bool, str]:
    """(detected, detail): detected is True when ``Corruption`` named the damaged object;
    a read that returns anything but the true data fails the test outright."""
    built = build()
    path = corrupt(built, kind, how)
    keys = sorted(built.expected)
    try:
        seen = read_everything(built.url, keys)
    except Corruption as exc:
        assert exc.object_name == path, exc
        return True, str(exc)
    assert seen == built.expected, f"{kind}/{how}: wrong data returned"
    return False, "undetected, but the data read was right"


@pytest.mark.parametrize(("kind", "how"), cases())
def test_corruption_is_detected_and_named(kind: str, how: str) -> None:
    detected, detail = outcome(kind, how)
    assert detected, detail


def main() -> None:
    counts: dict[str, list[int]] = {}
    for kind, how in cases():
        family = "sst (whole)" if (kind, how) == ("sst", "replaced") else kind
        detected, _ = outcome(kind, how)
        tally = counts.setdefault(family, [0, 0])
        tally[0] += 1
        tally[1] += detected
    for family, (total, detected) in counts.items():
        print(f"{family:12} {detected}/{total} detected")


if __name__ == "__main__":
    main()
