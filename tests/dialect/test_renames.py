"""Stored SQL that follows renames."""

from __future__ import annotations

from dialect.renames import (
    column_references,
    view_with_column_renamed,
    view_with_table_renamed,
    with_column_names,
)


def test_check_column_names_by_position() -> None:
    sql = "a > 0 AND t.b < a AND 'a' <> c"
    refs = column_references(sql)
    assert sorted(refs) == ["a", "a", "b", "c"]
    names = [{"a": "x", "c": None}.get(n, n) for n in refs]
    assert with_column_names(sql, names) == "x > 0 AND b < x AND 'a' <> c"
    assert with_column_names("a > 0", ["a"]) == "a > 0"  # unchanged text is kept


def test_view_table_rename() -> None:
    assert (
        view_with_table_renamed("SELECT p.a FROM p JOIN c ON p.a = c.x", "P", "q")
        == "SELECT q.a FROM q JOIN c ON q.a = c.x"
    )
    assert view_with_table_renamed("SELECT x.a FROM p AS x", "p", "q") == "SELECT x.a FROM q AS x"
    cte = "WITH p AS (SELECT 1 AS a) SELECT a FROM p"
    assert view_with_table_renamed(cte, "p", "q") == cte
    assert view_with_table_renamed("SELECT 1 FROM other", "p", "q") == "SELECT 1 FROM other"


def test_view_column_rename() -> None:
    def no_other(name: str) -> bool:
        return False

    def other_has_it(name: str) -> bool:
        return True

    assert (
        view_with_column_renamed("SELECT a, b AS bb FROM p WHERE a > 1", "p", "a", "z", no_other)
        == "SELECT z, b AS bb FROM p WHERE z > 1"
    )
    joined = "SELECT x.a, c.a FROM p AS x JOIN c ON x.a = c.a"
    assert (
        view_with_column_renamed(joined, "p", "a", "z", other_has_it)
        == "SELECT x.z, c.a FROM p AS x JOIN c ON x.z = c.a"
    )
    # unqualified, and another source has a column of that name: left alone
    ambiguous = "SELECT a FROM p JOIN c ON 1 = 1"
    assert view_with_column_renamed(ambiguous, "p", "a", "z", other_has_it) == ambiguous
    assert view_with_column_renamed(ambiguous, "p", "a", "z", no_other) == (
        "SELECT z FROM p JOIN c ON 1 = 1"
    )
