from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from kvengine.errors import StoreConfigError
from kvengine.store import open_store
from kvengine.store.base import FileChunks
from tests.kvengine.store.conformance import StoreConformance, Target


class TestLocalStore(StoreConformance):
    @pytest.fixture
    def target(self, tmp_path: Path) -> Target:
        return str(tmp_path / "db"), {}


def test_file_url_and_plain_path_are_the_same_store(tmp_path: Path) -> None:
    open_store(f"file://{tmp_path}/db").put("x/y", b"1")
    assert open_store(str(tmp_path / "db")).get("x/y") == b"1"
    assert (tmp_path / "db" / "x" / "y").read_bytes() == b"1"


def test_no_temporary_files_left_or_listed(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    store.put_if_absent("a", b"1")
    store.put_if_absent("a", b"2")
    store.put("b", b"3")
    assert [o.path for o in store.list()] == ["a", "b"]
    assert os.listdir(tmp_path / ".tmp") == []


def test_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(StoreConfigError):
        open_store(str(tmp_path / "f"))


def _race(root: str, names: int, barrier: multiprocessing.synchronize.Barrier, out: object) -> None:
    store = open_store(root)
    barrier.wait()
    wins = [i for i in range(names) if store.put_if_absent(f"race/{i}", str(os.getpid()).encode())]
    out.put(wins)  # type: ignore[attr-defined]


def test_two_processes_race_create_only(tmp_path: Path) -> None:
    names = 200
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_race, args=(str(tmp_path), names, barrier, queue)) for _ in range(2)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    wins = results[0] + results[1]
    assert sorted(wins) == list(range(names)), "every name has exactly one winner"


def test_passes_over_a_spill_file_are_independent(tmp_path: Path) -> None:
    # Found in review: an upload attempt that timed out keeps reading its body while the
    # retry reads the same spill file; with one shared file position their reads interleaved
    # and the retry could upload spliced bytes. Each pass now reads by position.
    data = os.urandom(10_000)
    with open(tmp_path / "spill", "w+b") as f:
        f.write(data)
        f.flush()
        chunks = FileChunks(f, len(data), chunk_bytes=1_000)
        first, second = iter(chunks), iter(chunks)
        got_first, got_second = [], []
        for x, y in zip(first, second, strict=True):  # the two passes interleaved
            got_first.append(x)
            got_second.append(y)
        assert b"".join(got_first) == data == b"".join(got_second)


def test_local_disk_creates_are_never_retried_inside_a_call(tmp_path: Path) -> None:
    # so a lost create-only race is not read back (RetryingStore.put_if_absent)
    assert open_store(str(tmp_path / "db")).instrumented.hidden_create_retries is False
