"""The key-value workloads of ``strata bench kv``, after LevelDB's db_bench.

=====================  ===================================================================
``fillseq``            put keys 0, 1, 2, … in order into an empty database
``fillrandom``         put random keys of the key space into an empty database
``overwrite``          put random existing keys (the key space preloaded)
``readrandom``         get random existing keys (block cache warm)
``readrandom-cold``    get random existing keys with no block cache (index and filter cached)
``readwhilewriting``   ``readrandom`` while one more thread puts random keys (durably) nonstop
``scan``               read ``scan_length`` pairs from a random existing key
``mixed``              random keys: ``read_percent`` % gets, the rest puts
=====================  ===================================================================

Each workload runs on a database of its own (a fresh store prefix): setup (preloading ``num``
keys and flushing them to SSTs; for the reading workloads but ``readrandom-cold``, reading
every block once so the block cache is warm) is not measured; the timed phase is followed by
a flush of what it wrote, whose requests count for the workload but not its latency. Keys are
decimal numbers zero-padded to ``key_size`` bytes; values are pseudo-random bytes (about as
compressible as random data).
"""

from __future__ import annotations

import itertools
import random
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from kvengine.bench.profiles import NO_LATENCY, LatencyModel
from kvengine.bench.recorder import run_timed
from kvengine.bench.report import Result
from kvengine.db import DB
from kvengine.options import Options
from kvengine.store.instrumented import StoreStats
from kvengine.store.memory import MemoryStore
from kvengine.store.opener import Store, open_store

WORKLOADS = (
    "fillseq",
    "fillrandom",
    "overwrite",
    "readrandom",
    "readrandom-cold",
    "readwhilewriting",
    "scan",
    "mixed",
)
_PRELOADED = {"overwrite", "readrandom", "readrandom-cold", "readwhilewriting", "scan", "mixed"}
_WARMED = {"readrandom", "readwhilewriting", "scan", "mixed"}
_VALUE_POOL_BYTES = 1 << 20


def changed_options(options: Options) -> dict[str, Any]:
    """The fields of ``options`` that differ from the defaults (``--set``), by name."""
    default = Options()
    return {
        f.name: getattr(options, f.name)
        for f in fields(Options)
        if getattr(options, f.name) != getattr(default, f.name)
    }


@dataclass(frozen=True)
class KVConfig:
    """What every KV workload of a run shares. ``ops`` None: ``num`` operations; a workload
    also stops after ``duration_s`` when set."""

    num: int = 10_000
    ops: int | None = None
    key_size: int = 16
    value_size: int = 100
    threads: int = 1
    durable: bool = False
    duration_s: float | None = None
    seed: int = 0
    scan_length: int = 100
    read_percent: int = 50
    exclusive: bool = True
    latency: LatencyModel = NO_LATENCY
    url: str | None = None
    storage_options: Mapping[str, Any] | None = None
    engine_options: Options = field(default_factory=Options)

    def __post_init__(self) -> None:
        if self.num < 1:
            raise ValueError("num must be >= 1")
        if len(str(self.num - 1)) > self.key_size:
            raise ValueError(f"key_size {self.key_size} is too small for {self.num:,} keys")
        if self.value_size < 0 or not 0 <= self.read_percent <= 100:
            raise ValueError("value_size must be >= 0 and read_percent within [0, 100]")

    def describe(self) -> dict[str, Any]:
        """The configuration as JSON-able values."""
        return {
            "num": self.num,
            "ops": self.ops if self.ops is not None else self.num,
            "key_size": self.key_size,
            "value_size": self.value_size,
            "threads": self.threads,
            "durable": self.durable,
            "duration_s": self.duration_s,
            "seed": self.seed,
            "mode": "exclusive" if self.exclusive else "shared",
            "latency": self.latency.name,
            "latency_ms": dict(self.latency.ms),
            "url": self.url or "memory://",
            "engine_options": changed_options(self.engine_options),
        }


class _Data:
    """Keys, values and per-thread random streams for one workload."""

    def __init__(self, cfg: KVConfig, threads: int) -> None:
        self.cfg = cfg
        pool = random.Random(cfg.seed).randbytes(_VALUE_POOL_BYTES + cfg.value_size)
        self._pool = memoryview(pool)
        self.rngs = [random.Random(cfg.seed * 1_000_003 + t) for t in range(threads)]
        self.written = [0] * threads

    def key(self, i: int) -> bytes:
        return str(i).zfill(self.cfg.key_size).encode()

    def value(self, i: int) -> bytes:
        offset = (i * 7919) % _VALUE_POOL_BYTES
        return bytes(self._pool[offset : offset + self.cfg.value_size])

    def random_index(self, t: int) -> int:
        return self.rngs[t].randrange(self.cfg.num)

    def put(self, db: DB, t: int, i: int) -> None:
        key, value = self.key(i), self.value(i)
        db.put(key, value, durable=self.cfg.durable)
        self.written[t] += len(key) + len(value)


