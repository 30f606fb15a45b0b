"""The shared WAL read back as one serial history, and the checks that a run of concurrent
commits (from any number of engines and processes) must pass against it.

Every commit in these tests writes one unique *tag* key (``tag/<name>``), so each WAL batch
names the commit it came from. The history replays the batches in WAL order the way every
process applies them: a blind batch always applies; a transaction's batch that carries its
``read_seq`` (and watched ranges) applies only if no batch applied after ``read_seq`` wrote
one of its keys or a key in one of its ranges. :func:`check` then verifies, for the recorded
outcomes:

* the WAL is gap-free (ids 1..n), sequence numbers only grow, each batch has one tag and no
  tag is stored twice;
* an acknowledged commit is applied, with exactly the writes it made (and the snapshot it
  read); one that raised (``Conflict`` or a store error) is not applied;
* snapshot isolation: what a transaction read equals the replay at its ``read_seq``; no
  applied batch between its ``read_seq`` and its own position wrote a key it writes or a key
  in a range it watched (first committer wins);
* a transaction sees every commit acknowledged before it began (in any process: the clocks
  are ``time.monotonic``, one clock per machine).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kvengine import Options
from kvengine.manifest.store import ManifestStore
from kvengine.record import Kind
from kvengine.store import ObjectStore
from kvengine.table_store import TableStore
from kvengine.wal import SEQ_BITS

TAG_PREFIX = b"tag/"
#: Outcomes: acknowledged, raised Conflict, raised another error, read-only (never committed).
OK, CONFLICT, ERROR, READ = "ok", "conflict", "error", "read"


def tag_key(tag: str) -> bytes:
    return TAG_PREFIX + tag.encode()


@dataclass(frozen=True)
class Batch:
    """One write batch where the WAL put it; ``read_seq`` and ``ranges`` as stored (a blind
    write, or a WAL format that does not store them: None and ())."""

    wal_id: int
    first_seq: int
    ops: tuple[tuple[Kind, bytes, bytes], ...]
    read_seq: int | None = None
    ranges: tuple[tuple[bytes, bytes | None], ...] = ()

    @property
    def last_seq(self) -> int:
        return self.first_seq + len(self.ops) - 1

    def tags(self) -> list[str]:
        return [k[len(TAG_PREFIX) :].decode() for _, k, _ in self.ops if k.startswith(TAG_PREFIX)]

    def writes(self) -> dict[bytes, bytes | None]:
        """Key -> value (None: deleted) for every op but the tag."""
        return {
            k: (v if kind == Kind.PUT else None)
            for kind, k, v in self.ops
            if not k.startswith(TAG_PREFIX)
        }


@dataclass
class CommitRecord:
    """What one commit attempt did and how it ended, as its worker saw it."""

    tag: str
    writes: dict[bytes, bytes | None]
    outcome: str = ERROR
    read_seq: int | None = None  # None: a blind write
    reads: dict[bytes, bytes | None] = field(default_factory=dict)
    scans: list[tuple[bytes, bytes, list[tuple[bytes, bytes]]]] = field(default_factory=list)
    ranges: list[tuple[bytes, bytes]] = field(default_factory=list)
    began_at: float = 0.0
    acked_at: float | None = None

    def to_json(self) -> str:
        def b(x: bytes | None) -> str | None:
            return None if x is None else x.decode("latin-1")

        return json.dumps(
            {
                "tag": self.tag,
                "writes": [[b(k), b(v)] for k, v in self.writes.items()],
                "outcome": self.outcome,
                "read_seq": self.read_seq,
                "reads": [[b(k), b(v)] for k, v in self.reads.items()],
                "scans": [[b(s), b(e), [[b(k), b(v)] for k, v in got]] for s, e, got in self.scans],
                "ranges": [[b(s), b(e)] for s, e in self.ranges],
                "began_at": self.began_at,
                "acked_at": self.acked_at,
            }
        )

    @classmethod
    def from_json(cls, line: str) -> CommitRecord:
        d: dict[str, Any] = json.loads(line)  # Any: parsed JSON

        def b(x: str | None) -> bytes | None:
            return None if x is None else x.encode("latin-1")

        def bb(x: str) -> bytes:
            return x.encode("latin-1")

        return cls(
            tag=d["tag"],
            writes={bb(k): b(v) for k, v in d["writes"]},
            outcome=d["outcome"],
            read_seq=d["read_seq"],
            reads={bb(k): b(v) for k, v in d["reads"]},
            scans=[(bb(s), bb(e), [(bb(k), bb(v)) for k, v in got]) for s, e, got in d["scans"]],
            ranges=[(bb(s), bb(e)) for s, e in d["ranges"]],
            began_at=d["began_at"],
            acked_at=d["acked_at"],
        )


class History:
    """Every batch of the WAL in order, which of them applied, and each key's applied versions
    for replay at any sequence number."""

    def __init__(self, batches: list[Batch], txn_wal_span: int = 0) -> None:
        self.batches = batches
        self.txn_wal_span = txn_wal_span
        self.too_old: set[int] = set()  # ids (id()) of the batches refused as too old
        self.by_tag: dict[str, Batch] = {}
        self.duplicate_tags: list[str] = []
        self.applied: set[int] = set()  # ids (id()) of the batches that applied
        self._versions: dict[bytes, tuple[list[int], list[bytes | None]]] = {}
        self.keys: list[bytes] = []  # every key with an applied version, sorted
        for batch in batches:
            for tag in batch.tags():
                if tag in self.by_tag:
                    self.duplicate_tags.append(tag)
                self.by_tag[tag] = batch
            if batch.read_seq is not None and self._too_old(batch):
                self.too_old.add(id(batch))
                continue
            if batch.read_seq is not None and self._changed_since(batch):
                continue
            self.applied.add(id(batch))
            for seq, (kind, key, value) in enumerate(batch.ops, batch.first_seq):
                if key not in self._versions:
                    bisect.insort(self.keys, key)
                seqs, values = self._versions.setdefault(key, ([], []))
                seqs.append(seq)
                values.append(value if kind == Kind.PUT else None)

    def _too_old(self, batch: Batch) -> bool:
        """Did the batch land more than ``txn_wal_span`` WAL objects after its read point?
        (The tombstone horizon, docs/design/0005-storage-lifecycle.md.)"""
        assert batch.read_seq is not None
        span = self.txn_wal_span
        return bool(span) and batch.read_seq < max(0, batch.wal_id - span) << SEQ_BITS

    def _changed_since(self, batch: Batch) -> bool:
        """Did an applied batch after ``batch.read_seq`` write a key it writes or watches?"""
        assert batch.read_seq is not None
        high = batch.first_seq
        if any(self.written_between(k, batch.read_seq, high) for _, k, _ in batch.ops):
            return True
        return any(
            self.written_between(key, batch.read_seq, high)
            for start, end in batch.ranges
            for key in self.keys_in(start, end)
        )

    def is_applied(self, batch: Batch) -> bool:
        return id(batch) in self.applied

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else 0

    def value_at(self, key: bytes, seq: int) -> bytes | None:
        """The value of ``key`` after every applied batch with sequence numbers <= ``seq``."""
        found = self._versions.get(key)
        if found is None:
            return None
        i = bisect.bisect_right(found[0], seq)
        return found[1][i - 1] if i else None

    def written_between(self, key: bytes, low: int, high: int) -> list[int]:
        """Sequence numbers ``s`` with ``low < s < high`` at which an applied batch wrote
        ``key``."""
        found = self._versions.get(key)
        if found is None:
            return []
        seqs = found[0]
        return seqs[bisect.bisect_right(seqs, low) : bisect.bisect_left(seqs, high)]

    def keys_in(self, start: bytes, end: bytes | None) -> list[bytes]:
        """Keys with an applied version in ``[start, end)`` (None: unbounded)."""
        hi = len(self.keys) if end is None else bisect.bisect_left(self.keys, end)
        return self.keys[bisect.bisect_left(self.keys, start) : hi]

    def state_at(
        self, seq: int, start: bytes = b"", end: bytes | None = None
    ) -> dict[bytes, bytes]:
        """Live keys in ``[start, end)`` (None: unbounded) and their values as of ``seq``."""
        out = {}
        for key in self.keys_in(start, end):
            if (value := self.value_at(key, seq)) is not None:
                out[key] = value
        return out

    def final(self) -> dict[bytes, bytes]:
        """The database's contents after every batch: what every reader must see."""
        return self.state_at(self.last_seq)


