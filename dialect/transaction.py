"""A connection's transaction: an engine transaction (snapshot reads, own writes, conflict-checked
commit) plus the schema it reads.

The catalog is read from the transaction's own snapshot, so a statement always plans against
the schema its rows were written under. A schema change in the transaction writes a new
catalog there; undoing it (ROLLBACK TO, a failed statement) reads the catalog again. Every
table a statement uses is *watched*: if another transaction changes that table's definition
(CREATE/DROP INDEX, ALTER, DROP TABLE) and commits first, this one's commit fails with a
conflict instead of writing rows or index entries that no longer fit (docs/sql.md#transactions).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import kvengine
from dialect.catalog import CATALOG_KEY, Catalog, decode_catalog
from dialect.errors import InternalError, OperationalError
from dialect.layout import schema_key


class Transaction:
    """Reads and writes of one connection between two commits. Not thread-safe."""

    def __init__(self, txn: kvengine.Transaction, catalog: Catalog) -> None:
        self.engine = txn
        self._catalog = catalog
        #: a schema change ran in this transaction (its catalog is its own write)
        self.changed_schema = False
        self._watched: set[int] = set()
        #: the open SQL savepoints, innermost last: (name case-folded, engine undo-log mark)
        self._savepoints: list[tuple[str, int]] = []

    @property
    def catalog(self) -> Catalog:
        """The schema this transaction reads: its snapshot's, with its own schema changes."""
        return self._catalog

    @catalog.setter
    def catalog(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self.changed_schema = True

    def _restore_catalog(self) -> None:
        """Writes were undone: read the catalog again from the transaction's own writes (a
        new object, so nothing planned against the undone schema is reused)."""
        if self.changed_schema:
            self._catalog = CatalogCache().read(self.engine)

    @contextmanager
    def stored_schema(self) -> Iterator[None]:
        """A schema change of stored objects runs inside: :attr:`catalog` is the stored
        catalog alone (without a connection's temporary objects, dialect/temp.py)."""
        yield

    def get(self, key: bytes) -> bytes | None:
        return self.engine.get(key)

    def scan(
        self, start: bytes | None, end: bytes | None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        return self.engine.scan(start, end, reverse=reverse)

    def put(self, key: bytes, value: bytes) -> None:
        self.engine.put(key, value)

    def delete(self, key: bytes) -> None:
        self.engine.delete(key)

    def watch(self, start: bytes, end: bytes | None = None) -> None:
        """Conflict at commit if another commit writes in ``[start, end)`` first."""
        self.engine.watch(start, end)

    def use_table(self, table_id: int) -> None:
        """This transaction relies on the definition of table ``table_id``."""
        if table_id not in self._watched:
            self._watched.add(table_id)
            self.engine.watch(schema_key(table_id))

    # -- statement savepoints: a failed statement undoes its own writes ----------------------

    def savepoint(self) -> int:
        return self.engine.savepoint()

    def rollback_to(self, savepoint: int) -> None:
        self.engine.rollback_to(savepoint)
        self._restore_catalog()

    def release(self) -> None:
        """The statement succeeded: forget its undo entries, unless an SQL savepoint still
        needs them."""
        if not self._savepoints:
            self.engine.release_savepoints()

    # -- SQL savepoints (SAVEPOINT / ROLLBACK TO / RELEASE) -----------------------------------

    @property
    def in_savepoint(self) -> bool:
        """True while an SQL savepoint is open."""
        return bool(self._savepoints)

    def begin_savepoint(self, name: str) -> None:
        """``SAVEPOINT name``: a new innermost savepoint (names may repeat)."""
        self._savepoints.append((name.lower(), self.engine.savepoint()))

    def rollback_to_savepoint(self, name: str) -> None:
        """``ROLLBACK TO name``: undo the writes since the innermost savepoint ``name`` and
        drop the savepoints inside it; it stays open. Watched ranges stay (harmless)."""
        at = self._find(name)
        del self._savepoints[at + 1 :]
        self.engine.rollback_to(self._savepoints[at][1])
        self._restore_catalog()

    def release_savepoint(self, name: str) -> None:
        """``RELEASE name``: drop the innermost savepoint ``name`` and those inside it; their
        writes stay in the transaction."""
        del self._savepoints[self._find(name) :]
        if not self._savepoints:
            self.engine.release_savepoints()

    def _find(self, name: str) -> int:
        folded = name.lower()
        for at in range(len(self._savepoints) - 1, -1, -1):
            if self._savepoints[at][0] == folded:
                return at
        raise OperationalError(f"no such savepoint: {name}")


class CatalogCache:
    """Decoded catalogs by their stored bytes: a transaction whose snapshot holds the same
    catalog as the last one decodes nothing. Thread-safe (one immutable pair is swapped)."""

    def __init__(self) -> None:
        self._last: tuple[bytes | None, Catalog] = (None, Catalog())

    def read(self, txn: kvengine.Transaction) -> Catalog:
        data = txn.get(CATALOG_KEY)
        last_data, last = self._last
        if data == last_data:
            return last
        try:
            catalog = decode_catalog(data) if data else Catalog()
        except ValueError as exc:
            raise InternalError(f"the catalog cannot be read: {exc}") from exc
        self._last = (data, catalog)
        return catalog
