"""Planning queries: a SELECT (or a set operation) syntax tree into a tree of plan nodes.

FROM items become accesses (tables), or plans of their own (views, subqueries, parenthesised
joins). Inner joins, however they are spelled (``JOIN … ON`` or ``FROM a, b WHERE …``), are
ordered greedily: the item with the best access by constant conditions first, then at each
step the item that can be joined by a key lookup, then one joined by a hash on an equality,
then the next in FROM order. Each condition is applied as soon as the items it reads are
joined. Outer joins keep their written order. Rewrites such as ORDER BY elimination are
decided on nodes, before execution.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlglot import exp

from dialect.catalog import Catalog, Table
from dialect.errors import NotSupportedError, ProgrammingError
from dialect.expr import Compiler, Fn, Frame, Row, Scope
from dialect.parse import parse_stored
from dialect.plan import access as acc
from dialect.plan import nodes as n
from dialect.schemas import qualified, schema_of
from dialect.tablerows import RowCodec
from dialect.tempnames import named_table
from dialect.values import SQLValue

AGGREGATE_NAMES = {"count", "sum", "avg", "min", "max", "group_concat", "total"}
_AGG_TYPES = (exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.GroupConcat)
ALL = -1  # a condition that reads every item (a correlated subquery)


@dataclass(frozen=True)
class Shape:
    """A planned query: its root and the names and type codes of its columns."""

    root: n.Node
    names: tuple[str, ...]
    types: tuple[str | None, ...]


@dataclass
class _Item:
    """One FROM item: its columns' names and types, and either a table (read through an access
    chosen later) or a plan node."""

    scope: Scope
    types: list[str | None]
    alias: str = ""
    codec: RowCodec | None = None
    node: n.Node | None = None
    left_outer: bool = False
    on: exp.Expression | None = None
    #: joined first when inner joins are reordered (a recursive CTE's working table)
    lead: bool = False
    #: RIGHT or FULL JOIN: right rows with no match are kept, padded with NULLs
    right_outer: bool = False


@dataclass
class _Cte:
    """A common table expression: its query, the CTEs and enclosing queries it sees, and its
    plan, made when it is first referenced (an unused CTE is never planned, as in SQLite)."""

    name: str
    body: exp.Expression
    columns: list[str]
    env: dict[str, _Cte]
    frames: list[Frame]
    recursive: bool
    shape: Shape | None = None
    #: the first enclosing query its body reads, if any (then its rows are not kept)
    correlated: int | None = None
    planning: bool = False
    #: while its recursive part is planned: the working table, the depth of enclosing
    #: queries there, and how many times it was referenced
    working: n.WorkingTable | None = None
    depth: int = 0
    references: int = 0


def _reads_table(node: exp.Expression, name: str) -> bool:
    """Whether ``node`` reads a table (or CTE) called ``name`` (lower case), not counting
    queries within it that define a CTE of that name."""
    inner = node.args.get("with_") or node.args.get("with")
    if inner is not None and any(c.alias_or_name.lower() == name for c in inner.expressions):
        return False
    for child in node.iter_expressions():
        if isinstance(child, exp.Table) and not child.args.get("db") and child.name.lower() == name:
            return True
        if _reads_table(child, name):
            return True
    return False


def _is_aggregate(node: exp.Expression) -> bool:
    if isinstance(node, _AGG_TYPES):
        return not (isinstance(node, exp.Min | exp.Max) and node.expressions)
    return isinstance(node, exp.Anonymous) and str(node.this).lower() == "total"


def _walk_local(node: exp.Expression) -> Iterable[exp.Expression]:
    """``node`` and its descendants, not entering subqueries."""
    yield node
    for child in node.iter_expressions():
        if isinstance(child, exp.Select | exp.Subquery | exp.Union | exp.Except | exp.Intersect):
            continue
        yield from _walk_local(child)


def _subqueries(node: exp.Expression) -> list[exp.Expression]:
    return [
        child
        for e in _walk_local(node)
        for child in e.iter_expressions()
        if isinstance(child, exp.Select | exp.Subquery | exp.Union | exp.Except | exp.Intersect)
    ]


#: the clauses of a SELECT the planner reads (any other one set is refused by name)
_SELECT_ARGS = frozenset(
    {"with_", "expressions", "distinct", "from_", "joins", "where", "group", "having"}
    | {"windows", "order", "limit", "offset", "kind", "locks"}
)
#: the parts of a table reference the planner reads; index hints are accepted and ignored
_TABLE_ARGS = frozenset({"this", "alias", "db", "catalog", "joins", "hints", "indexed"})
_JOIN_ARGS = frozenset({"this", "on", "side", "kind", "using", "method"})
#: how refused clauses are named in errors
_CLAUSE_NAMES = {
    "laterals": "LATERAL",
    "sample": "TABLESAMPLE",
    "pivots": "PIVOT/UNPIVOT",
    "qualify": "QUALIFY",
    "connect": "CONNECT BY",
    "into": "SELECT … INTO",
    "version": "FOR SYSTEM_TIME (time travel: open a checkpoint instead)",
    "system_time": "FOR SYSTEM_TIME (time travel: open a checkpoint instead)",
}


def _refuse_unplanned(node: exp.Expression, known: frozenset[str], where: str) -> None:
    """``NotSupportedError`` naming the first clause of ``node`` the planner would not read,
    rather than running the statement without it."""
    for arg, value in node.args.items():
        if arg in known or value is None or value is False or value == []:
            continue
        if arg == "kind" and not value:
            continue
        name = _CLAUSE_NAMES.get(arg, arg.rstrip("_").upper())
        raise NotSupportedError(f"{name} in {where} is not supported")


class Planner:
    """Plans the queries of one statement against one catalog. ``tables`` collects the ids
    of the tables planned (the statement relies on their definitions)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.tables: set[int] = set()
        #: a SELECT … FOR UPDATE / FOR SHARE was planned (dialect.plan.nodes.Plan.watch_reads)
        self.watch_reads = False
        self._codecs: dict[int, RowCodec] = {}
        #: the common table expressions visible where planning is, by lower-case name
        self._ctes: dict[str, _Cte] = {}

    def codec(self, table_id: int) -> RowCodec:
        codec = self._codecs.get(table_id)
        if codec is None:
            table = next(t for t in self.catalog.tables if t.id == table_id)
            codec = self._codecs[table_id] = RowCodec(table)
            self.tables.add(table_id)
        return codec

    def compiler(self, scope: Scope, frames: list[Frame]) -> Compiler:
        return Compiler(scope, frames, self)

    def constant(self, node: exp.Expression, frames: list[Frame] | None = None) -> Fn:
        """An expression that reads no row of the query it is in."""
        return self.compiler(Scope(), frames or []).compile(node)

    def plan_subquery(self, node: exp.Expression, frames: list[Frame]) -> n.Node:
        return self.query(node, frames).root

    # -- queries ------------------------------------------------------------------------------

    def query(self, node: exp.Expression, frames: list[Frame]) -> Shape:
        """Plan a query (SELECT, set operation, VALUES, or one in parentheses)."""
        if isinstance(node, exp.Subquery):
            return self.query(node.this, frames)
        if node.args.get("with_") or node.args.get("with"):
            return self._with_query(node, frames)
        if isinstance(node, exp.Union | exp.Except | exp.Intersect):
            return self._set_operation(node, frames)
        if isinstance(node, exp.Values):
            return self._values(node, frames)
        if not isinstance(node, exp.Select):
            raise NotSupportedError(f"unsupported query: {node.sql()[:60]}")
        return self._select(node, frames)

    def _values(self, node: exp.Values, frames: list[Frame]) -> Shape:
        compiler = self.compiler(Scope(), frames)
        rows = tuple(
            tuple(compiler.compile(e) for e in (t.expressions if isinstance(t, exp.Tuple) else [t]))
            for t in node.expressions
        )
        width = len(rows[0]) if rows else 0
        if any(len(r) != width for r in rows):
            raise ProgrammingError("all VALUES must have the same number of terms")
        if width == 0:  # sqlglot reads ``VALUES ()``, which SQLite refuses
            raise ProgrammingError("syntax error: a row of VALUES needs at least one value")
        names = tuple(f"column{i + 1}" for i in range(width))
        return Shape(n.Values(rows, width), names, (None,) * width)

    def _set_operation(self, node: exp.Expression, frames: list[Frame]) -> Shape:
        left = self.query(node.this, frames)
        right = self.query(node.expression, frames)
        if len(left.names) != len(right.names):
            raise ProgrammingError(
                "SELECTs to the left and right of a set operation do not have "
                "the same number of result columns"
            )
        op = node.key.upper()
        distinct = node.args.get("distinct", True) is not False
        root: n.Node = n.SetOperation(op, left.root, right.root, distinct)
        order = node.args.get("order")
        if order:
            positions = {name.lower(): i for i, name in enumerate(left.names)}
            keys = []
            for o in order.expressions:
                t = o.this
                if _is_column_number(t):
                    i = int(t.this) - 1
                elif isinstance(t, exp.Column) and t.name.lower() in positions:
                    i = positions[t.name.lower()]
                else:
                    raise ProgrammingError(
                        f"ORDER BY term does not match a result column: {t.sql()}"
                    )
                if not 0 <= i < len(left.names):
                    raise ProgrammingError(f"ORDER BY term out of range: {t.sql()}")
                keys.append(_sort_key(i, o))
            root = n.Sort(root, tuple(keys))
        root = self._limit(node, root, frames, tuple(keys) if order else ())
        return Shape(root, left.names, left.types)

    def _limit(
        self,
        node: exp.Expression,
        root: n.Node,
        frames: list[Frame],
        order: tuple[n.SortKey, ...] = (),
    ) -> n.Node:
        limit, offset = node.args.get("limit"), node.args.get("offset")
        if isinstance(limit, exp.Fetch):
            return self._fetch(limit, offset, root, frames, order)
        if limit is None and offset is None:
            return root
        lim = limit.expression if limit is not None else None
        off = offset.expression if offset is not None else None
        text = " ".join(
            part
            for part in (
                lim.sql() if lim is not None else "",
                f"OFFSET {off.sql()}" if off is not None else "",
            )
            if part
        )
        return n.Limit(
            root,
            self.constant(lim, frames) if lim is not None else None,
            self.constant(off, frames) if off is not None else None,
            text,
        )

    def _fetch(
        self,
        fetch: exp.Fetch,
        offset: exp.Expression | None,
        root: n.Node,
        frames: list[Frame],
        order: tuple[n.SortKey, ...],
    ) -> n.Node:
        """``[OFFSET m ROWS] FETCH {FIRST|NEXT} [n] [PERCENT] {ROW|ROWS} {ONLY|WITH TIES}``: a
        :class:`~dialect.plan.nodes.Limit` for ONLY, a ``FetchFirst`` for PERCENT or TIES."""
        options = fetch.args.get("limit_options")
        percent = bool(options is not None and options.args.get("percent"))
        ties = bool(options is not None and options.args.get("with_ties"))
        count_node = fetch.args.get("count") or exp.Literal.number(1)
        off = offset.expression if offset is not None else None
        count = self.constant(count_node, frames)
        off_fn = self.constant(off, frames) if off is not None else None
        text = " ".join(
            part
            for part in (
                f"OFFSET {off.sql()}" if off is not None else "",
                f"FIRST {count_node.sql()}",
                "PERCENT" if percent else "",
                "WITH TIES" if ties else "ONLY",
            )
            if part
        )
        if not percent and not ties:
            return n.Limit(root, count, off_fn, text)
        if ties and not order:
            raise ProgrammingError("FETCH … WITH TIES needs ORDER BY")
        return n.FetchFirst(root, count, off_fn, percent, order if ties else (), text)

    # -- common table expressions -------------------------------------------------------------

    @contextlib.contextmanager
    def ctes(self, with_: exp.Expression | None, frames: list[Frame]) -> Iterator[None]:
        """The CTEs of ``with_`` (a WITH clause, or None) visible while the block plans."""
        if with_ is None:
            yield
            return
        saved = self._ctes
        env = dict(saved)
        defined: set[str] = set()
        for cte in with_.expressions:
            name = cte.alias_or_name
            if name.lower() in defined:
                raise ProgrammingError(f"duplicate WITH table name: {name}")
            defined.add(name.lower())
            alias = cte.args.get("alias")
            columns = [c.name for c in alias.columns] if alias is not None else []
            refs = _reads_table(cte.this, name.lower())
            entry = _Cte(name, cte.this, columns, {}, frames, refs)
            # a CTE sees those before it, and itself when it is recursive
            entry.env = {**env, name.lower(): entry} if refs else dict(env)
            env[name.lower()] = entry
        self._ctes = env
        try:
            yield
        finally:
            self._ctes = saved

    def _with_query(self, node: exp.Expression, frames: list[Frame]) -> Shape:
        with_ = node.args.get("with_") or node.args.get("with")
        bare = node.copy()
        bare.set("with_", None)
        bare.set("with", None)
        with self.ctes(with_, frames):
            return self.query(bare, frames)

    def _cte_item(self, cte: _Cte, alias: str, frames: list[Frame]) -> _Item:
        if cte.working is not None:  # inside its own recursive part
            if len(frames) != cte.depth:
                raise ProgrammingError(f"recursive reference in a subquery: {cte.name}")
            cte.references += 1
            if cte.references > 1:
                raise ProgrammingError(f"multiple references to recursive table: {cte.name}")
            shape = Shape(cte.working, tuple(cte.columns), (None,) * len(cte.columns))
            item = self._derived(shape, alias, cte.columns)
            item.lead = True
            return item
        shape = self._plan_cte(cte)
        if cte.correlated is not None:
            for frame in frames[cte.correlated :]:
                frame.correlated = True
        return self._derived(shape, alias, list(shape.names))

    def _plan_cte(self, cte: _Cte) -> Shape:
        if cte.shape is not None:
            return cte.shape
        if cte.planning:
            raise ProgrammingError(f"circular reference: {cte.name}")
        cte.planning = True
        saved, self._ctes = self._ctes, cte.env
        # copies: whether the body reads an enclosing query is told by these alone
        frames = [Frame(f.scope) for f in cte.frames]
        try:
            shape = self._recursive(cte, frames) if cte.recursive else self.query(cte.body, frames)
        finally:
            self._ctes = saved
            cte.planning = False
        names = cte.columns or list(shape.names)
        if len(names) != len(shape.names):
            raise ProgrammingError(
                f"table {cte.name} has {len(shape.names)} values for {len(names)} columns"
            )
        cte.correlated = next((i for i, f in enumerate(frames) if f.correlated), None)
        root = n.CteScan(shape.root, cte.name, cte.correlated is None)
        cte.shape = Shape(root, tuple(names), shape.types)
        return cte.shape

    def _recursive(self, cte: _Cte, frames: list[Frame]) -> Shape:
        """A CTE whose query reads itself: ``initial UNION [ALL] recursive [UNION [ALL]
        recursive …]``, the initial SELECTs first (as SQLite requires)."""
        body = cte.body
        chain: list[exp.Union] = []  # the unions whose right side reads the CTE, outermost first
        node = body
        while isinstance(node, exp.Union) and _reads_table(node.expression, cte.name.lower()):
            chain.append(node)
            node = node.this
        if not chain:
            raise ProgrammingError(f"circular reference: {cte.name}")
        if body.args.get("order"):
            raise NotSupportedError(f"ORDER BY in recursive common table expression {cte.name}")
        kinds = {u.args.get("distinct", True) is not False for u in chain}
        if len(kinds) > 1:
            raise NotSupportedError(
                f"UNION and UNION ALL mixed in recursive common table expression {cte.name}"
            )
        parts = [u.expression for u in reversed(chain)]
        for part in parts:
            if not isinstance(part, exp.Select):
                raise NotSupportedError(f"unsupported recursive query: {part.sql()[:60]}")
            if part.args.get("group") or any(
                _is_aggregate(e) for item in part.expressions for e in _walk_local(item)
            ):
                raise ProgrammingError("recursive aggregate queries not supported")
            if part.args.get("distinct"):
                raise NotSupportedError(
                    f"DISTINCT in the recursive part of common table expression {cte.name}"
                )
        initial = self.query(node, frames)  # a reference to itself here is circular
        names = cte.columns or list(initial.names)
        if len(names) != len(initial.names):
            raise ProgrammingError(
                f"table {cte.name} has {len(initial.names)} values for {len(names)} columns"
            )
        working = n.WorkingTable(cte.name, len(names))
        recursive: n.Node | None = None
        cte.working, cte.depth, cte.columns = working, len(frames), names
        try:
            for part in parts:
                cte.references = 0
                shape = self.query(part, frames)
                if len(shape.names) != len(names):
                    raise ProgrammingError(
                        "SELECTs to the left and right of UNION do not have the same number "
                        "of result columns"
                    )
                recursive = (
                    shape.root
                    if recursive is None
                    else n.SetOperation("UNION", recursive, shape.root, False)
                )
        finally:
            cte.working = None
        assert recursive is not None
        root: n.Node = n.RecursiveUnion(initial.root, recursive, working, kinds.pop())
        root = self._limit(body, root, frames)
        return Shape(root, tuple(names), initial.types)

    # -- FROM ---------------------------------------------------------------------------------

    def _item(self, node: exp.Expression, frames: list[Frame]) -> _Item:
        if isinstance(node, exp.Table):
            if isinstance(node.this, exp.Anonymous | exp.Func):
                raise NotSupportedError(f"table functions are not supported: {node.sql()}")
            _refuse_unplanned(node, _TABLE_ARGS, "a table reference")
            if node.args.get("joins"):
                return self._paren_join(node, frames)
            alias = node.alias_or_name
            cte = None if node.args.get("db") else self._ctes.get(node.name.lower())
            if cte is not None:
                return self._cte_item(cte, alias, frames)
            schema = schema_of(self.catalog, node)
            view = self.catalog.view(node.name, schema)
            if view is not None:
                saved, self._ctes = self._ctes, {}  # a view sees no CTE of the statement
                try:
                    shape = self.query(parse_stored(view.sql), frames)
                finally:
                    self._ctes = saved
                return self._derived(shape, alias, list(view.columns) or list(shape.names))
            table = named_table(self.catalog, node)
            if table is None:
                raise ProgrammingError(f"no such table: {qualified(schema, node.name)}")
            return _Item(
                table_scope(table, alias),
                [c.type for c in table.columns],
                alias,
                codec=self.codec(table.id),
            )
        if isinstance(node, exp.Subquery):
            inner = node.this
            if isinstance(inner, exp.Table | exp.Subquery) and inner.args.get("joins"):
                return self._paren_join(inner, frames)
            shape = self.query(inner, frames)
            alias = node.alias_or_name or ""
            return self._derived(shape, alias, list(shape.names))
        if isinstance(node, exp.Values):  # FROM (VALUES …) [AS v(a, b)]
            shape = self._values(node, frames)
            values_alias = node.args.get("alias")
            names = [c.name for c in values_alias.columns] if values_alias is not None else []
            if names and len(names) != len(shape.names):
                raise ProgrammingError(
                    f"table {node.alias_or_name} has {len(shape.names)} values for "
                    f"{len(names)} columns"
                )
            return self._derived(shape, node.alias_or_name, names or list(shape.names))
        raise NotSupportedError(f"unsupported FROM item: {node.sql()[:60]}")

    def _derived(self, shape: Shape, alias: str, names: list[str]) -> _Item:
        # an unnamed subquery gets a name no SQL can spell, so USING can still qualify it
        alias = alias or f"#subquery{id(shape)}"
        scope = Scope()
        for name, kind in zip(names, shape.types, strict=False):
            scope.add(alias, name, False, kind)
        return _Item(scope, list(shape.types), alias, node=shape.root)

    def _paren_join(self, node: exp.Table | exp.Subquery, frames: list[Frame]) -> _Item:
        """``(a JOIN b ON …)`` as one FROM item."""
        first = node.copy()
        first.set("joins", None)
        root, scope, types = self._from(first, list(node.args["joins"]), [], frames)
        return _Item(scope, types, node=root)

    def _items(
        self, first: exp.Expression, joins: list[exp.Join], frames: list[Frame]
    ) -> list[_Item]:
        items = [self._item(first, frames)]
        for j in joins:
            side = (j.side or "").upper()
            kind = (j.kind or "").upper()
            method = str(j.args.get("method") or "").upper()
            if side in ("RIGHT", "FULL") and (j.args.get("using") or method == "NATURAL"):
                raise NotSupportedError(f"{side} JOIN … USING is not supported: use ON")
            if kind not in ("", "INNER", "CROSS", "OUTER") or (kind == "OUTER" and not side):
                raise NotSupportedError(f"{kind} JOIN is not supported")
            if method not in ("", "NATURAL"):
                raise NotSupportedError(f"{method} JOIN is not supported")
            _refuse_unplanned(j, _JOIN_ARGS, "a join")
            item = self._item(j.this, frames)
            item.left_outer = side in ("LEFT", "FULL")
            item.right_outer = side in ("RIGHT", "FULL")
            on = j.args.get("on")
            using = j.args.get("using")
            if method == "NATURAL":  # USING every column name both sides show, as SQLite
                if on is not None or using:
                    raise ProgrammingError("a NATURAL join has no ON or USING clause")
                left = {c for prev in items for _, c, hidden in prev.scope.names if not hidden}
                using = [
                    exp.to_identifier(c)
                    for _, c, hidden in item.scope.names
                    if not hidden and c in left
                ]
            if using:
                parts = []
                for ident in using:
                    name = ident.name.lower()
                    lt = next(
                        (t for prev in items for t, c, _ in prev.scope.names if c == name), None
                    )
                    rt = next((t for t, c, _ in item.scope.names if c == name), None)
                    parts.append(
                        exp.EQ(
                            this=exp.column(ident.name, lt), expression=exp.column(ident.name, rt)
                        )
                    )
                on = _and(parts) if parts else None
                # ``*`` shows a USING column once, and an unqualified name means the left one
                names = {ident.name.lower() for ident in using}
                item.scope = Scope(
                    [(t, c, hidden or c in names) for t, c, hidden in item.scope.names],
                    list(item.scope.display),
                    list(item.scope.types),
                )
            item.on = on
            items.append(item)
        return items

    def _refs(
        self, part: exp.Expression, items: list[_Item], frames: list[Frame]
    ) -> frozenset[int]:
        """Which items a condition reads (``{ALL}`` if a subquery in it reads the query)."""
        found: set[int] = set()
        for e in _walk_local(part):
            if not isinstance(e, exp.Column) or isinstance(e.this, exp.Star):
                continue
            hits = [
                (i, pos)
                for i, it in enumerate(items)
                if (pos := it.scope.find(e.table or None, e.name)) is not None
            ]
            if len(hits) > 1 and not e.table:  # a USING column: the visible one
                hits = [(i, pos) for i, pos in hits if not items[i].scope.names[pos][2]]
            if len(hits) > 1:
                raise ProgrammingError(f"ambiguous column name: {e.name}")
            found.update(i for i, _ in hits)
        if self._subqueries_read(part, items, frames):
            return frozenset({ALL})
        return frozenset(found)

    def _subqueries_read(
        self, part: exp.Expression, items: list[_Item], frames: list[Frame]
    ) -> bool:
        """Whether a subquery in ``part`` reads a column of the query's FROM ``items`` (or
        cannot be planned on its own)."""
        subqueries = _subqueries(part)
        if not subqueries:
            return False
        every = Scope()
        for it in items:
            every = every + it.scope
        frame = Frame(every)
        for sub in subqueries:
            try:
                self.compiler(Scope(), [*frames, frame]).compile(
                    sub if not isinstance(sub, exp.Select) else exp.Exists(this=sub)
                )
            except ProgrammingError:
                return True
        return frame.correlated

    def _from(
        self,
        first: exp.Expression,
        joins: list[exp.Join],
        where_parts: list[exp.Expression],
        frames: list[Frame],
    ) -> tuple[n.Node, Scope, list[str | None]]:
        """The joined rows of a FROM clause with the WHERE parts applied that can be (the
        rest are returned to the caller by being left in ``where_parts``)."""
        items = self._items(first, joins, frames)
        outer = [i for i, it in enumerate(items) if it.left_outer or it.right_outer]
        if any(it.right_outer for it in items):
            outer = [0]  # the items before a RIGHT or FULL join may be padded: no WHERE early
        reorder = not outer
        pending: list[tuple[exp.Expression, frozenset[int]]] = []
        if reorder:
            for it in items:
                pending += [(p, self._refs(p, items, frames)) for p in acc.conjuncts(it.on)]
        keep = []
        for p in where_parts:  # WHERE parts on the rows an outer join preserves apply early
            refs = self._refs(p, items, frames)
            if reorder or (ALL not in refs and refs and max(refs) < outer[0]):
                pending.append((p, refs))
            else:
                keep.append(p)
        where_parts[:] = keep
        order = self._join_order(items, pending, frames) if reorder else list(range(len(items)))
        node: n.Node | None = None
        scope = Scope()
        types: list[str | None] = []
        joined: set[int] = set()
        offsets: dict[int, int] = {}
        for i in order:
            item = items[i]
            if not reorder:  # outer joins in written order: ON applies at its own join
                for p in acc.conjuncts(item.on):
                    refs = self._refs(p, items, frames)
                    if not refs:
                        refs = frozenset({i})  # a constant: it keeps right rows or not
                    elif ALL in refs:
                        refs = frozenset(joined | {i})
                    pending.append((p, refs))
            if item.right_outer:
                node = self._outer_join(node, scope, joined, item, i, items, pending, frames)
            else:
                node = self._join(node, scope, joined, item, i, items, pending, frames)
            offsets[i] = len(scope.names)
            scope = scope + item.scope
            types += item.types
            joined.add(i)
        assert node is not None
        if pending:  # constant conditions, or ones reading a correlated subquery
            node = self._filter(node, [p for p, _ in pending], scope, frames)
            pending.clear()
        # FROM order for ``*``: the scope as written, mapped onto the join order
        if order != list(range(len(items))):
            positions = [
                offsets[i] + k for i in range(len(items)) for k in range(len(items[i].scope.names))
            ]
            written = Scope()
            for i in range(len(items)):
                written = written + items[i].scope
            exprs = tuple(_at(p) for p in positions)
            node = n.Project(node, exprs, tuple(written.display))
            scope = written
            types = [t for i in range(len(items)) for t in items[i].types]
        return node, scope, types

    def _join_order(
        self,
        items: list[_Item],
        pending: list[tuple[exp.Expression, frozenset[int]]],
        frames: list[Frame],
    ) -> list[int]:
        def solo_score(i: int) -> int:
            item = items[i]
            if item.codec is None:
                return 0
            parts = [p for p, refs in pending if refs == {i}]
            return _score(self._access(item, parts, Scope(), frames, items))

        def edge(i: int, joined: set[int]) -> int:
            item = items[i]
            parts = [
                p for p, refs in pending if i in refs and ALL not in refs and refs <= joined | {i}
            ]
            if not parts:
                return 0
            if item.codec is not None:
                left = Scope()
                for j in sorted(joined):
                    left = left + items[j].scope
                lookup = _score(self._access(item, parts, left, frames, items))
                if lookup > solo_score(i):
                    return 2 + lookup
            return 1

        remaining = list(range(len(items)))
        first = max(remaining, key=lambda i: (items[i].lead, solo_score(i), -i))
        order = [first]
        remaining.remove(first)
        while remaining:
            joined = set(order)
            best = max(remaining, key=lambda i: (edge(i, joined), -i))
            order.append(best)
            remaining.remove(best)
        return order

    def _access(
        self,
        item: _Item,
        parts: list[exp.Expression],
        left: Scope,
        frames: list[Frame],
        others: list[_Item],
    ) -> n.Access:
        """The access to ``item``'s table for ``parts``, key values read from a ``left`` row;
        ``others`` are the query's FROM items, whose columns only ``left`` may provide."""
        assert item.codec is not None
        own = item.scope

        def outside(e: exp.Expression) -> Fn | None:
            for col in _walk_local(e):
                if not isinstance(col, exp.Column) or isinstance(col.this, exp.Star):
                    continue
                name, table = col.name, col.table or None
                if own.find(table, name) is not None:
                    return None
                if left.find(table, name) is None and any(
                    o.scope.find(table, name) is not None for o in others
                ):
                    return None
            if self._subqueries_read(e, [item, *others], frames):
                return None
            try:
                return self.compiler(left, frames).compile(e)
            except ProgrammingError:
                return None

        return acc.choose(item.codec, item.alias, parts, outside)

    def matching_rows(
        self, node: exp.Table, where: exp.Expression | None
    ) -> tuple[n.Node, Scope, RowCodec]:
        """The rows of a table (``node``) for which ``where`` is true, for UPDATE and DELETE."""
        item = self._item(node, [])
        if item.codec is None:
            raise ProgrammingError(f"cannot modify {node.name}: it is not a table")
        parts = acc.conjuncts(where)
        access = self._access(item, parts, Scope(), [], [item])
        return self._filter(access, parts, item.scope, []), item.scope, item.codec

    def _filter(
        self, node: n.Node, parts: list[exp.Expression], scope: Scope, frames: list[Frame]
    ) -> n.Node:
        if not parts:
            return node
        cond = _and(parts)
        return n.Filter(node, self.compiler(scope, frames).compile(cond), cond.sql())

    def _join(
        self,
        left: n.Node | None,
        left_scope: Scope,
        joined: set[int],
        item: _Item,
        index: int,
        items: list[_Item],
        pending: list[tuple[exp.Expression, frozenset[int]]],
        frames: list[Frame],
    ) -> n.Node:
        """``left`` joined with ``item``; the conditions of ``pending`` that can now be applied
        are taken out of it."""
        now = joined | {index}
        own = [p for p, refs in pending if refs == {index} or (not refs and left is None)]
        both = [
            p for p, refs in pending if ALL not in refs and refs <= now and p not in own and refs
        ]
        pending[:] = [(p, r) for p, r in pending if p not in own and p not in both]
        solo: n.Access | None = None
        if item.codec is not None:
            solo = self._access(item, own, Scope(), frames, items)
            right: n.Node = solo
        else:
            assert item.node is not None
            right = item.node
        right = self._filter(right, own, item.scope, frames)
        if left is None:
            return right
        scope = left_scope + item.scope
        if solo is not None and both:
            lookup = self._access(item, own + both, left_scope, frames, items)
            if _score(lookup) > _score(solo):
                cond_parts = own + both
                lookup_node = self._filter(lookup, own, item.scope, frames)
                return n.LookupJoin(
                    left,
                    lookup_node,
                    self._condition(cond_parts, scope, frames),
                    item.left_outer,
                    _text(both),
                )
        left_keys: list[Fn] = []
        right_keys: list[Fn] = []
        hashed: list[exp.Expression] = []
        for p in both:
            if not isinstance(p, exp.EQ):
                continue
            a, b = p.this, p.expression
            ra = self._refs(a, items, frames)
            rb = self._refs(b, items, frames)
            if ra <= joined and rb == {index}:
                pass
            elif rb <= joined and ra == {index}:
                a, b = b, a
            else:
                continue
            if not (self._refs(a, items, frames) and self._refs(b, items, frames)):
                continue
            if not _hashable_together(a, left_scope, b, item.scope):
                continue  # equal under SQL comparison need not hash alike: compare pairs
            left_keys.append(self.compiler(left_scope, frames).compile(a))
            right_keys.append(self.compiler(item.scope, frames).compile(b))
            hashed.append(p)
        condition = self._condition(both, scope, frames)
        if left_keys:
            return n.HashJoin(
                left,
                right,
                condition,
                item.left_outer,
                _text(hashed),
                tuple(left_keys),
                tuple(right_keys),
            )
        return n.NestedLoopJoin(left, right, condition, item.left_outer, _text(both))

    def _outer_join(
        self,
        left: n.Node | None,
        left_scope: Scope,
        joined: set[int],
        item: _Item,
        index: int,
        items: list[_Item],
        pending: list[tuple[exp.Expression, frozenset[int]]],
        frames: list[Frame],
    ) -> n.Node:
        """``left`` RIGHT or FULL JOIN ``item``: every condition that can now be applied is
        the join's (one reading only ``item`` must not drop its rows, which are kept)."""
        assert left is not None
        now = joined | {index}
        parts = [p for p, refs in pending if refs <= now]
        pending[:] = [(p, r) for p, r in pending if p not in parts]
        right: n.Node
        if item.codec is not None:
            right = self._access(item, [], Scope(), frames, items)
        else:
            assert item.node is not None
            right = item.node
        left_keys: list[Fn] = []
        right_keys: list[Fn] = []
        for p in parts:
            if not isinstance(p, exp.EQ):
                continue
            a, b = p.this, p.expression
            ra, rb = self._refs(a, items, frames), self._refs(b, items, frames)
            if rb <= joined and ra == {index}:
                a, b, ra, rb = b, a, rb, ra
            if not (ra and ra <= joined and rb == {index}):
                continue
            if _hashable_together(a, left_scope, b, item.scope):
                left_keys.append(self.compiler(left_scope, frames).compile(a))
                right_keys.append(self.compiler(item.scope, frames).compile(b))
        return n.OuterJoin(
            left,
            right,
            self._condition(parts, left_scope + item.scope, frames),
            item.left_outer,
            _text(parts),
            tuple(left_keys),
            tuple(right_keys),
        )

    def _condition(
        self, parts: list[exp.Expression], scope: Scope, frames: list[Frame]
    ) -> Fn | None:
        if not parts:
            return None
        cond = _and(parts)
        return self.compiler(scope, frames).compile(cond)

    # -- SELECT -------------------------------------------------------------------------------

    def _select(self, node: exp.Select, frames: list[Frame]) -> Shape:
        _refuse_unplanned(node, _SELECT_ARGS, "SELECT")
        if not node.expressions:  # sqlglot reads ``SELECT FROM t`` as a SELECT of nothing
            raise ProgrammingError(
                f"syntax error: a SELECT without result columns: {node.sql()[:60]}"
            )
        for lock in node.args.get("locks") or []:
            if lock.args.get("wait") is False:
                raise NotSupportedError("FOR UPDATE SKIP LOCKED is not supported")
            self.watch_reads = True
        from_ = node.args.get("from_") or node.args.get("from")
        joins = list(node.args.get("joins") or [])
        where_node = node.args.get("where")
        where_parts = acc.conjuncts(where_node.this if where_node is not None else None)
        root: n.Node
        types: list[str | None]
        if from_ is None:
            root, scope, types = n.ConstantRow(), Scope(), []
        else:
            root, scope, types = self._from(from_.this, joins, where_parts, frames)
        root = self._filter(root, where_parts, scope, frames)

        items = list(node.expressions)
        order_items = list(node.args["order"].expressions) if node.args.get("order") else []
        group_exprs = [
            self._group_term(g, items, scope)
            for g in (node.args["group"].expressions if node.args.get("group") else [])
        ]
        having_node = node.args.get("having")
        having = having_node.this if having_node is not None else None
        aggs = [
            e
            for part in [
                *items,
                *([having] if having is not None else []),
                *(o.this for o in order_items),
            ]
            for e in _walk_outside_windows(part)
            if _is_aggregate(e)
        ]
        grouped = bool(aggs or group_exprs)
        width = len(scope.names)
        compiler = self.compiler(scope, frames)
        if grouped:
            calls = tuple(self._call(a, scope, frames) for a in aggs)
            keys = tuple(self.compiler(scope, frames).compile(g) for g in group_exprs)
            post = Scope(list(scope.names), list(scope.display), list(scope.types))
            for i in range(len(aggs) + len(group_exprs)):
                post.add(None, f"\x00{i}", True)
            compiler = Compiler(
                post,
                frames,
                self,
                aggregates={id(a): width + i for i, a in enumerate(aggs)},
                group_keys={g.sql(): width + len(aggs) + i for i, g in enumerate(group_exprs)},
            )
            compiler.aliases = _aliases(items)
            having_fn = compiler.compile(having) if having is not None else None
            root = n.Aggregate(root, keys, calls, having_fn)
        elif having is not None:
            raise ProgrammingError("HAVING needs GROUP BY or an aggregate")
        compiler.aliases = _aliases(items)
        root = self._windows(node, [*items, *(o.this for o in order_items)], root, compiler)

        names: list[str] = []
        out_types: list[str | None] = []
        exprs: list[Fn] = []
        picked: list[int | None] = []  # the input position each output column copies, if any
        for item in items:
            if isinstance(item, exp.Star) or (
                isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
            ):
                wanted = item.table.lower() if isinstance(item, exp.Column) and item.table else None
                if wanted is not None and not any(t == wanted for t, _, _ in scope.names):
                    raise ProgrammingError(f"no such table: {wanted}")
                for pos, (t, _, invisible) in enumerate(scope.names):
                    if invisible or (wanted is not None and t != wanted):
                        continue
                    names.append(scope.display[pos])
                    out_types.append(types[pos] if pos < len(types) else None)
                    exprs.append(_at(pos))
                    picked.append(pos)
                continue
            exprs.append(compiler.compile(item))
            inner = item.this if isinstance(item, exp.Alias) else item
            picked.append(
                scope.find(inner.table or None, inner.name)
                if isinstance(inner, exp.Column) and not grouped
                else None
            )
            names.append(
                item.alias_or_name if isinstance(item, exp.Alias | exp.Column) else item.sql()
            )
            t = None
            if isinstance(inner, exp.Column) and not grouped:
                found = scope.find(inner.table or None, inner.name)
                if found is not None and found < len(types):
                    t = types[found]
            out_types.append(t)

        distinct = bool(node.args.get("distinct"))
        if distinct and node.args["distinct"].args.get("on"):
            raise NotSupportedError("DISTINCT ON is not supported")
        sort_keys: list[n.SortKey] = []
        positions = {name.lower(): i for i, name in enumerate(names)}
        hidden: list[Fn] = []
        for o in order_items:
            target = o.this
            if _is_column_number(target):
                i = int(target.this) - 1
                if not 0 <= i < len(exprs):
                    raise ProgrammingError(f"ORDER BY term out of range: {target.this}")
            elif (
                isinstance(target, exp.Column)
                and not target.table
                and target.name.lower() in positions
            ):
                i = positions[target.name.lower()]
            else:
                hidden.append(compiler.compile(target))
                i = len(exprs) + len(hidden) - 1
            sort_keys.append(_sort_key(i, o))

        aliased = {
            a
            for a, e in _aliases(items).items()
            if not isinstance(e, exp.Column) or e.name.lower() != a
        }
        tie_keys = tuple(sort_keys)  # for FETCH … WITH TIES, even when an index orders rows
        if sort_keys and not grouped and not distinct and not aliased:
            ordered = _ordered_access(root, order_items, node.args.get("limit") is not None)
            if ordered is not None:
                root, sort_keys = ordered, []
        copied = None if hidden or None in picked else tuple(p for p in picked if p is not None)
        root = n.Project(
            root,
            (*exprs, *hidden),
            (*names, *(f"#{i}" for i in range(len(hidden)))),
            copied,
        )
        if distinct:
            root = n.Distinct(root, len(exprs))
        if sort_keys:
            root = n.Sort(root, tuple(sort_keys))
        root = self._limit(node, root, frames, tie_keys)
        if hidden:
            root = n.Trim(root, len(exprs))
        return Shape(root, tuple(names), tuple(out_types))

    def _group_term(
        self, term: exp.Expression, items: list[exp.Expression], scope: Scope
    ) -> exp.Expression:
        """A GROUP BY term with a result column's number or alias replaced by its expression,
        as SQLite reads them (a column of the FROM items wins over an alias)."""
        if _is_column_number(term):
            i = int(term.this) - 1
            if not 0 <= i < len(items) or isinstance(items[i], exp.Star):
                raise ProgrammingError(f"GROUP BY term out of range: {term.this}")
            item = items[i]
            return item.this if isinstance(item, exp.Alias) else item
        if (
            isinstance(term, exp.Column)
            and not term.table
            and scope.find(None, term.name) is None
            and (aliased := _aliases(items).get(term.name.lower())) is not None
        ):
            return aliased
        return term

    def _call(self, node: exp.Expression, scope: Scope, frames: list[Frame]) -> n.AggregateCall:
        name = str(node.this).lower() if isinstance(node, exp.Anonymous) else node.key.lower()
        if name == "groupconcat":
            name = "group_concat"
        target = (
            node.this
            if not isinstance(node, exp.Anonymous)
            else (node.expressions[0] if len(node.expressions) == 1 else None)
        )
        if isinstance(node, exp.Anonymous) and len(node.expressions) != 1:
            raise ProgrammingError(f"wrong number of arguments to function {name}()")
        distinct = False
        if isinstance(target, exp.Distinct):
            distinct = True
            if len(target.expressions) != 1:
                raise ProgrammingError(
                    f"{node.sql()}: DISTINCT aggregates must have exactly one argument"
                )
            target = target.expressions[0]
            if isinstance(target, exp.Star):
                raise ProgrammingError(f"{node.sql()}: DISTINCT cannot apply to *")
        separator = ","
        if isinstance(node, exp.GroupConcat):
            sep = node.args.get("separator")
            if sep is not None:
                if sep.find(exp.Placeholder) is not None:  # read while planning: no parameters
                    raise NotSupportedError(
                        f"a group_concat separator that is a parameter: {node.sql()[:60]}"
                    )
                value = self.constant(sep, frames)((), _NO_CONTEXT)
                separator = "" if value is None else str(value)
        if name == "count" and (target is None or isinstance(target, exp.Star)):
            return n.AggregateCall("count", None)
        if target is None or isinstance(target, exp.Star):
            raise ProgrammingError(f"wrong number of arguments to function {name}()")
        arg = self.compiler(scope, frames).compile(target)
        return n.AggregateCall(name, arg, distinct, separator)

    # -- window functions ---------------------------------------------------------------------

    def _windows(
        self, node: exp.Select, parts: list[exp.Expression], root: n.Node, compiler: Compiler
    ) -> n.Node:
        """``root`` followed by a Window node computing the window function calls in
        ``parts`` (none: ``root`` itself); ``compiler`` then maps each call to its column."""
        found = [e for part in parts for e in _walk_local(part) if isinstance(e, exp.Window)]
        if not found:
            return root
        named: dict[str, exp.Window] = {}
        for w in node.args.get("windows") or []:
            named[w.name.lower()] = w
        calls = tuple(self._window_call(w, named, compiler) for w in found)
        width = root.width
        compiler.aggregates = {
            **compiler.aggregates,
            **{id(w): width + i for i, w in enumerate(found)},
        }
        return n.Window(root, calls)

    def _window_call(
        self, node: exp.Window, named: dict[str, exp.Window], compiler: Compiler
    ) -> n.WindowCall:
        partition, order, spec = _window_definition(node, named, set())
        fn = node.this
        if isinstance(fn, exp.Filter):
            raise NotSupportedError(f"FILTER on a window function is not supported: {fn.sql()}")
        if isinstance(fn, exp.IgnoreNulls | exp.RespectNulls):
            raise NotSupportedError(f"IGNORE/RESPECT NULLS is not supported: {fn.sql()}")
        function, arguments, aggregate = self._window_function(fn, compiler)
        order_by = tuple(compiler.compile(o.this) for o in order)
        keys = tuple(_sort_key(i, o) for i, o in enumerate(order))
        frame, start, end = "range", n.FrameBound("unbounded"), n.FrameBound("current")
        if spec is not None:
            frame, start, end = self._frame(spec, len(order), compiler.outer)
        sort_text = "|".join([*(p.sql() for p in partition), "#", *(o.sql() for o in order)])
        return n.WindowCall(
            function,
            arguments,
            tuple(compiler.compile(p) for p in partition),
            order_by,
            keys,
            frame,
            start,
            end,
            aggregate,
            sort_text,
            node.sql(),
        )

    def _window_function(
        self, fn: exp.Expression, compiler: Compiler
    ) -> tuple[str, tuple[Fn, ...], n.AggregateCall | None]:
        """A window function's name, its compiled arguments, and its aggregate (if it is
        one)."""
        simple = {
            exp.RowNumber: "row_number",
            exp.Rank: "rank",
            exp.DenseRank: "dense_rank",
            exp.PercentRank: "percent_rank",
            exp.CumeDist: "cume_dist",
        }
        for kind, name in simple.items():
            if isinstance(fn, kind):
                if fn.expressions:
                    raise ProgrammingError(f"wrong number of arguments to function {name}()")
                return name, (), None
        args: list[exp.Expression | None]
        if isinstance(fn, exp.Ntile):
            name, args = "ntile", [fn.this]
        elif isinstance(fn, exp.Lag | exp.Lead):
            name = fn.key.lower()
            args = [fn.this, fn.args.get("offset"), fn.args.get("default")]
        elif isinstance(fn, exp.FirstValue | exp.LastValue):
            name = "first_value" if isinstance(fn, exp.FirstValue) else "last_value"
            args = [fn.this]
        elif isinstance(fn, exp.NthValue):
            name, args = "nth_value", [fn.this, fn.args.get("offset")]
            if args[1] is None:
                raise ProgrammingError("wrong number of arguments to function nth_value()")
        elif _is_aggregate(fn):
            call = self._window_aggregate(fn, compiler)
            return call.function, (), call
        else:
            raise ProgrammingError(f"{fn.sql()} may not be used as a window function")
        if args[0] is None:
            raise ProgrammingError(f"wrong number of arguments to function {name}()")
        return name, tuple(compiler.compile(a) for a in args if a is not None), None

    def _window_aggregate(self, fn: exp.Expression, compiler: Compiler) -> n.AggregateCall:
        name = str(fn.this).lower() if isinstance(fn, exp.Anonymous) else fn.key.lower()
        if name == "groupconcat":
            name = "group_concat"
        if isinstance(fn, exp.Anonymous):
            if len(fn.expressions) != 1:
                raise ProgrammingError(f"wrong number of arguments to function {name}()")
            target: exp.Expression | None = fn.expressions[0]
        else:
            target = fn.this
        if isinstance(target, exp.Distinct):
            raise ProgrammingError("DISTINCT is not supported for window functions")
        separator = ","
        if isinstance(fn, exp.GroupConcat) and fn.args.get("separator") is not None:
            value = self.constant(fn.args["separator"], compiler.outer)((), _NO_CONTEXT)
            separator = "" if value is None else str(value)
        if name == "count" and (target is None or isinstance(target, exp.Star)):
            return n.AggregateCall("count", None)
        if target is None or isinstance(target, exp.Star):
            raise ProgrammingError(f"wrong number of arguments to function {name}()")
        return n.AggregateCall(name, compiler.compile(target), False, separator)

    def _frame(
        self, spec: exp.WindowSpec, order_terms: int, frames: list[Frame]
    ) -> tuple[str, n.FrameBound, n.FrameBound]:
        kind = str(spec.args.get("kind") or "").lower()
        if kind not in ("rows", "range"):
            raise NotSupportedError(f"{kind.upper()} window frames are not supported")
        if spec.args.get("exclude") is not None:
            raise NotSupportedError("EXCLUDE in a window frame is not supported")
        start_side = str(spec.args.get("start_side") or "").lower()
        end_side = str(spec.args.get("end_side") or "").lower()
        start = self._frame_bound(spec.args.get("start"), start_side, frames)
        end_value = spec.args.get("end")
        end = (
            n.FrameBound("current")
            if end_value is None
            else self._frame_bound(end_value, end_side, frames)
        )
        order = ("preceding", "current", "following")
        unsupported = (
            (start.kind == "unbounded" and start_side != "preceding")
            or (end.kind == "unbounded" and end_side != "following")
            or (
                start.kind in order
                and end.kind in order
                and order.index(start.kind) > order.index(end.kind)
            )
        )
        if unsupported:
            raise ProgrammingError("unsupported frame specification")
        if (
            kind == "range"
            and order_terms != 1
            and {start.kind, end.kind} & {"preceding", "following"}
        ):
            raise ProgrammingError(
                "RANGE with offset PRECEDING/FOLLOWING requires one ORDER BY expression"
            )
        return kind, start, end

    def _frame_bound(self, value: Any, side: str, frames: list[Frame]) -> n.FrameBound:
        if isinstance(value, str):
            if value.upper() == "UNBOUNDED":
                return n.FrameBound("unbounded")
            if value.upper() == "CURRENT ROW":
                return n.FrameBound("current")
            raise NotSupportedError(f"unsupported window frame bound: {value}")
        if not isinstance(value, exp.Expression):
            raise NotSupportedError(f"unsupported window frame bound: {value!r}")
        return n.FrameBound(side, self.constant(value, frames))


