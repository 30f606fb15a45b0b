"""Catalog facts kept for reflection: table and column comments, foreign-key actions and
primary-key names. SQLite has no comments; foreign-key actions and primary-key names are
compared with what SQLAlchemy reflects from sqlite3."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

import dialect
from dialect.catalog import decode_catalog, encode_catalog
from tests.dialect.oracle import open_pair


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"strata+memory://{uuid.uuid4().hex}")
    yield engine
    engine.dispose()


def _both_engines(*ddl: str) -> tuple[sa.Inspector, sa.Inspector]:
    """Inspectors of a sqlite3 database and a Strata one after running ``ddl`` on each."""
    inspectors = []
    for url in ("sqlite://", f"strata+memory://{uuid.uuid4().hex}"):
        engine = sa.create_engine(url)
        with engine.begin() as c:
            for sql in ddl:
                c.exec_driver_sql(sql)
        inspectors.append(sa.inspect(engine))
    return inspectors[0], inspectors[1]


# -- comments -----------------------------------------------------------------------------------


def test_comment_on_table_and_column(conn: dialect.Connection) -> None:
    conn.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
    conn.execute("COMMENT ON TABLE t IS 'the table'")
    conn.execute("COMMENT ON COLUMN t.b IS 'it''s b'")
    table = conn.catalog.table("t")
    assert table is not None
    assert table.comment == "the table"
    assert [c.comment for c in table.visible_columns] == [None, "it's b"]
    conn.execute("COMMENT ON TABLE t IS NULL")
    conn.execute("comment on column T.B is null ;")
    table = conn.catalog.table("t")
    assert table is not None
    assert table.comment is None
    assert [c.comment for c in table.visible_columns] == [None, None]


def test_inline_comments(conn: dialect.Connection) -> None:
    """MySQL's spelling: COMMENT 'x' on a column, COMMENT = 'y' after the columns."""
    conn.execute("CREATE TABLE t (a INTEGER COMMENT 'col a', b TEXT) COMMENT = 'tbl'")
    table = conn.catalog.table("t")
    assert table is not None
    assert table.comment == "tbl"
    assert [c.comment for c in table.visible_columns] == ["col a", None]


def test_comment_errors(conn: dialect.Connection) -> None:
    conn.execute("CREATE TABLE t (a INTEGER)")
    with pytest.raises(dialect.ProgrammingError, match="no such table"):
        conn.execute("COMMENT ON TABLE nope IS 'x'")
    with pytest.raises(dialect.ProgrammingError, match="no such column"):
        conn.execute("COMMENT ON COLUMN t.nope IS 'x'")
    with pytest.raises(dialect.ProgrammingError):
        conn.execute("COMMENT ON TABLE t IS 42")


def test_comments_survive_renames_and_the_catalog_format(conn: dialect.Connection) -> None:
    conn.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    conn.execute("COMMENT ON TABLE t IS 'ünïcode 🐍'")
    conn.execute("COMMENT ON COLUMN t.b IS 'bee'")
    conn.execute("ALTER TABLE t RENAME TO u")
    conn.execute("ALTER TABLE u RENAME COLUMN b TO c")
    catalog = decode_catalog(encode_catalog(conn.catalog))
    table = catalog.table("u")
    assert table is not None
    assert table.comment == "ünïcode 🐍"
    assert [c.comment for c in table.visible_columns] == [None, "bee"]


def test_sqlalchemy_comments_round_trip(engine: sa.Engine) -> None:
    meta = sa.MetaData()
    t = sa.Table(
        "t",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, comment="the key"),
        sa.Column("x", sa.String(10)),
        comment="a table",
    )
    meta.create_all(engine)
    inspector = sa.inspect(engine)
    assert inspector.get_table_comment("t") == {"text": "a table"}
    assert [c["comment"] for c in inspector.get_columns("t")] == ["the key", None]
    with engine.begin() as c:
        c.execute(sa.schema.DropTableComment(t))
        t.c.x.comment = "ex"
        c.execute(sa.schema.SetColumnComment(t.c.x))
    inspector = sa.inspect(engine)
    assert inspector.get_table_comment("t") == {"text": None}
    assert [c["comment"] for c in inspector.get_columns("t")] == ["the key", "ex"]
    reflected = sa.Table("t", sa.MetaData(), autoload_with=engine)
    assert reflected.c.id.comment == "the key"


