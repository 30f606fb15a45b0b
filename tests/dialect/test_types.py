from __future__ import annotations

import datetime as dt
import time

import pytest

from dialect.catalog import TYPE_ALIASES
from dialect.types import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    Date,
    DateFromTicks,
    DBAPIType,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
)

GROUPS = {"STRING": STRING, "BINARY": BINARY, "NUMBER": NUMBER, "DATETIME": DATETIME}


def test_constructors_build_the_python_values() -> None:
    assert Date(2024, 2, 29) == dt.date(2024, 2, 29)
    assert Time(13, 45, 1) == dt.time(13, 45, 1)
    assert Timestamp(2024, 2, 29, 13, 45, 1) == dt.datetime(2024, 2, 29, 13, 45, 1)
    assert Binary(b"ab") == Binary(bytearray(b"ab")) == Binary(memoryview(b"ab")) == b"ab"
    assert Binary("é") == b"\xc3\xa9"
    assert type(Binary(bytearray(b"x"))) is bytes


def test_from_ticks_use_local_time() -> None:
    ticks = 1_700_000_000.75
    local = time.localtime(ticks)
    assert DateFromTicks(ticks) == dt.date(local.tm_year, local.tm_mon, local.tm_mday)
    assert TimeFromTicks(ticks) == dt.time(local.tm_hour, local.tm_min, local.tm_sec)
    assert TimestampFromTicks(ticks) == dt.datetime.fromtimestamp(ticks).replace(microsecond=0)


@pytest.mark.parametrize(
    ("code", "group"),
    [
        ("INTEGER", "NUMBER"),
        ("REAL", "NUMBER"),
        ("NUMERIC", "NUMBER"),
        ("BOOLEAN", "NUMBER"),
        ("TEXT", "STRING"),
        ("JSON", "STRING"),
        ("BLOB", "BINARY"),
        ("DATE", "DATETIME"),
        ("TIME", "DATETIME"),
        ("TIMESTAMP", "DATETIME"),
    ],
)
def test_each_type_code_equals_exactly_its_group(code: str, group: str) -> None:
    for name, type_object in GROUPS.items():
        assert (code == type_object) == (name == group)
        assert (type_object == code) == (name == group)
        assert (type_object != code) == (name != group)
    assert code.lower() == GROUPS[group]
    assert code != ROWID


def test_every_canonical_column_type_has_a_group() -> None:
    for canonical in set(TYPE_ALIASES.values()):
        assert sum(canonical == t for t in GROUPS.values()) == 1, canonical


def test_type_objects_are_values() -> None:
    assert DBAPIType(["integer", "REAL", "Numeric", "BOOLEAN"]) == NUMBER
    assert hash(NUMBER) == hash(DBAPIType(NUMBER.names))
    assert NUMBER != STRING
    assert NUMBER != 1 and NUMBER is not None
    assert "INTEGER" in [STRING, NUMBER]
    assert {NUMBER: "n"}[DBAPIType(NUMBER.names)] == "n"
    assert ROWID == "ROWID"
    assert "REAL" in repr(NUMBER)
