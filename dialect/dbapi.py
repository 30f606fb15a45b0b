"""PEP 249 Connection and Cursor."""

from __future__ import annotations

import contextlib
import itertools
import os
import weakref
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import kvengine
from dialect.catalog import Catalog
from dialect.database import Database
from dialect.errors import (
    ConflictError,
    Error,
    InterfaceError,
    InternalError,
    OperationalError,
    ProgrammingError,
    translate_engine_errors,
)
from dialect.execute import Outcome, StatementSession
from dialect.parse import Prepared, SavepointStatement, bind, prepare
from dialect.temp import TempSpace
from dialect.transaction import Transaction

Params = Sequence[Any] | Mapping[str, Any] | None  # Any: values to bind
#: a schema change that keeps losing conflicts is tried this many times
DDL_ATTEMPTS = 5


@contextlib.contextmanager
def _depth_limited() -> Iterator[None]:
    """Errors Python raises while a statement runs, as the PEP 249 errors they are: the
    recursion limit (a statement nested thousands deep, in parsing, planning or evaluation) is
    a ProgrammingError. A value an operation cannot take (a parameter of a type SQL has no use
    for, text where a number is needed, an overflow) is a DataError raised where the value is
    evaluated (dialect.expr, dialect.functions, dialect.convert), never here: any other
    exception escaping parsing, planning or execution is a bug in Strata, and arrives as an
    ``InternalError`` whose ``__cause__`` is the original exception (the fuzzers report every
    InternalError). The statement is rolled back as any failed statement is."""
    try:
        with translate_engine_errors():
            yield
    except Error:
        raise
    except RecursionError:
        raise ProgrammingError("the statement is nested too deeply") from None
    except MemoryError:
        raise
    except Exception as exc:
        raise InternalError(
            f"internal error (a bug in Strata, please report it): {type(exc).__name__}: {exc}"
        ) from exc


