"""The object store over any fsspec filesystem (GCS, S3, Azure, local disk, and others).

Create-only writes must be atomic for fencing to hold, and how that is done is a fact about
each backend (see docs/object-stores.md):

* GCS (gcsfs): ``pipe_file(mode="create")`` sends ``ifGenerationMatch=0``;
* S3 (s3fs): ``pipe_file(mode="create")`` sends ``If-None-Match: *``;
* Azure (adlfs): ``pipe_file(mode="create")`` uploads with ``overwrite=False``;
* local disk: the object is written in full to a temporary file, then ``os.link``-ed into
  place, which fails if the name exists; no reader ever sees a partial object.

Each is one request whatever the size (gcsfs and s3fs would otherwise switch to resumable or
multipart uploads, whose preconditions the emulators do not enforce). Streamed create-only
writes (``put_if_absent_stream``) keep the same preconditions without holding the object: one
GCS multipart-upload request or one S3 ``PutObject`` whose body is read from the chunks as it
is sent, and on Azure blocks staged under random ids, then committed with ``If-None-Match: *``.

fsspec's generic create mode (check existence, then write) is not atomic and is never used: on
any other filesystem ``atomic_create`` is ``False``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from fsspec import AbstractFileSystem
from fsspec.asyn import sync
from fsspec.implementations.local import LocalFileSystem

from kvengine.errors import Closed, InvalidArgument, ObjectNotFound
from kvengine.store.base import (
    DELETE,
    GET,
    HEAD,
    LIST,
    PUT,
    ChunkReader,
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
#: Streamed create-only uploads, by protocol: which request carries the precondition.
_STREAM_KINDS = {"gs": "gcs", "gcs": "gcs", "s3": "s3", "s3a": "s3"}
_STREAM_KINDS.update({"az": "azure", "abfs": "azure", "abfss": "azure"})
#: Size of the blocks a streamed Azure upload stages (one in memory at a time); 50,000
#: blocks per blob make 200 GiB the largest streamed object.
AZURE_BLOCK_BYTES = 4 * 1024 * 1024
#: The multipart/related body gcsfs's ``simple_upload`` sends, around the object's bytes.
_GCS_BOUNDARY = "==0=="
_GCS_TAIL = f"\n--{_GCS_BOUNDARY}--".encode()
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
        kinds = {_STREAM_KINDS[p] for p in _protocols(fs) if p in _STREAM_KINDS}
        self._stream_kind = kinds.pop() if len(kinds) == 1 and self._async else None
        self.atomic_create = self._local or bool(
            NATIVE_CREATE_PROTOCOLS.intersection(_protocols(fs))
        )
        # Local disk creates with one link(2), never retried inside the call, so its "exists"
        # is never our own object; gcsfs, s3fs/botocore and adlfs may retry inside a request.
        self.hidden_create_retries = not self._local
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
        """Streamed with the same create-only precondition as ``put_if_absent``
        (docs/object-stores.md, "Streamed uploads"): local disk writes the chunks into the
        temporary file, then links it; GCS sends one multipart-upload request with
        ``ifGenerationMatch=0`` and S3 one ``PutObject`` with ``If-None-Match: *``, whose
        bodies are read from ``chunks`` as they are sent; Azure stages blocks under random ids
        and commits them with ``If-None-Match: *``. Each attempt is one request (one commit on
        Azure): the retrying wrapper retries with a fresh pass over ``chunks`` and settles an
        ambiguous outcome. Other filesystems collect the chunks and ``put_if_absent`` them.
        The resumable/multipart uploads of gcsfs and s3fs are not used: the emulators do not
        enforce their preconditions, and SST names are not unique to one process
        (docs/design/0005-storage-lifecycle.md, "Large SST uploads")."""
        check_path(path)
        if self._local and self.atomic_create:
            stream = checked(chunks, size)
            return self._call(PUT, path, self._local_write, path, stream, replace=False)
        if self._stream_kind is None:
            return self.put_if_absent(path, joined(chunks, size))
        try:
            self._call(PUT, path, self._create_streamed, path, chunks, size)
        except _Conflict:
            return False
        return True

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

    def _create_streamed(
        self, path: str, chunks: Iterable[bytes], size: int, timeout: float | None = None
    ) -> None:
        full = self._full(path)
        if self._stream_kind == "gcs":
            _, key, _ = self.fs.split_path(full)
            head = (
                f"--{_GCS_BOUNDARY}\nContent-Type: application/json; charset=UTF-8\n\n"
                f"{json.dumps({'name': key})}\n--{_GCS_BOUNDARY}\n"
                "Content-Type: application/octet-stream\n\n"
            ).encode()
            reader = ChunkReader(chunks, size, head, _GCS_TAIL)
            upload = self._gcs_upload
        else:
            reader = ChunkReader(chunks, size)
            upload = self._s3_upload if self._stream_kind == "s3" else self._azure_upload
        try:
            sync(self.fs.loop, upload, full, reader, timeout=timeout)
        except Exception as exc:
            if reader.error is not None:  # the caller's chunks, whatever the client made of it
                raise reader.error from exc
            if is_conflict(exc):
                raise _Conflict from exc
            raise
        finally:
            self.fs.invalidate_cache(full)
        if reader.error is not None:
            raise reader.error

    async def _gcs_upload(self, full: str, reader: ChunkReader) -> None:
        """One multipart upload request (as gcsfs's ``simple_upload``) with a streamed body;
        ``_request`` without gcsfs's retry decorator, so an attempt is one request."""
        fs = self.fs
        bucket, _, _ = fs.split_path(full)
        request = getattr(fs._request, "__wrapped__", None)
        args = (fs,) if request is not None else ()
        headers = {
            "Content-Type": f'multipart/related; boundary="{_GCS_BOUNDARY}"',
            "Content-Length": str(reader.length),
        }
        await (request or fs._request)(
            *args,
            "POST",
            f"{fs._location}/upload/storage/v1/b/{quote(bucket, safe='')}/o",
            headers=headers,
            data=reader,
            uploadType="multipart",
            ifGenerationMatch="0",
        )

    async def _s3_upload(self, full: str, reader: ChunkReader) -> None:
        """One ``PutObject`` with ``If-None-Match: *`` whose body is ``reader``: botocore hashes
        it and rewinds it (also for its own retries); s3fs's retry loop is not used."""
        from s3fs.core import _error_wrapper

        fs = self.fs
        bucket, key, _ = fs.split_path(full)
        await fs.set_session()
        s3 = await fs.get_s3(bucket)
        kw = fs._get_s3_method_kwargs(
            s3.put_object,
            Bucket=bucket,
            Key=key,
            Body=reader,
            ContentLength=reader.length,
            IfNoneMatch="*",
        )
        await _error_wrapper(s3.put_object, kwargs=kw, retries=1)

    async def _azure_upload(self, full: str, reader: ChunkReader) -> None:
        """Blocks staged under ids random to this upload (racing uploads never replace each
        other's uncommitted blocks), then one Put Block List with ``If-None-Match: *``."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import BlobBlock

        fs = self.fs
        container, blob, _ = fs.split_path(full)
        upload = uuid.uuid4().hex
        blocks: list[BlobBlock] = []
        async with fs.service_client.get_blob_client(container=container, blob=blob) as bc:
            block = bytearray(AZURE_BLOCK_BYTES)  # one buffer, refilled for every block
            while n := await asyncio.to_thread(reader.readinto, block):
                data = block if n == len(block) else block[:n]
                block_id = base64.b64encode(f"{upload}-{len(blocks):06d}".encode()).decode()
                await bc.stage_block(block_id, data, length=len(data), **fs._timeout_kwargs)
                blocks.append(BlobBlock(block_id=block_id))
            try:
                await bc.commit_block_list(
                    blocks,
                    metadata={"is_directory": "false"},
                    match_condition=MatchConditions.IfMissing,
                    **fs._timeout_kwargs,
                )
            except ResourceExistsError as exc:
                raise FileExistsError(full) from exc

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
