"""An in-process object store: a real backend for tests, examples and throwaway databases.

``MemoryStore.named(name)`` returns a handle on the bucket of that name in this process, so
``memory://name`` opened twice (or closed and opened again) sees the same objects. Nothing
survives the process.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from kvengine.errors import Closed, ObjectNotFound
from kvengine.store.base import ObjectInfo, check_path, check_prefix, joined, slice_bytes


class _Bucket:
    """The objects behind one or more handles: a dict plus a sorted list of its paths."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # modification times (a simulation's clock, kvengine/background.py)
        self.objects: dict[str, bytes] = {}
        self.mtimes: dict[str, float] = {}
        self.paths: list[str] = []
        self.lock = threading.Lock()

    def store(self, path: str, data: bytes) -> None:
        if path not in self.objects:
            bisect.insort(self.paths, path)
        self.objects[path] = bytes(data)
        self.mtimes[path] = self.clock()


class MemoryStore:
    """Objects held in this process, with create-only writes made atomic by a lock."""

    atomic_create = True
    #: a create-only write is one call under a lock: "exists" is never its own object
    hidden_create_retries = False
    _buckets: ClassVar[dict[str, _Bucket]] = {}
    _buckets_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        url: str = "memory://",
        bucket: _Bucket | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock``: the modification times of a new bucket's objects (seconds since the
        epoch)."""
        self.url = url
        self._bucket = bucket if bucket is not None else _Bucket(clock)
        self._closed = False

    @classmethod
    def named(cls, name: str) -> MemoryStore:
        """A new handle on the process-wide bucket called ``name`` (created empty on first use)."""
        with cls._buckets_lock:
            bucket = cls._buckets.setdefault(name, _Bucket())
        return cls(f"memory://{name}", bucket)

    def _check_open(self) -> None:
        if self._closed:
            raise Closed(f"store {self.url} is closed")

    def put(self, path: str, data: bytes) -> None:
        check_path(path)
        b = self._bucket
        with b.lock:
            self._check_open()
            b.store(path, data)

    def put_if_absent(self, path: str, data: bytes) -> bool:
        check_path(path)
        b = self._bucket
        with b.lock:
            self._check_open()
            if path in b.objects:
                return False
            b.store(path, data)
            return True

    def put_if_absent_stream(self, path: str, chunks: Iterable[bytes], size: int) -> bool:
        # Collected first: a memory store holds every object whole anyway.
        return self.put_if_absent(path, joined(chunks, size))

    def _lookup(self, path: str) -> bytes:
        check_path(path)
        b = self._bucket
        with b.lock:
            self._check_open()
            data = b.objects.get(path)
        if data is None:
            raise ObjectNotFound(f"no object {path!r} in {self.url}", path=path)
        return data

    def get(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        return slice_bytes(self._lookup(path), start, end)

    def head(self, path: str) -> ObjectInfo:
        return ObjectInfo(path, len(self._lookup(path)))

    def list(self, prefix: str = "", start_after: str | None = None) -> list[ObjectInfo]:
        check_prefix(prefix)
        b = self._bucket
        with b.lock:
            self._check_open()
            i = bisect.bisect_left(b.paths, prefix)
            if start_after is not None:
                i = max(i, bisect.bisect_right(b.paths, start_after))
            out: list[ObjectInfo] = []
            for path in b.paths[i:]:
                if not path.startswith(prefix):
                    break
                out.append(ObjectInfo(path, len(b.objects[path]), b.mtimes[path]))
        return out

    def delete(self, path: str) -> None:
        check_path(path)
        b = self._bucket
        with b.lock:
            self._check_open()
            if b.objects.pop(path, None) is not None:
                del b.mtimes[path]
                del b.paths[bisect.bisect_left(b.paths, path)]

    def close(self) -> None:
        """Close this handle; the bucket's objects stay for other handles."""
        self._closed = True
