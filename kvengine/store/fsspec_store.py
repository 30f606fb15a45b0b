"""The object store over any fsspec filesystem (GCS, S3, Azure, local disk, and others).

Create-only writes must be atomic for fencing to hold, and how that is done is a fact about
each backend (see docs/object-stores.md):

* GCS (gcsfs): ``pipe_file(mode="create")`` sends ``ifGenerationMatch=0``;
* S3 (s3fs): ``pipe_file(mode="create")`` sends ``If-None-Match: *``;
* Azure (adlfs): ``pipe_file(mode="create")`` uploads with ``overwrite=False``;
* local disk: the object is written in full to a temporary file, then ``os.link``-ed into
  place, which fails if the name exists; no reader ever sees a partial object.

Each is one request whatever the size (gcsfs and s3fs would otherwise switch to resumable or
multipart uploads, whose preconditions the emulators do not enforce). fsspec's generic create
mode (check existence, then write) is not atomic and is never used: on any other filesystem
``atomic_create`` is ``False``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

from kvengine.errors import Closed, InvalidArgument, ObjectNotFound
from kvengine.store.base import (
    DELETE,
    GET,
    HEAD,
    LIST,
    PUT,
    ObjectInfo,
    check_path,
    check_prefix,
    checked,
    joined,
)
from kvengine.store.translate import is_conflict, translate

T = TypeVar("T")

#: fsspec protocols whose ``pipe_file(mode="create")`` is a server-side conditional write.
NATIVE_CREATE_PROTOCOLS = frozenset({"gs", "gcs", "s3", "s3a", "az", "abfs", "abfss"})
#: Protocols whose ``pipe_file`` switches to a resumable (gcsfs, at ``chunksize``, 50 MiB by
#: default) or multipart (s3fs, at twice ``chunksize``) upload for large objects; a create-only
#: write there is always sent as one request (``_ONE_REQUEST``), the kind whose precondition
#: the emulators enforce (docs/object-stores.md, "Streamed uploads").
_CHUNKED_PROTOCOLS = frozenset({"gs", "gcs", "s3", "s3a"})
#: ``chunksize`` above any object: 5 GiB is S3's single-PUT limit (GCS's is 5 TiB).
_ONE_REQUEST = 5 * 2**30
#: Directory (under the root) for local temporary files; dot-names are never listed.
_LOCAL_TMP_DIR = ".tmp"


def _protocols(fs: AbstractFileSystem) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


class FsspecStore:
    """An :class:`~kvengine.store.base.ObjectStore` over ``fs`` rooted at ``root``.

    ``timeout_s`` bounds every request of an async (network) filesystem; a request that runs
    out of time raises ``StoreUnavailable``, and its effect is unknown.
    """

    def __init__(
        self,
        fs: AbstractFileSystem,
        root: str,
        *,
        timeout_s: float = 60.0,
        url: str | None = None,
    ) -> None:
        self.fs = fs
        self.root = str(fs._strip_protocol(root)).rstrip("/")
        self.timeout_s = timeout_s
        self._local = isinstance(fs, LocalFileSystem)
        self._async = bool(getattr(fs, "async_impl", False))
        self._chunked = bool(_CHUNKED_PROTOCOLS.intersection(_protocols(fs)))
        self.atomic_create = self._local or bool(
            NATIVE_CREATE_PROTOCOLS.intersection(_protocols(fs))
        )
        self.url = url or f"{_protocols(fs)[0]}://{self.root}"
        self._closed = False
        if self._local:
            os.makedirs(os.path.join(self.root, _LOCAL_TMP_DIR), exist_ok=True)

    # -- plumbing -------------------------------------------------------------------------

    def _full(self, path: str) -> str:
        return f"{self.root}/{path}" if self.root else path

    def _call(self, op: str, path: str | None, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run one backend request with the timeout, translating its exceptions."""
        if self._closed:
            raise Closed(f"store {self.url} is closed")
        if self._async:
            kw["timeout"] = self.timeout_s
        try:
            return fn(*args, **kw)
        except (_Conflict, InvalidArgument):
            raise  # not the backend's: a lost create, or the caller's mistake
        except Exception as exc:
            raise translate(exc, op, path, self.url) from exc

    # -- the interface ----------------------------------------------------------------------

    def put(self, path: str, data: bytes) -> None:
        check_path(path)
        if self._local:
            self._call(PUT, path, self._local_write, path, data, replace=True)
        else:
            self._call(PUT, path, self.fs.pipe_file, self._full(path), data)

    def put_if_absent(self, path: str, data: bytes) -> bool:
        check_path(path)
        if not self.atomic_create:
            # Not atomic: only reachable through open_store(single_writer=True).
            if self._exists(path):
                return False
            self.put(path, data)
            return True
        if self._local:
            return self._call(PUT, path, self._local_write, path, data, replace=False)
        try:
            self._call(PUT, path, self._create_remote, path, data)
        except _Conflict:
            return False
        return True

    def put_if_absent_stream(self, path: str, chunks: Iterable[bytes], size: int) -> bool:
        """Local disk streams into the temporary file, then links it (as ``put_if_absent``).
        GCS, S3 and Azure fall back to one buffered create-only PUT (docs/object-stores.md,
        "Streamed uploads"): gcsfs, s3fs and adlfs each have a create-only streaming path
        (``open(path, "xb")``), but the emulators the conformance suite runs on do not
        enforce its precondition (fake-gcs-server's resumable uploads, moto's
        CompleteMultipartUpload), so it is not used until it can be checked. SST names are
        not unique to one process (docs/design/0005-storage-lifecycle.md, "Large SST
        uploads"), so a plain, unconditional streamed upload is no substitute."""
        check_path(path)
        if self._local and self.atomic_create:
            stream = checked(chunks, size)
            return self._call(PUT, path, self._local_write, path, stream, replace=False)
        return self.put_if_absent(path, joined(chunks, size))

    def get(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        check_path(path)
        if start == end and start is not None:
            self.head(path)  # an empty range still says whether the object exists
            return b""
        data = self._call(GET, path, self.fs.cat_file, self._full(path), start=start, end=end)
        return bytes(data)

    def head(self, path: str) -> ObjectInfo:
        check_path(path)
        full = self._full(path)
        self.fs.invalidate_cache(full)
        info = self._call(HEAD, path, self.fs.info, full)
        if info.get("type") != "file":
            raise ObjectNotFound(f"no object {path!r} in {self.url}", path=path)
        return ObjectInfo(path, int(info["size"]))

    def list(self, prefix: str = "", start_after: str | None = None) -> list[ObjectInfo]:
        check_prefix(prefix)
        directory, _, name_prefix = prefix.rpartition("/")
        base = self._full(directory) if directory else self.root
        self.fs.invalidate_cache(base)
        kw: dict[str, Any] = {"detail": True}
        if self._async:
            kw["prefix"] = name_prefix  # pushed to the server (GCS/S3/Azure list by prefix)
        try:
            found = self._call(LIST, prefix or None, self.fs.find, base, **kw)
        except ObjectNotFound:
            return []
        cut = len(self.root) + 1 if self.root else 0
        out = []
        for full, info in found.items():
            rel = str(full)[cut:]
            if info.get("type") != "file" or not rel.startswith(prefix):
                continue
            if start_after is not None and rel <= start_after:
                continue
            if any(s.startswith(".") for s in rel.split("/")):
                continue  # adapters' own temporary files
            out.append(ObjectInfo(rel, int(info["size"]), _mtime(info)))
        out.sort(key=lambda o: o.path)
        return out

    def delete(self, path: str) -> None:
        check_path(path)
        with contextlib.suppress(ObjectNotFound):
            self._call(DELETE, path, self.fs.rm_file, self._full(path))
        if self._local:
            self._prune_local_dirs(path)

    def close(self) -> None:
        self._closed = True

    # -- helpers ----------------------------------------------------------------------------

    def _exists(self, path: str) -> bool:
        try:
            self.head(path)
        except ObjectNotFound:
            return False
        return True

    def _prune_local_dirs(self, path: str) -> None:
        """Remove directories left empty by a delete: object stores have no directories."""
        parts = path.split("/")[:-1]
        while parts:
            try:
                os.rmdir(self._full("/".join(parts)))
            except OSError:
                return  # not empty (or already gone): stop climbing
            parts.pop()

    def _create_remote(self, path: str, data: bytes, **kw: Any) -> None:
        if self._chunked:
            kw["chunksize"] = _ONE_REQUEST
        try:
            self.fs.pipe_file(self._full(path), data, mode="create", **kw)
        except Exception as exc:
            if is_conflict(exc):
                raise _Conflict from exc
            raise

    def _local_write(self, path: str, data: bytes | Iterable[bytes], *, replace: bool) -> bool:
        """Write a whole temporary file, then move (``replace``) or link (create-only) it in."""
        final = self._full(path)
        tmp = os.path.join(self.root, _LOCAL_TMP_DIR, uuid.uuid4().hex)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        try:
            with open(tmp, "wb") as f:
                for chunk in [data] if isinstance(data, bytes) else data:
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            if replace:
                os.replace(tmp, final)
            else:
                try:
                    os.link(tmp, final)
                except FileExistsError:
                    return False
            _fsync_dir(os.path.dirname(final))
            return True
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


class _Conflict(Exception):
    """A create-only write lost: the object exists. Never leaves this module."""

    def __init__(self) -> None:
        super().__init__("object exists")


#: Where each backend's listing says when an object was written: local ``mtime`` (a float),
#: gcsfs ``updated`` (an ISO 8601 string), s3fs ``LastModified`` (a datetime), adlfs
#: ``last_modified`` (a datetime).
_MTIME_FIELDS = ("mtime", "updated", "LastModified", "last_modified")


def _mtime(info: dict[str, Any]) -> float | None:
    """The last-modified time of a listed object, in seconds since the epoch, if given."""
    for field in _MTIME_FIELDS:
        value = info.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return value.timestamp()
    return None


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
