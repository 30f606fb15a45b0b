"""What Strata supports, for SQLAlchemy's dialect suite. Only what Strata truly lacks is
closed; each closed requirement says why."""

from sqlalchemy.testing import exclusions
from sqlalchemy.testing.requirements import SuiteRequirements


class Requirements(SuiteRequirements):
    @property
    def schemas(self):  # type: ignore[no-untyped-def]
        """Named schemas (CREATE SCHEMA), with test_schema and test_schema_2 made by the
        provisioning hook in conftest.py."""
        return exclusions.open()

    @property
    def schema_create_delete(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def cross_schema_fk_reflection(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def views(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def sequences(self):  # type: ignore[no-untyped-def]
        """No sequences: INTEGER PRIMARY KEY counters instead."""
        return exclusions.closed()

    # RETURNING (returning, insert_returning, update_returning, delete_returning,
    # insert_executemany_returning): SuiteRequirements reads the dialect's flags, all true.

    @property
    def temp_table_reflection(self):  # type: ignore[no-untyped-def]
        """Temporary tables, private to their connection (dialect/temp.py)."""
        return exclusions.open()

    @property
    def temporary_tables(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def create_temp_table_as(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def temporary_views(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def has_temp_table(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def temp_table_names(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

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
        return exclusions.open()

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

    # Opened after checking each alone against the suite (0 failed).

    @property
    def datetime_literals(self):  # type: ignore[no-untyped-def]
        """DATE/TIME/TIMESTAMP literals render as strings Strata converts."""
        return exclusions.open()

    @property
    def dbapi_lastrowid(self):  # type: ignore[no-untyped-def]
        """cursor.lastrowid for INTEGER primary keys."""
        return exclusions.open()

    @property
    def fetch_no_order_by(self):  # type: ignore[no-untyped-def]
        """LIMIT/OFFSET without ORDER BY."""
        return exclusions.open()

    @property
    def fk_constraint_option_reflection_ondelete_noaction(self):  # type: ignore[no-untyped-def]
        """ON DELETE NO ACTION reflects."""
        return exclusions.open()

    @property
    def float_or_double_precision_behaves_generically(self):  # type: ignore[no-untyped-def]
        """FLOAT and DOUBLE PRECISION are both 64-bit floats."""
        return exclusions.open()

    @property
    def index_ddl_if_exists(self):  # type: ignore[no-untyped-def]
        """CREATE INDEX IF NOT EXISTS / DROP INDEX IF EXISTS."""
        return exclusions.open()

    @property
    def indexes_check_column_order(self):  # type: ignore[no-untyped-def]
        """get_indexes returns columns in index order."""
        return exclusions.open()

    @property
    def infinity_floats(self):  # type: ignore[no-untyped-def]
        """inf and -inf round-trip in float columns."""
        return exclusions.open()

    @property
    def legacy_unconditional_json_extract(self):  # type: ignore[no-untyped-def]
        """JSON_EXTRACT returns JSON text for every path, as on SQLite."""
        return exclusions.open()

    @property
    def nvarchar_types(self):  # type: ignore[no-untyped-def]
        """NVARCHAR is a string type."""
        return exclusions.open()

    @property
    def precision_numerics_retains_significant_digits(self):  # type: ignore[no-untyped-def]
        """DECIMAL keeps trailing zeros of its scale."""
        return exclusions.open()

    @property
    def repeated_column_foreign_keys(self):  # type: ignore[no-untyped-def]
        """a column may be in more than one foreign key."""
        return exclusions.open()

    @property
    def server_defaults(self):  # type: ignore[no-untyped-def]
        """server defaults reflect."""
        return exclusions.open()

    @property
    def table_ddl_if_exists(self):  # type: ignore[no-untyped-def]
        """CREATE TABLE IF NOT EXISTS / DROP TABLE IF EXISTS."""
        return exclusions.open()

    @property
    def tuple_in(self):  # type: ignore[no-untyped-def]
        """(a, b) IN ((…), (…))."""
        return exclusions.open()

    @property
    def uuid_data_type(self):  # type: ignore[no-untyped-def]
        """SQLAlchemy's Uuid type round-trips (stored as text, as on SQLite)."""
        return exclusions.open()

    @property
    def view_reflection(self):  # type: ignore[no-untyped-def]
        """get_view_definition returns the stored query (normalised by sqlglot); the suite
        checks only that one comes back."""
        return exclusions.open()

    @property
    def expression_server_defaults(self):  # type: ignore[no-untyped-def]
        """Server defaults that are expressions (3 + 5) are computed and reflect."""
        return exclusions.open()

    @property
    def repeated_remote_col_foreign_keys(self):  # type: ignore[no-untyped-def]
        """Several foreign keys may reference the same remote column."""
        return exclusions.open()

    @property
    def comment_reflection(self):  # type: ignore[no-untyped-def]
        """COMMENT ON TABLE / COLUMN kept in the catalog and reflected."""
        return exclusions.open()

    @property
    def comment_reflection_full_unicode(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def foreign_key_constraint_option_reflection_ondelete(self):  # type: ignore[no-untyped-def]
        """ON DELETE / ON UPDATE actions are kept and reflected (not enforced)."""
        return exclusions.open()

    @property
    def foreign_key_constraint_option_reflection_onupdate(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def fk_constraint_option_reflection_ondelete_restrict(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def fk_constraint_option_reflection_onupdate_restrict(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def reflects_pk_names(self):  # type: ignore[no-untyped-def]
        """CONSTRAINT name PRIMARY KEY keeps its name."""
        return exclusions.open()

    @property
    def check_constraint_reflection(self):  # type: ignore[no-untyped-def]
        """get_check_constraints returns the text as written (unnamed CHECKs named as
        PostgreSQL names them); ComponentReflectionTestExtra runs these tests in test_schema
        too, whatever `schemas` says, so this follows `schemas`."""
        return self.schemas

    @property
    def inline_check_constraint_reflection(self):  # type: ignore[no-untyped-def]
        return self.check_constraint_reflection

    @property
    def fetch_first(self):  # type: ignore[no-untyped-def]
        """[OFFSET m ROWS] FETCH FIRST n ROWS ONLY, planned as LIMIT/OFFSET."""
        return exclusions.open()

    @property
    def fetch_expression(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def fetch_ties(self):  # type: ignore[no-untyped-def]
        """FETCH … WITH TIES: a FetchFirst plan node over the ORDER BY keys."""
        return exclusions.open()

    @property
    def fetch_percent(self):  # type: ignore[no-untyped-def]
        """FETCH FIRST n PERCENT ROWS: of all the rows, rounded up (as Oracle)."""
        return exclusions.open()

    @property
    def fetch_offset_with_options(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def supports_bitwise_and(self):  # type: ignore[no-untyped-def]
        """& | ^ ~ << >> on 64-bit integers, as SQLite computes them (^ too, which SQLite
        lacks)."""
        return exclusions.open()

    @property
    def supports_bitwise_or(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def supports_bitwise_xor(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def supports_bitwise_not(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def supports_bitwise_shift(self):  # type: ignore[no-untyped-def]
        return exclusions.open()

    @property
    def regexp_match(self):  # type: ignore[no-untyped-def]
        """REGEXP (Python's re.search, as SQLAlchemy's SQLite dialect defines it)."""
        return exclusions.open()

    @property
    def regexp_replace(self):  # type: ignore[no-untyped-def]
        """REGEXP_REPLACE(x, pattern, replacement [, flags]): every match (re.sub)."""
        return exclusions.open()

    @property
    def create_or_replace_view(self):  # type: ignore[no-untyped-def]
        return exclusions.open()
