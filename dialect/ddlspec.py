"""What a CREATE TABLE, CREATE INDEX or ALTER TABLE statement asks for, read from its syntax
tree into plain values; dialect/ddl.py checks a spec against the catalog and applies it.

Reading refuses only what cannot be expressed (an unknown type, an unsupported constraint or
action); whether the names fit the schema is decided when the spec is applied.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
import sqlglot.errors
from sqlglot import exp

from dialect.catalog import TYPE_ALIASES
from dialect.errors import NotSupportedError, ProgrammingError
from dialect.parse import stored_text
from dialect.renames import check_source


@dataclass(frozen=True)
class CheckSpec:
    """CHECK (``sql``), the expression as SQLite text."""

    sql: str
    name: str | None = None
    source: str | None = None  # the expression as written


@dataclass(frozen=True)
class KeySpec:
    """PRIMARY KEY or UNIQUE over ``columns`` (names as written)."""

    columns: tuple[str, ...]
    name: str | None = None


@dataclass(frozen=True)
class ForeignKeySpec:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    name: str | None = None
    ref_schema: str | None = None  # as written; None: unqualified
    on_delete: str | None = None
    on_update: str | None = None


@dataclass(frozen=True)
class ColumnSpec:
    """A column definition with its column-level constraints."""

    name: str
    type: str  # canonical (catalog.TYPE_ALIASES), or ANY when none was declared
    declared: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    not_null: bool = False
    default_sql: str | None = None
    primary_key: bool = False
    unique: bool = False
    references: ForeignKeySpec | None = None
    checks: tuple[CheckSpec, ...] = ()
    comment: str | None = None
    primary_key_name: str | None = None  # CONSTRAINT name PRIMARY KEY on the column


@dataclass(frozen=True)
class TableSpec:
    """CREATE TABLE: columns, then table-level constraints in the order written."""

    name: str
    if_not_exists: bool
    columns: tuple[ColumnSpec, ...]
    primary_key: KeySpec | None = None
    uniques: tuple[KeySpec, ...] = ()
    foreign_keys: tuple[ForeignKeySpec, ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    comment: str | None = None


@dataclass(frozen=True)
class TableAsSpec:
    """CREATE TABLE … AS SELECT: the table takes its columns from the query's result."""

    name: str
    if_not_exists: bool
    query: exp.Expression


@dataclass(frozen=True)
class IndexSpec:
    """CREATE [UNIQUE] INDEX."""

    name: str
    table: str
    columns: tuple[str, ...]
    unique: bool
    if_not_exists: bool


@dataclass(frozen=True)
class AddColumn:
    column: ColumnSpec


@dataclass(frozen=True)
class RenameTable:
    new_name: str


@dataclass(frozen=True)
class RenameColumn:
    old: str
    new: str


@dataclass(frozen=True)
class DropColumn:
    name: str


AlterAction = AddColumn | RenameTable | RenameColumn | DropColumn


@dataclass(frozen=True)
class AlterSpec:
    """ALTER TABLE: actions applied in order."""

    table: str
    actions: tuple[AlterAction, ...]


def _names(node: exp.Expression) -> tuple[str, ...]:
    return tuple(e.name for e in node.expressions)


_ACTIONS = ("CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT", "NO ACTION")


def _actions(options: list[object]) -> tuple[str | None, str | None]:
    """The ON DELETE and ON UPDATE actions among a REFERENCES clause's options (sqlglot keeps
    them as text such as ``ON DELETE CASCADE``); other options (DEFERRABLE …) are ignored."""
    found: dict[str, str] = {}
    for option in options:
        words = " ".join(str(option).upper().split())
        for event in ("DELETE", "UPDATE"):
            prefix = f"ON {event} "
            if words.startswith(prefix):
                action = words[len(prefix) :]
                if action not in _ACTIONS:
                    raise NotSupportedError(f"unsupported foreign key action: {words}")
                found[event] = action
    return found.get("DELETE"), found.get("UPDATE")


