from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given
from hypothesis import strategies as st

from kvengine.iterators import compact_entries, merge, pick_newest, visible
from kvengine.memtable import Memtable
from kvengine.record import MAX_SEQ, Entry, Kind, sort_key

KEYS = st.lists(st.sampled_from([0x00, 0x61, 0x62, 0xFF]), min_size=1, max_size=2).map(bytes)
ENTRY_FIELDS = st.tuples(KEYS, st.sampled_from(Kind), st.binary(max_size=3))


def distinct_versions(max_size: int = 40) -> st.SearchStrategy[list[Entry]]:
    """Entries with distinct (key, seq), in no particular order."""
    return st.lists(
        st.tuples(ENTRY_FIELDS, st.integers(0, 50)),
        max_size=max_size,
        unique_by=lambda item: (item[0][0], item[1]),
    ).map(
        lambda items: [
            Entry(key, seq, kind, value if kind == Kind.PUT else b"")
            for (key, kind, value), seq in items
        ]
    )


# Each entry goes to one of up to four sources.
SPLIT_VERSIONS = st.tuples(distinct_versions(), st.lists(st.integers(0, 3), min_size=40))
SNAPSHOTS = st.one_of(st.just(MAX_SEQ), st.integers(-1, 52))


def split(entries: list[Entry], assignment: list[int]) -> list[list[Entry]]:
    sources: list[list[Entry]] = [[] for _ in range(1 + max(assignment[: len(entries)], default=0))]
    for entry, index in zip(entries, assignment, strict=False):
        sources[index].append(entry)
    for source in sources:
        source.sort(key=sort_key)
    return sources


def model_read(entries: list[Entry], snapshot_seq: int) -> dict[bytes, bytes]:
    """What a read at ``snapshot_seq`` sees: each key's newest version at or below it, if a
    put."""
    newest: dict[bytes, Entry] = {}
    for e in entries:
        if e.seq <= snapshot_seq and (e.key not in newest or e.seq > newest[e.key].seq):
            newest[e.key] = e
    return {k: e.value for k, e in newest.items() if e.kind == Kind.PUT}


# -- merge ---------------------------------------------------------------------------------


@given(SPLIT_VERSIONS, st.booleans())
def test_merge_matches_sorted_union(versions: tuple[list[Entry], list[int]], reverse: bool) -> None:
    entries, assignment = versions
    sources = split(entries, assignment)
    expected = sorted(entries, key=sort_key, reverse=reverse)
    inputs = [list(reversed(s)) if reverse else s for s in sources]
    assert list(merge(inputs, reverse=reverse)) == expected


@given(distinct_versions(), st.lists(st.lists(st.booleans(), min_size=40), min_size=1, max_size=4))
def test_merge_repeats_keep_the_earliest_source(
    entries: list[Entry], membership: list[list[bool]]
) -> None:
    # Source i holds the entries it is a member of, with its own value, so the value shows
    # which source an output entry came from.
    sources = [
        sorted(
            (e._replace(value=bytes([i])) for e, member in zip(entries, m, strict=False) if member),
            key=sort_key,
        )
        for i, m in enumerate(membership)
    ]
    best: dict[tuple[bytes, int], Entry] = {}
    for source in reversed(sources):
        for e in source:
            best[e.key, e.seq] = e
    for reverse in (False, True):
        expected = sorted(best.values(), key=sort_key, reverse=reverse)
        inputs = [list(reversed(s)) if reverse else list(s) for s in sources]
        assert list(merge(inputs, reverse=reverse)) == expected


def test_merge_of_nothing() -> None:
    assert list(merge([])) == []
    assert list(merge([[], []])) == []
    assert list(merge([[], []], reverse=True)) == []


def test_merge_is_lazy() -> None:
    def endless(key: bytes) -> Iterator[Entry]:
        seq = 10**9
        while True:
            yield Entry(key, seq, Kind.PUT, b"")
            seq -= 1

    merged = merge([endless(b"a"), endless(b"b")])
    assert [next(merged).key for _ in range(3)] == [b"a", b"a", b"a"]


# -- visible -------------------------------------------------------------------------------


@given(SPLIT_VERSIONS, SNAPSHOTS, st.booleans())
def test_merge_then_visible_matches_model(
    versions: tuple[list[Entry], list[int]], snapshot_seq: int, reverse: bool
) -> None:
    entries, assignment = versions
    sources = split(entries, assignment)
    inputs = [list(reversed(s)) if reverse else s for s in sources]
    got = list(visible(merge(inputs, reverse=reverse), snapshot_seq, reverse=reverse))
    expected = sorted(model_read(entries, snapshot_seq).items(), reverse=reverse)
    assert got == expected


@given(distinct_versions(), st.lists(st.integers(0, 2), min_size=40), SNAPSHOTS, st.booleans())
def test_memtables_merged_match_model(
    entries: list[Entry], assignment: list[int], snapshot_seq: int, reverse: bool
) -> None:
    tables = [Memtable() for _ in range(3)]
    for entry, i in zip(entries, assignment, strict=False):
        tables[i].add(entry.seq, [(entry.kind, entry.key, entry.value)])
    sources = [t.scan(reverse=reverse) for t in tables]
    got = list(visible(merge(sources, reverse=reverse), snapshot_seq, reverse=reverse))
    assert got == sorted(model_read(entries, snapshot_seq).items(), reverse=reverse)


