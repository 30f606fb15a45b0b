"""pandas' own SQL tests (``pandas.tests.io.test_sql``, shipped in the pandas wheel) run on a
Strata SQLAlchemy engine beside sqlite's, and a check that Strata keeps up with sqlite.

Run from the repository root (the third step of ``.ci/test``)::

    python -m pytest -p tests.pandas_suite.plugin --pyargs pandas.tests.io.test_sql \
        --confcutdir=/ -m "not db" -p no:randomly --tb=line -rN

``--confcutdir=/`` lets pytest load pandas' ``conftest.py`` (fixtures ``temp_file``,
``datapath``; the ``single_cpu`` and ``db`` markers) from site-packages; ``-m "not db"`` drops
the MySQL and PostgreSQL cases; ``-p no:randomly`` keeps each sqlite test before its twin.

Every test parametrized over sqlite's SQLAlchemy connectables (``sqlite_engine``,
``sqlite_conn``, ``sqlite_str`` and their ``_iris``/``_types`` variants) also runs on the
``strata_*`` twin, a new in-memory database each. At the end, every Strata test whose sqlite
twin passed must pass too, except those listed in ``known_failures.txt`` and those in
``NOT_COMPARABLE``; a listed test that passes is an error as well, so the list only shrinks.
The session's exit status is that check's verdict: other failures (a Strata test whose sqlite
twin fails or skips too, a test of sqlite alone) are reported, not fatal.
"""

from __future__ import annotations

import fnmatch
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.pandas_suite.iris import write_iris_csv

SUITE_MODULE = "pandas.tests.io.test_sql"
KNOWN_FAILURES = Path(__file__).with_name("known_failures.txt")

# sqlite's SQLAlchemy connectables in test_sql.py and the Strata fixture added beside each.
TWINS = {
    "sqlite_engine": "strata_engine",
    "sqlite_conn": "strata_conn",
    "sqlite_str": "strata_str",
    "sqlite_engine_iris": "strata_engine_iris",
    "sqlite_conn_iris": "strata_conn_iris",
    "sqlite_str_iris": "strata_str_iris",
    "sqlite_engine_types": "strata_engine_types",
    "sqlite_conn_types": "strata_conn_types",
    "sqlite_str_types": "strata_str_types",
}


# --- the module patch ------------------------------------------------------------------------


def _patch_suite(module: Any) -> None:  # Any: the test module, patched by attribute
    """Adds the Strata twins to every connectable list of ``module`` (in place: the
    ``parametrize`` marks hold the list objects) and points the iris fixture at our CSV."""
    lists = [
        value
        for name, value in vars(module).items()
        if name.endswith(("_connectable", "_connectable_iris", "_connectable_types"))
        and isinstance(value, list)
    ]
    needed = ("flavor", "iris_path", "sql_strings")
    if not lists or not all(hasattr(module, name) for name in needed):
        raise pytest.UsageError(f"{SUITE_MODULE} changed shape: no connectable lists to extend")
    for values in lists:
        for twin in [TWINS[v] for v in values if isinstance(v, str) and v in TWINS]:
            if twin not in values:
                values.append(twin)

    # The test's SQL strings are keyed by flavor; Strata takes the sqlite ones (qmark and :name
    # parameters). Tests look them up by flavor(conn_name) or by the key's presence in conn_name.
    make_sql_strings: Callable[[], dict[str, dict[str, str]]] = module.sql_strings.__wrapped__

    @pytest.fixture
    def sql_strings() -> dict[str, dict[str, str]]:
        strings = make_sql_strings()
        for by_flavor in strings.values():
            by_flavor["strata"] = by_flavor["sqlite"]
        return strings

    sqlite_flavor: Callable[[str], str] = module.flavor

    def flavor(conn_name: str) -> str:
        return "strata" if conn_name.startswith("strata_") else sqlite_flavor(conn_name)

    module.sql_strings = sql_strings
    module.flavor = flavor

    # The wheel has no pandas/tests/io/data, where the module's own fixture reads iris.csv.
    @pytest.fixture
    def iris_path(strata_suite_iris_csv: Path) -> Path:
        return strata_suite_iris_csv

    module.iris_path = iris_path


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> Any:
    # Any: a pytest.Module or None, as pytest's own hook returns.
    collector = yield
    if isinstance(collector, pytest.Module) and module_path.name == "test_sql.py":
        module = collector.obj  # imports it (with assertion rewriting) before collection
        if module.__name__ == SUITE_MODULE:
            _patch_suite(module)
    return collector


