"""Compiling sqlglot expressions into Python closures with SQL semantics: three-valued logic,
NULL propagation, SQLite-compatible arithmetic and LIKE.

A :class:`Scope` names the positions of a row tuple; :class:`Compiler` resolves every column
reference once, so evaluating a row is a chain of closure calls with no name lookups. A
compiled closure takes ``(row, context)``: everything that varies between runs (parameters,
the rows of enclosing queries, subquery results) is in the :class:`Context`, so a compiled
plan can be cached and run again.
"""

from __future__ import annotations

import datetime as dt
import decimal
import fnmatch
import functools
import math
import re
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlglot import exp

from dialect import functions
from dialect.convert import (
    affinity,
    apply_affinity,
    hex_blob,
    int_div,
    number_op,
    to_number_lenient,
    to_text,
    try_cast,
    typeof,
)
from dialect.convert import cast as cast  # re-exported: other modules import it from here
from dialect.convert import like_regex as like_regex
from dialect.convert import truth as truth
from dialect.errors import NotSupportedError, ProgrammingError
from dialect.values import SQLValue, compare

Row = tuple[Any, ...]  # Any: SQL values

AGGREGATES = (exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.GroupConcat)


@dataclass
class Scope:
    """Names of the positions in a row: ``(table alias, column name, hidden)`` each."""

    names: list[tuple[str | None, str, bool]] = field(default_factory=list)
    #: the column names as declared (for ``*`` and result descriptions)
    display: list[str] = field(default_factory=list)
    #: each position's canonical column type, when it is a table's column (for affinity)
    types: list[str | None] = field(default_factory=list)

    def add(
        self, table: str | None, column: str, hidden: bool = False, type: str | None = None
    ) -> None:
        self.names.append((table.lower() if table else None, column.lower(), hidden))
        self.display.append(column)
        self.types.append(type)

    def __add__(self, other: Scope) -> Scope:
        return Scope(
            self.names + other.names, self.display + other.display, self.types + other.types
        )

    def type_at(self, pos: int) -> str | None:
        return self.types[pos] if pos < len(self.types) else None

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
        if len(hits) > 1 and table is None:
            # a column joined by USING: the left one, unless both are hidden
            visible = [i for i in hits if not self.names[i][2]]
            if len(visible) == 1:
                hits = visible
        if len(hits) > 1:
            raise ProgrammingError(f"ambiguous column name: {column}")
        return hits[0] if hits else None


class Context(Protocol):
    """What compiled expressions read at run time: one per statement execution."""

    #: the bound parameters, in placeholder order
    params: Sequence[SQLValue]
    #: the current rows of the enclosing queries, outermost first
    outer: list[Row]
    #: results of uncorrelated subqueries, by plan node id
    memo: dict[int, list[Row]]

    def rows(self, plan: Any) -> Generator[Row, None, None]:  # Any: a dialect.plan.nodes.Node
        """The rows of a plan node run in this context."""
        ...


Fn = Callable[[Row, Context], SQLValue]


@dataclass
class Frame:
    """The scope of an enclosing query as seen from a subquery; ``correlated`` becomes true when
    an expression inside that subquery reads this frame or one further out."""

    scope: Scope
    correlated: bool = False


class SubqueryPlanner(Protocol):
    """Plans a subquery met while compiling an expression."""

    def plan_subquery(self, node: exp.Expression, frames: list[Frame]) -> Any:
        """The plan node (Any: dialect.plan.nodes.Node) of query ``node`` run inside
        ``frames`` (the enclosing queries, outermost first); it has ``.width`` columns."""
        ...


#: expressions Strata has no implementation of, named in their error (docs/sql.md)
_REFUSED_EXPRESSIONS: dict[type[exp.Expression], str] = {
    exp.Collate: "COLLATE",
    exp.Rollup: "GROUP BY ROLLUP",
    exp.Cube: "GROUP BY CUBE",
    exp.GroupingSets: "GROUPING SETS",
}