def test_visible_tombstones_and_snapshots() -> None:
    stream = [
        Entry(b"a", 5, Kind.DELETE, b""),
        Entry(b"a", 3, Kind.PUT, b"a3"),
        Entry(b"b", 9, Kind.PUT, b"b9"),
        Entry(b"b", 2, Kind.PUT, b"b2"),
        Entry(b"c", 4, Kind.PUT, b"c4"),
    ]
    assert list(visible(stream, MAX_SEQ)) == [(b"b", b"b9"), (b"c", b"c4")]
    assert list(visible(stream, 4)) == [(b"a", b"a3"), (b"b", b"b2"), (b"c", b"c4")]
    assert list(visible(stream, 2)) == [(b"b", b"b2")]
    assert list(visible(stream, 1)) == []
    back = list(reversed(stream))
    assert list(visible(back, MAX_SEQ, reverse=True)) == [(b"c", b"c4"), (b"b", b"b9")]
    assert list(visible(back, 4, reverse=True)) == [(b"c", b"c4"), (b"b", b"b2"), (b"a", b"a3")]


# -- pick_newest ---------------------------------------------------------------------------


def test_pick_newest() -> None:
    old = Entry(b"k", 3, Kind.PUT, b"old")
    new = Entry(b"k", 8, Kind.DELETE, b"")
    same = Entry(b"k", 8, Kind.PUT, b"same seq")
    assert pick_newest([]) is None
    assert pick_newest([None, None]) is None
    assert pick_newest([None, old, new, None]) is new
    assert pick_newest([new, old]) is new
    assert pick_newest([new, same]) is new
    assert pick_newest(iter([old])) is old


# -- compact_entries -----------------------------------------------------------------------


def model_compact(entries: list[Entry], keep: int, drop_tombstones: bool) -> list[Entry]:
    """The rule in ``compact_entries``' docstring, written out directly."""
    by_key: dict[bytes, list[Entry]] = {}
    for e in sorted(entries, key=sort_key):
        by_key.setdefault(e.key, []).append(e)
    out: list[Entry] = []
    for versions in by_key.values():
        kept = [e for e in versions if e.seq >= keep]
        below = [e for e in versions if e.seq < keep]
        if below:
            kept.append(below[0])
        if drop_tombstones:
            while kept and kept[-1].kind == Kind.DELETE:
                kept.pop()
        out.extend(kept)
    return out


@given(distinct_versions(60), st.integers(0, 52), st.booleans())
def test_compaction_keeps_every_read_at_or_above_keep_seq(
    entries: list[Entry], keep: int, drop_tombstones: bool
) -> None:
    stream = sorted(entries, key=sort_key)
    out = list(compact_entries(stream, keep_seq_at_or_above=keep, drop_tombstones=drop_tombstones))
    assert out == model_compact(entries, keep, drop_tombstones)
    assert out == sorted(out, key=sort_key)
    assert set(out) <= set(entries)
    for snapshot_seq in [*range(keep, 53), MAX_SEQ]:
        assert model_read(out, snapshot_seq) == model_read(entries, snapshot_seq)


@given(distinct_versions(60), st.integers(0, 52))
def test_compaction_output_sits_on_older_data(entries: list[Entry], keep: int) -> None:
    """Without ``drop_tombstones`` the output still hides older versions below it: reads over
    output plus anything older (lower seqs) match reads over input plus the same."""
    older = [Entry(e.key, -1, Kind.PUT, b"older") for e in entries]  # a lower level
    out = list(
        compact_entries(
            sorted(entries, key=sort_key), keep_seq_at_or_above=keep, drop_tombstones=False
        )
    )
    for snapshot_seq in [*range(keep, 53), MAX_SEQ]:
        assert model_read(out + older, snapshot_seq) == model_read(entries + older, snapshot_seq)


@given(distinct_versions(60), st.integers(0, 52))
def test_bottom_compaction_leaves_no_oldest_tombstone(entries: list[Entry], keep: int) -> None:
    stream = sorted(entries, key=sort_key)
    out = list(compact_entries(stream, keep_seq_at_or_above=keep, drop_tombstones=True))
    oldest: dict[bytes, Entry] = {}
    for e in out:
        oldest[e.key] = e  # record order: the last one seen is the oldest
    assert all(e.kind == Kind.PUT for e in oldest.values())


def test_compaction_rules_by_example() -> None:
    def put(seq: int) -> Entry:
        return Entry(b"k", seq, Kind.PUT, b"%d" % seq)

    def delete(seq: int) -> Entry:
        return Entry(b"k", seq, Kind.DELETE, b"")

    def run(stream: list[Entry], keep: int, drop: bool) -> list[int]:
        out = compact_entries(stream, keep_seq_at_or_above=keep, drop_tombstones=drop)
        return [e.seq for e in out]

    stream = [put(20), delete(15), put(12), put(8), delete(5), put(3)]
    assert run(stream, 10, False) == [20, 15, 12, 8]  # >= 10, plus the newest below (8)
    assert run(stream, 10, True) == [20, 15, 12, 8]
    assert run(stream, 100, False) == [20]  # no snapshot: only the newest
    assert run(stream, 0, False) == [20, 15, 12, 8, 5, 3]
    # Trailing tombstones at the bottom go, even those a snapshot could read.
    stream = [put(20), delete(15), delete(12), delete(4), put(2)]
    assert run(stream, 10, False) == [20, 15, 12, 4]
    assert run(stream, 10, True) == [20]
    assert run([delete(20), put(15)], 10, True) == [20, 15]  # a tombstone over a put stays
    assert run([delete(20)], 10, True) == []
    assert run([delete(20)], 10, False) == [20]


def test_compaction_writes_a_repeated_version_once() -> None:
    a = Entry(b"a", 7, Kind.PUT, b"x")
    b = Entry(b"b", 7, Kind.PUT, b"y")
    stream = [a, a, b, b, Entry(b"b", 3, Kind.PUT, b"z")]
    out = list(compact_entries(stream, keep_seq_at_or_above=0, drop_tombstones=False))
    assert out == [a, b, Entry(b"b", 3, Kind.PUT, b"z")]
