"""dask reading a table in parallel from worker processes (Alembic: test_alembic.py)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from tests.emulators import Emulator


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
