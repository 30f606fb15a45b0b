"""The SQL workloads of ``strata bench sql``: the same SQLAlchemy code run on sqlite3 (a local
file) and on Strata (any store, with modelled latency), one workload at a time, each beside
the other with the ratio of their time per operation.

===================  ==================================================================
``insert``           Core ``executemany`` insert of ``rows`` rows, ``batch`` per commit
``to_sql``           pandas ``DataFrame.to_sql`` of ``rows`` rows (``batch`` per chunk)
``read_sql``         pandas ``read_sql`` of that frame
``pk-select``        primary-key selects of random rows
``range-select``     selects of ``range_rows`` consecutive ids from a random one
``update``           one-row updates by primary key, a commit each
``orm-write``        ORM unit of work: load an object, change it, add a new one, commit
``orm-read``         ORM ``Session.get`` of a random object in a new session
===================  ==================================================================

Setup (the tables, and the rows a workload reads when an earlier one has not written them)
is not measured. ``insert``, ``to_sql`` and ``read_sql`` count rows as operations (latency
per batch or call) and run on one thread; the others run ``ops`` operations or until
``duration_s``, from ``threads`` threads, each with its own connection (or sessions). A write
that meets a conflict (Strata's ``ConflictError``, sqlite3's "database is locked") is run
again, as an application would, and counted in the result's ``retries``.
"""

from __future__ import annotations

import itertools
import os
import random
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import tenacity
from sqlalchemy import orm

import dialect
import kvengine
from kvengine.bench.profiles import NO_LATENCY, LatencyModel
from kvengine.bench.recorder import run_timed
from kvengine.bench.report import Report, Result
from kvengine.bench.workloads import changed_options

SQL_WORKLOADS = (
    "insert",
    "to_sql",
    "read_sql",
    "pk-select",
    "range-select",
    "update",
    "orm-write",
    "orm-read",
)
_NEEDS_PANDAS = ("to_sql", "read_sql")
#: Times one operation is tried when it keeps meeting write conflicts (threads > 1).
MAX_RETRIES = 100


def _is_conflict(exc: BaseException) -> bool:
    """A write conflict: the transaction can be run again as it was."""
    if not isinstance(exc, sa.exc.OperationalError):
        return False
    if isinstance(exc.orig, dialect.ConflictError):
        return True
    return isinstance(exc.orig, sqlite3.OperationalError) and "locked" in str(exc.orig)


class _Base(orm.DeclarativeBase):
    pass


class OrmItem(_Base):
    """The ORM workloads' mapped class."""

    __tablename__ = "orm_items"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(40))
    price: orm.Mapped[float]


_METADATA = sa.MetaData()
ITEMS = sa.Table(
    "items",
    _METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(40)),
    sa.Column("price", sa.Float),
    sa.Column("qty", sa.Integer),
)


@dataclass(frozen=True)
class SQLConfig:
    """What the SQL workloads of a run share."""

    rows: int = 10_000
    ops: int = 1_000
    batch: int = 1_000
    range_rows: int = 100
    threads: int = 1
    duration_s: float | None = None
    durable: bool = True
    exclusive: bool = False
    seed: int = 0
    latency: LatencyModel = NO_LATENCY
    url: str | None = None
    storage_options: Mapping[str, Any] | None = None
    engine_options: kvengine.Options = field(default_factory=kvengine.Options)

    def describe(self) -> dict[str, Any]:
        """The configuration as JSON-able values."""
        return {
            "rows": self.rows,
            "ops": self.ops,
            "batch": self.batch,
            "range_rows": self.range_rows,
            "threads": self.threads,
            "duration_s": self.duration_s,
            "durable": self.durable,
            "mode": "exclusive" if self.exclusive else "shared",
            "seed": self.seed,
            "latency": self.latency.name,
            "latency_ms": dict(self.latency.ms),
            "url": self.url or "memory://",
            "engine_options": changed_options(self.engine_options),
        }