def _open(cfg: KVConfig, name: str) -> Store:
    wrap = cfg.latency.wrapper(cfg.seed)
    if cfg.url is None:  # an anonymous bucket, freed with the store: RSS is this workload's
        return Store(MemoryStore(f"memory://bench-{name}"), wrap=wrap)
    return open_store(f"{cfg.url.rstrip('/')}/{name}", wrap=wrap, **(cfg.storage_options or {}))


def _preload(db: DB, data: _Data) -> None:
    for i in range(data.cfg.num):
        db.put(data.key(i), data.value(i), durable=False)
    db.flush()


def run_workload(
    name: str,
    cfg: KVConfig,
    *,
    keep_timeline: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[Result, StoreStats]:
    """Run one workload on a fresh database; returns its result and the store's counters at
    the end (setup included). Raises ValueError for an unknown workload."""
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}")
    threads = cfg.threads
    store = _open(cfg, f"{uuid.uuid4().hex[:12]}-{name}")
    writer_threads = threads + (1 if name == "readwhilewriting" else 0)
    data = _Data(cfg, writer_threads)
    options = cfg.engine_options
    db = DB.open(store, options=options, exclusive=cfg.exclusive)
    reader: DB | None = None
    stop_writer = threading.Event()
    background: threading.Thread | None = None
    try:
        if name in _PRELOADED:
            _preload(db, data)
        if name in _WARMED:
            for _ in db.scan():
                pass  # every block read once: the block cache is warm
        if name == "readrandom-cold":
            cold = replace(options, block_cache_bytes=0, max_staleness_ms=3_600_000)
            reader = DB.open(store, options=cold, read_only=True)
        op = _operation(name, db if reader is None else reader, data)
        if name == "readwhilewriting":

            def write_nonstop() -> None:
                t = threads  # the writer's own random stream and byte counter
                while not stop_writer.is_set():
                    # Durable: a get waits for this process's earlier non-durable writes
                    # to be stored, so a nonstop non-durable writer would stall the readers.
                    k = data.random_index(t)
                    key, value = data.key(k), data.value(k)
                    db.put(key, value, durable=True)
                    data.written[t] += len(key) + len(value)

            background = threading.Thread(target=write_nonstop, daemon=True)
        before = store.stats()
        if background is not None:
            background.start()
        timing = run_timed(
            op,
            threads=threads,
            max_ops=cfg.ops if cfg.ops is not None else cfg.num,
            duration_s=cfg.duration_s,
            keep_timeline=keep_timeline,
            progress=progress,
        )
        stop_writer.set()
        if background is not None:
            background.join()
        if sum(data.written):
            db.flush()
        stats = store.stats() - before
    finally:
        stop_writer.set()
        if background is not None and background.is_alive():
            background.join()
        if reader is not None:
            reader.close()
        db.close()
        store.close()
    result = Result(
        "strata",
        name,
        timing.ops,
        timing.seconds,
        timing.histogram,
        stats,
        user_bytes_written=sum(data.written),
        latency_unit="scan" if name == "scan" else "operation",
        timeline=timing.timeline,
    )
    return result, store.stats()


def _operation(name: str, db: DB, data: _Data) -> Callable[[int, int], object]:
    """The timed call of workload ``name``: ``op(thread, op_index)``."""
    cfg = data.cfg
    if name == "fillseq":
        return lambda t, i: data.put(db, t, i % cfg.num)
    if name in ("fillrandom", "overwrite"):
        return lambda t, i: data.put(db, t, data.random_index(t))
    if name in ("readrandom", "readrandom-cold", "readwhilewriting"):
        return lambda t, i: db.get(data.key(data.random_index(t)))
    if name == "scan":
        return lambda t, i: sum(
            1 for _ in itertools.islice(db.scan(data.key(data.random_index(t))), cfg.scan_length)
        )

    def mixed(t: int, i: int) -> object:
        k = data.random_index(t)
        if data.rngs[t].random() * 100 < cfg.read_percent:
            return db.get(data.key(k))
        data.put(db, t, k)
        return None

    return mixed
