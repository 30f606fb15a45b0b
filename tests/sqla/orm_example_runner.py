"""Runs one of SQLAlchemy's ORM examples with its engines swapped (tests/sqla/test_orm_examples.py).

Usage: python -m tests.sqla.orm_example_runner BACKEND DBDIR EXAMPLES_ROOT TARGET [ARG…]

BACKEND is ``sqlite`` (the example as written) or ``strata``: every ``sqlite://`` engine becomes
``strata:///DBDIR/dbN``, a fresh local directory per engine, as each ``sqlite://`` engine is a
fresh in-memory database; a sqlite file URL becomes one directory per file, the same for each
engine on it. ``echo`` is forced off in both: echo log lines differ by dialect. The one
sqlite-only statement an example sends, ``ATTACH DATABASE "file" AS name``
(sharding/separate_schema_translates makes its shards' schemas so), becomes
``CREATE SCHEMA IF NOT EXISTS name`` on Strata, whose schemas are namespaces of one database.
TARGET is a script path relative to EXAMPLES_ROOT/examples, run as ``__main__``, or
``-m package.module`` to run a module of the examples package (versioned_history's unittest,
the performance suites), each followed by its own arguments.
"""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path
from typing import Any

import sqlalchemy
import sqlalchemy.engine
from sqlalchemy import event

ATTACH = re.compile(r"""^\s*ATTACH\s+(?:DATABASE\s+)?(?:'[^']*'|"[^"]*")\s+AS\s+(\w+)\s*$""", re.I)


def _attach_as_schema(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> tuple[str, Any]:
    """``ATTACH DATABASE … AS name``, which takes effect at once outside any transaction:
    ``CREATE SCHEMA IF NOT EXISTS name`` committed on a connection of its own."""
    m = ATTACH.match(statement)
    if m is None:
        return statement, parameters
    raw = conn.engine.raw_connection()
    try:
        raw.cursor().execute(f"CREATE SCHEMA IF NOT EXISTS {m.group(1)}")
        raw.commit()
    finally:
        raw.close()
    return "SELECT 1", parameters


def main(argv: list[str]) -> None:
    backend, dbdir, root, *target = argv
    real_create_engine = sqlalchemy.create_engine
    directories: dict[str, Path] = {}

    def strata_url(database: str) -> str:
        # An in-memory database is new at each engine; a file is the same one at each.
        key = f":memory:{len(directories)}" if database in ("", ":memory:") else database
        if key not in directories:
            directories[key] = Path(dbdir) / f"db{len(directories) + 1}"
        return f"strata:///{directories[key]}"

    def create_engine(url: Any, *args: Any, **kwargs: Any) -> sqlalchemy.Engine:
        kwargs["echo"] = False
        parsed = sqlalchemy.make_url(url)
        if backend != "strata" or parsed.get_backend_name() != "sqlite":
            return real_create_engine(url, *args, **kwargs)
        engine = real_create_engine(strata_url(parsed.database or ""), *args, **kwargs)
        event.listen(engine, "before_cursor_execute", _attach_as_schema, retval=True)
        return engine

    sqlalchemy.create_engine = create_engine  # type: ignore[assignment]
    sqlalchemy.engine.create_engine = create_engine  # type: ignore[assignment]
    sys.path.insert(0, root)
    if target[0] == "-m":
        sys.argv = [target[1], *target[2:]]
        runpy.run_module(target[1], run_name="__main__", alter_sys=True)
    else:
        script = Path(root) / "examples" / target[0]
        sys.argv = [str(script), *target[1:]]
        sys.path.insert(0, str(script.parent))
        runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
