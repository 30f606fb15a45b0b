"""Named schemas: namespaces of tables, views and indexes inside one database, as
PostgreSQL has them (docs/sql.md#schemas). A name is ``table`` or ``schema.table``; an
unqualified name means the default schema ``main``."""

from __future__ import annotations

from sqlglot import exp

from dialect.catalog import MAIN, Catalog

__all__ = ["MAIN", "RESERVED", "qualified", "schema_of"]
from dialect.errors import ProgrammingError

#: names CREATE SCHEMA refuses: ``temp`` is where temporary tables live
RESERVED = frozenset({"temp", "temporary"})


def schema_of(catalog: Catalog, node: exp.Expression) -> str:
    """The schema (as created) the name ``node`` is in; ``ProgrammingError`` if it names a
    schema that does not exist. A connection's temporary objects (dialect/temp.py) are listed
    in its catalog under ``main``, so ``temp`` gives ``main``: dialect/tempnames.py tells
    them apart."""
    written = node.text("db")
    if not written or written.lower() == "temp":  # temporary objects are listed under main
        return MAIN
    found = catalog.schema(written)
    if found is None:
        raise ProgrammingError(f"no such schema: {written}")
    return found


def qualified(schema: str, name: str) -> str:
    """``name`` as written in messages: qualified unless in ``main``."""
    return name if schema.lower() == MAIN else f"{schema}.{name}"
