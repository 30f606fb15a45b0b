"""Compaction: the size-tiered policy, streaming reads, re-applying a result on top of
concurrent manifest changes, ``DB.compact`` and the L0 write stop."""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from kvengine import DB, Options
from kvengine.cli import admin
from kvengine.compactor import CompactAllPolicy, CompactionPlan, SizeTieredPolicy
from kvengine.flusher import _Abandoned, _apply_plan
from kvengine.manifest.model import Manifest, SortedRun, SSTMeta
from kvengine.manifest.store import FenceableManifest, ManifestStore
from kvengine.record import Entry, Kind
from kvengine.sst import SSTBuilder, SSTReader
from kvengine.store import open_store

WRITER = b"w" * 16


def _sst(sst_id: int, size: int, lo: bytes = b"a", hi: bytes = b"z", seq: int = 1) -> SSTMeta:
    return SSTMeta(sst_id, size, lo, hi, 1, seq, seq)


def _manifest(l0_sizes: list[int], run_sizes: list[int]) -> Manifest:
    next_id = 1
    runs = []
    for run_id, size in enumerate(run_sizes, start=1):
        runs.append(SortedRun(run_id, (_sst(next_id, size),)))
        next_id += 1
    l0 = []
    for size in l0_sizes:
        l0.append(_sst(next_id, size, seq=next_id))
        next_id += 1
    m = Manifest.empty()
    return Manifest(
        writer_epoch=0,
        compactor_epoch=1,
        writer_id=WRITER,
        wal_replay_after=0,
        last_seq=next_id,
        l0=tuple(reversed(l0)),
        runs=tuple(runs),
        next_sst_id=max(next_id, m.next_sst_id),
        next_run_id=len(run_sizes) + 1,
    )._checked()


def _output(manifest: Manifest, plan: CompactionPlan) -> SortedRun:
    return SortedRun(plan.run_id, (_sst(manifest.next_sst_id, max(1, plan.input_bytes)),))


@settings(max_examples=200, deadline=None)
@given(
    l0=st.lists(st.integers(1, 1000), max_size=12),
    runs=st.lists(st.integers(1, 100_000), max_size=20),
    trigger=st.integers(1, 6),
    ratio=st.floats(1.0, 3.0),
    width=st.integers(2, 5),
    max_runs=st.integers(1, 8),
)
def test_size_tiered_plans_keep_the_placement_rule_and_converge(
    l0: list[int], runs: list[int], trigger: int, ratio: float, width: int, max_runs: int
) -> None:
    options = Options(
        l0_compaction_trigger=trigger,
        compaction_size_ratio=ratio,
        compaction_min_merge_width=width,
        compaction_max_runs=max_runs,
    )
    policy = SizeTieredPolicy(options)
    manifest = _manifest(l0, runs)
    total = manifest.total_bytes()
    for _ in range(100):
        plan = policy.plan(manifest)
        if plan is None:
            break
        assert plan.inputs_present(manifest)
        assert plan.bottom == (not manifest.runs or plan.runs[-1:] == manifest.runs[-1:])
        manifest = plan.apply(manifest, _output(manifest, plan))  # raises if misplaced
    else:
        raise AssertionError("the policy never settled")
    assert len(manifest.l0) < trigger
    assert len(manifest.runs) <= max_runs
    assert manifest.total_bytes() == total
    everything = CompactAllPolicy().plan(manifest)
    if everything is not None:
        manifest = everything.apply(manifest, _output(manifest, everything))
    assert not manifest.l0 and len(manifest.runs) <= 1


def test_equal_runs_merge_at_the_minimum_width_and_a_big_old_run_waits() -> None:
    options = Options(l0_compaction_trigger=4, compaction_min_merge_width=4)
    policy = SizeTieredPolicy(options)
    assert policy.plan(_manifest([], [100, 100, 100])) is None
    plan = policy.plan(_manifest([], [100, 100, 100, 100, 1000]))
    assert plan is not None and [r.run_id for r in plan.runs] == [1, 2, 3, 4]
    assert not plan.bottom
    plan = policy.plan(_manifest([5, 5, 5, 5], [100, 100]))
    assert plan is not None and len(plan.l0) == 4 and not plan.runs


