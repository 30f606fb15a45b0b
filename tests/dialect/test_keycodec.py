from __future__ import annotations

import datetime as dt
import decimal
import math
import struct

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from dialect.keycodec import decode_key, encode_key, prefix_end
from dialect.values import SortKey

INTS = st.integers(-(2**63), 2**63 - 1)
FLOATS = st.floats(allow_nan=False)
DECIMALS = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: d.is_finite() and abs(d.adjusted()) < 1000
)
TEXT = st.text()
BLOBS = st.binary()
DATES = st.dates()
TIMES = st.times()
DATETIMES = st.datetimes()
TYPES = [INTS, FLOATS, DECIMALS, TEXT, BLOBS, DATES, TIMES, DATETIMES, st.booleans()]


def sql_lt(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    return [SortKey(x) for x in a] < [SortKey(y) for y in b]


@st.composite
def same_typed_pair(draw: st.DrawFn) -> tuple[tuple[object, ...], tuple[object, ...]]:
    kinds = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=3))
    a = tuple(draw(st.none() | k) for k in kinds)
    b = tuple(draw(st.none() | k) for k in kinds)
    return a, b


@given(same_typed_pair())
def test_byte_order_is_sql_order(pair: tuple[tuple[object, ...], tuple[object, ...]]) -> None:
    a, b = pair
    ea, eb = encode_key(a), encode_key(b)
    assert (ea < eb) == sql_lt(a, b)
    assert (ea == eb) == (not sql_lt(a, b) and not sql_lt(b, a))


@given(same_typed_pair())
def test_round_trip_and_prefix(pair: tuple[tuple[object, ...], tuple[object, ...]]) -> None:
    a, b = pair
    decoded = decode_key(encode_key(a + b))
    assert len(decoded) == len(a + b)
    for x, y in zip(decoded, a + b, strict=True):
        if isinstance(y, float):
            assert struct.pack(">d", x) == struct.pack(">d", y)  # type: ignore[arg-type]
        elif isinstance(y, decimal.Decimal):
            assert x == y
        else:
            assert x == y and type(x) is type(y)
    assert encode_key(a + b).startswith(encode_key(a))
    end = prefix_end(encode_key(a))
    assert end is None or encode_key(a + b) < end


def test_nan_sorts_after_infinity() -> None:
    assert encode_key([math.inf]) < encode_key([math.nan])
    assert encode_key([-0.0]) < encode_key([0.0])


@given(DECIMALS)
def test_decimal_normalisation(d: decimal.Decimal) -> None:
    assume(d != 0)
    sign, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    padded = decimal.Decimal((sign, (*digits, 0, 0), exponent - 2))  # same value, more zeros
    assert encode_key([d]) == encode_key([padded])
    assert encode_key([decimal.Decimal("1.0")]) == encode_key([decimal.Decimal("1")])


def test_values_that_cannot_be_keys() -> None:
    with pytest.raises(ValueError):
        encode_key([2**63])
    with pytest.raises(ValueError):
        encode_key([decimal.Decimal("NaN")])
    with pytest.raises(ValueError):
        encode_key([dt.time(1, tzinfo=dt.UTC)])
    with pytest.raises(ValueError):
        encode_key([object()])


def test_malformed_input() -> None:
    for bad in [b"\x99", b"\x20\x00", b"\x30abc", b"\x21\x00\x00"]:
        with pytest.raises(ValueError):
            decode_key(bad)


def test_aware_datetimes_are_stored_in_utc() -> None:
    aware = dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert decode_key(encode_key([aware])) == (dt.datetime(2026, 1, 1, 10),)
