"""Planning INSERT, UPDATE and DELETE: the rows to write (a VALUES list or a query for INSERT;
the matching rows of the table for UPDATE and DELETE) under a write node."""

from __future__ import annotations

from sqlglot import exp

from dialect.catalog import Table
from dialect.errors import NotSupportedError, OperationalError, ProgrammingError
from dialect.expr import AGGREGATES, Compiler, Fn
from dialect.parse import parse_stored
from dialect.plan import nodes as n
from dialect.plan.select import Planner, Shape, table_scope
from dialect.schemas import qualified, schema_of
from dialect.tablerows import RowCodec
from dialect.tempnames import named_table

_QUERIES = (exp.Select, exp.Union, exp.Except, exp.Intersect, exp.Subquery)


def _target(planner: Planner, node: exp.Expression) -> tuple[exp.Table, Table, RowCodec]:
    target = node.this if isinstance(node, exp.Schema) else node
    if not isinstance(target, exp.Table):
        if not isinstance(node, exp.Expression):  # `DELETE u WHERE …` parses to a bool target
            raise ProgrammingError("the statement names no table to change")
        raise NotSupportedError(f"unsupported target: {node.sql()[:60]}")
    schema = schema_of(planner.catalog, target)
    table = named_table(planner.catalog, target)
    if table is None:
        if planner.catalog.view(target.name, schema) is not None:
            raise ProgrammingError(f"cannot modify {target.name} because it is a view")
        raise ProgrammingError(f"no such table: {qualified(schema, target.name)}")
    return target, table, planner.codec(table.id)


def target(planner: Planner, codec: RowCodec) -> n.Target:
    """The write target for ``codec``'s table: its DEFAULTs and CHECKs compiled."""
    table = codec.table
    defaults: list[Fn | None] = []
    for col in table.columns:
        defaults.append(
            planner.constant(parse_stored(col.default_sql)) if col.default_sql is not None else None
        )
    compiler = planner.compiler(table_scope(table, table.name), [])
    checks = tuple(
        (check.name or check.source or check.sql, compiler.compile(parse_stored(check.sql)))
        for check in table.checks
    )
    return n.Target(codec, tuple(defaults), checks)


def _parameters_only(values: exp.Values) -> int | None:
    """The row width when ``values`` is one row of parameter markers in order, else None."""
    if len(values.expressions) != 1 or not isinstance(values.expressions[0], exp.Tuple):
        return None
    items = values.expressions[0].expressions
    for i, item in enumerate(items):
        if not isinstance(item, exp.Placeholder) or item.meta.get("param_index") != i:
            return None
    return len(items)


def plan_insert(planner: Planner, node: exp.Insert, value_rows: int = 1) -> n.Insert:
    """``value_rows``: how many times the text repeated its one row of ``?`` markers."""
    alternative = node.args.get("alternative")
    mode = str(alternative).upper() if alternative else None
    if mode not in (None, "REPLACE", "IGNORE"):
        raise NotSupportedError(f"INSERT OR {mode} is not supported")
    _, table, codec = _target(planner, node.this)
    if isinstance(node.this, exp.Schema) and node.this.expressions:
        positions = []
        for ident in node.this.expressions:
            col = table.column(ident.name)
            if col is None or col.hidden:
                raise ProgrammingError(f"table {table.name} has no column named {ident.name}")
            positions.append(table.columns.index(col))
        if len(set(positions)) != len(positions):
            raise ProgrammingError(f"a column is named more than once in INSERT INTO {table.name}")
    else:
        positions = [i for i, c in enumerate(table.columns) if not c.hidden]
    source = node.expression
    if isinstance(source, exp.Values) and any(
        isinstance(r, exp.Tuple) and not r.expressions for r in source.expressions
    ):  # sqlglot reads ``VALUES ()``, which SQLite refuses
        raise ProgrammingError("syntax error: a row of VALUES needs at least one value")
    root: n.Node
    if source is None and node.args.get("default"):  # INSERT ... DEFAULT VALUES
        root, positions = n.Values(((),), 0), []
    elif isinstance(source, exp.Values) and (width := _parameters_only(source)) is not None:
        root = n.ParamRows(width, value_rows)
    elif isinstance(source, (exp.Values, *_QUERIES)):
        with planner.ctes(node.args.get("with_"), []):  # WITH … INSERT
            root = planner.query(source, []).root
    else:
        raise NotSupportedError(f"unsupported INSERT source: {source.sql()[:60] if source else ''}")
    reads_target = source is not None and (
        any(isinstance(e, exp.Table) for e in source.find_all(exp.Table))
        or node.args.get("with_") is not None
    )
    conflict = node.args.get("conflict")
    on_conflict = _on_conflict(planner, conflict, table) if conflict is not None else None
    return n.Insert(target(planner, codec), root, tuple(positions), mode, reads_target, on_conflict)


