"""The SQL layer of the simulation (issue 11): simulated processes, each with a few DB-API
connections (``dialect.connect`` on a fault-injecting store over one shared memory store), run
interleaved transactions under the faults and crashes of harness.py, and after every step the
database is checked against a model of committed rows.

The database: ``acct`` (accounts whose balances keep a total: transfers) and ``item`` (rows
inserted, updated and deleted, with a ``tag`` UNIQUE drawn from a small pool, so that inserts
and updates race for the same values across connections). Every connection may hold a
transaction open across steps, with savepoints (SAVEPOINT, ROLLBACK TO, RELEASE). Now and then
an *exclusive* writer opens (``exclusive=True``), fencing every shared writer; it writes for a
few steps, and then the shared processes reopen, which fences it in turn (it may stay around as
a zombie). *Following readers* (read-only connections with ``max_staleness_ms`` from 0 to a
minute, on faulty stores of their own) open and read now and then.

The invariants (``SqlInvariantViolated`` naming the seed otherwise):

* after every step the rows are exactly the model's committed rows: every COMMIT that returned
  is there, a rolled-back transaction and a conflicting one left nothing, no row appears that
  was never written;
* a COMMIT that raised something other than a conflict is all there or all absent, never
  partial (settled by reading at once, and kept from then on);
* first committer wins: a transaction that wrote a row or a UNIQUE value that a transaction
  committed after it began also wrote does not commit; UNIQUE holds; transfers keep the total;
* a transaction reads its snapshot: the committed rows when it began plus its own writes,
  savepoints undone as the model undoes them;
* once the exclusive writer's open returned, no commit of a shared writer opened before it
  returns and nothing it writes is visible; once a writer opened later committed, the same
  holds for the exclusive one;
* a following reader sees a state of the commit history, never going back.

Every engine (each process's, the exclusive writer's, the following readers', the checker's)
is opened in manual mode on the simulation's one simulated clock (``dialect.connect(...,
clock=, manual=True)``), and the seed steps their background work as in harness.py
(stepping.py): each step the clock moves, every unit due by then runs in an order the seed
picks, and now and then one unit runs early. Faults are drawn per request
(``KeyedFaults``). The trace (every statement, commit, background unit and outcome, a hash of
the model's committed rows and the engines' state after each step) is the same for the same
seed: ``SqlFigures.trace`` is its hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

import dialect
from kvengine import DB, Store, StrataError
from kvengine.background import ManualClock
from kvengine.store import MemoryStore
from tests.sim.harness import (
    CLOCK_STEPS_S,
    INTERVALS_S,
    OPTIONS,
    PIPELINE_DEPTHS,
    RETRY,
    Crashable,
    KeyedFaults,
)
from tests.sim.stepping import Stepper, engine_state

ACCOUNTS = 4
BALANCE = 100
#: the pool of UNIQUE tags: small, so that inserts collide
TAGS = 5
CONNECTIONS = 2  # per process

Key = tuple[str, Any]  # ("acct", id), ("item", id), or ("tag", value) for conflict checks
Rows = dict[Key, tuple[Any, ...]]  # ("acct", id) -> (balance,); ("item", id) -> (tag, v)
Writes = dict[Key, tuple[Any, ...] | None]


class SqlInvariantViolated(AssertionError):
    pass


@dataclass
class Txn:
    """What the model knows of one connection's open transaction."""

    begun: int  # len(history) when it began
    view: Rows  # what it reads: the committed rows then, with its own writes
    writes: Writes = field(default_factory=dict)
    touched: set[Key] = field(default_factory=set)  # rows and UNIQUE values it wrote
    savepoints: list[tuple[str, Rows, Writes, set[Key]]] = field(default_factory=list)


@dataclass
class Conn:
    name: str
    db: dialect.Connection
    txn: Txn | None = None


@dataclass
class Process:
    """One simulated process: its faulty store, its engine (shared by its connections)."""

    name: str
    faults: KeyedFaults
    life: Crashable
    conns: list[Conn]
    exclusive: bool = False
    #: "no"; "maybe" (a writer opened after it may have written); "yes" (fenced for sure)
    fenced: str = "no"

    def engine(self) -> DB:  # the engine under the connections
        return engine(self.conns[0].db)


@dataclass
class Follower:
    """A following reader: a read-only connection, and the index of the last state it saw."""

    name: str
    db: dialect.Connection
    faults: KeyedFaults
    seen: int = 0


