"""The conversion table (dialect/convert.py): assignment to a column, CAST, the numeric reading
of text, and numbers in keys of a column with no type; sqlite3 is the oracle where SQLite has
the behaviour."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import dialect
from dialect.convert import (
    assign,
    cast,
    from_key_value,
    key_value,
    number_op,
    real_text,
    to_number_lenient,
    truth,
    try_cast,
)
from dialect.keycodec import decode_key, encode_key

D = decimal.Decimal
REFUSED = dialect.DataError

# -- the table -------------------------------------------------------------------------------

ASSIGN = [
    # INTEGER: whole numbers, numeric text whose value is whole, booleans
    (5, "INTEGER", 5),
    (True, "INTEGER", 1),
    (5.0, "INTEGER", 5),
    (D("5.00"), "INTEGER", 5),
    ("5", "INTEGER", 5),
    (" 5 ", "INTEGER", 5),
    ("5.0", "INTEGER", 5),
    ("+5", "INTEGER", 5),
    ("1e3", "INTEGER", 1000),
    (5.5, "INTEGER", REFUSED),
    ("5.5", "INTEGER", REFUSED),
    ("abc", "INTEGER", REFUSED),
    ("", "INTEGER", REFUSED),
    ("0x10", "INTEGER", REFUSED),
    ("1_000", "INTEGER", REFUSED),
    ("9223372036854775808", "INTEGER", REFUSED),
    (2**63, "INTEGER", REFUSED),
    (math.inf, "INTEGER", REFUSED),
    ("1e999999999", "INTEGER", REFUSED),
    (b"5", "INTEGER", REFUSED),
    (dt.date(2024, 1, 1), "INTEGER", REFUSED),
    # REAL
    (5, "REAL", 5.0),
    (True, "REAL", 1.0),
    (D("0.5"), "REAL", 0.5),
    ("5.1", "REAL", 5.1),
    (" 5.1 ", "REAL", 5.1),
    (".5", "REAL", 0.5),
    ("5.", "REAL", 5.0),
    ("1e400", "REAL", math.inf),
    ("-0.0", "REAL", 0.0),
    ("inf", "REAL", REFUSED),
    ("nan", "REAL", REFUSED),
    ("5.1x", "REAL", REFUSED),
    (b"5", "REAL", REFUSED),
    # NUMERIC: exact
    ("5.10", "NUMERIC", D("5.10")),
    (0.1, "NUMERIC", D("0.1")),
    (7, "NUMERIC", D(7)),
    (False, "NUMERIC", D(0)),
    ("Infinity", "NUMERIC", REFUSED),
    (D("NaN"), "NUMERIC", REFUSED),
    # TEXT: numbers and booleans as SQLite writes them, dates as ISO 8601
    ("x", "TEXT", "x"),
    (5, "TEXT", "5"),
    (True, "TEXT", "1"),
    (False, "TEXT", "0"),
    (1.0, "TEXT", "1.0"),
    (0.1, "TEXT", "0.1"),
    (1e20, "TEXT", "1.0e+20"),
    (D("1.50"), "TEXT", "1.50"),
    (dt.date(2024, 2, 29), "TEXT", "2024-02-29"),
    (dt.datetime(2024, 2, 29, 13, 45), "TEXT", "2024-02-29 13:45:00"),
    (b"x", "TEXT", REFUSED),
    # BOOLEAN
    (True, "BOOLEAN", True),
    (1, "BOOLEAN", True),
    (0.0, "BOOLEAN", False),
    ("true", "BOOLEAN", True),
    (" FALSE ", "BOOLEAN", False),
    ("1", "BOOLEAN", True),
    ("0", "BOOLEAN", False),
    ("t", "BOOLEAN", True),
    (2, "BOOLEAN", REFUSED),
    ("maybe", "BOOLEAN", REFUSED),
    # BLOB
    (b"x", "BLOB", b"x"),
    (bytearray(b"x"), "BLOB", b"x"),
    ("x", "BLOB", REFUSED),
    (1, "BLOB", REFUSED),
    # JSON
    ('{"a": 1}', "JSON", '{"a": 1}'),
    ({"a": 1}, "JSON", '{"a": 1}'),
    ("{", "JSON", REFUSED),
    # dates and times
    ("2024-02-29", "DATE", dt.date(2024, 2, 29)),
    ("2024-02-29 13:45:00", "DATE", dt.date(2024, 2, 29)),
    (dt.datetime(2024, 2, 29, 13, 45), "DATE", dt.date(2024, 2, 29)),
    ("2024-02-30", "DATE", REFUSED),
    ("2024-02-29garbage", "DATE", REFUSED),
    ("nope", "DATE", REFUSED),
    (5, "DATE", REFUSED),
    ("13:45", "TIME", dt.time(13, 45)),
    (dt.datetime(2024, 2, 29, 13, 45), "TIME", dt.time(13, 45)),
    ("x", "TIME", REFUSED),
    ("2024-02-29T13:45:00", "TIMESTAMP", dt.datetime(2024, 2, 29, 13, 45)),
    (dt.date(2024, 2, 29), "TIMESTAMP", dt.datetime(2024, 2, 29)),
    (1.5, "TIMESTAMP", REFUSED),
    # ANY: as given
    ("5", "ANY", "5"),
    (1.0, "ANY", 1.0),
    (True, "ANY", True),
    (memoryview(b"x"), "ANY", b"x"),
    # NaN is NULL (pandas' missing value), whatever the type
    (math.nan, "INTEGER", None),
    (math.nan, "TEXT", None),
    (None, "INTEGER", None),
]


def same(x: Any, y: Any) -> bool:
    return type(x) is type(y) and (x == y or (isinstance(x, float) and x != x and y != y))


@pytest.mark.parametrize(("value", "kind", "expected"), ASSIGN)
def test_assign(value: Any, kind: str, expected: Any) -> None:
    if expected is REFUSED:
        with pytest.raises(dialect.DataError, match=kind):
            assign(value, kind)
    else:
        assert same(assign(value, kind), expected)


CAST = [
    # CAST converts what assignment does, and may lose precision
    (5.7, "INTEGER", 5),
    (-5.7, "INTEGER", -5),
    ("5.7", "INT", 5),
    (D("-2.5"), "BIGINT", -2),
    (b"12", "INTEGER", 12),
    (b"1.5", "DOUBLE", 1.5),
    (2, "BOOLEAN", True),
    (12, "BLOB", b"12"),
    ("é", "VARBINARY", "é".encode()),
    (b"ab", "VARCHAR", "ab"),
    ("2024-02-29 13:45:00", "DATETIME", dt.datetime(2024, 2, 29, 13, 45)),
    ("abc", "INTEGER", REFUSED),
    ("5abc", "INTEGER", REFUSED),
    ("nope", "DATE", REFUSED),
    (b"\xff", "TEXT", REFUSED),
    (math.inf, "INTEGER", REFUSED),
    (None, "INTEGER", None),
]


@pytest.mark.parametrize(("value", "to", "expected"), CAST)
def test_cast(value: Any, to: str, expected: Any) -> None:
    if expected is REFUSED:
        with pytest.raises(dialect.DataError, match=to):
            cast(value, to)
        assert try_cast(value, to) is None
    else:
        assert same(cast(value, to), expected)
        assert same(try_cast(value, to), expected)


def test_cast_to_an_unknown_type_is_not_supported() -> None:
    with pytest.raises(dialect.NotSupportedError, match="GEOMETRY"):
        cast(1, "GEOMETRY")


def test_refusals_name_the_value_and_the_type() -> None:
    with pytest.raises(dialect.DataError, match=r"str 'abc' to INTEGER: not a number"):
        assign("abc", "INTEGER")
    with pytest.raises(dialect.DataError, match=r"str 'nope' AS DATE"):
        cast("nope", "date")


# -- sqlite3 as the oracle -------------------------------------------------------------------


def fifteen_digits(f: float) -> bool:
    """Whether SQLite's text of ``f`` (15 significant digits) is its shortest round-trip text,
    which Strata writes: a normal float with at most 15 such digits."""
    if math.isinf(f) or f == 0:
        return True
    digits = D(repr(f)).normalize().as_tuple().digits
    return abs(f) >= sys.float_info.min and len(digits) <= 15


NUMERIC_TEXT = st.text(alphabet=" +-.0123456789eEx", max_size=8)
NUMBERS = (
    st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False).filter(fifteen_digits)
    | st.booleans()
)


@pytest.fixture(scope="module")
def oracle() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (i INTEGER, r REAL, x TEXT)")
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def strata() -> Iterator[dialect.Connection]:
    conn = dialect.connect(f"memory://{uuid.uuid4().hex}")
    conn.execute("CREATE TABLE t (i INTEGER, r REAL, x TEXT)")
    yield conn
    conn.close()


AFFINITY = {"i": "integer", "r": "real", "x": "text"}


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        # one unit in the last place apart: SQLite's own text-to-REAL reading is not always
        # correctly rounded (3.40 reads '1E126' as 1.0000000000000001e+126; Python: 1e+126)
        return a == b or math.isclose(a, b, rel_tol=2.3e-16, abs_tol=0.0)
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NUMERIC_TEXT | NUMBERS)
@example("5.1")
@example(" 5 ")
@example("5.0")
@example("1e3")
@example(True)
@example(1e20)
@example("9223372036854775808")
@example("0E20")
def test_columns_convert_where_sqlite_affinity_converts(
    oracle: sqlite3.Connection, strata: dialect.Connection, value: Any
) -> None:
    """A value converts into a column exactly where SQLite's affinity converts it (the stored
    type is the column's), and to the same value; elsewhere it is a DataError."""
    if isinstance(value, float) and math.isinf(value):
        return  # SQLite writes an infinite REAL as text 'Inf'; Strata's text is the same
    for col, affinity in AFFINITY.items():
        oracle.execute("DELETE FROM t")
        oracle.execute(f"INSERT INTO t ({col}) VALUES (?)", (value,))
        stored, kind = oracle.execute(f"SELECT {col}, typeof({col}) FROM t").fetchone()
        if kind == affinity:
            got = strata.execute(f"SELECT CAST(? AS {affinity.upper()})", (value,)).fetchone()
            assert _close(assign(value, {"i": "INTEGER", "r": "REAL", "x": "TEXT"}[col]), stored)
            assert _close(got[0], stored), (value, col, stored, got)
        else:
            with pytest.raises(dialect.DataError):
                strata.execute(f"INSERT INTO t ({col}) VALUES (?)", (value,))


