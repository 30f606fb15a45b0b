"""Finding a table by a name that may be qualified ``temp.`` or ``main.``: a connection's
catalog lists its temporary tables (dialect/temp.py) first, so an unqualified name finds a
temporary table before a stored one of the same name, as SQLite searches its ``temp`` schema
first."""

from __future__ import annotations

from sqlglot import exp

from dialect.catalog import Catalog, Table
from dialect.layout import TEMP_BASE


def named_table(catalog: Catalog, node: exp.Table) -> Table | None:
    """The table ``node`` names: with ``temp.`` a temporary one only, with ``main.`` a stored
    one only, unqualified the first of that name."""
    schema = node.db.lower()
    if schema not in ("temp", "main"):
        return catalog.table(node.name)
    temp = schema == "temp"
    lowered = node.name.lower()
    for t in catalog.tables:
        if t.name.lower() == lowered and (t.id >= TEMP_BASE) == temp:
            return t
    return None
