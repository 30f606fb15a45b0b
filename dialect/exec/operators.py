"""Running plans: one generator per kind of plan node, reading tables through one path
(:func:`read_rows`), with everything that belongs to one execution in a :class:`RunContext`.

Rows stream: a node pulls from its child only as its consumer pulls from it, so a LIMIT stops
the scan below it and a cursor fetching in batches holds one batch (sorting, grouping,
DISTINCT and the build side of a join hold what they must).
"""

from __future__ import annotations

import contextlib
import decimal
import itertools
import math
import operator
import sys
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dialect.catalog import Column
from dialect.convert import key_value
from dialect.convert import number_op as _num_op
from dialect.errors import DataError, ProgrammingError
from dialect.expr import Row, cast, truth
from dialect.keycodec import encode_key, prefix_end
from dialect.layout import index_prefix
from dialect.plan import nodes as n
from dialect.transaction import Transaction
from dialect.values import SortKey, SQLValue, coerce, compare, hashable

Rows = Generator[Row, None, None]


@dataclass
class RunContext:
    """One execution of a plan: the transaction, the parameters, the rows of enclosing
    queries, subquery results, and what writes report."""

    txn: Transaction
    params: Sequence[SQLValue]
    ids: Any  # Any: the id allocator (dialect.exec.writer.IdSource)
    outer: list[Row] = field(default_factory=list)
    memo: dict[int, list[Row]] = field(default_factory=dict)
    rowcount: int = -1
    lastrowid: int | None = None
    #: what the connection's earlier writes report (last_insert_rowid(), changes()): a
    #: dialect.execute.StatementSession
    session: Any = None
    #: SELECT … FOR UPDATE / FOR SHARE: every key and range read is watched, so the commit
    #: fails with a conflict if another transaction changed what was read (docs/sql.md)
    watch_reads: bool = False

    def rows(self, plan: n.Node) -> Rows:
        return run(plan, self)


def run(node: n.Node, ctx: RunContext, row: Row = ()) -> Rows:
    """The rows of ``node``; ``row`` is the input row its key expressions may read (the left
    row of a lookup join)."""
    return _RUNNERS[type(node)](node, ctx, row)


# -- reading tables -------------------------------------------------------------------------------


class _NoRows(Exception):
    """A key value that no stored key can equal (it cannot be converted or encoded)."""


def _key_value(fn: Any, column: Column, row: Row, ctx: RunContext) -> SQLValue:  # Any: Fn
    """The value of ``fn`` converted to ``column``'s type (not yet in key form)."""
    try:
        value = coerce(fn(row, ctx), column)
    except DataError as exc:
        raise _NoRows from exc
    if value is None:
        raise _NoRows  # a comparison with NULL is never true
    return value


def _bound_key(
    base: bytes, prefix: list[SQLValue], bound: n.Bound, column: Column, row: Row, ctx: RunContext
) -> bytes | None:
    """The key of one range end; None when the value cannot bound the column (the range
    stays open on that side: the filter above still applies)."""
    try:
        value = coerce(bound.value(row, ctx), column)
        if value is None:
            raise _NoRows
        return base + encode_key([*prefix, key_value(value, column.type)])
    except (DataError, ValueError):
        return None


def key_span(
    base: bytes, key_range: n.KeyRange | None, row: Row, ctx: RunContext
) -> tuple[bytes, bytes | None]:
    """``[start, end)`` of the keys under ``base`` within ``key_range``. ``_NoRows`` when
    no key can match."""
    if key_range is None:
        return base, prefix_end(base)
    cols = key_range.columns
    try:  # a value no key holds (an integer beyond 64 bits): no row matches
        prefix = [
            key_value(_key_value(fn, cols[i], row, ctx), cols[i].type)
            for i, fn in enumerate(key_range.prefix)
        ]
        start = base + encode_key(prefix)
    except ValueError as exc:
        raise _NoRows from exc
    end = prefix_end(start)
    nxt = cols[len(prefix)] if len(prefix) < len(cols) else None
    if key_range.low is not None and nxt is not None:
        key = _bound_key(base, prefix, key_range.low, nxt, row, ctx)
        if key is not None:
            start = key if key_range.low.inclusive else (prefix_end(key) or key)
    if key_range.high is not None and nxt is not None:
        key = _bound_key(base, prefix, key_range.high, nxt, row, ctx)
        if key is not None:
            end = prefix_end(key) if key_range.high.inclusive else key
    return start, end


