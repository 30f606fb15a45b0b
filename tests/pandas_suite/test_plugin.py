"""The pandas-suite comparison: twins, the known-failures file, and what counts as a problem."""

from __future__ import annotations

from pathlib import Path

from tests.pandas_suite.plugin import KNOWN_FAILURES, Outcomes, read_known_failures, twin_of


def test_twin_of() -> None:
    assert twin_of("test_x[strata_conn]") == "test_x[sqlite_conn]"
    assert (
        twin_of("test_x[read_sql-mode0-strata_str_types]")
        == "test_x[read_sql-mode0-sqlite_str_types]"
    )
    assert twin_of("test_x[sqlite_conn]") is None
    assert twin_of("test_x[strata_conn_extra]") is None
    assert twin_of("test_x") is None


def test_read_known_failures(tmp_path: Path) -> None:
    path = tmp_path / "known.txt"
    path.write_text("# comment | not an entry\n\ntest_a[strata_conn] | cat: why\n  \n")
    assert read_known_failures(path) == {"test_a[strata_conn]": "cat: why"}


def test_known_failures_name_strata_tests() -> None:
    for test_id, reason in read_known_failures(KNOWN_FAILURES).items():
        assert twin_of(test_id) is not None, test_id
        assert reason, test_id


def test_problems() -> None:
    outcomes = Outcomes()
    outcomes.outcome = {
        "t1[sqlite_conn]": "passed",
        "t1[strata_conn]": "failed",  # a regression
        "t2[sqlite_conn]": "passed",
        "t2[strata_conn]": "failed",  # known
        "t3[sqlite_conn]": "passed",
        "t3[strata_conn]": "passed",  # known, but passes now
        "t4[sqlite_conn]": "xfailed",
        "t4[strata_conn]": "failed",  # sqlite does not pass either
        "t5[sqlite_conn]": "passed",
        "t5[strata_conn]": "skipped",  # skipped where sqlite passes
    }
    outcomes.message = {"t1[strata_conn]": "boom", "t5[strata_conn]": "no reason"}
    problems = outcomes.problems({"t2[strata_conn]": "c", "t3[strata_conn]": "c"})
    assert [p.split(":")[0] for p in problems] == [
        "t1[strata_conn]",
        "t3[strata_conn]",
        "t5[strata_conn]",
    ]
    assert "boom" in problems[0] and "passes now" in problems[1]
