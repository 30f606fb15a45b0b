from __future__ import annotations

import random
import threading
import time
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from kvengine import memtable as memtable_module
from kvengine.memtable import ENTRY_OVERHEAD_BYTES, Memtable
from kvengine.record import MAX_SEQ, Entry, Kind, sort_key

# Few distinct keys, so keys collect several versions; 0x00 and 0xff and prefixes of each other
# exercise byte order.
KEYS = st.lists(st.sampled_from([0x00, 0x61, 0x62, 0xFF]), min_size=1, max_size=3).map(bytes)
BOUNDS = st.one_of(
    st.none(), st.lists(st.sampled_from([0x00, 0x61, 0x62, 0xFF]), max_size=3).map(bytes)
)
OP = st.tuples(st.sampled_from(Kind), KEYS, st.binary(max_size=4)).map(
    lambda op: (op[0], op[1], op[2] if op[0] == Kind.PUT else b"")
)
# (first_seq, ops): first_seq is drawn freely, so batches arrive out of order and sometimes
# repeat a (key, seq) already present.
BATCHES = st.lists(st.tuples(st.integers(0, 60), st.lists(OP, min_size=1, max_size=6)), max_size=12)
CHUNK_KEYS = st.sampled_from([1, 2, 3, 128])

Ops = list[tuple[Kind, bytes, bytes]]


def build(batches: list[tuple[int, Ops]]) -> tuple[Memtable, dict[tuple[bytes, int], Entry]]:
    """A memtable and its model: the last entry added for each (key, seq)."""
    table = Memtable()
    model: dict[tuple[bytes, int], Entry] = {}
    for first_seq, ops in batches:
        table.add(first_seq, ops)
        for i, (kind, key, value) in enumerate(ops):
            model[key, first_seq + i] = Entry(key, first_seq + i, kind, value)
    return table, model


def in_range(key: bytes, start: bytes | None, end: bytes | None) -> bool:
    return (start is None or key >= start) and (end is None or key < end)


@given(BATCHES, KEYS, st.one_of(st.just(MAX_SEQ), st.integers(-1, 70)))
def test_get_matches_model(batches: list[tuple[int, Ops]], key: bytes, max_seq: int) -> None:
    table, model = build(batches)
    candidates = [e for (k, seq), e in model.items() if k == key and seq <= max_seq]
    expected = max(candidates, key=lambda e: e.seq, default=None)
    assert table.get(key, max_seq) == expected
    if max_seq == MAX_SEQ:
        assert table.get(key) == expected


@given(BATCHES, BOUNDS, BOUNDS, st.booleans(), CHUNK_KEYS)
def test_scan_matches_model(
    batches: list[tuple[int, Ops]],
    start: bytes | None,
    end: bytes | None,
    reverse: bool,
    chunk_keys: int,
) -> None:
    table, model = build(batches)
    expected = sorted((e for e in model.values() if in_range(e.key, start, end)), key=sort_key)
    if reverse:
        expected.reverse()
    with mock.patch.object(memtable_module, "_SCAN_CHUNK_KEYS", chunk_keys):
        assert list(table.scan(start, end, reverse=reverse)) == expected
        if start is None and end is None and not reverse:
            assert list(table.entries()) == expected


@given(BATCHES)
def test_accounting_matches_model(batches: list[tuple[int, Ops]]) -> None:
    table, model = build(batches)
    assert table.entry_count == len(model)
    assert table.is_empty == (not model)
    assert table.size_bytes == sum(
        len(e.key) + len(e.value) + ENTRY_OVERHEAD_BYTES for e in model.values()
    )
    seqs = [seq for _, seq in model]
    assert table.min_seq == (min(seqs) if seqs else None)
    assert table.max_seq == (max(seqs) if seqs else None)


def test_empty_memtable() -> None:
    table = Memtable()
    table.add(5, [])
    assert table.is_empty
    assert table.entry_count == 0
    assert table.size_bytes == 0
    assert table.min_seq is None and table.max_seq is None
    assert table.get(b"k") is None
    assert list(table.scan()) == []
    assert list(table.scan(reverse=True)) == []
    assert list(table.entries()) == []


def test_versions_and_tombstones() -> None:
    table = Memtable()
    table.add(1, [(Kind.PUT, b"k", b"v1")])
    table.add(2, [(Kind.DELETE, b"k", b""), (Kind.PUT, b"j", b"x")])
    table.add(4, [(Kind.PUT, b"k", b"v3")])
    assert table.get(b"k") == Entry(b"k", 4, Kind.PUT, b"v3")
    assert table.get(b"k", 3) == Entry(b"k", 2, Kind.DELETE, b"")
    assert table.get(b"k", 1) == Entry(b"k", 1, Kind.PUT, b"v1")
    assert table.get(b"k", 0) is None
    assert table.get(b"missing") is None
    assert [(e.key, e.seq) for e in table.scan()] == [(b"j", 3), (b"k", 4), (b"k", 2), (b"k", 1)]
    assert [(e.key, e.seq) for e in table.scan(reverse=True)] == [
        (b"k", 1),
        (b"k", 2),
        (b"k", 4),
        (b"j", 3),
    ]


def test_same_key_twice_in_one_batch_later_wins() -> None:
    table = Memtable()
    table.add(10, [(Kind.PUT, b"k", b"first"), (Kind.PUT, b"k", b"second")])
    assert table.get(b"k") == Entry(b"k", 11, Kind.PUT, b"second")
    assert table.entry_count == 2


def test_readding_a_version_replaces_it() -> None:
    table = Memtable()
    ops = [(Kind.PUT, b"a", b"1"), (Kind.PUT, b"b", b"2")]
    table.add(7, ops)
    size = table.size_bytes
    table.add(7, ops)
    assert table.entry_count == 2
    assert table.size_bytes == size
    assert list(table.scan()) == [Entry(b"a", 7, Kind.PUT, b"1"), Entry(b"b", 8, Kind.PUT, b"2")]


