"""Bad input gets the right PEP 249 error and changes nothing."""

from __future__ import annotations

import pytest

import dialect
from dialect import Connection


def test_module_globals() -> None:
    assert dialect.apilevel == "2.0"
    assert dialect.paramstyle == "qmark"
    assert dialect.threadsafety in (1, 2)
    for name in [
        "Warning",
        "Error",
        "InterfaceError",
        "DatabaseError",
        "DataError",
        "OperationalError",
        "IntegrityError",
        "InternalError",
        "ProgrammingError",
        "NotSupportedError",
    ]:
        assert issubclass(getattr(dialect, name), Exception)
    assert issubclass(dialect.IntegrityError, dialect.DatabaseError)
    assert issubclass(dialect.DatabaseError, dialect.Error)
    assert dialect.NUMBER == "INTEGER" and dialect.DATETIME == "TIMESTAMP"
    assert dialect.Binary("x") == b"x"


def test_bad_sql_is_a_programming_error(mem: Connection) -> None:
    with pytest.raises(dialect.ProgrammingError, match="syntax error"):
        mem.execute("SELEC 1 FROM")
    with pytest.raises(dialect.ProgrammingError, match="no such table"):
        mem.execute("SELECT * FROM nope")
    mem.execute("CREATE TABLE t (a INT)")
    with pytest.raises(dialect.ProgrammingError, match="no such column"):
        mem.execute("SELECT b FROM t")
    with pytest.raises(dialect.ProgrammingError, match="one statement"):
        mem.execute("SELECT 1; SELECT 2")


def test_unsupported_sql_is_named(mem: Connection) -> None:
    mem.execute("CREATE TABLE t (a INT)")
    with pytest.raises(dialect.NotSupportedError, match="RIGHT"):
        mem.execute("SELECT * FROM t RIGHT JOIN t AS u USING (a)")
    with pytest.raises(dialect.NotSupportedError, match="ORDER BY in recursive"):
        mem.execute(
            "WITH RECURSIVE x(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM x ORDER BY 1) "
            "SELECT * FROM x"
        )


def test_parameter_count(mem: Connection) -> None:
    mem.execute("CREATE TABLE t (a INT, b INT)")
    with pytest.raises(dialect.ProgrammingError, match="bindings"):
        mem.execute("INSERT INTO t VALUES (?, ?)", (1,))
    with pytest.raises(dialect.ProgrammingError, match="bindings"):
        mem.execute("INSERT INTO t VALUES (?, ?)", (1, 2, 3))
    with pytest.raises(dialect.ProgrammingError, match="missing"):
        mem.execute("INSERT INTO t VALUES (:a, :b)", {"a": 1})
    with pytest.raises(dialect.ProgrammingError, match="columns"):
        mem.execute("INSERT INTO t VALUES (1)")


def test_wrong_types_are_data_errors(mem: Connection) -> None:
    mem.execute("CREATE TABLE t (i INT, s VARCHAR(3), d DATE, b BLOB, f REAL)")
    for sql, params in [
        ("INSERT INTO t (i) VALUES (?)", ("x",)),
        ("INSERT INTO t (i) VALUES (?)", (1.5,)),
        ("INSERT INTO t (s) VALUES (?)", (b"bytes",)),
        ("INSERT INTO t (s) VALUES (?)", ("long",)),
        ("INSERT INTO t (d) VALUES (?)", ("not a date",)),
        ("INSERT INTO t (b) VALUES (?)", ("text",)),
        ("INSERT INTO t (f) VALUES (?)", ("1.0x",)),
        ("INSERT INTO t (i) VALUES (?)", (2**70,)),
    ]:
        with pytest.raises(dialect.DataError):
            mem.execute(sql, params)
    assert mem.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)


def test_constraints_are_integrity_errors(mem: Connection) -> None:
    mem.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
    mem.execute("INSERT INTO t VALUES (1, 'a')")
    with pytest.raises(dialect.IntegrityError, match=r"UNIQUE constraint failed: t\.id"):
        mem.execute("INSERT INTO t VALUES (1, 'b')")
    with pytest.raises(dialect.IntegrityError, match="UNIQUE"):
        mem.execute("INSERT INTO t VALUES (2, 'a')")
    with pytest.raises(dialect.IntegrityError, match="NOT NULL"):
        mem.execute("INSERT INTO t (id) VALUES (3)")
    assert mem.execute("SELECT * FROM t").fetchall() == [(1, "a")]


