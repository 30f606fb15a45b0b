"""The simulation over many seeds: ``STRATA_SIM_SEEDS`` seeds (200) of ``STRATA_SIM_STEPS``
steps (20) each, of the KV layer (harness.py) and of the SQL layer (sql.py), from ``--seed N``
(or ``$STRATA_SEED``, or a random base, printed). A failure names its seed;
``python -m tests.sim --seed N`` (``--layer sql`` for the SQL layer) reproduces it. Seeds run
on threads: a simulation mostly waits (on its engines' commit and flush threads)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from tests.sim.harness import Figures, run
from tests.sim.sql import SqlFigures, run_sql

SEEDS = int(os.environ.get("STRATA_SIM_SEEDS", "200"))
STEPS = int(os.environ.get("STRATA_SIM_STEPS", "20"))


def test_simulation_over_many_seeds(seed: int) -> None:
    with ThreadPoolExecutor(16, thread_name_prefix="sim") as pool:
        results: list[Figures] = list(pool.map(lambda s: run(s, STEPS), range(seed, seed + SEEDS)))
    assert len(results) == SEEDS
    crashes = sum(f.crashes for f in results)
    faults = sum(f.faults for f in results)
    print(f"{SEEDS} seeds from {seed}: {crashes} crashes, {faults} faults injected")
    assert crashes > 0 and faults > 0


def test_sql_simulation_over_many_seeds(seed: int) -> None:
    with ThreadPoolExecutor(16, thread_name_prefix="sim-sql") as pool:
        results: list[SqlFigures] = list(
            pool.map(lambda s: run_sql(s, STEPS), range(seed, seed + SEEDS))
        )
    assert len(results) == SEEDS
    total = SqlFigures()
    for f in results:
        for name, value in vars(f).items():
            setattr(total, name, getattr(total, name) + value)
    print(f"{SEEDS} SQL seeds from {seed}: {total}")
    assert total.commits > 0 and total.crashes > 0 and total.faults > 0
    assert total.exclusive_phases > 0 and total.follower_reads > 0
