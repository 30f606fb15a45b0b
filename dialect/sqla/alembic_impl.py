"""Alembic support: migrations run against ``strata://`` URLs.

Schema changes in Strata are transactional (docs/sql.md#transactions), so a migration that
fails leaves nothing half applied: Alembic runs each migration (or all of them) in one
transaction, and the version table moves with it.

Strata's ALTER TABLE adds (with a constant default), drops and renames columns and renames
tables; anything else (a column's type, nullability or default, constraints) goes through
Alembic's batch mode (``render_as_batch=True``), which copies the table as on SQLite: CREATE
TABLE _alembic_tmp_name, INSERT … SELECT, DROP TABLE, ALTER TABLE … RENAME TO.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alembic.ddl.impl import DefaultImpl
from sqlalchemy import schema, sql

if TYPE_CHECKING:
    from alembic.operations.batch import BatchOperationsImpl

#: batch operations Strata runs in place whatever their arguments
_IN_PLACE = frozenset({"create_index", "drop_index", "drop_column", "rename_table"})


class StrataImpl(DefaultImpl):
    """Alembic's operations for the ``strata`` dialect."""

    __dialect__ = "strata"
    transactional_ddl = True

    def requires_recreate_in_batch(self, batch_op: BatchOperationsImpl) -> bool:
        """Whether the batch needs the table copied: yes unless ALTER TABLE can do each of
        its operations (add a plain column, drop one, rename one, indexes)."""
        return not all(_in_place(name, args, kw) for name, args, kw in batch_op.batch)


def _in_place(name: str, args: tuple[Any, ...], kw: dict[str, Any]) -> bool:  # Any: Alembic's
    """Whether Strata's ALTER TABLE does the batch operation ``name`` without a copy."""
    if name in _IN_PLACE:
        return True
    if name == "add_column":
        column: schema.Column[Any] = args[1]
        default = column.server_default
        constant = default is None or (
            isinstance(default, schema.DefaultClause)
            and not isinstance(default.arg, sql.ClauseElement)
        )
        plain = not (column.primary_key or column.unique or column.constraints)
        if not column.nullable and default is None:
            return False  # NOT NULL needs a default to fill the rows there are
        return constant and plain and not column.computed and not column.identity
    if name == "alter_column":  # a rename only
        return (
            kw.get("nullable") is None
            and kw.get("server_default", False) is False
            and kw.get("type_") is None
            and kw.get("autoincrement") is None
            and kw.get("comment", False) is False
        )
    return False