def read_history(store: ObjectStore) -> History:
    """Every WAL object in ``store``, read in id order (no WAL object is ever deleted here),
    replayed with the database's ``txn_wal_span`` (from its latest manifest)."""
    tables = TableStore(store, Options())
    batches: list[Batch] = []
    ids = tables.list_wal_ids(0)
    assert ids == list(range(1, len(ids) + 1)), f"WAL ids are not 1..n: {ids[:5]}..{ids[-5:]}"
    for wal_id in ids:
        obj = tables.read_wal(wal_id)
        assert obj is not None, f"WAL object {wal_id} vanished"
        for b in obj.batches:
            read_seq, ranges = getattr(b, "read_seq", None), getattr(b, "ranges", ())
            batches.append(Batch(wal_id, b.first_seq, b.ops, read_seq, tuple(ranges)))
    found = ManifestStore(store).read_latest()
    return History(batches, found[1].txn_wal_span if found else 0)


def check(
    history: History, records: Iterable[CommitRecord], *, unrecorded_ok: bool = False
) -> list[str]:
    """Every way the history and the recorded commits disagree (empty: they agree).
    ``unrecorded_ok``: batches whose tag no record names are allowed (a killed process's)."""
    records = list(records)
    problems: list[str] = []
    problems += _check_sequence(history)
    by_tag = {r.tag: r for r in records}
    if len(by_tag) != len(records):
        problems.append("two records share a tag (a bug in the test)")
    for tag in history.by_tag:
        r = by_tag.get(tag)
        if r is None and not unrecorded_ok:
            problems.append(f"{tag}: in the WAL but never committed")
    acked = [r for r in records if r.outcome == OK]
    for r in records:
        batch = history.by_tag.get(r.tag)
        applied = batch is not None and history.is_applied(batch)
        if r.outcome == OK:
            if batch is None:
                problems.append(f"{r.tag}: acknowledged but not in the WAL")
            elif not applied:
                problems.append(
                    f"{r.tag}: acknowledged but its batch in WAL {batch.wal_id} "
                    "does not apply (it conflicts)"
                )
            elif batch.writes() != r.writes:
                problems.append(f"{r.tag}: WAL holds {batch.writes()}, it wrote {r.writes}")
            elif batch.read_seq is not None and batch.read_seq != r.read_seq:
                problems.append(f"{r.tag}: read at {r.read_seq}, the WAL says {batch.read_seq}")
        elif applied:
            assert batch is not None
            problems.append(f"{r.tag}: raised ({r.outcome}) but applies in WAL {batch.wal_id}")
    for r in records:
        if r.read_seq is not None:
            problems += _check_reads(history, r)
    for r in acked:
        batch = history.by_tag.get(r.tag)
        if batch is not None and r.read_seq is not None:
            problems += _check_isolation(history, r, batch)
    problems += _check_recency(history, acked, records)
    return problems