def read_rows(node: n.Access, ctx: RunContext, row: Row) -> Rows:
    """The rows an access node reads, decoded: the one path from keys to rows."""
    txn, codec = ctx.txn, node.codec
    try:
        if isinstance(node, n.KeyGet):
            pk_cols = node.table.pk_columns
            keys = set()
            for exprs in node.keys:
                try:
                    values = [
                        _key_value(fn, c, row, ctx) for fn, c in zip(exprs, pk_cols, strict=True)
                    ]
                    keys.add(codec.key_of(values))
                except (_NoRows, ValueError):
                    continue
            for key in sorted(keys, reverse=node.reverse):
                if ctx.watch_reads:
                    txn.watch(key)
                value = txn.get(key)
                if value is not None:
                    yield codec.decode(key, value)
            return
        if isinstance(node, n.IndexScan):
            assert node.index is not None
            index = node.index
            start, end = key_span(index_prefix(index.id), node.range, row, ctx)
            if ctx.watch_reads:
                txn.watch(start, end or prefix_end(start))
            for entry, _ in txn.scan(start, end, reverse=node.reverse):
                key = codec.pk_from_index_entry(index, entry)
                if ctx.watch_reads:
                    txn.watch(key)
                value = txn.get(key)
                if value is not None:
                    yield codec.decode(key, value)
            return
        assert isinstance(node, n.TableScan)
        start, end = key_span(codec.prefix, node.range, row, ctx)
        if ctx.watch_reads:
            txn.watch(start, end or prefix_end(codec.prefix))
    except _NoRows:
        return
    for key, value in txn.scan(start, end, reverse=node.reverse):
        yield codec.decode(key, value)


def _access(node: n.Access, ctx: RunContext, row: Row) -> Rows:
    return read_rows(node, ctx, row)


def _nothing(node: n.Nothing, ctx: RunContext, row: Row) -> Rows:
    return
    yield


def _constant_row(node: n.ConstantRow, ctx: RunContext, row: Row) -> Rows:
    yield ()


def _values(node: n.Values, ctx: RunContext, row: Row) -> Rows:
    for exprs in node.rows:
        yield tuple(fn(row, ctx) for fn in exprs)


def _param_rows(node: n.ParamRows, ctx: RunContext, row: Row) -> Rows:
    params, width = ctx.params, node.columns
    for start in range(0, node.rows * width, width):
        yield tuple(params[start : start + width])


# -- row by row ----------------------------------------------------------------------------------


def _filter(node: n.Filter, ctx: RunContext, row: Row) -> Rows:
    cond = node.condition
    for r in run(node.child, ctx, row):
        if truth(cond(r, ctx)) is True:
            yield r


def _project(node: n.Project, ctx: RunContext, row: Row) -> Rows:
    rows = run(node.child, ctx, row)
    positions = node.positions
    if positions is not None:
        if positions == tuple(range(node.child.width)):
            yield from rows  # every column, in order
        elif len(positions) == 1:
            (pos,) = positions
            for r in rows:
                yield (r[pos],)
        else:
            pick = operator.itemgetter(*positions)
            for r in rows:
                yield pick(r)
        return
    exprs = node.exprs
    for r in rows:
        yield tuple([fn(r, ctx) for fn in exprs])


def _trim(node: n.Trim, ctx: RunContext, row: Row) -> Rows:
    width = node.columns
    for r in run(node.child, ctx, row):
        yield r[:width]


