"""The simulation over many seeds: ``STRATA_SIM_SEEDS`` seeds (200) of ``STRATA_SIM_STEPS``
steps (20) each, of the KV layer (harness.py) and of the SQL layer (sql.py), from ``--seed N``
(or ``$STRATA_SEED``, or a random base, printed). A failure names its seed;
``python -m tests.sim --seed N`` (``--layer sql`` for the SQL layer) reproduces it. The
engines' background work is stepped by the seed (manual mode) in both layers, so one seed is
one run: the same trace every time."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.sim.harness import BACKGROUND_THREADS, Figures, Simulation, run
from tests.sim.sql import SqlFigures, SqlSimulation, run_sql

SEEDS = int(os.environ.get("STRATA_SIM_SEEDS", "200"))
STEPS = int(os.environ.get("STRATA_SIM_STEPS", "20"))


def test_simulation_over_many_seeds(seed: int) -> None:
    # A simulation mostly computes now (its engines start no background thread); a few
    # threads still overlap its waits for the commit threads.
    with ThreadPoolExecutor(4, thread_name_prefix="sim") as pool:
        results: list[Figures] = list(pool.map(lambda s: run(s, STEPS), range(seed, seed + SEEDS)))
    assert len(results) == SEEDS
    crashes = sum(f.crashes for f in results)
    faults = sum(f.faults for f in results)
    background = sum(f.background for f in results)
    print(f"{SEEDS} seeds from {seed}: {crashes} crashes, {faults} faults, {background} units")
    assert crashes > 0 and faults > 0 and background > 0


#: Each layer's run (seed, steps, on_step=None) -> its figures, with a ``trace`` hash.
LAYERS = pytest.mark.parametrize("runner", [run, run_sql], ids=["kv", "sql"])
Runner = Callable[..., Figures | SqlFigures]


@LAYERS
def test_one_seed_is_one_run(seed: int, runner: Runner) -> None:
    """The same seed twice: the same trace (every operation, background unit, outcome and
    the engines' state after each step; the SQL layer's also the model's committed rows),
    while other seeds run beside it on other threads."""
    seeds = range(seed, seed + 6)
    with ThreadPoolExecutor(3, thread_name_prefix="sim") as pool:
        first = list(pool.map(lambda s: runner(s, 40), seeds))
        second = list(pool.map(lambda s: runner(s, 40), reversed(seeds)))
    assert first == second[::-1]
    assert len({f.trace for f in first}) == len(first)  # and the seed does matter


@LAYERS
def test_the_seed_steps_the_background_work(seed: int, runner: Runner) -> None:
    """No engine of the simulation (the SQL layer's: under its processes, exclusive writers,
    following readers and checker) runs a background thread, and the trace records every
    unit the seed chose: what ran between two operations is part of the run."""
    units: list[str] = []
    # threads of engines that earlier tests left behind are not the simulation's
    before = set(threading.enumerate())

    def no_threads(sim: Simulation | SqlSimulation) -> None:
        running = {t.name for t in set(threading.enumerate()) - before} & BACKGROUND_THREADS
        assert not running, f"background threads run: {running}"
        for _, db in sim.engines():
            assert db.background.manual
        units.extend(  # an engine's lines: "<name>: <unit>", "<name>: wal (N PUTs)" or
            " ".join(words[1:])  # "<name>: <unit> failed: ..."
            for words in (line.split() for line in sim.log)
            if words[0].endswith(":")
            and "." not in words[0]  # not a SQL connection's
            and (len(words) == 2 or words[2] == "failed:" or words[2].startswith("("))
        )
        sim.log.clear()

    figures = runner(seed, 40, on_step=no_threads)
    stepped = [
        u.split()[0] for u in units if u.split()[0] in ("wal", "flush", "compact", "gc", "poll")
    ]
    assert len(stepped) == figures.background
    assert {"wal", "flush", "compact", "gc", "poll"} <= set(stepped)
    # "wal" is the commit thread's own unit: it stored groups when its timer was due, and
    # did nothing when run early (no commit thread runs: the seed chose when it stored).
    # (The SQL layer's commits are durable: their callers store them, running the unit.)
    wal = [u for u in units if u.startswith("wal (")]
    assert "wal (0 PUTs)" in wal
    if runner is run:
        assert any(u != "wal (0 PUTs)" for u in wal)


def test_sql_simulation_over_many_seeds(seed: int) -> None:
    with ThreadPoolExecutor(16, thread_name_prefix="sim-sql") as pool:
        results: list[SqlFigures] = list(
            pool.map(lambda s: run_sql(s, STEPS), range(seed, seed + SEEDS))
        )
    assert len(results) == SEEDS
    total = SqlFigures()
    for f in results:
        for name, value in vars(f).items():
            if isinstance(value, int):
                setattr(total, name, getattr(total, name) + value)
    print(f"{SEEDS} SQL seeds from {seed}: {total}")
    assert total.commits > 0 and total.crashes > 0 and total.faults > 0
    assert total.exclusive_phases > 0 and total.follower_reads > 0 and total.background > 0


def test_the_seeds_that_found_bugs() -> None:
    """Seeds that found bugs, kept as regressions: a non-durable write whose WAL PUT failed
    was dropped while later ones were stored (a hole, not a suffix; KV seed 5322 at 60
    steps); a shared writer's commit landed after an exclusive writer's fence (SQL seed 9 at
    20 steps); an idle exclusive writer, fenced by a newer writer's commit it skipped when it
    started over from the manifest, committed (SQL seed 20278 at 100 steps)."""
    run(5322, 60)
    run_sql(9, 20)
    run_sql(20278, 100)
