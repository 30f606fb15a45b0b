"""Every row of docs/sql.md "Still refused" is what Strata does: the example raises
NotSupportedError naming the construct, and the database is unchanged after it. Also the
clauses that used to be ignored, and the constructs that replaced refusals (NATURAL JOIN,
SELECT … FOR UPDATE)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

import dialect
from tests.dialect.oracle import both, open_pair

DOC = Path(__file__).resolve().parents[2] / "docs" / "sql.md"
SETUP = (
    "CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)",
    "CREATE TABLE u (a INTEGER, c TEXT)",
    "INSERT INTO t VALUES (1, 'x'), (2, 'y')",
    "INSERT INTO u VALUES (1, 'p'), (3, 'q')",
)


def _refused_rows() -> list[tuple[str, str]]:
    """(example, named) for each row of the "Still refused" table."""
    text = DOC.read_text()
    section = text[text.index("### Still refused") :]
    section = section[: section.index("\n\n", section.index("| construct |"))]
    rows = []
    for line in section.splitlines():
        cells = re.findall(r"`((?:[^`]|``)+)`", line)
        if line.startswith("| ") and not line.startswith("| construct") and len(cells) >= 2:
            rows.append((cells[-2], cells[-1]))
    return rows


ROWS = _refused_rows()


def test_the_table_is_read() -> None:
    assert len(ROWS) >= 35


@pytest.mark.parametrize(("sql", "named"), ROWS, ids=[r[0][:40] for r in ROWS])
def test_refused_as_documented(sql: str, named: str) -> None:
    conn = dialect.connect(f"memory://{uuid.uuid4().hex}")
    for statement in SETUP:
        conn.execute(statement)
    conn.execute("CREATE TEMP TABLE tt (a INTEGER)")
    conn.commit()
    with pytest.raises(dialect.NotSupportedError) as caught:
        conn.execute(sql).fetchall()
    assert named in str(caught.value)
    conn.rollback()
    assert conn.execute("SELECT * FROM t ORDER BY a").fetchall() == [(1, "x"), (2, "y")]
    names = {t.name for t in conn._database.read_catalog().tables}
    assert names == {"t", "u"}
    conn.close()


def test_natural_joins_as_sqlite() -> None:
    with open_pair(*SETUP, "CREATE TABLE v (c TEXT, a INTEGER, d INTEGER)") as pair:
        pair[0].execute("INSERT INTO v VALUES ('p', 1, 10), ('z', 2, 20)")
        pair[1].execute("INSERT INTO v VALUES ('p', 1, 10), ('z', 2, 20)")
        both(pair, "SELECT * FROM t NATURAL JOIN u")
        both(pair, "SELECT * FROM t NATURAL LEFT JOIN u ORDER BY a")
        both(pair, "SELECT * FROM u NATURAL JOIN v")  # two common columns, a and c
        both(pair, "SELECT * FROM t NATURAL JOIN u NATURAL JOIN v")
        both(pair, "SELECT a, b FROM t NATURAL JOIN (SELECT 7 AS z) ORDER BY a")  # none: CROSS


def test_select_for_update_makes_a_changed_read_a_conflict() -> None:
    url = f"memory://{uuid.uuid4().hex}"
    first, second = dialect.connect(url), dialect.connect(url)
    for statement in SETUP:
        first.execute(statement)
    first.commit()
    # without FOR UPDATE: write skew commits
    first.execute("SELECT b FROM t WHERE a = 1").fetchall()
    second.execute("UPDATE t SET b = 'changed' WHERE a = 1")
    second.commit()
    first.execute("UPDATE t SET b = 'mine' WHERE a = 2")
    first.commit()
    # with it: the row read changed after the transaction began, so its commit fails
    for where in ("a = 1", "b = 'changed'", "a BETWEEN 1 AND 1"):
        first.execute(f"SELECT b FROM t WHERE {where} FOR UPDATE").fetchall()
        second.execute("UPDATE t SET b = b || '!' WHERE a = 1")
        second.commit()
        first.execute("UPDATE t SET b = 'again' WHERE a = 2")
        with pytest.raises(dialect.ConflictError):
            first.commit()
    # a scanned range: a row inserted into it conflicts too
    first.execute("SELECT count(*) FROM u WHERE a > 0 FOR SHARE").fetchall()
    second.execute("INSERT INTO u VALUES (9, 'new')")
    second.commit()
    first.execute("UPDATE t SET b = 'again' WHERE a = 2")
    with pytest.raises(dialect.ConflictError):
        first.commit()
    # nothing changed in between: it commits
    first.execute("SELECT b FROM t WHERE a = 1 FOR UPDATE NOWAIT").fetchall()
    first.execute("UPDATE t SET b = 'done' WHERE a = 1")
    first.commit()
    assert second.execute("SELECT b FROM t WHERE a = 1").fetchall() == [("done",)]
    first.close()
    second.close()


def test_sqlalchemy_with_for_update() -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(f"strata+memory://{uuid.uuid4().hex}")
    meta = sa.MetaData()
    t = sa.Table("t", meta, sa.Column("a", sa.Integer, primary_key=True), sa.Column("b", sa.Text))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"a": 1, "b": "x"}])
    with engine.connect() as reader, engine.connect() as writer:
        reader.execute(sa.select(t).where(t.c.a == 1).with_for_update()).all()
        writer.execute(t.update().where(t.c.a == 1).values(b="y"))
        writer.commit()
        reader.execute(t.insert().values(a=2, b="z"))
        with pytest.raises(sa.exc.OperationalError) as caught:
            reader.commit()
        assert isinstance(caught.value.orig, dialect.ConflictError)
    engine.dispose()