def test_scan_sees_keys_added_ahead_of_it_but_not_behind() -> None:
    table = Memtable()
    table.add(1, [(Kind.PUT, bytes([k]), b"") for k in range(0, 100, 2)])
    with mock.patch.object(memtable_module, "_SCAN_CHUNK_KEYS", 4):
        scan = table.scan()
        first = [next(scan) for _ in range(6)]  # keys 0..10; the chunk holding 12, 14 is copied
        table.add(100, [(Kind.PUT, bytes([1]), b""), (Kind.PUT, bytes([51]), b"")])
        rest = list(scan)
    keys = [e.key[0] for e in first + rest]
    assert keys == sorted(keys)
    assert 51 in keys
    assert 1 not in keys


def test_scan_bounds_are_half_open() -> None:
    table = Memtable()
    table.add(1, [(Kind.PUT, k, b"") for k in (b"a", b"b", b"b\x00", b"c")])
    assert [e.key for e in table.scan(b"b", b"c")] == [b"b", b"b\x00"]
    assert [e.key for e in table.scan(b"b", b"c", reverse=True)] == [b"b\x00", b"b"]
    assert list(table.scan(b"c", b"b")) == []
    assert list(table.scan(b"c", b"b", reverse=True)) == []
    assert list(table.scan(b"b", b"b")) == []


def test_concurrent_adds_and_scans() -> None:
    """One writer adds while four readers scan and get: no errors, every scan is in order and
    within its bounds, and holds every entry added before it started."""
    rng = random.Random(1234)
    batches: list[tuple[int, Ops]] = []
    seq = 1
    for _ in range(200):
        ops: Ops = [
            (Kind.PUT if rng.random() < 0.8 else Kind.DELETE, b"k%04d" % rng.randrange(3000), b"v")
            for _ in range(rng.randrange(1, 12))
        ]
        batches.append((seq, ops))
        seq += len(ops)
    table = Memtable()
    added = 0  # batches fully added; written only by the writer
    errors: list[BaseException] = []
    stop = threading.Event()
    ready = threading.Barrier(5)

    def writer() -> None:
        nonlocal added
        try:
            ready.wait()
            for i, (first_seq, ops) in enumerate(batches):
                table.add(first_seq, ops)
                added = i + 1
                time.sleep(0.0002)  # let the readers run between adds
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    def reader(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            ready.wait()
            while not stop.is_set():
                start = b"k%04d" % rnd.randrange(3000) if rnd.random() < 0.5 else None
                end = b"k%04d" % rnd.randrange(3000) if rnd.random() < 0.5 else None
                reverse = rnd.random() < 0.5
                before = added
                got = list(table.scan(start, end, reverse=reverse))
                order = [sort_key(e) for e in got]
                assert order == sorted(order, reverse=reverse)
                assert len(set(order)) == len(order)
                assert all(in_range(e.key, start, end) for e in got)
                present = {(e.key, e.seq) for e in got}
                for first_seq, ops in batches[:before]:
                    for i, (_, key, _) in enumerate(ops):
                        if in_range(key, start, end):
                            assert (key, first_seq + i) in present
                key = b"k%04d" % rnd.randrange(3000)
                entry = table.get(key)
                assert entry is None or entry.key == key
        except BaseException as exc:
            errors.append(exc)

    with mock.patch.object(memtable_module, "_SCAN_CHUNK_KEYS", 16):
        threads = [threading.Thread(target=reader, args=(n,)) for n in range(4)]
        threads.append(threading.Thread(target=writer))
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert not errors, errors[0]
    assert table.entry_count == seq - 1


@given(st.lists(BATCHES, max_size=3), KEYS)
def test_add_batches_at_once_matches_add_one_by_one(
    groups: list[list[tuple[int, Ops]]], key: bytes
) -> None:
    """add_batches (a WAL object applied at once, several times) is add() of each batch."""
    at_once = Memtable()
    for group in groups:
        at_once.add_batches((first_seq, ops) for first_seq, ops in [(7, []), *group])
    table, _ = build([batch for group in groups for batch in group])
    assert list(at_once.entries()) == list(table.entries())
    assert at_once.get(key) == table.get(key)
    assert (at_once.entry_count, at_once.size_bytes) == (table.entry_count, table.size_bytes)
    assert (at_once.min_seq, at_once.max_seq) == (table.min_seq, table.max_seq)


def test_one_version_and_several() -> None:
    """A key's one version is held without a list; a second one makes it a list."""
    table = Memtable()
    table.add_batches((i, ((Kind.PUT, b"k%d" % i, b"v"),)) for i in range(1, 101))
    table.add(200, [(Kind.DELETE, b"k1", b"")])
    table.add(0, [(Kind.PUT, b"k2", b"old")])  # older than the one version there
    entries = list(table.entries())
    assert entries[:3] == [
        Entry(b"k1", 200, Kind.DELETE, b""),
        Entry(b"k1", 1, Kind.PUT, b"v"),
        Entry(b"k10", 10, Kind.PUT, b"v"),
    ]
    assert all(type(e.kind) is Kind for e in entries)
    assert table.get(b"k50") == Entry(b"k50", 50, Kind.PUT, b"v")
    assert table.get(b"k50", 49) is None
    assert table.get(b"k2", 1) == Entry(b"k2", 0, Kind.PUT, b"old")
    assert list(table.scan(b"k2", b"k20", reverse=True)) == [
        Entry(b"k2", 0, Kind.PUT, b"old"),
        Entry(b"k2", 2, Kind.PUT, b"v"),
    ]
    assert table.entry_count == 102
