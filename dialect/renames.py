"""Stored SQL text that follows renames: CHECK constraints, whose column references the
catalog keeps by position and id, and views, whose table and column names are rewritten when
a table or column they name is renamed (as SQLite does since 3.26, legacy_alter_table off).

Text that does not parse, or that a rename does not touch, is returned unchanged.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import traverse_scope
from sqlglot.tokenizer_core import TokenType

from dialect.parse import stored_text


def _parse(sql: str) -> exp.Expression:
    return cast(exp.Expression, sqlglot.parse_one(sql, read="sqlite"))


def column_references(sql: str) -> list[str]:
    """The column names ``sql`` refers to, one per reference, in a fixed order (the order
    :func:`with_column_names` takes names in)."""
    return [c.name for c in _parse(sql).find_all(exp.Column)]


@functools.lru_cache(maxsize=1024)
def _with_column_names(sql: str, names: tuple[str | None, ...]) -> str:
    tree = _parse(sql)
    refs = list(tree.find_all(exp.Column))
    if len(refs) != len(names):
        raise ValueError(f"{sql!r} has {len(refs)} column references, not {len(names)}")
    if all((n is None or c.name == n) and not c.table for c, n in zip(refs, names, strict=True)):
        return sql
    for ref, name in zip(refs, names, strict=True):
        ref.set("table", None)
        if name is not None and ref.name != name:
            ref.set("this", exp.to_identifier(name))
    return stored_text(tree)


def with_column_names(sql: str, names: list[str | None]) -> str:
    """``sql`` with its i-th column reference (in :func:`column_references` order) naming
    ``names[i]`` (None: left as it is) and no table qualifiers."""
    return _with_column_names(sql, tuple(names))


def view_with_table_renamed(sql: str, old: str, new: str, schema: str = "main") -> str:
    """A view's query with its references to table ``old`` (of schema ``schema``; unqualified
    names mean ``main``) naming ``new`` instead."""
    try:
        tree = _parse(sql)
    except SqlglotError:
        return sql
    lowered = old.lower()
    if any(cte.alias_or_name.lower() == lowered for cte in tree.find_all(exp.CTE)):
        return sql  # a CTE of that name hides the table
    changed = False
    bare = False  # the table is named without an alias, so `old.col` means the table
    for table in tree.find_all(exp.Table):
        if table.name.lower() == lowered and _in_schema(table, schema):
            table.set("this", exp.to_identifier(new))
            changed = True
            bare = bare or not table.alias
    aliased_as_old = any(
        a.alias.lower() == lowered for a in tree.find_all(exp.TableAlias) if a.alias
    )
    if bare and not aliased_as_old:
        for column in tree.find_all(exp.Column):
            if column.table.lower() == lowered:
                column.set("table", exp.to_identifier(new))
    return stored_text(tree) if changed else sql


def _in_schema(table: exp.Table, schema: str) -> bool:
    """Whether ``table`` names a table of schema ``schema`` (unqualified: ``main``)."""
    return (table.db or "main").lower() == schema.lower()


def view_with_column_renamed(
    sql: str,
    table: str,
    old: str,
    new: str,
    elsewhere: Callable[[str], bool],
    schema: str = "main",
) -> str:
    """A view's query with its references to column ``old`` of table ``table`` naming
    ``new``. An unqualified reference is taken to mean the table's column when the table is
    the only source of its SELECT, or when no other table has a column ``old``
    (``elsewhere(name)`` tells)."""
    try:
        tree = _parse(sql)
        scopes = traverse_scope(tree)
    except SqlglotError:
        return sql
    table_l, old_l = table.lower(), old.lower()
    seen: set[int] = set()
    changed = False
    for scope in scopes:  # innermost first: a reference is decided by its own SELECT
        mine = {
            alias.lower()
            for alias, source in scope.sources.items()
            if isinstance(source, exp.Table)
            and source.name.lower() == table_l
            and _in_schema(source, schema)
        }
        for column in scope.columns:
            if id(column) in seen:
                continue
            seen.add(id(column))
            if not mine or column.name.lower() != old_l:
                continue
            if column.table:
                ours = column.table.lower() in mine
            else:
                ours = len(scope.sources) == 1 or not elsewhere(old)
            if ours:
                column.set("this", exp.to_identifier(new))
                changed = True
    return stored_text(tree) if changed else sql


# -- CHECK text as written ------------------------------------------------------------------------


def check_source(node: exp.Expression, statement: str | None) -> str | None:
    """The text of the CHECK expression ``node`` as written in ``statement`` (the SQL that was
    parsed into it): what is between the parentheses after CHECK. None when it cannot be
    located, or when it does not read back as the same column references."""
    if not statement:
        return None
    starts = [m["start"] for m in (n.meta for n in node.walk()) if "start" in m]
    if not starts:
        return None
    first = min(starts)
    try:
        tokens = sqlglot.Dialect.get_or_raise("sqlite").tokenize(statement)
    except SqlglotError:
        return None
    i = next((k for k, t in enumerate(tokens) if t.start == first), None)
    if i is None:
        return None
    j = next(
        (
            k
            for k in range(i - 1, -1, -1)
            if tokens[k].text.upper() == "CHECK" and tokens[k + 1].token_type == TokenType.L_PAREN
        ),
        None,
    )
    if j is None:
        return None
    depth = 0
    for k in range(j + 1, len(tokens)):
        kind = tokens[k].token_type
        depth += kind == TokenType.L_PAREN
        depth -= kind == TokenType.R_PAREN
        if depth == 0:
            text = statement[tokens[j + 1].end + 1 : tokens[k].start].strip()
            same = _references(text) == [c.name for c in node.find_all(exp.Column)]
            return text if same else None
    return None


def _references(sql: str) -> list[str] | None:
    try:
        return column_references(sql)
    except SqlglotError:
        return None


@functools.lru_cache(maxsize=1024)
def _source_with_column_names(source: str, names: tuple[str | None, ...]) -> str | None:
    try:
        refs = [c.this for c in _parse(source).find_all(exp.Column)]
    except SqlglotError:
        return None
    if len(refs) != len(names) or not all("start" in r.meta for r in refs):
        return None
    out = source
    spans = sorted(
        ((r.meta["start"], r.meta["end"], r, n) for r, n in zip(refs, names, strict=True)),
        key=lambda s: s[0],
        reverse=True,
    )
    for start, end, ident, name in spans:
        if name is None or ident.name == name:
            continue
        quote = ident.quoted or not _PLAIN_NAME.fullmatch(name)
        new = '"' + name.replace('"', '""') + '"' if quote else name
        out = out[:start] + new + out[end + 1 :]
    return out


def source_with_column_names(source: str, names: list[str | None]) -> str | None:
    """CHECK text as written with its i-th column reference (in :func:`column_references`
    order) naming ``names[i]`` (None: as it is), the rest of the text untouched; None if the
    references cannot be located."""
    return _source_with_column_names(source, tuple(names))


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