@settings(max_examples=300, deadline=None)
@given(NUMERIC_TEXT | NUMBERS)
@example("5abc")
@example("1e")
@example("")
@example(b"12")
def test_arithmetic_reads_text_as_sqlite(oracle: sqlite3.Connection, value: Any) -> None:
    (expected,) = oracle.execute("SELECT ? + 0", (value,)).fetchone()
    got = number_op(value, 0, "+")
    assert _close(got, expected), (value, expected, got)
    (expected_truth,) = oracle.execute("SELECT CASE WHEN ? THEN 1 ELSE 0 END", (value,)).fetchone()
    assert truth(value) is bool(expected_truth)


def test_lenient_numbers_for_aggregates() -> None:
    assert [to_number_lenient(v) for v in ["abc", "5", "5.5x", " 2", True, b"3"]] == [
        0,
        5,
        5.5,
        2,
        1,
        3,
    ]
    with pytest.raises(dialect.DataError):
        to_number_lenient(dt.date(2024, 1, 1))


@given(st.floats(allow_nan=False, allow_infinity=False))
@example(1e15)
@example(1e-5)
@example(123456.789)
@example(-0.0)
def test_real_text_is_sqlites_where_fifteen_digits_suffice(value: float) -> None:
    text = real_text(value)
    assert float(text) == value
    if fifteen_digits(value):
        conn = sqlite3.connect(":memory:")
        (expected,) = conn.execute("SELECT CAST(? AS TEXT)", (value,)).fetchone()
        conn.close()
        assert text == expected


