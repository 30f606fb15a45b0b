"""Clones (docs/design/0005-storage-lifecycle.md, "Clones"): a new database from a
checkpoint of another, listing its SSTs without copying them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvengine import DB, Options
from kvengine.cli import admin
from kvengine.clone import hold_name, is_hold, public_url
from kvengine.errors import CheckpointUnavailable, InvalidArgument
from kvengine.gc import GarbageCollector
from kvengine.store import open_store
from kvengine.store.base import ObjectStore
from kvengine.store.opener import Store
from kvengine.store.wrapper import StoreWrapper
from kvengine.table_store import SST_PREFIX

T = TypeVar("T")


def _urls(tmp_path: Path) -> tuple[str, str]:
    return str(tmp_path / "source"), str(tmp_path / "clone")


def _sst_names(url: str) -> set[str]:
    store = open_store(url)
    try:
        return {o.path for o in store.list(SST_PREFIX)}
    finally:
        store.close()


def _gc(url: str) -> None:
    store = open_store(url)
    try:
        GarbageCollector(store, min_age_s=0).run()
    finally:
        store.close()


def _fill(db: DB, prefix: bytes, n: int) -> None:
    for i in range(n):
        db.put(prefix + b"%04d" % i, b"v%d" % i)


def test_a_clone_and_its_source_each_see_only_their_own_writes(tmp_path: Path) -> None:
    source_url, clone_url = _urls(tmp_path)
    with DB.open(source_url) as src:
        _fill(src, b"a", 50)
        src.flush()
        src.compact()
        _fill(src, b"b", 10)  # in the WAL only: replayed into the clone's first SST
        src.checkpoint("base")
        src.put(b"after", b"source")
    DB.clone(source_url, "base", clone_url)
    assert _sst_names(clone_url)  # the replayed WAL range, nothing copied...
    assert len(_sst_names(clone_url)) == 1
    with DB.open(clone_url) as clone, DB.open(source_url) as src:
        assert clone.get(b"a0007") == b"v7" and clone.get(b"b0003") == b"v3"
        assert clone.get(b"after") is None
        clone.put(b"mine", b"clone")
        clone.delete(b"a0001")
        src.put(b"theirs", b"source")
        assert src.get(b"mine") is None and src.get(b"a0001") == b"v1"
        assert clone.get(b"theirs") is None and clone.get(b"a0001") is None
        assert _names(src, clone_url) == ["base", "<hold>"]
    with DB.open(clone_url) as clone:  # and after a reopen
        assert clone.get(b"mine") == b"clone" and clone.get(b"a0002") == b"v2"
        assert dict(clone.scan()).keys() == {
            *(b"a%04d" % i for i in range(50) if i != 1),
            *(b"b%04d" % i for i in range(10)),
            b"mine",
        }


def test_source_gc_keeps_what_the_clone_reads_until_the_clone_compacts(tmp_path: Path) -> None:
    source_url, clone_url = _urls(tmp_path)
    with DB.open(source_url) as src:
        _fill(src, b"k", 200)
        src.flush()
        src.checkpoint("base")
    DB.clone(source_url, "base", clone_url)
    with DB.open(source_url) as src:
        src.delete_checkpoint("base")
        for i in range(200):  # overwrite everything, then compact it away
            src.put(b"k%04d" % i, b"new")
        src.compact()
    _gc(source_url)
    with DB.open(clone_url) as clone:
        assert dict(clone.scan()) == {b"k%04d" % i: b"v%d" % i for i in range(200)}
        assert clone.manifest[1].external_sst_count() > 0
        clone.compact()
        m = clone.manifest[1]
        assert m.external_sst_count() == 0
    with DB.open(clone_url) as clone:
        assert not clone.manifest[1].external  # released: the root is gone
        assert len(dict(clone.scan())) == 200
    with DB.open(source_url) as src:
        assert src.checkpoints() == ()
        before = _sst_names(source_url)
    _gc(source_url)
    after = _sst_names(source_url)
    assert after < before  # the SSTs only the clone held are collected now


def test_clone_refuses_a_target_in_use_and_an_unknown_checkpoint(tmp_path: Path) -> None:
    source_url, clone_url = _urls(tmp_path)
    with DB.open(source_url) as src:
        src.put(b"k", b"v")
        src.checkpoint("base")
    with pytest.raises(CheckpointUnavailable):
        DB.clone(source_url, "nope", clone_url)
    with DB.open(clone_url) as other:
        other.put(b"x", b"y")
    with pytest.raises(InvalidArgument, match="holds a database"):
        DB.clone(source_url, "base", clone_url)
    with DB.open(source_url) as src:
        assert [c.name for c in src.checkpoints()] == ["base"]


def test_clone_in_memory_store_under_another_prefix() -> None:
    bucket = f"memory://clone-{uuid.uuid4().hex}"
    with DB.open(f"{bucket}/a", options=Options()) as src:
        _fill(src, b"m", 20)
        src.flush()
        src.checkpoint("c")
    DB.clone(f"{bucket}/a", "c", f"{bucket}/b")
    with DB.open(f"{bucket}/b") as clone:
        assert clone.get(b"m0019") == b"v19"
        assert clone.manifest[1].external[0].url == f"{bucket}/a"


def test_strata_clone_command(tmp_path: Path) -> None:
    source_url, clone_url = _urls(tmp_path)
    with DB.open(source_url) as src:
        src.put(b"k", b"v")
        src.checkpoint("base")
    result = CliRunner().invoke(admin, ["clone", source_url, "base", clone_url])
    assert result.exit_code == 0, result.output
    with DB.open(clone_url) as clone:
        assert clone.get(b"k") == b"v"
    result = CliRunner().invoke(admin, ["clone", source_url, "base", clone_url])
    assert result.exit_code == 2 and "holds a database" in result.output


def test_the_source_url_is_stored_without_credentials() -> None:
    url = "s3://AKIA:secret@bucket:9000/db/a?token=x#frag"
    assert public_url(url) == "s3://bucket:9000/db/a"
    assert hold_name(url, "1f2e") == "clone:s3://bucket:9000/db/a#1f2e"
    assert is_hold("clone:s3://bucket:9000/db/a#1f2e", url)
    assert not is_hold("clone:s3://bucket:9000/db/a", url)
    assert not is_hold("clone:s3://bucket:9000/db/ab#1f2e", url)
    long = "/tmp/" + "x" * 400
    assert len(hold_name(long, "abcd")) == 200 and is_hold(hold_name(long, "abcd"), long)
    assert not is_hold(hold_name(long, "abcd"), long + "y")  # same first 200 characters
    assert public_url("/tmp/x/a") == "/tmp/x/a"


def test_a_clone_of_a_clone_waits_until_it_has_its_own_ssts(tmp_path: Path) -> None:
    source_url, clone_url = _urls(tmp_path)
    with DB.open(source_url) as src:
        _fill(src, b"k", 20)
        src.flush()
        src.checkpoint("base")
    DB.clone(source_url, "base", clone_url)
    with DB.open(clone_url) as clone:
        clone.checkpoint("c1")
    with pytest.raises(InvalidArgument, match="clone of a clone"):
        DB.clone(clone_url, "c1", str(tmp_path / "grandchild"))
    with DB.open(clone_url) as clone:
        assert [c.name for c in clone.checkpoints()] == ["c1"]  # the attempt's hold is gone
        clone.delete_checkpoint("c1")
        clone.compact()
        clone.checkpoint("c2")
    DB.clone(clone_url, "c2", str(tmp_path / "grandchild"))
    with DB.open(str(tmp_path / "grandchild")) as grandchild:
        assert grandchild.get(b"k0005") == b"v5"


_KEYS = st.sampled_from([b"k%d" % i for i in range(12)])
_OPS = st.lists(
    st.tuples(st.sampled_from(["put", "delete", "flush", "compact"]), _KEYS, st.binary(max_size=4)),
    max_size=25,
)


def _apply(db: DB, model: dict[bytes, bytes], ops: list[tuple[str, bytes, bytes]]) -> None:
    for op, key, value in ops:
        if op == "put":
            db.put(key, value)
            model[key] = value
        elif op == "delete":
            db.delete(key)
            model.pop(key, None)
        elif op == "flush":
            db.flush()
        else:
            db.compact()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=_OPS, source_after=_OPS, clone_after=_OPS)
def test_clone_and_source_diverge_from_the_checkpoint(
    before: list[tuple[str, bytes, bytes]],
    source_after: list[tuple[str, bytes, bytes]],
    clone_after: list[tuple[str, bytes, bytes]],
) -> None:
    """Any history before the checkpoint, then any writes, flushes and compactions on each
    side (with the source's GC at min age 0 in between): each sees its model, before and
    after the clone's compaction rewrites its source's SSTs and lets go of the source."""
    bucket = f"memory://clone-prop-{uuid.uuid4().hex}"
    source_url, clone_url = f"{bucket}/source", f"{bucket}/clone"
    base: dict[bytes, bytes] = {}
    with DB.open(source_url) as src:
        _apply(src, base, before)
        src.checkpoint("base")
    DB.clone(source_url, "base", clone_url)
    source_model, clone_model = dict(base), dict(base)
    with DB.open(source_url) as src, DB.open(clone_url) as clone:
        _apply(src, source_model, source_after)
        _gc(source_url)
        _apply(clone, clone_model, clone_after)
        assert dict(src.scan()) == source_model
        assert dict(clone.scan()) == clone_model
        clone.compact()
        assert clone.manifest[1].external == ()
        assert dict(clone.scan()) == clone_model
        assert "clone:" not in " ".join(c.name for c in src.checkpoints())
    with DB.open(clone_url) as clone:
        assert dict(clone.scan()) == clone_model


_CLONE_CHILD = """
import json, sys
from kvengine import DB
with DB.open(sys.argv[1]) as clone:
    for i in range(300):
        clone.put(b"c%04d" % i, b"clone")
        if i % 100 == 99:
            clone.flush()
    seen = dict(clone.scan())
    clone.compact()
    after = dict(clone.scan())
    print(json.dumps({"before": len(seen), "same": seen == after,
                      "old": sum(v == b"old" for v in after.values()),
                      "external": len(clone.manifest[1].external)}))
"""


def test_a_clone_process_beside_a_source_process_and_its_gc(tmp_path: Path) -> None:
    """The clone is written and compacted in its own process while this one rewrites the
    source, compacts it and collects its garbage at min age 0 over and over: the clone
    reads every source SST it lists until it lets go, then the source's GC takes them."""
    source_url, clone_url = _urls(tmp_path)
    with DB.open(source_url) as src:
        for i in range(300):
            src.put(b"s%04d" % i, b"old")
        src.flush()
        src.checkpoint("base")
    DB.clone(source_url, "base", clone_url)
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", _CLONE_CHILD, clone_url],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        text=True,
    )
    with DB.open(source_url) as src:
        src.delete_checkpoint("base")
        rounds = 0
        while child.poll() is None or rounds < 2:
            for i in range(0, 300, 7):
                src.put(b"s%04d" % i, b"new%d" % rounds)
            src.compact()
            _gc(source_url)
            rounds += 1
    out, _ = child.communicate(timeout=120)
    assert child.returncode == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert result == {"before": 600, "same": True, "old": 300, "external": 0}
    with DB.open(source_url) as src:
        assert src.checkpoints() == ()
        live = src.manifest[1].live_sst_ids()
    _gc(source_url)
    assert _sst_names(source_url) == {f"sst/{i:020d}.sst" for i in live}


