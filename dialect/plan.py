"""Choosing how to read one table for a WHERE clause: primary-key gets, a primary-key range
scan, a secondary-index scan, or a full scan. The whole WHERE is still applied to every row
read, so a plan only has to be a superset of the matching rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlglot import exp

from dialect.catalog import Column, Index, Table
from dialect.convert import key_value
from dialect.errors import DataError
from dialect.keycodec import encode_key, prefix_end
from dialect.layout import index_prefix, table_prefix
from dialect.values import SQLValue, coerce

Evaluate = Callable[[exp.Expression], SQLValue]


@dataclass
class Access:
    """How rows are read: ``gets`` (full keys), or one scan of ``[start, end)`` over the table
    (``index`` None) or over an index whose entries lead to rows."""

    kind: str  # "get", "range", "index", "full", "empty"
    gets: list[bytes] = field(default_factory=list)
    start: bytes | None = None
    end: bytes | None = None
    index: Index | None = None
    reverse: bool = False
    detail: str = ""

    def describe(self, table: Table) -> str:
        if self.kind == "get":
            return f"GET {len(self.gets)} row(s) of {table.name} by primary key"
        if self.kind == "range":
            return f"SCAN {table.name} primary-key range {self.detail}"
        if self.kind == "index":
            assert self.index is not None
            return f"SCAN index {self.index.name} {self.detail}, then GET rows of {table.name}"
        if self.kind == "empty":
            return f"NOTHING to read from {table.name} ({self.detail})"
        return f"SCAN {table.name} (full table)"


@dataclass
class _Bounds:
    eq: dict[str, list[SQLValue]] = field(default_factory=dict)
    low: dict[str, tuple[SQLValue, bool]] = field(default_factory=dict)
    high: dict[str, tuple[SQLValue, bool]] = field(default_factory=dict)


def conjuncts(where: exp.Expression | None) -> list[exp.Expression]:
    """The AND-ed parts of a condition."""
    if where is None:
        return []
    if isinstance(where, exp.Paren):
        return conjuncts(where.this)
    if isinstance(where, exp.And):
        return conjuncts(where.this) + conjuncts(where.expression)
    return [where]


def _column_of(node: exp.Expression, alias: str, table: Table) -> Column | None:
    if not isinstance(node, exp.Column) or isinstance(node.this, exp.Star):
        return None
    if node.table and node.table.lower() != alias.lower():
        return None
    return table.column(node.name)


def _constant(node: exp.Expression) -> bool:
    return not any(True for _ in node.find_all(exp.Column, exp.Select, exp.Subquery))


def _bounds(
    parts: Sequence[exp.Expression], alias: str, table: Table, evaluate: Evaluate
) -> _Bounds | None:
    """Equality and range bounds per column; None if some bound can match nothing."""
    b = _Bounds()
    flips: dict[type[exp.Expression], type[exp.Expression]] = {
        exp.GT: exp.LT,
        exp.GTE: exp.LTE,
        exp.LT: exp.GT,
        exp.LTE: exp.GTE,
        exp.EQ: exp.EQ,
    }
    for part in parts:
        kind: type[exp.Expression] = type(part)
        if kind in flips:
            left, right = part.this, part.expression
            col = _column_of(left, alias, table)
            if col is None or not _constant(right):
                col = _column_of(right, alias, table)
                if col is None or not _constant(left):
                    continue
                left, right, kind = right, left, flips[kind]
            try:
                value = key_value(coerce(evaluate(right), col), col.type)
            except DataError:
                if kind is exp.EQ:
                    return None
                continue
            if value is None:
                return None  # a comparison with NULL is never true
            name = col.name.lower()
            if kind is exp.EQ:
                b.eq[name] = [value]
            elif kind in (exp.GT, exp.GTE):
                b.low[name] = (value, kind is exp.GTE)
            else:
                b.high[name] = (value, kind is exp.LTE)
        elif isinstance(part, exp.In) and not part.args.get("query"):
            col = _column_of(part.this, alias, table)
            if col is None or not all(_constant(e) for e in part.expressions):
                continue
            values = []
            for e in part.expressions:
                try:
                    v = key_value(coerce(evaluate(e), col), col.type)
                except DataError:
                    continue
                if v is not None:
                    values.append(v)
            b.eq[col.name.lower()] = values
        elif isinstance(part, exp.Between):
            col = _column_of(part.this, alias, table)
            low, high = part.args["low"], part.args["high"]
            if col is None or not _constant(low) or not _constant(high):
                continue
            try:
                lo = key_value(coerce(evaluate(low), col), col.type)
                hi = key_value(coerce(evaluate(high), col), col.type)
            except DataError:
                continue
            if lo is None or hi is None:
                return None
            b.low[col.name.lower()] = (lo, True)
            b.high[col.name.lower()] = (hi, True)
    return b


def _walk(
    columns: Sequence[str], b: _Bounds
) -> tuple[list[SQLValue], list[list[SQLValue]], str | None]:
    """Leading single-value equalities, then (optionally) one multi-value IN, then the column
    that may carry a range."""
    prefix: list[SQLValue] = []
    for i, name in enumerate(columns):
        values = b.eq.get(name.lower())
        if values is None:
            return prefix, [], name.lower()
        if len(values) != 1:
            rest = columns[i + 1] if i + 1 < len(columns) else None
            return prefix, [[v] for v in values], rest.lower() if rest else None
        prefix.append(values[0])
    return prefix, [], None


def _range(
    base: bytes, prefix: list[SQLValue], col: str | None, b: _Bounds
) -> tuple[bytes, bytes | None, str]:
    start = base + encode_key(prefix)
    end = prefix_end(start)
    detail = []
    if col is not None and col in b.low:
        value, inclusive = b.low[col]
        key = base + encode_key([*prefix, value])
        start = key if inclusive else (prefix_end(key) or key)
        detail.append(f"{col} {'>=' if inclusive else '>'} {value!r}")
    if col is not None and col in b.high:
        value, inclusive = b.high[col]
        key = base + encode_key([*prefix, value])
        end = prefix_end(key) if inclusive else key
        detail.append(f"{col} {'<=' if inclusive else '<'} {value!r}")
    if prefix:
        detail.insert(0, f"key prefix of {len(prefix)} column(s)")
    return start, end, ", ".join(detail)


def choose(table: Table, alias: str, where: exp.Expression | None, evaluate: Evaluate) -> Access:
    """The cheapest way this module knows to read the rows of ``table`` matching ``where``;
    a full scan when a bound cannot be encoded as a key (no stored key could equal it)."""
    try:
        return _choose(table, alias, where, evaluate)
    except ValueError:
        base = table_prefix(table.id)
        return Access("full", start=base, end=prefix_end(base))


def _choose(table: Table, alias: str, where: exp.Expression | None, evaluate: Evaluate) -> Access:
    parts = conjuncts(where)
    b = _bounds(parts, alias, table, evaluate) if parts else _Bounds()
    if b is None:
        return Access("empty", detail="a condition can never be true")
    base = table_prefix(table.id)
    prefix, fanout, range_col = _walk(table.pk, b)
    if fanout and len(prefix) + 1 == len(table.pk):
        keys = sorted({base + encode_key([*prefix, *v]) for v in fanout})
        return Access("get", gets=keys)
    if not fanout and len(prefix) == len(table.pk):
        return Access("get", gets=[base + encode_key(prefix)])
    if (prefix or (range_col and (range_col in b.low or range_col in b.high))) and not fanout:
        start, end, detail = _range(base, prefix, range_col, b)
        return Access("range", start=start, end=end, detail=detail)
    best: tuple[int, Access] | None = None
    for index in table.indexes:
        iprefix, ifan, icol = _walk(index.columns, b)
        if ifan:
            continue
        has_range = icol is not None and (icol in b.low or icol in b.high)
        score = 2 * len(iprefix) + has_range
        if score and (best is None or score > best[0]):
            start, end, detail = _range(index_prefix(index.id), iprefix, icol, b)
            best = (score, Access("index", start=start, end=end, index=index, detail=detail))
    if best is not None:
        return best[1]
    return Access("full", start=base, end=prefix_end(base))
