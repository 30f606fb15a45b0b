"""List prices of object-store requests, to turn request counts into dollars.

Prices are US dollars per million requests, from the providers' public price lists for
us-east-1 / US multi-region as of 2026 (docs/object-stores.md gives the sources). Egress is
not included. DELETE is free on all three. Storage is priced separately, per GB-month.
"""

from __future__ import annotations

from collections.abc import Mapping

from kvengine.store.base import DELETE, GET, HEAD, LIST, PUT

#: price table name -> request kind -> USD per 1,000,000 requests
PRICES_PER_MILLION: Mapping[str, Mapping[str, float]] = {
    # Class A (insert, list) $0.05 / 10k; class B (get, metadata) $0.004 / 10k.
    "gcs-standard": {PUT: 5.00, LIST: 5.00, GET: 0.40, HEAD: 0.40, DELETE: 0.0},
    # PUT/COPY/POST/LIST $0.005 / 1k; GET and all other $0.0004 / 1k.
    "s3-standard": {PUT: 5.00, LIST: 5.00, GET: 0.40, HEAD: 0.40, DELETE: 0.0},
    # PUT $0.00113 / 1k; GET $0.00003 / 1k (per-GB data charges above 512 KiB not included).
    "s3-express-one-zone": {PUT: 1.13, LIST: 1.13, GET: 0.03, HEAD: 0.03, DELETE: 0.0},
}


def cost_usd(requests: Mapping[str, int], table: str = "gcs-standard") -> float:
    """Dollar cost of ``requests`` (kind -> count) under price table ``table``."""
    try:
        prices = PRICES_PER_MILLION[table]
    except KeyError:
        raise ValueError(
            f"unknown price table {table!r}; known: {', '.join(PRICES_PER_MILLION)}"
        ) from None
    return sum(prices.get(kind, 0.0) * n for kind, n in requests.items()) / 1e6


#: price table name -> USD per GB (2**30 bytes) stored for a month: GCS Standard US
#: multi-region $0.026, S3 Standard (first 50 TB) $0.023, S3 Express One Zone $0.11.
STORAGE_USD_PER_GB_MONTH: Mapping[str, float] = {
    "gcs-standard": 0.026,
    "s3-standard": 0.023,
    "s3-express-one-zone": 0.11,
}


def storage_cost_usd_per_month(nbytes: int, table: str = "gcs-standard") -> float:
    """Dollars a month for storing ``nbytes`` under price table ``table``."""
    try:
        price = STORAGE_USD_PER_GB_MONTH[table]
    except KeyError:
        raise ValueError(
            f"unknown price table {table!r}; known: {', '.join(STORAGE_USD_PER_GB_MONTH)}"
        ) from None
    return nbytes / 2**30 * price
