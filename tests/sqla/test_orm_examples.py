"""SQLAlchemy's own ORM examples (the ``examples/`` directory of its source distribution) on Strata.

Each example runs twice in a subprocess (tests/sqla/orm_example_runner.py): as written, on
sqlite, and with every ``sqlite://`` engine swapped for a Strata one on a fresh local directory
(the sharding examples make several engines: each gets its own directory). ``echo`` is off in
both. The example must exit as it does on sqlite and print the same stdout, where memory
addresses (``0x7f…`` in default object reprs) and the performance suites' timings are the only
things normalised.

The examples are not in the wheel: the sdist of the installed SQLAlchemy version is fetched from
PyPI (its simple index, hash-checked) into .ci/.work/ once and reused.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".ci" / ".work" / "sqlalchemy-examples"
ADDRESS = re.compile(r"0x[0-9a-f]+")
TIMING = re.compile(r"total time [0-9.e-]+ sec")


@dataclass(frozen=True)
class Example:
    """One runnable entry point; ``target`` is a script under examples/ or ``-m module``."""

    target: tuple[str, ...]
    xfail: str = ""
    # unittest modules: test → outcome on Strata where it legitimately differs from sqlite.
    differs: dict[str, str] = field(default_factory=dict)
    # unittest modules: stdout lines sqlite prints (and Strata not) for those tests.
    missing_lines: tuple[str, ...] = ()


_STALE = "b\"UPDATE statement on table 'sometable' expected to update 1 row(s); 0 were matched.\""

EXAMPLES = {
    "adjacency_list": Example(("adjacency_list/adjacency_list.py",)),
    "association.basic": Example(("association/basic_association.py",)),
    "association.proxied": Example(("association/proxied_association.py",)),
    "association.dict_of_sets": Example(("association/dict_of_sets_with_default.py",)),
    "generic_associations.discriminator": Example(
        ("generic_associations/discriminator_on_association.py",)
    ),
    "generic_associations.generic_fk": Example(("generic_associations/generic_fk.py",)),
    "generic_associations.table_per_association": Example(
        ("generic_associations/table_per_association.py",)
    ),
    "generic_associations.table_per_related": Example(
        ("generic_associations/table_per_related.py",)
    ),
    "inheritance.joined": Example(("inheritance/joined.py",)),
    "inheritance.single": Example(("inheritance/single.py",)),
    "inheritance.concrete": Example(("inheritance/concrete.py",)),
    "graphs": Example(("graphs/directed_graph.py",)),
    "nested_sets": Example(("nested_sets/nested_sets.py",)),
    "versioned_rows.versioned_rows": Example(("versioned_rows/versioned_rows.py",)),
    "versioned_rows.w_versionid": Example(("versioned_rows/versioned_rows_w_versionid.py",)),
    "versioned_rows.versioned_map": Example(("versioned_rows/versioned_map.py",)),
    "versioned_rows.update_old_row": Example(("versioned_rows/versioned_update_old_row.py",)),
    # sqlite's SingletonThreadPool gives the example's second Session the same connection as the
    # first, so its UPDATE sees the first's commit and matches 0 rows (StaleDataError at flush).
    # On Strata each Session has its own transaction under snapshot isolation (docs/sql.md
    # "Conflicts"): the UPDATE matches its snapshot's row and the conflict surfaces at commit as
    # OperationalError(ConflictError), so "flush raises StaleDataError" fails. test_index_naming
    # needs pytest's ``testing.combinations`` and errors under plain unittest on both.
    "versioned_history": Example(
        ("-m", "examples.versioned_history.test_versioning"),
        differs={
            "test_w_mapper_versioning (__main__.TestVersioningUnittest."
            "test_w_mapper_versioning)": "FAIL",
            "test_w_mapper_versioning (__main__.TestVersioningNewBaseUnittest."
            "test_w_mapper_versioning)": "FAIL",
        },
        missing_lines=(_STALE, _STALE),
    ),
    "sharding.separate_databases": Example(("sharding/separate_databases.py",)),
    "sharding.separate_tables": Example(("sharding/separate_tables.py",)),
    # its four schemas are made by sqlite's ATTACH DATABASE: CREATE SCHEMA on Strata (runner)
    "sharding.separate_schema_translates": Example(("sharding/separate_schema_translates.py",)),
    "custom_attributes.custom_management": Example(("custom_attributes/custom_management.py",)),
    "custom_attributes.active_column_defaults": Example(
        ("custom_attributes/active_column_defaults.py",)
    ),
    "extending_query.filter_public": Example(("extending_query/filter_public.py",)),
    "extending_query.temporal_range": Example(("extending_query/temporal_range.py",)),
    "vertical.dictlike": Example(("vertical/dictlike.py",)),
    "vertical.dictlike_polymorphic": Example(("-m", "examples.vertical.dictlike-polymorphic")),
    # The performance suites (Core, ORM and raw DBAPI inserts, updates and reads) on a sqlite
    # file URL, which becomes one Strata directory; few iterations, timings normalised.
    **{
        f"performance.{suite}": Example(("-m", "examples.performance", suite, "--num", "50"))
        for suite in (
            "bulk_inserts",
            "bulk_updates",
            "large_resultsets",
            "short_selects",
            "single_inserts",
        )
    },
}


def _download_sdist(version: str, target: Path) -> None:
    """Fetches sqlalchemy-<version>.tar.gz through PyPI's simple index (PEP 691 JSON)."""
    index = os.environ.get("STRATA_PYPI_SIMPLE", "https://pypi.org/simple").rstrip("/")
    request = urllib.request.Request(
        f"{index}/sqlalchemy/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    name = f"sqlalchemy-{version}.tar.gz"
    (entry,) = [f for f in files if f["filename"] == name]
    with urllib.request.urlopen(entry["url"], timeout=300) as response:
        data = response.read()
    assert hashlib.sha256(data).hexdigest() == entry["hashes"]["sha256"], name
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)