# --- the Strata fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def strata_suite_iris_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_iris_csv(tmp_path_factory.mktemp("pandas_data") / "iris.csv")


@pytest.fixture
def strata_str() -> str:
    """A URL of a new, empty in-memory Strata database."""
    return f"strata+memory://pandas-{uuid.uuid4().hex}"


@pytest.fixture
def strata_engine(strata_str: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(strata_str, poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def strata_conn(strata_engine: sa.Engine) -> Iterator[sa.Connection]:
    with strata_engine.connect() as conn:
        yield conn


def _suite(request: pytest.FixtureRequest) -> Any:
    # Any: the pandas test module, whose loaders are untyped.
    return request.module


@pytest.fixture
def strata_engine_iris(
    request: pytest.FixtureRequest, strata_engine: sa.Engine, iris_path: Path
) -> sa.Engine:
    _suite(request).create_and_load_iris(strata_engine, iris_path)
    _suite(request).create_and_load_iris_view(strata_engine)
    return strata_engine


@pytest.fixture
def strata_conn_iris(strata_engine_iris: sa.Engine) -> Iterator[sa.Connection]:
    with strata_engine_iris.connect() as conn:
        yield conn


@pytest.fixture
def strata_str_iris(strata_str: str, strata_engine_iris: sa.Engine) -> str:
    return strata_str


# The types table is made as for the sqlite twin (TEXT dates, INTEGER booleans), so both run
# the same DDL and data and meet the same expectations.
TYPES_FLAVOR = "sqlite"


@pytest.fixture
def strata_engine_types(
    request: pytest.FixtureRequest, strata_engine: sa.Engine, types_data: list[dict[str, Any]]
) -> sa.Engine:
    _suite(request).create_and_load_types(strata_engine, types_data, TYPES_FLAVOR)
    return strata_engine


@pytest.fixture
def strata_conn_types(strata_engine_types: sa.Engine) -> Iterator[sa.Connection]:
    with strata_engine_types.connect() as conn:
        yield conn


@pytest.fixture
def strata_str_types(strata_str: str, strata_engine_types: sa.Engine) -> str:
    return strata_str


# --- the comparison ----------------------------------------------------------------------------


def twin_of(test_id: str) -> str | None:
    """The sqlite test id of a Strata test id (``test_x[strata_conn-a]`` ->
    ``test_x[sqlite_conn-a]``), or None for a test without a Strata parameter."""
    name, bracket, params = test_id.partition("[")
    if not bracket:
        return None
    parts = params[:-1].split("-")
    if not any(part in TWINS.values() for part in parts):
        return None
    sqlite = {strata: sqlite for sqlite, strata in TWINS.items()}
    return f"{name}[{'-'.join(sqlite.get(part, part) for part in parts)}]"


def read_known_failures(path: Path) -> dict[str, str]:
    """``test id -> reason`` from lines ``<test id> | <category>: <reason>``; lines starting
    with ``#`` and blank lines are ignored."""
    known: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            test_id, _, reason = line.partition(" | ")
            known[test_id.strip()] = reason.strip()
    return known


@dataclass
class Outcomes:
    """The outcome of each test of the suite (``passed``, ``failed``, ``skipped``,
    ``xfailed``) keyed by its id within the module, with the first line of each failure and
    the reason of each skip or xfail."""

    outcome: dict[str, str] = field(default_factory=dict)
    message: dict[str, str] = field(default_factory=dict)

    def record(self, report: pytest.TestReport) -> None:
        test_id = report.nodeid.rpartition("::")[2]
        if report.failed:
            if self.outcome.get(test_id) != "failed":
                crash = getattr(report.longrepr, "reprcrash", None)
                text = crash.message if crash is not None else str(report.longrepr)
                self.message[test_id] = (text.splitlines() or [""])[0][:300]
            self.outcome[test_id] = "failed"
        elif report.skipped:
            if hasattr(report, "wasxfail"):
                self.outcome.setdefault(test_id, "xfailed")
                self.message.setdefault(test_id, report.wasxfail)
            else:
                self.outcome.setdefault(test_id, "skipped")
                reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
                self.message.setdefault(test_id, reason.removeprefix("Skipped: "))
        elif report.when == "call":
            self.outcome.setdefault(test_id, "passed")

    def side(self, test_id: str) -> str:
        """``strata`` for a Strata test, ``sqlite`` for its twin, ``other`` for the rest."""
        if twin_of(test_id) is not None:
            return "strata"
        params = test_id.partition("[")[2][:-1].split("-")
        return "sqlite" if any(part in TWINS for part in params) else "other"

    def problems(self, known: dict[str, str]) -> list[str]:
        """Strata tests that do not pass while their sqlite twin passes (unless listed in
        ``known`` or skipped as not comparable), and listed ones that pass."""
        found = []
        for test_id, outcome in sorted(self.outcome.items()):
            twin = twin_of(test_id)
            if twin is None or self.outcome.get(twin) != "passed":
                continue
            exempt = self.message.get(test_id, "").startswith(_NOT_COMPARABLE_SKIP)
            if outcome != "passed" and test_id not in known and not exempt:
                reason = self.message.get(test_id, outcome)
                found.append(f"{test_id}: {outcome} where sqlite passes: {reason}")
            elif outcome == "passed" and test_id in known:
                found.append(f"{test_id}: passes now; remove it from {KNOWN_FAILURES.name}")
        return found


_outcomes = Outcomes()

# Tests that skip or xfail the ``sqlite_str*`` connectable by name, for being a URL string
# rather than an engine; their ``strata_str*`` twin is a URL string too.
_STR_CONNECTABLE_REASONS = ("sqlite_str", "str connection")

# Strata tests that cannot be compared with their sqlite twin, because the test keys its
# expectation on the connectable's name rather than on what the database returns. Patterns
# (fnmatch) over test ids; these Strata tests are skipped with the reason.
NOT_COMPARABLE = {
    "test_date_parsing[[]strata_*_types[]]": (
        "expects datetime64 from a TEXT date column unless 'sqlite' is in the connectable's "
        "name; Strata returns the TEXT column's strings, as sqlite does"
    ),
    "test_datetime_with_timezone_roundtrip[[]strata_*[]]": (
        "expects tz-aware UTC back from DateTime(timezone=True) only if 'postgresql' is in "
        "the connectable's name, naive otherwise; Strata returns tz-aware UTC, as PostgreSQL does"
    ),
    "test_to_sql_save_index[[]strata_str[]]": (
        "the test inspects the connectable unless it is sqlite_str or sqlite_buildin (it reads "
        "sqlite_master then); a URL string has no inspection system"
    ),
}

_NOT_COMPARABLE_SKIP = "not comparable with sqlite"


def pytest_runtest_setup(item: pytest.Item) -> None:
    test_id = item.nodeid.rpartition("::")[2]
    twin = twin_of(test_id)
    if twin is None:
        return
    for pattern, reason in NOT_COMPARABLE.items():
        if fnmatch.fnmatchcase(test_id, pattern):
            pytest.skip(f"{_NOT_COMPARABLE_SKIP}: {reason}")
    outcome, reason = _outcomes.outcome.get(twin), _outcomes.message.get(twin, "")
    mirrored = any(s in reason for s in _STR_CONNECTABLE_REASONS)
    if "strata_str" in test_id and outcome in ("skipped", "xfailed") and mirrored:
        pytest.skip(f"as its sqlite twin ({reason})")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _outcomes.record(report)


_problems_key = pytest.StashKey[list[str]]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.config.option.collectonly or exitstatus not in (
        pytest.ExitCode.OK,
        pytest.ExitCode.TESTS_FAILED,
    ):
        return  # collection errors, interruptions: pytest's own status stands
    problems = _outcomes.problems(read_known_failures(KNOWN_FAILURES))
    session.config.stash[_problems_key] = problems
    session.exitstatus = pytest.ExitCode.TESTS_FAILED if problems else pytest.ExitCode.OK


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    # Any: _pytest.terminal.TerminalReporter is not public API.
    problems = config.stash.get(_problems_key, None)
    if problems is None:
        return
    counts: dict[tuple[str, str], int] = {}
    for test_id, outcome in _outcomes.outcome.items():
        key = (_outcomes.side(test_id), outcome)
        counts[key] = counts.get(key, 0) + 1
    terminalreporter.section("Strata beside sqlite (pandas.tests.io.test_sql)")
    for side in ("sqlite", "strata", "other"):
        line = ", ".join(f"{n} {o}" for (s, o), n in sorted(counts.items()) if s == side)
        terminalreporter.write_line(f"{side:7} {line}")
    if problems:
        terminalreporter.write_line(f"{len(problems)} problem(s):", red=True)
        for line in problems:
            terminalreporter.write_line(f"  {line}", red=True)
    else:
        terminalreporter.write_line(
            "every Strata test whose sqlite twin passes passes, or is a listed known failure",
            green=True,
        )
