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
* ``put_if_absent_stream`` is ``put_if_absent`` of the concatenation of ``chunks`` (``size``
  bytes in all), sent without holding the whole object in memory where the backend can: the
  object appears whole or not at all, and a loser of a race leaves nothing behind. ``chunks``
  may be iterated more than once (each pass yields the same bytes) so a wrapper can retry.
* ``get`` returns ``[start, end)`` of the object (``end`` past the size is clipped) or raises
  :class:`~kvengine.errors.ObjectNotFound`.
* ``list`` returns every object whose path starts with ``prefix`` and sorts after
  ``start_after``, in path order, with sizes and last-modified times (the store's clock,
  seconds since the epoch; garbage collection judges objects' ages by it).
* ``delete`` removes the object; deleting a missing object is not an error.
* Failures are :class:`~kvengine.errors.StoreError` subclasses, never backend exceptions.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol, runtime_checkable

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

    def put_if_absent_stream(self, path: str, chunks: Iterable[bytes], size: int) -> bool:
        """``put_if_absent`` of ``b"".join(chunks)`` (``size`` bytes), streamed where possible."""
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


_SEEK_LOCK = threading.Lock()


def read_at(file: BinaryIO, offset: int, length: int) -> bytes:
    """Up to ``length`` bytes of ``file`` from ``offset``, without using or moving a position
    that another reader of the same file depends on (``os.pread`` where there is one)."""
    if hasattr(os, "pread"):
        return os.pread(file.fileno(), length, offset)
    with _SEEK_LOCK:  # pragma: no cover - platforms without pread (Windows)
        file.seek(offset)
        return file.read(length)


class FileChunks:
    """The bytes of an open binary file, ``chunk_bytes`` at a time, from the start on every
    pass: a re-iterable ``chunks`` argument for ``put_if_absent_stream``. Passes are
    independent (positional reads): an attempt that timed out may still be reading one while
    its retry reads another."""

    def __init__(self, file: BinaryIO, size: int, chunk_bytes: int = 8 * 1024 * 1024) -> None:
        self.file = file
        self.size = size
        self.chunk_bytes = chunk_bytes

    def __iter__(self) -> Iterator[bytes]:
        offset = 0
        while offset < self.size:
            chunk = read_at(self.file, offset, min(self.chunk_bytes, self.size - offset))
            if not chunk:
                left = self.size - offset
                raise InvalidArgument(f"file ended {left} bytes before its stated size")
            offset += len(chunk)
            yield chunk


def joined(chunks: Iterable[bytes], size: int) -> bytes:
    """``b"".join(chunks)``, checked to be ``size`` bytes: the buffered fallback of stores
    that cannot stream a create-only upload."""
    if isinstance(chunks, FileChunks) and chunks.size == size:
        data = read_at(chunks.file, 0, size)  # one copy, not a list of chunks and their join
    else:
        data = b"".join(chunks)
    if len(data) != size:
        raise InvalidArgument(f"streamed {len(data)} bytes, {size} were announced")
    return data


def checked(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """``chunks``, raising ``InvalidArgument`` at the end if they are not ``size`` bytes."""
    seen = 0
    for chunk in chunks:
        seen += len(chunk)
        yield chunk
    if seen != size:
        raise InvalidArgument(f"streamed {seen} bytes, {size} were announced")


#: How much of a file ``ChunkReader`` holds at a time.
READ_BYTES = 1024 * 1024


class ChunkReader(io.RawIOBase):
    """A read-only, seekable file over ``head``, then ``chunks`` (``size`` bytes, re-iterable),
    then ``tail``: the body of one streamed upload request.

    HTTP clients read it a piece at a time and seek back to the start to retry a request or
    after hashing the body (botocore), so only the current chunk is ever held. Seeking back
    iterates ``chunks`` afresh; seeking forward skips. ``chunks`` that do not add up to
    ``size`` make reads fail, and the failure is kept in ``error`` (an HTTP client may wrap
    or swallow what a body raises)."""

    def __init__(
        self, chunks: Iterable[bytes], size: int, head: bytes = b"", tail: bytes = b""
    ) -> None:
        super().__init__()
        self.chunks = chunks
        self.size = size
        self.head = head
        self.tail = tail
        self.length = len(head) + size + len(tail)
        self.error: InvalidArgument | None = None
        self._pos = 0
        self._restart()

    def _restart(self) -> None:
        self._pieces = self._iter_pieces()
        self._piece = memoryview(b"")
        self._piece_start = 0

    def _iter_pieces(self) -> Iterator[bytes]:
        yield self.head
        seen = 0
        chunks = self.chunks
        if isinstance(chunks, FileChunks):  # read it in smaller pieces: no need to hold more
            chunks = FileChunks(chunks.file, chunks.size, min(chunks.chunk_bytes, READ_BYTES))
        for chunk in chunks:
            seen += len(chunk)
            if seen > self.size:
                break
            yield chunk
        if seen != self.size:
            self.error = InvalidArgument(
                f"streamed {'more than ' if seen > self.size else ''}{seen} bytes, "
                f"{self.size} were announced"
            )
            raise self.error
        yield self.tail

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.length}[whence]
        self._pos = max(0, min(self.length, base + offset))
        return self._pos

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` as far as the body goes (short only at the end)."""
        if self._pos < self._piece_start:
            self._restart()
        out = memoryview(buffer).cast("B")
        done = 0
        while done < len(out):
            while self._pos >= self._piece_start + len(self._piece):
                self._piece_start += len(self._piece)
                piece = next(self._pieces, None)  # past the last piece: sizes were checked
                if piece is None:
                    self._piece = memoryview(b"")
                    return done
                self._piece = memoryview(piece)
            at = self._pos - self._piece_start
            n = min(len(out) - done, len(self._piece) - at)
            out[done : done + n] = self._piece[at : at + n]
            self._pos += n
            done += n
        return done
