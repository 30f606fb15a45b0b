"""The SQLAlchemy dialect: what is true of Strata whatever the store (compilers, types,
capabilities, isolation levels and reflection from the catalog).

Reflection reads ``dialect.catalog`` through the DB-API connection; nothing here touches
engine keys.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import sql
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects.sqlite import base as sqlite_base
from sqlalchemy.dialects.sqlite import json as sqlite_json
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.engine import default, reflection
from sqlalchemy.engine.interfaces import (
    IsolationLevel,
    ReflectedCheckConstraint,
    ReflectedColumn,
    ReflectedForeignKeyConstraint,
    ReflectedIndex,
    ReflectedPrimaryKeyConstraint,
    ReflectedTableComment,
    ReflectedUniqueConstraint,
)
from sqlalchemy.sql import compiler
from sqlalchemy.sql.compiler import InsertmanyvaluesSentinelOpts

from dialect.catalog import MAIN, ROWID, Catalog, Table
from dialect.convert import canonical_type
from dialect.errors import NotSupportedError
from dialect.layout import TEMP_BASE

# declared type name -> SQLAlchemy type, for reflection; other names by their canonical type
_TYPES: dict[str, type[sqltypes.TypeEngine[Any]]] = {
    "INT": sqltypes.INTEGER,
    "INTEGER": sqltypes.INTEGER,
    "BIGINT": sqltypes.BIGINT,
    "SMALLINT": sqltypes.SMALLINT,
    "TINYINT": sqltypes.SMALLINT,
    "REAL": sqltypes.REAL,
    "FLOAT": sqltypes.FLOAT,
    "DOUBLE": sqltypes.DOUBLE,
    "DOUBLE PRECISION": sqltypes.DOUBLE_PRECISION,
    "NUMERIC": sqltypes.NUMERIC,
    "DECIMAL": sqltypes.DECIMAL,
    "TEXT": sqltypes.TEXT,
    "VARCHAR": sqltypes.VARCHAR,
    "NVARCHAR": sqltypes.NVARCHAR,
    "CHAR": sqltypes.CHAR,
    "NCHAR": sqltypes.NCHAR,
    "CLOB": sqltypes.CLOB,
    "BLOB": sqltypes.BLOB,
    "BINARY": sqltypes.BINARY,
    "VARBINARY": sqltypes.VARBINARY,
    "BOOLEAN": sqltypes.BOOLEAN,
    "BOOL": sqltypes.BOOLEAN,
    "DATE": sqltypes.DATE,
    "TIME": sqltypes.TIME,
    "TIMESTAMP": sqltypes.TIMESTAMP,
    "DATETIME": sqltypes.DATETIME,
    "JSON": sqltypes.JSON,
}
# canonical type (dialect.catalog.TYPE_ALIASES) -> SQLAlchemy type
_CANONICAL: dict[str, type[sqltypes.TypeEngine[Any]]] = {
    "INTEGER": sqltypes.INTEGER,
    "REAL": sqltypes.REAL,
    "NUMERIC": sqltypes.NUMERIC,
    "TEXT": sqltypes.TEXT,
    "BLOB": sqltypes.BLOB,
    "BOOLEAN": sqltypes.BOOLEAN,
    "DATE": sqltypes.DATE,
    "TIME": sqltypes.TIME,
    "TIMESTAMP": sqltypes.TIMESTAMP,
    "JSON": sqltypes.JSON,
}


def _reflected_type(declared: str) -> type[sqltypes.TypeEngine[Any]]:
    """The SQLAlchemy type of a declared (or description) type name; NullType for a column
    with no type."""
    base = declared.split("(")[0].strip().upper()
    found = _TYPES.get(base)
    if found is not None:
        return found
    try:
        return _CANONICAL.get(canonical_type(base), sqltypes.NullType)
    except NotSupportedError:
        return sqltypes.NullType


def _check_names(table: Table) -> list[str]:
    """The names of ``table``'s CHECK constraints, an unnamed one named as PostgreSQL names it:
    ``<table>_<first column>_check`` (``<table>_check`` if it names none), a number appended
    to repeats."""
    taken = {c.name.lower() for c in table.checks if c.name is not None}
    out = []
    for check in table.checks:
        if check.name is not None:
            out.append(check.name)
            continue
        columns = [c.name for i in check.column_ids[:1] if (c := table.column_by_id(i))]
        base = "_".join([table.name, *columns, "check"])
        name, n = base, 0
        while name.lower() in taken:
            n += 1
            name = f"{base}{n}"
        taken.add(name.lower())
        out.append(name)
    return out


#: a FETCH count or OFFSET that needs no parentheses: a number or a parameter marker
_SIMPLE_COUNT = re.compile(r"-?\d+|\?|:\w+|__\[POSTCOMPILE_\w+\]")


class StrataTypeCompiler(compiler.GenericTypeCompiler):
    """Type names as the driver's SQL understands them."""

    def visit_JSON(self, type_: sqltypes.JSON, **kw: Any) -> str:
        return "JSON"

    def visit_uuid(self, type_: sqltypes.Uuid[Any], **kw: Any) -> str:
        return "VARCHAR(36)" if not type_.native_uuid else "TEXT"

    def visit_big_integer(self, type_: sqltypes.BigInteger, **kw: Any) -> str:
        return "BIGINT"


