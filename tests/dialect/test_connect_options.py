"""``dialect.connect(..., options=kvengine.Options(...))``: the engine's tunables, applied by
the connection that opens the engine (the SQL simulation opens small-memtable engines over its
fault-injecting stores this way)."""

from __future__ import annotations

import dialect
from kvengine import Options, Store
from kvengine.store import MemoryStore


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
