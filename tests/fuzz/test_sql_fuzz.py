"""Random and mutated SQL strings and parameters: only PEP 249 errors or success, never
another exception or a hang, and the database unchanged after a failed statement."""

from __future__ import annotations

import random
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dialect
from tests.dialect.oracle import both, open_pair
from tests.fuzz.sqlgen import STATEMENTS, mutate, new_database, parameters, run_one


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(STATEMENTS), st.integers(0, 2**32)), max_size=6))
def test_mutated_statements(script: list[tuple[str, int]]) -> None:
    _url, conn, db = new_database()
    try:
        for sql, seed in script:
            rng = random.Random(seed)
            text = mutate(sql, rng) if rng.random() < 0.8 else sql
            run_one(conn, db, text, parameters(text, rng))
    finally:
        conn.close()
        db.close()


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=200), st.lists(st.none() | st.integers() | st.text() | st.binary()))
def test_arbitrary_text(sql: str, params: list[object]) -> None:
    _url, conn, db = new_database()
    try:
        run_one(conn, db, sql, tuple(params))
    finally:
        conn.close()
        db.close()


# -- regressions the fuzzer found ------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT " + "(" * 5000 + "1" + ")" * 5000,
        "SELECT " + "NOT " * 5000 + "1",
        "SELECT 1 FROM t WHERE " + " AND ".join(["id = 1"] * 5000),
    ],
    ids=["parentheses", "not-chain", "and-chain"],
)
def test_deep_nesting_is_a_programming_error(sql: str) -> None:
    """Was: RecursionError from sqlglot's parser (or the planner) escaped the driver."""
    _url, conn, db = new_database()
    try:
        assert not run_one(conn, db, sql, ())
    finally:
        conn.close()
        db.close()


@pytest.mark.parametrize("value", [object(), {"a": 1}, [1]])
def test_a_parameter_an_operation_cannot_take_is_a_data_error(value: object) -> None:
    """Was: substr(v, ?, 2) with an object() as the start escaped as a TypeError from
    evaluation (later: a DataError made of any TypeError by the driver, bugs included)."""
    _url, conn, db = new_database()
    try:
        with pytest.raises(dialect.DataError, match="is not a number"):
            conn.cursor().execute("SELECT substr(v, ?, 2) FROM t", (value,)).fetchall()
        assert not run_one(conn, db, "UPDATE t SET v = substr(v, ?, 2)", (value,))
    finally:
        conn.close()
        db.close()


def test_text_where_a_function_takes_an_integer_reads_as_sqlite_does() -> None:
    """Was: substr(v, 'a\x00b', 2) and round(x, '1x') raised ValueError from int() (a
    DataError); SQLite reads the text by its numeric prefix."""
    with open_pair() as pair:
        for sql in [
            "SELECT substr('one', 'ab', 2), substr('one', '2x'), substr('one', 1.9, 2)",
            "SELECT substr('one', NULL), substr('one', 1, NULL), substr(x'0102', 2)",
            "SELECT round(2.5, '1x'), round('abc'), round(1.23456, 100), round(1e300, 2)",
            "SELECT round('2.25', 1), round(-1.5), round(2.345, -1)",
        ]:
            both(pair, sql)


def test_a_statement_without_a_target_table_is_a_programming_error() -> None:
    """Was: `DELETE u WHERE 1` (sqlglot parses the target as False) raised AttributeError."""
    _url, conn, db = new_database()
    try:
        with pytest.raises(dialect.ProgrammingError, match="no table"):
            conn.cursor().execute("DELETE u WHERE 1")
    finally:
        conn.close()
        db.close()


# -- found once the driver stopped making a DataError of every TypeError and ValueError --------


def test_a_name_right_after_a_question_mark_is_an_alias() -> None:
    """Was: ``?abc`` became the parameter ``:__strata_q0abc`` and int() of ``0abc`` raised
    ValueError (reported as a DataError). SQLite reads ``?abc`` as ``? AS abc``."""
    with open_pair() as pair:
        both(pair, "SELECT ?abc", 7)
        with pytest.raises(dialect.ProgrammingError, match="syntax error"):
            pair[1].execute("SELECT coalesce(NULL, ?\ufeff)", (7,))