class _Crash(Exception):
    """The process died: no request from here on reaches the store (not retried)."""


class _Dying(StoreWrapper):
    """Counts requests on a shared clock; request ``at`` (1-based) and every later one fail
    with ``_Crash``, request ``at`` after taking effect if ``after_effect``."""

    def __init__(self, inner: ObjectStore, clock: list[int], at: int, after_effect: bool):
        super().__init__(inner)
        self.clock, self.at, self.after_effect = clock, at, after_effect

    def around(self, kind: str, path: str | None, op: Callable[[], T], written: int) -> T:
        self.clock[0] += 1
        if self.clock[0] < self.at:
            return op()
        if self.clock[0] == self.at and self.after_effect:
            op()
        raise _Crash(f"request {self.clock[0]}: {kind} {path}")


def _dying(url: str, clock: list[int], at: int, after_effect: bool) -> Store:
    return Store(_Dying(open_store(url).adapter, clock, at, after_effect))


def _clone_source(tmp_path: Path) -> tuple[str, str]:
    source_url, clone_url = _urls(tmp_path)
    with DB.open(source_url) as src:
        _fill(src, b"a", 30)
        src.flush()
        _fill(src, b"b", 5)  # in the WAL: replayed into the clone's own L0 SST
        src.checkpoint("base")
        src.put(b"after", b"x")
    return source_url, clone_url