@dataclass
class SqlFigures:
    steps: int = 0
    commits: int = 0
    conflicts: int = 0
    unknown: int = 0  # commits that raised and were settled by looking
    rollbacks: int = 0
    unique_refused: int = 0
    fenced_refused: int = 0
    exclusive_phases: int = 0
    crashes: int = 0
    faults: int = 0
    follower_reads: int = 0
    checks: int = 0
    #: background units run (due or chosen early)
    background: int = 0
    #: hash of the trace: the same for the same seed
    trace: str = ""


class SqlSimulation:
    def __init__(self, seed: int, *, processes: int = 2, fault_p: float = 0.02) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        #: each engine's pipeline depth (a stream of its own: the operations stay the seed's)
        self.depths = random.Random(f"depth-{seed}")
        self.fault_p = fault_p
        self.clock = ManualClock()
        self.memory = MemoryStore(clock=self.clock.time)
        self.figures = SqlFigures()
        self.log: list[str] = []
        self.trace = hashlib.sha256()
        self.stepper = Stepper(self.clock, self.rng, self.note, INTERVALS_S, self.count_unit)
        self.next_id = 1
        setup = self._connect(Store(self.memory))
        setup.execute("CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
        setup.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, tag TEXT UNIQUE, v TEXT)")
        setup.cursor().executemany(
            "INSERT INTO acct VALUES (?, ?)", [(i, BALANCE) for i in range(ACCOUNTS)]
        )
        setup.commit()
        setup.close()
        self.history: list[Rows] = [{("acct", i): (BALANCE,) for i in range(ACCOUNTS)}]
        self.checker = self._connect(Store(self.memory), read_only=True)  # no faults
        self.process_count = processes
        self.shared = [self._open(f"p{i}") for i in range(processes)]
        self.exclusive: Process | None = None  # while an exclusive phase lasts
        self.phase_left = 0
        self.zombie: Process | None = None  # an exclusive writer after its phase
        self.followers: list[Follower] = []
        self.opened_followers = 0

    # -- processes ------------------------------------------------------------------------

    def _connect(self, store: Store, **settings: Any) -> dialect.Connection:
        """A connection whose engine (if it opens one) runs in manual mode on the simulated
        clock: its background work is what the seed steps."""
        options = replace(OPTIONS, wal_pipeline_depth=self.depths.choice(PIPELINE_DEPTHS))
        return dialect.connect(store, options=options, clock=self.clock, manual=True, **settings)

    def _faults(self) -> KeyedFaults:
        return KeyedFaults(self.memory, seed=self.rng.randrange(2**32), p=self.fault_p)

    def _open(self, name: str, *, exclusive: bool = False) -> Process:
        faults = self._faults()
        life = Crashable(faults)
        store = Store(life, retry=RETRY)
        while True:  # opening may fail under faults, as it would: try again
            try:
                first = self._connect(store, exclusive=exclusive)
                break
            except dialect.Error as exc:
                self.note(f"{name}: open failed: {exc!r}")
        conns = [Conn(f"{name}.c0", first)]
        for c in range(1, CONNECTIONS):  # the same store object: the same engine
            conns.append(Conn(f"{name}.c{c}", self._connect(store, exclusive=exclusive)))
        self.note(f"{name}: opened{' exclusive' if exclusive else ''}")
        return Process(name, faults, life, conns, exclusive=exclusive)

    def _kill(self, p: Process) -> None:
        """Everything in the process's memory is gone; none of its requests land from now."""
        p.life.crashed = True
        for c in p.conns:
            with contextlib.suppress(dialect.Error):
                c.db.close()
            c.txn = None
        self.figures.faults += sum(p.faults.injected.values())

    def processes(self) -> list[Process]:
        live = list(self.shared)
        if self.exclusive is not None:
            live.append(self.exclusive)
        if self.zombie is not None:
            live.append(self.zombie)
        return live

    def note(self, line: str) -> None:
        self.log.append(line)
        self.trace.update(line.encode() + b"\n")

    def fail(self, message: str) -> NoReturn:
        tail = "\n".join(self.log[-40:])
        raise SqlInvariantViolated(f"seed {self.seed} (sql): {message}\nlast steps:\n{tail}")

    # -- steps ----------------------------------------------------------------------------

    def step(self) -> None:
        self.figures.steps += 1
        n = self.figures.steps
        self.clock.advance(self.rng.choice(CLOCK_STEPS_S))
        self.note(f"step {n} at t={self.clock.monotonic():.2f}")
        self.stepper.run_due(self.engines())
        if self.rng.random() < 0.2:  # a thread woken early (notified): any unit of any engine
            self.stepper.run_any(self.engines())
        roll = self.rng.random()
        p = self.rng.choice(self.processes())
        c = self.rng.choice(p.conns)
        if roll < 0.03:
            self.crash(p)
        elif roll < 0.06:
            self.exclusive_phase()
        elif roll < 0.10:
            self.follow()
        elif roll < 0.13:
            self.background(p)
        elif c.txn is not None and roll < 0.55:
            self.finish(p, c)
        else:
            self.statement(p, c, n)
        if self.exclusive is not None:
            self.phase_left -= 1
            if self.phase_left <= 0:
                self.end_phase()
        self.check()
        self.note(f"model: {model_hash(self.history[-1])} (#{len(self.history) - 1})")
        self.note(engine_state(self.engines()))

    def crash(self, p: Process) -> None:
        self.figures.crashes += 1
        self.note(f"{p.name}: crash")
        self._kill(p)
        self.check()  # whatever it had open left nothing
        if p is self.zombie:
            self.zombie = None
        elif p is self.exclusive:
            self.exclusive = None
            self.end_phase()
        elif self.exclusive is None:
            self.shared[self.shared.index(p)] = self._open(p.name)
        else:  # shared processes come back once the exclusive phase ends
            self.shared.remove(p)

    def exclusive_phase(self) -> None:
        """An exclusive writer opens: once its open returned, every shared writer is fenced."""
        if self.exclusive is not None:
            return
        if self.zombie is not None:
            self._kill(self.zombie)
            self.zombie = None
        self.figures.exclusive_phases += 1
        self.exclusive = self._open("x", exclusive=True)
        self.phase_left = self.rng.randint(2, 8)
        for p in self.shared:
            p.fenced = "yes"

    def end_phase(self) -> None:
        """The shared processes reopen (their engines were fenced); the exclusive writer closes
        or stays as a zombie, fenced by the first commit of a writer opened after it."""
        x, self.exclusive = self.exclusive, None
        if x is not None:
            if self.rng.random() < 0.5:
                self.note("x: stays as a zombie")
                self.zombie = x
            else:
                self.note("x: closes")
                self._kill(x)
        for p in self.shared:
            self._kill(p)
        self.shared = [self._open(f"p{i}") for i in range(self.process_count)]

    # -- background work ------------------------------------------------------------------

    def engines(self) -> list[tuple[str, DB]]:
        """Every open engine: the processes', the following readers', the checker's."""
        return (
            [(p.name, p.engine()) for p in self.processes()]
            + [(f.name, engine(f.db)) for f in self.followers]
            + [("checker", engine(self.checker))]
        )

    def count_unit(self, ok: bool) -> None:
        self.figures.background += 1

    def background(self, p: Process) -> None:
        """``DB.flush`` or ``DB.compact``: the work is done in this thread, now."""
        what = self.rng.choice(["flush", "compact"])
        self.note(f"{p.name}: db.{what}()")
        try:
            db = p.engine()
            db.flush() if what == "flush" else db.compact()
        except StrataError as exc:  # the store failed, or the writer is fenced
            self.note(f"{p.name}: db.{what}() failed: {exc!r}")

    # -- statements -----------------------------------------------------------------------

    def statement(self, p: Process, c: Conn, n: int) -> None:
        fresh = c.txn is None
        if fresh:
            c.txn = Txn(len(self.history) - 1, dict(self.history[-1]))
        t = c.txn
        assert t is not None
        kind = self.rng.choices(
            ["insert", "update", "delete", "transfer", "read", "savepoint"],
            weights=[4, 3, 2, 3, 1, 2],
        )[0]
        trusted = p.fenced == "no"  # else its reads may be stale
        try:
            getattr(self, f"_{kind}")(c, t, n, trusted)
        except dialect.IntegrityError as exc:
            self.note(f"{c.name}: {kind} refused: {exc}")
            self.figures.unique_refused += 1
            if trusted and kind != "insert" and kind != "update":
                self.fail(f"{c.name}: {kind} raised {exc!r}")
        except dialect.ProgrammingError as exc:
            self.fail(f"{c.name}: {kind} raised {exc!r}")
        except dialect.Error as exc:  # the store failed: the statement did nothing
            self.note(f"{c.name}: {kind} failed: {exc!r}")
            if fresh:  # the transaction may not have begun: start over
                with contextlib.suppress(dialect.Error):
                    c.db.rollback()
                c.txn = None

    def _write(self, t: Txn, key: Key, row: tuple[Any, ...] | None) -> None:
        old = t.view.get(key)
        if old != row:  # what it changes must conflict with a concurrent change
            t.touched |= changed_keys(key, old, row)
        t.writes[key] = row
        if row is None:
            t.view.pop(key, None)
        else:
            t.view[key] = row

    def _tags(self, t: Txn) -> dict[str, int]:
        return {row[0]: key[1] for key, row in t.view.items() if key[0] == "item"}

    def _insert(self, c: Conn, t: Txn, n: int, trusted: bool) -> None:
        item, self.next_id = self.next_id, self.next_id + 1
        tag, v = f"t{self.rng.randrange(TAGS)}", f"{c.name}:{n}"
        taken = tag in self._tags(t)
        self.note(f"{c.name}: insert {item} {tag} {v} (taken: {taken})")
        try:
            c.db.execute("INSERT INTO item (id, tag, v) VALUES (?, ?, ?)", (item, tag, v))
        except dialect.IntegrityError:
            if trusted and not taken:
                self.fail(f"{c.name}: inserting {tag} refused though its snapshot lacks it")
            raise
        if trusted and taken:
            self.fail(f"{c.name}: inserted a second {tag} in its own snapshot")
        self._write(t, ("item", item), (tag, v))

    def _pick(self, t: Txn) -> int:
        items = sorted(int(key[1]) for key in t.view if key[0] == "item")
        if items and self.rng.random() < 0.9:
            return self.rng.choice(items)
        return self.next_id + 1000  # a row that does not exist

    def _update(self, c: Conn, t: Txn, n: int, trusted: bool) -> None:
        item = self._pick(t)
        old = t.view.get(("item", item))
        v = f"{c.name}:{n}"
        new: tuple[Any, ...] | None
        if self.rng.random() < 0.3:  # a new UNIQUE value
            tag = f"t{self.rng.randrange(TAGS)}"
            taken = self._tags(t).get(tag, item) != item
            self.note(f"{c.name}: update {item} tag={tag} v={v} (taken: {taken})")
            try:
                cur = c.db.execute("UPDATE item SET tag = ?, v = ? WHERE id = ?", (tag, v, item))
            except dialect.IntegrityError:
                if trusted and not (taken and old is not None):
                    self.fail(f"{c.name}: update to {tag} refused though its snapshot allows it")
                raise
            if trusted and taken and old is not None:
                self.fail(f"{c.name}: updated to a second {tag} in its own snapshot")
            new = (tag, v)
        else:
            self.note(f"{c.name}: update {item} v={v}")
            cur = c.db.execute("UPDATE item SET v = ? WHERE id = ?", (v, item))
            new = (old[0], v) if old is not None else None
        if trusted and cur.rowcount != (old is not None):
            self.fail(f"{c.name}: update of {item} changed {cur.rowcount} rows; row was {old}")
        if cur.rowcount == 1 and new is not None:
            self._write(t, ("item", item), new)

    def _delete(self, c: Conn, t: Txn, n: int, trusted: bool) -> None:
        item = self._pick(t)
        old = t.view.get(("item", item))
        self.note(f"{c.name}: delete {item}")
        cur = c.db.execute("DELETE FROM item WHERE id = ?", (item,))
        if trusted and cur.rowcount != (old is not None):
            self.fail(f"{c.name}: delete of {item} removed {cur.rowcount} rows; row was {old}")
        if cur.rowcount == 1:
            self._write(t, ("item", item), None)

    def _transfer(self, c: Conn, t: Txn, n: int, trusted: bool) -> None:
        a, b = self.rng.sample(range(ACCOUNTS), 2)
        rows = dict(
            c.db.execute("SELECT id, balance FROM acct WHERE id IN (?, ?)", (a, b)).fetchall()
        )
        want = {i: t.view[("acct", i)][0] for i in (a, b)}
        if trusted and rows != want:
            self.fail(f"{c.name}: read balances {rows}, its snapshot has {want}")
        amount = min(rows.get(a, 0), self.rng.randint(1, 10))
        self.note(f"{c.name}: transfer {amount} {a} -> {b}")
        c.db.execute(
            "UPDATE acct SET balance = balance + CASE id WHEN ? THEN ? ELSE ? END "
            "WHERE id IN (?, ?)",
            (a, -amount, amount, a, b),
        )
        self._write(t, ("acct", a), (rows.get(a, 0) - amount,))
        self._write(t, ("acct", b), (rows.get(b, 0) + amount,))

    def _read(self, c: Conn, t: Txn, n: int, trusted: bool) -> None:
        got = read_rows(c.db)
        self.note(f"{c.name}: read")
        if trusted and got != t.view:
            self.fail(f"{c.name}: its transaction reads {got}, its snapshot is {t.view}")

    def _savepoint(self, c: Conn, t: Txn, n: int, trusted: bool) -> None:
        roll = self.rng.random()
        if not t.savepoints or roll < 0.5:
            name = f"s{len(t.savepoints)}"
            self.note(f"{c.name}: savepoint {name}")
            c.db.execute(f"SAVEPOINT {name}")
            t.savepoints.append((name, dict(t.view), dict(t.writes), set(t.touched)))
            return
        at = self.rng.randrange(len(t.savepoints))
        name, view, writes, touched = t.savepoints[at]
        if roll < 0.8:
            self.note(f"{c.name}: rollback to {name}")
            c.db.execute(f"ROLLBACK TO {name}")
            del t.savepoints[at + 1 :]
            t.view, t.writes, t.touched = dict(view), dict(writes), set(touched)
        else:
            self.note(f"{c.name}: release {name}")
            c.db.execute(f"RELEASE {name}")
            del t.savepoints[at:]

    # -- commit and rollback --------------------------------------------------------------

    def finish(self, p: Process, c: Conn) -> None:
        t, c.txn = c.txn, None
        assert t is not None
        if self.rng.random() < 0.2:
            self.note(f"{c.name}: rollback")
            self.figures.rollbacks += 1
            with contextlib.suppress(dialect.Error):
                c.db.rollback()
            return
        began = self.history[t.begun]
        writes = {k: v for k, v in t.writes.items() if t.view.get(k) != began.get(k)}
        before = self.history[-1]
        after = dict(before)
        for key, row in writes.items():
            if row is None:
                after.pop(key, None)
            else:
                after[key] = row
        self.note(f"{c.name}: commit {writes}")
        foreign = p is not self.zombie and writes
        if foreign and self.zombie is not None and self.zombie.fenced == "no":
            self.zombie.fenced = "maybe"  # a later writer's WAL object fences the zombie
        try:
            c.db.commit()
        except dialect.ConflictError as exc:
            self.figures.conflicts += 1
            self.note(f"{c.name}: commit conflicted: {exc}")
            return  # nothing applied: the next check sees it
        except dialect.Error as exc:
            self.note(f"{c.name}: commit failed: {exc!r}")
            with contextlib.suppress(dialect.Error):
                c.db.rollback()
            if p.fenced == "yes":
                self.figures.fenced_refused += 1
                return  # must be absent: the next check sees it
            else:
                self.figures.unknown += 1
            got = read_rows(self.checker, fresh=True)
            if got == after and after != before:
                self.note(f"{c.name}: the failed commit is there")
                self.committed(p, c, t, after)
            elif got != before:
                self.fail(
                    f"{c.name}: after a failed commit the rows are {got}: neither all "
                    f"({after}) nor none ({before})"
                )
            return
        if not writes:
            return
        if p.fenced == "yes":
            self.fail(f"{c.name}: a fenced writer's commit returned: {writes}")
        self.committed(p, c, t, after)

    def committed(self, p: Process, c: Conn, t: Txn, after: Rows) -> None:
        self.figures.commits += 1
        for k in range(t.begun + 1, len(self.history)):
            prev, cur = self.history[k - 1], self.history[k]
            changed: set[Key] = set()
            for key in prev.keys() | cur.keys():
                if prev.get(key) != cur.get(key):
                    changed |= changed_keys(key, prev.get(key), cur.get(key))
            if changed & t.touched:
                self.fail(
                    f"{c.name}: committed though {sorted(changed & t.touched)} were written by "
                    "a transaction that committed after it began (first committer must win)"
                )
        tags = [row[0] for key, row in after.items() if key[0] == "item"]
        if len(tags) != len(set(tags)):
            self.fail(f"{c.name}: its commit breaks UNIQUE: {sorted(tags)}")
        self.history.append(after)
        if p is not self.zombie and self.zombie is not None:
            self.zombie.fenced = "yes"

    # -- readers --------------------------------------------------------------------------

    def follow(self) -> None:
        """Open a following reader, or read from one: it must see a state of the history no
        older than the last one it saw."""
        if not self.followers or self.rng.random() < 0.3:
            faults = self._faults()
            staleness = self.rng.choice([0, 100, 60_000])
            try:
                conn = self._connect(
                    Store(faults, retry=RETRY), read_only=True, max_staleness_ms=staleness
                )
            except dialect.Error as exc:
                self.note(f"follower: open failed: {exc!r}")
                return
            self.opened_followers += 1
            name = f"f{self.opened_followers}"
            self.note(f"{name}: opened (staleness {staleness} ms)")
            self.followers.append(Follower(name, conn, faults))
            if len(self.followers) > 3:
                old = self.followers.pop(0)
                with contextlib.suppress(dialect.Error):
                    old.db.close()
                self.figures.faults += sum(old.faults.injected.values())
        f = self.rng.choice(self.followers)
        try:
            got = read_rows(f.db, fresh=True)
        except dialect.Error as exc:
            self.note(f"follower: read failed: {exc!r}")
            return
        self.figures.follower_reads += 1
        for k in range(f.seen, len(self.history)):
            if self.history[k] == got:
                f.seen = k
                return
        self.fail(
            f"a following reader sees {got}: no state of the history from #{f.seen} on "
            f"(the latest is #{len(self.history) - 1}: {self.history[-1]})"
        )

    # -- checks ---------------------------------------------------------------------------

    def check(self) -> None:
        self.figures.checks += 1
        got = read_rows(self.checker, fresh=True)
        if got != self.history[-1]:
            self.fail(f"the rows are {got}, the model's committed rows {self.history[-1]}")
        total = sum(row[0] for key, row in got.items() if key[0] == "acct")
        if total != ACCOUNTS * BALANCE:
            self.fail(f"the accounts hold {total}, not {ACCOUNTS * BALANCE}")

    def close(self) -> None:
        for p in self.processes():
            p.faults.enabled = False
            for c in p.conns:
                with contextlib.suppress(dialect.Error):
                    c.db.close()
            self.figures.faults += sum(p.faults.injected.values())
        for f in self.followers:
            with contextlib.suppress(dialect.Error):
                f.db.close()
            self.figures.faults += sum(f.faults.injected.values())
        self.checker.close()
        self.figures.trace = self.trace.hexdigest()


