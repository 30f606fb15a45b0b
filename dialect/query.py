"""Running SELECT: sources (tables through their access plans, subqueries), joins, WHERE,
grouping and aggregates, projection, DISTINCT, ORDER BY, LIMIT/OFFSET and set operations.

Rows stream from the engine through generators; a query without sorting, grouping or DISTINCT
stops reading as soon as its LIMIT is reached.
"""

from __future__ import annotations

import decimal
import functools
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import sqlglot
from sqlglot import exp

from dialect import plan as planner
from dialect.catalog import Catalog, Table
from dialect.errors import DataError, NotSupportedError, ProgrammingError
from dialect.expr import AGGREGATES, Compiler, Context, Row, Scope, truth
from dialect.tablerows import RowCodec
from dialect.transaction import Transaction
from dialect.values import SortKey, SQLValue, hashable


class Session(Context, Protocol):
    """What a query needs from the connection running it."""

    @property
    def catalog(self) -> Catalog: ...

    @property
    def txn(self) -> Transaction: ...

    def codec(self, table: Table) -> RowCodec: ...


@dataclass
class Result:
    """Column names and type codes, and the rows (a lazy iterator)."""

    names: list[str]
    types: list[str | None]
    rows: Iterator[Row]
    plan: list[str] = field(default_factory=list)


@dataclass
class Source:
    """Rows of one FROM item with the names of their positions."""

    scope: Scope
    rows: Callable[[], Iterator[Row]]
    types: list[str | None]
    plan: list[str]
    table: Table | None = None
    access: planner.Access | None = None


def _arg(node: exp.Expression, *names: str) -> Any:  # Any: a sqlglot node or list
    for name in names:
        value = node.args.get(name)
        if value is not None:
            return value
    return None


def evaluate_constant(session: Session, node: exp.Expression) -> SQLValue:
    """The value of an expression that names no column."""
    return Compiler(session, Scope()).compile(node)(())


def table_source(session: Session, node: exp.Table, where: exp.Expression | None) -> Source:
    table = session.catalog.table(node.name)
    if table is None:
        raise ProgrammingError(f"no such table: {node.name}")
    alias = node.alias_or_name
    scope = Scope()
    for c in table.columns:
        scope.add(alias, c.name, c.hidden)
    access = planner.choose(table, alias, where, lambda e: evaluate_constant(session, e))
    codec = session.codec(table)

    def rows() -> Iterator[Row]:
        txn = session.txn
        if access.kind == "empty":
            return
        if access.kind == "get":
            keys = reversed(access.gets) if access.reverse else access.gets
            for key in keys:
                value = txn.get(key)
                if value is not None:
                    yield codec.decode(key, value)
        elif access.kind == "index":
            assert access.index is not None
            for entry, _ in txn.scan(access.start, access.end, reverse=access.reverse):
                row_key = codec.pk_from_index_entry(access.index, entry)
                value = txn.get(row_key)
                if value is not None:
                    yield codec.decode(row_key, value)
        else:
            for key, value in txn.scan(access.start, access.end, reverse=access.reverse):
                yield codec.decode(key, value)

    return Source(
        scope, rows, [c.type for c in table.columns], [access.describe(table)], table, access
    )


def source_of(
    session: Session, node: exp.Expression, where: exp.Expression | None, outer: list[Scope]
) -> Source:
    if isinstance(node, exp.Table):
        if isinstance(node.this, exp.Anonymous | exp.Func):
            raise NotSupportedError(f"table functions are not supported: {node.sql()}")
        view = session.catalog.view(node.name)
        if view is not None:
            return _view_source(session, node, view.sql, view.columns, outer)
        return table_source(session, node, where)
    if isinstance(node, exp.Subquery):
        inner = run_select(session, node.this, outer)
        materialized = list(inner.rows)
        alias = node.alias_or_name or None
        scope = Scope()
        for name in inner.names:
            scope.add(alias, name)
        return Source(
            scope,
            lambda: iter(materialized),
            inner.types,
            [f"SUBQUERY {alias or ''}".strip(), *inner.plan],
        )
    raise NotSupportedError(f"unsupported FROM item: {node.sql()}")


@functools.lru_cache(maxsize=256)
def _parse_view(sql: str) -> exp.Expression:
    return cast(exp.Expression, sqlglot.parse_one(sql, read="sqlite"))


