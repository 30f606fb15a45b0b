"""A hypothesis state machine drives the DB and a dict side by side; every read must agree."""

from __future__ import annotations

import uuid
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from kvengine import DB, Options, Snapshot, WriteBatch
from tests.emulators import Emulator

KEYS = st.binary(min_size=1, max_size=6).map(lambda b: b"k" + b)
VALUES = st.binary(max_size=40)
OPTS = Options(
    l0_sst_size=2048,
    block_bytes=128,
    l0_compaction_trigger=3,
    sst_target_bytes=2048,
    compression="lz4",
)


def model_scan(
    model: dict[bytes, bytes], start: bytes | None, end: bytes | None, reverse: bool
) -> list[tuple[bytes, bytes]]:
    items = sorted(
        (k, v)
        for k, v in model.items()
        if (start is None or k >= start) and (end is None or k < end)
    )
    return items[::-1] if reverse else items


class DBMachine(RuleBasedStateMachine):
    snapshots = Bundle("snapshots")

    #: where each run's database lives: (url prefix, storage options); tests set it
    target: tuple[str, dict[str, object]] = ("memory://", {})

    def __init__(self) -> None:
        super().__init__()
        prefix, self.storage = self.target
        sep = "" if prefix.endswith("/") else "/"
        self.url = f"{prefix}{sep}sm-{uuid.uuid4().hex[:12]}"
        self.db = DB.open(self.url, options=OPTS, **self.storage)
        self.model: dict[bytes, bytes] = {}
        self.open_snapshots: list[Snapshot] = []

    @rule(key=KEYS, value=VALUES, durable=st.booleans())
    def put(self, key: bytes, value: bytes, durable: bool) -> None:
        self.db.put(key, value, durable=durable)
        self.model[key] = value

    @rule(key=KEYS)
    def delete(self, key: bytes) -> None:
        self.db.delete(key, durable=False)
        self.model.pop(key, None)

    @rule(ops=st.lists(st.tuples(st.booleans(), KEYS, VALUES), max_size=8))
    def batch(self, ops: list[tuple[bool, bytes, bytes]]) -> None:
        batch = WriteBatch()
        for is_put, key, value in ops:
            if is_put:
                batch.put(key, value)
                self.model[key] = value
            else:
                batch.delete(key)
                self.model.pop(key, None)
        self.db.write(batch)

    @rule(data=st.data())
    def bulk(self, data: st.DataObject) -> None:
        n = data.draw(st.integers(10, 60))
        for i in range(n):
            key, value = b"bulk%03d" % i, b"x" * data.draw(st.integers(0, 60))
            self.db.put(key, value, durable=False)
            self.model[key] = value

    @rule(key=KEYS)
    def get(self, key: bytes) -> None:
        assert self.db.get(key) == self.model.get(key)

    @rule(start=st.none() | KEYS, end=st.none() | KEYS, reverse=st.booleans())
    def scan(self, start: bytes | None, end: bytes | None, reverse: bool) -> None:
        got = list(self.db.scan(start, end, reverse=reverse))
        assert got == model_scan(self.model, start, end, reverse)

    @rule(target=snapshots)
    def take_snapshot(self) -> tuple[Snapshot, dict[bytes, bytes]]:
        snap = self.db.snapshot()
        self.open_snapshots.append(snap)
        return snap, dict(self.model)

    @rule(entry=snapshots, reverse=st.booleans())
    def read_snapshot(self, entry: tuple[Snapshot, dict[bytes, bytes]], reverse: bool) -> None:
        snap, frozen = entry
        if snap in self.open_snapshots:
            assert list(snap.scan(reverse=reverse)) == model_scan(frozen, None, None, reverse)

    @rule(entry=consumes(snapshots))
    def release_snapshot(self, entry: tuple[Snapshot, dict[bytes, bytes]]) -> None:
        snap, _ = entry
        if snap in self.open_snapshots:
            self.open_snapshots.remove(snap)
        snap.close()

    @rule()
    def flush(self) -> None:
        self.db.flush()

    @precondition(lambda self: not self.open_snapshots)
    @rule()
    def reopen(self) -> None:
        self.db.close()
        self.db = DB.open(self.url, options=OPTS, **self.storage)

    @invariant()
    def sizes_agree(self) -> None:
        assert sum(1 for _ in self.db.scan()) == len(self.model)

    def teardown(self) -> None:
        for snap in self.open_snapshots:
            snap.close()
        self.db.close()


def run_machine(target: tuple[str, dict[str, object]], examples: int) -> None:
    DBMachine.target = target
    try:
        run_state_machine_as_test(
            DBMachine,
            settings=settings(
                max_examples=examples,
                stateful_step_count=40,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        DBMachine.target = ("memory://", {})


def test_model_on_memory() -> None:
    run_machine(("memory://", {}), 60)


def test_model_on_local_disk(tmp_path: Path) -> None:
    run_machine((str(tmp_path), {}), 15)


def test_model_on_gcs(gcs_server: Emulator) -> None:
    run_machine((gcs_server.url_prefix, dict(gcs_server.storage_options)), 5)


def test_model_on_s3(s3_server: Emulator) -> None:
    run_machine((s3_server.url_prefix, dict(s3_server.storage_options)), 5)