class Connection:
    """A connection to one Strata database; use :func:`dialect.connect`.

    Statements run in a transaction that starts with the first statement and ends with
    :meth:`commit` or :meth:`rollback` (or after each statement when ``autocommit`` is true).
    The transaction reads a snapshot (every commit that returned before it began, in any
    process) and sees its own writes; ``commit`` applies its writes as one atomic, durable
    batch, or raises ``ConflictError`` if a transaction that committed first conflicts with
    it. Schema changes are transactional: they commit or roll back with the transaction (in
    autocommit mode each commits on its own, run again if it loses a conflict). SQL
    savepoints (SAVEPOINT, ROLLBACK TO, RELEASE) undo parts of a transaction; in autocommit
    mode one holds the transaction open until it is released. Not safe to share
    between threads (``threadsafety = 1``).
    """

    def __init__(self, database: Database, autocommit: bool = False, durable: bool = True) -> None:
        self._database = database
        self._durable = durable
        self._txn: Transaction | None = None
        self._pending: Transaction | None = None  # the last non-durable commit
        #: the statements of the open transaction while it has run schema changes only (to run
        #: again if its commit loses a conflict); None once it ran anything else
        self._replay: list[tuple[Prepared, list[Any]]] | None = None
        self._session = StatementSession(database, self)
        self._streams: weakref.WeakSet[Cursor] = weakref.WeakSet()  # cursors with rows unread
        self.autocommit = autocommit
        self._closed = False
        #: this connection's temporary tables, views and indexes (dialect/temp.py)
        self.temp = TempSpace()

    # -- transactions ---------------------------------------------------------------------

    def transaction(self) -> Transaction:
        """The open transaction, begun if there is none: it sees every commit that returned
        before it began, in this process or any other."""
        self._check()
        if self._txn is None:
            self._settle_pending()
            self._txn = self.temp.wrap(self._database.begin())
            self._replay = []
        return self._txn

    def commit(self) -> None:
        """Apply the transaction's writes atomically and durably. ``ConflictError`` (an
        ``OperationalError``) if another transaction committed a conflicting change first:
        nothing is applied; run the transaction again. A transaction of schema changes only is
        run again here (up to ``DDL_ATTEMPTS`` times in all), and committed durably. With
        ``durable=False`` this returns before the WAL PUT, and a conflict found then is raised
        by this connection's next commit or transaction."""
        self._check()
        self._drain_streams()
        self._settle_pending()
        txn, self._txn = self._txn, None
        replay, self._replay = self._replay, None
        if txn is None:
            return
        durable = self._durable or txn.changed_schema
        try:
            self._database.commit(txn, durable=durable)
        except ConflictError:
            txn.engine.rollback()
            if not replay:
                raise
            self._run_again(replay)
            return
        except BaseException:
            txn.engine.rollback()
            raise
        if not durable:
            self._pending = txn

    def _run_again(self, statements: list[tuple[Prepared, list[Any]]]) -> None:
        """Run a transaction of schema changes only again, from a new snapshot, after its
        commit lost a conflict; up to ``DDL_ATTEMPTS`` runs in all."""
        self._run_retrying(statements, DDL_ATTEMPTS - 1)

    def _run_retrying(self, statements: list[tuple[Prepared, list[Any]]], attempts: int) -> Outcome:
        """Run ``statements`` in a transaction of their own, committed durably, from a new
        snapshot each time a concurrent transaction wins a conflict with it, ``attempts``
        times at most; the last statement's outcome."""
        for attempt in range(attempts):
            self._txn = self._database.begin()
            try:
                with translate_engine_errors():
                    outcomes = [self._session.run(p, values) for p, values in statements]
                txn, self._txn = self._txn, None
                self._database.commit(txn, durable=True)
                return outcomes[-1]
            except ConflictError:
                self.rollback()
                if attempt == attempts - 1:
                    raise
            except BaseException:
                self.rollback()
                raise
        raise AssertionError("unreachable")

    def rollback(self) -> None:
        """Discard the transaction's writes."""
        self._check()
        self._drain_streams()
        txn, self._txn = self._txn, None
        self._replay = None
        if txn is not None:
            txn.engine.rollback()

    def _drain_streams(self) -> None:
        """Read the rest of every result still streaming from this connection's transaction
        into memory, before the transaction changes or ends."""
        if not self._streams:
            return
        for cursor in list(self._streams):
            cursor._drain()
        self._streams.clear()

    def _settle_pending(self) -> None:
        """Raise the outcome of this connection's last non-durable commit, if it failed."""
        pending, self._pending = self._pending, None
        if pending is not None:
            with translate_engine_errors():
                pending.engine.wait()

    def _run_ddl(self, prepared: Prepared, values: list[Any]) -> Outcome:
        """A schema change in autocommit mode: in a transaction of its own, committed
        durably; run again from the start when a concurrent transaction wins a conflict with
        it."""
        self.commit()
        return self._run_retrying([(prepared, values)], DDL_ATTEMPTS)

    # -- statements ---------------------------------------------------------------------------

    def cursor(self) -> Cursor:
        self._check()
        return Cursor(self)

    def execute(self, sql: str, parameters: Params = None) -> Cursor:
        """Shortcut: a new cursor with ``sql`` executed (as in sqlite3)."""
        return self.cursor().execute(sql, parameters)

    def _prepare(self, sql: str) -> Prepared:
        self._check()
        if not isinstance(sql, str):
            raise ProgrammingError(f"SQL must be a str, got {type(sql).__name__}")
        return prepare(sql)

    def _run(self, sql: str, params: Params) -> Outcome:
        with _depth_limited():
            prepared = self._prepare(sql)
            return self._execute(prepared, bind(prepared, params))

    def _execute(self, prepared: Prepared, values: list[Any]) -> Outcome:
        self._drain_streams()
        if self._autocommitting and self._txn is not None:
            self.commit()  # the read transaction a streamed result kept open
        control = prepared.transaction_control
        if control is not None:  # BEGIN / COMMIT / ROLLBACK as SQL
            if control == "COMMIT":
                self.commit()
            elif control == "ROLLBACK":
                self.rollback()
            return Outcome()
        if prepared.savepoint is not None:
            self._run_savepoint(prepared.savepoint)
            self._replay = None
            return Outcome()
        temp_ddl = prepared.is_ddl and not prepared.explain and self.temp.handles(prepared.ast)
        if prepared.is_ddl and not temp_ddl and self._autocommitting:
            return self._run_ddl(prepared, values)
        with translate_engine_errors():
            txn = self.transaction()
            replay = self._replay
            self._replay = None  # until the statement succeeds
            savepoint = txn.savepoint()
            try:
                outcome = self._run_in_transaction(prepared, values, temp_ddl)
            except BaseException:
                txn.rollback_to(savepoint)
                if self._autocommitting:
                    self.rollback()
                raise
            txn.release()
            if prepared.is_ddl and replay is not None:
                replay.append((prepared, values))
                self._replay = replay
            if self._autocommitting and (outcome.rows is None or txn.engine.has_writes):
                self.commit()  # a read-only query's transaction stays open while it streams
            return outcome

    def _run_in_transaction(self, prepared: Prepared, values: list[Any], temp_ddl: bool) -> Outcome:
        """Run a statement in the open transaction: a schema change of temporary objects
        changes the connection's temporary space (dialect/temp.py); one of stored objects
        reads and writes the stored catalog alone."""
        if temp_ddl:
            self.temp.run_ddl(self._session, prepared, values)
            return Outcome()
        if prepared.is_ddl:
            with self.transaction().stored_schema():
                return self._session.run(prepared, values)
        return self._session.run(prepared, values)

    @property
    def _autocommitting(self) -> bool:
        """Autocommit mode and no savepoint open: each statement commits on its own (a
        savepoint holds the transaction open until its outermost one is released)."""
        return self.autocommit and not (self._txn is not None and self._txn.in_savepoint)

    def _run_savepoint(self, statement: SavepointStatement) -> None:
        """SAVEPOINT (beginning a transaction if none is open), ROLLBACK TO or RELEASE, with
        SQLite's meaning; in autocommit mode releasing the outermost savepoint commits."""
        if statement.action == "SAVEPOINT":
            self.transaction().begin_savepoint(statement.name)
            return
        txn = self._txn
        if txn is None or not txn.in_savepoint:
            raise OperationalError(f"no such savepoint: {statement.name}")
        if statement.action == "ROLLBACK TO":
            txn.rollback_to_savepoint(statement.name)
            return
        txn.release_savepoint(statement.name)
        if self._autocommitting:
            self.commit()

    def refresh(self) -> None:
        """End the open transaction and catch up with every commit stored so far (each new
        transaction does this anyway, within ``max_staleness_ms``)."""
        self._check()
        self.rollback()
        self._database.refresh()

    @property
    def catalog(self) -> Catalog:
        """The schema this connection sees: its open transaction's, or the latest (for
        reflection, e.g. by the SQLAlchemy dialect)."""
        self._check()
        if self._txn is not None:
            return self._txn.catalog
        return self.temp.merged(self._database.read_catalog())

    def stats(self) -> dict[str, Any]:
        """The engine's counters (object-store requests by kind, estimated cost, SSTs…)."""
        self._check()
        with translate_engine_errors():
            return self._database.db.stats()

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Roll back any open transaction and release the database."""
        if self._closed:
            return
        for cursor in list(self._streams):
            cursor._end_stream()
        try:
            self.rollback()
        finally:
            self._closed = True
            self._drop_temp()
            self._database.release()

    def _drop_temp(self) -> None:
        """Discard the temporary objects (their rows were never stored)."""
        for table_id in self.temp.table_ids:
            self._database.forget_ids(table_id)
        self.temp = TempSpace()

    def _check(self) -> None:
        if self._closed:
            raise InterfaceError("the connection is closed")

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Commit if the block succeeded, roll back if it raised; then close."""
        try:
            if et is None and not self._closed:
                self.commit()
        finally:
            self.close()

    # PEP 249 optional extension: errors as connection attributes
    Error = Error
    ProgrammingError = ProgrammingError
    InterfaceError = InterfaceError


