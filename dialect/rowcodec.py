"""Row values: a msgpack map from column id to value (docs/sql-format.md#rows).

Types msgpack lacks are extension types: 1 Decimal (its string), 2 date (ISO), 3 time (ISO),
4 datetime (ISO, with its UTC offset when it has one). Adding a column changes no stored row:
a missing column id reads as NULL.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping
from typing import Any

import msgpack

_DECIMAL, _DATE, _TIME, _DATETIME = 1, 2, 3, 4


def _default(v: Any) -> msgpack.ExtType:  # Any: whatever msgpack could not pack
    if isinstance(v, decimal.Decimal):
        return msgpack.ExtType(_DECIMAL, str(v).encode())
    if isinstance(v, dt.datetime):
        return msgpack.ExtType(_DATETIME, v.isoformat().encode())
    if isinstance(v, dt.date):
        return msgpack.ExtType(_DATE, v.isoformat().encode())
    if isinstance(v, dt.time):
        return msgpack.ExtType(_TIME, v.isoformat().encode())
    raise TypeError(f"cannot store {type(v).__name__}")


def _ext_hook(code: int, data: bytes) -> Any:  # Any: a SQL value
    text = data.decode()
    if code == _DECIMAL:
        return decimal.Decimal(text)
    if code == _DATETIME:
        return dt.datetime.fromisoformat(text)
    if code == _DATE:
        return dt.date.fromisoformat(text)
    if code == _TIME:
        return dt.time.fromisoformat(text)
    raise ValueError(f"unknown extension type {code}")


def encode_row(values: Mapping[int, Any]) -> bytes:  # Any: SQL values
    """The stored form of a row's non-key columns."""
    out: bytes = msgpack.packb(dict(values), use_bin_type=True, default=_default)
    return out


def decode_row(data: bytes) -> dict[int, Any]:  # Any: SQL values
    """Column id to value; ``ValueError`` if ``data`` is not a row."""
    try:
        row = msgpack.unpackb(data, raw=False, ext_hook=_ext_hook, strict_map_key=False)
    except (msgpack.UnpackException, ValueError, TypeError) as exc:
        raise ValueError(f"malformed row: {exc}") from exc
    if not isinstance(row, dict):
        raise ValueError("malformed row: not a map")
    return row
