"""Finding a table by a name that may be qualified ``temp.`` or ``main.``: a connection's
catalog lists its temporary tables (dialect/temp.py) first, so an unqualified name finds a
temporary table before a stored one of the same name, as SQLite searches its ``temp`` schema
first."""

from __future__ import annotations

from sqlglot import exp

from dialect.catalog import Catalog, Table
from dialect.layout import TEMP_BASE
from dialect.schemas import MAIN, schema_of


def named_table(catalog: Catalog, node: exp.Table) -> Table | None:
    """The table ``node`` names: with ``temp.`` a temporary one only, with ``main.`` a stored
    one of the default schema only, unqualified the first of that name in the default schema
    (temporary tables are listed there), otherwise one in the schema named."""
    schema = node.db.lower()
    if schema not in ("temp", MAIN):
        return catalog.table(node.name, schema_of(catalog, node))
    temp = schema == "temp"
    lowered = node.name.lower()
    for t in catalog.tables:
        if t.name.lower() == lowered and t.schema == MAIN and (t.id >= TEMP_BASE) == temp:
            return t
    return None
