"""Alembic support: migrations run against ``strata://`` URLs.

Schema changes in Strata apply at once (not inside a transaction), and ALTER TABLE adds or
renames columns only; anything else goes through Alembic's batch mode (``render_as_batch``),
which copies the table.
"""

from __future__ import annotations

from alembic.ddl.impl import DefaultImpl


class StrataImpl(DefaultImpl):
    """Alembic's operations for the ``strata`` dialect."""

    __dialect__ = "strata"
    transactional_ddl = False