def _matches(node: n.Join, ctx: RunContext, left: Row, candidates: Iterator[Row]) -> Rows:
    cond = node.condition
    matched = False
    for right in candidates:
        joined = left + right
        if cond is None or truth(cond(joined, ctx)) is True:
            matched = True
            yield joined
    if node.left_outer and not matched:
        yield left + (None,) * node.right.width


def _nested_loop(node: n.NestedLoopJoin, ctx: RunContext, row: Row) -> Rows:
    right: list[Row] | None = None
    for left in run(node.left, ctx, row):
        if right is None:
            right = list(run(node.right, ctx, row))
        yield from _matches(node, ctx, left, iter(right))


def _hash_join(node: n.HashJoin, ctx: RunContext, row: Row) -> Rows:
    table: dict[tuple[Any, ...], list[Row]] | None = None
    for left in run(node.left, ctx, row):
        if table is None:
            table = {}
            for r in run(node.right, ctx, row):
                k = tuple(hashable(fn(r, ctx)) for fn in node.right_keys)
                if None not in k:
                    table.setdefault(k, []).append(r)
        k = tuple(hashable(fn(left, ctx)) for fn in node.left_keys)
        found = table.get(k, ()) if None not in k else ()
        yield from _matches(node, ctx, left, iter(found))


def _lookup_join(node: n.LookupJoin, ctx: RunContext, row: Row) -> Rows:
    for left in run(node.left, ctx, row):
        yield from _matches(node, ctx, left, run(node.right, ctx, left))


def _outer_join(node: n.OuterJoin, ctx: RunContext, row: Row) -> Rows:
    right = list(run(node.right, ctx, row))
    matched = [False] * len(right)
    table: dict[tuple[Any, ...], list[int]] | None = None
    if node.left_keys:
        table = {}
        for i, r in enumerate(right):
            k = tuple(hashable(fn(r, ctx)) for fn in node.right_keys)
            if None not in k:
                table.setdefault(k, []).append(i)
    cond = node.condition
    every = range(len(right))
    for left in run(node.left, ctx, row):
        candidates: Iterable[int] = every
        if table is not None:
            k = tuple(hashable(fn(left, ctx)) for fn in node.left_keys)
            candidates = table.get(k, ()) if None not in k else ()
        hit = False
        for i in candidates:
            joined = left + right[i]
            if cond is None or truth(cond(joined, ctx)) is True:
                hit = matched[i] = True
                yield joined
        if node.keep_left and not hit:
            yield left + (None,) * node.right.width
    pad = (None,) * node.left.width
    for i, r in enumerate(right):
        if not matched[i]:
            yield pad + r


# -- whole input ---------------------------------------------------------------------------------


def _number(value: SQLValue, call: n.AggregateCall) -> Any:  # Any: int, float or Decimal
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | decimal.Decimal):
        return value
    if isinstance(value, str):  # SQLite: text that is not a number counts as 0
        for parse in (int, float):
            try:
                return parse(value)
            except ValueError:
                continue
        return 0.0
    raise DataError(f"{call.function}(): {type(value).__name__} {value!r} is not a number")


class _State:
    __slots__ = ("count", "parts", "seen", "value")

    def __init__(self) -> None:
        self.count = 0
        self.value: Any = None  # Any: the running sum, minimum or maximum
        self.seen: set[Any] | None = None
        self.parts: list[str] = []


