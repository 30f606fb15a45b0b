"""pandas to Strata and back: to_sql, read_sql, read_sql_table.

python examples/pandas_roundtrip.py [DIR]
"""

from __future__ import annotations

import sys
import tempfile

import numpy as np
import pandas as pd
import sqlalchemy as sa


def main(directory: str) -> None:
    engine = sa.create_engine(f"strata:///{directory}")
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "id": np.arange(1000),
            "price": rng.normal(100, 15, 1000).round(2),
            "sku": [f"sku-{i % 37}" for i in range(1000)],
            "in_stock": rng.integers(0, 2, 1000).astype(bool),
            "updated": pd.date_range("2026-01-01", periods=1000, freq="min"),
        }
    )
    df.to_sql("products", engine, index=False, if_exists="replace", chunksize=250)
    cheap = pd.read_sql(
        "SELECT sku, AVG(price) AS avg_price FROM products WHERE price < ? "
        "GROUP BY sku ORDER BY avg_price LIMIT 5",
        engine,
        params=(90,),
    )
    print(cheap)
    back = pd.read_sql_table("products", engine)
    print("round trip equal:", back.equals(df))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="strata-"))