class Cursor:
    """Runs statements and hands out their results. A query's rows stream from the store as
    they are fetched (its first row is read when it runs, as sqlite3 does); they are read in
    full into memory only if the connection runs another statement, commits or rolls back
    before they are all fetched."""

    arraysize: int = 1

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.description: tuple[tuple[str, str | None, None, None, None, None, None], ...] | None
        self.description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[tuple[Any, ...]] = []  # rows read, from _pos on not yet fetched
        self._pos = 0
        self._stream: Iterator[tuple[Any, ...]] | None = None  # rows not read yet
        self._closed = False

    def execute(self, sql: str, parameters: Params = None) -> Cursor:
        """Run one statement with its parameters bound (qmark ``?`` or named ``:name``)."""
        self._check()
        outcome = self.connection._run(sql, parameters)
        self._take(outcome)
        return self

    def executemany(self, sql: str, seq_of_parameters: Sequence[Params]) -> Cursor:
        """Run one statement once per parameter set; ``rowcount`` is the total."""
        self._check()
        connection = self.connection
        with _depth_limited():
            prepared = connection._prepare(sql)
        if prepared.is_query:
            raise ProgrammingError("executemany() cannot run a query")
        total = 0
        outcome = Outcome()
        for params in seq_of_parameters:
            with _depth_limited():
                outcome = connection._execute(prepared, bind(prepared, params))
            total += max(outcome.rowcount, 0)
        self._take(outcome)
        self.rowcount = total
        return self

    def _take(self, outcome: Outcome) -> None:
        self._end_stream()
        self._rows, self._pos = [], 0
        self.description, self.rowcount = None, -1  # if reading the first row fails
        if outcome.rows is not None:
            self._stream = outcome.rows
            self.connection._streams.add(self)
            self._read(1)
        self.rowcount = outcome.rowcount
        if outcome.lastrowid is not None:
            self.lastrowid = outcome.lastrowid
        if outcome.names is None:
            self.description = None
        else:
            types = outcome.types or [None] * len(outcome.names)
            self.description = tuple(
                (name, code, None, None, None, None, None)
                for name, code in zip(outcome.names, types, strict=True)
            )

    def _read(self, n: int | None) -> None:
        """Read up to ``n`` more rows (all if None) from the stream into the buffer."""
        stream = self._stream
        if stream is None:
            return
        if self._pos:
            del self._rows[: self._pos]
            self._pos = 0
        before = len(self._rows)
        try:
            with _depth_limited(), translate_engine_errors():
                self._rows.extend(stream if n is None else itertools.islice(stream, n))
        except BaseException:
            self._end_stream()
            raise
        if n is None or len(self._rows) - before < n:
            self._end_stream()

    def _end_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            self.connection._streams.discard(self)
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    def _drain(self) -> None:
        """Read the rest of the result now (the connection's transaction is about to change)."""
        self._read(None)

    def _fetch(self, n: int | None) -> list[tuple[Any, ...]]:
        self._check_result()
        available = len(self._rows) - self._pos
        if n is None or available < n:
            self._read(None if n is None else n - available)
        end = len(self._rows) if n is None else min(len(self._rows), self._pos + n)
        rows = self._rows[self._pos : end]
        self._pos = end
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self._fetch(1)
        return rows[0] if rows else None

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        return self._fetch(self.arraysize if size is None else size)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._fetch(None)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        while (row := self.fetchone()) is not None:
            yield row

    def setinputsizes(self, sizes: Any) -> None:  # Any: ignored, as PEP 249 allows
        """Accepted and ignored."""

    def setoutputsize(self, size: int, column: int | None = None) -> None:
        """Accepted and ignored."""

    def close(self) -> None:
        self._closed = True
        self._end_stream()
        self._rows, self._pos = [], 0

    def _check(self) -> None:
        if self._closed:
            raise InterfaceError("the cursor is closed")
        self.connection._check()

    def _check_result(self) -> None:
        self._check()
        if self.description is None:
            raise ProgrammingError("the last statement returned no rows to fetch")

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    target: str | os.PathLike[str] | kvengine.ObjectStore,
    *,
    read_only: bool = False,
    autocommit: bool = False,
    durable: bool = True,
    exclusive: bool = False,
    max_staleness_ms: int = 0,
    checkpoint: str | None = None,
    options: kvengine.Options | None = None,
    **storage_options: Any,  # Any: the fsspec backend's (or the engine's clock and manual)
) -> Connection:
    """Connect to the Strata database at ``target`` (a local path, ``gs://…``, ``s3://…``,
    ``memory://…``, any fsspec URL, or a store from ``kvengine.open_store``), creating it if
    empty.

    Any number of processes may connect and write at once; each transaction sees every commit
    that returned before it began (``max_staleness_ms`` > 0 lets it start from a view up to
    that old, saving the one small request that checks). One engine is shared by every
    connection to the same database in this process. ``read_only=True`` never writes.
    ``exclusive=True`` is the single-writer mode: it fences every other writer.
    ``durable=False`` makes commits return before their WAL PUT (stored within 100 ms).
    ``checkpoint=NAME`` opens the database as it was when that checkpoint was taken, read-only
    (time travel, docs/sql.md); ``OperationalError`` if it does not exist or expired.
    ``options``: the engine's tunables (``kvengine.Options``; ``max_staleness_ms`` above
    overrides its field when not 0), applied by the first connection that opens the engine.
    Other keywords are storage options for the fsspec backend, except ``clock`` and
    ``manual``, which go to the engine (``kvengine.DB.open``) for deterministic simulations:
    ``manual=True`` starts no flush, compaction, GC or reader thread, and the caller steps that
    work (kvengine/background.py); a manual engine is shared only by the connections to the
    same store object."""
    settings = dict(storage_options, exclusive=exclusive, max_staleness_ms=max_staleness_ms)
    if checkpoint is not None:
        settings["checkpoint"] = checkpoint
        read_only = True
    if options is not None:
        settings["options"] = options
    database = Database.acquire(target, read_only, settings)
    return Connection(database, autocommit=autocommit, durable=durable)
