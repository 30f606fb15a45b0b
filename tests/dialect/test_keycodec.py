from __future__ import annotations

import datetime as dt
import decimal
import enum
import math
import struct
from typing import Any

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from dialect.keycodec import decode_int_key, decode_key, encode_key, prefix_end

D = decimal.Decimal

INTS = st.integers(-(2**63), 2**63 - 1)
FLOATS = st.floats()  # with NaN, infinities and -0.0
DECIMALS = st.decimals(allow_nan=False) | st.builds(
    lambda sign, digits, exponent: D((sign, digits, exponent)),
    st.integers(0, 1),
    st.lists(st.integers(0, 9), min_size=1, max_size=60).map(tuple),
    st.integers(-100, 100),
)
OFFSETS = st.integers(-23 * 60, 23 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
KINDS: list[st.SearchStrategy[Any]] = [
    st.booleans(),
    INTS,
    FLOATS,
    DECIMALS,
    st.text(),
    st.binary(),
    st.dates(),
    st.times(),
    st.datetimes(),
    st.datetimes(
        min_value=dt.datetime(2, 1, 1), max_value=dt.datetime(9998, 12, 31), timezones=OFFSETS
    ),
]


def sql_order(value: Any) -> tuple[Any, ...]:
    """The SQL order of a value among values of its type: NULL first, floats in IEEE total
    order (-0.0 before 0.0, NaN last)."""
    if value is None:
        return (0,)
    if isinstance(value, float):
        if math.isnan(value):
            return (2,)
        return (1, value, math.copysign(1.0, value))
    return (1, value)


def tuple_order(values: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    return [sql_order(v) for v in values]


@st.composite
def same_typed(draw: st.DrawFn, count: int = 2) -> list[tuple[Any, ...]]:
    """``count`` tuples of one length whose components pairwise share a type."""
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=4))
    return [tuple(draw(st.none() | kind) for kind in kinds) for _ in range(count)]


def same_value(decoded: Any, original: Any) -> bool:
    if isinstance(original, float):
        if math.isnan(original):
            return type(decoded) is float and math.isnan(decoded)
        return type(decoded) is float and struct.pack(">d", decoded) == struct.pack(">d", original)
    if isinstance(original, dt.datetime) and original.tzinfo is not None:
        # the instant, in UTC: the offset is not in the key
        return type(decoded) is dt.datetime and decoded.tzinfo is dt.UTC and decoded == original
    return type(decoded) is type(original) and decoded == original


# -- golden bytes: these pin the stored format (docs/sql-format.md#keys) --

GOLDEN = [
    (None, "05"),
    (False, "10"),
    (True, "11"),
    (0, "20 80 00 00 00 00 00 00 00"),
    (-1, "20 7f ff ff ff ff ff ff ff"),
    (2**63 - 1, "20 ff ff ff ff ff ff ff ff"),
    (-(2**63), "20 00 00 00 00 00 00 00 00"),
    (1.0, "21 bf f0 00 00 00 00 00 00"),
    (-1.0, "21 40 0f ff ff ff ff ff ff"),
    (0.0, "21 80 00 00 00 00 00 00 00"),
    (-0.0, "21 7f ff ff ff ff ff ff ff"),
    (math.nan, "21 ff f8 00 00 00 00 00 00"),
    (D("0"), "23"),
    (D("12.5"), "24 80 00 00 02 31 32 35 00"),
    (D("-12.5"), "22 7f ff ff fd ce cd ca ff"),
    (D("0.001"), "24 7f ff ff fe 31 00"),
    (D("-Infinity"), "1f"),
    (D("Infinity"), "25"),
    ("", "30 00 01"),
    ("a\x00b", "30 61 00 ff 62 00 01"),
    ("é", "30 c3 a9 00 01"),
    (b"\x00\x01", "31 00 ff 01 00 01"),
    (dt.date(1, 1, 1), "40 80 00 00 00 00 00 00 01"),
    (dt.time(0, 0, 1), "41 80 00 00 00 00 0f 42 40"),
    (dt.datetime(1, 1, 1, 0, 0, 0, 1), "42 80 00 00 00 00 00 00 01"),
    (dt.datetime(2024, 1, 1, 12), "42 80 e2 cd e0 1e 38 90 00"),
    # aware: tag 0x43, the UTC instant; 13:00+01:00 is the same key as 12:00 UTC
    (dt.datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=dt.UTC), "43 80 00 00 00 00 00 00 01"),
    (dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC), "43 80 e2 cd e0 1e 38 90 00"),
    (
        dt.datetime(2024, 1, 1, 13, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        "43 80 e2 cd e0 1e 38 90 00",
    ),
]


