"""Base for stores that wrap another store and act around each request (count, delay, fail)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from kvengine.store.base import DELETE, GET, HEAD, LIST, PUT, ObjectInfo, ObjectStore

T = TypeVar("T")


class StoreWrapper:
    """Forwards every request to ``inner`` through :meth:`around`, which subclasses override."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.atomic_create = inner.atomic_create
        #: passed through (see RetryingStore); a wrapper that models such a client sets True
        self.hidden_create_retries: bool = getattr(inner, "hidden_create_retries", True)
        self.url = inner.url

    def around(self, kind: str, path: str | None, op: Callable[[], T], written: int) -> T:
        """Run request ``op`` of ``kind`` on ``path`` (``written`` payload bytes)."""
        return op()

    def put(self, path: str, data: bytes) -> None:
        self.around(PUT, path, lambda: self.inner.put(path, data), len(data))

    def put_if_absent(self, path: str, data: bytes) -> bool:
        return self.around(PUT, path, lambda: self.inner.put_if_absent(path, data), len(data))

    def put_if_absent_stream(self, path: str, chunks: Iterable[bytes], size: int) -> bool:
        return self.around(
            PUT, path, lambda: self.inner.put_if_absent_stream(path, chunks, size), size
        )

    def get(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        return self.around(GET, path, lambda: self.inner.get(path, start, end), 0)

    def head(self, path: str) -> ObjectInfo:
        return self.around(HEAD, path, lambda: self.inner.head(path), 0)

    def list(self, prefix: str = "", start_after: str | None = None) -> list[ObjectInfo]:
        return self.around(LIST, prefix, lambda: self.inner.list(prefix, start_after), 0)

    def delete(self, path: str) -> None:
        self.around(DELETE, path, lambda: self.inner.delete(path), 0)

    def close(self) -> None:
        self.inner.close()
