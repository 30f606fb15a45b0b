"""One place that turns backend exceptions (fsspec, gcsfs, s3fs, adlfs, aiohttp, OS) into
:mod:`kvengine.errors` classes, deciding which failures are transient."""

from __future__ import annotations

import asyncio
import errno

from kvengine.errors import (
    ObjectNotFound,
    StoreError,
    StorePermissionDenied,
    StoreUnavailable,
)

# errno values that mean "the request may succeed if tried again". s3fs maps S3's InternalError
# to EREMOTEIO and SlowDown/ServiceUnavailable to EBUSY.
_TRANSIENT_ERRNOS = frozenset(
    {
        errno.EIO,
        errno.EREMOTEIO,
        errno.EBUSY,
        errno.EAGAIN,
        errno.ETIMEDOUT,
        errno.ECONNRESET,
        errno.ECONNREFUSED,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ENETUNREACH,
        errno.EHOSTUNREACH,
    }
)
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# Exception class names of HTTP client libraries that mean a transient transport failure. Matched
# by name so that this module imports none of the optional backends.
_TRANSIENT_CLASS_NAMES = frozenset(
    {
        "ClientError",  # aiohttp base (connection, payload, server disconnect)
        "ServerDisconnectedError",
        "ClientConnectorError",
        "ClientPayloadError",
        "ServiceRequestError",  # azure.core: the request never got an answer
        "ServiceResponseError",  # azure.core: the answer was cut off
        "FSTimeoutError",
        "ChecksumError",
        "EndpointConnectionError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
    }
)


def _status_code(exc: BaseException) -> int | None:
    """The HTTP status a backend exception carries, if any (gcsfs ``code``, azure
    ``status_code``, botocore ``response``)."""
    for attr in ("status_code", "code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        meta = response.get("ResponseMetadata", {})
        status = meta.get("HTTPStatusCode") if isinstance(meta, dict) else None
        if isinstance(status, int):
            return status
    return None


def is_conflict(exc: BaseException) -> bool:
    """True when a create-only write failed because the object already exists (409/412)."""
    return isinstance(exc, FileExistsError) or _status_code(exc) in (409, 412)


def translate(exc: BaseException, op: str, path: str | None, url: str) -> StoreError:
    """The :class:`StoreError` to raise for ``exc``, raised by request ``op`` on ``path``."""
    where = f"{op} {path!r} on {url}" if path else f"{op} on {url}"
    detail = f"{where}: {type(exc).__name__}: {exc}"
    status = _status_code(exc)
    if isinstance(exc, FileNotFoundError) or status == 404:
        return ObjectNotFound(f"no object: {detail}", path=path)
    if isinstance(exc, PermissionError) or status in (401, 403):
        return StorePermissionDenied(f"permission denied: {detail}", path=path)
    if status in _TRANSIENT_STATUS:
        return StoreUnavailable(f"transient failure: {detail}", path=path)
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError, ConnectionError)):
        return StoreUnavailable(f"transient failure: {detail}", path=path)
    if any(c.__name__ in _TRANSIENT_CLASS_NAMES for c in type(exc).__mro__):
        return StoreUnavailable(f"transient failure: {detail}", path=path)
    if isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS:
        return StoreUnavailable(f"transient failure: {detail}", path=path)
    return StoreError(f"request failed: {detail}", path=path)