@pytest.mark.parametrize(("value", "hex_bytes"), GOLDEN)
def test_golden_bytes(value: Any, hex_bytes: str) -> None:
    data = bytes.fromhex(hex_bytes)
    assert encode_key([value]) == data
    assert same_value(decode_key(data)[0], value)


def test_composite_key_is_the_concatenation() -> None:
    assert encode_key([1, "a"]) == bytes.fromhex("20 80 00 00 00 00 00 00 01 30 61 00 01")
    assert encode_key([]) == b""
    assert decode_key(b"") == ()


# -- properties --


@given(same_typed())
@example([(-0.0,), (0.0,)])
@example([(math.inf,), (math.nan,)])
@example([("a",), ("a\x00",)])
@example([("a\x00",), ("a\x01",)])
@example([(b"",), (b"\x00",)])
@example([(D("0.12"),), (D("0.123"),)])
@example([(D("-0.12"),), (D("-0.123"),)])
@example([(True, None), (True, 1)])
def test_byte_order_is_sql_order(pair: list[tuple[Any, ...]]) -> None:
    a, b = pair
    ka, kb = encode_key(a), encode_key(b)
    assert (ka < kb) == (tuple_order(a) < tuple_order(b))
    assert (ka == kb) == (tuple_order(a) == tuple_order(b))


@given(same_typed(count=1), same_typed(count=1))
def test_round_trip(first: list[tuple[Any, ...]], second: list[tuple[Any, ...]]) -> None:
    values = first[0] + second[0]
    decoded = decode_key(encode_key(values))
    assert len(decoded) == len(values)
    for got, original in zip(decoded, values, strict=True):
        assert same_value(got, original), (got, original)


@given(same_typed(count=1), same_typed(count=1))
def test_key_of_a_tuple_prefixes_its_extensions(
    first: list[tuple[Any, ...]], second: list[tuple[Any, ...]]
) -> None:
    head, tail = first[0], second[0]
    start = encode_key(head)
    extended = encode_key(head + tail)
    assert extended.startswith(start)
    end = prefix_end(start)
    assert end is not None and start <= extended < end


@given(st.binary(), st.binary(), st.binary())
def test_prefix_end_bounds_exactly_the_strings_with_the_prefix(
    prefix: bytes, suffix: bytes, other: bytes
) -> None:
    end = prefix_end(prefix)
    if end is None:
        assert prefix.strip(b"\xff") == b""
        return
    assert prefix + suffix < end
    assert other.startswith(prefix) == (prefix <= other < end)


def test_prefix_end_examples() -> None:
    assert prefix_end(b"a") == b"b"
    assert prefix_end(b"a\xff\xff") == b"b"
    assert prefix_end(b"\x00\xff") == b"\x01"
    assert prefix_end(b"\xff\xff") is None
    assert prefix_end(b"") is None


@given(st.binary(max_size=40))
@example(b"\x30a\x00\x01")
@example(b"\x24\x80\x00\x00\x01\x31\x00")
def test_decoding_arbitrary_bytes_is_exact_or_value_error(data: bytes) -> None:
    try:
        values = decode_key(data)
    except ValueError:
        return
    if not any(isinstance(v, float) and math.isnan(v) for v in values):
        assert encode_key(values) == data  # one encoding per value: no aliases


# -- particular values --


@given(DECIMALS)
def test_equal_decimals_are_one_key(value: decimal.Decimal) -> None:
    assume(value != 0 and value.is_finite())
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    padded = D((sign, (0, *digits, 0, 0, 0), exponent - 3))
    assert encode_key([value]) == encode_key([padded])
    assert decode_key(encode_key([value]))[0] == value


def test_decimal_forms() -> None:
    assert encode_key([D("1.0")]) == encode_key([D("1")]) == encode_key([D("1E0")])
    assert encode_key([D("0")]) == encode_key([D("-0.000")]) == encode_key([D("0E+9")])
    assert encode_key([D("100")]) == encode_key([D("1E+2")])
    long = D("-1234567890.12345678901234567890123456789")  # more than 28 digits: exact
    assert decode_key(encode_key([long])) == (long,)


def test_decimals_at_the_exponent_limits() -> None:
    big, small = D("1E+2147483646"), D("1E-2147483648")
    assert decode_key(encode_key([big, small])) == (big, small)
    assert encode_key([small]) < encode_key([D(1)]) < encode_key([big])
    assert encode_key([big.copy_negate()]) < encode_key([small.copy_negate()]) < encode_key([D(0)])


def test_every_nan_is_one_key_after_infinity() -> None:
    negative_nan = -math.nan
    payload_nan = struct.unpack(">d", bytes.fromhex("fff0000000000001"))[0]
    keys = {encode_key([x]) for x in (math.nan, negative_nan, payload_nan)}
    assert len(keys) == 1
    (nan_key,) = keys
    assert encode_key([math.inf]) < nan_key
    assert math.isnan(decode_key(nan_key)[0])