def test_stream_reads_what_scan_reads_in_few_requests() -> None:
    rng = random.Random(1)
    builder = SSTBuilder(block_bytes=256, compression="none")
    for i in range(2000):
        builder.add(Entry(b"k%06d" % i, 10_000 - i, Kind.PUT, rng.randbytes(rng.randint(0, 90))))
    data, _ = builder.finish()
    reads: list[tuple[int, int]] = []

    def read(start: int, end: int) -> bytes:
        reads.append((start, end))
        return data[start:end]

    reader = SSTReader.open("t", len(data), read)
    expected = list(reader.scan())
    for readahead in (1, 1000, 64 * 1024, 10**9):
        reads.clear()
        assert list(reader.stream(readahead)) == expected
        if readahead >= 64 * 1024:
            assert len(reads) <= len(data) // readahead + 2


def test_a_result_re_applies_on_top_of_a_concurrent_flush_and_is_abandoned_without_inputs() -> None:
    mstore = ManifestStore(open_store(f"memory://{uuid.uuid4().hex}"))
    role = FenceableManifest.claim(mstore, "compactor", WRITER)
    for sst_id in (1, 2, 3):
        role.update(lambda m, i=sst_id: m.with_l0_flush(_sst(i, 10, seq=i), i, i))
    plan = SizeTieredPolicy(Options(l0_compaction_trigger=3)).plan(role.manifest)
    assert plan is not None
    # Another thread of the holder flushes meanwhile, from the same cached version.
    other = FenceableManifest(mstore, "compactor", role.manifest_id, role.manifest, role.epoch)
    other.update(lambda m: m.with_l0_flush(_sst(4, 10, seq=4), 4, 4))
    new_run = SortedRun(plan.run_id, (_sst(5, 30, seq=3),))
    result = role.update(lambda m: _apply_plan(plan, m, new_run))
    assert [m.sst_id for m in result.l0] == [4]
    assert result.runs == (new_run,)
    # A second result for the same inputs finds them gone: abandoned, nothing written.
    before = role.manifest_id
    stale = SortedRun(plan.run_id + 1, (_sst(6, 30, seq=3),))
    try:
        other.update(lambda m: _apply_plan(plan, m, stale))
    except _Abandoned:
        pass
    else:
        raise AssertionError("a result whose inputs are gone was committed")
    assert mstore.read_latest()[0] == before  # type: ignore[index]


def test_compact_merges_everything_into_one_run_and_keeps_the_data() -> None:
    options = Options(l0_sst_size=2048, block_bytes=256, l0_compaction_trigger=0)
    rng = random.Random(7)
    model: dict[bytes, bytes] = {}
    url = f"memory://{uuid.uuid4().hex}"
    with DB.open(url, options=options) as db:
        for round_ in range(6):
            for _ in range(200):
                key = b"k%03d" % rng.randrange(300)
                if rng.random() < 0.2:
                    db.delete(key, durable=False)
                    model.pop(key, None)
                else:
                    value = b"%d-" % round_ + os.urandom(20)
                    db.put(key, value, durable=False)
                    model[key] = value
            db.flush()
        assert len(db.manifest[1].l0) >= 6
        with db.snapshot() as snap:
            before = dict(snap.scan())
            db.compact()
            _, manifest = db.manifest
            assert not manifest.l0 and len(manifest.runs) == 1
            assert dict(snap.scan()) == before  # the snapshot's versions were kept
        assert dict(db.scan()) == model
        db.compact()  # nothing to do: returns at once
    with DB.open(url, options=options) as db:
        assert dict(db.scan()) == model


def test_exclusive_compact_drops_tombstones_at_the_bottom_shared_keeps_them() -> None:
    for exclusive in (False, True):
        with DB.open(f"memory://{uuid.uuid4().hex}", exclusive=exclusive) as db:
            for i in range(50):
                db.put(b"k%02d" % i, b"v", durable=False)
            db.flush()
            for i in range(50):
                db.delete(b"k%02d" % i, durable=False)
            db.compact()
            runs = db.manifest[1].runs
            if exclusive:
                assert runs == ()  # only tombstones at the bottom: nothing left
            else:
                assert [sum(m.entries for m in run.ssts) for run in runs] == [50]
            assert list(db.scan()) == []


class _Paused:
    """A policy that plans nothing while paused (the compaction interface, not the store)."""

    def __init__(self, inner: SizeTieredPolicy) -> None:
        self.inner = inner
        self.paused = True

    def plan(self, manifest: Manifest) -> CompactionPlan | None:
        return None if self.paused else self.inner.plan(manifest)


