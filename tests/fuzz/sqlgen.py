"""A small grammar of SQL statements over a few tables, and the mutations the fuzzers apply
(truncation, token swaps, random bytes, huge numbers, unicode, NUL, deep nesting)."""

from __future__ import annotations

import random
import uuid
from typing import Any

import dialect
from kvengine import DB

SETUP = [
    "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, n REAL, d NUMERIC(10, 2))",
    "CREATE TABLE u (a INTEGER PRIMARY KEY, b BLOB, t_id INTEGER REFERENCES t (id), "
    "c TEXT NOT NULL DEFAULT 'x' CHECK (length(c) < 50))",
    "CREATE UNIQUE INDEX t_v ON t (v)",
    "CREATE VIEW tv AS SELECT id, v FROM t WHERE n > 0",
    "INSERT INTO t VALUES (1, 'one', 1.5, 1.25), (2, 'two', -2.0, 2.50), (3, NULL, 0, NULL)",
    "INSERT INTO u VALUES (10, x'00ff', 1, 'a'), (11, NULL, NULL, 'b')",
]

STATEMENTS = [
    "SELECT * FROM t",
    "SELECT id, v FROM t WHERE id = ? ORDER BY v DESC LIMIT 2",
    "SELECT count(*), sum(n), avg(d) FROM t GROUP BY v HAVING count(*) > ?",
    "SELECT t.id, u.a FROM t JOIN u ON u.t_id = t.id WHERE u.c LIKE ?",
    "SELECT * FROM tv UNION ALL SELECT a, c FROM u",
    "WITH r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 5) SELECT * FROM r",
    "SELECT CASE WHEN n > 0 THEN 'p' ELSE 'n' END, coalesce(v, ?) FROM t",
    "SELECT id FROM t WHERE v IN (SELECT c FROM u) OR id BETWEEN ? AND ?",
    "SELECT substr(v, ?, 2), upper(v), abs(n), round(d, 1) FROM t",
    "SELECT row_number() OVER (ORDER BY id) FROM t",
    "INSERT INTO t VALUES (?, ?, ?, ?)",
    "INSERT INTO t (id, v) VALUES (4, 'four') ON CONFLICT (id) DO UPDATE SET v = excluded.v",
    "INSERT INTO u (a, t_id, c) VALUES (?, ?, ?)",
    "UPDATE t SET n = n * ?, v = v || 'x' WHERE id > ?",
    "UPDATE u SET c = ? WHERE a = 10",
    "DELETE FROM t WHERE id = ?",
    "DELETE FROM u WHERE b IS NULL",
    "CREATE TABLE w (k TEXT PRIMARY KEY, x INTEGER)",
    "ALTER TABLE t ADD COLUMN extra INTEGER DEFAULT 7",
    "DROP TABLE IF EXISTS w",
    "CREATE INDEX u_c ON u (c)",
    "INSERT INTO t SELECT id + 100, v || '!', n, d FROM t",
    "SELECT CAST(? AS INTEGER), CAST(v AS BLOB) FROM t",
]

HUGE = [
    "1e309",
    "-1e309",
    "9" * 400,
    "-" + "9" * 40,
    "0x" + "f" * 40,
    "1e-400",
    "nan",
    "2147483648",
]
UNICODE = [
    "\u00e9",
    "\U0001f600",
    "\u202e",
    "\ufeff",
    "\ud7ff",
    "\u0000",
    "\x00",
    "'",
    '"',
    "--",
    "/*",
    ";",
]