def _add(call: n.AggregateCall, state: _State, r: Row, ctx: RunContext) -> bool:
    """Add row ``r`` to ``state``; True when it became a min() or max() call's value."""
    if call.argument is None:  # count(*)
        state.count += 1
        return False
    v = call.argument(r, ctx)
    if v is None:
        return False
    if call.distinct:
        h = hashable(v)
        if state.seen is None:
            state.seen = set()
        if h in state.seen:
            return False
        state.seen.add(h)
    state.count += 1
    f = call.function
    if f in ("sum", "avg", "total"):
        x = _number(v, call)
        if state.value is None:
            state.value = x
        elif isinstance(state.value, decimal.Decimal) and isinstance(x, float):
            state.value = float(state.value) + x
        elif isinstance(state.value, float) and isinstance(x, decimal.Decimal):
            state.value += float(x)
        else:
            state.value += x
    elif f == "min":
        if state.value is None or SortKey(v) < SortKey(state.value):
            state.value = v
            return True
    elif f == "max":
        if state.value is None or SortKey(state.value) < SortKey(v):
            state.value = v
            return True
    elif f == "group_concat":
        state.parts.append(v.decode("utf-8", "replace") if isinstance(v, bytes) else _text(v))
    return False


def _text(v: SQLValue) -> str:
    out: str = cast(v, "TEXT")
    return out


def _result(call: n.AggregateCall, state: _State) -> SQLValue:
    f = call.function
    if f == "count":
        return state.count
    if f == "avg":
        return float(state.value) / state.count if state.count else None
    if f == "total":
        return float(state.value) if state.value is not None else 0.0
    if f == "group_concat":
        return call.separator.join(state.parts) if state.parts else None
    return state.value


def _aggregate(node: n.Aggregate, ctx: RunContext, row: Row) -> Rows:
    calls, keys, having = node.calls, node.keys, node.having
    # the call whose min or max row gives the group's plain columns (SQLite), if there is one
    minmax = [i for i, c in enumerate(calls) if c.function in ("min", "max")]
    witness = minmax[0] if len(minmax) == 1 else -1
    groups: dict[tuple[Any, ...], list[Any]] = {}  # key -> [row, states, key values]
    for r in run(node.child, ctx, row):
        values = tuple(k(r, ctx) for k in keys)
        gk = tuple(hashable(v) for v in values)
        entry = groups.get(gk)
        if entry is None:
            entry = groups[gk] = [r, [_State() for _ in calls], values]
        for i, (call, state) in enumerate(zip(calls, entry[1], strict=True)):
            if _add(call, state, r, ctx) and i == witness:
                entry[0] = r
    if not groups and not keys:
        groups[()] = [(None,) * node.child.width, [_State() for _ in calls], ()]
    for first, states, values in groups.values():
        out = first + tuple(_result(c, s) for c, s in zip(calls, states, strict=True)) + values
        if having is None or truth(having(out, ctx)) is True:
            yield out


def _distinct(node: n.Distinct, ctx: RunContext, row: Row) -> Rows:
    seen: set[tuple[Any, ...]] = set()
    width = node.columns
    for r in run(node.child, ctx, row):
        key = tuple(hashable(v) for v in r[:width])
        if key not in seen:
            seen.add(key)
            yield r


def _sort_key(key: n.SortKey) -> Callable[[Row], tuple[int, SortKey]]:
    position = key.position
    # NULLs sort by a rank of their own: first or last after the (possibly reversed) sort
    null_rank = 0 if key.nulls_first != key.descending else 2
    return lambda r: (
        (null_rank, SortKey(None)) if r[position] is None else (1, SortKey(r[position]))
    )


def _sort(node: n.Sort, ctx: RunContext, row: Row) -> Rows:
    rows = list(run(node.child, ctx, row))
    for key in reversed(node.keys):  # stable sorts, last key first
        rows.sort(key=_sort_key(key), reverse=key.descending)
    yield from rows


def _count(fn: Any, ctx: RunContext, what: str) -> int | None:  # Any: Fn
    if fn is None:
        return None
    value = fn((), ctx)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProgrammingError(f"{what} must be an integer, got {value!r}")
    return value


def _limit(node: n.Limit, ctx: RunContext, row: Row) -> Rows:
    limit = _count(node.limit, ctx, "LIMIT")
    offset = max(_count(node.offset, ctx, "OFFSET") or 0, 0)
    stop = None if limit is None or limit < 0 else offset + limit
    if stop == 0:
        return
    # islice takes at most sys.maxsize: more rows than any table holds anyway
    offset = min(offset, sys.maxsize)
    stop = None if stop is None else min(stop, sys.maxsize)
    yield from itertools.islice(run(node.child, ctx, row), offset, stop)


