"""A small ORM app on Strata: declarative models, a one-to-many relationship, queries with
joins and selectinload, updates, deletes, and a rollback on error.

    python examples/orm_app.py [DIR]
"""

from __future__ import annotations

import sys
import tempfile

import sqlalchemy as sa
from sqlalchemy import orm


class Base(orm.DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    email: orm.Mapped[str] = orm.mapped_column(sa.String(80), unique=True)
    orders: orm.Mapped[list[Order]] = orm.relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )


class Order(Base):
    __tablename__ = "orders"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    total: orm.Mapped[float]
    customer_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("customers.id"))
    customer: orm.Mapped[Customer] = orm.relationship(back_populates="orders")


def main(directory: str) -> None:
    engine = sa.create_engine(f"strata:///{directory}")
    Base.metadata.create_all(engine)
    with orm.Session(engine) as session:
        session.add_all(
            [
                Customer(email="ada@example.com", orders=[Order(total=12.5), Order(total=30.0)]),
                Customer(email="alan@example.com", orders=[Order(total=7.25)]),
            ]
        )
        session.commit()
    with orm.Session(engine) as session:
        customers = session.scalars(
            sa.select(Customer).options(orm.selectinload(Customer.orders)).order_by(Customer.id)
        )
        for c in customers:
            print(c.email, [o.total for o in c.orders])
        big = session.execute(
            sa.select(Customer.email, Order.total).join(Order.customer).where(Order.total > 10)
        ).all()
        print("orders over 10:", [tuple(r) for r in big])
        alan = session.scalars(sa.select(Customer).where(Customer.email.like("alan%"))).one()
        alan.orders[0].total = 8.0
        session.commit()
        try:
            session.add(Customer(email="ada@example.com"))  # duplicate email
            session.commit()
        except sa.exc.IntegrityError as exc:
            session.rollback()
            print("rolled back:", exc.orig)
        session.delete(alan)
        session.commit()
        print("customers left:", session.scalars(sa.select(Customer.email)).all())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="strata-"))