def _reference(node: exp.Reference, columns: tuple[str, ...], name: str | None) -> ForeignKeySpec:
    target = node.this
    on_delete, on_update = _actions(list(node.args.get("options") or []))
    if isinstance(target, exp.Schema):
        ref_table, ref_columns, ref_schema = target.this.name, _names(target), target.this.db
    else:
        ref_table, ref_columns, ref_schema = target.name, (), target.db
    return ForeignKeySpec(
        columns, ref_table, ref_columns, name, ref_schema or None, on_delete, on_update
    )


def _check_spec(
    node: exp.CheckColumnConstraint, name: str | None, statement: str | None
) -> CheckSpec:
    return CheckSpec(stored_text(node.this), name, check_source(node.this, statement))


def column_spec(node: exp.ColumnDef, statement: str | None = None) -> ColumnSpec:
    """The column a column definition declares. ``NotSupportedError`` for a type or a
    constraint Strata does not have."""
    name = node.name
    kind = node.args.get("kind")
    length = precision = scale = None
    if kind is None:
        canonical, declared = "ANY", "ANY"
    else:
        type_name = kind.this.value if hasattr(kind.this, "value") else str(kind.this)
        declared = kind.sql()
        canonical = TYPE_ALIASES.get(type_name.upper(), "")
        if not canonical:
            raise NotSupportedError(f"unsupported column type {declared} for column {name}")
        params = [
            int(p.this.this)
            for p in kind.expressions
            if isinstance(p, exp.DataTypeParam)
            and isinstance(p.this, exp.Literal)
            and not p.this.is_string
        ]
        if canonical == "TEXT" and params:
            length = params[0]
        if canonical == "NUMERIC" and params:
            precision, scale = params[0], params[1] if len(params) > 1 else 0
    not_null = primary_key = unique = False
    default_sql: str | None = None
    references: ForeignKeySpec | None = None
    checks: list[CheckSpec] = []
    comment: str | None = None
    primary_key_name: str | None = None
    for constraint in node.args.get("constraints") or []:
        c = constraint.args.get("kind")
        constraint_name = constraint.name or None
        if isinstance(c, exp.PrimaryKeyColumnConstraint):
            primary_key = True
            primary_key_name = constraint_name
        elif isinstance(c, exp.NotNullColumnConstraint):
            not_null = not_null or not c.args.get("allow_null")
        elif isinstance(c, exp.UniqueColumnConstraint):
            unique = True
        elif isinstance(c, exp.DefaultColumnConstraint):
            default_sql = c.this.sql()
        elif isinstance(c, exp.AutoIncrementColumnConstraint):
            continue  # an INTEGER PRIMARY KEY is auto-assigned with or without it
        elif isinstance(c, exp.Reference):
            references = _reference(c, (name,), constraint_name)
        elif isinstance(c, exp.CheckColumnConstraint):
            checks.append(_check_spec(c, constraint_name, statement))
        elif isinstance(c, exp.CommentColumnConstraint):
            comment = _comment_text(c.this)
        elif isinstance(c, exp.CollateColumnConstraint):
            continue
        elif isinstance(c, exp.ComputedColumnConstraint):
            raise NotSupportedError(
                f"generated columns are not supported (GENERATED ALWAYS AS): {name}"
            )
        elif isinstance(c, exp.GeneratedAsIdentityColumnConstraint):
            raise NotSupportedError(
                f"identity columns are not supported (GENERATED … AS IDENTITY): {name}; "
                "an INTEGER PRIMARY KEY is numbered automatically"
            )
        else:
            raise NotSupportedError(f"unsupported column constraint: {constraint.sql()}")
    return ColumnSpec(
        name,
        canonical,
        declared,
        length,
        precision,
        scale,
        not_null,
        default_sql,
        primary_key,
        unique,
        references,
        tuple(checks),
        comment,
        primary_key_name,
    )


def _comment_text(node: exp.Expression) -> str | None:
    """The text of a comment literal; None for NULL (no comment)."""
    if isinstance(node, exp.Null):
        return None
    if not (isinstance(node, exp.Literal) and node.is_string):
        raise ProgrammingError(f"a comment must be a string literal, not {node.sql()}")
    return str(node.this)


