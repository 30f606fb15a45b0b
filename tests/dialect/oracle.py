"""sqlite3 as the oracle: run the same SQL on a Strata connection and a sqlite3 one."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import dialect

#: (sqlite3, Strata), in that order
Pair = tuple[sqlite3.Connection, dialect.Connection]


@contextmanager
def open_pair(*setup: str) -> Iterator[Pair]:
    """A fresh sqlite3 database in memory and a fresh Strata one on the memory store, with
    the ``setup`` statements run on both and committed."""
    oracle = sqlite3.connect(":memory:")
    strata = dialect.connect(f"memory://{uuid.uuid4().hex}")
    for db in (oracle, strata):
        for sql in setup:
            db.execute(sql)
        db.commit()
    try:
        yield oracle, strata
    finally:
        oracle.close()
        strata.close()


def both(pair: Pair, sql: str, *params: Any) -> Any:
    """Run ``sql`` on both; return Strata's rows after checking they equal sqlite's, in
    order."""
    oracle, strata = pair
    expected = oracle.execute(sql, params).fetchall()
    cur = strata.execute(sql, params)
    got = cur.fetchall() if cur.description is not None else []
    assert [tuple(r) for r in got] == expected, sql
    return got


def both_fail(pair: Pair, sql: str, message: str | None = None) -> None:
    """``sql`` fails on both (with ``message`` in each error, if given)."""
    oracle, strata = pair
    with pytest.raises(sqlite3.Error, match=message):
        oracle.execute(sql).fetchall()
    with pytest.raises(dialect.Error, match=message):
        strata.execute(sql).fetchall()