class StrataCompiler(compiler.SQLCompiler):
    """SQLite-compatible statement rendering."""

    def limit_clause(self, select: Any, **kw: Any) -> str:  # Any: a Select
        text = ""
        if select._limit_clause is not None:
            text += "\n LIMIT " + self.process(select._limit_clause, **kw)
        if select._offset_clause is not None:
            if select._limit_clause is None:
                text += "\n LIMIT -1"
            text += " OFFSET " + self.process(select._offset_clause, **kw)
        return text

    def fetch_clause(
        self,
        select: Any,  # Any: a Select
        fetch_clause: Any = None,
        require_offset: bool = False,
        use_literal_execute_for_simple_int: bool = False,
        **kw: Any,
    ) -> str:
        """``OFFSET m ROWS FETCH FIRST n [PERCENT] ROWS {ONLY|WITH TIES}`` as SQLAlchemy writes
        it, with a count or offset that is an expression in parentheses (Strata, as PostgreSQL,
        reads a number, a parameter or a parenthesised expression there)."""
        if fetch_clause is None:
            fetch_clause = select._fetch_clause
            options = select._fetch_clause_options
        else:
            options = {"percent": False, "with_ties": False}

        def render(clause: Any) -> str:  # Any: a ClauseElement
            if use_literal_execute_for_simple_int and select._simple_int_clause(clause):
                clause = clause.render_literal_execute()
            text: str = self.process(clause, **kw)
            return text if _SIMPLE_COUNT.fullmatch(text) else f"({text})"

        text = ""
        if select._offset_clause is not None:
            text += f"\n OFFSET {render(select._offset_clause)} ROWS"
        elif require_offset:
            text += "\n OFFSET 0 ROWS"
        if fetch_clause is not None:
            text += "\n FETCH FIRST {}{} ROWS {}".format(
                render(fetch_clause),
                " PERCENT" if options["percent"] else "",
                "WITH TIES" if options["with_ties"] else "ONLY",
            )
        return text

    def returning_clause(
        self,
        stmt: Any,  # Any: an INSERT, UPDATE or DELETE construct
        returning_cols: Any,
        *,
        populate_result_map: bool,
        **kw: Any,
    ) -> str:
        kw["include_table"] = False  # RETURNING reads the one row written: names unqualified
        text: str = super().returning_clause(
            stmt, returning_cols, populate_result_map=populate_result_map, **kw
        )
        return text

    # INSERT … ON CONFLICT, rendered as SQLite renders it (dialect.sqla.insert builds it)
    _on_conflict_target = SQLiteCompiler._on_conflict_target
    visit_on_conflict_do_nothing = SQLiteCompiler.visit_on_conflict_do_nothing
    visit_on_conflict_do_update = SQLiteCompiler.visit_on_conflict_do_update

    def visit_true(self, expr: Any, **kw: Any) -> str:
        return "1"

    def visit_json_getitem_op_binary(
        self, binary: Any, operator: Any, _cast_applied: bool = False, **kw: Any
    ) -> str:  # Any: a BinaryExpression and its operator
        """``col["a"]`` as SQLite's dialect writes it: ``JSON_QUOTE(JSON_EXTRACT(col, '$."a"'))``
        for a JSON result, ``CAST(JSON_EXTRACT(...) AS type)`` for ``.as_string()`` etc."""
        if not _cast_applied and binary.type._type_affinity is not sqltypes.JSON:
            kw["_cast_applied"] = True
            return self.process(sql.cast(binary, binary.type), **kw)
        template = (
            "JSON_QUOTE(JSON_EXTRACT(%s, %s))"
            if binary.type._type_affinity is sqltypes.JSON
            else "JSON_EXTRACT(%s, %s)"
        )
        return template % (self.process(binary.left, **kw), self.process(binary.right, **kw))

    def visit_json_path_getitem_op_binary(
        self, binary: Any, operator: Any, _cast_applied: bool = False, **kw: Any
    ) -> str:  # Any: a BinaryExpression and its operator
        """``col[("a", 1)]``: as :meth:`visit_json_getitem_op_binary`, with a whole path."""
        return self.visit_json_getitem_op_binary(binary, operator, _cast_applied, **kw)

    def visit_false(self, expr: Any, **kw: Any) -> str:
        return "0"

    # regular expressions (Python's re syntax): REGEXP as SQLAlchemy's SQLite dialect writes
    # it, REGEXP_LIKE when there are flags, REGEXP_REPLACE as PostgreSQL's dialect writes it

    def _regexp_flags(self, binary: Any) -> str | None:  # Any: a BinaryExpression
        flags = binary.modifiers.get("flags")
        if flags is None:
            return None
        text: str = self.render_literal_value(flags, sqltypes.STRINGTYPE)
        return text

    def visit_regexp_match_op_binary(self, binary: Any, operator: Any, **kw: Any) -> str:
        flags = self._regexp_flags(binary)
        if flags is None:
            return self._generate_generic_binary(binary, " REGEXP ", **kw)
        left, right = self.process(binary.left, **kw), self.process(binary.right, **kw)
        return f"REGEXP_LIKE({left}, {right}, {flags})"

    def visit_not_regexp_match_op_binary(self, binary: Any, operator: Any, **kw: Any) -> str:
        return "NOT " + self.visit_regexp_match_op_binary(binary, operator, **kw)

    def visit_regexp_replace_op_binary(self, binary: Any, operator: Any, **kw: Any) -> str:
        flags = self._regexp_flags(binary)
        args = f"{self.process(binary.left, **kw)}, {self.process(binary.right, **kw)}"
        return f"REGEXP_REPLACE({args}{', ' + flags if flags else ''})"


