"""The PEP 249 exception tree, and the one translation from engine errors to it::

    Exception
    ├── Warning
    └── Error
        ├── InterfaceError           misuse of the driver (closed cursor or connection)
        └── DatabaseError
            ├── DataError            a value of the wrong type or out of range
            ├── OperationalError     the store failed, a fenced writer
            │   └── ConflictError    another transaction committed a conflicting change
            │                        first; roll back and run the transaction again
            ├── IntegrityError       NOT NULL, primary key or UNIQUE violated
            ├── InternalError        a bug or corrupt data (Corruption)
            ├── ProgrammingError     bad SQL, unknown table or column, wrong parameter count
            └── NotSupportedError    valid SQL that Strata does not run

SQLAlchemy maps driver errors by these exact class names.
"""

from __future__ import annotations

import kvengine


class Warning(Exception):
    """Important warnings (PEP 249)."""


class Error(Exception):
    """Base of every error the driver raises."""


class InterfaceError(Error):
    """The driver was used wrongly: a closed connection or cursor, a missing result set."""


class DatabaseError(Error):
    """An error about the database."""


class DataError(DatabaseError):
    """A value does not fit its column: wrong type, out of range, too long."""


class OperationalError(DatabaseError):
    """The database could not do its work: store failures, write conflicts, fencing."""


class ConflictError(OperationalError):
    """Another transaction, in this process or any other, committed first a change to a row
    this one wrote, to a UNIQUE value it inserted or updated, or to the definition of a table
    it used. Nothing of this transaction was applied: roll back and run it again.

    Through SQLAlchemy it arrives as ``sqlalchemy.exc.OperationalError`` whose ``orig`` is a
    ``ConflictError``.
    """


class IntegrityError(DatabaseError):
    """A constraint was violated: NOT NULL, primary key or UNIQUE."""


class InternalError(DatabaseError):
    """The database found itself inconsistent (a corrupt object, a bug)."""


class ProgrammingError(DatabaseError):
    """The statement is wrong: bad SQL, unknown names, wrong number of parameters."""


class NotSupportedError(DatabaseError):
    """Valid SQL that Strata does not support; the message names the construct."""


def _translated(exc: kvengine.StrataError) -> Error:
    if isinstance(exc, kvengine.Fenced):
        return OperationalError(f"fenced: another writer opened this database: {exc}")
    if isinstance(exc, kvengine.Conflict):
        return ConflictError(str(exc))
    if isinstance(exc, kvengine.Corruption):
        return InternalError(str(exc))
    if isinstance(exc, kvengine.Closed):
        return InterfaceError(str(exc))
    if isinstance(exc, kvengine.InvalidArgument):
        return DataError(str(exc))
    return OperationalError(str(exc))


class translate_engine_errors:
    """Re-raise ``kvengine`` errors as the PEP 249 class a caller expects."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if isinstance(exc, kvengine.StrataError):
            raise _translated(exc) from exc