def test_a_clone_that_crashed_at_any_request_can_be_retried(tmp_path: Path) -> None:
    """A crash at every request of a clone (before or after it takes effect): the retry
    completes (or finds the clone made, when the crash came after its manifest was
    written), the clone reads the checkpoint, the source holds one checkpoint for it, and
    lets go of it once the clone has compacted."""
    clock = [0]
    source_url, clone_url = _clone_source(tmp_path / "count")
    DB.clone(
        _dying(source_url, clock, 10**9, False), "base", _dying(clone_url, clock, 10**9, False)
    )
    total = clock[0]
    assert total > 10
    for at in range(1, total + 1):
        for after_effect in (False, True):
            clock = [0]
            source_url, clone_url = _clone_source(tmp_path / f"{at}-{after_effect}")
            with pytest.raises(_Crash):
                DB.clone(
                    _dying(source_url, clock, at, after_effect),
                    "base",
                    _dying(clone_url, clock, at, after_effect),
                )
            try:
                DB.clone(source_url, "base", clone_url)
            except InvalidArgument as exc:  # the manifest was written: the clone exists
                assert "this clone, made already" in str(exc), (at, after_effect)
            with DB.open(clone_url) as clone, DB.open(source_url) as src:
                assert dict(clone.scan()) == {
                    **{b"a%04d" % i: b"v%d" % i for i in range(30)},
                    **{b"b%04d" % i: b"v%d" % i for i in range(5)},
                }, (at, after_effect)
                assert _names(src, clone_url) == ["base", "<hold>"], (at, after_effect)
                clone.compact()
                assert clone.manifest[1].external == ()
                assert [c.name for c in src.checkpoints()] == ["base"]
            _gc(clone_url)
            assert _sst_names(clone_url) == {
                f"sst/{i:020d}.sst" for i in _live(clone_url)
            }  # nothing an attempt left