def _view_source(
    session: Session, node: exp.Table, sql: str, columns: tuple[str, ...], outer: list[Scope]
) -> Source:
    inner = run_select(session, _parse_view(sql), outer)
    materialized = list(inner.rows)
    alias = node.alias_or_name
    scope = Scope()
    for name in columns or tuple(inner.names):
        scope.add(alias, name)
    return Source(
        scope, lambda: iter(materialized), inner.types, [f"VIEW {node.name}", *inner.plan]
    )


def _only_refers_to(node: exp.Expression, scope: Scope) -> bool:
    cols = list(node.find_all(exp.Column))
    return bool(cols) and all(scope.find(c.table or None, c.name) is not None for c in cols)


def join(session: Session, left: Source, j: exp.Join, outer: list[Scope]) -> Source:
    side = (j.side or "").upper()
    kind = (j.kind or "").upper()
    if side in ("RIGHT", "FULL") or (kind in ("OUTER",) and side != "LEFT"):
        raise NotSupportedError(f"{side or kind} JOIN is not supported")
    right = source_of(session, j.this, None, outer)
    scope = left.scope + right.scope
    on = j.args.get("on")
    using = j.args.get("using")
    if using:
        parts = []
        for ident in using:
            name = ident.name
            lt = next((t for t, c, _ in left.scope.names if c == name.lower()), None)
            rt = next((t for t, c, _ in right.scope.names if c == name.lower()), None)
            parts.append(exp.EQ(this=exp.column(name, lt), expression=exp.column(name, rt)))
        on = exp.and_(*parts) if parts else None
    keys_left: list[Callable[[Row], SQLValue]] = []
    keys_right: list[Callable[[Row], SQLValue]] = []
    for part in planner.conjuncts(on):
        if isinstance(part, exp.EQ):
            a, b = part.this, part.expression
            if _only_refers_to(a, right.scope) and _only_refers_to(b, left.scope):
                a, b = b, a
            if _only_refers_to(a, left.scope) and _only_refers_to(b, right.scope):
                keys_left.append(Compiler(session, left.scope, outer).compile(a))
                keys_right.append(Compiler(session, right.scope, outer).compile(b))
    condition = Compiler(session, scope, outer).compile(on) if on is not None else None
    pad = (None,) * len(right.scope.names)
    is_left = side == "LEFT"

    def rows() -> Iterator[Row]:
        right_rows = list(right.rows())
        table: dict[Any, list[Row]] | None = None
        if keys_left:
            table = {}
            for rr in right_rows:
                k = tuple(hashable(f(rr)) for f in keys_right)
                if None not in k:
                    table.setdefault(k, []).append(rr)
        for lr in left.rows():
            if table is not None:
                k = tuple(hashable(f(lr)) for f in keys_left)
                candidates = table.get(k, []) if None not in k else []
            else:
                candidates = right_rows
            matched = False
            for rr in candidates:
                row = lr + rr
                if condition is None or truth(condition(row)):
                    matched = True
                    yield row
            if is_left and not matched:
                yield lr + pad

    how = "hash join" if keys_left else "nested loop"
    return Source(
        scope,
        rows,
        left.types + right.types,
        [*left.plan, f"{side or 'INNER'} JOIN ({how})", *right.plan],
    )


# -- aggregates ---------------------------------------------------------------------------------


class _Agg:
    def __init__(
        self, node: exp.Expression, arg: Callable[[Row], SQLValue] | None, distinct: bool
    ) -> None:
        self.node, self.arg, self.distinct = node, arg, distinct

    def start(self) -> list[Any]:
        return [0, None, set(), []]  # count, value, seen, parts

    def add(self, state: list[Any], row: Row) -> None:
        if self.arg is None:  # COUNT(*)
            state[0] += 1
            return
        v = self.arg(row)
        if v is None:
            return
        if self.distinct:
            h = hashable(v)
            if h in state[2]:
                return
            state[2].add(h)
        state[0] += 1
        node = self.node
        if isinstance(node, exp.Sum | exp.Avg):
            if isinstance(v, str | bytes):
                raise DataError(f"{node.sql()}: {v!r} is not a number")
            v = int(v) if isinstance(v, bool) else v
            if state[1] is None:
                state[1] = v
            elif isinstance(state[1], decimal.Decimal) and isinstance(v, float):
                state[1] = float(state[1]) + v
            elif isinstance(state[1], float) and isinstance(v, decimal.Decimal):
                state[1] = state[1] + float(v)
            else:
                state[1] += v
        elif isinstance(node, exp.Min):
            if state[1] is None or SortKey(v) < SortKey(state[1]):
                state[1] = v
        elif isinstance(node, exp.Max):
            if state[1] is None or SortKey(state[1]) < SortKey(v):
                state[1] = v
        elif isinstance(node, exp.GroupConcat):
            state[3].append(str(v))

    def result(self, state: list[Any]) -> SQLValue:
        node = self.node
        if isinstance(node, exp.Count):
            return state[0]
        if isinstance(node, exp.Avg):
            if not state[0]:
                return None
            total = state[1]
            return float(total) / state[0]
        if isinstance(node, exp.GroupConcat):
            sep = node.args.get("separator")
            return (
                (sep.this if isinstance(sep, exp.Literal) else ",").join(state[3])
                if state[3]
                else None
            )
        return state[1]


