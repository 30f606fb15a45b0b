"""What Strata supports, for SQLAlchemy's dialect suite. Only what Strata truly lacks is
closed; each closed requirement says why."""

from sqlalchemy.testing import exclusions
from sqlalchemy.testing.requirements import SuiteRequirements


class Requirements(SuiteRequirements):
    @property
    def schemas(self):  # type: ignore[no-untyped-def]
        """No schemas besides the default one."""
        return exclusions.closed()

    @property
    def views(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def view_reflection(self):  # type: ignore[no-untyped-def]
        """get_view_definition returns the stored query, normalised by sqlglot, not the
        text as written."""
        return exclusions.closed()

    @property
    def sequences(self):  # type: ignore[no-untyped-def]
        """No sequences: INTEGER PRIMARY KEY counters instead."""
        return exclusions.closed()

    # RETURNING (returning, insert_returning, update_returning, delete_returning,
    # insert_executemany_returning): SuiteRequirements reads the dialect's flags, all true.

    @property
    def temp_table_reflection(self):  # type: ignore[no-untyped-def]
        """No temporary tables."""
        return exclusions.closed()

    @property
    def temporary_tables(self):  # type: ignore[no-untyped-def]
        return exclusions.closed()

    @property
    def comment_reflection(self):  # type: ignore[no-untyped-def]
        """No table or column comments."""
        return exclusions.closed()

    @property
    def foreign_key_constraint_name_reflection(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def create_table_as(self):  # type: ignore[no-untyped-def]
        """CREATE TABLE ... AS SELECT, as SQLite makes the table."""
        return exclusions.open()

    @property
    def window_functions(self):  # type: ignore[no-untyped-def]
        """OVER (PARTITION BY … ORDER BY … frame), as SQLite defines it."""
        return exclusions.open()

    @property
    def window_range(self):  # type: ignore[no-untyped-def]
        """RANGE frames with integer offsets."""
        return exclusions.open()

    @property
    def window_range_numeric(self):  # type: ignore[no-untyped-def]
        """RANGE frames with non-integer offsets."""
        return exclusions.open()

    @property
    def ctes(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def ctes_with_update_delete(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def ctes_with_values(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def foreign_key_constraint_reflection(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def self_referential_foreign_keys(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def index_reflection(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def unique_constraint_reflection(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def datetime_timezone(self):  # type: ignore[no-untyped-def]
        """An aware TIMESTAMP keeps its UTC offset in rows; in keys it is its instant, so equal
        instants are one key (docs/sql-format.md#keys)."""
        return exclusions.open()

    @property
    def time_timezone(self):  # type: ignore[no-untyped-def]
        return exclusions.closed()

    @property
    def json_type(self):  # type: ignore[no-untyped-def]
        """JSON columns hold JSON text; index and path operators compile to JSON_EXTRACT
        (dialect/functions.py), as on SQLite."""
        return exclusions.open()

    @property
    def json_array_indexes(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def server_side_cursors(self):  # type: ignore[no-untyped-def]
        return exclusions.closed()

    @property
    def savepoints(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def isolation_level(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    def get_isolation_levels(self, config):  # type: ignore[no-untyped-def]
        return {"default": "REPEATABLE READ", "supported": ["AUTOCOMMIT", "REPEATABLE READ"]}
