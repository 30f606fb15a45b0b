"""Every statement kind, on memory, local disk and the GCS emulator."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pytest

import dialect
from dialect import Connection


def setup_people(conn: Connection) -> None:
    conn.execute(
        "CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL, "
        "age INT, city TEXT DEFAULT 'Paris', score REAL, balance NUMERIC(10, 2), "
        "born DATE, seen TIMESTAMP, active BOOLEAN, photo BLOB)"
    )
    conn.cursor().executemany(
        "INSERT INTO people (name, age, city, score, balance, born, seen, active, photo) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                "ada",
                36,
                "London",
                9.5,
                decimal.Decimal("10.25"),
                dt.date(1815, 12, 10),
                dt.datetime(2026, 1, 2, 3, 4, 5),
                True,
                b"\x00\x01",
            ),
            (
                "grace",
                45,
                "New York",
                8.0,
                decimal.Decimal("-3.50"),
                dt.date(1906, 12, 9),
                None,
                False,
                None,
            ),
            ("alan", 41, "London", None, None, None, None, True, None),
            ("linus", None, "Helsinki", 7.25, decimal.Decimal("0"), None, None, None, None),
        ],
    )
    conn.commit()


def test_types_round_trip(conn: Connection) -> None:
    setup_people(conn)
    row = conn.execute("SELECT * FROM people WHERE id = 1").fetchone()
    assert row == (
        1,
        "ada",
        36,
        "London",
        9.5,
        decimal.Decimal("10.25"),
        dt.date(1815, 12, 10),
        dt.datetime(2026, 1, 2, 3, 4, 5),
        True,
        b"\x00\x01",
    )
    assert [d[0] for d in conn.execute("SELECT * FROM people").description or ()][:3] == [
        "id",
        "name",
        "age",
    ]
    assert conn.execute("SELECT name FROM people").description[0][1] == dialect.STRING  # type: ignore[index]


def test_where_order_limit(conn: Connection) -> None:
    setup_people(conn)
    q = conn.execute
    assert q("SELECT name FROM people WHERE age > ? ORDER BY age", (40,)).fetchall() == [
        ("alan",),
        ("grace",),
    ]
    assert q(
        "SELECT name FROM people WHERE age BETWEEN 36 AND 41 ORDER BY name DESC"
    ).fetchall() == [("alan",), ("ada",)]
    assert q(
        "SELECT name FROM people WHERE city IN ('London', 'Helsinki') AND age IS NOT NULL "
        "ORDER BY 1"
    ).fetchall() == [("ada",), ("alan",)]
    assert q("SELECT name FROM people WHERE age IS NULL").fetchall() == [("linus",)]
    assert q("SELECT name FROM people WHERE name LIKE 'A%' ORDER BY id").fetchall() == [
        ("ada",),
        ("alan",),
    ]
    assert q(
        "SELECT name FROM people WHERE NOT (age < 40) OR age IS NULL ORDER BY id"
    ).fetchall() == [("grace",), ("alan",), ("linus",)]
    assert q("SELECT id FROM people ORDER BY id DESC LIMIT 2 OFFSET 1").fetchall() == [(3,), (2,)]
    assert q("SELECT DISTINCT city FROM people ORDER BY city").fetchall() == [
        ("Helsinki",),
        ("London",),
        ("New York",),
    ]
    assert q("SELECT name, age * 2 + 1 AS x FROM people WHERE id = :id", {"id": 2}).fetchall() == [
        ("grace", 91)
    ]
    assert q("SELECT age FROM people ORDER BY age").fetchall()[0] == (None,)  # NULLs first


def test_aggregates_group_having(conn: Connection) -> None:
    setup_people(conn)
    q = conn.execute
    assert q(
        "SELECT COUNT(*), COUNT(age), SUM(age), MIN(age), MAX(name) FROM people"
    ).fetchone() == (4, 3, 122, 36, "linus")
    assert q(
        "SELECT city, COUNT(*) AS n, AVG(age) FROM people GROUP BY city HAVING n > 1"
    ).fetchall() == [("London", 2, 38.5)]
    assert q("SELECT COUNT(DISTINCT city) FROM people").fetchone() == (3,)
    assert q("SELECT SUM(age) FROM people WHERE id > 100").fetchone() == (None,)
    assert q("SELECT COUNT(*) FROM people WHERE id > 100").fetchone() == (0,)
    assert q("SELECT city, SUM(balance) FROM people GROUP BY city ORDER BY city").fetchall() == [
        ("Helsinki", decimal.Decimal("0")),
        ("London", decimal.Decimal("10.25")),
        ("New York", decimal.Decimal("-3.50")),
    ]


def test_joins_subqueries_union_case(conn: Connection) -> None:
    setup_people(conn)
    conn.execute(
        "CREATE TABLE pets (id INTEGER PRIMARY KEY, owner INT REFERENCES people(id), kind TEXT)"
    )
    conn.cursor().executemany(
        "INSERT INTO pets (owner, kind) VALUES (?, ?)",
        [(1, "cat"), (1, "dog"), (3, "owl"), (9, "ghost")],
    )
    q = conn.execute
    assert q(
        "SELECT p.name, t.kind FROM people p JOIN pets t ON t.owner = p.id ORDER BY t.id"
    ).fetchall() == [("ada", "cat"), ("ada", "dog"), ("alan", "owl")]
    assert q(
        "SELECT p.name, COUNT(t.id) FROM people p LEFT JOIN pets t ON t.owner = p.id "
        "GROUP BY p.name ORDER BY p.name"
    ).fetchall() == [("ada", 2), ("alan", 1), ("grace", 0), ("linus", 0)]
    assert q(
        "SELECT name FROM people WHERE id IN (SELECT owner FROM pets) ORDER BY id"
    ).fetchall() == [("ada",), ("alan",)]
    assert q(
        "SELECT name FROM people p WHERE NOT EXISTS (SELECT 1 FROM pets t WHERE "
        "t.owner = p.id) ORDER BY id"
    ).fetchall() == [("grace",), ("linus",)]
    assert q(
        "SELECT name, (SELECT COUNT(*) FROM pets WHERE owner = people.id) FROM people "
        "WHERE id < 3 ORDER BY id"
    ).fetchall() == [("ada", 2), ("grace", 0)]
    assert q(
        "SELECT city FROM people UNION SELECT kind FROM pets ORDER BY 1 LIMIT 3"
    ).fetchall() == [("Helsinki",), ("London",), ("New York",)]
    assert len(q("SELECT city FROM people UNION ALL SELECT kind FROM pets").fetchall()) == 8
    assert q(
        "SELECT name, CASE WHEN age >= 40 THEN 'senior' WHEN age IS NULL THEN '?' "
        "ELSE 'junior' END FROM people ORDER BY id"
    ).fetchall() == [("ada", "junior"), ("grace", "senior"), ("alan", "senior"), ("linus", "?")]
    assert q(
        "SELECT UPPER(name), LENGTH(name), COALESCE(age, -1), ABS(-2), "
        "SUBSTR(name, 2, 2), name || '!' FROM people WHERE id = 4"
    ).fetchone() == ("LINUS", 5, -1, 2, "in", "linus!")


def test_update_delete_rowcount(conn: Connection) -> None:
    setup_people(conn)
    cur = conn.cursor()
    assert cur.execute("UPDATE people SET age = age + 1 WHERE city = 'London'").rowcount == 2
    assert cur.execute("UPDATE people SET id = 10 WHERE id = 4").rowcount == 1
    assert cur.execute("DELETE FROM people WHERE age > 40").rowcount == 2
    assert cur.execute("DELETE FROM people WHERE id = 99").rowcount == 0
    conn.commit()
    assert conn.execute("SELECT id, name, age FROM people ORDER BY id").fetchall() == [
        (1, "ada", 37),
        (10, "linus", None),
    ]


def test_autoincrement_lastrowid_and_reopen(tmp_path: Path) -> None:
    url, options = str(tmp_path / "db"), {}
    with dialect.connect(url, **options) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        cur = conn.execute("INSERT INTO t (v) VALUES ('a')")
        assert cur.lastrowid == 1
        cur.execute("INSERT INTO t (id, v) VALUES (50, 'b')")
        cur.execute("INSERT INTO t (v) VALUES ('c')")
        assert cur.lastrowid == 51
    with dialect.connect(url, **options) as conn:
        cur = conn.execute("INSERT INTO t (v) VALUES ('d')")
        assert cur.lastrowid is not None and cur.lastrowid > 51
        assert conn.execute("SELECT v FROM t ORDER BY id").fetchall() == [
            ("a",),
            ("b",),
            ("c",),
            ("d",),
        ]


def test_tables_without_primary_key_and_composite_keys(conn: Connection) -> None:
    conn.execute("CREATE TABLE log (msg TEXT, n INT)")
    conn.cursor().executemany("INSERT INTO log VALUES (?, ?)", [("x", 1), ("x", 1), ("y", 2)])
    assert conn.execute("SELECT msg, n FROM log").fetchall() == [("x", 1), ("x", 1), ("y", 2)]
    assert [d[0] for d in conn.execute("SELECT * FROM log").description or ()] == ["msg", "n"]
    conn.execute("CREATE TABLE kv (a TEXT, b INT, v REAL, PRIMARY KEY (a, b))")
    conn.cursor().executemany(
        "INSERT INTO kv VALUES (?, ?, ?)", [("p", 2, 0.5), ("p", 1, 1.5), ("q", 1, 2.5)]
    )
    assert conn.execute("SELECT b FROM kv WHERE a = 'p' ORDER BY b").fetchall() == [(1,), (2,)]
    assert "GET 1 row" in explain(conn, "SELECT * FROM kv WHERE a = 'p' AND b = 2")
    assert "primary-key range a = 'p'" in explain(conn, "SELECT * FROM kv WHERE a = 'p'")


def explain(conn: Connection, sql: str) -> str:
    return "\n".join(row[1] for row in conn.execute("EXPLAIN " + sql).fetchall())


def test_indexes(conn: Connection) -> None:
    setup_people(conn)
    conn.execute("CREATE INDEX ix_city ON people (city)")
    assert "index ix_city" in explain(conn, "SELECT name FROM people WHERE city = 'London'")
    assert conn.execute(
        "SELECT name FROM people WHERE city = 'London' ORDER BY name"
    ).fetchall() == [("ada",), ("alan",)]
    conn.execute("UPDATE people SET city = 'Paris' WHERE name = 'ada'")
    conn.execute("INSERT INTO people (name, city) VALUES ('zed', 'London')")
    assert conn.execute(
        "SELECT name FROM people WHERE city = 'London' ORDER BY name"
    ).fetchall() == [("alan",), ("zed",)]
    conn.execute("DELETE FROM people WHERE name = 'alan'")
    assert conn.execute("SELECT name FROM people WHERE city = 'London'").fetchall() == [("zed",)]
    conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS ux_name ON people (name)")
    with pytest.raises(dialect.IntegrityError, match="UNIQUE"):
        conn.execute("INSERT INTO people (name) VALUES ('zed')")
    conn.execute("DROP INDEX ix_city")
    conn.execute("DROP INDEX IF EXISTS ix_city")
    assert "full table" in explain(conn, "SELECT * FROM people WHERE city = 'x'")
    conn.execute("INSERT INTO people (name, city) VALUES ('mika', 'Helsinki')")
    with pytest.raises(dialect.IntegrityError):
        conn.execute("CREATE UNIQUE INDEX ux_city ON people (city)")  # two in Helsinki
    assert conn.execute("SELECT COUNT(*) FROM people WHERE city = 'Helsinki'").fetchone() == (2,)


def test_alter_and_drop(conn: Connection) -> None:
    setup_people(conn)
    conn.execute("ALTER TABLE people ADD COLUMN email TEXT")
    conn.execute("UPDATE people SET email = 'a@x' WHERE id = 1")
    assert conn.execute("SELECT email FROM people ORDER BY id").fetchall() == [
        ("a@x",),
        (None,),
        (None,),
        (None,),
    ]
    conn.execute("ALTER TABLE people RENAME TO persons")
    assert conn.execute("SELECT COUNT(*) FROM persons").fetchone() == (4,)
    with pytest.raises(dialect.ProgrammingError, match="no such table"):
        conn.execute("SELECT * FROM people")
    conn.execute("DROP TABLE persons")
    conn.execute("DROP TABLE IF EXISTS persons")
    conn.execute("CREATE TABLE IF NOT EXISTS persons (id INTEGER PRIMARY KEY)")
    assert conn.execute("SELECT COUNT(*) FROM persons").fetchone() == (0,)


def test_insert_select(conn: Connection) -> None:
    setup_people(conn)
    conn.execute("CREATE TABLE names (n TEXT PRIMARY KEY)")
    cur = conn.execute("INSERT INTO names SELECT name FROM people WHERE age IS NOT NULL")
    assert cur.rowcount == 3
    assert conn.execute("SELECT n FROM names").fetchall() == [("ada",), ("alan",), ("grace",)]


def test_add_column_with_default_reads_default_for_old_rows(conn: Connection) -> None:
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT DEFAULT 'x')")
    conn.execute("INSERT INTO t (id) VALUES (1)")
    conn.execute("INSERT INTO t VALUES (2, NULL)")
    conn.execute("ALTER TABLE t ADD COLUMN n INT NOT NULL DEFAULT -3")
    conn.execute("INSERT INTO t (id, v, n) VALUES (3, 'y', 4)")
    assert conn.execute("SELECT id, v, n FROM t ORDER BY id").fetchall() == [
        (1, "x", -3),
        (2, None, -3),
        (3, "y", 4),
    ]
    with pytest.raises(dialect.OperationalError):
        conn.execute("ALTER TABLE t ADD COLUMN ts TIMESTAMP DEFAULT CURRENT_TIMESTAMP")


def test_placeholders_bind_in_text_order(conn: Connection) -> None:
    """The tree keeps LIMIT before WHERE; parameters must still bind left to right."""
    setup_people(conn)
    rows = conn.execute(
        "SELECT name FROM people WHERE id > ? ORDER BY name LIMIT ? OFFSET ?", (1, 2, 1)
    ).fetchall()
    assert rows == [("grace",), ("linus",)]
    assert conn.execute("SELECT '?', ? FROM people WHERE id = ?", ("z", 1)).fetchall() == [
        ("?", "z")
    ]


def test_check_constraints_and_views(conn: Connection) -> None:
    conn.execute("CREATE TABLE t (a INT CHECK (a > 0), b INT, CONSTRAINT small CHECK (b < 10))")
    conn.execute("INSERT INTO t VALUES (1, 2)")
    conn.execute("INSERT INTO t VALUES (NULL, NULL)")  # NULL passes a CHECK
    for sql in [
        "INSERT INTO t VALUES (0, 1)",
        "INSERT INTO t VALUES (1, 11)",
        "UPDATE t SET b = 20",
    ]:
        with pytest.raises(dialect.IntegrityError, match="CHECK constraint failed"):
            conn.execute(sql)
    conn.execute("CREATE VIEW big AS SELECT a, b FROM t WHERE b IS NOT NULL")
    assert conn.execute("SELECT * FROM big").fetchall() == [(1, 2)]
    assert conn.execute("SELECT x.a FROM big x").fetchall() == [(1,)]
    conn.execute("DROP VIEW big")
    with pytest.raises(dialect.ProgrammingError):
        conn.execute("SELECT * FROM big")


def test_values_that_cannot_be_keys_are_data_errors(conn: Connection) -> None:
    import datetime as dt

    conn.execute("CREATE TABLE t (at TIME PRIMARY KEY, r REAL UNIQUE)")
    aware = dt.time(12, 0, tzinfo=dt.UTC)
    with pytest.raises(dialect.DataError, match="cannot be stored"):
        conn.execute("INSERT INTO t VALUES (?, ?)", (aware, 1.0))
    assert conn.execute("SELECT * FROM t WHERE at = ?", (aware,)).fetchall() == []
    conn.execute("INSERT INTO t VALUES (?, ?)", (dt.time(1), 0.0))
    with pytest.raises(dialect.IntegrityError):  # -0.0 equals 0.0: the same UNIQUE value
        conn.execute("INSERT INTO t VALUES (?, ?)", (dt.time(2), -0.0))


def test_documented_extras(conn: Connection) -> None:
    """Constructs docs/sql.md lists that the other tests do not reach."""
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, x REAL)")
    conn.cursor().executemany(
        "INSERT INTO t VALUES (?, ?, ?)", [(1, "a_b", 1.25), (2, "ab", 2.5), (3, "c", None)]
    )
    conn.execute("INSERT OR REPLACE INTO t VALUES (3, 'c2', 3.75)")
    conn.execute("INSERT OR IGNORE INTO t VALUES (1, 'ignored', 0)")
    assert conn.execute("SELECT name FROM t ORDER BY id").fetchall() == [("a_b",), ("ab",), ("c2",)]
    assert conn.execute(r"SELECT name FROM t WHERE name LIKE 'a\_%' ESCAPE '\'").fetchall() == [
        ("a_b",)
    ]
    assert conn.execute(
        "SELECT id FROM t INTERSECT SELECT id FROM t WHERE id > 1 ORDER BY 1"
    ).fetchall() == [(2,), (3,)]
    assert conn.execute("SELECT id FROM t EXCEPT SELECT id FROM t WHERE id > 1").fetchall() == [
        (1,)
    ]
    assert conn.execute("SELECT GROUP_CONCAT(name) FROM t WHERE id < 3").fetchone() == ("a_b,ab",)
    assert conn.execute(
        "SELECT ROUND(x, 1), TRIM('  p  '), CAST(x AS INTEGER), NULLIF(id, 2) FROM t WHERE id = 2"
    ).fetchone() == (2.5, "p", 2, None)
    conn.execute("ALTER TABLE t RENAME COLUMN name TO label")
    assert conn.execute("SELECT label FROM t WHERE id = 1").fetchone() == ("a_b",)