def _table_comment(node: exp.Create) -> str | None:
    """A CREATE TABLE's ``COMMENT = '…'`` table option (MySQL's spelling), if any."""
    properties = node.args.get("properties")
    for p in properties.expressions if properties is not None else []:
        if isinstance(p, exp.SchemaCommentProperty):
            return _comment_text(p.this)
    return None


def _refuse_temporary(node: exp.Create) -> None:
    if node.args.get("replace"):
        raise NotSupportedError("CREATE OR REPLACE TABLE is not supported (only views)")
    properties = node.args.get("properties")
    if properties is not None and any(
        isinstance(p, exp.TemporaryProperty) for p in properties.expressions
    ):
        raise NotSupportedError("temporary tables are not supported (CREATE TEMPORARY TABLE)")


def table_as_spec(node: exp.Create) -> TableAsSpec:
    """The table a CREATE TABLE … AS SELECT statement asks for. ``NotSupportedError`` for a
    temporary table or a column list (which SQLite does not accept either)."""
    _refuse_temporary(node)
    query = node.args.get("expression")
    if isinstance(node.this, exp.Schema) or not isinstance(query, exp.Query):
        raise NotSupportedError("CREATE TABLE name (columns) AS SELECT is not supported")
    return TableAsSpec(node.this.name, bool(node.args.get("exists")), node.args["expression"])


def table_spec(node: exp.Create) -> TableSpec:
    """The table a CREATE TABLE statement declares. ``NotSupportedError`` for temporary tables
    and unsupported constraints; ``ProgrammingError`` for two primary keys. (CREATE TABLE …
    AS SELECT is read by :func:`table_as_spec`.)"""
    _refuse_temporary(node)
    schema = node.this
    if node.args.get("expression") is not None or not isinstance(schema, exp.Schema):
        raise NotSupportedError("CREATE TABLE ... AS SELECT is not supported")
    name = schema.this.name
    columns: list[ColumnSpec] = []
    primary_key: KeySpec | None = None
    uniques: list[KeySpec] = []
    fks: list[ForeignKeySpec] = []
    checks: list[CheckSpec] = []
    items: list[tuple[exp.Expression, str | None]] = []
    for item in schema.expressions:
        if isinstance(item, exp.Constraint):  # CONSTRAINT name <constraint>
            items.extend((sub, item.name) for sub in item.expressions)
        else:
            items.append((item, None))

    def set_primary_key(key: KeySpec) -> None:
        nonlocal primary_key
        if primary_key is not None:
            raise ProgrammingError(f"table {name} has more than one primary key")
        primary_key = key

    for item, constraint_name in items:
        if isinstance(item, exp.ColumnDef):
            col = column_spec(item, node.meta.get("sql"))
            columns.append(col)
            if col.primary_key:
                set_primary_key(KeySpec((col.name,), col.primary_key_name))
        elif isinstance(item, exp.Identifier):
            columns.append(ColumnSpec(item.name, "ANY", "ANY"))
        elif isinstance(item, exp.PrimaryKey):
            set_primary_key(KeySpec(_names(item), constraint_name))
        elif isinstance(item, exp.UniqueColumnConstraint):
            uniques.append(KeySpec(_names(item.this), constraint_name))
        elif isinstance(item, exp.ForeignKey):
            fks.append(_reference(item.args["reference"], _names(item), constraint_name))
        elif isinstance(item, exp.CheckColumnConstraint):
            checks.append(_check_spec(item, constraint_name, node.meta.get("sql")))
        else:
            raise NotSupportedError(f"unsupported table constraint: {item.sql()}")
    return TableSpec(
        name,
        bool(node.args.get("exists")),
        tuple(columns),
        primary_key,
        tuple(uniques),
        tuple(fks),
        tuple(checks),
        _table_comment(node),
    )


