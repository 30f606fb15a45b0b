"""Retries with exponential backoff and full jitter around any ObjectStore.

Only failures marked ``retryable`` (timeouts, reset connections, 429, 5xx) are retried; a missing
object, a permission error or a lost create-only race never is. Retrying is done by tenacity.

A create-only write whose outcome is unknown may have landed: a timeout after the server stored
the object, or a backend that retries internally and then reports its own earlier success as a
conflict (botocore answers 412 to the retry of a PUT that got a 500 after landing). So whenever a
create-only write reports "exists", the object is read back and compared: the same bytes mean the
write is ours (``True``), other bytes mean another writer won (``False``). Callers make every
create-only payload unique to its writer (the engine embeds a random writer id), so equal bytes
can only come from this writer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from kvengine.errors import ObjectNotFound, StrataError
from kvengine.store.base import ObjectInfo, ObjectStore

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry: at most ``attempts`` tries and ``total_s`` seconds per request; waits
    drawn uniformly from ``[0, min(max_wait_s, base_wait_s * 2**n)]`` (full jitter)."""

    attempts: int = 6
    base_wait_s: float = 0.1
    max_wait_s: float = 5.0
    total_s: float = 120.0


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, StrataError) and exc.retryable


class RetryingStore:
    """An ObjectStore that retries the transient failures of ``inner``."""

    def __init__(
        self,
        inner: ObjectStore,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.inner = inner
        self.policy = policy or RetryPolicy()
        self.atomic_create = inner.atomic_create
        self.url = inner.url
        #: Whether the backend's client may retry a request inside one call, so that a
        #: create-only write's first attempt can answer "exists" for its own landed object
        #: (``hidden_create_retries`` of the inner store; True, the safe side, if it does not
        #: say). A lost race costs a GET then, and only then (docs/object-stores.md).
        self._hidden_create_retries: bool = getattr(inner, "hidden_create_retries", True)
        self._sleep = sleep
        self._lock = threading.Lock()
        self.retries = 0
        self.verified_creates = 0

    def _retry(self, op: Callable[[], T]) -> T:
        p = self.policy
        retrying = Retrying(
            stop=stop_after_attempt(p.attempts) | stop_after_delay(p.total_s),
            wait=wait_random_exponential(multiplier=p.base_wait_s, max=p.max_wait_s),
            retry=retry_if_exception(_is_retryable),
            sleep=self._sleep,
            before_sleep=self._note_retry,
            reraise=True,
        )
        return retrying(op)

    def _note_retry(self, state: RetryCallState) -> None:
        with self._lock:
            self.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        log.info("retrying after attempt %d: %s", state.attempt_number, exc)

    def put(self, path: str, data: bytes) -> None:
        self._retry(lambda: self.inner.put(path, data))

    def put_if_absent(self, path: str, data: bytes) -> bool:
        attempts = 0

        def attempt() -> bool:
            nonlocal attempts
            attempts += 1
            return self.inner.put_if_absent(path, data)

        if self._retry(attempt):
            return True
        # "Exists" may be our own earlier attempt that landed: compare the stored bytes. Even
        # after one attempt where the backend's client may retry inside a request (gcsfs, s3fs
        # and botocore do: their retry of a create that landed gets "exists" too); not after a
        # single attempt on one that cannot (local disk, memory), where that GET is pure cost.
        if attempts == 1 and not self._hidden_create_retries:
            return False
        try:
            stored = self._retry(lambda: self.inner.get(path))
        except ObjectNotFound:
            return False  # deleted since; it was not ours to keep either way
        if stored == data:
            with self._lock:
                self.verified_creates += 1
            log.info("create-only put of %r was ambiguous and is ours (read back)", path)
            return True
        return False

    def put_if_absent_stream(self, path: str, chunks: Iterable[bytes], size: int) -> bool:
        """As ``put_if_absent``: each attempt iterates ``chunks`` afresh, and an "exists" after
        a failed attempt is settled by comparing the stored object with ``chunks``, range by
        range (never the whole object in memory)."""
        attempts = 0

        def attempt() -> bool:
            nonlocal attempts
            attempts += 1
            return self.inner.put_if_absent_stream(path, chunks, size)

        if self._retry(attempt):
            return True
        if attempts == 1 and not self._hidden_create_retries:
            return False  # as in put_if_absent
        try:  # as in put_if_absent, even after one attempt where the client may retry inside
            if self._retry(lambda: self.inner.head(path)).size != size:
                return False
            offset = 0
            for chunk in chunks:
                end = offset + len(chunk)
                if self._get_range(path, offset, end) != chunk:
                    return False
                offset = end
        except ObjectNotFound:
            return False
        with self._lock:
            self.verified_creates += 1
        log.info("create-only streamed put of %r was ambiguous and is ours (read back)", path)
        return True

    def _get_range(self, path: str, start: int, end: int) -> bytes:
        return self._retry(lambda: self.inner.get(path, start, end))

    def get(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        return self._retry(lambda: self.inner.get(path, start, end))

    def head(self, path: str) -> ObjectInfo:
        return self._retry(lambda: self.inner.head(path))

    def list(self, prefix: str = "", start_after: str | None = None) -> list[ObjectInfo]:
        return self._retry(lambda: self.inner.list(prefix, start_after))

    def delete(self, path: str) -> None:
        self._retry(lambda: self.inner.delete(path))

    def close(self) -> None:
        self.inner.close()