def _check_sequence(history: History) -> list[str]:
    problems = []
    previous = 0
    for batch in history.batches:
        if batch.first_seq <= previous:
            problems.append(
                f"WAL {batch.wal_id}: batch starts at seq {batch.first_seq}, not after {previous}"
            )
        previous = batch.last_seq
        if len(batch.tags()) != 1:
            problems.append(f"WAL {batch.wal_id}: batch with tags {batch.tags()}")
    problems += [f"{tag}: stored more than once" for tag in history.duplicate_tags]
    return problems


def _check_reads(history: History, r: CommitRecord) -> list[str]:
    """Every read of a transaction (committed or not) saw the replay at its ``read_seq``."""
    assert r.read_seq is not None
    problems = []
    seq = r.read_seq
    for key, value in r.reads.items():
        if history.value_at(key, seq) != value:
            problems.append(
                f"{r.tag}: read {key!r} = {value!r} at seq {seq}, "
                f"the replay has {history.value_at(key, seq)!r}"
            )
    for start, end, got in r.scans:
        want = sorted(history.state_at(seq, start, end).items())
        if got != want:
            problems.append(f"{r.tag}: scan [{start!r}, {end!r}) at {seq} = {got}, want {want}")
    return problems


def _check_isolation(history: History, r: CommitRecord, batch: Batch) -> list[str]:
    """First committer wins: no applied batch between the snapshot and the commit touched its
    keys or watched ranges."""
    assert r.read_seq is not None
    problems = []
    low, high = r.read_seq, batch.first_seq
    if low >= high:
        problems.append(f"{r.tag}: read seq {low} is not before its own seq {high}")
    for key in r.writes:
        if between := history.written_between(key, low, high):
            problems.append(
                f"{r.tag}: wrote {key!r}, which seqs {between} wrote after its snapshot "
                f"{low} (lost update: it should have raised Conflict)"
            )
    for start, end in r.ranges:
        for key in history.keys_in(start, end):
            if between := history.written_between(key, low, high):
                problems.append(
                    f"{r.tag}: watched [{start!r}, {end!r}), but {key!r} was written at "
                    f"{between} after its snapshot {low}"
                )
    return problems


def _check_recency(
    history: History, acked: list[CommitRecord], records: list[CommitRecord]
) -> list[str]:
    """A transaction's snapshot holds every commit acknowledged before it began."""
    done = sorted(
        (r.acked_at, history.by_tag[r.tag].last_seq)
        for r in acked
        if r.acked_at is not None and r.tag in history.by_tag
    )
    times = [t for t, _ in done]
    prefix_max = list(_running_max(s for _, s in done))
    problems = []
    for r in records:
        if r.read_seq is None:
            continue
        i = bisect.bisect_left(times, r.began_at)
        if i and prefix_max[i - 1] > r.read_seq:
            problems.append(
                f"{r.tag}: began after a commit of seq {prefix_max[i - 1]} was acknowledged, "
                f"but reads at seq {r.read_seq}"
            )
    return problems


def _running_max(values: Iterable[int]) -> Iterator[int]:
    top = 0
    for v in values:
        top = max(top, v)
        yield top
