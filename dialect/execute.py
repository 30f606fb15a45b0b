"""From SQL text to results: parsing (cached by text), parameter binding, and dispatch to the
query, DML and DDL runners within a connection's transaction."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlglot
from sqlglot import TokenType, exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Tokenizer

from dialect import ddl, dml
from dialect import plan as planner
from dialect.catalog import Catalog, Table
from dialect.database import Database
from dialect.errors import NotSupportedError, OperationalError, ProgrammingError
from dialect.expr import Row, Scope
from dialect.query import evaluate_constant, run_select
from dialect.tablerows import RowCodec
from dialect.transaction import Transaction
from dialect.values import SQLValue

_EXPLAIN = re.compile(r"^\s*EXPLAIN(\s+QUERY\s+PLAN)?\s+", re.IGNORECASE)
_DDL = (exp.Create, exp.Drop, exp.Alter)


@dataclass(frozen=True)
class Prepared:
    """A parsed statement: its tree (shared, never changed after preparing) and parameters."""

    ast: exp.Expression
    explain: bool
    param_count: int
    param_names: tuple[str, ...]  # non-empty for :name parameters

    @property
    def is_ddl(self) -> bool:
        return isinstance(self.ast, _DDL)

    @property
    def transaction_control(self) -> str | None:
        """BEGIN, COMMIT or ROLLBACK for those statements (a savepoint is refused)."""
        ast = self.ast
        if isinstance(ast, exp.Rollback) and ast.args.get("savepoint"):
            raise NotSupportedError("savepoints are not supported")
        if isinstance(ast, exp.Transaction):
            return "BEGIN"
        if isinstance(ast, exp.Commit):
            return "COMMIT"
        if isinstance(ast, exp.Rollback):
            return "ROLLBACK"
        return None

    @property
    def is_query(self) -> bool:
        return isinstance(self.ast, exp.Select | exp.Union | exp.Except | exp.Intersect)


_QMARK = "__strata_q"
#: what parses as a statement (sqlglot also parses bare expressions, e.g. "SELEC x")
_STATEMENTS = (
    exp.Query,
    exp.DML,
    exp.DDL,
    exp.Drop,
    exp.Alter,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Pragma,
    exp.Set,
    exp.Use,
    exp.Describe,
    exp.Show,
    exp.TruncateTable,
)


def _number_qmarks(sql: str) -> tuple[str, int]:
    """``sql`` with its ``?`` markers (outside strings and comments) renamed ``:__strata_qN``
    in text order, so each placeholder in the tree knows its position; and their count."""
    try:
        tokens = Tokenizer().tokenize(sql)
    except SqlglotError as exc:
        raise ProgrammingError(f"syntax error: {exc}") from exc
    marks = [t for t in tokens if t.token_type == TokenType.PLACEHOLDER and t.text == "?"]
    if not marks:
        return sql, 0
    out, last = [], 0
    for i, tok in enumerate(marks):
        out.append(sql[last : tok.start])
        out.append(f":{_QMARK}{i}")
        last = tok.end + 1
    out.append(sql[last:])
    return "".join(out), len(marks)


@functools.lru_cache(maxsize=1024)
def prepare(sql: str) -> Prepared:
    """Parse ``sql`` (one statement). ``ProgrammingError`` for bad SQL, with sqlglot's message
    and position; ``NotSupportedError`` for statements Strata does not run."""
    explain = False
    m = _EXPLAIN.match(sql)
    if m:
        explain, sql = True, sql[m.end() :]
    sql, qmarks = _number_qmarks(sql)
    try:
        statements = [s for s in sqlglot.parse(sql, read="sqlite") if s is not None]
    except SqlglotError as exc:
        raise ProgrammingError(f"syntax error: {exc}") from exc
    if not statements:
        raise ProgrammingError("empty statement")
    if len(statements) > 1:
        raise ProgrammingError("you can only execute one statement at a time")
    ast = statements[0]
    if isinstance(ast, exp.Command):
        raise NotSupportedError(f"unsupported statement: {ast.sql()[:60]}")
    if not isinstance(ast, _STATEMENTS):
        raise ProgrammingError(f"syntax error: not a statement: {sql[:60]!r}")
    names: list[str] = []
    for node in ast.find_all(exp.Placeholder):
        name = str(node.this or "")
        if name.startswith(_QMARK):
            node.meta["param_index"] = int(name[len(_QMARK) :])
            continue
        if not name:
            raise NotSupportedError(f"unsupported parameter marker in {sql[:60]!r}")
        if name not in names:
            names.append(name)
        node.meta["param_index"] = names.index(name)
    if names and qmarks:
        raise ProgrammingError("a statement cannot mix ? and :name parameters")
    count = qmarks if not names else len(names)
    return Prepared(
        cast(exp.Expression, ast), explain, count if not names else len(names), tuple(names)
    )


def bind(prepared: Prepared, params: Sequence[Any] | Mapping[str, Any] | None) -> list[Any]:
    """The parameter values in placeholder order; ``ProgrammingError`` on a count mismatch."""
    if params is None:
        params = ()
    if prepared.param_names:
        if not isinstance(params, Mapping):
            raise ProgrammingError("this statement uses :name parameters: pass a mapping")
        missing = [n for n in prepared.param_names if n not in params]
        if missing:
            raise ProgrammingError(f"missing parameters: {', '.join(missing)}")
        return [params[n] for n in prepared.param_names]
    if isinstance(params, Mapping):
        if prepared.param_count == 0 and not params:
            return []
        raise ProgrammingError("this statement uses ? parameters: pass a sequence")
    if isinstance(params, str | bytes):
        raise ProgrammingError("parameters must be a sequence, not a string")
    values = list(params)
    if len(values) != prepared.param_count:
        raise ProgrammingError(
            f"incorrect number of bindings supplied: the statement uses "
            f"{prepared.param_count}, and there are {len(values)} supplied"
        )
    return values


@dataclass
class Outcome:
    """What one statement produced."""

    names: list[str] | None = None
    types: list[str | None] | None = None
    rows: list[Row] | None = None
    rowcount: int = -1
    lastrowid: int | None = None


class StatementSession:
    """Runs statements of one connection: the query/DML/DDL session protocols."""

    def __init__(self, database: Database, txn_source: Any) -> None:  # Any: the Connection
        self.database = database
        self._txn_source = txn_source
        self.params: Sequence[SQLValue] = ()
        self.outer_rows: list[Row] = []
        self._codecs: dict[tuple[int, int], RowCodec] = {}
        self.plans: dict[tuple[int, int], Any] = {}  # Any: dml._InsertPlan

    @property
    def catalog(self) -> Catalog:
        return self.txn.catalog

    @property
    def txn(self) -> Transaction:
        txn: Transaction = self._txn_source.transaction()
        return txn

    def codec(self, table: Table) -> RowCodec:
        txn = self.txn
        txn.use_table(table.id)
        key = (table.id, txn.catalog.version)
        codec = self._codecs.get(key)
        if codec is None or codec.table is not table:
            codec = self._codecs[key] = RowCodec(table)
        return codec

    def next_id(self, table: Table) -> int:
        return self.database.next_id(table.id)

    def saw_id(self, table: Table, value: int) -> None:
        self.database.saw_id(table.id, value)

    def run_subquery(self, node: exp.Expression, outer: list[Scope]) -> list[Row]:
        return list(run_select(self, node, outer).rows)

    # -- statements ---------------------------------------------------------------------------

    def run(self, prepared: Prepared, params: list[Any]) -> Outcome:
        self.params = params
        ast = prepared.ast
        if prepared.explain:
            return self._explain(ast)
        if prepared.is_query:
            result = run_select(self, ast)
            return Outcome(result.names, result.types, list(result.rows))
        if self.database.read_only and not isinstance(ast, exp.Select):
            raise OperationalError("attempt to write a readonly database")
        if isinstance(ast, exp.Insert):
            count, last = dml.insert(self, ast)
            return Outcome(rowcount=count, lastrowid=last)
        if isinstance(ast, exp.Update):
            return Outcome(rowcount=dml.update(self, ast))
        if isinstance(ast, exp.Delete):
            return Outcome(rowcount=dml.delete(self, ast))
        if isinstance(ast, exp.Create):
            kind = str(ast.args.get("kind") or "").upper()
            if kind == "TABLE":
                ddl.create_table(self, ast)
            elif kind == "INDEX":
                ddl.create_index(self, ast)
            elif kind == "VIEW":
                ddl.create_view(self, ast)
            else:
                raise NotSupportedError(f"CREATE {kind} is not supported")
            return Outcome()
        if isinstance(ast, exp.Drop):
            kind = str(ast.args.get("kind") or "").upper()
            if kind == "TABLE":
                ddl.drop_table(self, ast)
            elif kind == "INDEX":
                ddl.drop_index(self, ast)
            elif kind == "VIEW":
                ddl.drop_view(self, ast)
            else:
                raise NotSupportedError(f"DROP {kind} is not supported")
            return Outcome()
        if isinstance(ast, exp.Alter):
            ddl.alter_table(self, ast)
            return Outcome()
        raise NotSupportedError(f"unsupported statement: {type(ast).__name__.upper()}")

    def _explain(self, ast: exp.Expression) -> Outcome:
        lines: list[str]
        if isinstance(ast, exp.Select | exp.Union | exp.Except | exp.Intersect):
            lines = run_select(self, ast).plan
        elif isinstance(ast, exp.Update | exp.Delete):
            table = self.catalog.table(ast.this.name)
            if table is None:
                raise ProgrammingError(f"no such table: {ast.this.name}")
            where = ast.args.get("where")
            access = planner.choose(
                table,
                ast.this.alias_or_name,
                where.this if where else None,
                lambda e: evaluate_constant(self, e),
            )
            lines = [access.describe(table), f"WRITE matching rows ({type(ast).__name__.upper()})"]
        elif isinstance(ast, exp.Insert):
            lines = ["PUT rows and index entries into the transaction"]
        else:
            raise NotSupportedError(f"EXPLAIN of {type(ast).__name__.upper()} is not supported")
        rows = [(i, line, _requests(line)) for i, line in enumerate(lines)]
        if not ast.find(exp.Select) or isinstance(ast, exp.Insert | exp.Update | exp.Delete):
            rows.append((len(rows), "COMMIT", "1 WAL PUT (shared with concurrent commits)"))
        return Outcome(
            ["step", "detail", "object-store requests"], ["INTEGER", "TEXT", "TEXT"], rows
        )


def _requests(line: str) -> str:
    if line.startswith("GET "):
        n = line.split()[1]
        return f"at most {n} ranged GET(s); none for rows in memory or cached blocks"
    if line.startswith("SCAN index"):
        return "one ranged GET per index block and per row's block not cached"
    if line.startswith("SCAN"):
        return "one ranged GET per SST block read and not cached; none for rows in memory"
    if line.startswith("NOTHING"):
        return "none"
    return "none (computed in memory)"