CAST_ORACLE = st.sampled_from(["INTEGER", "REAL", "TEXT", "BLOB"])


SHORT_NUMERIC_TEXT = st.from_regex(r"\A ?[+-]?([0-9]{1,6}(\.[0-9]{0,4})?|\.[0-9]{1,4}) ?\Z")


@settings(max_examples=300, deadline=None)
@given(NUMBERS | SHORT_NUMERIC_TEXT, CAST_ORACLE)
def test_cast_agrees_with_sqlite(oracle: sqlite3.Connection, value: Any, to: str) -> None:
    too_big = to == "INTEGER" and abs(value) >= 2**63 if isinstance(value, float) else False
    if isinstance(value, float) and (math.isinf(value) or too_big):
        return  # SQLite clamps; Strata refuses (test_cast)
    (expected,) = oracle.execute(f"SELECT CAST(? AS {to})", (value,)).fetchone()
    assert _close(cast(value, to), expected), (value, to, expected)


# -- numbers in keys of a column with no type ------------------------------------------------

KEY_NUMBERS = (
    st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.sampled_from([0.5, 1.0, 2**53, 2.0**60, 2**60 + 1, -(2.0**63), 1e300])
)


def _key(v: Any) -> bytes:
    return encode_key([key_value(v, "ANY")])