def test_zero_and_negative_zero_are_different_keys() -> None:
    assert encode_key([-math.inf]) < encode_key([-0.0]) < encode_key([0.0])
    assert math.copysign(1.0, decode_key(encode_key([-0.0]))[0]) == -1.0


def test_text_with_zero_bytes() -> None:
    ordered = ["", "\x00", "\x00\x00", "\x00\x01", "\x01", "a", "a\x00", "a\x00b", "ab", "\uffff"]
    keys = [encode_key([s]) for s in ordered]
    assert keys == sorted(keys)
    assert [decode_key(k)[0] for k in keys] == ordered
    # no two tuples share an encoding
    assert encode_key(["a", "b"]) != encode_key(["a\x00b"])
    assert decode_key(encode_key(["a\x00", "\x00b"])) == ("a\x00", "\x00b")


def test_aware_datetimes_are_stored_as_utc_instants() -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    aware = dt.datetime(2026, 1, 1, 12, tzinfo=plus_two)
    (decoded,) = decode_key(encode_key([aware]))
    assert decoded == aware and decoded.tzinfo is dt.UTC and decoded.hour == 10
    same_instant = dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)
    assert encode_key([aware]) == encode_key([same_instant])
    # naive and aware values are different keys: all naive ones sort first (by tag)
    assert encode_key([dt.datetime(9999, 1, 1)]) < encode_key([same_instant])
    earlier_wall_clock_later_instant = dt.datetime(2026, 1, 1, 11, tzinfo=dt.UTC)
    assert encode_key([aware]) < encode_key([earlier_wall_clock_later_instant])


def test_temporal_limits() -> None:
    values = [dt.date.min, dt.date.max, dt.time.min, dt.time.max, dt.datetime.min, dt.datetime.max]
    assert decode_key(encode_key(values)) == tuple(values)


class Colour(enum.IntEnum):
    RED = 1


class Name(str):
    pass


def test_subclasses_encode_as_their_base_type() -> None:
    assert encode_key([Colour.RED]) == encode_key([1])
    assert encode_key([Name("x")]) == encode_key(["x"])
    assert encode_key([bytearray(b"x"), memoryview(b"y")]) == encode_key([b"x", b"y"])
    assert decode_key(encode_key([bytearray(b"x")])) == (b"x",)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2**63, str(2**63)),
        (-(2**63) - 1, str(-(2**63) - 1)),
        (D("NaN"), "NaN"),
        (D("sNaN"), "sNaN"),
        (D("1E+2147483647"), "exponent"),
        (dt.time(1, tzinfo=dt.UTC), "time zone"),
        (dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))), "range"),
        (object(), "object"),
        ([1], "list"),
    ],
)
def test_values_that_cannot_be_keys(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_key([1, value])


@pytest.mark.parametrize(
    "data",
    [
        b"\x99",  # unknown tag
        b"\x20\x00",  # truncated INTEGER
        b"\x21\x00\x00",  # truncated REAL
        b"\x30abc",  # unterminated TEXT
        b"\x30a\x00\x02\x00\x01",  # bad escape
        b"\x30\xff\x00\x01",  # not UTF-8
        b"\x24\x80\x00\x00\x01",  # NUMERIC without digits or terminator
        b"\x24\x80\x00\x00\x01\x00",  # NUMERIC without digits
        b"\x24\x80\x00\x00\x01\x30\x31\x00",  # leading zero
        b"\x24\x80\x00\x00\x01\x31\x30\x00",  # trailing zero
        b"\x24\x80\x00\x00\x01\x31\x5f\x31\x00",  # not a digit
        b"\x40\x80\x00\x00\x00\x00\x00\x00\x00",  # DATE ordinal 0
        b"\x41\x80\x00\x00\x14\x1d\xd7\x60\x00",  # TIME of 24:00
        b"\x42\xff\xff\xff\xff\xff\xff\xff\xff",  # TIMESTAMP past year 9999
    ],
)
def test_malformed_keys(data: bytes) -> None:
    with pytest.raises(ValueError, match="malformed key"):
        decode_key(data)


@given(st.integers(-(2**63), 2**63 - 1), st.binary(max_size=4))
def test_decode_int_key_reads_a_single_integer_component(v: int, prefix: bytes) -> None:
    assert decode_int_key(prefix + encode_key([v]), len(prefix)) == v


def test_decode_int_key_refuses_anything_else() -> None:
    for values in ([1.5], ["x"], [1, 2], [None]):
        with pytest.raises(ValueError):
            decode_int_key(encode_key(values), 0)
