"""SQLAlchemy Core on Strata: tables, inserts, selects with joins, reflection.

python examples/sqlalchemy_core.py [DIR]
"""

from __future__ import annotations

import sys
import tempfile

import sqlalchemy as sa


def main(directory: str) -> None:
    engine = sa.create_engine(f"strata:///{directory}")  # strata+gs://bucket/prefix, …
    md = sa.MetaData()
    teams = sa.Table(
        "teams",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(40), unique=True, nullable=False),
    )
    people = sa.Table(
        "people",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(40)),
        sa.Column("team_id", sa.ForeignKey("teams.id"), index=True),
    )
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(teams.insert(), [{"name": "engine"}, {"name": "sql"}])
        conn.execute(
            people.insert(),
            [
                {"name": "ada", "team_id": 1},
                {"name": "grace", "team_id": 2},
                {"name": "alan", "team_id": 2},
            ],
        )
    with engine.connect() as conn:
        query = (
            sa.select(teams.c.name, sa.func.count(people.c.id).label("n"))
            .join(people, people.c.team_id == teams.c.id)
            .group_by(teams.c.name)
            .order_by(teams.c.name)
        )
        for row in conn.execute(query):
            print(row.name, row.n)
    print("tables:", sa.inspect(engine).get_table_names())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="strata-"))