# -- foreign-key actions and primary-key names ------------------------------------------------

_PARENT = "CREATE TABLE p (id INTEGER, CONSTRAINT p_pk PRIMARY KEY (id))"
_CHILD = (
    "CREATE TABLE c (id INTEGER CONSTRAINT c_key PRIMARY KEY, "
    "a INTEGER, b INTEGER, d INTEGER, e INTEGER, "
    "FOREIGN KEY (a) REFERENCES p (id) ON DELETE CASCADE ON UPDATE SET NULL, "
    "CONSTRAINT fb FOREIGN KEY (b) REFERENCES p (id) ON UPDATE RESTRICT DEFERRABLE, "
    "CONSTRAINT fd FOREIGN KEY (d) REFERENCES p (id) ON DELETE SET DEFAULT "
    "ON UPDATE NO ACTION, "
    "CONSTRAINT fe FOREIGN KEY (e) REFERENCES p (id))"
)


def _options(inspector: sa.Inspector) -> list[tuple[list[str], dict[str, Any]]]:
    fks = inspector.get_foreign_keys("c")
    return sorted((fk["constrained_columns"], dict(fk["options"])) for fk in fks)


def test_foreign_key_actions_reflect_as_on_sqlite() -> None:
    oracle, strata = _both_engines(_PARENT, _CHILD)
    expected = _options(oracle)
    assert expected[0] == (["a"], {"ondelete": "CASCADE", "onupdate": "SET NULL"})
    actions = [(cols, {k: v for k, v in o.items() if k != "deferrable"}) for cols, o in expected]
    assert _options(strata) == actions  # DEFERRABLE is accepted, not kept


def test_foreign_key_actions_are_kept_not_enforced(conn: dialect.Connection) -> None:
    conn.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE c (id INTEGER, pid INTEGER REFERENCES p (id) ON DELETE CASCADE)")
    conn.execute("INSERT INTO p VALUES (1)")
    conn.execute("INSERT INTO c VALUES (1, 1)")
    conn.execute("DELETE FROM p")
    assert conn.execute("SELECT * FROM c").fetchall() == [(1, 1)]
    table = conn.catalog.table("c")
    assert table is not None
    assert [(f.on_delete, f.on_update) for f in table.foreign_keys] == [("CASCADE", None)]


def test_unknown_foreign_key_action_is_refused(conn: dialect.Connection) -> None:
    conn.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
    with pytest.raises((dialect.NotSupportedError, dialect.ProgrammingError)):
        conn.execute("CREATE TABLE c (pid INTEGER REFERENCES p (id) ON DELETE EXPLODE)")


def test_primary_key_names_reflect_as_on_sqlite() -> None:
    oracle, strata = _both_engines(_PARENT, _CHILD, "CREATE TABLE n (id INTEGER PRIMARY KEY)")
    for table in ("p", "c", "n"):
        assert strata.get_pk_constraint(table) == oracle.get_pk_constraint(table), table


def test_catalog_keeps_actions_and_pk_name_in_its_format(conn: dialect.Connection) -> None:
    conn.execute(_PARENT)
    conn.execute(_CHILD)
    catalog = decode_catalog(encode_catalog(conn.catalog))
    assert catalog == conn.catalog
    child = catalog.table("c")
    assert child is not None
    assert child.pk_name == "c_key"
    assert [(f.name, f.on_delete, f.on_update) for f in child.foreign_keys] == [
        ("c_a_fkey", "CASCADE", "SET NULL"),
        ("fb", None, "RESTRICT"),
        ("fd", "SET DEFAULT", "NO ACTION"),
        ("fe", None, None),
    ]


