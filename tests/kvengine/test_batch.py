from __future__ import annotations

import array
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvengine import DB, InvalidArgument, WriteBatch
from kvengine import batch as batch_module
from kvengine.batch import OP_OVERHEAD_BYTES, check_key, check_value
from kvengine.record import MAX_KEY_BYTES, MAX_VALUE_BYTES, Kind


def test_ops_keep_insertion_order_and_chain() -> None:
    batch = WriteBatch().put(b"b", b"1").delete(b"a").put(b"b", b"2")
    assert len(batch) == 3
    assert batch.ops == (
        (Kind.PUT, b"b", b"1"),
        (Kind.DELETE, b"a", b""),
        (Kind.PUT, b"b", b"2"),
    )


def test_empty_batch() -> None:
    batch = WriteBatch()
    assert len(batch) == 0
    assert not batch
    assert batch.ops == ()
    assert batch.size_bytes == 0


def test_size_counts_keys_values_and_overhead() -> None:
    batch = WriteBatch().put(b"key", b"value").delete(b"gone")
    assert batch.size_bytes == 3 + 5 + 4 + 2 * OP_OVERHEAD_BYTES


@given(
    st.lists(
        st.tuples(st.booleans(), st.binary(min_size=1, max_size=16), st.binary(max_size=32)),
        max_size=20,
    )
)
def test_ops_and_size_match_the_calls(calls: list[tuple[bool, bytes, bytes]]) -> None:
    batch = WriteBatch()
    expected = []
    for is_put, key, value in calls:
        if is_put:
            batch.put(key, value)
            expected.append((Kind.PUT, key, value))
        else:
            batch.delete(key)
            expected.append((Kind.DELETE, key, b""))
    assert batch.ops == tuple(expected)
    assert len(batch) == len(expected)
    assert batch.size_bytes == sum(len(k) + len(v) + OP_OVERHEAD_BYTES for _, k, v in expected)


def test_ops_is_a_snapshot() -> None:
    batch = WriteBatch().put(b"a", b"1")
    ops = batch.ops
    batch.put(b"b", b"2")
    assert ops == ((Kind.PUT, b"a", b"1"),)


@pytest.mark.parametrize("make", [bytes, bytearray, memoryview])
def test_bytes_like_arguments_become_bytes(make: type) -> None:
    batch = WriteBatch().put(make(b"k"), make(b"v")).delete(make(b"d"))
    for _, key, value in batch.ops:
        assert type(key) is bytes
        assert type(value) is bytes
    assert batch.ops == ((Kind.PUT, b"k", b"v"), (Kind.DELETE, b"d", b""))


def test_bytearray_is_copied() -> None:
    key = bytearray(b"k")
    value = bytearray(b"v")
    batch = WriteBatch().put(key, value)  # type: ignore[arg-type]
    key[0:1] = b"x"
    value[0:1] = b"y"
    assert batch.ops == ((Kind.PUT, b"k", b"v"),)


def test_memoryview_counts_bytes_not_items() -> None:
    view = memoryview(array.array("I", [1, 2]))
    assert len(view) == 2
    assert check_value(view) == view.tobytes()
    assert len(check_key(view)) == view.nbytes


def test_bytes_is_not_copied() -> None:
    key = b"some key"
    assert check_key(key) is key
    assert check_value(key) is key


@pytest.mark.parametrize("bad", ["text", 7, None, 1.5, [1, 2], True])
def test_wrong_key_type_names_the_type(bad: object) -> None:
    with pytest.raises(InvalidArgument, match=type(bad).__name__):
        check_key(bad)
    with pytest.raises(InvalidArgument, match=type(bad).__name__):
        WriteBatch().put(bad, b"v")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match=type(bad).__name__):
        WriteBatch().delete(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["text", 7, None])
def test_wrong_value_type_names_the_type(bad: object) -> None:
    with pytest.raises(InvalidArgument, match=type(bad).__name__):
        check_value(bad)
    with pytest.raises(InvalidArgument, match=type(bad).__name__):
        WriteBatch().put(b"k", bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("empty", [b"", bytearray(), memoryview(b"")])
def test_empty_key_is_refused(empty: object) -> None:
    with pytest.raises(InvalidArgument, match="empty"):
        check_key(empty)


def test_empty_value_is_allowed() -> None:
    assert check_value(b"") == b""
    assert WriteBatch().put(b"k", b"").ops == ((Kind.PUT, b"k", b""),)


def test_key_size_limit() -> None:
    assert len(check_key(b"k" * MAX_KEY_BYTES)) == MAX_KEY_BYTES
    too_long = b"k" * (MAX_KEY_BYTES + 1)
    for arg in (too_long, bytearray(too_long), memoryview(too_long)):
        with pytest.raises(InvalidArgument, match=f"{MAX_KEY_BYTES + 1}.*{MAX_KEY_BYTES}"):
            check_key(arg)


def test_value_size_limit_without_copying() -> None:
    # The only large allocation: bytes are checked in place and a memoryview is measured
    # before it is copied, so neither form allocates another 64 MiB.
    big = bytes(MAX_VALUE_BYTES + 1)
    message = f"{MAX_VALUE_BYTES + 1}.*{MAX_VALUE_BYTES}"
    for arg in (big, memoryview(big)):
        with pytest.raises(InvalidArgument, match=message):
            check_value(arg)
    batch = WriteBatch()
    with pytest.raises(InvalidArgument, match=message):
        batch.put(b"k", big)
    assert len(batch) == 0
    assert batch.size_bytes == 0


def test_value_size_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_module, "MAX_VALUE_BYTES", 10)
    for make in (bytes, bytearray, memoryview):
        assert check_value(make(b"v" * 10)) == b"v" * 10
        with pytest.raises(InvalidArgument, match=r"11.*10"):
            check_value(make(b"v" * 11))


def test_failed_put_leaves_batch_unchanged() -> None:
    batch = WriteBatch().put(b"a", b"1")
    with pytest.raises(InvalidArgument):
        batch.put(b"", b"x")
    with pytest.raises(InvalidArgument):
        batch.put(b"k", "text")  # type: ignore[arg-type]
    assert batch.ops == ((Kind.PUT, b"a", b"1"),)
    assert batch.size_bytes == 2 + OP_OVERHEAD_BYTES


def test_invalid_argument_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        check_key(b"")


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("text", b"v", "str"),
        (b"k", "text", "str"),
        (b"", b"v", "empty"),
        (bytearray(), b"v", "empty"),
        (b"k" * (MAX_KEY_BYTES + 1), b"v", str(MAX_KEY_BYTES + 1)),
        (b"k", bytes(MAX_VALUE_BYTES + 1), str(MAX_VALUE_BYTES + 1)),
    ],
)
def test_db_put_refuses_what_check_key_and_check_value_refuse(
    key: object, value: object, error: str
) -> None:
    """DB.put checks bytes inline (its fast path) and the rest with check_key/check_value."""
    with DB.open(f"memory://{uuid.uuid4().hex}") as db:
        for durable in (True, False):
            with pytest.raises(InvalidArgument, match=error):
                db.put(key, value, durable=durable)  # type: ignore[arg-type]
        db.put(bytearray(b"k"), memoryview(b"v"), durable=False)  # type: ignore[arg-type]
        db.put(b"k" * MAX_KEY_BYTES, b"", durable=False)
        assert db.get(b"k") == b"v" and db.get(b"k" * MAX_KEY_BYTES) == b""
