"""Loads SQLAlchemy's test plugin for the third-party dialect suite (run on its own: see
README.md in this folder; the plugin reads test.cfg from the working directory)."""

import pytest
from sqlalchemy.dialects import registry

registry.register("strata", "dialect.sqla.driver", "StrataDialect_strata")
registry.register("strata.memory", "dialect.sqla.driver", "StrataDialect_strata")

pytest.register_assert_rewrite("sqlalchemy.testing.assertions")

from sqlalchemy.testing.plugin.pytestplugin import *  # noqa: E402, F403
from sqlalchemy.testing.provision import (  # noqa: E402
    post_configure_engine,
    temp_table_keyword_args,
)


@temp_table_keyword_args.for_db("strata")
def _strata_temp_table_keyword_args(cfg, eng):  # type: ignore[no-untyped-def]
    return {"prefixes": ["TEMPORARY"]}


@post_configure_engine.for_db("strata")
def _create_test_schemas(url, engine, follower_ident):  # type: ignore[no-untyped-def]
    """The schemas the suite's cross-schema tests use (config.test_schema, test_schema_2)."""
    from sqlalchemy import text

    with engine.begin() as conn:
        for name in ("test_schema", "test_schema_2"):
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {name}"))


# Tests that fail for a known reason, marked xfail with that reason (strict: one that starts
# passing fails the run, so its entry is removed).
KNOWN_FAILURES = {
    "test_dialect_user_setting_is_restored": (
        "Strata has one transaction isolation level (snapshot, reported as REPEATABLE READ) "
        "besides AUTOCOMMIT; the test needs two"
    ),
    "test_truediv_numeric": "numeric literals in expressions are computed as floats, not Decimal",
    "test_floordiv_numeric": "numeric literals in expressions are computed as floats, not Decimal",
}


_sqla_collection_modifyitems = pytest_collection_modifyitems  # noqa: F405 - the plugin's


def pytest_collection_modifyitems(session, config, items):  # type: ignore[no-untyped-def]
    _sqla_collection_modifyitems(session, config, items)
    for item in items:
        for name, reason in KNOWN_FAILURES.items():
            if name in item.name:
                item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
