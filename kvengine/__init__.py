"""Strata's key-value engine: an LSM tree whose only durable state is objects in a store.

>>> from kvengine import DB
>>> with DB.open("memory://doc") as db:
...     db.put(b"k", b"v")
...     db.get(b"k")
b'v'
"""

from kvengine.batch import WriteBatch
from kvengine.db import DB, Snapshot
from kvengine.errors import (
    CheckpointUnavailable,
    Closed,
    Conflict,
    Corruption,
    Fenced,
    InvalidArgument,
    ObjectNotFound,
    SSTGone,
    StoreConfigError,
    StoreError,
    StorePermissionDenied,
    StoreUnavailable,
    StrataError,
)
from kvengine.manifest.model import Checkpoint
from kvengine.options import Options
from kvengine.store import ObjectStore, RetryPolicy, Store, StoreStats, open_store
from kvengine.transaction import Transaction

__all__ = [
    "DB",
    "Checkpoint",
    "CheckpointUnavailable",
    "Closed",
    "Conflict",
    "Corruption",
    "Fenced",
    "InvalidArgument",
    "ObjectNotFound",
    "ObjectStore",
    "Options",
    "RetryPolicy",
    "SSTGone",
    "Snapshot",
    "Store",
    "StoreConfigError",
    "StoreError",
    "StorePermissionDenied",
    "StoreStats",
    "StoreUnavailable",
    "StrataError",
    "Transaction",
    "WriteBatch",
    "open_store",
]
