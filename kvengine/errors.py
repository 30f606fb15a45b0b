"""Exceptions raised by the engine and its storage layer.

Every error the engine raises is a :class:`StrataError`; nothing from fsspec, gcsfs, s3fs,
adlfs, msgpack or the operating system reaches a caller untranslated::

    StrataError                  base; ``retryable`` says whether trying again may help
    ├── InvalidArgument          bad input (empty or oversized key, wrong type); fix the call
    ├── Closed                   the DB or store was closed; open a new one
    ├── Fenced                   a newer writer or compactor took over; this process must stop
    ├── Conflict                 a transaction lost a write-write race (retryable: run it again)
    ├── Corruption               an object failed its checksum or format check (names the object)
    ├── CheckpointUnavailable    the named checkpoint does not exist, was deleted or expired
    └── StoreError               the object store failed a request
        ├── ObjectNotFound       the object does not exist (404); never retried
        │   └── SSTGone          an SST of the version a reader holds was garbage-collected
        ├── StorePermissionDenied  credentials lack access (401/403); never retried
        ├── StoreConfigError     the URL, options or backend cannot work (unknown protocol, no
        │                        atomic create-only on a store opened for several writers)
        └── StoreUnavailable     transient: timeout, reset connection, 429, 5xx (retryable)

Messages are for people and are not API; the class and ``retryable`` are.
"""

from __future__ import annotations


class StrataError(Exception):
    """Base of every error raised by ``kvengine``."""

    retryable: bool = False


class InvalidArgument(StrataError, ValueError):
    """An argument is out of range or of the wrong type; the call had no effect."""


class Closed(StrataError):
    """The object was closed; open a new one."""


class Fenced(StrataError):
    """A newer writer (or compactor) owns the database; this instance can no longer write.

    Nothing written after the fence is visible to anyone. Reopen to become the writer again.
    """


class Conflict(StrataError):
    """A transaction's commit lost to another transaction that committed first.

    Another commit (in this process or any other) changed a key this transaction wrote, or a
    key range it watched, after this transaction's snapshot was taken. Nothing of this
    transaction was applied; run it again from the start.
    """

    retryable = True


class Corruption(StrataError):
    """An object is corrupt or truncated: a checksum, magic number or length did not match.

    ``object_name`` is the store path of the bad object.
    """

    def __init__(self, object_name: str, detail: str) -> None:
        super().__init__(f"corrupt object {object_name!r}: {detail}")
        self.object_name = object_name
        self.detail = detail


class CheckpointUnavailable(StrataError):
    """The checkpoint cannot be read: it was never created, was deleted, or expired (then
    garbage collection may have deleted what it pinned). ``name`` names it. No data from
    another point in time is returned instead."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"checkpoint {name!r} is unavailable: {detail}")
        self.name = name
        self.detail = detail


class StoreError(StrataError):
    """A request to the object store failed.

    ``path`` is the object the request was about (store-relative), if any.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class ObjectNotFound(StoreError, FileNotFoundError):
    """The object does not exist."""


class SSTGone(ObjectNotFound):
    """An SST that the version being read lists is no longer in the store: garbage collection
    deleted it because that version stopped being the latest more than ``gc_min_age_s`` ago
    and no checkpoint pins it. No other data is returned instead. Reopen (or read the latest
    version) to read on, or hold a checkpoint (``db.checkpoint()``, ``DB.open(url,
    checkpoint=...)``) to keep a version's SSTs for as long as it is needed.

    ``sst_id`` names the SST, ``path`` its object.
    """

    def __init__(self, sst_id: int, path: str, url: str) -> None:
        super().__init__(
            f"SST {sst_id} ({path!r} in {url}) is gone: the version being read lists it, but it "
            "was garbage-collected (that version stopped being the latest more than "
            "gc_min_age_s ago and no checkpoint pins it); reopen to read the latest version, "
            "or hold a checkpoint to keep a version readable",
            path=path,
        )
        self.sst_id = sst_id


class StorePermissionDenied(StoreError, PermissionError):
    """The store refused the credentials (401/403)."""


class StoreConfigError(StoreError):
    """The store cannot be used as configured (bad URL, missing backend, unsafe options)."""


class StoreUnavailable(StoreError):
    """A transient failure: timeout, reset connection, throttling (429) or a server error (5xx).

    The retrying store retries these; one reaching a caller means the retry budget ran out.
    """

    retryable = True