def _fetch_first(node: n.FetchFirst, ctx: RunContext, row: Row) -> Rows:
    offset = max(_count(node.offset, ctx, "OFFSET") or 0, 0)
    rows: Iterator[Row] = run(node.child, ctx, row)
    if node.percent:
        percent = node.count((), ctx)
        if isinstance(percent, bool) or not isinstance(percent, int | float | decimal.Decimal):
            raise ProgrammingError(f"FETCH … PERCENT must be a number, got {percent!r}")
        every = list(rows)
        count = math.ceil(len(every) * min(max(float(percent), 0.0), 100.0) / 100)
        rows = iter(every)
    else:
        count = max(_count(node.count, ctx, "FETCH") or 0, 0)
    if count == 0:
        return
    keys = [_sort_key(k) for k in node.ties]
    last: tuple[Any, ...] | None = None
    for i, r in enumerate(itertools.islice(rows, offset, None)):
        if i >= count:
            if last is None or tuple(k(r) for k in keys) != last:
                return
        elif i == count - 1 and keys:
            last = tuple(k(r) for k in keys)
        elif i == count - 1:
            yield r
            return
        yield r


def _set_operation(node: n.SetOperation, ctx: RunContext, row: Row) -> Rows:
    def key(r: Row) -> tuple[Any, ...]:
        return tuple(hashable(v) for v in r)

    if node.operator == "UNION":
        both = itertools.chain(run(node.left, ctx, row), run(node.right, ctx, row))
        if not node.distinct:
            yield from both
            return
        seen: set[tuple[Any, ...]] = set()
        for r in both:
            k = key(r)
            if k not in seen:
                seen.add(k)
                yield r
        return
    right = {key(r) for r in run(node.right, ctx, row)}
    keep_common = node.operator == "INTERSECT"
    emitted: set[tuple[Any, ...]] = set()
    for r in run(node.left, ctx, row):
        k = key(r)
        if (k in right) == keep_common and k not in emitted:
            emitted.add(k)
            yield r


# -- window functions ---------------------------------------------------------------------------


@dataclass
class _Layout:
    """Rows sorted for one window: ``order`` (input positions) cut into ``partitions``
    (``[start, end)`` slices of it); ``keys`` holds each input row's partition values, then
    its ORDER BY values."""

    order: list[int]
    partitions: list[tuple[int, int]]
    keys: list[Row]


def _same(a: Sequence[SQLValue], b: Sequence[SQLValue]) -> bool:
    return all(SortKey(x) == SortKey(y) for x, y in zip(a, b, strict=True))


def _window_layout(call: n.WindowCall, rows: list[Row], ctx: RunContext) -> _Layout:
    width = len(call.partition)
    keys = [
        tuple(f(r, ctx) for f in call.partition) + tuple(f(r, ctx) for f in call.order_by)
        for r in rows
    ]
    order = list(range(len(rows)))
    sort_keys = [n.SortKey(i, False) for i in range(width)] + [
        n.SortKey(width + k.position, k.descending, k.nulls_first) for k in call.order
    ]
    for key in reversed(sort_keys):  # stable sorts, last key first
        by = _sort_key(key)
        order.sort(key=lambda i: by(keys[i]), reverse=key.descending)
    partitions: list[tuple[int, int]] = []
    start = 0
    for k in range(1, len(order) + 1):
        if k == len(order) or not _same(keys[order[k]][:width], keys[order[start]][:width]):
            partitions.append((start, k))
            start = k
    return _Layout(order, partitions, keys)


