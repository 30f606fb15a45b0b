"""CREATE OR REPLACE VIEW (SQLite has no OR REPLACE: compared with DROP VIEW + CREATE VIEW
there)."""

from __future__ import annotations

import pytest

import dialect
from tests.dialect.oracle import open_pair


def test_create_or_replace_view_replaces_the_query() -> None:
    with open_pair(
        "CREATE TABLE t (a INTEGER, b TEXT)", "INSERT INTO t VALUES (1, 'x'), (2, 'y')"
    ) as (oracle, strata):
        for query in ("SELECT a FROM t", "SELECT b, a * 10 AS ten FROM t WHERE a > 1"):
            oracle.execute("DROP VIEW IF EXISTS v")
            oracle.execute(f"CREATE VIEW v AS {query}")
            strata.execute(f"CREATE OR REPLACE VIEW v AS {query}")
            sql = "SELECT * FROM v"
            assert strata.execute(sql).fetchall() == oracle.execute(sql).fetchall()
            names = [d[0] for d in strata.execute(sql).description]
            assert names == [d[0] for d in oracle.execute(sql).description]
        view = strata.catalog.view("v")
        assert view is not None and "ten" in view.sql
        assert len(strata.catalog.views) == 1


def test_create_or_replace_view_refusals(conn: dialect.Connection) -> None:
    conn.execute("CREATE TABLE t (a INTEGER)")
    conn.execute("CREATE VIEW v AS SELECT a FROM t")
    with pytest.raises(dialect.ProgrammingError, match="already exists"):
        conn.execute("CREATE OR REPLACE VIEW t AS SELECT 1")
    with pytest.raises(dialect.NotSupportedError, match="OR REPLACE TABLE"):
        conn.execute("CREATE OR REPLACE TABLE u (a INTEGER)")
    with pytest.raises(dialect.ProgrammingError, match="already exists"):
        conn.execute("CREATE VIEW v AS SELECT 2")
