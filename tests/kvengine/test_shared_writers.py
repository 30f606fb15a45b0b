"""Shared mode as a system: several engines (each on its own store object, so each acts as a
separate process) and several real processes writing one database at once, under injected
store faults and SIGKILLs, plus the regressions of issue 8.

Concurrent runs are checked against the WAL read back as one serial history
(``wal_history.check``): every acknowledged commit stored exactly once and applied, nothing
that raised applied, snapshot isolation with first-committer-wins, and the final contents equal
to the replay. ``STRATA_SHARED_SEED``, ``STRATA_SHARED_ITERATIONS`` and
``STRATA_SHARED_LATENCY_S`` vary the randomized runs.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, TypeVar

import pytest

import kvengine.committer
from kvengine import DB, Conflict, Options, RetryPolicy, StoreUnavailable, WriteBatch
from kvengine.errors import ObjectNotFound
from kvengine.manifest.model import Manifest
from kvengine.manifest.store import ManifestStore
from kvengine.record import Kind
from kvengine.store import (
    GET,
    LIST,
    PUT,
    FaultyStore,
    LatencyStore,
    MemoryStore,
    ObjectStore,
    Store,
    open_store,
)
from kvengine.store.wrapper import StoreWrapper
from kvengine.table_store import wal_path
from tests.conftest import fresh_target
from tests.emulators import Emulator
from tests.emulators.fake_gcs import fake_gcs
from tests.kvengine.shared_workload import (
    WorkerLog,
    account,
    random_commit,
    run_threads,
    seed_accounts,
    transfers,
)
from tests.kvengine.wal_history import (
    CONFLICT,
    OK,
    Batch,
    CommitRecord,
    History,
    check,
    read_history,
    tag_key,
)

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
#: Seeds the random workloads and faults; set it to explore other interleavings.
SEED = int(os.environ.get("STRATA_SHARED_SEED", "0"))
ITERATIONS = int(os.environ.get("STRATA_SHARED_ITERATIONS", "200"))
LATENCY_S = float(os.environ.get("STRATA_SHARED_LATENCY_S", "0.001"))
#: Retries that give up quickly, so injected faults also exhaust them now and then.
FAST_RETRY = RetryPolicy(attempts=2, base_wait_s=0.001, max_wait_s=0.005)
#: Small memtables, so flushes and compactions run during the tests.
SHARED = Options(
    l0_sst_size=8192,
    block_bytes=512,
    l0_compaction_trigger=3,
    flusher_poll_ms=100,
    flusher_takeover_ms=2000,
)


W = TypeVar("W", bound=ObjectStore)


def kept(into: list[W], store: W) -> W:
    """``store``, after appending it to ``into`` (for ``open_store(wrap=...)``)."""
    into.append(store)
    return store


def wait_for(what: str, condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


def assert_no_problems(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} problems, the first:\n" + "\n".join(problems[:20])


def values_written(store: ObjectStore, key: bytes) -> list[bytes | None]:
    """Every value a batch that applies gave ``key``, in WAL order (None: a delete)."""
    history = read_history(store)
    return [
        v if kind == Kind.PUT else None
        for batch in history.batches
        if history.is_applied(batch)
        for kind, k, v in batch.ops
        if k == key
    ]


def seqs_grow(store: ObjectStore) -> bool:
    """Do the WAL's batches take ever higher sequence numbers (no number used twice)?"""
    batches = read_history(store).batches
    return all(a.last_seq < b.first_seq for a, b in itertools.pairwise(batches))


@dataclass
class Engines:
    """Engines on one in-memory database, each on its own store with a seeded FaultyStore."""

    name: str
    dbs: list[DB] = field(default_factory=list)
    stores: list[Store] = field(default_factory=list)
    faults: list[FaultyStore] = field(default_factory=list)

    def set_faults(self, on: bool) -> None:
        for f in self.faults:
            f.enabled = on

    def injected(self) -> Counter[str]:
        return sum((f.injected for f in self.faults), Counter())


