"""Compiling sqlglot expressions into Python closures over row tuples, with SQL semantics:
three-valued logic, NULL propagation, SQLite-compatible arithmetic and LIKE.

A :class:`Scope` names the positions of a row tuple; ``compile_expr`` resolves every column
reference once, so evaluating a row is a chain of closure calls with no name lookups.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlglot import exp

from dialect.convert import cast as cast  # re-exported: other modules import it from here
from dialect.convert import (
    hex_blob,
    int_div,
    number_op,
    to_number_lenient,
    to_text,
    try_cast,
    typeof,
)
from dialect.convert import like_regex as like_regex
from dialect.convert import truth as truth
from dialect.errors import NotSupportedError, ProgrammingError
from dialect.values import SQLValue, compare

Row = tuple[Any, ...]  # Any: SQL values
Fn = Callable[[Row], SQLValue]

AGGREGATES = (exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.GroupConcat)


@dataclass
class Scope:
    """Names of the positions in a row: ``(table alias, column name, hidden)`` each."""

    names: list[tuple[str | None, str, bool]] = field(default_factory=list)
    #: the column names as declared (for ``*`` and result descriptions)
    display: list[str] = field(default_factory=list)

    def add(self, table: str | None, column: str, hidden: bool = False) -> None:
        self.names.append((table.lower() if table else None, column.lower(), hidden))
        self.display.append(column)

    def __add__(self, other: Scope) -> Scope:
        return Scope(self.names + other.names, self.display + other.display)

    def find(self, table: str | None, column: str) -> int | None:
        """The position of ``table.column`` (``column`` alone if unqualified); None if absent;
        ``ProgrammingError`` if ambiguous."""
        column = column.lower()
        table = table.lower() if table else None
        hits = [
            i
            for i, (t, c, _) in enumerate(self.names)
            if c == column and (table is None or t == table)
        ]
        if len(hits) > 1:
            raise ProgrammingError(f"ambiguous column name: {column}")
        return hits[0] if hits else None


class Context(Protocol):
    """What compiled expressions need from the statement being run."""

    params: Sequence[SQLValue]
    outer_rows: list[Row]

    def run_subquery(self, node: exp.Expression, outer: list[Scope]) -> list[Row]: ...


@dataclass
class Compiler:
    """Compiles expressions against a scope (and the scopes of enclosing queries)."""

    ctx: Context
    scope: Scope
    outer: list[Scope] = field(default_factory=list)
    #: aggregate node -> position of its value in the row (set while compiling grouped output)
    aggregates: dict[int, int] = field(default_factory=dict)
    #: expressions (by SQL text) that are GROUP BY keys -> their position
    group_keys: dict[str, int] = field(default_factory=dict)
    #: result-column aliases usable by name (in HAVING and ORDER BY, as SQLite allows)
    aliases: dict[str, exp.Expression] = field(default_factory=dict)
    uses_outer: bool = False

    def compile(self, node: exp.Expression) -> Fn:
        if self.aggregates and id(node) in self.aggregates:
            pos = self.aggregates[id(node)]
            return lambda r: r[pos]
        if self.group_keys:
            pos_key = self.group_keys.get(node.sql())
            if pos_key is not None:
                return lambda r: r[pos_key]
        method = getattr(self, f"_c_{type(node).__name__}", None)
        if method is None:
            if isinstance(node, AGGREGATES):
                raise ProgrammingError(f"misuse of aggregate: {node.sql()}")
            raise NotSupportedError(f"unsupported expression: {node.sql()}")
        fn: Fn = method(node)
        return fn

    # -- leaves ---------------------------------------------------------------------------

    def _c_Literal(self, node: exp.Literal) -> Fn:
        value: SQLValue
        if node.is_string:
            value = node.this
        else:
            text = node.this
            try:
                value = int(text)
            except ValueError:
                value = float(text)
        return lambda r: value

    def _c_Null(self, node: exp.Null) -> Fn:
        return lambda r: None

    def _c_Boolean(self, node: exp.Boolean) -> Fn:
        value = bool(node.this)
        return lambda r: value

    def _c_Placeholder(self, node: exp.Placeholder) -> Fn:
        index = node.meta.get("param_index")
        if index is None:
            raise ProgrammingError("unbound parameter")
        ctx = self.ctx  # read at call time: compiled closures outlive one execution
        return lambda r: ctx.params[index]

    def _c_Column(self, node: exp.Column) -> Fn:
        if isinstance(node.this, exp.Star):
            raise ProgrammingError("* is not allowed here")
        table, name = node.table or None, node.name
        pos = self.scope.find(table, name)
        if pos is not None:
            return lambda r: r[pos]
        if table is None and name.lower() in self.aliases:
            aliased = self.aliases.pop(name.lower())  # no self-reference while compiling it
            try:
                return self.compile(aliased)
            finally:
                self.aliases[name.lower()] = aliased
        for depth, outer in enumerate(reversed(self.outer), start=1):
            opos = outer.find(table, name)
            if opos is not None:
                self.uses_outer = True
                rows = self.ctx.outer_rows
                return lambda r: rows[-depth][opos]
        if table is None and name.lower() in ("true", "false"):
            value = name.lower() == "true"
            return lambda r: value
        qualified = f"{table}.{name}" if table else name
        raise ProgrammingError(f"no such column: {qualified}")

    def _c_Identifier(self, node: exp.Identifier) -> Fn:
        return self._c_Column(exp.Column(this=node))

    def _c_Paren(self, node: exp.Paren) -> Fn:
        return self.compile(node.this)

    def _c_Alias(self, node: exp.Alias) -> Fn:
        return self.compile(node.this)

    # -- arithmetic ---------------------------------------------------------------------------

    def _binary(self, node: exp.Binary, op: Callable[[SQLValue, SQLValue], SQLValue]) -> Fn:
        left, right = self.compile(node.this), self.compile(node.expression)

        def run(r: Row) -> SQLValue:
            a = left(r)
            if a is None:
                return None
            b = right(r)
            if b is None:
                return None
            return op(a, b)

        return run

    def _c_Add(self, node: exp.Add) -> Fn:
        return self._binary(node, lambda a, b: _num_op(a, b, "+"))

    def _c_Sub(self, node: exp.Sub) -> Fn:
        return self._binary(node, lambda a, b: _num_op(a, b, "-"))

    def _c_Mul(self, node: exp.Mul) -> Fn:
        return self._binary(node, lambda a, b: _num_op(a, b, "*"))

    def _c_Div(self, node: exp.Div) -> Fn:
        return self._binary(node, lambda a, b: _num_op(a, b, "/"))

    def _c_IntDiv(self, node: exp.IntDiv) -> Fn:
        return self._binary(node, int_div)

    def _c_Mod(self, node: exp.Mod) -> Fn:
        return self._binary(node, lambda a, b: _num_op(a, b, "%"))

    def _c_DPipe(self, node: exp.DPipe) -> Fn:
        return self._binary(node, lambda a, b: _text(a) + _text(b))

    def _c_Neg(self, node: exp.Neg) -> Fn:
        inner = self.compile(node.this)

        def run(r: Row) -> SQLValue:
            v = inner(r)
            return None if v is None else -_number(v)

        return run

    # -- comparison and logic -------------------------------------------------------------

    def _cmp(self, node: exp.Binary, test: Callable[[int], bool]) -> Fn:
        return self._binary(node, lambda a, b: test(compare(a, b)))

    def _c_EQ(self, node: exp.EQ) -> Fn:
        return self._cmp(node, lambda c: c == 0)

    def _c_NEQ(self, node: exp.NEQ) -> Fn:
        return self._cmp(node, lambda c: c != 0)

    def _c_LT(self, node: exp.LT) -> Fn:
        return self._cmp(node, lambda c: c < 0)

    def _c_LTE(self, node: exp.LTE) -> Fn:
        return self._cmp(node, lambda c: c <= 0)

    def _c_GT(self, node: exp.GT) -> Fn:
        return self._cmp(node, lambda c: c > 0)

    def _c_GTE(self, node: exp.GTE) -> Fn:
        return self._cmp(node, lambda c: c >= 0)

    def _c_NullSafeEQ(self, node: exp.NullSafeEQ) -> Fn:
        left, right = self.compile(node.this), self.compile(node.expression)

        def run(r: Row) -> SQLValue:
            a, b = left(r), right(r)
            if a is None or b is None:
                return a is None and b is None
            return compare(a, b) == 0

        return run

    def _c_And(self, node: exp.And) -> Fn:
        left, right = self.compile(node.this), self.compile(node.expression)

        def run(r: Row) -> SQLValue:
            a = truth(left(r))
            if a is False:
                return False
            b = truth(right(r))
            if b is False:
                return False
            return None if a is None or b is None else True

        return run

    def _c_Or(self, node: exp.Or) -> Fn:
        left, right = self.compile(node.this), self.compile(node.expression)

        def run(r: Row) -> SQLValue:
            a = truth(left(r))
            if a is True:
                return True
            b = truth(right(r))
            if b is True:
                return True
            return None if a is None or b is None else False

        return run

    def _c_Not(self, node: exp.Not) -> Fn:
        inner = self.compile(node.this)

        def run(r: Row) -> SQLValue:
            v = truth(inner(r))
            return None if v is None else not v

        return run

    def _c_Is(self, node: exp.Is) -> Fn:
        inner = self.compile(node.this)
        target = node.expression
        if isinstance(target, exp.Null):
            return lambda r: inner(r) is None
        if isinstance(target, exp.Boolean):
            want = bool(target.this)
            return lambda r: truth(inner(r)) is want
        other = self.compile(target)

        def run(r: Row) -> SQLValue:
            a, b = inner(r), other(r)
            if a is None or b is None:
                return a is None and b is None
            return compare(a, b) == 0

        return run

    def _c_Between(self, node: exp.Between) -> Fn:
        value = self.compile(node.this)
        low, high = self.compile(node.args["low"]), self.compile(node.args["high"])

        def run(r: Row) -> SQLValue:
            v, lo, hi = value(r), low(r), high(r)
            a = None if v is None or lo is None else compare(v, lo) >= 0
            b = None if v is None or hi is None else compare(v, hi) <= 0
            if a is False or b is False:
                return False
            return None if a is None or b is None else True

        return run

    def _c_In(self, node: exp.In) -> Fn:
        value = self.compile(node.this)
        query = node.args.get("query")
        if query is not None:
            subquery = self._subquery(query.this if isinstance(query, exp.Subquery) else query)

            def candidates(r: Row) -> list[SQLValue]:
                return [row[0] for row in subquery(r)]
        else:
            items = [self.compile(e) for e in node.expressions]

            def candidates(r: Row) -> list[SQLValue]:
                return [f(r) for f in items]

        def run(r: Row) -> SQLValue:
            v = value(r)
            if v is None:
                return None
            saw_null = False
            for c in candidates(r):
                if c is None:
                    saw_null = True
                elif compare(v, c) == 0:
                    return True
            return None if saw_null else False

        return run

    def _c_Exists(self, node: exp.Exists) -> Fn:
        subquery = self._subquery(node.this)
        return lambda r: bool(subquery(r))

    def _c_Subquery(self, node: exp.Subquery) -> Fn:
        subquery = self._subquery(node.this)

        def run(r: Row) -> SQLValue:
            rows = subquery(r)
            return rows[0][0] if rows else None

        return run

    def _subquery(self, select: exp.Expression) -> Callable[[Row], list[Row]]:
        """Rows of a subquery. It is first run against a probe row that raises when read: if
        it never reads the enclosing row it is uncorrelated and its rows are kept."""
        ctx, scopes = self.ctx, [*self.outer, self.scope]
        state: dict[str, list[Row] | None] = {}

        def execute(outer_row: Row) -> list[Row]:
            ctx.outer_rows.append(outer_row)
            try:
                return ctx.run_subquery(select, scopes)
            finally:
                ctx.outer_rows.pop()

        def run(r: Row) -> list[Row]:
            if "rows" not in state:
                try:
                    state["rows"] = execute(_Probe())
                except _Correlated:
                    state["rows"] = None
            cached = state["rows"]
            return cached if cached is not None else execute(r)

        return run

    def _like(self, node: exp.Like | exp.ILike, escape: str | None) -> Fn:
        value, pattern = self.compile(node.this), self.compile(node.expression)
        cache: dict[str, re.Pattern[str]] = {}

        def run(r: Row) -> SQLValue:
            v, p = value(r), pattern(r)
            if v is None or p is None:
                return None
            rx = cache.get(p)
            if rx is None:
                rx = cache[p] = like_regex(str(p), escape)
            return rx.fullmatch(_text(v)) is not None

        return run

    def _c_Like(self, node: exp.Like) -> Fn:
        return self._like(node, None)

    def _c_ILike(self, node: exp.ILike) -> Fn:
        return self._like(node, None)

    def _c_Escape(self, node: exp.Escape) -> Fn:
        like = node.this
        if not isinstance(like, exp.Like | exp.ILike):
            raise NotSupportedError(f"unsupported ESCAPE: {node.sql()}")
        esc = node.expression
        if not isinstance(esc, exp.Literal) or len(esc.this) != 1:
            raise ProgrammingError("ESCAPE expression must be a single character")
        return self._like(like, esc.this)

    # -- conditionals and functions -----------------------------------------------------------

    def _c_Case(self, node: exp.Case) -> Fn:
        subject = self.compile(node.this) if node.this is not None else None
        branches = [(self.compile(i.this), self.compile(i.args["true"])) for i in node.args["ifs"]]
        default = self.compile(node.args["default"]) if node.args.get("default") else None

        def run(r: Row) -> SQLValue:
            if subject is not None:
                s = subject(r)
                for cond, result in branches:
                    c = cond(r)
                    if s is not None and c is not None and compare(s, c) == 0:
                        return result(r)
            else:
                for cond, result in branches:
                    if truth(cond(r)):
                        return result(r)
            return default(r) if default else None

        return run

    def _c_If(self, node: exp.If) -> Fn:
        cond, true = self.compile(node.this), self.compile(node.args["true"])
        false = self.compile(node.args["false"]) if node.args.get("false") else None
        return lambda r: true(r) if truth(cond(r)) else (false(r) if false else None)

    def _c_Coalesce(self, node: exp.Coalesce) -> Fn:
        parts = [self.compile(node.this), *(self.compile(e) for e in node.expressions)]

        def run(r: Row) -> SQLValue:
            for p in parts:
                v = p(r)
                if v is not None:
                    return v
            return None

        return run

    def _c_Nullif(self, node: exp.Nullif) -> Fn:
        a, b = self.compile(node.this), self.compile(node.expression)

        def run(r: Row) -> SQLValue:
            x, y = a(r), b(r)
            return None if x is not None and y is not None and compare(x, y) == 0 else x

        return run

    def _unary(self, node: exp.Func, fn: Callable[[SQLValue], SQLValue]) -> Fn:
        inner = self.compile(node.this)

        def run(r: Row) -> SQLValue:
            v = inner(r)
            return None if v is None else fn(v)

        return run

    def _c_Abs(self, node: exp.Abs) -> Fn:
        return self._unary(node, lambda v: abs(_number(v)))

    def _c_Length(self, node: exp.Length) -> Fn:
        return self._unary(node, lambda v: len(v) if isinstance(v, str | bytes) else len(_text(v)))

    def _c_Lower(self, node: exp.Lower) -> Fn:
        return self._unary(node, lambda v: _text(v).lower())

    def _c_Upper(self, node: exp.Upper) -> Fn:
        return self._unary(node, lambda v: _text(v).upper())

    def _c_Trim(self, node: exp.Trim) -> Fn:
        return self._unary(node, lambda v: _text(v).strip())

    def _c_Round(self, node: exp.Round) -> Fn:
        inner = self.compile(node.this)
        digits = self.compile(node.args["decimals"]) if node.args.get("decimals") else None

        def run(r: Row) -> SQLValue:
            v = inner(r)
            if v is None:
                return None
            n = int(digits(r) or 0) if digits else 0
            d = decimal.Decimal(repr(float(v)) if isinstance(v, float) else v)
            q = d.quantize(decimal.Decimal(1).scaleb(-n), rounding=decimal.ROUND_HALF_UP)
            return float(q)

        return run

    def _c_Substring(self, node: exp.Substring) -> Fn:
        inner = self.compile(node.this)
        start = self.compile(node.args["start"]) if node.args.get("start") else None
        length = self.compile(node.args["length"]) if node.args.get("length") else None

        def run(r: Row) -> SQLValue:
            v = inner(r)
            if v is None:
                return None
            s = v if isinstance(v, str | bytes) else _text(v)
            b = int(start(r)) if start else 1
            begin = b - 1 if b > 0 else max(0, len(s) + b) if b < 0 else 0
            if length is None:
                return s[begin:]
            n = int(length(r))
            return s[begin : begin + n] if b != 0 else s[: max(0, n - 1)]

        return run

    def _c_Concat(self, node: exp.Concat) -> Fn:
        parts = [self.compile(e) for e in node.expressions]
        return lambda r: "".join(_text(v) for p in parts if (v := p(r)) is not None)

    def _c_Cast(self, node: exp.Cast) -> Fn:
        inner = self.compile(node.this)
        to = node.to.this.name if hasattr(node.to.this, "name") else str(node.to.this)
        convert = try_cast if isinstance(node, exp.TryCast) or node.args.get("safe") else cast
        return lambda r: convert(inner(r), to)

    def _c_TryCast(self, node: exp.TryCast) -> Fn:
        return self._c_Cast(node)

    def _c_HexString(self, node: exp.HexString) -> Fn:
        value = hex_blob(node.this)
        return lambda r: value

    def _c_CurrentTimestamp(self, node: exp.CurrentTimestamp) -> Fn:
        return lambda r: dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def _c_CurrentDate(self, node: exp.CurrentDate) -> Fn:
        return lambda r: dt.datetime.now(dt.UTC).date()

    def _c_Anonymous(self, node: exp.Anonymous) -> Fn:
        name = str(node.this).upper()
        args = [self.compile(e) for e in node.expressions]
        if name == "IFNULL" and len(args) == 2:
            return lambda r: v if (v := args[0](r)) is not None else args[1](r)
        if name == "TYPEOF" and len(args) == 1:
            return lambda r: _typeof(args[0](r))
        raise NotSupportedError(f"unsupported function: {name}")

    def _c_Tuple(self, node: exp.Tuple) -> Fn:
        parts = [self.compile(e) for e in node.expressions]
        return lambda r: tuple(p(r) for p in parts)


class _Correlated(Exception):
    """Raised by a probe row: the subquery reads its enclosing row."""


class _Probe(tuple):  # type: ignore[type-arg]
    """A stand-in for the enclosing row that refuses to be read."""

    def __getitem__(self, index: object) -> SQLValue:
        raise _Correlated


# The conversions live in dialect.convert; these names serve the compiler above and the
# modules that import them from here.
_number = to_number_lenient
_num_op = number_op
_text = to_text
_typeof = typeof