def _live(url: str) -> set[int]:
    with DB.open(url) as db:
        return set(db.manifest[1].live_sst_ids())


def test_a_crashed_clone_of_another_checkpoint_is_let_go_of(tmp_path: Path) -> None:
    """An attempt at "base" crashed holding its checkpoint in the source: a clone of
    "later" into the same target is made, and deletes what the crashed attempt held."""
    source_url, clone_url = _clone_source(tmp_path)
    with DB.open(source_url) as src:
        src.checkpoint("later")
    for at in range(1, 50):  # crash right after the source holds "base"
        clock = [0]
        with pytest.raises(_Crash):
            DB.clone(
                _dying(source_url, clock, at, True), "base", _dying(clone_url, clock, at, True)
            )
        with DB.open(source_url) as src:
            if len(src.checkpoints()) == 3:
                break
    with DB.open(source_url) as src:
        assert _names(src, clone_url) == ["base", "later", "<hold>"]
        crashed = src.checkpoints()[2].name
    DB.clone(source_url, "later", clone_url)
    with DB.open(clone_url) as clone, DB.open(source_url) as src:
        assert clone.get(b"b0004") == b"v4" and clone.get(b"after") == b"x"
        assert _names(src, clone_url) == ["base", "later", "<hold>"]
        assert crashed not in [c.name for c in src.checkpoints()]
        assert clone.manifest[1].external[0].checkpoint == src.checkpoints()[2].name


