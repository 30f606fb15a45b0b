"""Savepoints behind SQLAlchemy: ``Session.begin_nested()`` and ``Connection.begin_nested()``."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy import orm


class Base(orm.DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(30), unique=True)


def memory_engine() -> sa.Engine:
    engine = sa.create_engine(f"strata+memory://{uuid.uuid4().hex}")
    Base.metadata.create_all(engine)
    return engine


def test_session_begin_nested_rolls_back_an_inner_integrity_error() -> None:
    engine = memory_engine()
    with orm.Session(engine) as session:
        session.add(User(id=1, name="ada"))
        session.flush()
        with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
            session.add(User(id=2, name="bob"))
            session.flush()
            session.add(User(id=3, name="ada"))  # duplicate name
            session.flush()
        # The savepoint is rolled back (bob is gone too); the outer transaction goes on.
        session.add(User(id=4, name="cy"))
        with session.begin_nested():
            session.add(User(id=5, name="dee"))  # a nested transaction that succeeds
        session.commit()
    with orm.Session(engine) as session:
        names = session.scalars(sa.select(User.name).order_by(User.id)).all()
    assert names == ["ada", "cy", "dee"]
    engine.dispose()


def test_connection_begin_nested() -> None:
    engine = memory_engine()
    users = User.__table__
    with engine.connect() as conn:
        with conn.begin():
            conn.execute(users.insert(), [{"id": 1, "name": "a"}])
            nested = conn.begin_nested()
            conn.execute(users.insert(), [{"id": 2, "name": "b"}])
            inner = conn.begin_nested()
            conn.execute(users.insert(), [{"id": 3, "name": "c"}])
            inner.commit()  # RELEASE SAVEPOINT
            nested.rollback()  # ROLLBACK TO SAVEPOINT: b and c are undone
            with conn.begin_nested():
                conn.execute(users.insert(), [{"id": 4, "name": "d"}])
        rows = conn.execute(sa.select(users.c.id).order_by(users.c.id)).all()
    assert [r.id for r in rows] == [1, 4]
    engine.dispose()


def test_begin_nested_under_autocommit() -> None:
    engine = memory_engine()
    users = User.__table__
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        nested = conn.begin_nested()
        conn.execute(users.insert(), [{"id": 1, "name": "a"}])
        nested.commit()  # releasing the outermost savepoint commits
        nested = conn.begin_nested()
        conn.execute(users.insert(), [{"id": 2, "name": "b"}])
        nested.rollback()
    with engine.connect() as conn:
        assert conn.execute(sa.select(users.c.id)).scalars().all() == [1]
    engine.dispose()
