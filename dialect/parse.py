"""SQL text into prepared statements: parsed once per text (cached), with parameter markers
numbered, statements Strata refuses named, and parameters bound per execution."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

import sqlglot
from sqlglot import TokenType, exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Tokenizer

from dialect.errors import NotSupportedError, ProgrammingError
from dialect.refusals import refusal

_EXPLAIN = re.compile(r"^\s*EXPLAIN(\s+QUERY\s+PLAN)?\s+", re.IGNORECASE)
_DDL = (exp.Create, exp.Drop, exp.Alter, exp.Comment)
#: COMMENT ON … IS NULL, which sqlglot does not parse: read as IS '' and then set to NULL
_COMMENT_NULL = re.compile(
    r"^(\s*COMMENT\s+ON\s+.*\s+IS\s+)NULL(\s*;?\s*)$", re.IGNORECASE | re.DOTALL
)


@dataclass(frozen=True)
class SavepointStatement:
    """``SAVEPOINT name``, ``RELEASE [SAVEPOINT] name`` or ``ROLLBACK [TRANSACTION] TO
    [SAVEPOINT] name``."""

    action: Literal["SAVEPOINT", "RELEASE", "ROLLBACK TO"]
    name: str


@dataclass(frozen=True)
class Prepared:
    """A parsed statement: its tree (shared, never changed after preparing) and parameters."""

    ast: exp.Expression
    explain: bool
    param_count: int
    param_names: tuple[str, ...]  # non-empty for :name parameters
    #: an INSERT whose text repeated one row of ``?`` markers this many times (multi-row
    #: VALUES, as SQLAlchemy sends executemany): ``ast`` holds the row once
    value_rows: int = 1
    #: set for the savepoint statements (``ast`` is then a placeholder Command)
    savepoint: SavepointStatement | None = None

    @functools.cached_property
    def is_ddl(self) -> bool:
        return isinstance(self.ast, _DDL)

    @functools.cached_property
    def transaction_control(self) -> str | None:
        """BEGIN, COMMIT or ROLLBACK for those statements (savepoints: :attr:`savepoint`)."""
        ast = self.ast
        if isinstance(ast, exp.Transaction):
            return "BEGIN"
        if isinstance(ast, exp.Commit):
            return "COMMIT"
        if isinstance(ast, exp.Rollback):
            return "ROLLBACK"
        return None

    @functools.cached_property
    def is_query(self) -> bool:
        return isinstance(
            self.ast, exp.Select | exp.Union | exp.Except | exp.Intersect | exp.Values
        )


_QMARK = "__strata_q"
#: tokens whose text is a quoted name or a string, never a keyword
_QUOTED = {TokenType.IDENTIFIER, TokenType.STRING}
#: what parses as a statement (sqlglot also parses bare expressions, e.g. "SELEC x")
_STATEMENTS = (
    exp.Query,
    exp.DML,
    exp.DDL,
    exp.Drop,
    exp.Alter,
    exp.Comment,
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
        out.append(f":{_QMARK}{i} ")  # the space: a name after ``?`` (``?abc``) stays apart
        last = tok.end + 1
    out.append(sql[last:])
    return "".join(out), len(marks)


_VALUES = re.compile(r"\bVALUES\s*(\(\s*\?(?:\s*,\s*\?)*\s*\))", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_CONFLICTS = re.compile(r"\bON\s+CONFLICT\b.*\bON\s+CONFLICT\b", re.IGNORECASE | re.DOTALL)
_MORE_ROW = re.compile(r"\s*,\s*(\(\s*\?(?:\s*,\s*\?)*\s*\))")
#: what may follow the rows (without parameters): an upsert or RETURNING clause
_TAIL = re.compile(r"(ON\s+CONFLICT|RETURNING)\b", re.IGNORECASE)


def _repeated_row(sql: str) -> tuple[str, int] | None:
    """For ``INSERT … VALUES (?, ?), (?, ?), …`` (one row of markers repeated, then perhaps
    an ON CONFLICT or RETURNING clause without markers): the statement with the row once, and
    how many rows it had; None for anything else."""
    if sql.lstrip()[:6].upper() != "INSERT" or "--" in sql or "/*" in sql:
        return None  # comments could hide or fake the rows: parse it whole
    found = list(_VALUES.finditer(sql))
    if not found:
        return None
    m = found[-1]
    row = _SPACE.sub("", m.group(1))
    rows, end = 1, m.end()
    while (more := _MORE_ROW.match(sql, end)) is not None and _SPACE.sub("", more[1]) == row:
        rows, end = rows + 1, more.end()
    tail = sql[end:].strip().rstrip(";").rstrip()
    if rows == 1 or (tail and (_TAIL.match(tail) is None or "?" in tail)):
        return None
    return sql[: m.end()] + (" " + tail if tail else ""), rows


@functools.lru_cache(maxsize=1024)
def prepare(sql: str) -> Prepared:
    """Parse ``sql`` (one statement). ``ProgrammingError`` for bad SQL, with sqlglot's message
    and position; ``NotSupportedError`` for statements Strata does not run."""
    repeated = _repeated_row(sql)
    if repeated is not None:
        one = _prepare(repeated[0])
        values = one.ast.expression if isinstance(one.ast, exp.Insert) else None
        if isinstance(values, exp.Values) and len(values.expressions) == 1 and not one.explain:
            return replace(one, param_count=one.param_count * repeated[1], value_rows=repeated[1])
    return _prepare(sql)


_SAVEPOINT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_SAVEPOINT_WORDS = re.compile(r"\b(SAVEPOINT|RELEASE|ROLLBACK)\b", re.IGNORECASE)


def _savepoint_statement(sql: str) -> SavepointStatement | None:
    """The savepoint statement ``sql`` is, recognised from its tokens (sqlglot reads
    ``SAVEPOINT x`` as an alias and cannot parse ``RELEASE SAVEPOINT x``); None for any other
    statement. ``ProgrammingError`` for one that starts like a savepoint statement but is not."""
    if not _SAVEPOINT_WORDS.search(sql):
        return None  # the common case, without tokenizing
    try:
        tokens = sqlglot.tokenize(sql, read="sqlite")
    except SqlglotError:
        return None  # the parser reports it
    if tokens and tokens[-1].token_type == TokenType.SEMICOLON:
        tokens = tokens[:-1]
    words = [t.text.upper() if t.token_type not in _QUOTED else "" for t in tokens]
    action: Literal["SAVEPOINT", "RELEASE", "ROLLBACK TO"]
    if words[:1] == ["SAVEPOINT"]:
        action, rest = "SAVEPOINT", tokens[1:]
    elif words[:1] == ["RELEASE"]:
        action, rest = "RELEASE", tokens[1:]
    elif words[:2] == ["ROLLBACK", "TO"]:
        action, rest = "ROLLBACK TO", tokens[2:]
    elif words[:3] == ["ROLLBACK", "TRANSACTION", "TO"]:
        action, rest = "ROLLBACK TO", tokens[3:]
    else:
        return None
    if action != "SAVEPOINT" and len(rest) == 2 and rest[0].text.upper() == "SAVEPOINT":
        rest = rest[1:]  # the optional keyword (alone, it is the name, as in SQLite)
    if len(rest) != 1 or not (
        rest[0].token_type in _QUOTED or _SAVEPOINT_NAME.fullmatch(rest[0].text)
    ):
        raise ProgrammingError(f"syntax error: expected {action} name: {sql[:60]!r}")
    return SavepointStatement(action, rest[0].text)


@functools.lru_cache(maxsize=1024)
def _prepare(sql: str) -> Prepared:
    explain = False
    m = _EXPLAIN.match(sql)
    if m:
        explain, sql = True, sql[m.end() :]
    savepoint = _savepoint_statement(sql)
    if savepoint is not None:
        if explain:
            raise NotSupportedError(f"EXPLAIN of {savepoint.action} is not supported")
        placeholder = exp.Command(
            this=savepoint.action, expression=exp.to_identifier(savepoint.name)
        )
        return Prepared(placeholder, False, 0, (), savepoint=savepoint)
    refused = refusal(sql)
    if refused is not None:
        raise NotSupportedError(refused)
    sql, qmarks = _number_qmarks(sql)
    comment_null = _COMMENT_NULL.match(sql)
    if comment_null is not None:
        sql = comment_null.expand(r"\1''\2")
    try:
        statements = [s for s in sqlglot.parse(sql, read="sqlite") if s is not None]
    except SqlglotError as exc:
        if _CONFLICTS.search(sql):
            raise NotSupportedError("several ON CONFLICT clauses are not supported") from exc
        raise ProgrammingError(f"syntax error: {exc}") from exc
    if not statements:
        raise ProgrammingError("empty statement")
    if len(statements) > 1:
        raise ProgrammingError("you can only execute one statement at a time")
    ast = statements[0]
    if comment_null is not None and isinstance(ast, exp.Comment):
        ast.set("expression", exp.Null())
    if isinstance(ast, exp.Create):
        ast.meta["sql"] = sql  # the text as written, for CHECK constraints (renames.check_source)
    if isinstance(ast, exp.Command):
        raise NotSupportedError(f"unsupported statement: {ast.sql()[:60]}")
    if not isinstance(ast, _STATEMENTS):
        raise ProgrammingError(f"syntax error: not a statement: {sql[:60]!r}")
    for table in ast.find_all(exp.Table):
        if table.catalog:  # one database: names are table or schema.table
            raise NotSupportedError(f"database-qualified names are not supported: {table.sql()}")
    names: list[str] = []
    for node in ast.find_all(exp.Placeholder):
        name = str(node.this or "")
        if name.startswith(_QMARK):
            index = name[len(_QMARK) :]
            if not index.isascii() or not index.isdigit():
                raise ProgrammingError(f"unsupported parameter name :{name}")
            node.meta["param_index"] = int(index)
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
        return _blobs_as_bytes([params[n] for n in prepared.param_names])
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
    return _blobs_as_bytes(values)


def _blobs_as_bytes(values: list[Any]) -> list[Any]:  # Any: values to bind
    """``values`` with every ``bytearray`` and ``memoryview`` (BLOBs, as sqlite3 binds them)
    as ``bytes``, the one BLOB type evaluation knows (and a hashable one)."""
    for i, v in enumerate(values):
        if isinstance(v, bytearray | memoryview):
            values[i] = bytes(v)
    return values


def stored_text(node: exp.Expression) -> str:
    """The SQL text kept in the catalog for ``node`` (a view's query, a CHECK): sqlglot's own
    dialect, which keeps every type as written (its SQLite output turns ``CAST(x AS DATE)``
    into ``DATE(x)``); read back with :func:`parse_stored`."""
    return node.sql()


@functools.lru_cache(maxsize=1024)
def parse_stored(sql: str) -> exp.Expression:
    """A tree of SQL text kept in the catalog (a shared tree: never change it)."""
    try:
        return cast(exp.Expression, sqlglot.parse_one(sql, read="sqlite"))
    except SqlglotError as exc:
        raise ProgrammingError(f"stored SQL does not parse: {sql[:60]!r}: {exc}") from exc