@dataclass
class Compiler:
    """Compiles expressions against a scope (and the scopes of enclosing queries)."""

    scope: Scope
    outer: list[Frame] = field(default_factory=list)
    planner: SubqueryPlanner | None = None
    #: aggregate node -> position of its value in the row (set while compiling grouped output)
    aggregates: dict[int, int] = field(default_factory=dict)
    #: expressions (by SQL text) that are GROUP BY keys -> their position
    group_keys: dict[str, int] = field(default_factory=dict)
    #: result-column aliases usable by name (in HAVING and ORDER BY, as SQLite allows)
    aliases: dict[str, exp.Expression] = field(default_factory=dict)

    def compile(self, node: exp.Expression) -> Fn:
        if self.aggregates and id(node) in self.aggregates:
            pos = self.aggregates[id(node)]
            return lambda r, c: r[pos]
        if self.group_keys:
            pos_key = self.group_keys.get(node.sql())
            if pos_key is not None:
                return lambda r, c: r[pos_key]
        call = functions.call_of(node)
        if call is not None:  # a function of dialect.functions' table
            name, args = call
            return functions.bind(name, [self.compile(a) for a in args])
        method = getattr(self, f"_c_{type(node).__name__}", None)
        if method is None:
            if isinstance(node, AGGREGATES):
                raise ProgrammingError(f"misuse of aggregate: {node.sql()}")
            named = _REFUSED_EXPRESSIONS.get(type(node))
            if named is not None:
                raise NotSupportedError(f"{named} is not supported: {node.sql()[:60]}")
            raise NotSupportedError(f"unsupported expression: {node.sql()}")
        fn: Fn = method(node)
        if node.args.get("negate") is True:  # NOT LIKE, NOT ILIKE, IS NOT (sqlglot's flag)
            return _negated(fn)
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
                try:
                    value = float(text)
                except ValueError:  # sqlglot reads ``1e`` as a number: SQLite does not
                    raise ProgrammingError(f"syntax error: malformed number {text!r}") from None
        return lambda r, c: value

    def _c_Null(self, node: exp.Null) -> Fn:
        return lambda r, c: None

    def _c_Boolean(self, node: exp.Boolean) -> Fn:
        value = bool(node.this)
        return lambda r, c: value

    def _c_Placeholder(self, node: exp.Placeholder) -> Fn:
        index = node.meta.get("param_index")
        if index is None:
            raise ProgrammingError("unbound parameter")
        return lambda r, c: c.params[index]

    def _c_Column(self, node: exp.Column) -> Fn:
        if isinstance(node.this, exp.Star):
            raise ProgrammingError("* is not allowed here")
        table, name = node.table or None, node.name
        pos = self.scope.find(table, name)
        if pos is not None:
            return lambda r, c: r[pos]
        if table is None and name.lower() in self.aliases:
            aliased = self.aliases.pop(name.lower())  # no self-reference while compiling it
            try:
                return self.compile(aliased)
            finally:
                self.aliases[name.lower()] = aliased
        for level in range(len(self.outer) - 1, -1, -1):
            opos = self.outer[level].scope.find(table, name)
            if opos is not None:
                for frame in self.outer[level:]:
                    frame.correlated = True
                return lambda r, c: c.outer[level][opos]
        if table is None and name.lower() in ("true", "false"):
            value = name.lower() == "true"
            return lambda r, c: value
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

        def run(r: Row, c: Context) -> SQLValue:
            a = left(r, c)
            if a is None:
                return None
            b = right(r, c)
            if b is None:
                return None
            try:
                return op(a, b)
            except (TypeError, ValueError, ArithmeticError) as exc:
                raise functions.cannot_evaluate(node.sql(), (a, b), exc) from exc

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

        def run(r: Row, c: Context) -> SQLValue:
            v = inner(r, c)
            return None if v is None else -_number(v)  # int, float or Decimal: never fails

        return run

    # -- comparison and logic -------------------------------------------------------------

    def _affinity(self, node: exp.Expression) -> str | None:
        """The comparison affinity of ``node``: its column's, if it is a column of a table in
        this query; None for any other expression (literals, parameters, results)."""
        while isinstance(node, exp.Paren):
            node = node.this
        if not isinstance(node, exp.Column) or isinstance(node.this, exp.Star):
            return None
        try:
            pos = self.scope.find(node.table or None, node.name)
        except ProgrammingError:
            return None
        return affinity(self.scope.type_at(pos)) if pos is not None else None

    def _compiled_with_affinity(self, left: exp.Expression, right: exp.Expression) -> tuple[Fn, Fn]:
        """Both operands compiled, one converted first as SQLite does: any operand facing a
        numeric column becomes a number where it can (``int_col = '5'`` is true for 5), and an
        operand that is not a column facing a text column becomes text."""
        a, b = self.compile(left), self.compile(right)
        la, lb = self._affinity(left), self._affinity(right)
        if la == "numeric" and lb != "numeric":
            b = _with_affinity(b, la)
        elif lb == "numeric" and la != "numeric":
            a = _with_affinity(a, lb)
        elif la == "text" and lb is None:
            b = _with_affinity(b, la)
        elif lb == "text" and la is None:
            a = _with_affinity(a, lb)
        return a, b

    def _cmp(self, node: exp.Binary, test: Callable[[int], bool]) -> Fn:
        left, right = self._compiled_with_affinity(node.this, node.expression)

        def run(r: Row, c: Context) -> SQLValue:
            a = left(r, c)
            if a is None:
                return None
            b = right(r, c)
            if b is None:
                return None
            return test(compare(a, b))

        return run

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

        def run(r: Row, c: Context) -> SQLValue:
            a, b = left(r, c), right(r, c)
            if a is None or b is None:
                return a is None and b is None
            return compare(a, b) == 0

        return run

    def _c_And(self, node: exp.And) -> Fn:
        left, right = self.compile(node.this), self.compile(node.expression)

        def run(r: Row, c: Context) -> SQLValue:
            a = truth(left(r, c))
            if a is False:
                return False
            b = truth(right(r, c))
            if b is False:
                return False
            return None if a is None or b is None else True

        return run

    def _c_Or(self, node: exp.Or) -> Fn:
        left, right = self.compile(node.this), self.compile(node.expression)

        def run(r: Row, c: Context) -> SQLValue:
            a = truth(left(r, c))
            if a is True:
                return True
            b = truth(right(r, c))
            if b is True:
                return True
            return None if a is None or b is None else False

        return run

    def _c_Not(self, node: exp.Not) -> Fn:
        inner = self.compile(node.this)

        def run(r: Row, c: Context) -> SQLValue:
            v = truth(inner(r, c))
            return None if v is None else not v

        return run

    def _c_Is(self, node: exp.Is) -> Fn:
        inner = self.compile(node.this)
        target = node.expression
        if isinstance(target, exp.Null):
            return lambda r, c: inner(r, c) is None
        if isinstance(target, exp.Boolean):
            want = bool(target.this)
            return lambda r, c: truth(inner(r, c)) is want
        other = self.compile(target)

        def run(r: Row, c: Context) -> SQLValue:
            a, b = inner(r, c), other(r, c)
            if a is None or b is None:
                return a is None and b is None
            return compare(a, b) == 0

        return run

    def _c_Between(self, node: exp.Between) -> Fn:
        value, low = self._compiled_with_affinity(node.this, node.args["low"])
        high = self._compiled_with_affinity(node.this, node.args["high"])[1]

        def run(r: Row, c: Context) -> SQLValue:
            v, lo, hi = value(r, c), low(r, c), high(r, c)
            a = None if v is None or lo is None else compare(v, lo) >= 0
            b = None if v is None or hi is None else compare(v, hi) <= 0
            if a is False or b is False:
                return False
            return None if a is None or b is None else True

        return run

    def _c_In(self, node: exp.In) -> Fn:
        value = self.compile(node.this)
        query = node.args.get("query")
        table = node.args.get("field")
        if table is not None:  # SQLite's ``x IN table``
            if not isinstance(table, exp.Column) or table.table:
                raise NotSupportedError(f"unsupported IN operand: {table.sql()}")
            query = exp.select("*").from_(exp.to_table(table.name))
        candidates: Callable[[Row, Context], list[SQLValue]]
        if query is not None:
            candidates = self._subquery(
                query.this if isinstance(query, exp.Subquery) else query, "IN"
            )
        elif node.args.get("unnest") is not None:
            raise NotSupportedError(f"unsupported IN operand: {node.sql()}")
        else:
            items = [self._compiled_with_affinity(node.this, e)[1] for e in node.expressions]
            if not items:
                return lambda r, c: False  # x IN () is false, even for NULL

            def candidates(r: Row, c: Context) -> list[SQLValue]:
                return [f(r, c) for f in items]

        def run(r: Row, c: Context) -> SQLValue:
            found = candidates(r, c)
            if not found:
                return False
            v = value(r, c)
            if v is None:
                return None
            saw_null = False
            for item in found:
                if item is None:
                    saw_null = True
                elif compare(v, item) == 0:
                    return True
            return None if saw_null else False

        return run

    def _c_NullSafeNEQ(self, node: exp.NullSafeNEQ) -> Fn:
        return _negated(self._c_NullSafeEQ(node))  # type: ignore[arg-type]

    def _c_Glob(self, node: exp.Glob) -> Fn:
        return self._matches(node, lambda p: re.compile(fnmatch.translate(p.replace("[^", "[!"))))

    def _c_Typeof(self, node: exp.Typeof) -> Fn:
        inner = self.compile(node.this)
        return lambda r, c: _typeof(inner(r, c))

    def _c_Exists(self, node: exp.Exists) -> Fn:
        rows = self._subquery(node.this, None, first_only=True)
        return lambda r, c: bool(rows(r, c))

    def _c_Subquery(self, node: exp.Subquery) -> Fn:
        rows = self._subquery(node.this, "a scalar subquery", first_only=True)

        def run(r: Row, c: Context) -> SQLValue:
            found = rows(r, c)
            return found[0] if found else None

        return run

    def _subquery(
        self, select: exp.Expression, one_column: str | None, first_only: bool = False
    ) -> Callable[[Row, Context], list[SQLValue]]:
        """The first column of a subquery's rows (or, with ``first_only``, of its first row
        only). An uncorrelated subquery runs once per statement execution; a correlated one
        once per enclosing row."""
        if self.planner is None:
            raise NotSupportedError(f"a subquery is not allowed here: {select.sql()[:60]}")
        frame = Frame(self.scope)
        plan = self.planner.plan_subquery(select, [*self.outer, frame])
        if one_column is not None and plan.width != 1:
            raise ProgrammingError(
                f"sub-select returns {plan.width} columns - expected 1 ({one_column})"
            )
        key = id(plan)

        def execute(c: Context) -> list[SQLValue]:
            rows = c.rows(plan)
            try:
                if first_only:
                    first = next(rows, None)
                    return [] if first is None else [first[0] if first else None]
                return [row[0] for row in rows]
            finally:
                rows.close()

        def with_row(r: Row, c: Context) -> list[SQLValue]:
            # subqueries nested in this one count this row's frame, read it or not
            c.outer.append(r)
            try:
                return execute(c)
            finally:
                c.outer.pop()

        if not frame.correlated:

            def uncorrelated(r: Row, c: Context) -> list[SQLValue]:
                found = c.memo.get(key)
                if found is None:
                    found = c.memo[key] = with_row(r, c)
                return found

            return uncorrelated
        return with_row

    def _like(self, node: exp.Like | exp.ILike, escape: str | None) -> Fn:
        return self._matches(node, lambda p: like_regex(p, escape))

    def _matches(self, node: exp.Binary, regex: Callable[[str], re.Pattern[str]]) -> Fn:
        """``node.this`` matched in full by the pattern ``node.expression`` (as a regex)."""
        value, pattern = self.compile(node.this), self.compile(node.expression)
        cache: dict[str, re.Pattern[str]] = {}

        def run(r: Row, c: Context) -> SQLValue:
            v, p = value(r, c), pattern(r, c)
            if v is None or p is None:
                return None
            text = str(p)  # by its text: a parameter may be unhashable (a list)
            rx = cache.get(text)
            if rx is None:
                rx = cache[text] = regex(text)
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

        def run(r: Row, c: Context) -> SQLValue:
            if subject is not None:
                s = subject(r, c)
                for cond, result in branches:
                    v = cond(r, c)
                    if s is not None and v is not None and compare(s, v) == 0:
                        return result(r, c)
            else:
                for cond, result in branches:
                    if truth(cond(r, c)):
                        return result(r, c)
            return default(r, c) if default else None

        return run

    def _c_If(self, node: exp.If) -> Fn:
        cond, true = self.compile(node.this), self.compile(node.args["true"])
        false = self.compile(node.args["false"]) if node.args.get("false") else None
        return lambda r, c: true(r, c) if truth(cond(r, c)) else (false(r, c) if false else None)

    def _c_Coalesce(self, node: exp.Coalesce) -> Fn:
        parts = [self.compile(node.this), *(self.compile(e) for e in node.expressions)]

        def run(r: Row, c: Context) -> SQLValue:
            for p in parts:
                v = p(r, c)
                if v is not None:
                    return v
            return None

        return run

    def _c_Nullif(self, node: exp.Nullif) -> Fn:
        a, b = self.compile(node.this), self.compile(node.expression)

        def run(r: Row, c: Context) -> SQLValue:
            x, y = a(r, c), b(r, c)
            return None if x is not None and y is not None and compare(x, y) == 0 else x

        return run

    def _unary(self, node: exp.Func, fn: Callable[[SQLValue], SQLValue]) -> Fn:
        inner = self.compile(node.this)

        def run(r: Row, c: Context) -> SQLValue:
            v = inner(r, c)
            if v is None:
                return None
            try:
                return fn(v)
            except (TypeError, ValueError, ArithmeticError) as exc:
                raise functions.cannot_evaluate(node.sql(), (v,), exc) from exc

        return run

    def _c_Abs(self, node: exp.Abs) -> Fn:
        return self._unary(node, lambda v: abs(_number(v)))

    def _c_Length(self, node: exp.Length) -> Fn:
        return self._unary(node, lambda v: len(v) if isinstance(v, str | bytes) else len(_text(v)))

    def _c_Lower(self, node: exp.Lower) -> Fn:
        return self._unary(node, lambda v: _text(v).lower())

    def _c_Upper(self, node: exp.Upper) -> Fn:
        return self._unary(node, lambda v: _text(v).upper())

    def _c_Round(self, node: exp.Round) -> Fn:
        inner = self.compile(node.this)
        digits = self.compile(node.args["decimals"]) if node.args.get("decimals") else None

        def run(r: Row, c: Context) -> SQLValue:
            v = inner(r, c)
            if v is None:
                return None
            # SQLite: the number v reads as, to between 0 and 30 digits
            n = min(max(_int64(digits(r, c) or 0), 0), 30) if digits else 0
            x = _number(v)
            if isinstance(x, float) and not math.isfinite(x):
                return x
            d = decimal.Decimal(repr(x) if isinstance(x, float) else x)
            try:
                q = d.quantize(decimal.Decimal(1).scaleb(-n), rounding=decimal.ROUND_HALF_UP)
            except decimal.InvalidOperation:  # more digits than the context holds: as it is
                return float(d)
            return float(q)

        return run

    def _c_Substring(self, node: exp.Substring) -> Fn:
        inner = self.compile(node.this)
        start = self.compile(node.args["start"]) if node.args.get("start") else None
        length = self.compile(node.args["length"]) if node.args.get("length") else None

        def run(r: Row, c: Context) -> SQLValue:
            v = inner(r, c)
            if v is None:
                return None
            s = v if isinstance(v, str | bytes) else _text(v)
            # SQLite reads the start and length as integers (text by its numeric prefix)
            b = _int_or_none(start(r, c)) if start else 1
            if b is None:
                return None
            begin = b - 1 if b > 0 else max(0, len(s) + b) if b < 0 else 0
            if length is None:
                return s[begin:]
            n = _int_or_none(length(r, c))
            if n is None:
                return None
            return s[begin : begin + n] if b != 0 else s[: max(0, n - 1)]

        return run

    def _c_Concat(self, node: exp.Concat) -> Fn:
        parts = [self.compile(e) for e in node.expressions]
        return lambda r, c: "".join(_text(v) for p in parts if (v := p(r, c)) is not None)

    def _c_Cast(self, node: exp.Cast) -> Fn:
        inner = self.compile(node.this)
        to = node.to.this.name if hasattr(node.to.this, "name") else str(node.to.this)
        convert = try_cast if isinstance(node, exp.TryCast) or node.args.get("safe") else cast
        return lambda r, c: convert(inner(r, c), to)

    def _c_TryCast(self, node: exp.TryCast) -> Fn:
        return self._c_Cast(node)

    def _c_HexString(self, node: exp.HexString) -> Fn:
        value = hex_blob(node.this)
        return lambda r, c: value

    def _c_CurrentTimestamp(self, node: exp.CurrentTimestamp) -> Fn:
        return lambda r, c: dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def _c_CurrentDate(self, node: exp.CurrentDate) -> Fn:
        return lambda r, c: dt.datetime.now(dt.UTC).date()

    def _c_Anonymous(self, node: exp.Anonymous) -> Fn:
        raise NotSupportedError(f"unsupported function: {str(node.this).upper()}")

    def _c_Lambda(self, node: exp.Lambda) -> Fn:
        """``x -> path`` in a function's arguments, which sqlglot parses as a lambda whose
        parameter is ``x`` (a quoted one may be a string: a column if there is one, as SQLite
        reads a double-quoted name)."""
        if len(node.expressions) != 1 or not isinstance(node.expressions[0], exp.Identifier):
            raise NotSupportedError(f"unsupported expression: {node.sql()}")
        param = node.expressions[0]
        try:
            left = self.compile(exp.Column(this=param))
        except ProgrammingError:
            if not param.quoted:
                raise
            left = self.compile(exp.Literal.string(param.name))
        return functions.bind("->", [left, self.compile(node.this)])

    def _c_Window(self, node: exp.Window) -> Fn:
        # window calls are computed by a Window plan node and mapped through ``aggregates``
        raise ProgrammingError(f"misuse of window function {node.this.sql()}")

    def _c_Tuple(self, node: exp.Tuple) -> Fn:
        parts = [self.compile(e) for e in node.expressions]
        return lambda r, c: tuple(p(r, c) for p in parts)

    # -- bitwise operators, as SQLite computes them on 64-bit integers -----------------------

    def _bitwise(self, node: exp.Binary, op: Callable[[int, int], int]) -> Fn:
        return self._binary(node, lambda a, b: _wrap64(op(_int64(a), _int64(b))))

    def _c_BitwiseAnd(self, node: exp.BitwiseAnd) -> Fn:
        return self._bitwise(node, lambda a, b: a & b)

    def _c_BitwiseOr(self, node: exp.BitwiseOr) -> Fn:
        return self._bitwise(node, lambda a, b: a | b)

    def _c_BitwiseXor(self, node: exp.BitwiseXor) -> Fn:
        return self._bitwise(node, lambda a, b: a ^ b)

    def _c_BitwiseLeftShift(self, node: exp.BitwiseLeftShift) -> Fn:
        return self._bitwise(node, _shift_left)

    def _c_BitwiseRightShift(self, node: exp.BitwiseRightShift) -> Fn:
        return self._bitwise(node, lambda a, b: _shift_left(a, -b))

    def _c_BitwiseNot(self, node: exp.BitwiseNot) -> Fn:
        inner = self.compile(node.this)

        def run(r: Row, c: Context) -> SQLValue:
            v = inner(r, c)
            return None if v is None else ~_int64(v)

        return run

    # -- regular expressions (Python's ``re`` syntax) ------------------------------------------

    def _c_RegexpLike(self, node: exp.RegexpLike) -> Fn:
        """``x REGEXP pattern`` / ``REGEXP_LIKE(x, pattern [, flags])``: whether the pattern
        matches somewhere in ``x`` (Python's ``re.search``, as SQLAlchemy's SQLite dialect
        defines REGEXP)."""
        if node.args.get("full_match"):
            raise NotSupportedError(f"unsupported regular expression match: {node.sql()}")
        value, pattern = self.compile(node.this), self.compile(node.expression)
        flags = self.compile(node.args["flag"]) if node.args.get("flag") else None

        def run(r: Row, c: Context) -> SQLValue:
            v, p = value(r, c), pattern(r, c)
            f = flags(r, c) if flags is not None else ""
            if v is None or p is None or f is None:
                return None
            return _regex(_text(p), _text(f)).search(_text(v)) is not None

        return run

    def _c_RegexpReplace(self, node: exp.RegexpReplace) -> Fn:
        """``REGEXP_REPLACE(x, pattern, replacement [, flags])``: every match replaced (as
        MySQL and Oracle; ``\\1`` refers to a group, as in Python's ``re.sub``)."""
        flag_node = node.args.get("position")  # sqlglot reads a 4th argument as a position
        if (flag_node is not None and not _is_text_literal(flag_node)) or any(
            node.args.get(k) is not None for k in ("occurrence", "modifiers")
        ):
            raise NotSupportedError(
                f"regexp_replace takes (string, pattern, replacement [, flags]): {node.sql()}"
            )
        value, pattern = self.compile(node.this), self.compile(node.expression)
        replacement_node = node.args.get("replacement")
        replacement = self.compile(replacement_node) if replacement_node else None
        flags = self.compile(flag_node) if flag_node is not None else None

        def run(r: Row, c: Context) -> SQLValue:
            v, p = value(r, c), pattern(r, c)
            rep = replacement(r, c) if replacement is not None else ""
            f = flags(r, c) if flags is not None else ""
            if v is None or p is None or rep is None or f is None:
                return None
            try:
                return _regex(_text(p), _text(f)).sub(_text(rep), _text(v))
            except re.error as exc:
                raise ProgrammingError(f"bad regexp_replace replacement {rep!r}: {exc}") from exc

        return run


