"""``dialect.connect(..., options=kvengine.Options(...))``: the engine's tunables, applied by
the connection that opens the engine (the SQL simulation opens small-memtable engines over its
fault-injecting stores this way)."""

from __future__ import annotations

import threading

import dialect
from kvengine import Options, Store
from kvengine.background import ManualClock
from kvengine.store import MemoryStore
from tests.sim.harness import BACKGROUND_THREADS


def test_connect_passes_engine_options() -> None:
    store = Store(MemoryStore())
    conn = dialect.connect(store, options=Options(l0_sst_size=4096), max_staleness_ms=50)
    try:
        engine = conn._database.db
        assert engine.options.l0_sst_size == 4096
        assert engine.options.max_staleness_ms == 50  # the keyword wins over the options
        conn.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
        rows = [(i, "x" * 100) for i in range(100)]
        conn.cursor().executemany("INSERT INTO t VALUES (?, ?)", rows)
        conn.commit()
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (100,)
    finally:
        conn.close()


def test_connect_without_options_uses_the_defaults() -> None:
    conn = dialect.connect(Store(MemoryStore()), max_staleness_ms=0)
    try:
        assert conn._database.db.options == Options()
    finally:
        conn.close()


def test_connect_opens_a_manual_engine_on_a_given_clock() -> None:
    """``clock`` and ``manual`` go to the engine (the SQL simulation steps its engines'
    background work): no background thread; the connections to one store object share the
    engine; its units run when stepped, on the given clock."""
    clock = ManualClock()
    memory = MemoryStore(clock=clock.time)
    store = Store(memory)
    before = set(threading.enumerate())
    conn = dialect.connect(store, options=Options(l0_sst_size=4096), clock=clock, manual=True)
    other = dialect.connect(store)
    reader = dialect.connect(Store(memory), read_only=True, clock=clock, manual=True)
    try:
        engine = conn._database.db
        assert engine.background.manual and other._database.db is engine
        assert reader._database.db.background.manual
        assert not {t.name for t in set(threading.enumerate()) - before} & BACKGROUND_THREADS
        conn.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
        conn.cursor().executemany(
            "INSERT INTO t VALUES (?, ?)", [(i, "x" * 100) for i in range(100)]
        )
        conn.commit()
        flushed = engine.stats()["flushed_ssts"]
        clock.advance(1.0)
        engine.background.step("flush")
        assert engine.stats()["flushed_ssts"] > flushed
        reader._database.db.background.step("poll")
        assert reader.execute("SELECT count(*) FROM t").fetchone() == (100,)
    finally:
        for c in (conn, other, reader):
            c.close()
