"""Strata behind SQLAlchemy: URLs, Core, reflection, pandas and the ORM."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy import orm

from dialect.sqla.driver import StrataDialect_strata


def memory_url() -> str:
    return f"strata+memory://{uuid.uuid4().hex}"


@pytest.mark.parametrize(
    ("url", "target", "kwargs"),
    [
        ("strata:///rel/dir", "rel/dir", {}),
        ("strata:////abs/dir?mode=ro", "/abs/dir", {"read_only": True}),
        (
            "strata+gs://bucket/prefix/db?endpoint_url=http://127.0.0.1:1&token=anon",
            "gs://bucket/prefix/db",
            {"endpoint_url": "http://127.0.0.1:1", "token": "anon"},
        ),
        ("strata+s3://bucket/db?durable=false", "s3://bucket/db", {"durable": False}),
        ("strata+memory://name", "memory://name", {}),
    ],
)
def test_urls(url: str, target: str, kwargs: dict[str, object]) -> None:
    args, kw = StrataDialect_strata().create_connect_args(sa.engine.make_url(url))
    assert args == [target]
    assert kw == kwargs


def test_bad_urls() -> None:
    with pytest.raises(ValueError):
        StrataDialect_strata().create_connect_args(sa.engine.make_url("strata+gs:///nobucket"))
    with pytest.raises(ValueError):
        StrataDialect_strata().create_connect_args(sa.engine.make_url("strata:///x?mode=rx"))


def test_core_and_reflection(tmp_path: Path) -> None:
    engine = sa.create_engine(f"strata:///{tmp_path}/db")
    md = sa.MetaData()
    users = sa.Table(
        "users",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(30), nullable=False, unique=True),
        sa.Column("born", sa.Date),
        sa.Column("score", sa.Numeric(10, 2)),
    )
    sa.Index("ix_users_born", users.c.born)
    md.create_all(engine)
    with engine.begin() as conn:
        r = conn.execute(users.insert().values(name="ada", born=dt.date(1815, 12, 10)))
        assert r.inserted_primary_key == (1,)
        r = conn.execute(users.insert(), [{"name": "grace"}, {"name": "alan"}])
        assert r.rowcount == 2
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(users.c.name).where(users.c.id > 1).order_by(users.c.name).limit(5)
        ).all()
        assert [r.name for r in rows] == ["alan", "grace"]
        assert conn.execute(
            sa.text("SELECT born FROM users WHERE id = :i"), {"i": 1}
        ).scalar() == dt.date(1815, 12, 10)
        assert conn.execute(sa.update(users).where(users.c.id == 2).values(name="g")).rowcount == 1
        conn.rollback()
    insp = sa.inspect(engine)
    assert insp.get_table_names() == ["users"]
    assert insp.has_table("users") and not insp.has_table("nope")
    cols = {c["name"]: c for c in insp.get_columns("users")}
    assert isinstance(cols["name"]["type"], sa.VARCHAR) and cols["name"]["type"].length == 30
    assert cols["name"]["nullable"] is False and cols["born"]["nullable"] is True
    assert insp.get_pk_constraint("users")["constrained_columns"] == ["id"]
    assert [i["name"] for i in insp.get_indexes("users")] == ["ix_users_born"]
    assert [u["column_names"] for u in insp.get_unique_constraints("users")] == [["name"]]
    assert insp.get_view_names() == []
    reflected = sa.Table("users", sa.MetaData(), autoload_with=engine)
    assert [c.name for c in reflected.columns] == ["id", "name", "born", "score"]
    engine.dispose()


def test_errors_map_to_sqlalchemy_classes() -> None:
    engine = sa.create_engine(memory_url())
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
    with engine.connect() as conn:
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        conn.rollback()
        with pytest.raises(sa.exc.ProgrammingError):
            conn.execute(sa.text("SELEC nothing"))
        conn.rollback()
        with pytest.raises(sa.exc.NotSupportedError):
            conn.execute(sa.text("SELECT * FROM t RIGHT JOIN t AS u USING (id)"))


def test_pandas_round_trip() -> None:
    engine = sa.create_engine(memory_url())
    df = pd.DataFrame(
        {
            "i": pd.array([1, 2, None], dtype="Int64"),
            "f": [1.5, float("nan"), -2.25],
            "s": ["a", None, "c"],
            "b": [True, False, True],
            "t": [pd.Timestamp("2026-01-01 12:00"), pd.NaT, pd.Timestamp("1999-12-31")],
        }
    )
    assert df.to_sql("frame", engine, index=False) == 3
    back = pd.read_sql("SELECT * FROM frame", engine)
    assert back["s"][0] == "a" and pd.isna(back["s"][1]) and back["s"][2] == "c"
    assert back["b"].tolist() == [True, False, True]
    assert back["i"].tolist()[:2] == [1, 2] and pd.isna(back["i"].tolist()[2])
    assert pd.isna(back["f"][1]) and back["f"][2] == -2.25
    assert back["t"][0] == pd.Timestamp("2026-01-01 12:00") and pd.isna(back["t"][1])
    df.to_sql("frame", engine, index=False, if_exists="append", method="multi", chunksize=2)
    assert pd.read_sql_table("frame", engine).shape == (6, 5)
    df.to_sql("frame", engine, if_exists="replace", index=True)
    assert pd.read_sql("SELECT COUNT(*) AS n FROM frame", engine)["n"][0] == 3
    assert [i["name"] for i in sa.inspect(engine).get_indexes("frame")] == ["ix_frame_index"]


def test_pandas_sql_fixture_values_convert_as_in_sqlite() -> None:
    """pandas' own SQL tests: text '5.1' into a DOUBLE column and a bool column written as
    TEXT (both refused before the conversion table)."""
    engine = sa.create_engine(memory_url())
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE types (a DOUBLE, b INTEGER)")
        conn.exec_driver_sql("INSERT INTO types VALUES (?, ?)", ("5.1", " 7 "))
    assert pd.read_sql("SELECT a, b FROM types", engine).values.tolist() == [[5.1, 7]]
    df = pd.DataFrame({"A": [0.8, 0.9], "B": [True, None]})
    assert df.to_sql("dtype_test", engine, index=False, dtype={"B": sa.TEXT}) == 2
    back = pd.read_sql("SELECT B FROM dtype_test", engine)
    assert back["B"][0] == "1" and pd.isna(back["B"][1])
    assert isinstance(sa.inspect(engine).get_columns("dtype_test")[1]["type"], sa.TEXT)


def test_reflection_knows_every_declared_type_name() -> None:
    engine = sa.create_engine(memory_url())
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a MEDIUMINT, b UUID, c BPCHAR, d, e TIMESTAMPTZ)")
    got = [type(c["type"]) for c in sa.inspect(engine).get_columns("t")]
    assert got == [sa.INTEGER, sa.TEXT, sa.TEXT, sa.types.NullType, sa.TIMESTAMP]


class Base(orm.DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(50), unique=True)
    books: orm.Mapped[list[Book]] = orm.relationship(back_populates="author")


class Book(Base):
    __tablename__ = "books"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    title: orm.Mapped[str]
    author_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("authors.id"))
    author: orm.Mapped[Author] = orm.relationship(back_populates="books")


def test_orm() -> None:
    engine = sa.create_engine(memory_url())
    Base.metadata.create_all(engine)
    with orm.Session(engine) as session:
        herbert = Author(name="Herbert", books=[Book(title="Dune"), Book(title="Children")])
        session.add_all([herbert, Author(name="Gibson", books=[Book(title="Neuromancer")])])
        session.commit()
    with orm.Session(engine) as session:
        authors = session.scalars(
            sa.select(Author).options(orm.selectinload(Author.books)).order_by(Author.name)
        ).all()
        assert [(a.name, sorted(b.title for b in a.books)) for a in authors] == [
            ("Gibson", ["Neuromancer"]),
            ("Herbert", ["Children", "Dune"]),
        ]
        rows = session.execute(
            sa.select(Book.title, Author.name)
            .join(Book.author)
            .where(Author.name == "Herbert")
            .order_by(Book.title)
        ).all()
        assert [tuple(r) for r in rows] == [("Children", "Herbert"), ("Dune", "Herbert")]
        book = session.scalars(sa.select(Book).where(Book.title == "Dune")).one()
        book.title = "Dune (1965)"
        session.delete(session.scalars(sa.select(Book).where(Book.title == "Children")).one())
        session.commit()
    with orm.Session(engine) as session:
        session.add(Author(name="Herbert"))  # duplicate name
        with pytest.raises(sa.exc.IntegrityError):
            session.commit()
        session.rollback()
        assert session.scalar(sa.select(sa.func.count()).select_from(Book)) == 2
        assert session.scalars(sa.select(Book.title).order_by(Book.id)).all() == [
            "Dune (1965)",
            "Neuromancer",
        ]


def test_pandas_matches_sqlite(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "id": range(200),
            "x": [i * 0.5 if i % 7 else None for i in range(200)],
            "name": [f"n{i}" if i % 5 else None for i in range(200)],
            "flag": [i % 2 == 0 for i in range(200)],
            "when": pd.date_range("2020-01-01", periods=200, freq="h"),
        }
    )
    frames = []
    for url in (f"sqlite:///{tmp_path}/ref.db", memory_url()):
        engine = sa.create_engine(url)
        df.to_sql("t", engine, index=False, chunksize=64)
        frames.append(pd.read_sql("SELECT * FROM t ORDER BY id", engine))
        engine.dispose()
    reference, ours = frames
    reference["flag"] = reference["flag"].astype(bool)  # sqlite has no boolean type
    reference["when"] = pd.to_datetime(reference["when"])  # nor a timestamp type
    pd.testing.assert_frame_equal(reference, ours)
