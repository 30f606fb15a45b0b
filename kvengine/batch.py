"""``WriteBatch``: operations applied together, atomically, by ``DB.write``; and the key and
value checks every write goes through."""

from __future__ import annotations

from kvengine.errors import InvalidArgument
from kvengine.record import MAX_KEY_BYTES, MAX_VALUE_BYTES, Kind

_BYTES_LIKE = (bytes, bytearray, memoryview)
#: Bytes counted per operation beyond its key and value (kind, lengths, sequence number).
OP_OVERHEAD_BYTES = 16


def check_key(key: object) -> bytes:
    """``key`` as bytes; ``InvalidArgument`` unless it is bytes-like of 1 B to 64 KiB."""
    if not isinstance(key, _BYTES_LIKE):
        raise InvalidArgument(f"keys are bytes, got {type(key).__name__}")
    key = bytes(key)
    if not key:
        raise InvalidArgument("keys must not be empty")
    if len(key) > MAX_KEY_BYTES:
        raise InvalidArgument(f"key of {len(key)} bytes exceeds the {MAX_KEY_BYTES}-byte limit")
    return key


def check_value(value: object) -> bytes:
    """``value`` as bytes; ``InvalidArgument`` unless it is bytes-like of at most 64 MiB."""
    if not isinstance(value, _BYTES_LIKE):
        raise InvalidArgument(f"values are bytes, got {type(value).__name__}")
    size = value.nbytes if isinstance(value, memoryview) else len(value)
    if size > MAX_VALUE_BYTES:
        raise InvalidArgument(f"value of {size} bytes exceeds the {MAX_VALUE_BYTES}-byte limit")
    return bytes(value)


class WriteBatch:
    """An ordered list of puts and deletes; later operations on a key win over earlier ones.

    Not thread-safe: build a batch in one thread, then pass it to ``DB.write``.
    """

    def __init__(self) -> None:
        self._ops: list[tuple[Kind, bytes, bytes]] = []
        self._size = 0

    def put(self, key: bytes, value: bytes) -> WriteBatch:
        """Add a put of ``key``; returns the batch, for chaining."""
        op = (Kind.PUT, check_key(key), check_value(value))
        self._ops.append(op)
        self._size += len(op[1]) + len(op[2]) + OP_OVERHEAD_BYTES
        return self

    def delete(self, key: bytes) -> WriteBatch:
        """Add a delete of ``key``; returns the batch, for chaining."""
        op = (Kind.DELETE, check_key(key), b"")
        self._ops.append(op)
        self._size += len(op[1]) + OP_OVERHEAD_BYTES
        return self

    def __len__(self) -> int:
        return len(self._ops)

    @property
    def ops(self) -> tuple[tuple[Kind, bytes, bytes], ...]:
        """The operations in the order they were added."""
        return tuple(self._ops)

    @property
    def size_bytes(self) -> int:
        """Approximate encoded size: keys, values and a small overhead per operation."""
        return self._size
