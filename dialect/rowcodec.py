"""Row values: a msgpack map from column id to value (docs/sql-format.md#rows).

None, bool, int, float, str and bytes are msgpack's own types (bytes as bin, so they stay
bytes). The rest are extension types whose data is UTF-8 text::

    1 Decimal     str(value), e.g. "-1.50E+3"
    2 date        ISO 8601, "2024-02-29"
    3 time        ISO 8601, "13:45:00.250000", with "+HH:MM" if it has a time zone
    4 datetime    ISO 8601, "2024-02-29T13:45:00", with "+HH:MM" if it has a time zone

Every value reads back equal and of the same type; an aware value keeps its UTC offset (not
its zone name). Adding a column changes no stored row: a missing column id reads as NULL.
"""

from __future__ import annotations

import datetime as dt
import decimal
import threading
from collections.abc import Callable, Mapping
from typing import Any

import msgpack

SQLValue = Any  # None, bool, int, float, Decimal, str, bytes, date, time, datetime

EXT_DECIMAL, EXT_DATE, EXT_TIME, EXT_DATETIME = 1, 2, 3, 4


# The text of each extension type, by the exact type of the value.
_EXT_TEXT: dict[type, tuple[int, Callable[[Any], str]]] = {  # Any: the type keyed
    decimal.Decimal: (EXT_DECIMAL, str),
    dt.date: (EXT_DATE, dt.date.isoformat),
    dt.time: (EXT_TIME, dt.time.isoformat),
    dt.datetime: (EXT_DATETIME, dt.datetime.isoformat),
}
# ExtType's own constructor re-checks code and data in Python, which costs more than the rest
# of packing a value; ours are always valid, so build the namedtuple directly.
_new_ext = tuple.__new__


def _to_ext(v: object) -> msgpack.ExtType:
    found = _EXT_TEXT.get(type(v))
    if found is None:  # a subclass (pandas Timestamp, ...): datetime before date
        for kind in (decimal.Decimal, dt.datetime, dt.date, dt.time):
            if isinstance(v, kind):
                found = _EXT_TEXT[kind]
                break
        else:
            raise TypeError(f"{type(v).__name__} values cannot be stored in a row")
    code, text = found
    ext: msgpack.ExtType = _new_ext(msgpack.ExtType, (code, text(v).encode()))
    return ext


def _from_ext(code: int, data: bytes) -> SQLValue:
    text = data.decode()
    if code == EXT_DECIMAL:
        return decimal.Decimal(text)
    if code == EXT_DATETIME:
        return dt.datetime.fromisoformat(text)
    if code == EXT_DATE:
        return dt.date.fromisoformat(text)
    if code == EXT_TIME:
        return dt.time.fromisoformat(text)
    raise ValueError(f"unknown extension type {code}")


# A Packer costs about as much to build as a small row does to pack, so each thread keeps one
# (a Packer's buffer must not be shared between threads).
_local = threading.local()


def encode_row(values: Mapping[int, SQLValue]) -> bytes:
    """The stored form of a row: column id to value (the caller may leave out NULLs).

    ``ValueError`` for an integer outside -2**63 .. 2**64-1 or a value of a type neither
    SQL nor msgpack knows (lists and dicts are not refused: msgpack packs them itself).
    """
    if type(values) is not dict:
        values = dict(values)
    try:
        packer = _local.packer
    except AttributeError:
        packer = _local.packer = msgpack.Packer(use_bin_type=True, default=_to_ext)
    try:
        out: bytes = packer.pack(values)
    except (TypeError, OverflowError) as exc:
        raise ValueError(f"row cannot be stored: {exc}") from exc
    return out


def decode_row(data: bytes) -> dict[int, SQLValue]:
    """Column id to value, as ``encode_row`` was given it; ``ValueError`` if ``data`` is
    not a row."""
    try:
        row: Any = msgpack.unpackb(  # Any: checked to be a dict with int keys below
            data, raw=False, ext_hook=_from_ext, strict_map_key=False
        )
    except (ValueError, TypeError, ArithmeticError, msgpack.UnpackException) as exc:
        raise ValueError(f"malformed row: {exc}") from exc
    if type(row) is not dict:
        raise ValueError(f"malformed row: a {type(row).__name__}, not a map")
    for column_id in row:
        if type(column_id) is not int:
            raise ValueError(f"malformed row: column id {column_id!r}")
    return row