def _aggregate_nodes(
    exprs: Iterable[exp.Expression], owner: exp.Expression
) -> list[exp.Expression]:
    """Aggregate calls of this query (not of its subqueries)."""
    out: list[exp.Expression] = []
    for e in exprs:
        for node in e.find_all(*AGGREGATES):
            if node.find_ancestor(exp.Select) in (owner, None):
                out.append(cast(exp.Expression, node))
    return out


def _make_agg(session: Session, node: exp.Expression, scope: Scope, outer: list[Scope]) -> _Agg:
    target = node.this
    distinct = False
    if isinstance(target, exp.Distinct):
        distinct = True
        if len(target.expressions) != 1:
            raise NotSupportedError(f"{node.sql()}: DISTINCT over several expressions")
        target = target.expressions[0]
    if isinstance(node, exp.Count) and (target is None or isinstance(target, exp.Star)):
        return _Agg(node, None, False)
    return _Agg(node, Compiler(session, scope, outer).compile(target), distinct)


# -- SELECT -------------------------------------------------------------------------------------


def run_select(session: Session, node: exp.Expression, outer: list[Scope] | None = None) -> Result:
    """Run a query (SELECT or a set operation) and return its result."""
    outer = outer or []
    if isinstance(node, exp.Subquery):
        return run_select(session, node.this, outer)
    if isinstance(node, exp.Union | exp.Except | exp.Intersect):
        return _set_operation(session, node, outer)
    if not isinstance(node, exp.Select):
        raise NotSupportedError(f"unsupported query: {node.sql()[:60]}")
    if node.args.get("with") or node.args.get("with_"):
        raise NotSupportedError("WITH (common table expressions) is not supported")

    from_ = _arg(node, "from_", "from")
    joins = node.args.get("joins") or []
    where_node = node.args.get("where")
    where = where_node.this if where_node is not None else None
    if from_ is None:
        source = Source(Scope(), lambda: iter([()]), [], ["CONSTANT ROW"])
    else:
        # The WHERE may narrow how the first table is read; it is applied in full below.
        source = source_of(session, from_.this, where, outer)
        for j in joins:
            source = join(session, source, j, outer)
    scope = source.scope
    base_rows = source.rows
    if where is not None:
        cond = Compiler(session, scope, outer).compile(where)

        def filtered(rows: Callable[[], Iterator[Row]] = base_rows) -> Iterator[Row]:
            return (r for r in rows() if truth(cond(r)) is True)

        rows_fn: Callable[[], Iterator[Row]] = filtered
    else:
        rows_fn = base_rows

    select_items = list(node.expressions)
    order = node.args.get("order")
    order_items = list(order.expressions) if order else []
    group = node.args.get("group")
    group_exprs = list(group.expressions) if group else []
    having_node = node.args.get("having")
    having = having_node.this if having_node is not None else None
    agg_nodes = _aggregate_nodes(
        [*select_items, *([having] if having is not None else []), *(o.this for o in order_items)],
        node,
    )
    grouped = bool(agg_nodes or group_exprs)
    plan = list(source.plan)

    # -- projection compiled against the (grouped) row ---------------------------------------
    width = len(scope.names)
    compiler = Compiler(session, scope, outer)
    if grouped:
        post_scope = Scope(list(scope.names), list(scope.display))
        for i, _ in enumerate(agg_nodes):
            post_scope.add(None, f"\x00agg{i}", True)
        for i, _ in enumerate(group_exprs):
            post_scope.add(None, f"\x00grp{i}", True)
        compiler = Compiler(
            session,
            post_scope,
            outer,
            aggregates={id(n): width + i for i, n in enumerate(agg_nodes)},
            group_keys={g.sql(): width + len(agg_nodes) + i for i, g in enumerate(group_exprs)},
        )
        plan.append(f"GROUP BY {len(group_exprs)} key(s), {len(agg_nodes)} aggregate(s)")

    compiler.aliases = {
        item.alias.lower(): item.this for item in select_items if isinstance(item, exp.Alias)
    }
    names: list[str] = []
    types: list[str | None] = []
    projections: list[Callable[[Row], SQLValue]] = []
    for item in select_items:
        if isinstance(item, exp.Star) or (
            isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
        ):
            wanted = item.table.lower() if isinstance(item, exp.Column) and item.table else None
            for pos, (t, _, hidden) in enumerate(scope.names):
                if hidden or (wanted is not None and t != wanted):
                    continue
                names.append(scope.display[pos])
                types.append(source.types[pos] if pos < len(source.types) else None)
                projections.append(_at(pos))
            continue
        fn = compiler.compile(item)
        projections.append(fn)
        inner = item.this if isinstance(item, exp.Alias) else item
        names.append(item.alias_or_name if isinstance(item, exp.Alias | exp.Column) else item.sql())
        pos_type = None
        if isinstance(inner, exp.Column) and not grouped:
            found = scope.find(inner.table or None, inner.name)
            if found is not None and found < len(source.types):
                pos_type = source.types[found]
        types.append(pos_type)

    def project(r: Row) -> Row:
        return tuple(p(r) for p in projections)

    # -- grouping ---------------------------------------------------------------------------
    if grouped:
        aggs = [_make_agg(session, n, scope, outer) for n in agg_nodes]
        keys = [Compiler(session, scope, outer).compile(g) for g in group_exprs]
        having_fn = compiler.compile(having) if having is not None else None
        upstream = rows_fn

        def grouped_rows() -> Iterator[Row]:
            groups: dict[tuple[Any, ...], tuple[Row, list[list[Any]], tuple[Any, ...]]] = {}
            for r in upstream():
                kv = tuple(k(r) for k in keys)
                gk = tuple(hashable(v) for v in kv)
                entry = groups.get(gk)
                if entry is None:
                    entry = groups[gk] = (r, [a.start() for a in aggs], kv)
                for a, st in zip(aggs, entry[1], strict=True):
                    a.add(st, r)
            if not groups and not group_exprs:
                groups[()] = ((None,) * width, [a.start() for a in aggs], ())
            for first, states, kv in groups.values():
                row = first + tuple(a.result(s) for a, s in zip(aggs, states, strict=True)) + kv
                if having_fn is None or truth(having_fn(row)) is True:
                    yield row

        rows_fn = grouped_rows
    elif having is not None:
        raise ProgrammingError("HAVING needs GROUP BY or an aggregate")

    # -- ORDER BY -----------------------------------------------------------------------------
    sort_keys: list[tuple[Callable[[Row, Row], SQLValue], bool]] = []
    alias_pos = {n.lower(): i for i, n in enumerate(names)}
    for o in order_items:
        target = o.this
        desc = bool(o.args.get("desc"))
        if isinstance(target, exp.Literal) and not target.is_string:
            idx = int(target.this) - 1
            if not 0 <= idx < len(projections):
                raise ProgrammingError(f"ORDER BY term out of range: {target.this}")
            sort_keys.append((_post(idx), desc))
            continue
        if isinstance(target, exp.Column) and not target.table and target.name.lower() in alias_pos:
            i = alias_pos[target.name.lower()]
            sort_keys.append((_post(i), desc))
            continue
        fn = compiler.compile(target)
        sort_keys.append((_pre(fn), desc))

    if sort_keys and _order_is_key_order(source, order_items, joins, grouped, node):
        assert source.access is not None
        source.access.reverse = bool(order_items[0].args.get("desc"))
        plan.append("ORDER BY follows the primary key: no sort")
        sort_keys = []

    distinct = bool(node.args.get("distinct"))
    limit_node = node.args.get("limit")
    offset_node = node.args.get("offset")
    limit = _count(session, limit_node.expression if limit_node is not None else None, "LIMIT")
    offset = (
        _count(session, offset_node.expression if offset_node is not None else None, "OFFSET") or 0
    )
    if limit is not None:
        plan.append(
            f"LIMIT {limit}"
            + (" (stops the scan early)" if not sort_keys and not grouped and not distinct else "")
        )

    def output() -> Iterator[Row]:
        pairs: Iterator[tuple[Row, Row]] = ((r, project(r)) for r in rows_fn())
        if distinct:
            pairs = _distinct(pairs)
        if sort_keys:
            materialized = list(pairs)
            for fn, desc in reversed(sort_keys):
                materialized.sort(key=_pair_key(fn), reverse=desc)
            pairs = iter(materialized)
        out = (post for _, post in pairs)
        stop = None if limit is None or limit < 0 else offset + limit
        return itertools.islice(out, offset, stop)

    return Result(names, types, output(), plan)


