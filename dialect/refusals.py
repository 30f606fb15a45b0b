"""Statements Strata refuses, recognised from their first words before they are parsed: some do
not parse as one statement (a trigger body holds several), and the rest should be named in the
error rather than reported as a syntax error or run as something else (docs/sql.md)."""

from __future__ import annotations

import re

import sqlglot
from sqlglot import TokenType
from sqlglot.errors import SqlglotError

_EXPLAIN = re.compile(r"^\s*EXPLAIN(\s+QUERY\s+PLAN)?\s+", re.IGNORECASE)
#: token types whose text is data or a quoted name, never a keyword
_NOT_WORDS = {TokenType.STRING, TokenType.IDENTIFIER, TokenType.NUMBER}

#: pragmas whose argument in parentheses names what to report on, not a value to set
_PRAGMA_QUERIES = {
    "TABLE_INFO",
    "TABLE_XINFO",
    "TABLE_LIST",
    "INDEX_LIST",
    "INDEX_INFO",
    "INDEX_XINFO",
    "FOREIGN_KEY_LIST",
    "FOREIGN_KEY_CHECK",
    "INTEGRITY_CHECK",
    "QUICK_CHECK",
}


def _words(sql: str, limit: int) -> list[str]:
    """The first ``limit`` tokens of ``sql`` as upper-case words (quoted names and literals
    as ''); comments are skipped."""
    words: list[str] = []
    for token in sqlglot.tokenize(sql, read="sqlite"):
        if len(words) == limit:
            break
        words.append("" if token.token_type in _NOT_WORDS else token.text.upper())
    return words


def refusal(sql: str) -> str | None:
    """The ``NotSupportedError`` message for ``sql`` if it is a statement Strata refuses
    (CREATE/DROP TRIGGER, virtual tables, ATTACH/DETACH, VACUUM,
    REINDEX, PRAGMA writes), naming what is refused; None otherwise,
    including for SQL that does not tokenize (the parser reports that)."""
    m = _EXPLAIN.match(sql)
    try:
        words = _words(sql[m.end() :] if m else sql, 12)
    except SqlglotError:
        return None
    if not words:
        return None
    first = words[0]
    if first == "CREATE":
        rest = words[1:]
        temporary = bool(rest) and rest[0] in ("TEMP", "TEMPORARY")
        if temporary:
            rest = rest[1:]
        kind = rest[0] if rest else ""
        if kind == "TRIGGER":
            return "triggers are not supported (CREATE TRIGGER)"
        if kind == "VIRTUAL":
            return "virtual tables are not supported (CREATE VIRTUAL TABLE)"
        return None
    if first == "DROP" and words[1:2] == ["TRIGGER"]:
        return "triggers are not supported (DROP TRIGGER)"
    if first in ("ATTACH", "DETACH"):
        return f"attached databases are not supported ({first})"
    if first in ("VACUUM", "REINDEX"):
        return f"{first} is not supported: the engine compacts and indexes on its own"
    if first == "PRAGMA":
        name = words[3] if words[2:3] == ["."] and len(words) > 3 else "".join(words[1:2])
        if "=" in words or ("(" in words and name not in _PRAGMA_QUERIES):
            return f"PRAGMA writes are not supported (PRAGMA {name.lower()})"
    return None