def _window(node: n.Window, ctx: RunContext, row: Row) -> Rows:
    rows = list(run(node.child, ctx, row))
    layouts: dict[str, _Layout] = {}
    columns: list[list[SQLValue]] = []
    for call in node.calls:
        layout = layouts.get(call.sort_text)
        if layout is None:
            layout = layouts[call.sort_text] = _window_layout(call, rows, ctx)
        columns.append(_window_values(call, rows, layout, ctx))
    # SQLite returns the rows in the order of the first window
    for i in layouts[node.calls[0].sort_text].order:
        yield rows[i] + tuple(column[i] for column in columns)


def _integer(value: SQLValue) -> int | None:
    """``value`` as an integer if it is one (text holding one counts, as in SQLite)."""
    if isinstance(value, str):
        try:
            value = float(value.strip()) if "." in value else int(value.strip())
        except ValueError:
            return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float | decimal.Decimal):
        try:
            return int(value) if value == int(value) else None
        except (ValueError, OverflowError, ArithmeticError):  # NaN, infinity
            return None
    return value if isinstance(value, int) else None


def _frame_offset(bound: n.FrameBound, frame: str, which: str, ctx: RunContext) -> Any:
    """A frame bound's offset: a non-negative integer (ROWS) or number (RANGE)."""
    if bound.offset is None:
        return 0
    value = bound.offset((), ctx)
    number = _integer(value) if frame == "rows" else value
    if frame == "range" and isinstance(value, str):
        number = None
    if isinstance(number, bool) or not isinstance(number, int | float | decimal.Decimal):
        number = None
    if number is None or number < 0:
        kind = "integer" if frame == "rows" else "number"
        raise DataError(f"frame {which} offset must be a non-negative {kind}")
    return number