def mutate(sql: str, rng: random.Random) -> str:
    """One to three random mutations of ``sql``."""
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(8)
        tokens = sql.split(" ")
        if kind == 0 and sql:
            sql = sql[: rng.randrange(len(sql))]
        elif kind == 1 and len(tokens) > 1:
            i, j = rng.randrange(len(tokens)), rng.randrange(len(tokens))
            tokens[i], tokens[j] = tokens[j], tokens[i]
            sql = " ".join(tokens)
        elif kind == 2:
            i = rng.randrange(len(sql) + 1)
            sql = sql[:i] + bytes(rng.randrange(256) for _ in range(3)).decode("latin-1") + sql[i:]
        elif kind == 3:
            i = rng.randrange(len(tokens))
            tokens[i] = rng.choice(HUGE)
            sql = " ".join(tokens)
        elif kind == 4:
            i = rng.randrange(len(sql) + 1)
            sql = sql[:i] + rng.choice(UNICODE) + sql[i:]
        elif kind == 5:
            depth = rng.choice([10, 100, 1000, 5000])
            sql = (
                f"SELECT {'(' * depth}1{')' * depth}"
                if rng.random() < 0.5
                else (
                    "SELECT " + "-" * depth + "1"
                    if rng.random() < 0.5
                    else "SELECT 1 FROM t WHERE " + " AND ".join(["id = 1"] * depth)
                )
            )
        elif kind == 6 and len(tokens) > 1:
            del tokens[rng.randrange(len(tokens))]
            sql = " ".join(tokens)
        else:
            i = rng.randrange(len(tokens))
            tokens.insert(
                i, rng.choice(["SELECT", "(", ")", ",", "?", ":a", "%s", "NULL", "*", "'"])
            )
            sql = " ".join(tokens)
    return sql


def parameter(rng: random.Random) -> Any:  # Any: any Python value a caller might pass
    return rng.choice(
        [
            0,
            1,
            -1,
            2**63,
            -(2**63) - 1,
            10**40,
            1.5,
            float("nan"),
            float("inf"),
            "",
            "a\x00b",
            "\U0001f600" * 3,
            "x" * 10_000,
            b"\x00\xff",
            None,
            True,
            [1],
            {"a": 1},
            object(),
            bytearray(b"ab"),
            memoryview(b"cd"),
        ]
    )


def parameters(sql: str, rng: random.Random) -> tuple[Any, ...]:
    count = sql.count("?") + rng.choice([0, 0, 0, -1, 1])
    return tuple(parameter(rng) for _ in range(max(0, count)))


def new_database() -> tuple[str, dialect.Connection, DB]:
    """A fresh database with the setup tables, an autocommit connection, and a read-only
    engine that dumps it."""
    url = f"memory://{uuid.uuid4().hex}"
    conn = dialect.connect(url, autocommit=True)
    cur = conn.cursor()
    for sql in SETUP:
        cur.execute(sql)
    return url, conn, DB.open(url, read_only=True)


def dump(db: DB) -> dict[bytes, bytes]:
    """Every key and value of the database (catalog, rows and indexes)."""
    db.refresh()
    return dict(db.scan())


def run_one(conn: dialect.Connection, db: DB, sql: str, params: tuple[Any, ...]) -> bool:
    """Execute ``sql``; True if it succeeded. Raises AssertionError if it failed with anything
    but a PEP 249 error, with an ``InternalError`` (a bug in Strata: the database here is
    never corrupt), or failed and changed the database."""
    before = dump(db)
    cur = conn.cursor()
    try:
        cur.execute(sql, params)
        if cur.description is not None:
            cur.fetchall()
    except dialect.InternalError as exc:
        raise AssertionError(f"internal error on {sql!r} {params!r}: {exc}") from exc
    except dialect.Error:
        after = dump(db)
        assert after == before, f"a failed statement changed the database: {sql!r} {params!r}"
        return False
    finally:
        cur.close()
    return True


def main(statements: int, seed: int = 0) -> None:
    """Long mode of the hypothesis fuzzer without hypothesis: ``statements`` random (mostly
    mutated) statements, a fresh database every 25; prints the counts."""
    rng = random.Random(seed)
    ok = failed = 0
    conn, db = None, None
    for i in range(statements):
        if i % 25 == 0:
            if conn is not None and db is not None:
                conn.close()
                db.close()
            _, conn, db = new_database()
        assert conn is not None and db is not None
        sql = rng.choice(STATEMENTS)
        text = mutate(sql, rng) if rng.random() < 0.8 else sql
        if run_one(conn, db, text, parameters(text, rng)):
            ok += 1
        else:
            failed += 1
    print(f"{statements} statements (seed {seed}): {ok} succeeded, {failed} failed cleanly")


if __name__ == "__main__":
    import sys

    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 2000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 0,
    )
