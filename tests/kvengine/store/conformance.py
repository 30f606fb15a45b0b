"""The conformance suite every object-store backend must pass.

A backend's test module subclasses :class:`StoreConformance` and provides the fixture
``target``: a ``(url, storage_options)`` pair naming a fresh, empty root for one test.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from kvengine.errors import Closed, InvalidArgument, ObjectNotFound, StoreUnavailable
from kvengine.store import (
    DELETE,
    GET,
    LIST,
    PUT,
    FaultyStore,
    ObjectStore,
    RetryPolicy,
    Store,
    open_store,
)

FAST_RETRY = RetryPolicy(attempts=4, base_wait_s=0.001, max_wait_s=0.01, total_s=30)
Target = tuple[str, dict[str, Any]]


class StoreConformance:
    """Behaviour every ObjectStore adapter must have, checked through ``open_store``."""

    @pytest.fixture
    def store(self, target: Target) -> Store:
        url, options = target
        return open_store(url, retry=FAST_RETRY, **options)

    @pytest.fixture
    def faulty(self, target: Target) -> tuple[Store, FaultyStore]:
        url, options = target
        holder: list[FaultyStore] = []

        def wrap(inner: ObjectStore) -> ObjectStore:
            holder.append(FaultyStore(inner))
            return holder[0]

        store = open_store(url, retry=FAST_RETRY, wrap=wrap, **options)
        return store, holder[0]

    # -- whole objects -------------------------------------------------------------------------

    def test_round_trip_and_overwrite(self, store: Store) -> None:
        store.put("a/obj", b"first")
        assert store.get("a/obj") == b"first"
        store.put("a/obj", b"second, longer")
        assert store.get("a/obj") == b"second, longer"
        assert store.head("a/obj").size == len(b"second, longer")

    def test_empty_and_binary_objects(self, store: Store) -> None:
        data = bytes(range(256)) * 17
        store.put("bin", data)
        store.put("empty", b"")
        assert store.get("bin") == data
        assert store.get("empty") == b""
        assert store.head("empty").size == 0

    def test_large_object(self, store: Store) -> None:
        data = uuid.uuid4().bytes * (6 * 1024 * 1024 // 16)
        store.put("big", data)
        assert store.head("big").size == len(data)
        assert store.get("big", 5_000_000, 5_000_100) == data[5_000_000:5_000_100]
        assert store.get("big") == data

    def test_ranged_reads(self, store: Store) -> None:
        data = bytes(range(100))
        store.put("r", data)
        assert store.get("r", 10, 20) == data[10:20]
        assert store.get("r", 90) == data[90:]
        assert store.get("r", None, 5) == data[:5]
        assert store.get("r", 95, 1000) == data[95:]
        assert store.get("r", 0, 100) == data
        assert store.get("r", 7, 7) == b""

    def test_missing_object(self, store: Store) -> None:
        with pytest.raises(ObjectNotFound) as info:
            store.get("nope")
        assert info.value.path == "nope"
        with pytest.raises(ObjectNotFound):
            store.head("nope")
        with pytest.raises(ObjectNotFound):
            store.get("nope", 0, 0)
        with pytest.raises(FileNotFoundError):  # ObjectNotFound is also a FileNotFoundError
            store.get("dir/nope", 1, 2)

    def test_delete(self, store: Store) -> None:
        store.put("d/x", b"1")
        store.delete("d/x")
        with pytest.raises(ObjectNotFound):
            store.get("d/x")
        store.delete("d/x")  # deleting a missing object is fine
        assert store.list("d/") == []

    def test_invalid_paths(self, store: Store) -> None:
        for bad in ["", "/abs", "a//b", "a/../b", ".hidden", "a/.tmp/x", "a/"]:
            with pytest.raises(InvalidArgument):
                store.put(bad, b"x")

    # -- listing -------------------------------------------------------------------------------

    def test_list_order_prefix_start_after(self, store: Store) -> None:
        names = [
            "wal/00000000000000000010",
            "wal/00000000000000000002",
            "wal/00000000000000000001",
            "manifest/00000000000000000001",
            "sst/a/1",
            "sst/b/2",
            "walrus",
        ]
        for i, name in enumerate(names):
            store.put(name, b"x" * i)
        assert [o.path for o in store.list()] == sorted(names)
        wal = store.list("wal/")
        assert [o.path for o in wal] == sorted(n for n in names if n.startswith("wal/"))
        assert [o.size for o in wal] == [2, 1, 0]
        assert [o.path for o in store.list("wal")] == sorted(
            n for n in names if n.startswith("wal")
        )
        assert [o.path for o in store.list("wal/0000000000000000000")] == [
            "wal/00000000000000000001",
            "wal/00000000000000000002",
        ]
        after = store.list("wal/", start_after="wal/00000000000000000001")
        assert [o.path for o in after] == ["wal/00000000000000000002", "wal/00000000000000000010"]
        assert store.list("wal/", start_after="wal/00000000000000000010") == []
        assert [o.path for o in store.list("sst/")] == ["sst/a/1", "sst/b/2"]
        assert store.list("nothing/") == []
        assert store.list("wal/", start_after="a") == wal

    def test_list_sees_new_and_deleted_objects(self, store: Store) -> None:
        assert store.list("m/") == []
        store.put("m/1", b"1")
        assert [o.path for o in store.list("m/")] == ["m/1"]
        store.put_if_absent("m/2", b"2")
        assert [o.path for o in store.list("m/")] == ["m/1", "m/2"]
        store.delete("m/1")
        assert [o.path for o in store.list("m/")] == ["m/2"]

    def test_list_gives_last_modified_times(self, store: Store) -> None:
        """Garbage collection judges ages by them: every backend lists a plausible time."""
        before = time.time()
        store.put("t/1", b"1")
        store.put_if_absent("t/2", b"2")
        for info in store.list("t/"):
            assert info.mtime is not None
            # the store's clock, not ours: allow for skew and coarse timestamps
            assert abs(info.mtime - before) < 600

    # -- create-only ---------------------------------------------------------------------------

    def test_put_if_absent(self, store: Store) -> None:
        assert store.atomic_create
        assert store.put_if_absent("c/1", b"mine") is True
        assert store.put_if_absent("c/1", b"theirs") is False
        assert store.get("c/1") == b"mine"

    def test_a_lost_create_reads_back_only_where_the_client_may_have_retried(
        self, store: Store
    ) -> None:
        # Before: every "exists" was read back (a GET), even on local disk and memory, whose
        # create is one call nothing retries: a shared writer that lost a WAL race was a GET
        # slower than the winner on every id and lost every race after it (shared_writers
        # benchmark, 4 processes: three of them never committed for the whole run).
        store.put_if_absent("lost/1", b"theirs")
        for put in (
            lambda: store.put_if_absent("lost/1", b"mine"),
            lambda: store.put_if_absent_stream("lost/1", [b"mi", b"ne"], 4),
        ):
            before = store.stats()
            assert put() is False
            delta = (store.stats() - before).requests
            reads = delta[GET] + delta["HEAD"]
            assert delta[PUT] == 1
            assert reads == (1 if store.instrumented.hidden_create_retries else 0)

    def test_create_race_has_one_winner(self, store: Store) -> None:
        for round_ in range(3):
            name = f"race/{round_}"
            winner = one_winner(
                16, lambda i, name=name: store.put_if_absent(name, b"writer-%d" % i)
            )
            assert store.get(name) == b"writer-%d" % winner

    def test_large_create_keeps_its_precondition(self, store: Store) -> None:
        """Past 50 MiB gcsfs would switch to a resumable upload (and s3fs, past 100 MiB, to a
        multipart one), whose precondition fake-gcs-server ignores: a create-only PUT is
        always sent as one request, and so a large one still loses to an existing object."""
        big = 51 * 1024 * 1024
        assert store.put_if_absent("big/1", b"first") is True
        assert store.put_if_absent("big/1", b"\1" * big) is False
        assert store.put_if_absent_stream("big/1", [b"\2" * big], big) is False
        assert store.get("big/1") == b"first"
        assert store.put_if_absent("big/2", b"\3" * big) is True
        assert store.head("big/2").size == big

    def test_streamed_create(self, store: Store) -> None:
        chunks = [b"a" * 1000, b"", b"b" * 70_000, b"c"]
        size = sum(map(len, chunks))
        before = store.stats()
        assert store.put_if_absent_stream("s/1", chunks, size) is True
        assert (store.stats() - before).bytes_written == size
        assert store.get("s/1") == b"".join(chunks)
        assert store.put_if_absent_stream("s/1", [b"other"], 5) is False
        assert store.get("s/1") == b"".join(chunks)
        with pytest.raises(InvalidArgument):
            store.put_if_absent_stream("s/2", [b"short"], 6)
        assert [o.path for o in store.list("s/")] == ["s/1"]

    def test_streamed_create_race_has_one_winner(self, store: Store) -> None:
        def body(i: int) -> list[bytes]:
            return [b"writer-%d:" % i, bytes([i]) * 50_000]  # 50,009 bytes for i < 10

        for round_ in range(2):
            name = f"srace/{round_}"
            winner = one_winner(
                8, lambda i, name=name: store.put_if_absent_stream(name, body(i), 50_009)
            )
            assert store.get(name) == b"".join(body(winner))
        # the losers left nothing visible behind
        assert [o.path for o in store.list()] == ["srace/0", "srace/1"]

    def test_multipart_streamed_create_race(self, store: Store) -> None:
        """Objects of several parts: two writers, one wins, the object is exactly the winner's
        bytes. (Parts of 1 MiB: on a loaded machine a race of 16 MiB bodies once failed
        against moto, which checks ``If-None-Match`` before hashing and storing the body,
        unlocked; on Azure this is one staged block per writer, then the commits race;
        docs/object-stores.md "Streamed uploads".)"""
        part = 1024 * 1024
        size = 2 * part + 12345

        def body(i: int) -> list[bytes]:
            return [bytes([i]) * (part // 2)] * 4 + [bytes([i]) * (size - 4 * (part // 2))]

        winner = one_winner(2, lambda i: store.put_if_absent_stream("mp/obj", body(i), size))
        assert store.head("mp/obj").size == size
        assert store.get("mp/obj", size - 3) == bytes([winner]) * 3
        assert store.get("mp/obj", part - 2, part + 2) == bytes([winner]) * 4
        assert [o.path for o in store.list("mp/")] == ["mp/obj"]

    def test_ambiguous_streamed_create_is_resolved_by_reading_back(
        self, faulty: tuple[Store, FaultyStore]
    ) -> None:
        store, faults = faulty
        body = [b"unique-", b"to-this-writer" * 100]
        size = sum(map(len, body))
        faults.fail_next(PUT, after_effect=True)
        assert store.put_if_absent_stream("samb/1", body, size) is True
        assert store.verified_creates == 1
        store.put("samb/2", b"x" * size)  # another writer's object of the same size
        faults.fail_next(PUT, after_effect=True)
        assert store.put_if_absent_stream("samb/2", body, size) is False
        assert store.get("samb/2") == b"x" * size

    # -- retries, verification and counts --------------------------------------------------------

    def test_transient_errors_are_retried(self, faulty: tuple[Store, FaultyStore]) -> None:
        store, faults = faulty
        store.put("t", b"data")
        faults.fail_next(GET, count=2)
        before = store.stats()
        assert store.get("t") == b"data"
        delta = store.stats() - before
        assert delta.requests[GET] == 3
        assert delta.errors[GET] == 2
        faults.fail_next(PUT, after_effect=True)
        store.put("t", b"again")  # an overwrite is safe to repeat
        assert store.get("t") == b"again"

    def test_retry_budget_runs_out(self, faulty: tuple[Store, FaultyStore]) -> None:
        store, faults = faulty
        faults.fail_next(LIST, count=FAST_RETRY.attempts)
        with pytest.raises(StoreUnavailable):
            store.list()
        assert store.stats().requests[LIST] == FAST_RETRY.attempts

    def test_no_retry_on_conflict_or_missing(self, store: Store) -> None:
        store.put("n", b"1")
        before = store.stats()
        assert store.put_if_absent("n", b"2") is False
        with pytest.raises(ObjectNotFound):
            store.get("absent")
        delta = store.stats() - before
        # one conditional PUT (412), one GET reading the object back where the backend's
        # client may have retried inside that PUT after a first try landed, one GET for the
        # missing object
        assert delta.requests[PUT] == 1
        assert delta.requests[GET] == 1 + store.instrumented.hidden_create_retries
        assert store.retries == 0

    def test_ambiguous_create_is_resolved_by_reading_back(
        self, faulty: tuple[Store, FaultyStore]
    ) -> None:
        store, faults = faulty
        # The PUT lands, then the caller sees a failure; the retry finds the object there.
        faults.fail_next(PUT, after_effect=True)
        assert store.put_if_absent("amb/1", b"payload-unique-to-writer") is True
        assert store.verified_creates == 1
        assert store.get("amb/1") == b"payload-unique-to-writer"
        # Someone else's object with other bytes is a loss, even after an ambiguous attempt.
        store.put("amb/2", b"other writer")
        faults.fail_next(PUT, after_effect=True)
        assert store.put_if_absent("amb/2", b"mine") is False

    def test_request_counts(self, store: Store) -> None:
        before = store.stats()
        store.put("s/1", b"abc")
        store.put_if_absent("s/2", b"de")
        store.get("s/1")
        store.get("s/1", 0, 1)
        store.head("s/1")
        store.list("s/")
        store.delete("s/2")
        delta = store.stats() - before
        assert {k: v for k, v in delta.requests.items()} == {
            PUT: 2,
            GET: 2,
            "HEAD": 1,
            LIST: 1,
            DELETE: 1,
        }
        assert delta.bytes_written == 5
        assert delta.bytes_read == 4
        assert delta.total_requests == 7
        assert delta.cost_usd("gcs-standard") == pytest.approx((3 * 5.0 + 3 * 0.4) / 1e6)

    def test_closed_store(self, store: Store) -> None:
        store.close()
        with pytest.raises(Closed):
            store.put("x", b"1")


def unique_root(base: str) -> str:
    """A fresh prefix under ``base`` for one test."""
    return f"{base.rstrip('/')}/t-{uuid.uuid4().hex[:12]}"


def one_winner(n: int, create: Callable[[int], bool]) -> int:
    """Run ``create(i)`` for ``i`` in ``range(n)`` on threads released together; exactly one
    must return True (create-only): its ``i``."""
    barrier = threading.Barrier(n)
    results = [False] * n

    def race(i: int) -> None:
        barrier.wait()
        results[i] = create(i)

    run_threads(n, race)
    assert sum(results) == 1, results
    return results.index(True)


def run_threads(n: int, fn: Callable[[int], None]) -> None:
    """Run ``fn(i)`` for i in range(n) on n threads and re-raise the first error."""
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            fn(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