def _window_definition(
    node: exp.Window, named: dict[str, exp.Window], seen: set[str]
) -> tuple[list[exp.Expression], list[exp.Ordered], exp.WindowSpec | None]:
    """A window's PARTITION BY terms, ORDER BY terms and frame, with a named window it
    refers to (``OVER w``, ``OVER (w ORDER BY …)``, ``WINDOW w2 AS (w1 …)``) merged in."""
    partition = list(node.args.get("partition_by") or [])
    order_node = node.args.get("order")
    order = list(order_node.expressions) if order_node is not None else []
    spec = node.args.get("spec")
    base = node.args.get("alias")
    if base is None:
        return partition, order, spec
    name = base.name.lower()
    ref = named.get(name)
    if ref is None or name in seen:
        raise ProgrammingError(f"no such window: {base.name}")
    b_partition, b_order, b_spec = _window_definition(ref, named, seen | {name})
    if not partition and not order and spec is None:  # OVER w
        return b_partition, b_order, b_spec
    if partition:
        raise ProgrammingError(f"cannot override PARTITION BY clause of window {base.name}")
    if order and b_order:
        raise ProgrammingError(f"cannot override ORDER BY clause of window {base.name}")
    if b_spec is not None:
        raise ProgrammingError(f"cannot override frame specification of window {base.name}")
    return b_partition, order or b_order, spec


