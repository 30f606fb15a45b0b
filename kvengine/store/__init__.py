"""The object-store layer: one narrow interface, adapters under it, wrappers around it.

Use :func:`open_store` to get a store from a URL; the engine never sees a backend directly.
"""

from kvengine.store.base import (
    DELETE,
    GET,
    HEAD,
    LIST,
    PUT,
    REQUEST_KINDS,
    ObjectInfo,
    ObjectStore,
)
from kvengine.store.faults import FaultyStore
from kvengine.store.fsspec_store import FsspecStore
from kvengine.store.instrumented import InstrumentedStore, StoreStats
from kvengine.store.latency import LatencyStore
from kvengine.store.memory import MemoryStore
from kvengine.store.opener import Store, open_store
from kvengine.store.pricing import PRICES_PER_MILLION, cost_usd
from kvengine.store.retrying import RetryingStore, RetryPolicy

__all__ = [
    "DELETE",
    "GET",
    "HEAD",
    "LIST",
    "PRICES_PER_MILLION",
    "PUT",
    "REQUEST_KINDS",
    "FaultyStore",
    "FsspecStore",
    "InstrumentedStore",
    "LatencyStore",
    "MemoryStore",
    "ObjectInfo",
    "ObjectStore",
    "RetryPolicy",
    "RetryingStore",
    "Store",
    "StoreStats",
    "cost_usd",
    "open_store",
]