def _names(src: DB, clone_url: str) -> list[str]:
    """The source's checkpoint names, the clone's holds shown as ``<hold>``."""
    return ["<hold>" if is_hold(c.name, clone_url) else c.name for c in src.checkpoints()]


class _Interleaved(StoreWrapper):
    """Counts requests on a shared clock; at request ``at`` (1-based), before or after it
    takes effect, runs ``meanwhile`` once: another attempt, start to end, while this one
    is paused there."""

    def __init__(
        self,
        inner: ObjectStore,
        clock: list[int],
        at: int,
        after_effect: bool,
        meanwhile: Callable[[], None],
    ):
        super().__init__(inner)
        self.clock, self.at, self.after_effect, self.meanwhile = clock, at, after_effect, meanwhile

    def around(self, kind: str, path: str | None, op: Callable[[], T], written: int) -> T:
        self.clock[0] += 1
        if self.clock[0] != self.at:
            return op()
        if self.after_effect:
            result = op()
            self.meanwhile()
            return result
        self.meanwhile()
        return op()


_MODELS = {
    "base": {
        **{b"a%04d" % i: b"v%d" % i for i in range(30)},
        **{b"b%04d" % i: b"v%d" % i for i in range(5)},
    },
}
_MODELS["later"] = {**_MODELS["base"], b"after": b"x", b"late": b"y"}


def _two_checkpoints(tmp_path: Path) -> tuple[str, str]:
    source_url, clone_url = _clone_source(tmp_path)
    with DB.open(source_url) as src:
        src.put(b"late", b"y")  # in the WAL, like "after"
        src.checkpoint("later")
    return source_url, clone_url


def _attempt(
    source: str | Store, checkpoint: str, target: str | Store, outcomes: dict[str, str]
) -> None:
    try:
        DB.clone(source, checkpoint, target)
        outcomes[checkpoint] = "made"
    except InvalidArgument as exc:
        assert "holds a database already" in str(exc)
        outcomes[checkpoint] = "refused"


def _check_one_clone(source_url: str, clone_url: str, outcomes: dict[str, str]) -> None:
    """Exactly one attempt made the clone; it reads its checkpoint; the source holds one
    checkpoint for it (the one its manifest names), let go of once it compacted; the
    clone's GC leaves only its own live SSTs."""
    assert sorted(outcomes.values()) == ["made", "refused"], outcomes
    (winner,) = (cp for cp, outcome in outcomes.items() if outcome == "made")
    with DB.open(clone_url) as clone, DB.open(source_url) as src:
        assert dict(clone.scan()) == _MODELS[winner]
        assert _names(src, clone_url) == ["base", "later", "<hold>"]
        assert clone.manifest[1].external[0].checkpoint == src.checkpoints()[2].name
        clone.compact()
        assert clone.manifest[1].external == ()
        assert _names(src, clone_url) == ["base", "later"]
        assert dict(clone.scan()) == _MODELS[winner]
    _gc(clone_url)
    assert _sst_names(clone_url) == {f"sst/{i:020d}.sst" for i in _live(clone_url)}


@pytest.mark.parametrize(("first", "second"), [("base", "later"), ("later", "base")])
def test_another_clone_into_the_target_at_every_request_of_one(
    tmp_path: Path, first: str, second: str
) -> None:
    """Attempt A is paused at each of its requests (before, then after, it takes effect)
    while attempt B, of another checkpoint into the same target, runs start to end; then
    A goes on (a second caller, or A paused so long it was taken for dead and retried).
    Exactly one of them makes the clone, and nothing of the other's is left behind."""
    clock = [0]
    source_url, clone_url = _two_checkpoints(tmp_path / "count")
    DB.clone(_dying(source_url, clock, 10**9, False), first, _dying(clone_url, clock, 10**9, False))
    total = clock[0]
    assert total > 10
    for at in range(1, total + 2):
        for after_effect in (False, True):
            source_url, clone_url = _two_checkpoints(tmp_path / f"{at}-{after_effect}")
            outcomes = _interleave(source_url, clone_url, first, second, at, after_effect)
            _check_one_clone(source_url, clone_url, outcomes)