def _walk_outside_windows(node: exp.Expression) -> Iterable[exp.Expression]:
    """Like :func:`_walk_local`, but without window function calls themselves: their
    arguments, PARTITION BY and ORDER BY terms (which may hold aggregates of a grouped
    query) are walked."""
    if isinstance(node, exp.Window):
        fn = node.this
        inner = [*(fn.iter_expressions() if isinstance(fn, exp.Expression) else ())]
        inner += list(node.args.get("partition_by") or [])
        order = node.args.get("order")
        inner += [o.this for o in order.expressions] if order is not None else []
        for child in inner:
            if not isinstance(
                child, exp.Select | exp.Subquery | exp.Union | exp.Except | exp.Intersect
            ):
                yield from _walk_outside_windows(child)
        return
    yield node
    for child in node.iter_expressions():
        if isinstance(child, exp.Select | exp.Subquery | exp.Union | exp.Except | exp.Intersect):
            continue
        yield from _walk_outside_windows(child)


class _NoContext:
    """The context of a constant evaluated while planning (it has no parameters)."""

    params: Sequence[SQLValue] = ()
    outer: list[Row] = []
    memo: dict[int, list[Row]] = {}

    def rows(self, plan: Any) -> Generator[Row, None, None]:  # Any: as in Context
        raise NotSupportedError("a subquery is not allowed here")