def test_select_without_result_columns_is_a_programming_error() -> None:
    """Was: ``SELECT FROM t`` planned a projection of nothing; itemgetter() raised
    TypeError (reported as a DataError)."""
    with open_pair("CREATE TABLE t (id INTEGER PRIMARY KEY)") as (oracle, ours):
        with pytest.raises(dialect.ProgrammingError, match="without result columns"):
            ours.execute("SELECT FROM t").fetchall()
        with pytest.raises(sqlite3.OperationalError, match="syntax error"):
            oracle.execute("SELECT FROM t")


def test_create_index_without_columns_is_a_programming_error() -> None:
    """Was: ``CREATE INDEX i ON t`` (no column list) raised TypeError iterating None
    (reported as a DataError)."""
    with open_pair("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)") as (_oracle, ours):
        with pytest.raises(dialect.ProgrammingError, match="needs its columns"):
            ours.execute("CREATE INDEX i ON t")
        assert ours.execute("SELECT count(*) FROM t").fetchall() == [(0,)]


def test_like_with_a_bytearray_or_memoryview_pattern() -> None:
    """Was: a ``bytearray`` LIKE pattern was a key of the pattern cache: TypeError
    (unhashable, reported as a DataError). Bound BLOBs are bytes now, as sqlite3 binds them."""
    with open_pair(
        "CREATE TABLE t (v TEXT, b BLOB)", "INSERT INTO t VALUES ('ab', x'00ff')"
    ) as pair:
        both(pair, "SELECT v LIKE ?, v LIKE ? FROM t", bytearray(b"a%"), memoryview(b"ab"))
        both(pair, "SELECT count(*) FROM t WHERE b = ?", bytearray(b"\x00\xff"))
        both(pair, "SELECT hex(?), length(?)", memoryview(b"\x01\x02"), bytearray(b"xyz"))


def test_an_integer_beyond_64_bits_in_a_column_with_no_type() -> None:
    """Was: looking one up through an index raised ValueError from the key encoding outside
    the guarded code (no key holds it: no row matches), and storing one raised ValueError
    from the row encoding (a DataError: the value cannot be stored)."""
    _url, conn, db = new_database()
    try:
        cur = conn.cursor()
        cur.execute("CREATE TABLE a (k PRIMARY KEY, v)")
        cur.execute("CREATE INDEX a_v ON a (v)")
        cur.execute("INSERT INTO a VALUES (1, 'x')")
        for big in (2**64, -(2**64) - 1, 2**70):
            assert cur.execute("SELECT k FROM a WHERE v = ?", (big,)).fetchall() == []
            assert cur.execute("SELECT k FROM a WHERE v = ? AND k = 1", (big,)).fetchall() == []
            assert cur.execute("SELECT k FROM a WHERE k = ?", (big,)).fetchall() == []
            assert not run_one(conn, db, "INSERT INTO a VALUES (2, ?)", (big,))
            assert not run_one(conn, db, "INSERT INTO a VALUES (?, 1)", (big,))
            assert not run_one(conn, db, "UPDATE a SET v = ?", (big,))
        with pytest.raises(dialect.DataError, match="table a"):
            cur.execute("INSERT INTO a VALUES (2, ?)", (2**64,))
    finally:
        conn.close()
        db.close()


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO t VALUES ()",
        "INSERT INTO t (id) VALUES ()",
        "INSERT INTO t VALUES (1, 'a'), ()",
        "SELECT * FROM (VALUES ())",
    ],
)
def test_an_empty_values_row_is_a_programming_error(sql: str) -> None:
    """Was (atheris, `INSERT INTO t VALUES ()`): a row of no parameters made range() with a
    step of 0 raise ValueError (reported as a DataError). SQLite: a syntax error."""
    with open_pair("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)") as (oracle, ours):
        with pytest.raises(sqlite3.OperationalError, match="syntax error"):
            oracle.execute(sql)
        with pytest.raises(dialect.ProgrammingError, match="syntax error"):
            ours.execute(sql).fetchall()


