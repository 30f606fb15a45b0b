"""Alembic migrations, and dask reading a table in parallel from worker processes."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from tests.emulators import Emulator

MIGRATION = '''
"""create tables, then add a column and an index"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
    )
    op.add_column("accounts", sa.Column("email", sa.String(100)))
    op.create_index("ix_accounts_email", "accounts", ["email"])


def downgrade():
    op.drop_index("ix_accounts_email", "accounts")
    op.drop_table("accounts")
'''

ENV = """
from alembic import context
from sqlalchemy import create_engine

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
"""


def test_alembic_upgrade_and_downgrade(tmp_path: Path) -> None:
    scripts = tmp_path / "migrations"
    (scripts / "versions").mkdir(parents=True)
    (scripts / "env.py").write_text(textwrap.dedent(ENV))
    (scripts / "script.py.mako").write_text("")
    (scripts / "versions" / "0001_accounts.py").write_text(textwrap.dedent(MIGRATION))
    url = f"strata:///{tmp_path}/db"
    cfg = Config()
    cfg.set_main_option("script_location", str(scripts))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "head")
    insp = sa.inspect(sa.create_engine(url))
    assert [c["name"] for c in insp.get_columns("accounts")] == ["id", "name", "email"]
    assert [i["name"] for i in insp.get_indexes("accounts")] == ["ix_accounts_email"]
    assert "alembic_version" in insp.get_table_names()
    command.downgrade(cfg, "base")
    assert "accounts" not in sa.inspect(sa.create_engine(url)).get_table_names()


def test_dask_reads_partitions_in_worker_processes(gcs_server: Emulator) -> None:
    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client, LocalCluster

    bucket = gcs_server.url_prefix.removeprefix("gs://")
    endpoint = gcs_server.storage_options["endpoint_url"]
    base = f"strata+gs://{bucket}/dask-{uuid.uuid4().hex[:8]}"
    query = f"?endpoint_url={endpoint}&token=anon&project=strata-test"
    engine = sa.create_engine(base + query)
    frame = pd.DataFrame({"id": range(1000), "v": [i * 2 for i in range(1000)]})
    frame.to_sql("t", engine, index=False, chunksize=500)
    engine.dispose()
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        ddf = dd.read_sql_table("t", base + query + "&mode=ro", index_col="id", npartitions=8)
        assert ddf.npartitions == 8
        result = ddf.compute().sort_index()
    assert result["v"].tolist() == [i * 2 for i in range(1000)]