class _System:
    """One database under test through SQLAlchemy, with what its workloads loaded so far."""

    def __init__(self, name: str, engine: sa.Engine, store: kvengine.Store | None, cfg: SQLConfig):
        self.name, self.engine, self.store, self.cfg = name, engine, store, cfg
        self.loaded: set[str] = set()
        self.retries = 0  # write conflicts retried (threads > 1)
        self._lock = threading.Lock()
        self.orm_ids = itertools.count(cfg.rows)  # next() is atomic: threads share it
        self.rngs = [random.Random(cfg.seed * 1_000 + t) for t in range(cfg.threads)]
        _METADATA.create_all(engine)
        _Base.metadata.create_all(engine)

    def retrying(self, attempt: Callable[[], None], undo: Callable[[], None] | None = None) -> None:
        """Run ``attempt`` until it commits, as an application would: a write conflict
        (Strata's ``ConflictError``, sqlite3's "database is locked") is counted in
        ``retries`` and tried again (at most ``MAX_RETRIES`` times in all); any other error
        is raised."""

        def failed(state: tenacity.RetryCallState) -> None:
            if undo is not None:
                undo()
            with self._lock:
                self.retries += 1

        tenacity.Retrying(
            retry=tenacity.retry_if_exception(_is_conflict),
            stop=tenacity.stop_after_attempt(MAX_RETRIES),
            after=failed,
            reraise=True,
        )(attempt)

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"id": i, "name": f"item-{i}", "price": i * 0.5, "qty": i % 7}
            for i in range(self.cfg.rows)
        ]

    def ensure(self, what: str) -> None:
        """Load ``items``, ``frame`` or ``orm_items`` unless a workload already did."""
        if what in self.loaded:
            return
        if what == "items":
            with self.engine.begin() as conn:
                conn.execute(ITEMS.insert(), self.rows())
        elif what == "frame":
            _frame(self.cfg.rows, self.cfg.seed).to_sql(
                "frame", self.engine, index=False, chunksize=self.cfg.batch
            )
        elif what == "orm_items":
            with self.engine.begin() as conn:
                conn.execute(
                    sa.insert(OrmItem),
                    [{"id": i, "name": f"o-{i}", "price": 1.0} for i in range(self.cfg.rows)],
                )
        self.loaded.add(what)


def _frame(rows: int, seed: int) -> Any:  # Any: a pandas DataFrame (pandas is optional)
    import numpy as np
    import pandas as pd

    gen = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "x": gen.normal(size=rows),
            "label": [f"l{i % 100}" for i in range(rows)],
            "when": pd.date_range("2026-01-01", periods=rows, freq="s"),
        }
    )


def _workload(
    name: str, system: _System, keep_timeline: bool, progress: Callable[[int], None] | None
) -> Result:
    cfg, engine = system.cfg, system.engine
    threads = 1  # the bulk workloads are one call from one thread
    unit = "operation"
    max_ops = cfg.ops
    counted_ops: int | None = None  # rows, for the bulk workloads
    op: Callable[[int, int], object]
    if name == "insert":
        if "items" in system.loaded:  # a second run: start from an empty table
            with engine.begin() as conn:
                conn.execute(ITEMS.delete())
        data = system.rows()
        batches = [data[i : i + cfg.batch] for i in range(0, len(data), cfg.batch)]

        def insert(t: int, i: int) -> None:
            with engine.begin() as conn:
                conn.execute(ITEMS.insert(), batches[i])

        op, max_ops, unit = insert, len(batches), f"batch of {cfg.batch} rows"
        system.loaded.add("items")
    elif name == "to_sql":
        frame = _frame(cfg.rows, cfg.seed)

        def to_sql(t: int, i: int) -> None:
            frame.to_sql("frame", engine, index=False, chunksize=cfg.batch, if_exists="replace")

        op, max_ops, unit, counted_ops = to_sql, 1, "to_sql call", cfg.rows
        system.loaded.add("frame")
    elif name == "read_sql":
        import pandas as pd

        system.ensure("frame")

        def read_sql(t: int, i: int) -> None:
            got = pd.read_sql("SELECT * FROM frame", engine)
            assert len(got) == cfg.rows, (len(got), cfg.rows)

        op, max_ops, unit, counted_ops = read_sql, 1, "read_sql call", cfg.rows
    elif name in ("pk-select", "range-select", "update"):
        system.ensure("items")
        op, threads = _items_op(name, system), cfg.threads
    else:
        system.ensure("orm_items")
        op, threads = _orm_op(name, system), cfg.threads
    before = system.store.stats() if system.store else None
    retries_before = system.retries
    timing = run_timed(
        op,
        threads=threads,
        max_ops=max_ops,
        duration_s=cfg.duration_s if counted_ops is None and name != "insert" else None,
        keep_timeline=keep_timeline,
        progress=progress,
    )
    ops = timing.ops
    if name == "insert":
        ops = min(timing.ops * cfg.batch, cfg.rows)
    elif counted_ops is not None:
        ops = counted_ops
    return Result(
        system.name,
        name,
        ops,
        timing.seconds,
        timing.histogram,
        system.store.stats() - before if system.store and before else None,
        latency_unit=unit,
        timeline=timing.timeline,
        retries=system.retries - retries_before,
    )