def _first_true(lo: int, hi: int, test: Callable[[int], bool]) -> int:
    """The first ``k`` in ``[lo, hi)`` for which ``test`` holds (``hi`` if none), ``test``
    being false and then true over the range."""
    while lo < hi:
        mid = (lo + hi) // 2
        if test(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _window_values(
    call: n.WindowCall, rows: list[Row], layout: _Layout, ctx: RunContext
) -> list[SQLValue]:
    """The value of ``call`` for each input row (by input position)."""
    out: list[SQLValue] = [None] * len(rows)
    width = len(call.partition)
    f = call.function
    offsets = (
        _frame_offset(call.start, call.frame, "starting", ctx),
        _frame_offset(call.end, call.frame, "ending", ctx),
    )
    for start, end in layout.partitions:
        part = layout.order[start:end]
        m = len(part)
        values = [layout.keys[i][width:] for i in part]
        peer_start = [0] * m
        peer_end = [m - 1] * m
        group = [1] * m
        for k in range(1, m):
            if _same(values[k], values[k - 1]):
                peer_start[k], group[k] = peer_start[k - 1], group[k - 1]
            else:
                peer_start[k], group[k] = k, group[k - 1] + 1
        for k in range(m - 2, -1, -1):
            peer_end[k] = peer_end[k + 1] if peer_start[k + 1] == peer_start[k] else k
        if f == "row_number":
            ranks: list[SQLValue] = [k + 1 for k in range(m)]
        elif f == "rank":
            ranks = [p + 1 for p in peer_start]
        elif f == "dense_rank":
            ranks = list(group)
        elif f == "percent_rank":
            ranks = [p / (m - 1) if m > 1 else 0.0 for p in peer_start]
        elif f == "cume_dist":
            ranks = [(p + 1) / m for p in peer_end]
        elif f == "ntile":
            ranks = _ntile(call, rows[part[0]], m, ctx)
        elif f in ("lag", "lead"):
            ranks = _lag(call, [rows[i] for i in part], ctx)
        else:
            frames = _frames(call, offsets, values, peer_start, peer_end)
            ranks = _over_frames(call, [rows[i] for i in part], frames, ctx)
        for k, i in enumerate(part):
            out[i] = ranks[k]
    return out


def _ntile(call: n.WindowCall, first: Row, m: int, ctx: RunContext) -> list[SQLValue]:
    value = call.arguments[0](first, ctx)
    if isinstance(value, str):
        value = _number(value, n.AggregateCall("ntile", None))
    try:
        buckets = int(value) if isinstance(value, int | float | decimal.Decimal) else 0
    except (ValueError, OverflowError):  # NaN, infinity
        buckets = 0
    if buckets <= 0:
        raise DataError("argument of ntile must be a positive integer")
    size, extra = divmod(m, buckets)
    out: list[SQLValue] = []
    for k in range(m):
        if k < extra * (size + 1):
            out.append(k // (size + 1) + 1)
        else:
            out.append(extra + (k - extra * (size + 1)) // size + 1)
    return out


def _lag(call: n.WindowCall, part: list[Row], ctx: RunContext) -> list[SQLValue]:
    value, rest = call.arguments[0], call.arguments[1:]
    step = -1 if call.function == "lag" else 1
    out: list[SQLValue] = []
    for k, r in enumerate(part):
        offset = _integer(rest[0](r, ctx)) if rest else 1
        if offset is None:
            out.append(None)
            continue
        j = k + step * offset
        if 0 <= j < len(part):
            out.append(value(part[j], ctx))
        else:
            out.append(rest[1](r, ctx) if len(rest) > 1 else None)
    return out


def _frames(
    call: n.WindowCall,
    offsets: tuple[Any, Any],
    values: list[Row],
    peer_start: list[int],
    peer_end: list[int],
) -> list[tuple[int, int]]:
    """Each row's frame in its partition: ``(first, last)`` positions, empty if first > last."""
    m = len(values)
    out: list[tuple[int, int]] = []
    if call.frame == "rows":
        for k in range(m):
            lo = _rows_bound(call.start, offsets[0], k, 0)
            hi = _rows_bound(call.end, offsets[1], k, m - 1)
            out.append((max(lo, 0), min(hi, m - 1)))
        return out
    descending = bool(call.order) and call.order[0].descending
    known = [k for k in range(m) if values[k] and values[k][0] is not None]
    a, b = (known[0], known[-1] + 1) if known else (0, 0)
    for k in range(m):
        current = values[k][0] if values[k] else None
        bounds = []
        for bound, offset, is_start in (
            (call.start, offsets[0], True),
            (call.end, offsets[1], False),
        ):
            if bound.kind == "unbounded":
                bounds.append(0 if is_start else m - 1)
            elif bound.kind == "current" or current is None or isinstance(current, str | bytes):
                bounds.append(peer_start[k] if is_start else peer_end[k])
            else:
                ahead = (bound.kind == "following") != descending
                target = _num_op(current, offset, "+" if ahead else "-")
                bounds.append(_range_bound(values, a, b, target, descending, is_start))
        out.append((bounds[0], bounds[1]))
    return out


def _rows_bound(bound: n.FrameBound, offset: int, k: int, unbounded: int) -> int:
    if bound.kind == "unbounded":
        return unbounded
    if bound.kind == "current":
        return k
    return k - offset if bound.kind == "preceding" else k + offset


def _range_bound(
    values: list[Row], a: int, b: int, target: SQLValue, descending: bool, is_start: bool
) -> int:
    """Within the non-NULL rows ``[a, b)``: the first row at or past ``target`` in sort order
    (a frame start), or the last row not past it (a frame end)."""
    sign = -1 if descending else 1

    def at_or_past(k: int) -> bool:
        return compare(values[k][0], target) * sign >= 0

    def past(k: int) -> bool:
        return compare(values[k][0], target) * sign > 0

    if is_start:
        return _first_true(a, b, at_or_past)
    return _first_true(a, b, past) - 1


def _over_frames(
    call: n.WindowCall, part: list[Row], frames: list[tuple[int, int]], ctx: RunContext
) -> list[SQLValue]:
    f = call.function
    out: list[SQLValue] = []
    if f in ("first_value", "last_value", "nth_value"):
        value = call.arguments[0]
        for k, (lo, hi) in enumerate(frames):
            if f == "nth_value":
                nth = _integer(call.arguments[1](part[k], ctx))
                if nth is None or nth <= 0:
                    raise DataError("second argument to nth_value must be a positive integer")
                j = lo + nth - 1
            else:
                j = lo if f == "first_value" else hi
            out.append(value(part[j], ctx) if lo <= j <= hi else None)
        return out
    agg = call.aggregate
    assert agg is not None
    state, first, last = _State(), 0, -1  # the rows [first, last] are in ``state``
    result: SQLValue = None
    for lo, hi in frames:
        if lo > hi:
            out.append(_result(agg, _State()))
            continue
        if (lo, hi) == (first, last):
            out.append(result)
            continue
        if lo != first or hi < last:  # the frame does not extend the last one
            state, first, last = _State(), lo, lo - 1
        for j in range(last + 1, hi + 1):
            _add(agg, state, part[j], ctx)
        last = hi
        result = _result(agg, state)
        out.append(result)
    return out


def _cte_scan(node: n.CteScan, ctx: RunContext, row: Row) -> Rows:
    if not node.cached:
        yield from run(node.child, ctx, row)
        return
    key = id(node)
    kept = ctx.memo.get(key)
    if kept is not None:
        yield from kept
        return
    rows: list[Row] = []
    for r in run(node.child, ctx, row):
        rows.append(r)
        yield r
    ctx.memo[key] = rows  # only once read in full: a LIMIT above may stop it early


def _working_table(node: n.WorkingTable, ctx: RunContext, row: Row) -> Rows:
    yield from ctx.memo.get(id(node), [])


def _recursive_union(node: n.RecursiveUnion, ctx: RunContext, row: Row) -> Rows:
    """Each step runs the recursive part over the rows the step before produced, as SQLite's
    queue does a row at a time: the same rows, in the same order when the working table leads
    the recursive part's joins (the planner puts it first)."""
    seen: set[tuple[Any, ...]] | None = set() if node.distinct else None
    key = id(node.working)

    def new(r: Row) -> bool:
        if seen is None:
            return True
        k = tuple(hashable(v) for v in r)
        if k in seen:
            return False
        seen.add(k)
        return True

    step: list[Row] = []
    for r in run(node.initial, ctx, row):
        if new(r):
            step.append(r)
            yield r
    while step:
        previous, step = step, []
        rows = run(node.recursive, ctx, row)
        try:
            while True:
                # set before each pull: a consumer may run this CTE again in between
                ctx.memo[key] = previous
                found = next(rows, None)
                if found is None:
                    break
                r = found
                if new(r):
                    step.append(r)
                    yield r
        finally:
            rows.close()
    ctx.memo.pop(key, None)


def _write(node: n.Write, ctx: RunContext, row: Row) -> Rows:
    from dialect.exec.writer import run_write

    run_write(node, ctx)
    return
    yield


_RUNNERS: dict[type[n.Node], Callable[[Any, RunContext, Row], Rows]] = {
    n.KeyGet: _access,
    n.TableScan: _access,
    n.IndexScan: _access,
    n.Nothing: _nothing,
    n.ConstantRow: _constant_row,
    n.Values: _values,
    n.ParamRows: _param_rows,
    n.Filter: _filter,
    n.Project: _project,
    n.Trim: _trim,
    n.NestedLoopJoin: _nested_loop,
    n.HashJoin: _hash_join,
    n.LookupJoin: _lookup_join,
    n.OuterJoin: _outer_join,
    n.Aggregate: _aggregate,
    n.Distinct: _distinct,
    n.Sort: _sort,
    n.Limit: _limit,
    n.FetchFirst: _fetch_first,
    n.SetOperation: _set_operation,
    n.Window: _window,
    n.CteScan: _cte_scan,
    n.WorkingTable: _working_table,
    n.RecursiveUnion: _recursive_union,
    n.Insert: _write,
    n.Update: _write,
    n.Delete: _write,
}