def engine(conn: dialect.Connection) -> DB:
    """The engine under a connection (shared by the connections of its process)."""
    return conn._database.db


def model_hash(rows: Rows) -> str:
    """A short hash of the model's committed rows, for the trace."""
    return hashlib.sha256(repr(sorted(rows.items())).encode()).hexdigest()[:16]


def changed_keys(key: Key, old: tuple[Any, ...] | None, new: tuple[Any, ...] | None) -> set[Key]:
    """What changing the row ``key`` from ``old`` to ``new`` writes: the row, and the UNIQUE
    values it takes or frees."""
    keys: set[Key] = {key}
    if key[0] == "item" and (old is None or new is None or old[0] != new[0]):
        keys |= {("tag", r[0]) for r in (old, new) if r is not None}
    return keys


def read_rows(conn: dialect.Connection, *, fresh: bool = False) -> Rows:
    """Every row of both tables, read in one transaction (a new one if ``fresh``)."""
    if fresh:
        conn.rollback()
    rows: Rows = {}
    for i, balance in conn.execute("SELECT id, balance FROM acct").fetchall():
        rows["acct", i] = (balance,)
    for i, tag, v in conn.execute("SELECT id, tag, v FROM item").fetchall():
        rows["item", i] = (tag, v)
    return rows


def run_sql(
    seed: int, steps: int = 60, on_step: Callable[[SqlSimulation], None] | None = None
) -> SqlFigures:
    """Run ``steps`` steps of the SQL simulation seeded ``seed``; its figures, or
    ``SqlInvariantViolated`` naming the seed."""
    sim = SqlSimulation(seed)
    try:
        for _ in range(steps):
            try:
                sim.step()
            except SqlInvariantViolated:
                raise
            except Exception as exc:  # only DB-API errors may leave the driver: a bug
                sim.fail(f"{exc!r} escaped")
            if on_step is not None:
                on_step(sim)
    finally:
        sim.close()
    return sim.figures
