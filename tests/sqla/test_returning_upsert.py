"""RETURNING and upserts through SQLAlchemy: the ORM fetches new keys and server defaults in
one multi-row INSERT … RETURNING; ``dialect.sqla.insert`` builds ON CONFLICT clauses."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event, orm

from dialect.sqla import insert


class Base(orm.DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(30), unique=True)
    count: orm.Mapped[int] = orm.mapped_column(server_default=sa.text("7"))


@pytest.fixture
def engine() -> sa.Engine:
    engine = sa.create_engine(f"strata+memory://{uuid.uuid4().hex}")
    Base.metadata.create_all(engine)
    return engine


def _statements(engine: sa.Engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:  # Any: as given
        seen.append(statement)

    return seen


def test_orm_gets_new_keys_and_server_defaults_by_returning(engine: sa.Engine) -> None:
    seen = _statements(engine)
    with orm.Session(engine) as session:
        items = [Item(name=f"i{i}") for i in range(5)]
        session.add_all(items)
        session.flush()
        inserts = [s for s in seen if s.startswith("INSERT")]
        assert len(inserts) == 1  # one multi-row INSERT … RETURNING for five objects
        assert "RETURNING" in inserts[0]
        assert [item.count for item in items] == [7] * 5  # no SELECT to load them
        assert len({item.id for item in items}) == 5
        expected = [(item.id, item.name) for item in items]
        session.commit()
    with orm.Session(engine) as session:
        stored = session.scalars(sa.select(Item).order_by(Item.id)).all()
        assert [(i.id, i.name) for i in stored] == expected


def test_core_update_and_delete_returning(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(Item), [{"name": "a"}, {"name": "b"}])
        updated = conn.execute(
            sa.update(Item).where(Item.name == "a").values(count=1).returning(Item.name, Item.count)
        ).all()
        assert [tuple(r) for r in updated] == [("a", 1)]
        deleted = conn.execute(sa.delete(Item).returning(Item.name)).scalars().all()
        assert sorted(deleted) == ["a", "b"]


def test_upserts_through_the_dialect_insert(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(Item), [{"name": "a", "count": 1}, {"name": "b", "count": 2}])
        stmt = insert(Item).values(name="a", count=10)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Item.name],
            set_={"count": Item.count + stmt.excluded.count},
            where=Item.count < 5,
        )
        assert conn.execute(stmt.returning(Item.name, Item.count)).all() == [("a", 11)]
        assert conn.execute(stmt).rowcount == 0  # the WHERE is false now
        nothing = insert(Item).values(name="b", count=99).on_conflict_do_nothing()
        assert conn.execute(nothing).rowcount == 0
        keyed = insert(Item).on_conflict_do_nothing(index_elements=["name"])
        conn.execute(keyed, [{"name": "b"}, {"name": "c"}])
        rows = conn.execute(sa.select(Item.name, Item.count).order_by(Item.name)).all()
        assert [tuple(r) for r in rows] == [("a", 11), ("b", 2), ("c", 7)]


def test_orm_upsert_statement(engine: sa.Engine) -> None:
    with orm.Session(engine) as session:
        session.add(Item(name="a", count=1))
        session.commit()
        stmt = insert(Item).values([{"name": "a", "count": 5}, {"name": "z", "count": 6}])
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"], set_={"count": stmt.excluded.count}
        )
        returned = session.scalars(
            stmt.returning(Item), execution_options={"populate_existing": True}
        )
        assert sorted((i.name, i.count) for i in returned) == [("a", 5), ("z", 6)]
        session.commit()
