"""Running a connection's statements: a prepared statement is planned once per schema (the
plan is cached) and each execution runs the plan with its own context, inside the
connection's transaction. Schema changes go to :mod:`dialect.ddl`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from dialect import ddl
from dialect.catalog import Catalog, Table
from dialect.database import Database
from dialect.errors import NotSupportedError, OperationalError
from dialect.exec.operators import RunContext, run
from dialect.exec.writer import run_returning, run_write
from dialect.expr import Row
from dialect.layout import TEMP_BASE
from dialect.parse import Prepared
from dialect.plan import nodes as n
from dialect.plan.select import Planner
from dialect.plan.write import plan_delete, plan_insert, plan_update, returning_shape
from dialect.tablerows import RowCodec
from dialect.transaction import Transaction
from dialect.values import SQLValue

_PLAN_CACHE_SIZE = 512


@dataclass
class Outcome:
    """What one statement produced: a query's column names, type codes and rows (streamed
    from the store as they are consumed), or a write's counts."""

    names: list[str] | None = None
    types: list[str | None] | None = None
    rows: Iterator[Row] | None = None
    rowcount: int = -1
    lastrowid: int | None = None


def plan_statement(catalog: Catalog, ast: exp.Expression, value_rows: int = 1) -> n.Plan:
    """The plan of a query, INSERT, UPDATE or DELETE against ``catalog``; runs nothing.
    ``value_rows``: as :attr:`dialect.parse.Prepared.value_rows`."""
    planner = Planner(catalog)
    write: n.Write | None = None
    if isinstance(ast, exp.Insert):
        write = plan_insert(planner, ast, value_rows)
    elif isinstance(ast, exp.Update):
        with planner.ctes(ast.args.get("with_"), []):  # WITH … UPDATE
            write = plan_update(planner, ast)
    elif isinstance(ast, exp.Delete):
        with planner.ctes(ast.args.get("with_"), []):
            write = plan_delete(planner, ast)
    shape = planner.query(ast, []) if write is None else returning_shape(planner, ast, write)
    return n.Plan(
        shape.root, shape.names, shape.types, tuple(sorted(planner.tables)), planner.watch_reads
    )


def _writes_temp_table(plan: n.Plan) -> bool:
    """Whether ``plan`` writes a temporary table (dialect/temp.py), which a read-only
    connection may write, as in SQLite."""
    root = plan.root.write if isinstance(plan.root, n.Returning) else plan.root
    return isinstance(root, n.Write) and root.target.codec.table.id >= TEMP_BASE