def test_a_writer_stopped_at_the_l0_limit_resumes_after_compaction() -> None:
    options = Options(l0_compaction_trigger=2, l0_slowdown_trigger=3, l0_stop_trigger=4)
    with DB.open(f"memory://{uuid.uuid4().hex}", options=options) as db:
        db.put(b"first", b"0")
        db.flush()  # takes the flush role
        paused = _Paused(SizeTieredPolicy(options))
        db._flusher.policy = paused
        i = 0
        while len(db.manifest[1].l0) < options.l0_stop_trigger:
            db.put(b"k%d" % i, b"v")
            db.flush()
            i += 1
        done = threading.Event()

        def write() -> None:
            db.put(b"late", b"1")
            done.set()

        writer = threading.Thread(target=write)
        writer.start()
        while db.l0_stops == 0:  # the writer reached the stop and waits
            time.sleep(0.01)
        assert not done.is_set()
        paused.paused = False
        db._flusher.request_role()  # wake the flusher: it compacts now
        writer.join(timeout=60)
        assert done.is_set()
        assert len(db.manifest[1].l0) < options.l0_stop_trigger
        assert db.get(b"late") == b"1"
        assert db.stats()["l0_slowdowns"] >= 1


def test_strata_compact_command(tmp_path: Path) -> None:
    url = str(tmp_path / "db")
    options = Options(l0_sst_size=2048, block_bytes=256, l0_compaction_trigger=0)
    with DB.open(url, options=options) as db:
        for round_ in range(4):
            for i in range(100):
                db.put(b"k%03d" % i, b"%d" % round_, durable=False)
            db.flush()
        assert len(db.manifest[1].l0) >= 4
    result = CliRunner().invoke(admin, ["compact", url, "--set", "sst_target_bytes=1024"])
    assert result.exit_code == 0, result.output
    assert "-> 0 L0 SSTs and 1 runs" in result.stdout
    with DB.open(url, read_only=True) as db:
        _, manifest = db.manifest
        assert not manifest.l0 and len(manifest.runs) == 1 and len(manifest.runs[0].ssts) > 1
        assert dict(db.scan()) == {b"k%03d" % i: b"3" for i in range(100)}
    bad = CliRunner().invoke(admin, ["compact", url, "--set", "no_such_option=1"])
    assert bad.exit_code != 0


def test_a_writer_of_another_process_stopped_at_the_l0_limit_resumes_after_compaction() -> None:
    options = Options(l0_compaction_trigger=2, l0_slowdown_trigger=3, l0_stop_trigger=4)
    url = f"memory://{uuid.uuid4().hex}"
    with DB.open(open_store(url), options=options) as holder:
        holder.put(b"first", b"0")
        holder.flush()
        paused = _Paused(SizeTieredPolicy(options))
        holder._flusher.policy = paused
        i = 0
        while len(holder.manifest[1].l0) < options.l0_stop_trigger:
            holder.put(b"k%d" % i, b"v")
            holder.flush()
            i += 1
        with DB.open(open_store(url), options=options) as other:  # another "process"
            done = threading.Event()

            def write() -> None:
                other.put(b"late", b"1")
                done.set()

            writer = threading.Thread(target=write)
            writer.start()
            while other.l0_stops == 0:
                time.sleep(0.01)
            assert not done.is_set()
            paused.paused = False
            holder._flusher.request_role()
            writer.join(timeout=60)
            assert done.is_set()
            assert other.get(b"late") == b"1"
            assert not other.stats()["flush_role"]  # it waited; it did not take the role


def test_large_outputs_are_streamed_from_a_spill_file(tmp_path: Path) -> None:
    """Outputs past ``compaction_spill_bytes`` go through ``put_if_absent_stream`` (local dir:
    streamed into the temporary file, then linked); the data survives, and a taken output id
    makes the same spilled output be streamed again under the next id."""
    options = Options(
        l0_sst_size=8192,
        block_bytes=256,
        l0_compaction_trigger=0,
        sst_target_bytes=16_000,
        compaction_spill_bytes=2_000,
    )
    rng = random.Random(11)
    model: dict[bytes, bytes] = {}
    url = str(tmp_path / "db")
    with DB.open(url, options=options) as db:
        for _ in range(4):
            for _ in range(300):
                key = b"k%04d" % rng.randrange(1000)
                value = os.urandom(rng.randint(10, 60))
                db.put(key, value, durable=False)
                model[key] = value
            db.flush()
        store = open_store(url)
        taken = db.manifest[1].next_sst_id
        assert store.put_if_absent(f"sst/{taken:020d}.sst", b"someone else's")
        db.compact()
        run = db.manifest[1].runs[0]
        assert len(run.ssts) > 2 and taken not in {m.sst_id for m in run.ssts}
        assert all(m.size > options.compaction_spill_bytes for m in run.ssts[:-1])
        assert dict(db.scan()) == model
    with DB.open(url, options=options) as db:
        assert dict(db.scan()) == model