def _int_or_none(v: SQLValue) -> int | None:
    """A function's integer argument as SQLite reads it (NULL stays NULL)."""
    return None if v is None else _int64(v)


def _with_affinity(fn: Fn, to: str) -> Fn:
    return lambda r, c: apply_affinity(fn(r, c), to)


def _negated(fn: Fn) -> Fn:
    def run(r: Row, c: Context) -> SQLValue:
        v = truth(fn(r, c))
        return None if v is None else not v

    return run


# The conversions live in dialect.convert; these names serve the compiler above and the
# modules that import them from here.
_number = to_number_lenient
_num_op = number_op
_text = to_text
_typeof = typeof


# -- bitwise operators and regular expressions ----------------------------------------------------

_INT64 = 1 << 64


def _wrap64(n: int) -> int:
    """``n`` as a 64-bit two's-complement integer (SQLite's integers wrap in bit operations)."""
    return (n + (1 << 63)) % _INT64 - (1 << 63)


def _int64(v: SQLValue) -> int:
    """The 64-bit integer SQLite's bit operators read ``v`` as: a number truncated toward
    zero and clamped (an integer beyond 64 bits, which SQLite would hold as a REAL, too), text
    by its numeric prefix."""
    n = _number(v)
    if n != n:  # NaN
        return 0
    if n >= 1 << 63:
        return (1 << 63) - 1
    if n <= -(1 << 63):
        return -(1 << 63)
    return int(n)


def _shift_left(a: int, b: int) -> int:
    """``a << b`` as SQLite computes it: a negative ``b`` shifts right (arithmetically), and
    shifting by 64 bits or more leaves 0 (or -1 for a negative ``a`` shifted right)."""
    if b >= 64:
        return 0
    if b <= -64:
        return -1 if a < 0 else 0
    return _wrap64(a << b) if b >= 0 else a >> -b


_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


@functools.lru_cache(maxsize=256)
def _regex(pattern: str, flags: str) -> re.Pattern[str]:
    """``pattern`` compiled with ``flags`` (letters: i, c (case-sensitive), m, s, x; g is
    accepted: replacements are global anyway); ``ProgrammingError`` for a bad pattern."""
    bits = 0
    for letter in _text(flags):
        if letter == "c":
            bits &= ~re.IGNORECASE
        elif letter in _REGEX_FLAGS:
            bits |= _REGEX_FLAGS[letter]
        elif letter != "g":
            raise ProgrammingError(f"unknown regular expression flag {letter!r}")
    try:
        return re.compile(_text(pattern), bits)
    except re.error as exc:
        raise ProgrammingError(f"bad regular expression {pattern!r}: {exc}") from exc


def _is_text_literal(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and node.is_string