def _interleave(
    source_url: str, clone_url: str, first: str, second: str, at: int, after_effect: bool
) -> dict[str, str]:
    """Attempt ``first``, with attempt ``second`` run whole at its request ``at`` (after
    it, when ``first`` makes fewer requests)."""
    clock, outcomes = [0], dict[str, str]()

    def meanwhile() -> None:
        _attempt(source_url, second, clone_url, outcomes)

    def wrapped(url: str) -> Store:
        inner = open_store(url).adapter
        return Store(_Interleaved(inner, clock, at, after_effect, meanwhile))

    _attempt(wrapped(source_url), first, wrapped(clone_url), outcomes)
    if second not in outcomes:
        meanwhile()
    return outcomes


_CLONING_CHILD = """
import os, sys, time
from kvengine import DB
from kvengine.errors import InvalidArgument
source, checkpoint, target, go = sys.argv[1:]
while not os.path.exists(go):
    time.sleep(0.001)
try:
    DB.clone(source, checkpoint, target)
    print("made")
except InvalidArgument as exc:
    assert "holds a database already" in str(exc), exc
    print("refused")
"""


def test_clones_into_one_target_from_several_processes_at_once(tmp_path: Path) -> None:
    """Four processes clone "base" or "later" into one target at the same moment: one
    makes it, the others are refused, and the source holds one checkpoint for it."""
    source_url, clone_url = _two_checkpoints(tmp_path)
    go = tmp_path / "go"
    root = Path(__file__).resolve().parents[2]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CLONING_CHILD, source_url, cp, clone_url, str(go)],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
            stdout=subprocess.PIPE,
            text=True,
        )
        for cp in ("base", "later", "base", "later")
    ]
    go.touch()
    outcomes = [child.communicate(timeout=120)[0].strip() for child in children]
    assert all(child.returncode == 0 for child in children)
    assert sorted(outcomes) == ["made", "refused", "refused", "refused"]
    winner = ("base", "later", "base", "later")[outcomes.index("made")]
    _check_one_clone(source_url, clone_url, {winner: "made", "other": "refused"})


class _AnotherVersionOnTop(StoreWrapper):
    """Right after this process's first manifest create in the source lands (its hold),
    another process writes the next version on top, before this one looks for newer ones."""

    def __init__(self, inner: ObjectStore, other: Callable[[], object]) -> None:
        super().__init__(inner)
        self.other: Callable[[], object] | None = other

    def around(self, kind: str, path: str | None, op: Callable[[], T], written: int) -> T:
        result = op()
        if self.other is not None and path and path.startswith("manifest/") and result is True:
            other, self.other = self.other, None
            other()
        return result


def test_a_version_written_on_top_of_the_hold_at_once_does_not_fail_the_clone(
    tmp_path: Path,
) -> None:
    """Found as a flaky failure of the four-process test above: one attempt's hold landed,
    another attempt wrote its own hold on top before the first listed the versions, and the
    first took its own version for a stray re-created after GC, re-applied its change and
    met its own hold ("a checkpoint named … exists")."""
    source_url, clone_url = _two_checkpoints(tmp_path)

    def another_process_adds_a_checkpoint() -> None:
        with DB.open(source_url) as other:
            other.checkpoint("meanwhile")

    source = Store(
        _AnotherVersionOnTop(open_store(source_url).adapter, another_process_adds_a_checkpoint)
    )
    DB.clone(source, "base", clone_url)
    with DB.open(clone_url) as clone:
        assert clone.get(b"late") is None
