"""One open database per target per process, shared by every connection to it: the engine,
the catalog cache, the id counters and the commit log used to detect write conflicts."""

from __future__ import annotations

import os
import struct
import threading
from typing import Any

import kvengine
from dialect.catalog import CATALOG_KEY, Catalog, decode_catalog, encode_catalog
from dialect.errors import OperationalError, translate_engine_errors
from dialect.layout import counter_key
from dialect.transaction import Transaction

_COUNTER = struct.Struct(">q")
#: ids reserved per counter write: an id counter costs one write per this many inserts
ID_BLOCK = 1000


class Database:
    """The shared state of one database in this process. Thread-safe."""

    _open: dict[tuple[str, bool], Database] = {}
    _open_lock = threading.Lock()

    def __init__(self, key: tuple[str, bool], db: kvengine.DB, durable: bool) -> None:
        self.key = key
        self.db = db
        self.read_only = key[1]
        self.durable = durable
        self.refs = 0
        self.lock = threading.RLock()  # commits, schema changes, counters
        self._catalog = self._load_catalog()
        self._commits = 0
        self._last_write: dict[bytes, int] = {}  # key -> commit number that last wrote it
        self._active: dict[int, int] = {}  # id(txn) -> its start commit
        self._ids: dict[int, tuple[int, int]] = {}  # table id -> (next id, reserved up to)

    @classmethod
    def acquire(
        cls,
        target: str | os.PathLike[str],
        read_only: bool,
        durable: bool,
        options: dict[str, Any],
    ) -> Database:
        """The process's database for ``target``, opening it on first use."""
        name = os.fspath(target)
        if "://" not in name:
            name = os.path.abspath(name)
        key = (name, read_only)
        with cls._open_lock:
            found = cls._open.get(key)
            if found is None:
                with translate_engine_errors():
                    db = kvengine.DB.open(name, read_only=read_only, **options)
                found = cls._open[key] = Database(key, db, durable)
            found.refs += 1
            return found

    def release(self) -> None:
        """One connection is done; the last one closes the engine."""
        with Database._open_lock:
            self.refs -= 1
            if self.refs > 0:
                return
            Database._open.pop(self.key, None)
        with translate_engine_errors():
            self.db.close()

    # -- catalog ------------------------------------------------------------------------------

    def _load_catalog(self) -> Catalog:
        with translate_engine_errors():
            data = self.db.get(CATALOG_KEY)
        return decode_catalog(data) if data else Catalog()

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def set_catalog(self, catalog: Catalog) -> None:
        """Store a new catalog version durably (schema changes are not transactional)."""
        with self.lock, translate_engine_errors():
            self.db.put(CATALOG_KEY, encode_catalog(catalog))
            self._catalog = catalog

    def refresh(self) -> None:
        """Readers: catch up with the writer's durable data and schema."""
        with self.lock, translate_engine_errors():
            self.db.refresh()
            self._catalog = self._load_catalog()

    # -- transactions -------------------------------------------------------------------------

    def begin(self) -> Transaction:
        with self.lock, translate_engine_errors():
            txn = Transaction(self.db.snapshot(), self._commits)
            self._active[id(txn)] = self._commits
            return txn

    def end(self, txn: Transaction) -> None:
        with self.lock:
            self._active.pop(id(txn), None)
            txn.close()
            self._prune()

    def commit(self, txn: Transaction) -> None:
        """Apply ``txn``'s writes atomically and durably; ``OperationalError`` on a conflict
        with a transaction that committed first."""
        if not txn.writes:
            return
        with self.lock:
            for key in txn.writes:
                if self._last_write.get(key, -1) > txn.start_commit:
                    raise OperationalError(
                        "write conflict: another transaction committed a change to the same "
                        "row first; roll back and retry"
                    )
            with translate_engine_errors():
                self.db.write(txn.batch(), durable=self.durable)
            self._commits += 1
            for key in txn.writes:
                self._last_write[key] = self._commits

    def _prune(self) -> None:
        oldest = min(self._active.values(), default=self._commits)
        if len(self._last_write) > 10_000:
            self._last_write = {k: c for k, c in self._last_write.items() if c > oldest}

    # -- id counters ----------------------------------------------------------------------------

    def next_id(self, table_id: int) -> int:
        """A new id for an INTEGER PRIMARY KEY or hidden row id; survives reopening."""
        with self.lock:
            nxt, limit = self._ids.get(table_id) or self._read_counter(table_id)
            if nxt >= limit:
                limit = nxt + ID_BLOCK
                self._write_counter(table_id, limit)
            self._ids[table_id] = (nxt + 1, limit)
            return nxt

    def saw_id(self, table_id: int, value: int) -> None:
        """An id was given explicitly: later generated ids must be greater."""
        with self.lock:
            nxt, limit = self._ids.get(table_id) or self._read_counter(table_id)
            if value >= nxt:
                nxt = value + 1
                if nxt > limit:
                    limit = nxt + ID_BLOCK
                    self._write_counter(table_id, limit)
            self._ids[table_id] = (nxt, limit)

    def _read_counter(self, table_id: int) -> tuple[int, int]:
        with translate_engine_errors():
            data = self.db.get(counter_key(table_id))
        limit = _COUNTER.unpack(data)[0] if data else 1
        return limit, limit

    def _write_counter(self, table_id: int, limit: int) -> None:
        with translate_engine_errors():
            self.db.put(counter_key(table_id), _COUNTER.pack(limit), durable=self.durable)

    def drop_counter(self, table_id: int) -> None:
        with self.lock, translate_engine_errors():
            self._ids.pop(table_id, None)
            self.db.delete(counter_key(table_id))

    def write_direct(self, batch: kvengine.WriteBatch) -> None:
        """Apply a batch outside any transaction (schema changes: backfills, drops)."""
        with self.lock, translate_engine_errors():
            self.db.write(batch, durable=self.durable)
            self._commits += 1
            for _kind, key, _value in batch.ops:
                self._last_write[key] = self._commits
