from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialect.rowcodec import decode_row, encode_row

VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.binary()
    | st.dates()
    | st.times()
    | st.datetimes()
    | st.datetimes(timezones=st.just(dt.timezone(dt.timedelta(hours=-5))))
)


@given(st.dictionaries(st.integers(1, 1000), VALUES))
def test_round_trip_keeps_types(row: dict[int, object]) -> None:
    decoded = decode_row(encode_row(row))
    assert decoded == row
    assert [type(v) for v in decoded.values()] == [type(v) for v in row.values()]


def test_malformed() -> None:
    with pytest.raises(ValueError):
        decode_row(b"\xc1")
    with pytest.raises(ValueError):
        decode_row(b"\x01")  # a msgpack integer, not a map
