"""Write batches: puts and deletes that ``DB.write`` applies atomically, and the key and value
checks that every write, batched or not, goes through."""

from __future__ import annotations

from kvengine.errors import InvalidArgument
from kvengine.record import MAX_KEY_BYTES, MAX_VALUE_BYTES, Kind

#: Bytes counted per operation beyond its key and value (kind, lengths and sequence number as
#: the WAL encodes them, rounded up).
OP_OVERHEAD_BYTES = 16

_BYTES_LIKE = (bytes, bytearray, memoryview)


def _as_bytes(what: str, data: object, limit: int) -> bytes:
    """``data`` as ``bytes`` if it is bytes-like and at most ``limit`` bytes long."""
    if type(data) is bytes:  # the common case: no copy
        if len(data) > limit:
            raise _too_big(what, len(data), limit)
        return data
    if not isinstance(data, _BYTES_LIKE):
        raise InvalidArgument(
            f"a {what} must be bytes, bytearray or memoryview, not {type(data).__name__}"
        )
    # len() of a memoryview counts items of its format, not bytes. Check before copying.
    size = data.nbytes if isinstance(data, memoryview) else len(data)
    if size > limit:
        raise _too_big(what, size, limit)
    return bytes(data)


def _too_big(what: str, size: int, limit: int) -> InvalidArgument:
    return InvalidArgument(f"{what} of {size} bytes is over the limit of {limit} bytes")


def check_key(key: object) -> bytes:
    """``key`` as ``bytes``, for use as a key.

    Accepts ``bytes``, ``bytearray`` and ``memoryview`` (copied to ``bytes``). Raises
    :class:`InvalidArgument` for any other type, an empty key, or a key over ``MAX_KEY_BYTES``.
    """
    data = _as_bytes("key", key, MAX_KEY_BYTES)
    if not data:
        raise InvalidArgument("a key must not be empty")
    return data


def check_value(value: object) -> bytes:
    """``value`` as ``bytes``, for use as a value.

    Accepts ``bytes``, ``bytearray`` and ``memoryview`` (copied to ``bytes`` after the size
    check). Raises :class:`InvalidArgument` for any other type or a value over
    ``MAX_VALUE_BYTES``. An empty value is allowed.
    """
    return _as_bytes("value", value, MAX_VALUE_BYTES)


class WriteBatch:
    """Puts and deletes to apply together with ``DB.write``: readers and recovery see all of
    them or none. Operations keep the order they were added in, so when a batch touches a key
    more than once, the last operation wins.

    Keys and values are checked (and copied to ``bytes``) when added, so a bad argument raises
    :class:`InvalidArgument` from :meth:`put` or :meth:`delete` and leaves the batch unchanged.
    Not thread-safe: build a batch in one thread.
    """

    __slots__ = ("_ops", "_size_bytes")

    def __init__(self) -> None:
        self._ops: list[tuple[Kind, bytes, bytes]] = []
        self._size_bytes = 0

    def put(self, key: bytes, value: bytes) -> WriteBatch:
        """Add a put of ``value`` at ``key``; returns this batch, for chaining."""
        key = check_key(key)
        value = check_value(value)
        self._ops.append((Kind.PUT, key, value))
        self._size_bytes += len(key) + len(value) + OP_OVERHEAD_BYTES
        return self

    def delete(self, key: bytes) -> WriteBatch:
        """Add a delete of ``key`` (a no-op if absent); returns this batch, for chaining."""
        key = check_key(key)
        self._ops.append((Kind.DELETE, key, b""))
        self._size_bytes += len(key) + OP_OVERHEAD_BYTES
        return self

    def __len__(self) -> int:
        """The number of operations."""
        return len(self._ops)

    def __repr__(self) -> str:
        return f"<WriteBatch: {len(self._ops)} ops, {self._size_bytes} bytes>"

    @property
    def ops(self) -> tuple[tuple[Kind, bytes, bytes], ...]:
        """``(kind, key, value)`` per operation in the order added; ``value`` is ``b""`` for a
        delete."""
        return tuple(self._ops)

    @property
    def size_bytes(self) -> int:
        """Approximate encoded size: keys, values and ``OP_OVERHEAD_BYTES`` per operation."""
        return self._size_bytes
