"""Choosing how to read one table for the conditions on it: primary-key gets, a primary-key
range scan, a secondary-index scan, or a full scan.

The conditions are still applied to every row read, so an access only has to return a
superset of the matching rows. Key values are expressions evaluated when the plan runs (they
may read parameters, the rows of enclosing queries, or the left row of a lookup join), never
the table being read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlglot import exp

from dialect.catalog import Column, Table
from dialect.expr import Fn
from dialect.plan import nodes as n
from dialect.tablerows import RowCodec

#: compiles an expression that does not read the table being accessed; None if it does
Outside = Callable[[exp.Expression], Fn | None]


def conjuncts(where: exp.Expression | None) -> list[exp.Expression]:
    """The AND-ed parts of a condition."""
    if where is None:
        return []
    if isinstance(where, exp.Paren):
        return conjuncts(where.this)
    if isinstance(where, exp.And):
        return conjuncts(where.this) + conjuncts(where.expression)
    return [where]


@dataclass
class _Bounds:
    eq: dict[str, list[tuple[Fn, str]]] = field(default_factory=dict)
    low: dict[str, n.Bound] = field(default_factory=dict)
    high: dict[str, n.Bound] = field(default_factory=dict)


_FLIPS: dict[type[exp.Expression], type[exp.Expression]] = {
    exp.GT: exp.LT,
    exp.GTE: exp.LTE,
    exp.LT: exp.GT,
    exp.LTE: exp.GTE,
    exp.EQ: exp.EQ,
}
_OPS: dict[type[exp.Expression], str] = {exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}


def _column_of(node: exp.Expression, alias: str, table: Table) -> Column | None:
    if not isinstance(node, exp.Column) or isinstance(node.this, exp.Star):
        return None
    if node.table and node.table.lower() != alias.lower():
        return None
    return table.column(node.name)


def _bounds(parts: Sequence[exp.Expression], alias: str, table: Table, outside: Outside) -> _Bounds:
    """Equality and range bounds per column, from the parts that compare a column of the
    table with an expression that does not read it."""
    b = _Bounds()
    for part in parts:
        kind: type[exp.Expression] = type(part)
        if kind in _FLIPS:
            left, right = part.this, part.expression
            col = _column_of(left, alias, table)
            fn = outside(right) if col is not None else None
            if fn is None:
                col = _column_of(right, alias, table)
                fn = outside(left) if col is not None else None
                if fn is None:
                    continue
                left, right, kind = right, left, _FLIPS[kind]
            assert col is not None
            name, text = col.name.lower(), right.sql()
            if kind is exp.EQ:
                b.eq[name] = [(fn, text)]
                continue
            bound = n.Bound(fn, kind in (exp.GTE, exp.LTE), f"{col.name} {_OPS[kind]} {text}")
            (b.low if kind in (exp.GT, exp.GTE) else b.high)[name] = bound
        elif isinstance(part, exp.In) and not part.args.get("query") and not part.args.get("field"):
            col = _column_of(part.this, alias, table)
            if col is None or not part.expressions:
                continue
            fns = [(outside(e), e.sql()) for e in part.expressions]
            if all(fn is not None for fn, _ in fns):
                b.eq[col.name.lower()] = [(fn, t) for fn, t in fns if fn is not None]
        elif isinstance(part, exp.Between):
            col = _column_of(part.this, alias, table)
            if col is None:
                continue
            low, high = outside(part.args["low"]), outside(part.args["high"])
            if low is None or high is None:
                continue
            b.low[col.name.lower()] = n.Bound(low, True, f"{col.name} >= {part.args['low'].sql()}")
            b.high[col.name.lower()] = n.Bound(
                high, True, f"{col.name} <= {part.args['high'].sql()}"
            )
    return b


def _walk(
    columns: Sequence[Column], b: _Bounds
) -> tuple[list[tuple[Fn, str]], list[tuple[Fn, str]], Column | None]:
    """Leading single-value equalities, then (optionally) the values of one multi-value IN,
    then the column that may carry a range."""
    prefix: list[tuple[Fn, str]] = []
    for i, col in enumerate(columns):
        values = b.eq.get(col.name.lower())
        if values is None:
            return prefix, [], col
        if len(values) != 1:
            return prefix, values, columns[i + 1] if i + 1 < len(columns) else None
        prefix.append(values[0])
    return prefix, [], None


def _range(
    columns: tuple[Column, ...], prefix: list[tuple[Fn, str]], col: Column | None, b: _Bounds
) -> n.KeyRange:
    low = b.low.get(col.name.lower()) if col is not None else None
    high = b.high.get(col.name.lower()) if col is not None else None
    text = [f"{c.name} = {t}" for c, (_, t) in zip(columns, prefix, strict=False)]
    text += [bound.text for bound in (low, high) if bound is not None]
    return n.KeyRange(columns, tuple(fn for fn, _ in prefix), low, high, ", ".join(text))


def choose(
    codec: RowCodec, alias: str, parts: Sequence[exp.Expression], outside: Outside
) -> n.Access:
    """The cheapest way known here to read the rows of ``codec.table`` that satisfy every
    condition in ``parts``."""
    table = codec.table
    b = _bounds(parts, alias, table, outside) if parts else _Bounds()
    pk = table.pk_columns
    prefix, fanout, range_col = _walk(pk, b)
    if fanout and len(prefix) + 1 == len(pk):
        keys = tuple((*(fn for fn, _ in prefix), fn) for fn, _ in fanout)
        return n.KeyGet(codec, keys)
    if not fanout and len(prefix) == len(pk):
        return n.KeyGet(codec, (tuple(fn for fn, _ in prefix),))
    has_range = range_col is not None and (
        range_col.name.lower() in b.low or range_col.name.lower() in b.high
    )
    if (prefix or has_range) and not fanout:
        return n.TableScan(codec, _range(pk, prefix, range_col, b))
    best: tuple[int, n.Access] | None = None
    for index in table.indexes:
        columns = tuple(c for name in index.columns if (c := table.column(name)) is not None)
        iprefix, ifan, icol = _walk(columns, b)
        if ifan:
            continue
        ranged = icol is not None and (icol.name.lower() in b.low or icol.name.lower() in b.high)
        score = 2 * len(iprefix) + ranged
        if score and (best is None or score > best[0]):
            best = (score, n.IndexScan(codec, index, _range(columns, iprefix, icol, b)))
    if best is not None:
        return best[1]
    return n.TableScan(codec)
