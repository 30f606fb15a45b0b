from __future__ import annotations

import datetime as dt
import decimal
import math
import threading
import types
import zoneinfo
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialect.rowcodec import decode_row, encode_row

D = decimal.Decimal

OFFSETS = st.integers(-86_399, 86_399).map(lambda s: dt.timezone(dt.timedelta(seconds=s)))
VALUES: st.SearchStrategy[Any] = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.decimals(allow_nan=False)
    | st.text()
    | st.binary()
    | st.dates()
    | st.times()
    | st.times(timezones=OFFSETS)
    | st.datetimes()
    | st.datetimes(timezones=OFFSETS)
)


def exact(value: Any) -> tuple[Any, ...]:
    """What must survive a round trip: type, value, and for decimals and aware values the
    digits and the UTC offset as well."""
    if isinstance(value, decimal.Decimal):
        return (decimal.Decimal, value.as_tuple())
    if isinstance(value, float):
        return (float, math.copysign(1.0, value), value)
    if isinstance(value, dt.time | dt.datetime):
        return (type(value), value, value.utcoffset())
    return (type(value), value)


@given(st.dictionaries(st.integers(-(2**63), 2**64 - 1), VALUES))
def test_round_trip_keeps_types_and_values(row: dict[int, Any]) -> None:
    decoded = decode_row(encode_row(row))
    assert decoded.keys() == row.keys()
    assert {k: exact(v) for k, v in decoded.items()} == {k: exact(v) for k, v in row.items()}


def test_golden_bytes() -> None:
    # pins the stored format (docs/sql-format.md#rows)
    row = {
        1: None,
        2: True,
        3: -1,
        4: 1.5,
        5: "é",
        6: b"\x00",
        7: D("1.50"),
        8: dt.date(2024, 2, 29),
        9: dt.time(13, 45, 0, 250000),
        10: dt.datetime(2024, 2, 29, 13, 45, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    }
    expected = bytes.fromhex(
        "8a"  # map of 10
        "01 c0"  # nil
        "02 c3"  # true
        "03 ff"  # negative fixint
        "04 cb 3ff8000000000000"  # float 64
        "05 a2 c3a9"  # str
        "06 c4 01 00"  # bin
        "07 d6 01" + b"1.50".hex() + "08 c7 0a 02" + b"2024-02-29".hex() + "09 c7 0f 03"
        "" + b"13:45:00.250000".hex() + "0a c7 19 04" + b"2024-02-29T13:45:00-05:00".hex()
    )
    assert encode_row(row) == expected
    assert decode_row(expected) == row


def test_special_decimals_keep_their_form() -> None:
    for text in ["Infinity", "-Infinity", "-0", "1.000", "1E+5", "1234567890123456789012345678901"]:
        (value,) = decode_row(encode_row({1: D(text)})).values()
        assert str(value) == text
    (nan,) = decode_row(encode_row({1: D("NaN")})).values()
    assert nan.is_nan()


def test_zone_name_becomes_its_offset() -> None:
    zone = zoneinfo.ZoneInfo("Europe/Paris")
    value = dt.datetime(2024, 7, 1, 12, tzinfo=zone)
    (decoded,) = decode_row(encode_row({1: value})).values()
    assert decoded == value
    assert decoded.utcoffset() == dt.timedelta(hours=2)
    assert decoded.tzinfo == dt.timezone(dt.timedelta(hours=2))


def test_any_mapping_and_subclasses() -> None:
    class Stamp(dt.datetime):
        pass

    row = types.MappingProxyType({1: Stamp(2024, 1, 1), 2: bytearray(b"x")})
    assert decode_row(encode_row(row)) == {1: dt.datetime(2024, 1, 1), 2: b"x"}


@pytest.mark.parametrize(
    ("value", "message"), [(2**64, "int"), (-(2**63) - 1, "int"), (object(), "object")]
)
def test_values_that_cannot_be_stored(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_row({1: "before", 2: value})
    assert decode_row(encode_row({1: "after"})) == {1: "after"}  # nothing left half-packed


def test_threads_encode_independently() -> None:
    failures: list[int] = []

    def work(n: int) -> None:
        for i in range(2000):
            row = {1: n, 2: i, 3: dt.date(2000 + n, 1, 1), 4: D(i)}
            if decode_row(encode_row(row)) != row:
                failures.append(n)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


@pytest.mark.parametrize(
    "data",
    [
        b"",  # empty
        b"\xc1",  # never used
        b"\x01",  # an integer, not a map
        b"\x81\x01",  # truncated
        b"\x80\x00",  # trailing data
        msgpack.packb({"a": 1}),  # column id is not an integer
        msgpack.packb({1: msgpack.ExtType(9, b"x")}),  # unknown extension
        msgpack.packb({1: msgpack.ExtType(1, b"one")}),  # not a decimal
        msgpack.packb({1: msgpack.ExtType(2, b"2024-13-01")}),  # not a date
        msgpack.packb({1: msgpack.ExtType(4, b"\xff")}),  # not UTF-8
    ],
)
def test_malformed_rows(data: bytes) -> None:
    with pytest.raises(ValueError, match="malformed row"):
        decode_row(data)