@pytest.fixture(scope="module")
def examples_root() -> Path:
    """A directory holding SQLAlchemy's ``examples`` package for the installed version."""
    version = sqlalchemy.__version__
    root = CACHE / f"sqlalchemy-{version}"
    if not (root / "examples" / "__init__.py").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        sdist = CACHE / f"sqlalchemy-{version}.tar.gz"
        if not sdist.exists():
            _download_sdist(version, sdist)
        prefix = f"sqlalchemy-{version}/examples/"
        with tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
            tar.extractall(CACHE, members=members, filter="data")
    return root


def _run(
    backend: str, root: Path, example: Example, work: Path
) -> subprocess.CompletedProcess[str]:
    """Runs the example in ``work`` (files it writes land there); Strata databases under it."""
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(root)])}
    command = [sys.executable, "-m", "tests.sqla.orm_example_runner", backend, str(work / "db")]
    return subprocess.run(
        [*command, str(root), *example.target],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _unittest_outcomes(stderr: str) -> tuple[dict[str, str], str]:
    """The tests that failed or errored, and the ``Ran N tests`` count, from unittest's report."""
    outcomes = dict(
        (m.group(2), m.group(1)) for m in re.finditer(r"^(ERROR|FAIL): (.+)$", stderr, re.M)
    )
    ran = re.search(r"^Ran (\d+) tests?", stderr, re.M)
    assert ran, stderr
    return outcomes, ran.group(1)


def _stdout(result: subprocess.CompletedProcess[str]) -> list[str]:
    return TIMING.sub("total time … sec", ADDRESS.sub("0x…", result.stdout)).splitlines()


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=example.xfail))
        if example.xfail
        else name
        for name, example in EXAMPLES.items()
    ],
)
def test_orm_example(name: str, examples_root: Path, tmp_path: Path) -> None:
    example = EXAMPLES[name]
    sqlite = _run("sqlite", examples_root, example, tmp_path / "sqlite")
    strata = _run("strata", examples_root, example, tmp_path / "strata")
    if example.target[0] == "-m" and "test_" in example.target[1]:
        sqlite_outcomes, sqlite_ran = _unittest_outcomes(sqlite.stderr)
        strata_outcomes, strata_ran = _unittest_outcomes(strata.stderr)
        assert (strata_outcomes, strata_ran) == ({**sqlite_outcomes, **example.differs}, sqlite_ran)
        missing = collections.Counter(_stdout(sqlite)) - collections.Counter(_stdout(strata))
        assert missing == collections.Counter(example.missing_lines)
        assert sorted(_stdout(strata)) == sorted(
            (collections.Counter(_stdout(sqlite)) - missing).elements()
        )
        return
    assert sqlite.returncode == 0, sqlite.stderr
    assert strata.returncode == 0, strata.stderr
    assert _stdout(strata) == _stdout(sqlite)
