"""The seed's hand on the engines' background work, shared by the KV simulation (harness.py)
and the SQL one (sql.py): every engine is opened in manual mode on the simulation's one
:class:`~kvengine.background.ManualClock` (kvengine/background.py), and a :class:`Stepper`
runs each engine's units (``db.background.step``) when the seed says: every unit whose
thread would have woken by the simulated clock (``intervals_s``), in an order the seed
picks, and any unit early when the simulation chooses to (a thread that was notified).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from kvengine import DB, StrataError
from kvengine.background import ManualClock

#: One engine's unit: (the engine's name in the trace, the engine, the unit).
Unit = tuple[str, DB, str]


def units(engines: Sequence[tuple[str, DB]]) -> list[Unit]:
    """Every unit of every engine (``engines``: (name, engine) pairs)."""
    return [(name, db, unit) for name, db in engines for unit in db.background.units]


class Stepper:
    """Runs the background units of a simulation's engines; each run and failure is noted
    (``note``: the simulation's log and trace) and counted (``counted(ok)``). Not
    thread-safe: the simulation's thread calls it."""

    def __init__(
        self,
        clock: ManualClock,
        rng: random.Random,
        note: Callable[[str], None],
        intervals_s: dict[str, float],
        counted: Callable[[bool], None],
    ) -> None:
        self.clock = clock
        self.rng = rng
        self.note = note
        self.intervals_s = intervals_s
        self.counted = counted
        #: when each (engine name, unit) last ran, by the simulated clock
        self.last_run: dict[tuple[str, str], float] = {}

    def run_due(self, engines: Sequence[tuple[str, DB]]) -> None:
        """Run every unit whose thread would have woken by now, in an order the seed picks."""
        now = self.clock.monotonic()
        due = [
            (name, db, unit)
            for name, db, unit in units(engines)
            if now - self.last_run.get((name, unit), 0.0) >= self.intervals_s[unit]
        ]
        self.rng.shuffle(due)
        for name, db, unit in due:
            self.run(name, db, unit)

    def run_any(self, engines: Sequence[tuple[str, DB]]) -> None:
        """Run one unit of any engine, picked by the seed: a thread woken early (notified)."""
        self.run(*self.rng.choice(units(engines)))

    def run(self, name: str, db: DB, unit: str) -> None:
        """One unit of background work, now; a failure is what its thread would log and retry
        at its next turn."""
        self.last_run[name, unit] = self.clock.monotonic()
        puts = db.stats()["wal_puts"]
        try:
            db.background.step(unit)
        except StrataError as exc:
            self.note(f"{name}: {unit} failed: {exc!r}")
            self.counted(False)
            return
        # "wal" stores a group only when one is due (its timer, a retry's backoff)
        stored = f" ({db.stats()['wal_puts'] - puts} PUTs)" if unit == "wal" else ""
        self.note(f"{name}: {unit}{stored}")
        self.counted(True)


def engine_state(engines: Sequence[tuple[str, DB]]) -> str:
    """What each engine holds after a step (it depends on the interleaving), for the trace."""
    parts = []
    for name, db in engines:
        s = db.stats()
        parts.append(
            f"{name} manifest={s['manifest_id']} wal={s['wal_tail']} seq={s['last_seq']} "
            f"role={s['flush_role']} l0={s['l0_ssts']} runs={s['sorted_runs']} "
            f"frozen={s['frozen_memtables']} flushed={s['flushed_ssts']} "
            f"compactions={s['compactions']}"
        )
    return "state: " + "; ".join(parts)