INJECTIONS = ["'; DROP TABLE t; --", "1 OR 1=1", "x' OR 'x'='x", "\x00", "Robert'); --"]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_parameters_are_never_spliced(mem: Connection, evil: str) -> None:
    mem.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)")
    mem.execute("INSERT INTO t (s) VALUES (?)", (evil,))
    assert mem.execute("SELECT s FROM t WHERE s = ?", (evil,)).fetchall() == [(evil,)]
    assert mem.execute("SELECT COUNT(*) FROM t WHERE s = ?", ("nothing",)).fetchone() == (0,)
    assert mem.execute("SELECT COUNT(*) FROM t").fetchone() == (1,)


@pytest.mark.parametrize("evil", INJECTIONS)
def test_injection_as_identifier_is_rejected(mem: Connection, evil: str) -> None:
    mem.execute("CREATE TABLE t (a INT)")
    with pytest.raises(dialect.DatabaseError):
        mem.execute(f"SELECT * FROM {evil}")
    assert mem.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)


def test_closed_objects(mem: Connection) -> None:
    cur = mem.cursor()
    cur.close()
    with pytest.raises(dialect.InterfaceError):
        cur.execute("SELECT 1")
    with pytest.raises(dialect.ProgrammingError):
        mem.cursor().fetchall()  # nothing executed
    mem.close()
    with pytest.raises(dialect.InterfaceError):
        mem.execute("SELECT 1")


def test_cursor_interface(mem: Connection) -> None:
    mem.execute("CREATE TABLE t (a INT)")
    mem.cursor().executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(5)])
    cur = mem.cursor()
    cur.arraysize = 2
    assert cur.execute("SELECT a FROM t").fetchone() == (0,)
    assert cur.fetchmany() == [(1,), (2,)]
    assert list(cur) == [(3,), (4,)]
    assert cur.fetchone() is None
    assert cur.execute("SELECT a FROM t WHERE a < 2").rowcount == -1
    assert cur.description == (("a", "INTEGER", None, None, None, None, None),)
    assert (
        mem.cursor().executemany("UPDATE t SET a = a + ? WHERE a = ?", [(10, 1), (10, 2)]).rowcount
        == 2
    )


# -- a bug is an InternalError, never a plausible DataError ------------------------------------


@pytest.mark.parametrize("error", [TypeError, ValueError, ZeroDivisionError, KeyError])
def test_an_internal_error_while_planning_is_an_internal_error(
    conn: Connection, monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    """Was: the driver turned every TypeError, ValueError and ArithmeticError raised while a
    statement ran into a DataError, so a bug in the planner looked like a bad value (and the
    fuzzers, which accept any PEP 249 error, could not see it). A value error is a DataError
    where the value is evaluated; anything else escaping is an InternalError (chained)."""
    from dialect.plan import select

    cur = conn.cursor()
    cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    cur.execute("INSERT INTO t VALUES (1, 'a')")
    conn.commit()

    def broken(*args: object, **kwargs: object) -> None:
        raise error("a bug")

    monkeypatch.setattr(select.Planner, "_select", broken)
    with pytest.raises(dialect.InternalError, match="a bug") as info:
        cur.execute("SELECT v FROM t WHERE id = ?", (1,))
    assert not isinstance(info.value, dialect.DataError)
    assert type(info.value.__cause__) is error
    monkeypatch.undo()
    assert conn.execute("SELECT v FROM t").fetchall() == [("a",)]  # still usable


def test_an_internal_error_while_reading_rows_is_an_internal_error(
    conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same while the rows of a query stream (an operator's bug)."""
    from dialect.exec import operators

    cur = conn.cursor()
    cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    cur.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    conn.commit()

    def broken(*args: object, **kwargs: object) -> None:
        raise TypeError("a bug")
        yield  # a generator, as the runners are

    monkeypatch.setitem(operators._RUNNERS, operators.n.Filter, broken)
    with pytest.raises(dialect.InternalError, match="TypeError: a bug") as info:
        cur.execute("SELECT v FROM t WHERE v > 'a'").fetchall()
    assert type(info.value.__cause__) is TypeError


@pytest.mark.parametrize(
    ("sql", "params", "names"),
    [
        ("SELECT substr('abc', ?)", (object(),), "not a number"),
        ("SELECT 1 + ?", ({"a": 1},), "not a number"),
        ("SELECT abs(?)", ([1],), "not a number"),
        ("SELECT CAST(? AS DATE)", ("nope",), "AS DATE"),
        ("SELECT zeroblob(?)", (1e300,), r"zeroblob\(\) on \(1e\+300\): OverflowError"),
    ],
)
def test_a_value_an_operation_cannot_take_is_a_data_error(
    conn: Connection, sql: str, params: tuple[object, ...], names: str
) -> None:
    """A value is a DataError where it is evaluated, naming what could not be evaluated."""
    with pytest.raises(dialect.DataError, match=names):
        conn.execute(sql, params).fetchall()