def _items_op(name: str, system: _System) -> Callable[[int, int], object]:
    cfg, rngs = system.cfg, system.rngs
    # One connection per thread, held for the run, as an application's pooled connections.
    conns = [system.engine.connect() for _ in range(cfg.threads)]
    if name == "pk-select":
        query = sa.select(ITEMS.c.name, ITEMS.c.price).where(ITEMS.c.id == sa.bindparam("k"))
        return lambda t, i: conns[t].execute(query, {"k": rngs[t].randrange(cfg.rows)}).one()
    if name == "range-select":
        span = sa.select(ITEMS).where(
            ITEMS.c.id >= sa.bindparam("lo"), ITEMS.c.id < sa.bindparam("hi")
        )

        def range_select(t: int, i: int) -> object:
            lo = rngs[t].randrange(max(1, cfg.rows - cfg.range_rows))
            return conns[t].execute(span, {"lo": lo, "hi": lo + cfg.range_rows}).all()

        return range_select
    change = sa.update(ITEMS).where(ITEMS.c.id == sa.bindparam("k")).values(price=ITEMS.c.price + 1)

    def update(t: int, i: int) -> None:
        conn, key = conns[t], rngs[t].randrange(cfg.rows)

        def attempt() -> None:
            conn.execute(change, {"k": key})
            conn.commit()

        system.retrying(attempt, conn.rollback)

    return update


def _orm_op(name: str, system: _System) -> Callable[[int, int], object]:
    cfg, rngs = system.cfg, system.rngs
    sessions = orm.sessionmaker(system.engine, expire_on_commit=False)
    if name == "orm-read":

        def read(t: int, i: int) -> object:
            with sessions() as s:
                item = s.get(OrmItem, rngs[t].randrange(cfg.rows))
                assert item is not None
                return item.price

        return read

    def write(t: int, i: int) -> None:
        key, new_id = rngs[t].randrange(cfg.rows), next(system.orm_ids)

        def attempt() -> None:
            with sessions.begin() as s:
                item = s.get(OrmItem, key)
                assert item is not None
                item.price += 1
                s.add(OrmItem(id=new_id, name="new", price=0.0))

        system.retrying(attempt)

    return write


@contextmanager
def systems(cfg: SQLConfig) -> Iterator[tuple[_System, _System]]:
    """sqlite3 on a file in a temporary directory and Strata on a fresh database (in memory
    by default, under ``cfg.url`` when set) with ``cfg.latency`` under its store."""
    with tempfile.TemporaryDirectory(prefix="strata-bench-") as tmp:
        lite = sa.create_engine(f"sqlite:///{os.path.join(tmp, 'bench.db')}")
        name = f"sql-{uuid.uuid4().hex[:12]}"
        target = f"memory://bench-{name}" if cfg.url is None else f"{cfg.url.rstrip('/')}/{name}"
        store = kvengine.open_store(
            target, wrap=cfg.latency.wrapper(cfg.seed), **(cfg.storage_options or {})
        )

        def connect() -> dialect.Connection:
            return dialect.connect(
                store, durable=cfg.durable, exclusive=cfg.exclusive, options=cfg.engine_options
            )

        strata = sa.create_engine("strata+memory://bench", creator=connect)
        try:
            yield _System("sqlite3", lite, None, cfg), _System("strata", strata, store, cfg)
        finally:
            lite.dispose()
            strata.dispose()
            store.close()


def run_sql(
    workloads: list[str],
    cfg: SQLConfig,
    *,
    keep_timeline: bool = False,
    start: Callable[[str, int | None], Callable[[int], None]] | None = None,
) -> Report:
    """Run ``workloads`` (names of :data:`SQL_WORKLOADS`) on sqlite3 and on Strata; the
    report has a row per (workload, system), Strata's with its ratio to sqlite3."""
    report = Report("sql", {"workloads": workloads, **cfg.describe()})
    with systems(cfg) as (lite, strata):
        for name in workloads:
            pair = []
            for system in (lite, strata):
                total = cfg.ops if name not in ("insert", *_NEEDS_PANDAS) else None
                update = start(f"{system.name} {name}", total) if start else None
                pair.append(_workload(name, system, keep_timeline, update))
            base, ours = pair
            if base.ops and ours.ops and base.seconds > 0:
                ours.ratio_vs_sqlite = (ours.seconds / ours.ops) / (base.seconds / base.ops)
            report.results += pair
        assert strata.store is not None
        report.store_requests = dict(strata.store.stats().requests)
    return report