def _on_conflict(planner: Planner, node: exp.OnConflict, table: Table) -> n.OnConflict:
    """The plan of ``ON CONFLICT [(columns)] DO NOTHING | DO UPDATE SET ... [WHERE ...]``."""
    action = str(node.args.get("action") or "").upper()
    if node.args.get("duplicate") or node.args.get("constraint"):
        raise NotSupportedError(f"unsupported ON CONFLICT clause: {node.sql()[:60]}")
    keys = node.args.get("conflict_keys") or []
    on_key, index = False, None
    if keys:
        names = []
        for key in keys:
            column = key.this if isinstance(key, exp.Ordered) else key
            if not isinstance(column, exp.Column) or column.table:
                raise NotSupportedError(f"unsupported ON CONFLICT target: {key.sql()}")
            names.append(column.name.lower())
        wanted = set(names)
        if wanted == {c.lower() for c in table.pk}:
            on_key = True
        else:
            index = next(
                (
                    ix
                    for ix in table.indexes
                    if ix.unique and {c.lower() for c in ix.columns} == wanted
                ),
                None,
            )
            if index is None:
                raise OperationalError(
                    "ON CONFLICT clause does not match any PRIMARY KEY or UNIQUE constraint"
                )
    if action == "DO NOTHING":
        return n.OnConflict(on_key, index)
    if action != "DO UPDATE":
        raise NotSupportedError(f"unsupported ON CONFLICT action: {action}")
    if not keys:
        raise ProgrammingError("ON CONFLICT DO UPDATE needs a conflict target (columns)")
    # the stored row, then the row proposed as "excluded" (hidden: names are qualified)
    scope = table_scope(table, table.name)
    for col in table.columns:
        scope.add("excluded", col.name if not col.hidden else f"\x00{col.name}", True, col.type)
    compiler = planner.compiler(scope, [])
    sets = _set_clause(table, node.expressions, compiler)
    where = node.args.get("where")
    return n.OnConflict(
        on_key, index, sets, compiler.compile(where.this) if where is not None else None
    )


def returning_shape(planner: Planner, node: exp.Expression, write: n.Write) -> Shape:
    """The root of a write statement (``write``, under a RETURNING node if it has one) with
    the names and type codes of the rows it returns."""
    clause = node.args.get("returning")
    if clause is None:
        return Shape(write, (), ())
    root, names, types = _returning(planner, clause, write)
    return Shape(root, names, types)


def _returning(
    planner: Planner, clause: exp.Returning, write: n.Write
) -> tuple[n.Returning, tuple[str, ...], tuple[str | None, ...]]:
    if clause.args.get("into"):
        raise NotSupportedError("RETURNING ... INTO is not supported")
    table = write.target.table
    scope = table_scope(table, table.name)
    compiler = planner.compiler(scope, [])
    exprs: list[Fn] = []
    names: list[str] = []
    types: list[str | None] = []
    for item in clause.expressions:
        if isinstance(item, exp.Star) or (
            isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
        ):
            for pos, col in enumerate(table.columns):
                if not col.hidden:
                    exprs.append(_column_at(pos))
                    names.append(col.name)
                    types.append(col.type)
            continue
        if any(isinstance(e, AGGREGATES) for e in item.find_all(*AGGREGATES)):
            raise ProgrammingError("aggregate functions are not allowed in RETURNING")
        exprs.append(compiler.compile(item))
        inner = item.this if isinstance(item, exp.Alias) else item
        names.append(item.alias_or_name if isinstance(item, exp.Alias | exp.Column) else item.sql())
        found = (
            scope.find(inner.table or None, inner.name) if isinstance(inner, exp.Column) else None
        )
        types.append(table.columns[found].type if found is not None else None)
    return n.Returning(write, tuple(exprs), tuple(names)), tuple(names), tuple(types)


def _column_at(pos: int) -> Fn:
    return lambda row, ctx: row[pos]


def _refuse(node: exp.Expression, verb: str, clauses: dict[str, str]) -> None:
    """NotSupportedError naming the first clause of ``clauses`` (arg name → SQL) present."""
    for arg, sql in clauses.items():
        if node.args.get(arg):
            raise NotSupportedError(f"{verb} ... {sql} is not supported")


_UNSUPPORTED = {"order": "ORDER BY", "limit": "LIMIT"}


def plan_update(planner: Planner, node: exp.Update) -> n.Update:
    _refuse(node, "UPDATE", {"from": "FROM", "from_": "FROM", **_UNSUPPORTED})
    table_node, table, _ = _target(planner, node.this)
    where = node.args.get("where")
    rows, scope, codec = planner.matching_rows(table_node, where.this if where else None)
    compiler = planner.compiler(scope, [])
    return n.Update(target(planner, codec), rows, _set_clause(table, node.expressions, compiler))


def _set_clause(
    table: Table, assignments: list[exp.Expression], compiler: Compiler
) -> tuple[tuple[int, Fn], ...]:
    """``SET col = expr, …`` of UPDATE or ON CONFLICT DO UPDATE: (column position, value)."""
    sets: list[tuple[int, Fn]] = []
    for assignment in assignments:
        if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Column):
            raise NotSupportedError(f"unsupported SET clause: {assignment.sql()}")
        col = table.column(assignment.this.name)
        if col is None or col.hidden:
            raise ProgrammingError(f"no such column: {assignment.this.name}")
        sets.append((table.columns.index(col), compiler.compile(assignment.expression)))
    return tuple(sets)


def plan_delete(planner: Planner, node: exp.Delete) -> n.Delete:
    _refuse(node, "DELETE", {"using": "USING", **_UNSUPPORTED})
    table_node, _, _ = _target(planner, node.this)
    where = node.args.get("where")
    rows, _, codec = planner.matching_rows(table_node, where.this if where else None)
    return n.Delete(target(planner, codec), rows)