_NO_CONTEXT = _NoContext()


def table_scope(table: Table, alias: str) -> Scope:
    """The names of a table's row positions, under ``alias``."""
    scope = Scope()
    for c in table.columns:
        scope.add(alias, c.name, c.hidden, c.type)
    return scope


_HASH_CLASS = {
    "INTEGER": "number",
    "REAL": "number",
    "BOOLEAN": "number",
    "NUMERIC": "decimal",
    "TEXT": "text",
    "JSON": "text",
}


def _hash_class(node: exp.Expression, scope: Scope) -> str | None:
    """How a column's values hash (None: not a column of ``scope``)."""
    if not isinstance(node, exp.Column) or isinstance(node.this, exp.Star):
        return None
    pos = scope.find(node.table or None, node.name)
    kind = scope.type_at(pos) if pos is not None else None
    return None if kind is None else _HASH_CLASS.get(kind, kind)


def _hashable_together(a: exp.Expression, sa: Scope, b: exp.Expression, sb: Scope) -> bool:
    """Whether values of ``a`` and ``b`` that compare equal also hash alike: not, for example,
    a DATE and text, or NUMERIC and REAL, which comparison converts but hashing does not."""
    ca, cb = _hash_class(a, sa), _hash_class(b, sb)
    return ca is None or cb is None or ca == cb