@contextmanager
def faulty_engines(
    n: int,
    options: Options,
    *,
    error_before: float,
    error_after: float,
    latency_s: float = 0.0,
) -> Iterator[Engines]:
    """``n`` engines, their faults off until ``set_faults(True)``; closed (faults off) on exit.
    ``latency_s``: each request takes about that long (widening the races between engines)."""
    engines = Engines(uuid.uuid4().hex)

    def wrap(inner: ObjectStore) -> ObjectStore:
        seed = SEED * 100 + len(engines.faults)
        if latency_s:
            inner = LatencyStore(inner, dict.fromkeys((PUT, GET, LIST), latency_s), seed=seed)
        fault = FaultyStore(
            inner,
            seed=seed,
            error_before=error_before,
            error_after=error_after,
            kinds=(PUT, GET, LIST),
        )
        fault.enabled = False
        engines.faults.append(fault)
        return fault

    try:
        for _ in range(n):
            store = open_store(f"memory://{engines.name}", retry=FAST_RETRY, wrap=wrap)
            engines.stores.append(store)
            engines.dbs.append(DB.open(store, options=options))
        yield engines
    finally:
        engines.set_faults(False)
        for db in engines.dbs:
            db.close()
        for store in engines.stores:
            store.close()


@pytest.fixture
def fine_switching() -> Iterator[None]:
    """Switch threads far more often than by default, to shake out interleavings."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(before)


# -- engines in one process -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("fine_switching")
def test_random_transactions_of_engines_sharing_a_store_match_the_wal() -> None:
    with faulty_engines(
        3, SHARED, error_before=0.03, error_after=0.03, latency_s=LATENCY_S
    ) as engines:
        engines.set_faults(True)

        def work(i: int) -> WorkerLog:
            db, rng, log = engines.dbs[i % 3], random.Random(SEED * 100 + i), WorkerLog()
            for n in range(ITERATIONS):
                random_commit(db, f"w{i}-{n}", rng, log)
            return log

        logs = run_threads(9, work)
        engines.set_faults(False)
        assert_no_problems([p for log in logs for p in log.problems])
        records = [r for log in logs for r in log.records]
        history = read_history(MemoryStore.named(engines.name))
        assert_no_problems(check(history, records))

        # The run exercised what it is meant to: contention, both kinds of fault, ambiguous
        # WAL creates settled by reading back, flushes.
        outcomes = Counter(r.outcome for r in records)
        assert outcomes[OK] > 300 and outcomes[CONFLICT] > 0, outcomes
        injected = engines.injected()
        assert injected["before"] > 0 and injected["after"] > 0, injected
        assert sum(s.verified_creates for s in engines.stores) > 0
        assert sum(db.stats()["flushed_ssts"] for db in engines.dbs) > 0

        final = history.final()
        for db in engines.dbs:
            db.refresh()
            assert dict(db.scan()) == final
        with DB.open(MemoryStore.named(engines.name), read_only=True) as reader:
            assert dict(reader.scan()) == final


@pytest.mark.slow
def test_bank_transfers_between_engines_keep_the_total_and_all_progress() -> None:
    accounts, balance, per_worker = 6, 100, 15
    total = accounts * balance
    with faulty_engines(3, SHARED, error_before=0.02, error_after=0.02) as engines:
        seed = seed_accounts(engines.dbs[0], accounts, balance)
        engines.set_faults(True)
        deadline = time.monotonic() + 60
        logs = run_threads(
            9,
            lambda i: transfers(
                engines.dbs[i % 3],
                f"w{i}",
                SEED * 100 + i,
                count=per_worker,
                accounts=accounts,
                total=total,
                deadline=deadline,
            ),
        )
        engines.set_faults(False)
        assert_no_problems([p for log in logs for p in log.problems])
        assert [log.committed for log in logs] == [per_worker] * 9, "a worker was starved"
        assert sum(db.stats()["conflicts"] for db in engines.dbs) > 0  # they did contend
        history = read_history(MemoryStore.named(engines.name))
        assert_no_problems(check(history, [seed, *(r for log in logs for r in log.records)]))
        with DB.open(MemoryStore.named(engines.name), read_only=True) as reader:
            balances = [int(reader.get(account(i)) or b"-1") for i in range(accounts)]
        assert sum(balances) == total and min(balances) >= 0, balances


# -- processes --------------------------------------------------------------------------------


class Child:
    """A ``shared_workload`` child process whose stdout lines are collected as they come."""

    def __init__(
        self,
        mode: str,
        url: str,
        *args: str,
        options: dict[str, object] | None = None,
        storage: dict[str, object] | None = None,
        stdin: bool = False,
    ) -> None:
        argv = [sys.executable, "-m", "tests.kvengine.shared_workload", mode, url]
        argv += ["--options", json.dumps(options or {}), "--storage", json.dumps(storage or {})]
        self.proc = subprocess.Popen(
            [*argv, *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.errors: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._collect, args=(self.proc.stdout, self.lines)),
            threading.Thread(target=self._collect, args=(self.proc.stderr, self.errors)),
        ]
        for t in self._readers:
            t.start()

    @staticmethod
    def _collect(stream: IO[str], into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def said(self, word: str) -> list[str]:
        """The rest of every line so far that starts with ``word``."""
        return [line[len(word) + 1 :] for line in list(self.lines) if line.split(" ")[0] == word]

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout_s: float = 120.0) -> int:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        code = self.proc.wait(timeout=timeout_s)
        for t in self._readers:
            t.join()
        return code

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.finish()

    def stderr_tail(self) -> str:
        return "\n".join(self.errors[-30:])


@pytest.fixture
def spawn() -> Iterator[Callable[..., Child]]:
    """Starts :class:`Child` processes; any still running when the test ends is killed."""
    children: list[Child] = []

    def start(*args: str, **kwargs: Any) -> Child:  # Any: Child's keyword arguments
        children.append(Child(*args, **kwargs))
        return children[-1]

    yield start
    for child in children:
        if child.proc.poll() is None:
            child.kill()


@pytest.mark.slow
def test_bank_transfers_from_processes_on_gcs_keep_the_total(
    gcs_server: Emulator, spawn: Callable[..., Child]
) -> None:
    url, options = fresh_target(gcs_server)
    storage: dict[str, Any] = dict(options)  # Any: fsspec's keyword arguments
    accounts, balance, per_thread, threads = 6, 100, 12, 4
    with DB.open(url, **storage) as db:
        seed = seed_accounts(db, accounts, balance)
    args = ["--threads", str(threads), "--count", str(per_thread), "--accounts", str(accounts)]
    args += ["--total", str(accounts * balance), "--seconds", "90"]
    args += ["--faults", "0.02"]  # errors before and after the effect, every request kind
    children = [
        spawn("transfers", url, *args, "--name", f"p{i}", "--seed", str(i), storage=storage)
        for i in range(3)
    ]
    codes = [child.finish(timeout_s=180) for child in children]
    records = [seed]
    faults = 0
    for i, (child, code) in enumerate(zip(children, codes, strict=True)):
        assert code == 0, f"process {i} failed:\n{child.stderr_tail()}"
        summary = json.loads(child.said("summary")[0])
        assert summary["problems"] == []
        faults += summary["faults"]
        assert summary["committed"] == [per_thread] * threads, f"process {i} was starved"
        records += [CommitRecord.from_json(line) for line in child.said("record")]
    store = open_store(url, **storage)
    try:
        history = read_history(store)
    finally:
        store.close()
    assert_no_problems(check(history, records))
    assert sum(1 for r in records if r.outcome == CONFLICT) > 0  # the processes did contend
    assert faults > 0  # and the store did fail them
    with DB.open(url, read_only=True, **storage) as reader:
        balances = [int(reader.get(account(i)) or b"-1") for i in range(accounts)]
    assert sum(balances) == accounts * balance and min(balances) >= 0, balances


def _latest_manifest(url: str) -> Manifest:
    store = open_store(url)
    try:
        found = ManifestStore(store).read_latest()
    finally:
        store.close()
    assert found is not None
    return found[1]


@pytest.mark.slow
def test_sigkill_of_a_writer_and_the_flush_holder_a_survivor_takes_over(
    tmp_path: Path, spawn: Callable[..., Child]
) -> None:
    url = str(tmp_path / "db")
    base: dict[str, object] = {"l0_sst_size": 16384, "block_bytes": 1024, "flusher_poll_ms": 100}
    options = Options(l0_sst_size=16384, block_bytes=1024, flusher_poll_ms=100)
    stream = ["--threads", "2", "--interval-ms", "10"]
    holder = spawn("stream", url, "--name", "A", "--flush-first", *stream, options=base)
    wait_for("the holder to take the flush role", lambda: bool(holder.said("role")))
    assert holder.said("role") == ["true"], holder.stderr_tail()
    held_epoch = _latest_manifest(url).compactor_epoch
    # The writer never claims the role itself; the survivor (this process) does, after 500 ms.
    writer = spawn(
        "stream", url, "--name", "B", *stream, options={**base, "flusher_takeover_ms": 600_000}
    )
    survivor_store = open_store(url)
    survivor = DB.open(survivor_store, options=replace(options, flusher_takeover_ms=500))
    mine: list[bytes] = []
    stop = threading.Event()

    def write() -> None:
        i = 0
        while not stop.is_set():
            key = b"S/%06d" % i
            survivor.put(key, b"v" * 100 + key)
            mine.append(key)
            i += 1
            time.sleep(0.01)

    survivor_writer = threading.Thread(target=write)
    survivor_writer.start()
    try:
        wait_for(
            "both children to write and the holder to flush",
            lambda: (
                len(holder.said("ack")) >= 100
                and len(writer.said("ack")) >= 100
                and _latest_manifest(url).wal_replay_after > 0
            ),
        )
        assert _latest_manifest(url).compactor_epoch == held_epoch, "the holder lost its role"
        assert not survivor.stats()["flush_role"]
        holder.kill()
        writer.kill()
        replay_at_kill = _latest_manifest(url).wal_replay_after
        wait_for(
            "the survivor to take over the flush role and flush",
            lambda: (
                survivor.stats()["flush_role"]
                and survivor.manifest[1].wal_replay_after > replay_at_kill
                and survivor.stats()["flushed_ssts"] > 0
            ),
            timeout_s=60,
        )
    finally:
        stop.set()
        survivor_writer.join()
    assert _latest_manifest(url).compactor_epoch > held_epoch
    acked = [line.encode() for child in (holder, writer) for line in child.said("ack")]
    assert len(acked) >= 200 and len(mine) > 0
    survivor.flush()
    for db in (survivor, DB.open(url, read_only=True)):
        lost = [k for k in acked + mine if db.get(k) != b"v" * 100 + k]
        assert lost == [], f"{len(lost)} acknowledged writes lost, e.g. {lost[:3]}"
        db.close()
    survivor_store.close()


# -- issue 8 ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_issue_8_two_processes_each_commit_all_their_rows(
    tmp_path: Path, spawn: Callable[..., Child]
) -> None:
    """The second process to open used to fence the first."""
    url = str(tmp_path / "db")
    args = ["--count", "40", "--interval-ms", "20"]
    children = [spawn("rows", url, "--name", n, *args, stdin=True) for n in "AB"]
    wait_for("both processes to open the database", lambda: all(c.said("open") for c in children))
    for child in children:
        child.send("go")
    for child in children:
        assert child.finish() == 0, child.stderr_tail()
        assert child.said("committed") == ["40"]
    with DB.open(url, read_only=True) as db:
        for name in (b"A", b"B"):
            assert [v for _, v in db.scan_prefix(name + b"/")] == [b"%d" % i for i in range(40)]


@contextmanager
def faulty_engine(retry: RetryPolicy) -> Iterator[tuple[DB, DB, Store, FaultyStore]]:
    """An engine whose PUTs go through a FaultyStore (no fault until one is set or scripted),
    and a second, fault-free engine on the same database."""
    name = uuid.uuid4().hex
    wrapped: list[FaultyStore] = []
    store = open_store(
        f"memory://{name}",
        retry=retry,
        wrap=lambda inner: kept(wrapped, FaultyStore(inner, kinds=(PUT,))),
    )
    db, other = DB.open(store), DB.open(MemoryStore.named(name))
    try:
        yield db, other, store, wrapped[0]
    finally:
        wrapped[0].error_before = 0.0
        db.close()
        other.close()
        store.close()


@pytest.mark.parametrize("ending", ["store recovers", "closed while failing"])
def test_issue_8_a_write_whose_wal_put_fails_is_never_read(
    ending: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kvengine.committer, "UNKNOWN_OUTCOME_CLOSE_S", 0.3)
    with faulty_engine(RetryPolicy(attempts=2, base_wait_s=0.001, max_wait_s=0.002)) as (
        db,
        other,
        store,
        fault,
    ):
        db.put(b"k", b"stored")
        fault.error_before = 1.0  # every PUT now fails before reaching the store
        result: list[object] = []

        def write() -> None:
            try:
                db.put(b"k", b"failing")
                result.append("ok")
            except StoreUnavailable as exc:
                result.append(exc)

        writer = threading.Thread(target=write)
        writer.start()
        wait_for("the WAL PUT to fail its retries twice", lambda: fault.injected["before"] >= 4)
        for reader in (db, other):
            assert reader.get(b"k") == b"stored"
            assert list(reader.scan()) == [(b"k", b"stored")]
            with reader.transaction() as txn:
                assert txn.get(b"k") == b"stored"
        assert writer.is_alive(), "the write finished although its PUT keeps failing"
        if ending == "store recovers":
            fault.error_before = 0.0
            writer.join(30)
            assert result == ["ok"]
            assert db.get(b"k") == other.get(b"k") == b"failing"
            assert values_written(store, b"k") == [b"stored", b"failing"]
        else:
            db.close()  # gives up on the unknown outcome (after UNKNOWN_OUTCOME_CLOSE_S)
            writer.join(30)
            assert len(result) == 1 and isinstance(result[0], StoreUnavailable)
            assert other.get(b"k") == b"stored"
            assert values_written(store, b"k") == [b"stored"]


@pytest.mark.parametrize("attempts", [1, 2], ids=["settled-by-committer", "settled-by-retry"])
@pytest.mark.parametrize("effect", ["after", "before"])
def test_issue_8_an_ambiguous_wal_put_is_acknowledged_once(attempts: int, effect: str) -> None:
    with faulty_engine(RetryPolicy(attempts=attempts, base_wait_s=0.001)) as (
        db,
        other,
        store,
        fault,
    ):
        fault.fail_next(PUT, after_effect=effect == "after")
        db.write(WriteBatch().put(b"k", b"v").put(tag_key("ambiguous"), b""))
        acked = time.monotonic()
        db.write(WriteBatch().put(b"k", b"w").put(tag_key("next"), b""))
        assert fault.injected[effect] == 1
        # With two attempts, the retrying store settles an "after" by reading back.
        assert store.verified_creates == (1 if (attempts, effect) == (2, "after") else 0)
        records = [
            CommitRecord("ambiguous", {b"k": b"v"}, OK, acked_at=acked),
            CommitRecord("next", {b"k": b"w"}, OK, acked_at=time.monotonic()),
        ]
        history = read_history(store)
        assert_no_problems(check(history, records))
        assert [b.wal_id for b in history.batches] == [1, 2]
        assert db.get(b"k") == other.get(b"k") == b"w"


@pytest.mark.parametrize("older_in", ["same engine", "other engine"])
def test_issue_8_an_ambiguous_write_is_never_overwritten_by_an_older_transaction(
    older_in: str,
) -> None:
    with faulty_engine(RetryPolicy(attempts=1)) as (db, other, store, fault):
        db.put(b"k", b"v0")
        older = (db if older_in == "same engine" else other).transaction()
        assert older.get(b"k") == b"v0"
        fault.fail_next(PUT, after_effect=True)
        db.put(b"k", b"ambiguous")  # stored, then the PUT "failed": settled by reading back
        older.put(b"k", b"older")
        with pytest.raises(Conflict):
            older.commit()
        assert db.get(b"k") == other.get(b"k") == b"ambiguous"
        assert values_written(store, b"k") == [b"v0", b"ambiguous"]


class LoseNextWalPut(StoreWrapper):
    """Fails the next WAL create before it reaches the store, after running ``meanwhile``
    (another engine committing, which takes that WAL id)."""

    def __init__(self, inner: ObjectStore) -> None:
        super().__init__(inner)
        self.meanwhile: Callable[[], None] | None = None

    def put_if_absent(self, path: str, data: bytes) -> bool:
        if self.meanwhile is not None and path.startswith("wal/"):
            action, self.meanwhile = self.meanwhile, None
            action()
            raise StoreUnavailable(f"injected: {path} lost", path=path)
        return super().put_if_absent(path, data)


@pytest.mark.parametrize("blind", [False, True], ids=["transaction", "blind"])
def test_issue_8_a_lost_wal_put_whose_id_was_taken_is_checked_again(blind: bool) -> None:
    name = uuid.uuid4().hex
    hooks: list[LoseNextWalPut] = []
    store = open_store(
        f"memory://{name}",
        retry=RetryPolicy(attempts=1),
        wrap=lambda inner: kept(hooks, LoseNextWalPut(inner)),
    )
    with DB.open(store) as db, DB.open(MemoryStore.named(name)) as other:
        db.put(b"k", b"v0")
        hooks[0].meanwhile = lambda: other.put(b"k", b"other")
        if blind:  # a blind write never conflicts: it goes after the other one
            db.put(b"k", b"mine")
            expected = [b"v0", b"other", b"mine"]
        else:
            txn = db.transaction()
            assert txn.get(b"k") == b"v0"
            txn.put(b"k", b"mine")
            with pytest.raises(Conflict):
                txn.commit()
            expected = [b"v0", b"other"]
        assert hooks[0].meanwhile is None
        assert values_written(store, b"k") == expected
        assert seqs_grow(store)
        assert db.get(b"k") == other.get(b"k") == expected[-1]
    store.close()


class FailGet(StoreWrapper):
    """Fails every GET of ``path`` (before it reaches the store) while ``failing`` is set."""

    def __init__(self, inner: ObjectStore, path: str) -> None:
        super().__init__(inner)
        self.path = path
        self.failing = False
        self.failed = 0

    def get(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        if self.failing and path == self.path:
            self.failed += 1
            raise StoreUnavailable(f"injected: GET {path}", path=path)
        return super().get(path, start, end)


def test_issue_8_a_commit_that_raises_a_store_error_never_applies() -> None:
    """A WAL object another engine stored just before ours cannot be read for a while: the
    commit, stored right after it, either waits it out and succeeds, or raises and does not
    apply. (It used to raise a retryable error while its object applied: a retry applied it
    twice.)"""
    name = uuid.uuid4().hex
    hooks: list[FailGet] = []
    store = open_store(
        f"memory://{name}",
        retry=RetryPolicy(attempts=1),
        wrap=lambda inner: kept(hooks, FailGet(inner, wal_path(2))),
    )
    with DB.open(store) as db, DB.open(MemoryStore.named(name)) as other:
        db.put(b"k", b"v0")  # WAL 1
        other.put(b"k", b"other")  # WAL 2, unseen by db
        hooks[0].failing = True
        threading.Timer(0.5, lambda: setattr(hooks[0], "failing", False)).start()
        try:
            db.put(b"k", b"mine")  # loses id 2, stores 3, then must read 2
            raised = False
        except StoreUnavailable:
            raised = True
        assert hooks[0].failed > 0
        wait_for("the store to recover", lambda: not hooks[0].failing)
        applied = values_written(store, b"k")
        assert applied[-1] == (b"other" if raised else b"mine"), (raised, applied)
        assert db.get(b"k") == other.get(b"k") == applied[-1]
    store.close()


def test_issue_8_one_engine_per_database_under_any_spelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    d = tmp_path / "db"
    spellings: list[str | Path] = [
        str(d),
        f"file://{d}",
        f"{d}/",
        f"{d}/./",
        f"{tmp_path}/x/../db",
        d,
        "db",
        "file://db",
        f"local://{d}",
    ]
    name = uuid.uuid4().hex
    for mode in ({}, {"exclusive": True}):
        dbs = [DB.open(s, **mode) for s in spellings]  # type: ignore[arg-type]
        assert all(db is dbs[0] for db in dbs)
        dbs[0].put(b"k", b"v")  # not fenced by the later opens
        mem = [DB.open(u, **mode) for u in (f"memory://{name}", f"memory://{name}/")]  # type: ignore[arg-type]
        assert mem[0] is mem[1]
        mem[0].put(b"k", b"v")
        for db in dbs + mem:
            db.close()
        assert DB.open(d, **mode) is not dbs[0]  # type: ignore[arg-type]
        DB.open(d, **mode).close()  # type: ignore[arg-type]


def test_issue_8_one_engine_per_gcs_database_under_any_spelling(gcs_server: Emulator) -> None:
    url, options = fresh_target(gcs_server)
    storage: dict[str, Any] = dict(options)  # Any: fsspec's keyword arguments
    spellings = [url, f"{url}/", url.replace("gs://", "gcs://", 1)]
    dbs = [DB.open(s, **storage) for s in spellings]
    try:
        assert all(db is dbs[0] for db in dbs)
        # The same URL on another server (same bucket name) is another database.
        with fake_gcs() as second:
            second_storage: dict[str, Any] = dict(second.storage_options)
            with DB.open(url, **second_storage) as elsewhere:
                assert elsewhere is not dbs[0]
                elsewhere.put(b"k", b"on the second server")
                assert dbs[0].get(b"k") is None
    finally:
        for db in dbs:
            db.close()


@dataclass(frozen=True)
class Request:
    started: float
    kind: str
    path: str
    found: bool


class RequestLog(StoreWrapper):
    """Records every request: when it started, its kind and path, and whether it found one."""

    def __init__(self, inner: ObjectStore) -> None:
        super().__init__(inner)
        self.requests: list[Request] = []
        self._lock = threading.Lock()

    def around(self, kind: str, path: str | None, op: Callable[[], T], written: int) -> T:
        started = time.monotonic()
        found = True
        try:
            return op()
        except ObjectNotFound:
            found = False
            raise
        finally:
            with self._lock:
                self.requests.append(Request(started, kind, path or "", found))


@pytest.mark.parametrize("gc_min_age_s", [0.4, 3600.0])
def test_issue_8_a_writer_rereads_the_wal_tail_it_saw_over_half_the_gc_age_ago(
    gc_min_age_s: float,
) -> None:
    name = uuid.uuid4().hex
    logs: list[RequestLog] = []
    store = open_store(f"memory://{name}", wrap=lambda inner: kept(logs, RequestLog(inner)))
    options = Options(wal_gc_min_age_s=gc_min_age_s)
    with DB.open(store, options=options) as db, DB.open(MemoryStore.named(name)) as other:
        db.put(b"a", b"1")  # WAL 1: db saw WAL 2 absent when it created 1
        time.sleep(0.5)  # longer than the whole of the short GC age
        other.put(b"b", b"2")  # WAL 2, unseen by db
        mark = time.monotonic()
        db.put(b"c", b"3")
    store.close()
    since = [r for r in logs[0].requests if r.started >= mark]
    wal_puts = [i for i, r in enumerate(since) if r.kind == PUT and r.path.startswith("wal/")]
    rereads = [r for r in since[: wal_puts[0]] if r.kind in (GET, LIST) and "wal/" in r.path]
    if gc_min_age_s / 2 < 0.5:
        # The view was too old to trust: read again, found WAL 2, created 3 at once.
        assert rereads, "created a WAL object without reading the tail again"
        assert since[wal_puts[0]].path == wal_path(3)
    else:
        # A fresh view is trusted: no read first, and the stale id 2 is tried (and lost).
        assert rereads == []
        assert since[wal_puts[0]].path == wal_path(2)
    assert values_written(MemoryStore.named(name), b"c") == [b"3"]


# -- memory and request costs -----------------------------------------------------------------


@pytest.mark.slow
def test_a_non_holder_drops_its_memtables_once_the_holder_flushes() -> None:
    name = uuid.uuid4().hex
    options = Options(
        l0_sst_size=4096,
        max_unflushed_bytes=16384,
        flusher_poll_ms=50,
        flusher_takeover_ms=600_000,  # the follower never takes the role over
    )
    with (
        DB.open(MemoryStore.named(name), options=options) as holder,
        DB.open(MemoryStore.named(name), options=options) as follower,
    ):
        holder.flush()  # claims the flush role (in the background: nothing to flush yet)
        wait_for("the holder to take the flush role", lambda: holder.stats()["flush_role"])
        peak = [0]

        def write() -> None:
            for i in range(600):
                follower.put(b"f%04d" % i, b"x" * 200)
                peak[0] = max(peak[0], follower.stats()["frozen_memtables"])

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        # With 16 KiB of unflushed memtables allowed, the writes stall for good unless the
        # follower drops what the holder flushed.
        writer.join(60)
        assert not writer.is_alive(), "the follower's writes stalled: its memtables stayed"
        assert peak[0] <= 6
        holder.refresh()
        holder.flush()  # covers every write the follower made
        wait_for(
            "the follower to drop its frozen memtables",
            lambda: follower.stats()["frozen_memtables"] == 0,
        )
        stats = follower.stats()
        assert not stats["flush_role"] and stats["flushed_ssts"] == 0
        assert stats["memtable_bytes"] < options.l0_sst_size
        assert holder.stats()["flushed_ssts"] > 0
        assert len(list(follower.scan_prefix(b"f"))) == 600


def test_waiting_for_a_silent_holder_lists_manifests_once_a_poll() -> None:
    """A process with frozen memtables used to list the manifests in a busy loop (tens of
    thousands of LISTs a second) until it took the flush role over."""
    name = uuid.uuid4().hex
    options = Options(l0_sst_size=4096, flusher_poll_ms=100, flusher_takeover_ms=600_000)
    with DB.open(MemoryStore.named(name), options=options) as holder:
        holder.put(b"h", b"x")
        holder.flush()  # holds the flush role, then goes silent
    with DB.open(MemoryStore.named(name), options=options) as follower:
        for i in range(12):
            follower.put(b"n%02d" % i, b"x" * 400)
        assert follower.stats()["frozen_memtables"] >= 1
        before = follower.stats()["requests"][LIST]
        time.sleep(1.0)
        lists = follower.stats()["requests"][LIST] - before
    assert lists <= 40, f"{lists} manifest LISTs in one second with a 100 ms poll"


def test_the_holder_does_not_probe_the_wal_for_each_of_its_own_commits() -> None:
    """The holder's flusher woke on every WAL object applied and probed the WAL each time:
    a GET per commit on top of the one-per-poll it is meant to make."""
    with DB.open(MemoryStore.named(uuid.uuid4().hex), options=Options()) as db:  # 1 s polls
        db.flush()  # claims the flush role
        wait_for("the flush role", lambda: db.stats()["flush_role"])
        before = db.stats()["requests"][GET]
        for i in range(200):
            db.put(b"k%03d" % i, b"v")
        gets = db.stats()["requests"][GET] - before
    assert gets <= 40, f"{gets} GETs for 200 blind puts"


# -- found by these tests ---------------------------------------------------------------------


@pytest.mark.parametrize("how", ["write", "watch"])
def test_a_delete_compacted_by_the_holder_still_conflicts_in_another_engine(how: str) -> None:
    """A bottom compaction dropped a deleted key's tombstone; another process that had
    dropped its memtables then saw no write after its snapshot and let an older transaction
    overwrite the delete."""
    name = uuid.uuid4().hex
    options = Options(l0_compaction_trigger=2)
    with (
        DB.open(MemoryStore.named(name), options=options) as holder,
        DB.open(MemoryStore.named(name), options=options) as other,
    ):
        holder.put(b"k", b"v0")
        holder.flush()  # L0 SST 1; holder has the flush role
        txn = other.transaction()
        assert txn.get(b"k") == b"v0"
        holder.delete(b"k")
        holder.flush()  # L0 SST 2, then both are compacted into the bottom run
        wait_for("the compaction", lambda: holder.stats()["l0_ssts"] == 0)
        other.refresh()  # adopts that manifest and drops the memtable holding the delete
        assert other.stats()["memtable_bytes"] == 0
        if how == "write":
            txn.put(b"k", b"v0 again")
        else:
            txn.watch(b"j", b"l")
            txn.put(b"elsewhere", b"depends on k")
        with pytest.raises(Conflict):
            txn.commit()
        assert other.get(b"k") is None and other.get(b"elsewhere") is None


# -- the checker itself -----------------------------------------------------------------------


def test_the_history_check_finds_what_it_is_for() -> None:
    def batch(wal_id: int, seq: int, tag: str, value: bytes) -> Batch:
        return Batch(wal_id, seq, ((Kind.PUT, b"k", value), (Kind.PUT, tag_key(tag), b"")))

    history = History([batch(1, 1, "a", b"a"), batch(2, 3, "b", b"b")])
    a = CommitRecord("a", {b"k": b"a"}, OK, read_seq=0, began_at=0.0, acked_at=1.0)
    assert check(history, [a, CommitRecord("b", {b"k": b"b"}, OK, read_seq=2)]) == []
    lost_update = CommitRecord("b", {b"k": b"b"}, OK, read_seq=0, began_at=2.0)
    problems = check(history, [a, lost_update])
    assert any("lost update" in p for p in problems)
    assert any("began after a commit" in p for p in problems)
    assert check(history, [a, CommitRecord("b", {b"k": b"b"}, CONFLICT)]) != []
    assert check(history, [a]) != []  # b is in the WAL, but nobody committed it
    assert check(history, [a, CommitRecord("b", {b"k": b"x"}, OK, read_seq=2)]) != []
    misread = CommitRecord("b", {b"k": b"b"}, OK, read_seq=2, reads={b"k": b"old"})
    assert check(history, [a, misread]) != []
    assert check(History([batch(1, 1, "a", b"a"), batch(2, 2, "b", b"b")]), [a]) != []
    # A transaction's batch that stored its snapshot applies only if nothing it touches was
    # written after it: here "b" read at 0, after "a" wrote k at 1, so it is left out.
    raced = Batch(2, 3, (*batch(2, 3, "b", b"b").ops,), read_seq=0)
    history = History([batch(1, 1, "a", b"a"), raced])
    assert not history.is_applied(raced) and history.final()[b"k"] == b"a"
    assert check(history, [a, CommitRecord("b", {b"k": b"b"}, CONFLICT, read_seq=0)]) == []
    assert any(
        "does not apply" in p
        for p in check(history, [a, CommitRecord("b", {b"k": b"b"}, OK, read_seq=0)])
    )