# -- CHECK constraints --------------------------------------------------------------------------


def test_unnamed_checks_are_named_as_postgresql_names_them(engine: sa.Engine) -> None:
    with engine.begin() as c:
        c.exec_driver_sql(
            "CREATE TABLE t (a INTEGER CHECK (a > 0), b INTEGER CHECK (b < 9), "
            "CONSTRAINT named CHECK (a <> b), CHECK (a < 100), CHECK (1 = 1))"
        )
    checks = sa.inspect(engine).get_check_constraints("t")
    assert [(c["name"], c["sqltext"]) for c in checks] == [
        ("named", "a <> b"),
        ("t_a_check", "a > 0"),
        ("t_a_check1", "a < 100"),
        ("t_b_check", "b < 9"),
        ("t_check", "1 = 1"),
    ]


def test_check_error_still_names_unnamed_checks_by_their_text(conn: dialect.Connection) -> None:
    conn.execute("CREATE TABLE t (a INTEGER CHECK (a > 0))")
    with pytest.raises(dialect.IntegrityError, match="CHECK constraint failed: a > 0"):
        conn.execute("INSERT INTO t VALUES (0)")


_CHECKS = (
    "CREATE TABLE t (a INT CHECK (a>0), b TEXT, CONSTRAINT c CHECK(((a<>1) or b != 'x')), "
    "CONSTRAINT d CHECK (length(b)<5))"
)


def _check_texts(inspector: sa.Inspector) -> list[tuple[str | None, str]]:
    """(name, text) of the named CHECKs (sqlite3 reflects unnamed ones with no name)."""
    checks = inspector.get_check_constraints("t")
    return sorted((c["name"], c["sqltext"]) for c in checks if c["name"] in ("c", "d"))


def test_check_text_is_kept_as_written_as_on_sqlite() -> None:
    oracle, strata = _both_engines(_CHECKS)
    assert _check_texts(strata) == _check_texts(oracle)
    assert _check_texts(strata) == [("c", "((a<>1) or b != 'x')"), ("d", "length(b)<5")]
    unnamed = [c["sqltext"] for c in strata.get_check_constraints("t") if c["name"] == "t_a_check"]
    assert unnamed == ["a>0"]


def test_check_text_follows_renames_as_on_sqlite() -> None:
    renames = (
        "ALTER TABLE t RENAME COLUMN a TO aa",
        'ALTER TABLE t RENAME COLUMN b TO "my col"',
        "ALTER TABLE t RENAME TO t2",
        "ALTER TABLE t2 RENAME TO t",
    )
    oracle, strata = _both_engines(_CHECKS, *renames)
    assert _check_texts(strata) == _check_texts(oracle)
    assert _check_texts(strata)[0] == ("c", "((aa<>1) or \"my col\" != 'x')")


def test_check_errors_name_the_text_as_written_as_on_sqlite() -> None:
    with open_pair(_CHECKS) as pair:
        for row in ((0, "y"), (2, "yyyyyy"), (1, "x")):
            messages = []
            for db in pair:
                with pytest.raises(Exception, match="CHECK constraint failed") as err:
                    db.execute("INSERT INTO t VALUES (?, ?)", row)
                messages.append(str(err.value))
            assert messages[0] == messages[1], row


def test_checks_without_source_from_older_catalogs_still_read(conn: dialect.Connection) -> None:
    conn.execute(_CHECKS)
    catalog = decode_catalog(encode_catalog(conn.catalog))
    assert catalog == conn.catalog
    table = catalog.table("t")
    assert table is not None
    older = replace(table, checks=tuple(replace(c, source=None) for c in table.checks))
    again = decode_catalog(encode_catalog(replace(catalog, tables=(older,))))
    reread = again.table("t")
    assert reread is not None
    assert [c.source for c in reread.checks] == [None, None, None]
    assert [c.sql for c in reread.checks] == [c.sql for c in table.checks]