def _at(pos: int) -> Callable[[Row], SQLValue]:
    return lambda r: r[pos]


def _post(i: int) -> Callable[[Row, Row], SQLValue]:
    return lambda pre, post: post[i]


def _pre(fn: Callable[[Row], SQLValue]) -> Callable[[Row, Row], SQLValue]:
    return lambda pre, post: fn(pre)


def _pair_key(fn: Callable[[Row, Row], SQLValue]) -> Callable[[tuple[Row, Row]], SortKey]:
    return lambda pair: SortKey(fn(pair[0], pair[1]))


def _row_key(i: int) -> Callable[[Row], SortKey]:
    return lambda r: SortKey(r[i])


def _distinct(pairs: Iterator[tuple[Row, Row]]) -> Iterator[tuple[Row, Row]]:
    seen: set[tuple[Any, ...]] = set()
    for pre, post in pairs:
        key = tuple(hashable(v) for v in post)
        if key not in seen:
            seen.add(key)
            yield pre, post


def _order_is_key_order(
    source: Source,
    order_items: list[exp.Ordered],
    joins: list[Any],
    grouped: bool,
    node: exp.Select,
) -> bool:
    if joins or grouped or node.args.get("distinct") or source.table is None:
        return False
    access = source.access
    if access is None or access.kind not in ("range", "full"):
        return False
    descs = {bool(o.args.get("desc")) for o in order_items}
    if len(descs) != 1:
        return False
    pk = [p.lower() for p in source.table.pk]
    if len(order_items) > len(pk):
        return False
    for o, name in zip(order_items, pk, strict=False):
        t = o.this
        if not isinstance(t, exp.Column) or t.name.lower() != name:
            return False
    # NULLs cannot occur in key columns, so key order is SQL order
    return True


