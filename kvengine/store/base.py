"""The narrow object-store interface the engine is written against.

Every byte the engine keeps durably goes through :class:`ObjectStore`. Paths are relative to
the database root, use ``/`` as separator, and are compared as strings (listing order is the
plain lexicographic order of the path). Adapters (memory, any fsspec filesystem) implement it;
wrappers (retrying, instrumented, latency, faults) implement it around an inner store.

Contract shared by every implementation (checked by ``tests/kvengine/store/conformance.py``):

* ``put`` replaces the whole object atomically: a reader sees the old or the new bytes, never a
  mix and never a partial object.
* ``put_if_absent`` creates the object only if no object has that path; exactly one of many
  concurrent callers gets ``True``. Stores whose backend cannot do this atomically say so with
  ``atomic_create = False``.
* ``get`` returns ``[start, end)`` of the object (``end`` past the size is clipped) or raises
  :class:`~kvengine.errors.ObjectNotFound`.
* ``list`` returns every object whose path starts with ``prefix`` and sorts after
  ``start_after``, in path order, with sizes and last-modified times (the store's clock,
  seconds since the epoch; garbage collection judges objects' ages by it).
* ``delete`` removes the object; deleting a missing object is not an error.
* Failures are :class:`~kvengine.errors.StoreError` subclasses, never backend exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from kvengine.errors import InvalidArgument

#: Names of request kinds, used for counting, pricing, latency and fault injection.
PUT = "PUT"
GET = "GET"
HEAD = "HEAD"
LIST = "LIST"
DELETE = "DELETE"
REQUEST_KINDS = (PUT, GET, HEAD, LIST, DELETE)


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """A listed or inspected object: its store-relative path, size in bytes and, when listed,
    when it was last written (seconds since the epoch by the store's clock; None if unknown)."""

    path: str
    size: int
    mtime: float | None = None


@runtime_checkable
class ObjectStore(Protocol):
    """Whole-object storage with atomic create-only writes.

    Implementations are safe to call from many threads at once.
    """

    #: True when ``put_if_absent`` is atomic against other processes and machines.
    atomic_create: bool
    #: Where the store points, for messages (e.g. ``gs://bucket/db``); never parsed.
    url: str

    def put(self, path: str, data: bytes) -> None:
        """Store ``data`` at ``path``, replacing any object there."""
        ...

    def put_if_absent(self, path: str, data: bytes) -> bool:
        """Store ``data`` at ``path`` only if nothing is there; ``False`` if an object exists."""
        ...

    def get(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        """Return bytes ``[start, end)`` of the object (the whole object by default)."""
        ...

    def head(self, path: str) -> ObjectInfo:
        """Return the object's size; raises ``ObjectNotFound`` if it does not exist."""
        ...

    def list(self, prefix: str = "", start_after: str | None = None) -> list[ObjectInfo]:
        """Objects whose path starts with ``prefix`` and is greater than ``start_after``, sorted."""
        ...

    def delete(self, path: str) -> None:
        """Remove the object if it exists."""
        ...

    def close(self) -> None:
        """Release connections; later calls raise ``Closed``."""
        ...


def check_path(path: str) -> str:
    """Return ``path`` if it is a valid store-relative object path, else raise InvalidArgument.

    Valid: non-empty ``/``-separated segments, none empty, ``.`` or ``..``, none starting with
    ``.`` (names starting with a dot are reserved for adapters' own bookkeeping).
    """
    if not isinstance(path, str) or not path:
        raise InvalidArgument(f"object path must be a non-empty str, got {path!r}")
    for segment in path.split("/"):
        if not segment or segment.startswith("."):
            raise InvalidArgument(f"invalid object path {path!r}")
    return path


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it may be listed: empty, or a path prefix with no reserved segment."""
    if not isinstance(prefix, str):
        raise InvalidArgument(f"list prefix must be a str, got {prefix!r}")
    if prefix.startswith("/") or any(s.startswith(".") for s in prefix.split("/") if s):
        raise InvalidArgument(f"invalid list prefix {prefix!r}")
    return prefix


def slice_bytes(data: bytes, start: int | None, end: int | None) -> bytes:
    """``data[start:end]`` with the ranged-read argument checks every store applies."""
    if (start is not None and start < 0) or (end is not None and end < 0):
        raise InvalidArgument(f"negative range [{start}, {end})")
    return data[start:end]
