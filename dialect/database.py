"""One open database per target per process, shared by every connection to it: the engine, the
catalog cache and the id blocks this process has reserved.

Conflicts between transactions, in this process or any other, are detected by the engine at
commit (first committer wins); nothing here keeps a commit log."""

from __future__ import annotations

import dataclasses
import os
import struct
import threading
from typing import Any

import kvengine
from dialect.catalog import CATALOG_KEY, Catalog, encode_catalog
from dialect.errors import ConflictError, translate_engine_errors
from dialect.layout import TEMP_BASE, counter_key, schema_key
from dialect.transaction import CatalogCache, Transaction

_COUNTER = struct.Struct(">q")
#: ids reserved per counter commit: each process takes blocks of this many ids
ID_BLOCK = 1000
_MAX_BLOCK = 1 << 20
#: a reservation that keeps losing to other processes' reservations gives up after this many
_RESERVE_ATTEMPTS = 50


class Database:
    """The shared state of one database in this process. Thread-safe."""

    _open: dict[int, Database] = {}  # id(engine) -> its Database
    _open_lock = threading.Lock()

    def __init__(self, db: kvengine.DB, read_only: bool) -> None:
        self.db = db
        self.read_only = read_only
        self.refs = 0
        self._store: kvengine.ObjectStore | None = None  # the store object it was opened on
        self._catalogs = CatalogCache()
        self._ids_lock = threading.Lock()
        self._ids: dict[int, tuple[int, int]] = {}  # table id -> (next id, end of the block)
        self._block: dict[int, int] = {}  # table id -> size of the next block to reserve
        self._temp_counters: dict[int, int] = {}  # temporary table id -> its next free id

    @classmethod
    def acquire(
        cls,
        target: str | os.PathLike[str] | kvengine.ObjectStore,
        read_only: bool,
        options: dict[str, Any],
    ) -> Database:
        """The process's database for ``target`` (one per engine, whatever the spelling; one
        per store object), opening it on first use. ``options``: ``exclusive``,
        ``max_staleness_ms``, ``checkpoint``, ``options`` (the engine's ``kvengine.Options``)
        and the rest of ``DB.open``'s keywords (``clock``, ``manual``) and storage options. A
        checkpoint opens a
        read-only engine of its own for each connection."""
        base: kvengine.Options = options.pop("options", None) or kvengine.Options()
        staleness = int(options.pop("max_staleness_ms", 0))
        engine = dataclasses.replace(base, max_staleness_ms=staleness) if staleness else base
        exclusive = bool(options.pop("exclusive", False))
        checkpoint = options.pop("checkpoint", None)
        with cls._open_lock, translate_engine_errors():
            if checkpoint is not None:
                if exclusive:
                    raise kvengine.InvalidArgument("a checkpoint opens read-only, not exclusive")
                at = kvengine.DB.open(
                    target if isinstance(target, kvengine.ObjectStore) else os.fspath(target),
                    checkpoint=str(checkpoint),
                    options=engine,
                    **options,
                )
                pinned = cls._open[id(at)] = Database(at, read_only=True)
                pinned.refs += 1
                return pinned
            if isinstance(target, kvengine.ObjectStore):
                # The engine gives every store object an engine of its own; connections to
                # one store object share one, as connections to one URL do.
                for database in cls._open.values():
                    if database._store is target and database.read_only == read_only:
                        database.refs += 1
                        return database
            db = kvengine.DB.open(
                target if isinstance(target, kvengine.ObjectStore) else os.fspath(target),
                read_only=read_only,
                exclusive=exclusive,
                options=engine,
                **options,
            )
            found = cls._open.get(id(db))
            if found is None:
                found = cls._open[id(db)] = Database(db, read_only)
                if isinstance(target, kvengine.ObjectStore):
                    found._store = target
            else:
                db.close()  # the engine counts one open per Database, not per connection
            found.refs += 1
            return found

    def release(self) -> None:
        """One connection is done; the last one closes the engine."""
        with Database._open_lock:
            self.refs -= 1
            if self.refs > 0:
                return
            Database._open.pop(id(self.db), None)
        with translate_engine_errors():
            self.db.close()

    # -- transactions -------------------------------------------------------------------------

    def begin(self) -> Transaction:
        """A transaction that sees every commit that returned before now."""
        with translate_engine_errors():
            txn = self.db.transaction()
            return Transaction(txn, self._catalogs.read(txn))

    def commit(self, txn: Transaction, *, durable: bool) -> None:
        """Apply ``txn``'s writes atomically (``durable``: return once they are stored);
        ``ConflictError`` if a transaction that committed first changed the same rows, a
        UNIQUE value it used, or the schema of a table it used."""
        with translate_engine_errors():
            txn.engine.commit(durable=durable)

    def read_catalog(self) -> Catalog:
        """The schema as of now."""
        with translate_engine_errors():
            txn = self.db.transaction()
            try:
                return self._catalogs.read(txn)
            finally:
                txn.rollback()

    def refresh(self) -> None:
        """Catch up with every commit stored so far."""
        with translate_engine_errors():
            self.db.refresh()

    @staticmethod
    def set_catalog(txn: Transaction, catalog: Catalog, *changed_tables: int) -> None:
        """Write a new catalog version in ``txn``, marking ``changed_tables`` as redefined so
        that open transactions using them conflict."""
        txn.put(CATALOG_KEY, encode_catalog(catalog))  # two schema changes conflict here
        for table_id in changed_tables:
            txn.put(schema_key(table_id), _COUNTER.pack(catalog.version))
        txn.catalog = catalog

    # -- id counters ----------------------------------------------------------------------------

    def next_id(self, table_id: int) -> int:
        """A new id for an INTEGER PRIMARY KEY or hidden row id: unique across processes, not
        consecutive (each process takes blocks of ``ID_BLOCK``; unused ids are skipped)."""
        with self._ids_lock:
            nxt, end = self._ids.get(table_id, (0, 0))
            if nxt >= end:
                nxt, end = self._reserve(table_id, 0, self._grown_block(table_id))
            self._ids[table_id] = (nxt + 1, end)
            return nxt

    def _grown_block(self, table_id: int) -> int:
        """The size of the next block this process takes for a table: twice the last, so a
        bulk load moves the shared counter in a few small commits, not one per ``ID_BLOCK``
        rows."""
        size = self._block.get(table_id, ID_BLOCK)
        self._block[table_id] = min(size * 2, _MAX_BLOCK)
        return size

    def saw_id(self, table_id: int, value: int) -> None:
        """An id was given explicitly: ids generated later by this process are greater, and
        the shared counter moves past it."""
        with self._ids_lock:
            nxt, end = self._ids.get(table_id, (0, 0))
            if value < nxt:
                return
            if value + 1 < end:
                self._ids[table_id] = (value + 1, end)
            else:
                self._ids[table_id] = self._reserve(
                    table_id, value + 1, self._grown_block(table_id)
                )

    def _reserve(self, table_id: int, at_least: int, size: int = ID_BLOCK) -> tuple[int, int]:
        """Take the next block of ids from the table's counter (a small commit of its own,
        retried when another process reserves at the same time)."""
        if table_id >= TEMP_BASE:  # a temporary table (dialect/temp.py) counts in memory
            start = max(self._temp_counters.get(table_id, 1), at_least, 1)
            self._temp_counters[table_id] = start + size
            return start, start + size
        key = counter_key(table_id)
        for _ in range(_RESERVE_ATTEMPTS):
            try:
                with translate_engine_errors(), self.db.transaction() as txn:
                    data = txn.get(key)
                    start = max(_COUNTER.unpack(data)[0] if data else 1, at_least, 1)
                    txn.put(key, _COUNTER.pack(start + size))
                return start, start + size
            except ConflictError:
                continue
        raise ConflictError(f"could not reserve ids for table {table_id}: too much contention")

    def forget_ids(self, table_id: int) -> None:
        """The table was dropped: its reserved block is gone with it."""
        with self._ids_lock:
            self._ids.pop(table_id, None)
            self._block.pop(table_id, None)
            self._temp_counters.pop(table_id, None)
