"""Stored SQL text that follows renames: CHECK constraints, whose column references the
catalog keeps by position and id, and views, whose table and column names are rewritten when
a table or column they name is renamed (as SQLite does since 3.26, legacy_alter_table off).

Text that does not parse, or that a rename does not touch, is returned unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import traverse_scope

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