@given(KEY_NUMBERS, KEY_NUMBERS)
def test_untyped_keys_order_numbers_by_value(a: Any, b: Any) -> None:
    assert (_key(a) < _key(b)) == (a < b)
    assert (_key(a) == _key(b)) == (a == b)


@given(KEY_NUMBERS)
def test_untyped_keys_read_back_as_integer_or_real(v: Any) -> None:
    (stored,) = decode_key(_key(v))
    back = from_key_value(stored, "ANY")
    assert back == v
    whole = not isinstance(v, float) or (v.is_integer() and -(2**63) <= v < 2**63)
    assert type(back) is (int if whole else float)


def test_typed_keys_are_unchanged() -> None:
    for v, kind in [(1, "INTEGER"), (1.0, "REAL"), (True, "BOOLEAN"), (D("1.5"), "NUMERIC")]:
        assert key_value(v, kind) is v
        assert from_key_value(v, kind) is v
    with pytest.raises(ValueError, match="64-bit"):
        key_value(2**63, "ANY")


# -- through SQL: regressions, with sqlite3 where it has the behaviour ------------------------


def both(sql_script: list[tuple[str, tuple[Any, ...]]]) -> tuple[list[Any], list[Any]]:
    """Run statements on sqlite3 and on Strata; the outcome of each (rows or error class)."""
    outcomes: list[list[Any]] = []
    for conn in (sqlite3.connect(":memory:"), dialect.connect(f"memory://{uuid.uuid4().hex}")):
        out: list[Any] = []
        cur = conn.cursor()
        for sql, params in sql_script:
            try:
                cur.execute(sql, params)
                out.append(cur.fetchall() if cur.description else None)
            except Exception as exc:
                out.append(type(exc).__name__)
        conn.close()
        outcomes.append(out)
    return outcomes[0], outcomes[1]


def test_untyped_columns_compare_numbers_by_value_through_an_index() -> None:
    script = [
        ("CREATE TABLE t (a INTEGER PRIMARY KEY, b)", ()),
        ("INSERT INTO t VALUES (1, 1), (2, 2), (3, 0), (4, 'x'), (5, 2.5), (6, -1.5)", ()),
        ("CREATE INDEX t_b ON t (b)", ()),
        ("SELECT a FROM t WHERE b > 0.5 ORDER BY a", ()),
        ("SELECT a FROM t WHERE b = 2.0", ()),
        ("SELECT a FROM t WHERE b BETWEEN -2 AND 2.5 ORDER BY a", ()),
        ("SELECT a FROM t WHERE b < 1 ORDER BY a", ()),
        ("SELECT a FROM t WHERE b IN (1.0, 2.5) ORDER BY a", ()),
        ("UPDATE t SET b = 1.0 WHERE a = 1", ()),
        ("SELECT a, b FROM t WHERE b = 1", ()),
        ("SELECT a, b FROM t WHERE b >= 1 AND b <= 1", ()),
        ("DELETE FROM t WHERE b = 1", ()),
        ("SELECT a FROM t WHERE b >= 0 ORDER BY a", ()),
    ]
    expected, got = both(script)
    assert got == expected


