"""Named schemas (CREATE SCHEMA; ``schema.table`` names). sqlite3 is the oracle where it has
the same syntax: an ATTACH-ed database named like the schema plays the schema there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import dialect
from dialect.catalog import decode_catalog, encode_catalog
from tests.dialect.oracle import Pair, both, both_fail, open_pair


@pytest.fixture
def pair() -> Iterator[Pair]:
    """sqlite3 with ``s`` and ``u`` attached; Strata with schemas ``s`` and ``u`` created."""
    with open_pair() as (oracle, strata):
        for name in ("s", "u"):
            oracle.execute(f"ATTACH ':memory:' AS {name}")
            strata.execute(f"CREATE SCHEMA {name}")
        for db in (oracle, strata):
            db.execute("CREATE TABLE s.t (id INTEGER PRIMARY KEY, v TEXT)")
            db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, sid INT)")
            db.execute("CREATE TABLE u.w (sid INT, n INT)")
            db.execute("INSERT INTO s.t VALUES (1, 's1'), (2, 's2'), (3, 's3')")
            db.execute("INSERT INTO main.t VALUES (1, 'm1', 2), (2, 'm2', 3), (3, 'm3', NULL)")
            db.execute("INSERT INTO u.w VALUES (1, 10), (2, 20), (2, 21)")
            db.commit()
        yield oracle, strata


def test_same_table_name_in_two_schemas(pair: Pair) -> None:
    both(pair, "SELECT id, v FROM s.t ORDER BY id")
    both(pair, "SELECT id, v FROM t ORDER BY id")
    both(pair, "SELECT id, v FROM main.t ORDER BY id")
    both(pair, "SELECT s.t.v FROM s.t WHERE s.t.id = 2")


def test_joins_and_subqueries_across_schemas(pair: Pair) -> None:
    both(pair, "SELECT a.v, b.v FROM t a JOIN s.t b ON a.sid = b.id ORDER BY a.id")
    both(pair, "SELECT a.v, b.v FROM t a LEFT JOIN s.t b ON a.sid = b.id ORDER BY a.id")
    both(pair, "SELECT x.v, w.n FROM s.t x JOIN u.w ON w.sid = x.id ORDER BY w.n")
    both(pair, "SELECT v FROM s.t WHERE id IN (SELECT sid FROM u.w) ORDER BY v")
    both(pair, "SELECT v FROM t WHERE EXISTS (SELECT 1 FROM s.t x WHERE x.id = t.sid)")
    both(pair, "SELECT n FROM (SELECT sid, n FROM u.w) AS q WHERE q.sid = 2 ORDER BY n")
    both(pair, "SELECT count(*), sum(n) FROM u.w GROUP BY sid ORDER BY sid")


def test_writes_in_a_schema(pair: Pair) -> None:
    both(pair, "INSERT INTO s.t (v) VALUES ('s4')")
    both(pair, "UPDATE s.t SET v = v || '!' WHERE id > 2")
    both(pair, "DELETE FROM s.t WHERE id = 1")
    both(pair, "INSERT INTO u.w SELECT id, id * 100 FROM s.t")
    both(pair, "SELECT id, v FROM s.t ORDER BY id")
    both(pair, "SELECT sid, n FROM u.w ORDER BY sid, n")
    both(pair, "SELECT id, v FROM t ORDER BY id")  # main's t untouched


def test_views_indexes_and_ddl_in_a_schema(pair: Pair) -> None:
    oracle, strata = pair
    both(pair, "CREATE VIEW s.sv AS SELECT v FROM s.t WHERE id > 1")
    both(pair, "SELECT v FROM s.sv ORDER BY v")
    # SQLite qualifies the index, PostgreSQL (and Strata) the table: same result
    oracle.execute("CREATE INDEX s.t_v ON t (v)")
    strata.execute("CREATE INDEX t_v ON s.t (v)")
    strata.execute("CREATE INDEX t_v ON t (v)")  # same name, other schema
    both(pair, "SELECT id FROM s.t WHERE v = 's2'")
    both(pair, "DROP INDEX s.t_v")
    both(pair, "ALTER TABLE s.t ADD COLUMN extra INT DEFAULT 7")
    both(pair, "ALTER TABLE s.t RENAME COLUMN extra TO more")
    both(pair, "SELECT id, more FROM s.t ORDER BY id")
    both(pair, "ALTER TABLE s.t RENAME TO t2")
    both(pair, "SELECT id, v FROM s.t2 ORDER BY id")
    both(pair, "SELECT v FROM s.sv ORDER BY v")  # the view follows the rename
    both(pair, "DROP VIEW s.sv")
    both(pair, "DROP TABLE s.t2")
    both(pair, "SELECT id, v FROM t ORDER BY id")


def test_missing_tables_in_a_schema(pair: Pair) -> None:
    both_fail(pair, "SELECT * FROM s.absent", "no such table: s.absent")
    both_fail(pair, "SELECT * FROM u.t", "no such table: u.t")


def test_unknown_schema(conn: dialect.Connection) -> None:
    for sql in (
        "SELECT * FROM nope.t",
        "CREATE TABLE nope.t (a INT)",
        "INSERT INTO nope.t VALUES (1)",
        "DROP SCHEMA nope",
    ):
        with pytest.raises(dialect.ProgrammingError, match="no such schema: nope"):
            conn.execute(sql)
    conn.execute("DROP SCHEMA IF EXISTS nope")


def test_create_and_drop_schema(conn: dialect.Connection) -> None:
    conn.execute("CREATE SCHEMA s")
    with pytest.raises(dialect.ProgrammingError, match="schema s already exists"):
        conn.execute("CREATE SCHEMA S")
    conn.execute("CREATE SCHEMA IF NOT EXISTS s")
    assert conn.catalog.schema_names() == ["main", "s"]
    conn.execute("DROP SCHEMA s")  # empty: RESTRICT allows it
    assert conn.catalog.schema_names() == ["main"]
    with pytest.raises(dialect.ProgrammingError, match="cannot drop schema main"):
        conn.execute("DROP SCHEMA main")
    with pytest.raises(dialect.ProgrammingError, match="reserved"):
        conn.execute("CREATE SCHEMA temp")


def test_drop_schema_restrict_and_cascade(conn: dialect.Connection) -> None:
    conn.execute("CREATE SCHEMA s")
    conn.execute("CREATE TABLE s.t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
    conn.execute("CREATE INDEX t_v2 ON s.t (v)")
    conn.execute("CREATE VIEW s.tv AS SELECT v FROM s.t")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    conn.execute("INSERT INTO s.t VALUES (1, 'a'), (2, 'b')")
    conn.execute("INSERT INTO t VALUES (1)")
    for sql in ("DROP SCHEMA s", "DROP SCHEMA s RESTRICT"):
        with pytest.raises(dialect.ProgrammingError, match="cannot drop schema s: it holds t, tv"):
            conn.execute(sql)
    conn.execute("DROP SCHEMA s CASCADE")
    assert conn.catalog.schema_names() == ["main"]
    assert [t.name for t in conn.catalog.tables] == ["t"]
    assert conn.catalog.views == ()
    # made again, the schema is empty: the old rows are gone
    conn.execute("CREATE SCHEMA s")
    conn.execute("CREATE TABLE s.t (id INTEGER PRIMARY KEY, v TEXT)")
    assert conn.execute("SELECT * FROM s.t").fetchall() == []
    assert conn.execute("SELECT id FROM t").fetchall() == [(1,)]


def test_cross_schema_foreign_key_and_join(conn: dialect.Connection) -> None:
    conn.execute("CREATE SCHEMA sales")
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute(
        "CREATE TABLE sales.orders (id INTEGER PRIMARY KEY, "
        "customer_id INT REFERENCES main.customers (id), total INT)"
    )
    conn.execute("CREATE TABLE sales.lines (order_id INT REFERENCES sales.orders (id), n INT)")
    conn.execute("INSERT INTO customers VALUES (1, 'ann'), (2, 'bob')")
    conn.execute("INSERT INTO sales.orders VALUES (10, 1, 5), (11, 2, 7), (12, 1, 9)")
    rows = conn.execute(
        "SELECT c.name, sum(o.total) FROM customers c JOIN sales.orders o "
        "ON o.customer_id = c.id GROUP BY c.name ORDER BY c.name"
    ).fetchall()
    assert rows == [("ann", 14), ("bob", 7)]
    orders = conn.catalog.table("orders", "sales")
    lines = conn.catalog.table("lines", "sales")
    assert orders is not None and lines is not None
    assert [(f.ref_schema, f.ref_table) for f in orders.foreign_keys] == [("main", "customers")]
    assert [(f.ref_schema, f.ref_table) for f in lines.foreign_keys] == [("sales", "orders")]
    conn.execute("ALTER TABLE sales.orders RENAME TO orders2")
    lines = conn.catalog.table("lines", "sales")
    assert lines is not None and lines.foreign_keys[0].ref_table == "orders2"
    with pytest.raises(dialect.NotSupportedError, match="RENAME TO takes an unqualified name"):
        conn.execute("ALTER TABLE sales.orders2 RENAME TO main.orders3")


def test_schemas_persist_across_reopen(tmp_path: Path) -> None:
    url = str(tmp_path / "db")
    with dialect.connect(url) as conn:
        conn.execute("CREATE SCHEMA s")
        conn.execute("CREATE TABLE s.t (a INT)")
        conn.execute("CREATE TABLE t (a INT)")
        conn.execute("INSERT INTO s.t VALUES (1)")
        conn.execute("INSERT INTO t VALUES (2)")
        conn.commit()
    with dialect.connect(url) as conn:
        assert conn.catalog.schema_names() == ["main", "s"]
        assert conn.execute("SELECT a FROM s.t").fetchall() == [(1,)]
        assert conn.execute("SELECT a FROM t").fetchall() == [(2,)]


def test_catalog_round_trip_keeps_schemas(conn: dialect.Connection) -> None:
    conn.execute("CREATE SCHEMA s")
    conn.execute("CREATE TABLE s.t (a INT PRIMARY KEY)")
    conn.execute("CREATE TABLE x (b INT REFERENCES s.t (a))")
    conn.execute("CREATE VIEW s.v AS SELECT a FROM s.t")
    assert decode_catalog(encode_catalog(conn.catalog)) == conn.catalog


def test_sqlalchemy_reflection_by_schema(tmp_path: Path) -> None:
    engine = sa.create_engine(f"strata:///{tmp_path / 'db'}")
    meta = sa.MetaData()
    sa.Table("users", meta, sa.Column("id", sa.Integer, primary_key=True), schema="s")
    sa.Table(
        "users",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("s_id", sa.ForeignKey("s.users.id")),
        sa.Column("name", sa.String(20), index=True),
    )
    with engine.begin() as c:
        c.execute(sa.text("CREATE SCHEMA s"))
    meta.create_all(engine)
    insp = sa.inspect(engine)
    assert insp.get_schema_names() == ["main", "s"]
    assert insp.has_schema("s") and not insp.has_schema("nope")
    assert insp.get_table_names(schema="s") == ["users"]
    assert insp.get_table_names() == ["users"]
    assert [c["name"] for c in insp.get_columns("users", schema="s")] == ["id"]
    [fk] = insp.get_foreign_keys("users")
    assert (fk["referred_schema"], fk["referred_table"]) == ("s", "users")
    assert [ix["name"] for ix in insp.get_indexes("users")] == ["ix_users_name"]
    assert insp.get_indexes("users", schema="s") == []
    reflected = sa.MetaData()
    reflected.reflect(engine, schema="s")
    assert list(reflected.tables) == ["s.users"]
    engine.dispose()