class StatementSession:
    """Runs the statements of one connection."""

    def __init__(self, database: Database, txn_source: Any) -> None:  # Any: the Connection
        self.database = database
        self._txn_source = txn_source
        self._codecs: dict[tuple[int, int], RowCodec] = {}
        self._plans: dict[tuple[int, int], tuple[Prepared, Catalog, n.Plan]] = {}
        #: for last_insert_rowid(), changes() and total_changes(), as SQLite counts them
        self.last_insert_rowid = 0
        self.changes = 0
        self.total_changes = 0

    @property
    def txn(self) -> Transaction:
        txn: Transaction = self._txn_source.transaction()
        return txn

    def codec(self, table: Table) -> RowCodec:
        """The row codec of ``table`` (for schema changes); the transaction relies on it."""
        txn = self.txn
        txn.use_table(table.id)
        key = (table.id, txn.catalog.version)
        codec = self._codecs.get(key)
        if codec is None or codec.table is not table:
            codec = self._codecs[key] = RowCodec(table)
        return codec

    def plan(self, prepared: Prepared, catalog: Catalog) -> n.Plan:
        """The cached plan of ``prepared`` for ``catalog``."""
        key = (id(prepared), id(catalog))
        cached = self._plans.get(key)
        if cached is not None and cached[0] is prepared and cached[1] is catalog:
            return cached[2]
        plan = plan_statement(catalog, prepared.ast, prepared.value_rows)
        if len(self._plans) >= _PLAN_CACHE_SIZE:
            self._plans.clear()
        self._plans[key] = (prepared, catalog, plan)
        return plan

    def run(self, prepared: Prepared, params: list[SQLValue]) -> Outcome:
        ast = prepared.ast
        txn = self.txn
        if prepared.explain:
            return self._explain(prepared, txn.catalog)
        read_only_write = self.database.read_only and not prepared.is_query
        if read_only_write and prepared.is_ddl:
            raise OperationalError("attempt to write a readonly database")
        if prepared.is_ddl:
            self._run_ddl(ast, params)
            return Outcome()
        if not isinstance(ast, exp.Insert | exp.Update | exp.Delete) and not prepared.is_query:
            if isinstance(ast, exp.TruncateTable):
                raise NotSupportedError("TRUNCATE is not supported: use DELETE FROM")
            raise NotSupportedError(f"unsupported statement: {ast.key.upper()}")
        plan = self.plan(prepared, txn.catalog)
        if read_only_write and not _writes_temp_table(plan):
            raise OperationalError("attempt to write a readonly database")
        for table_id in plan.tables:
            txn.use_table(table_id)
        ctx = RunContext(txn, params, self.database, session=self, watch_reads=plan.watch_reads)
        if plan.is_query:
            return Outcome(list(plan.names), list(plan.types), run(plan.root, ctx))
        if isinstance(plan.root, n.Returning):
            rows = run_returning(plan.root, ctx)  # the write runs in full first, as in SQLite
            return Outcome(
                list(plan.names), list(plan.types), iter(rows), ctx.rowcount, ctx.lastrowid
            )
        assert isinstance(plan.root, n.Write)
        run_write(plan.root, ctx)
        self.changes = max(ctx.rowcount, 0)
        self.total_changes += self.changes
        if ctx.lastrowid is not None:
            self.last_insert_rowid = ctx.lastrowid
        return Outcome(rowcount=ctx.rowcount, lastrowid=ctx.lastrowid)

    def _run_ddl(self, ast: exp.Expression, params: list[SQLValue]) -> None:
        kind = str(ast.args.get("kind") or "").upper()
        if isinstance(ast, exp.Create) and kind == "TABLE" and ast.args.get("expression"):
            ddl.create_table_as(self, ast, params)
        elif isinstance(ast, exp.Create):
            runner = {
                "TABLE": ddl.create_table,
                "INDEX": ddl.create_index,
                "VIEW": ddl.create_view,
                "SCHEMA": ddl.create_schema,
            }.get(kind)
            if runner is None:
                raise NotSupportedError(f"CREATE {kind} is not supported")
            runner(self, ast)
        elif isinstance(ast, exp.Drop):
            dropper = {
                "TABLE": ddl.drop_table,
                "INDEX": ddl.drop_index,
                "VIEW": ddl.drop_view,
                "SCHEMA": ddl.drop_schema,
            }.get(kind)
            if dropper is None:
                raise NotSupportedError(f"DROP {kind} is not supported")
            dropper(self, ast)
        elif isinstance(ast, exp.Comment):
            ddl.comment_on(self, ast)
        else:
            assert isinstance(ast, exp.Alter)
            ddl.alter_table(self, ast)

    def _explain(self, prepared: Prepared, catalog: Catalog) -> Outcome:
        ast = prepared.ast
        if prepared.is_ddl or not (
            prepared.is_query or isinstance(ast, exp.Insert | exp.Update | exp.Delete)
        ):
            raise NotSupportedError(f"EXPLAIN of {type(ast).__name__.upper()} is not supported")
        plan = self.plan(prepared, catalog)
        rows: list[Row] = [
            (i, "  " * depth + text, requests)
            for i, (depth, text, requests) in enumerate(plan.lines())
        ]
        if not plan.is_query:
            rows.append((len(rows), "COMMIT", "1 WAL PUT (shared with concurrent commits)"))
        return Outcome(
            ["step", "detail", "object-store requests"], ["INTEGER", "TEXT", "TEXT"], iter(rows)
        )