def test_untyped_unique_columns_and_keys_hold_a_number_once() -> None:
    script = [
        ("CREATE TABLE u (k PRIMARY KEY, v UNIQUE)", ()),
        ("INSERT INTO u VALUES (1, 1)", ()),
        ("INSERT INTO u VALUES (?, ?)", (1.0, 2)),
        ("INSERT INTO u VALUES (?, ?)", (2, 1.0)),
        ("INSERT INTO u VALUES (?, ?)", (True, 3)),
        ("INSERT INTO u VALUES (?, ?)", (2.5, "x")),
        ("INSERT INTO u VALUES (?, ?)", ("1", "1")),
        ("SELECT k, v FROM u ORDER BY k", ()),
        ("SELECT v FROM u WHERE k = 2.5", ()),
    ]
    expected, got = both(script)
    assert got == expected


def test_an_untyped_key_written_as_a_whole_real_reads_back_as_an_integer(
    mem: dialect.Connection,
) -> None:
    mem.execute("CREATE TABLE u (k PRIMARY KEY, v)")
    mem.execute("INSERT INTO u VALUES (?, ?)", (1.0, 1.0))
    assert mem.execute("SELECT k, v FROM u").fetchall() == [(1, 1.0)]
    row = mem.execute("SELECT k, v FROM u").fetchone()
    assert (type(row[0]), type(row[1])) == (int, float)  # SQLite: (float, float)


def test_failed_casts_are_data_errors_and_try_cast_is_null(mem: dialect.Connection) -> None:
    for sql in ["SELECT CAST('nope' AS DATE)", "SELECT CAST('abc' AS INTEGER)"]:
        with pytest.raises(dialect.DataError, match=r"nope|abc"):
            mem.execute(sql)
    assert mem.execute("SELECT TRY_CAST('nope' AS DATE), TRY_CAST('5' AS INTEGER)").fetchone() == (
        None,
        5,
    )


def test_div_is_integer_division(mem: dialect.Connection) -> None:
    got = mem.execute("SELECT 7.0 DIV 2, 7 DIV 2, -7 DIV 2, 7 DIV 0, 7.5 DIV 2.5").fetchone()
    assert got == (3, 3, -3, None, 3)
    assert all(type(v) is int for v in got if v is not None)


def test_blob_literals() -> None:
    expected, got = both([("SELECT x'3031' AS a, X'' AS b, x'3031' || 'a' AS c", ())])
    assert got == expected == [[(b"01", b"", "01a")]]


def test_malformed_blob_literal_is_a_programming_error(mem: dialect.Connection) -> None:
    with pytest.raises(dialect.ProgrammingError, match="x'303'"):
        mem.execute("SELECT x'303'")


def test_numeric_text_and_booleans_are_written_as_sqlite_converts_them() -> None:
    script = [
        ("CREATE TABLE p (a DOUBLE, b TEXT, c INTEGER, d BOOLEAN)", ()),
        ("INSERT INTO p VALUES (?, ?, ?, ?)", ("5.1", True, " 5 ", 1)),
        ("INSERT INTO p VALUES (?, ?, ?, ?)", (" 2 ", 2.5, "5.0", 0)),
        ("SELECT a, b, c, d FROM p ORDER BY a", ()),
    ]
    expected, got = both(script)
    assert got[:3] == expected[:3]
    assert got[3] == [(2.0, "2.5", 5, False), (5.1, "1", 5, True)]  # SQLite: d as 0/1
