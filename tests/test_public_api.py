"""The public surface is a design decision: adding or removing a name must change this test."""

from __future__ import annotations

import kvengine


def test_kvengine_exports() -> None:
    assert sorted(kvengine.__all__) == sorted(
        [
            "DB",
            "Checkpoint",
            "CheckpointUnavailable",
            "Closed",
            "Conflict",
            "Corruption",
            "Fenced",
            "InvalidArgument",
            "ObjectNotFound",
            "ObjectStore",
            "Options",
            "RetryPolicy",
            "SSTGone",
            "Snapshot",
            "Store",
            "StoreConfigError",
            "StoreError",
            "StorePermissionDenied",
            "StoreStats",
            "StoreUnavailable",
            "StrataError",
            "Transaction",
            "WriteBatch",
            "open_store",
        ]
    )
    for name in kvengine.__all__:
        assert getattr(kvengine, name) is not None


def test_errors_form_one_hierarchy() -> None:
    for name in kvengine.__all__:
        obj = getattr(kvengine, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, kvengine.StrataError)


def test_dialect_exports() -> None:
    import dialect

    assert sorted(dialect.__all__) == sorted(
        [
            "BINARY",
            "DATETIME",
            "NUMBER",
            "ROWID",
            "STRING",
            "Binary",
            "ConflictError",
            "Connection",
            "Cursor",
            "DataError",
            "DatabaseError",
            "Date",
            "DateFromTicks",
            "Error",
            "IntegrityError",
            "InterfaceError",
            "InternalError",
            "NotSupportedError",
            "OperationalError",
            "ProgrammingError",
            "Time",
            "TimeFromTicks",
            "Timestamp",
            "TimestampFromTicks",
            "Warning",
            "apilevel",
            "connect",
            "paramstyle",
            "threadsafety",
        ]
    )


def test_dialect_uses_only_the_engine_surface() -> None:
    """dialect imports kvengine's public names only (STYLE: layers import one way)."""
    import pathlib
    import re

    root = pathlib.Path(__file__).parents[1] / "dialect"
    for path in root.glob("*.py"):
        for line in path.read_text().splitlines():
            m = re.match(r"\s*(from|import) kvengine(\.\w+)*", line)
            if m:
                allowed = ("import kvengine",)
                if path.name == "cli.py":  # the `strata` command adds the engine's admin group
                    allowed += (
                        "from kvengine.cli import admin, engine_option, parse_engine_options, "
                        "parse_options, storage_option",
                    )
                if path.name in ("cli.py", "bench.py") and line.startswith("from kvengine.bench"):
                    continue  # `strata bench sql` shares the engine bench's runner and report
                assert line.strip() in allowed, f"{path.name}: {line.strip()}"