def index_spec(node: exp.Create) -> IndexSpec:
    """The index a CREATE INDEX statement declares; ``NotSupportedError`` for an index on
    expressions."""
    ix_node = node.this
    table_node = ix_node.args.get("table")
    if table_node is None:
        raise ProgrammingError("CREATE INDEX needs ON <table>")
    params = ix_node.args.get("params")
    if params is None or not params.args.get("columns"):  # sqlglot reads ``ON t`` alone
        raise ProgrammingError("syntax error: CREATE INDEX needs its columns: ON <table> (...)")
    cols = [o.this if isinstance(o, exp.Ordered) else o for o in params.args["columns"]]
    if not cols or not all(isinstance(c, exp.Column) for c in cols):
        raise NotSupportedError("indexes on expressions are not supported")
    return IndexSpec(
        ix_node.name,
        table_node.name,
        tuple(c.name for c in cols),
        bool(node.args.get("unique")),
        bool(node.args.get("exists")),
    )


def _dropped_name(text: str) -> str:
    """The column ``ALTER TABLE t DROP <text>`` (no COLUMN keyword) names."""
    try:
        node = sqlglot.parse_one(text, read="sqlite")
    except sqlglot.errors.ParseError:
        node = None
    if not isinstance(node, exp.Column) or node.table:
        raise NotSupportedError(f"unsupported ALTER TABLE action: DROP {text}")
    return node.name


def alter_spec(node: exp.Alter) -> AlterSpec:
    """The changes an ALTER TABLE statement asks for; ``NotSupportedError`` for actions other
    than ADD COLUMN, DROP COLUMN, RENAME TO and RENAME COLUMN."""
    actions: list[AlterAction] = []
    for action in node.args.get("actions") or []:
        if isinstance(action, exp.ColumnDef):
            actions.append(AddColumn(column_spec(action)))
        elif isinstance(action, exp.AlterRename):
            if action.this.args.get("db"):  # as in PostgreSQL and SQLite: the name only
                raise NotSupportedError(
                    f"RENAME TO takes an unqualified name (the table stays in its schema): "
                    f"{action.this.sql()}"
                )
            actions.append(RenameTable(action.this.name))
        elif isinstance(action, exp.RenameColumn):
            actions.append(RenameColumn(action.this.name, action.args["to"].name))
        elif (
            isinstance(action, exp.Drop)
            and str(action.args.get("kind") or "").upper() == "COLUMN"
            and not action.args.get("exists")
            and len(action.args.get("tables") or []) == 1
        ):
            actions.append(DropColumn(action.args["tables"][0].name))
        elif isinstance(action, exp.Command) and str(action.this).upper() == "DROP":
            actions.append(DropColumn(_dropped_name(str(action.expression))))
        else:
            raise NotSupportedError(f"unsupported ALTER TABLE action: {action.sql()}")
    return AlterSpec(node.this.name, tuple(actions))


@dataclass(frozen=True)
class ViewSpec:
    """CREATE VIEW name [(columns)] AS query."""

    target: exp.Table
    columns: tuple[str, ...]
    query: exp.Expression


def view_spec(node: exp.Create) -> ViewSpec:
    """What a CREATE VIEW declares; ``ProgrammingError`` without a query."""
    target = node.this
    columns: tuple[str, ...] = ()
    if isinstance(target, exp.Schema):
        columns = tuple(e.name for e in target.expressions)
        target = target.this
    query = node.args.get("expression")
    if query is None:
        raise ProgrammingError("CREATE VIEW needs AS SELECT")
    return ViewSpec(target, columns, query)


@dataclass(frozen=True)
class CommentSpec:
    """COMMENT ON TABLE t / COLUMN t.c IS '…' (``text`` None: IS NULL, the comment dropped)."""

    table: str
    column: str | None
    text: str | None
    schema: str | None = None  # as written; None: unqualified


def comment_spec(node: exp.Comment) -> CommentSpec:
    """What a COMMENT ON statement sets; ``NotSupportedError`` for objects other than tables
    and columns."""
    kind = str(node.args.get("kind") or "").upper()
    target = node.this
    text = _comment_text(node.expression)
    if kind == "TABLE" and isinstance(target, exp.Table):
        return CommentSpec(target.name, None, text, target.db or None)
    if kind == "COLUMN" and isinstance(target, exp.Column) and target.table:
        return CommentSpec(target.table, target.name, text, target.db or None)
    raise NotSupportedError(
        f"unsupported COMMENT ON {kind}: comments are kept on tables and columns"
    )