class StrataDDLCompiler(compiler.DDLCompiler):
    """DDL rendering; foreign keys are emitted (and kept for reflection, not enforced)."""


class StrataIdentifierPreparer(compiler.IdentifierPreparer):
    pass


class StrataExecutionContext(default.DefaultExecutionContext):
    pass


class StrataDialect(default.DefaultDialect):
    """Strata through SQLAlchemy. Capability flags say what the driver really does."""

    name = "strata"
    driver = "strata"
    supports_statement_cache = True
    default_paramstyle = "qmark"
    statement_compiler = StrataCompiler
    ddl_compiler = StrataDDLCompiler
    type_compiler_cls = StrataTypeCompiler
    preparer = StrataIdentifierPreparer
    execution_ctx_cls = StrataExecutionContext
    # JSON as SQLite's dialect binds it: paths as '$."a"[1]' text, extracted numbers as numbers
    colspecs = {
        sqltypes.JSON: sqlite_base._SQliteJson,
        sqltypes.JSON.JSONIndexType: sqlite_json.JSONIndexType,
        sqltypes.JSON.JSONPathType: sqlite_json.JSONPathType,
    }

    supports_alter = False  # ALTER TABLE adds/renames columns only: no constraints
    supports_native_boolean = True
    supports_native_decimal = True
    supports_sane_rowcount = True
    supports_sane_multi_rowcount = True
    supports_multivalues_insert = True
    # executemany of an INSERT is sent as multi-row VALUES statements (one parse and one plan
    # per page size, one statement per page instead of one per row)
    use_insertmanyvalues = True
    use_insertmanyvalues_wo_returning = True
    supports_default_values = True
    supports_default_metavalue = False
    supports_empty_insert = False
    supports_sequences = False
    supports_native_enum = False
    # COMMENT ON TABLE / COLUMN statements after CREATE TABLE (inline_comments False)
    supports_comments = True
    supports_server_side_cursors = False
    # RETURNING on INSERT, UPDATE and DELETE; with use_insertmanyvalues this also makes
    # insert_executemany_returning true: the ORM gets new keys and server defaults from
    # multi-row INSERT … VALUES … RETURNING statements
    insert_returning = True
    update_returning = True
    delete_returning = True
    # A multi-row INSERT generates integer keys in the order of its VALUES rows (ids come from
    # a per-process counter that only grows), so SQLAlchemy may sort RETURNING rows by them.
    insertmanyvalues_implicit_sentinel = InsertmanyvaluesSentinelOpts.AUTOINCREMENT
    postfetch_lastrowid = True
    supports_is_distinct_from = False
    tuple_in_values = False
    max_identifier_length = 128
    default_schema_name = "main"

    # Transactions read a snapshot and fail on write-write conflicts: snapshot isolation, which
    # PostgreSQL also calls REPEATABLE READ.
    _isolation_levels: tuple[IsolationLevel, ...] = ("AUTOCOMMIT", "REPEATABLE READ")

    def __init__(
        self,
        json_serializer: Any = None,  # Any: callables, as create_engine() takes them
        json_deserializer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._json_serializer = json_serializer
        self._json_deserializer = json_deserializer

    # -- isolation -----------------------------------------------------------------------

    def get_isolation_level_values(self, dbapi_connection: Any) -> list[IsolationLevel]:
        return list(self._isolation_levels)

    def get_isolation_level(self, dbapi_connection: Any) -> IsolationLevel:
        return "AUTOCOMMIT" if dbapi_connection.autocommit else "REPEATABLE READ"

    def set_isolation_level(self, dbapi_connection: Any, level: IsolationLevel) -> None:
        dbapi_connection.autocommit = level == "AUTOCOMMIT"

    def get_default_isolation_level(self, dbapi_conn: Any) -> IsolationLevel:
        return "REPEATABLE READ"

    def _get_server_version_info(self, connection: Any) -> tuple[int, ...]:
        return (0, 1, 0)

    def _get_default_schema_name(self, connection: Any) -> str:
        return "main"

    # -- reflection ---------------------------------------------------------------------------

    @staticmethod
    def _catalog(connection: Any) -> Catalog:
        catalog: Catalog = connection.connection.dbapi_connection.catalog
        return catalog

    def _schema(self, connection: Any, schema: str | None) -> str | None:
        """The schema ``schema`` names (None: the default one), as created; None if there is
        no such schema."""
        return self._catalog(connection).schema(schema or MAIN)

    def _view_columns(
        self, connection: Any, view_name: str, schema: str = MAIN
    ) -> list[ReflectedColumn]:
        """Columns of a view, from the description of an empty query over it."""
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            quoted = self.identifier_preparer.quote_identifier(view_name)
            if schema != MAIN:
                quoted = f"{self.identifier_preparer.quote_schema(schema)}.{quoted}"
            cursor.execute(f"SELECT * FROM {quoted} LIMIT 0")
            description = cursor.description
        finally:
            cursor.close()
        out: list[ReflectedColumn] = []
        for name, code, *_ in description:
            type_cls: Any = _reflected_type(code or "")  # Any: a type class
            out.append({"name": name, "type": type_cls(), "nullable": True, "default": None})
        return out

    def _is_view(self, connection: Any, name: str, schema: str | None) -> bool:
        found = self._schema(connection, schema)
        return found is not None and self._catalog(connection).view(name, found) is not None

    def _table(self, connection: Any, table_name: str, schema: str | None) -> Table:
        from sqlalchemy import exc

        found = self._schema(connection, schema)
        table = None if found is None else self._catalog(connection).table(table_name, found)
        if table is None:
            raise exc.NoSuchTableError(f"{schema}.{table_name}" if schema else table_name)
        return table

    @reflection.cache
    def has_table(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> bool:
        catalog = self._catalog(connection)
        found = self._schema(connection, schema)
        return found is not None and (
            catalog.table(table_name, found) is not None
            or catalog.view(table_name, found) is not None
        )

    @reflection.cache
    def get_schema_names(self, connection: Any, **kw: Any) -> list[str]:
        return self._catalog(connection).schema_names()

    @reflection.cache
    def has_schema(self, connection: Any, schema_name: str, **kw: Any) -> bool:
        return self._schema(connection, schema_name) is not None

    @reflection.cache
    def get_table_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        found = self._schema(connection, schema)
        if found is None:
            return []
        tables = self._catalog(connection).in_schema(found)[0]
        return sorted(t.name for t in tables if t.id < TEMP_BASE)

    @reflection.cache
    def get_view_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        found = self._schema(connection, schema)
        if found is None:
            return []
        temp = self._temp_catalog(connection).views
        views = self._catalog(connection).in_schema(found)[1]
        return sorted(v.name for v in views if not any(v is t for t in temp))

    @staticmethod
    def _temp_catalog(connection: Any) -> Catalog:
        """The connection's temporary tables and views (dialect/temp.py)."""
        catalog: Catalog = connection.connection.dbapi_connection.temp.catalog
        return catalog

    @reflection.cache
    def get_temp_table_names(
        self, connection: Any, schema: str | None = None, **kw: Any
    ) -> list[str]:
        return sorted(t.name for t in self._temp_catalog(connection).tables)

    @reflection.cache
    def get_temp_view_names(
        self, connection: Any, schema: str | None = None, **kw: Any
    ) -> list[str]:
        return sorted(v.name for v in self._temp_catalog(connection).views)

    @reflection.cache
    def get_view_definition(
        self, connection: Any, view_name: str, schema: str | None = None, **kw: Any
    ) -> str:
        from sqlalchemy import exc

        found = self._schema(connection, schema)
        view = None if found is None else self._catalog(connection).view(view_name, found)
        if view is None:
            raise exc.NoSuchTableError(view_name)
        return view.sql

    @reflection.cache
    def get_columns(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[ReflectedColumn]:
        if self._is_view(connection, table_name, schema):
            return self._view_columns(
                connection, table_name, self._schema(connection, schema) or MAIN
            )
        table = self._table(connection, table_name, schema)
        out: list[ReflectedColumn] = []
        for col in table.visible_columns:
            type_cls: Any = _reflected_type(col.declared)  # Any: a type class
            if col.length is not None and type_cls in (
                sqltypes.VARCHAR,
                sqltypes.CHAR,
                sqltypes.NVARCHAR,
                sqltypes.NCHAR,
            ):
                type_: Any = type_cls(col.length)
            elif col.precision is not None and type_cls in (sqltypes.NUMERIC, sqltypes.DECIMAL):
                type_ = type_cls(col.precision, col.scale)
            else:
                type_ = type_cls()
            out.append(
                {  # type: ignore[typeddict-unknown-key]
                    "name": col.name,
                    "type": type_,
                    "nullable": not col.not_null and col.name not in table.pk,
                    "default": col.default_sql,
                    "autoincrement": table.autoincrement and table.pk == (col.name,),
                    "primary_key": table.pk.index(col.name) + 1 if col.name in table.pk else 0,
                    "comment": col.comment,
                }
            )
        return out

    @reflection.cache
    def get_pk_constraint(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> ReflectedPrimaryKeyConstraint:
        if self._is_view(connection, table_name, schema):
            return {"constrained_columns": [], "name": None}
        table = self._table(connection, table_name, schema)
        cols = [] if table.pk == (ROWID,) else list(table.pk)
        return {"constrained_columns": cols, "name": table.pk_name if cols else None}

    @reflection.cache
    def get_foreign_keys(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[ReflectedForeignKeyConstraint]:
        if self._is_view(connection, table_name, schema):
            return []
        table = self._table(connection, table_name, schema)
        return [
            {
                "name": fk.name,
                "constrained_columns": list(fk.columns),
                # as PostgreSQL reports it: None for a table of the default schema
                "referred_schema": None if fk.ref_schema == MAIN else fk.ref_schema,
                "referred_table": fk.ref_table,
                "referred_columns": list(fk.ref_columns),
                # NO ACTION is the default, reflected as no option (as PostgreSQL's dialect does)
                "options": {
                    k: v
                    for k, v in (("ondelete", fk.on_delete), ("onupdate", fk.on_update))
                    if v not in (None, "NO ACTION")
                },
            }
            for fk in sorted(table.foreign_keys, key=lambda f: (f.name is not None, f.name or ""))
        ]

    @reflection.cache
    def get_indexes(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[ReflectedIndex]:
        if self._is_view(connection, table_name, schema):
            return []
        table = self._table(connection, table_name, schema)
        return [
            {
                "name": ix.name,
                "column_names": list(ix.columns),
                "unique": ix.unique,
                "dialect_options": {},
            }
            for ix in sorted(table.indexes, key=lambda i: i.name)
            if not ix.implicit
        ]

    @reflection.cache
    def get_unique_constraints(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[ReflectedUniqueConstraint]:
        if self._is_view(connection, table_name, schema):
            return []
        table = self._table(connection, table_name, schema)
        return [
            {"name": ix.name, "column_names": list(ix.columns)}
            for ix in sorted(table.indexes, key=lambda i: i.name)
            if ix.implicit
        ]

    @reflection.cache
    def get_check_constraints(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[ReflectedCheckConstraint]:
        if self._is_view(connection, table_name, schema):
            return []
        table = self._table(connection, table_name, schema)
        names = _check_names(table)
        return sorted(
            (
                {"name": name, "sqltext": c.source or c.sql}
                for name, c in zip(names, table.checks, strict=True)
            ),
            key=lambda c: c["name"] or "",
        )

    @reflection.cache
    def get_table_comment(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> ReflectedTableComment:
        if self._is_view(connection, table_name, schema):
            return {"text": None}
        return {"text": self._table(connection, table_name, schema).comment}

    @reflection.cache
    def has_index(
        self,
        connection: Any,
        table_name: str,
        index_name: str,
        schema: str | None = None,
        **kw: Any,
    ) -> bool:
        found = self._schema(connection, schema)
        table = None if found is None else self._catalog(connection).table(table_name, found)
        if table is None:
            return False
        return any(ix.name.lower() == index_name.lower() for ix in table.indexes)