def test_values_found_by_probing_every_operation_with_odd_parameters() -> None:
    """Each raised TypeError/ValueError inside the engine (a DataError made of it by the
    driver, bugs included): a NaN ntile or lag offset (int(nan)), a LIMIT/OFFSET beyond
    sys.maxsize (islice), a list or dict grouped or DISTINCT (unhashable), a dict REGEXP
    pattern (the pattern cache), a parameter as group_concat's separator (read while planning,
    with no parameters: IndexError)."""
    setup = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", "INSERT INTO t VALUES (1, 'a')"
    with open_pair(*setup) as pair:
        both(pair, "SELECT id FROM t LIMIT 9223372036854775807 OFFSET 0")
        both(pair, "SELECT id FROM t LIMIT 9223372036854775807 OFFSET 1")
        ours = pair[1]
        assert ours.execute("SELECT id FROM t LIMIT ?", (2**70,)).fetchall() == [(1,)]
        assert ours.execute("SELECT id FROM t LIMIT 1 OFFSET ?", (2**70,)).fetchall() == []
        with pytest.raises(dialect.DataError, match="ntile"):
            ours.execute("SELECT ntile(?) OVER (ORDER BY id) FROM t", (float("nan"),)).fetchall()
        lag = "SELECT lag(v, ?) OVER (ORDER BY id) FROM t"
        assert ours.execute(lag, (float("nan"),)).fetchall() == [(None,)]
        for value in ([1], {"a": 1}):
            with pytest.raises(dialect.DataError, match="cannot be grouped"):
                ours.execute("SELECT count(DISTINCT ?) FROM t", (value,)).fetchall()
            with pytest.raises(dialect.DataError, match="cannot be grouped"):
                ours.execute("SELECT v FROM t GROUP BY ?", (value,)).fetchall()
        assert ours.execute("SELECT v REGEXP ? FROM t", ({"a": 1},)).fetchall() == [(False,)]
        with pytest.raises(dialect.NotSupportedError, match="group_concat separator"):
            ours.execute("SELECT group_concat(v, ?) FROM t", (";",)).fetchall()


@pytest.mark.parametrize("sql", ["SELECT 06e", "SELECT 1e+", "UPDATE t SET n = n>06e"])
def test_a_malformed_number_is_a_programming_error(sql: str) -> None:
    """Was (atheris, `UPDATE t SET n =  n = n>!n>06e`): sqlglot reads `06e` as a number and
    float() raised ValueError compiling it (reported as a DataError). SQLite refuses it too."""
    with open_pair("CREATE TABLE t (id INTEGER PRIMARY KEY, n REAL)") as (oracle, ours):
        with pytest.raises(sqlite3.OperationalError):
            oracle.execute(sql)
        with pytest.raises(dialect.ProgrammingError):
            ours.execute(sql)


def test_the_fuzzers_report_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """An InternalError is a bug: run_one (hypothesis, long mode) and the atheris ``sql``
    target fail on it although it is a ``dialect.Error``."""
    from dialect.plan import select
    from tests.fuzz.targets import check

    _url, conn, db = new_database()
    try:

        def broken(*args: object, **kwargs: object) -> None:
            raise TypeError("a planner bug")

        monkeypatch.setattr(select.Planner, "_select", broken)
        with pytest.raises(AssertionError, match=r"internal error.*a planner bug"):
            run_one(conn, db, "SELECT * FROM t", ())
        with pytest.raises(AssertionError, match=r"InternalError.*a planner bug"):
            check("sql", b"SELECT * FROM t")
    finally:
        conn.close()
        db.close()


def test_a_real_number_in_group_by_or_order_by_is_a_constant() -> None:
    """Was (atheris, `GROUP BY.0`): a numeric literal there was taken for a result column's
    number and int('0.0') raised ValueError (reported as a DataError). SQLite reads only an
    integer as a column number; any other number is a constant expression."""
    setup = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", "INSERT INTO t VALUES (1, 'a')"
    with open_pair(*setup) as pair:
        both(pair, "SELECT v, count(*) FROM t GROUP BY 1.0")
        both(pair, "SELECT v, count(*) FROM t GROUP BY .0 ORDER BY 1 DESC")
        both(pair, "SELECT v FROM t ORDER BY 1.5 DESC")
        both(pair, "SELECT v FROM t GROUP BY 1")