def _sort_key(position: int, order: exp.Ordered) -> n.SortKey:
    desc = bool(order.args.get("desc"))
    nulls_first = order.args.get("nulls_first")
    return n.SortKey(position, desc, not desc if nulls_first is None else bool(nulls_first))


def _and(parts: Sequence[exp.Expression]) -> exp.Expression:
    return cast(exp.Expression, exp.and_(*parts)) if len(parts) > 1 else parts[0]


def _aliases(items: list[exp.Expression]) -> dict[str, exp.Expression]:
    return {item.alias.lower(): item.this for item in items if isinstance(item, exp.Alias)}


def _at(pos: int) -> Fn:
    return lambda r, c: r[pos]


def _text(parts: list[exp.Expression]) -> str:
    return " AND ".join(p.sql() for p in parts)


def _score(access: n.Node | None) -> int:
    if isinstance(access, n.KeyGet):
        return 3
    if isinstance(access, n.IndexScan):
        return 2
    if isinstance(access, n.TableScan) and access.range is not None and access.range.bounded:
        return 2
    return 0


def _ordered_access(root: n.Node, order_items: list[exp.Ordered], limited: bool) -> n.Node | None:
    """``root`` reading its table in the order ORDER BY asks for, so no sort is needed; None
    if it cannot. Only a single table under filters qualifies."""
    filters: list[n.Filter] = []
    node = root
    while isinstance(node, n.Filter):
        filters.append(node)
        node = node.child
    if not isinstance(node, n.TableScan | n.IndexScan):
        return None
    descs = {bool(o.args.get("desc")) for o in order_items}
    if len(descs) != 1:
        return None
    desc = descs.pop()
    if any(_sort_key(0, o).nulls_first == desc for o in order_items):
        return None  # keys hold NULLs first: ascending NULLS FIRST, descending NULLS LAST
    table = node.table
    wanted = []
    for o in order_items:
        t = o.this
        if not isinstance(t, exp.Column):
            return None
        wanted.append(t.name.lower())
    new: n.Node | None = None
    pk = [c.name.lower() for c in table.pk_columns]
    if isinstance(node, n.TableScan) and wanted == pk[: len(wanted)]:
        # NULLs cannot occur in key columns, so key order is SQL order
        new = replace(node, reverse=desc)
    elif isinstance(node, n.IndexScan) and node.index is not None:
        cols = [c.lower() for c in node.index.columns]
        if wanted == cols[: len(wanted)]:
            new = replace(node, reverse=desc)
    elif (
        isinstance(node, n.TableScan) and limited and (node.range is None or not node.range.bounded)
    ):
        for index in table.indexes:
            cols = [c.lower() for c in index.columns]
            if wanted == cols[: len(wanted)]:
                columns = tuple(
                    c for name in index.columns if (c := table.column(name)) is not None
                )
                new = n.IndexScan(
                    node.codec, index, n.KeyRange(columns, text="(all entries)"), desc
                )
                break
    if new is None:
        return None
    for f in reversed(filters):
        new = replace(f, child=new)
    return new


def _is_column_number(node: exp.Expression) -> bool:
    """Whether an ORDER BY or GROUP BY term is a result column's number: an integer literal
    (SQLite reads any other number, ``1.0``, as a constant expression)."""
    return (
        isinstance(node, exp.Literal)
        and not node.is_string
        and node.this.isascii()
        and node.this.isdigit()
    )
