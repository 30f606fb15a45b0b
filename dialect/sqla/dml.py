"""Strata's INSERT construct for SQLAlchemy: the standard :func:`sqlalchemy.insert` plus
SQLite's upsert clauses, ``on_conflict_do_nothing()`` and ``on_conflict_do_update()``
(docs/sqlalchemy.md#upserts). Strata runs SQLite's ``INSERT … ON CONFLICT`` syntax, so the
construct is SQLAlchemy's SQLite one, rendered by :class:`dialect.sqla.base.StrataCompiler`."""

from __future__ import annotations

from sqlalchemy.dialects.sqlite import dml as sqlite_dml
from sqlalchemy.sql._typing import _DMLTableArgument

__all__ = ("Insert", "insert")


class Insert(sqlite_dml.Insert):
    """An INSERT with ``on_conflict_do_nothing(index_elements=…)`` and
    ``on_conflict_do_update(index_elements=…, set_=…, where=…)``; ``excluded`` names the row
    proposed for insertion."""

    inherit_cache = True


def insert(table: _DMLTableArgument) -> Insert:
    """An :class:`Insert` into ``table`` (a :class:`sqlalchemy.Table` or mapped class)."""
    return Insert(table)