def _count(session: Session, node: exp.Expression | None, what: str) -> int | None:
    if node is None:
        return None
    value = evaluate_constant(session, node)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProgrammingError(f"{what} must be an integer, got {value!r}")
    return value


def _set_operation(session: Session, node: exp.Expression, outer: list[Scope]) -> Result:
    left = run_select(session, node.this, outer)
    right = run_select(session, node.expression, outer)
    if len(left.names) != len(right.names):
        raise ProgrammingError(
            "SELECTs to the left and right of a set operation do not have "
            "the same number of result columns"
        )
    distinct = node.args.get("distinct", True) is not False
    op = type(node).__name__.upper()

    def rows() -> Iterator[Row]:
        if isinstance(node, exp.Union):
            combined: Iterable[Row] = itertools.chain(left.rows, right.rows)
            if not distinct:
                yield from combined
                return
            seen: set[tuple[Any, ...]] = set()
            for r in combined:
                k = tuple(hashable(v) for v in r)
                if k not in seen:
                    seen.add(k)
                    yield r
            return
        right_keys = {tuple(hashable(v) for v in r) for r in right.rows}
        seen2: set[tuple[Any, ...]] = set()
        for r in left.rows:
            k = tuple(hashable(v) for v in r)
            keep = (k in right_keys) == isinstance(node, exp.Intersect)
            if keep and k not in seen2:
                seen2.add(k)
                yield r

    result_rows: Iterator[Row] = rows()
    order = node.args.get("order")
    if order:
        materialized = list(result_rows)
        pos = {n.lower(): i for i, n in enumerate(left.names)}
        for o in reversed(order.expressions):
            t = o.this
            if isinstance(t, exp.Literal) and not t.is_string:
                i = int(t.this) - 1
            elif isinstance(t, exp.Column) and t.name.lower() in pos:
                i = pos[t.name.lower()]
            else:
                raise ProgrammingError(f"ORDER BY term does not match a result column: {t.sql()}")
            materialized.sort(key=_row_key(i), reverse=bool(o.args.get("desc")))
        result_rows = iter(materialized)
    limit_node, offset_node = node.args.get("limit"), node.args.get("offset")
    limit = _count(session, limit_node.expression if limit_node is not None else None, "LIMIT")
    offset = (
        _count(session, offset_node.expression if offset_node is not None else None, "OFFSET") or 0
    )
    stop = None if limit is None or limit < 0 else offset + limit
    return Result(
        left.names,
        left.types,
        itertools.islice(result_rows, offset, stop),
        [f"{op}{'' if distinct else ' ALL'}", *left.plan, *right.plan],
    )
