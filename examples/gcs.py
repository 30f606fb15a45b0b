"""Strata on Google Cloud Storage. The URL and options come from the environment:

    STRATA_GCS_URL=strata+gs://my-bucket/shop python examples/gcs.py
    # against an emulator:
    STRATA_GCS_URL='strata+gs://bucket/db?endpoint_url=http://127.0.0.1:4443&token=anon' \
        python examples/gcs.py
"""

from __future__ import annotations

import os
import sys

import sqlalchemy as sa


def main() -> None:
    url = os.environ.get("STRATA_GCS_URL")
    if not url:
        sys.exit("set STRATA_GCS_URL, e.g. strata+gs://my-bucket/shop")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)")
        )
        conn.execute(
            sa.text("INSERT INTO notes (body) VALUES (:b)"), [{"b": "hello"}, {"b": "from GCS"}]
        )
    with engine.connect() as conn:
        print(conn.execute(sa.text("SELECT id, body FROM notes ORDER BY id")).all())
        stats = conn.connection.dbapi_connection.stats()  # type: ignore[union-attr]
        print("requests:", stats["requests"])


if __name__ == "__main__":
    main()
