"""A seeded simulation (issue 11, "Deterministic simulation" — a first piece): simulated
processes write one database in memory through the fault-injecting store, and after every
step a reader's snapshot is checked against a model.

Each writer has its own keys (``w<i>/k<j>``, values unique per operation) and the writers
share accounts (transfers keep the total). The faults: errors before and after the effect
and latency spikes on every kind of request, and crashes (the writer's store starts refusing
every request — nothing it does after that lands — its engine is closed, and a new engine
opens in its place). The invariants:

* what the reader sees of a writer's keys is the writer's confirmed state with a *prefix* of
  its acknowledged non-durable writes applied (a lost write is a suffix, never a hole), and
  that prefix never shrinks — except that a write whose call raised may be either way;
* an acknowledged durable write makes every earlier write of its writer confirmed;
* batches and transactions are all or nothing: the transfers keep the total;
* nothing is read that was never written (every value is the model's).

The engines run in manual mode on one simulated clock (kvengine/background.py): no flush,
compaction, GC or reader thread runs; the seed chooses, step by step, how far the clock
moves, which background units run (a unit is run at the latest when its thread would have
woken: ``INTERVALS_S``; others run early, as a notified thread would) and which foreground
operation comes next. Flush intervals, takeover timeouts and GC ages are simulated time
(the memory store's modification times are read from the same clock). Faults are drawn per
request from the seed, the request's kind and path and how many such requests came before
(:class:`KeyedFaults`), so requests sent in parallel (WAL reads, GC deletes) draw the same
faults in any order. The trace (every step, background unit, outcome and the engines'
state after each step) is the same for the same seed: ``Figures.trace`` is its hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from kvengine import DB, Conflict, Options, RetryPolicy, Snapshot, StrataError, WriteBatch
from kvengine.background import ManualClock
from kvengine.errors import StorePermissionDenied, StoreUnavailable
from kvengine.store import FaultyStore, MemoryStore, Store
from kvengine.store.wrapper import StoreWrapper
from tests.sim.stepping import Stepper, engine_state

T = TypeVar("T")

KEYS = 6
ACCOUNTS = 4
BALANCE = 100
#: retries that give up quickly, so injected faults also exhaust them now and then
RETRY = RetryPolicy(attempts=3, base_wait_s=0.0, max_wait_s=0.0, total_s=5.0)
OPTIONS = Options(
    l0_sst_size=4096,
    block_bytes=512,
    l0_compaction_trigger=3,
    # simulated, as every interval: a "wal" unit stores the queued non-durable writes once
    # the oldest has waited this long (or at once when a durable write or a read waits)
    flush_interval_ms=100,
    flusher_poll_ms=200,
    flusher_takeover_ms=1000,
    reader_poll_ms=500,
    gc_interval_s=1.0,
    gc_min_age_s=4.0,
    wal_gc_min_age_s=4.0,
    # A manual engine cannot wait for its own compactions: no stalls (data stays small).
    l0_slowdown_trigger=0,
    l0_stop_trigger=0,
)
#: Each engine's WAL pipeline depth, chosen by the seed: the default (shared mode one PUT in
#: flight, exclusive mode two) or two in flight in shared mode too.
PIPELINE_DEPTHS = (None, 2)
#: The longest each background unit waits on its thread (simulated seconds): a unit is run
#: at the latest this long after its last run. "wal" is the commit thread's timer.
INTERVALS_S = {
    "wal": OPTIONS.flush_interval_ms / 1000,
    "flush": OPTIONS.flusher_poll_ms / 1000,
    "compact": OPTIONS.flusher_poll_ms / 1000,
    "gc": OPTIONS.gc_interval_s,
    "poll": OPTIONS.reader_poll_ms / 1000,
}
#: How far the clock may move in one step (simulated seconds).
CLOCK_STEPS_S = (0.0, 0.0, 0.01, 0.05, 0.2, 0.6)
#: Threads a manual engine must not start.
BACKGROUND_THREADS = frozenset(
    {"strata-commit", "strata-flush", "strata-compact", "strata-gc", "strata-reader"}
)

State = dict[bytes, bytes | None]


class Crashable(StoreWrapper):
    """Once ``crashed``, refuses every request before it reaches the store: a dead process
    sends nothing. (Refused, not failed: the engine stops at once instead of retrying.)"""

    crashed = False

    def around(self, kind: str, path: str | None, op: Callable[[], T], written: int) -> T:
        if self.crashed:
            raise StorePermissionDenied(f"crashed: {kind} {path!r} not sent", path=path)
        return op()


class KeyedFaults(FaultyStore):
    """Faults drawn from (seed, kind, path, how many requests of that kind and path came
    before): the same for the same requests, whatever the order of those sent at once."""

    def __init__(self, inner: Store | MemoryStore, *, seed: int, p: float) -> None:
        super().__init__(inner, error_before=p, error_after=p, stall=p / 2, stall_s=0.002)
        self._key_seed = seed
        self._counts: dict[tuple[str, str | None], int] = {}
        self._count_lock = threading.Lock()

    def around(self, kind: str, path: str | None, op: Callable[[], T], written: int) -> T:
        with self._count_lock:
            n = self._counts[kind, path] = self._counts.get((kind, path), 0) + 1
        r = random.Random(f"{self._key_seed}/{kind}/{path}/{n}").random()
        if not self.enabled or kind not in self.kinds or r >= self.error_before * 2.5:
            return op()
        fault = (
            "before" if r < self.error_before else "after" if r < self.error_before * 2 else "stall"
        )
        with self._count_lock:
            self.injected[fault] += 1
        if fault == "before":
            raise StoreUnavailable(f"injected fault before {kind} {path!r}", path=path)
        if fault == "stall":
            self._sleep(self.stall_s)  # a latency spike
            return op()
        op()
        raise StoreUnavailable(f"injected fault after {kind} {path!r} took effect", path=path)


class InvariantViolated(AssertionError):
    pass


@dataclass
class Writer:
    """One simulated process: its engine and what the model knows of its writes."""

    name: str
    faults: KeyedFaults
    life: Crashable
    db: DB
    #: its keys as confirmed (stored for sure, or seen stored)
    confirmed: State = field(default_factory=dict)
    #: acknowledged non-durable writes not yet confirmed, oldest first
    pending: list[State] = field(default_factory=list)
    #: how many of ``pending`` the reader has seen applied
    seen: int = 0

    def candidates(self) -> list[State]:
        """The states the reader may see: confirmed, then with each pending write applied."""
        states = [dict(self.confirmed)]
        for effects in self.pending:
            states.append({**states[-1], **effects})
        return states

    def key_names(self) -> list[bytes]:
        return [b"%s/k%d" % (self.name.encode(), j) for j in range(KEYS)]


@dataclass
class Figures:
    steps: int = 0
    crashes: int = 0
    faults: int = 0
    errors: int = 0
    checks: int = 0
    #: background units run (due or chosen early)
    background: int = 0
    #: hash of the trace: the same for the same seed
    trace: str = ""


class Simulation:
    def __init__(self, seed: int, *, writers: int = 2, fault_p: float = 0.02) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        #: each engine's pipeline depth (a stream of its own: the operations stay the seed's)
        self.depths = random.Random(f"depth-{seed}")
        self.fault_p = fault_p
        self.clock = ManualClock()
        self.memory = MemoryStore(clock=self.clock.time)
        self.figures = Figures()
        self.log: list[str] = []
        self.trace = hashlib.sha256()
        self.stepper = Stepper(self.clock, self.rng, self.note, INTERVALS_S, self.count_unit)
        self.reader = self._engine(Store(self.memory), read_only=True)  # no faults
        seeder = self._engine(Store(self.memory))
        batch = WriteBatch()
        for i in range(ACCOUNTS):
            batch.put(self.account(i), b"%d" % BALANCE)
        seeder.write(batch)
        seeder.close()
        self.writers = [self._open(f"w{i}", None) for i in range(writers)]

    @staticmethod
    def account(i: int) -> bytes:
        return b"acct/%d" % i

    def _engine(self, store: Store, *, read_only: bool = False) -> DB:
        options = replace(OPTIONS, wal_pipeline_depth=self.depths.choice(PIPELINE_DEPTHS))
        return DB.open(store, options=options, read_only=read_only, clock=self.clock, manual=True)

    def _open(self, name: str, old: Writer | None) -> Writer:
        faults = KeyedFaults(self.memory, seed=self.rng.randrange(2**32), p=self.fault_p)
        life = Crashable(faults)
        while True:  # opening may fail under faults, as it would: try again
            try:
                db = self._engine(Store(life, retry=RETRY))
                break
            except StrataError as exc:
                self.note(f"{name}: open failed: {exc}")
        w = Writer(name, faults, life, db)
        if old is not None:
            w.confirmed, w.pending, w.seen = old.confirmed, old.pending, old.seen
        return w

    def note(self, line: str) -> None:
        self.log.append(line)
        self.trace.update(line.encode() + b"\n")

    def fail(self, message: str) -> None:
        tail = "\n".join(self.log[-30:])
        raise InvariantViolated(f"seed {self.seed}: {message}\nlast steps:\n{tail}")

    # -- steps ----------------------------------------------------------------------------

    def step(self) -> None:
        self.figures.steps += 1
        self.clock.advance(self.rng.choice(CLOCK_STEPS_S))
        self.note(f"step {self.figures.steps} at t={self.clock.monotonic():.2f}")
        self.stepper.run_due(self.engines())
        w = self.rng.choice(self.writers)
        roll = self.rng.random()
        if roll < 0.2:  # a thread woken early (notified): any unit of any engine
            self.stepper.run_any(self.engines())
        elif roll < 0.24:
            self.crash(w)
        elif roll < 0.36:
            self.transfer(w)
        elif roll < 0.4:
            self.background(w)
        else:
            self.write(w)
        self.check()
        self.note(self.state())

    # -- background work --------------------------------------------------------------------

    def engines(self) -> list[tuple[str, DB]]:
        return [(w.name, w.db) for w in self.writers] + [("reader", self.reader)]

    def count_unit(self, ok: bool) -> None:
        self.figures.background += 1
        if not ok:
            self.figures.errors += 1

    def state(self) -> str:
        """What each engine holds after a step: it depends on the interleaving."""
        return engine_state(self.engines())

    def write(self, w: Writer) -> None:
        n = self.figures.steps
        durable = self.rng.random() < 0.5
        effects: State = {}
        for key in self.rng.sample(w.key_names(), self.rng.randint(1, 3)):
            effects[key] = None if self.rng.random() < 0.25 else b"%s:%d" % (key, n)
        batch = WriteBatch()
        for key, value in effects.items():
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        self.note(f"{w.name}: write {effects} durable={durable}")
        try:
            if len(effects) == 1 and self.rng.random() < 0.5:
                ((key, value),) = effects.items()
                if value is None:
                    w.db.delete(key, durable=durable)
                else:
                    w.db.put(key, value, durable=durable)
            else:
                w.db.write(batch, durable=durable)
        except StrataError as exc:
            self.figures.errors += 1
            self.note(f"{w.name}: write failed: {exc!r}")
            self.settle(w, effects)
            return
        w.pending.append(effects)
        if durable:  # stored, and every earlier write of this writer with it
            w.confirmed = w.candidates()[-1]
            w.pending, w.seen = [], 0

    def settle(self, w: Writer, effects: State) -> None:
        """A write whose call raised: it landed or not, whole. Wait for the writer's earlier
        writes, look, and take what is there as confirmed."""
        try:
            w.db.flush()
        except StrataError:
            self.crash(w)  # cannot tell what is stored: start this writer over
            return
        with self.view() as snap:
            states = w.candidates()
            before, after = states[-1], {**states[-1], **effects}
            got = {k: snap.get(k) for k in w.key_names()}
        if got not in (
            {k: before.get(k) for k in w.key_names()},
            {k: after.get(k) for k in w.key_names()},
        ):
            self.fail(f"{w.name}: after a failed write the keys are {got}: neither all nor none")
        w.confirmed, w.pending, w.seen = got, [], 0

    def transfer(self, w: Writer) -> None:
        a, b = (self.account(i) for i in self.rng.sample(range(ACCOUNTS), 2))
        try:
            with w.db.transaction() as txn:
                va, vb = int(txn.get(a) or b"0"), int(txn.get(b) or b"0")
                amount = min(va, self.rng.randint(1, 10))
                txn.put(a, b"%d" % (va - amount))
                txn.put(b, b"%d" % (vb + amount))
                txn.commit()
            self.note(f"{w.name}: transfer {amount} {a!r} -> {b!r}")
        except Conflict:
            self.note(f"{w.name}: transfer conflicted")
        except StrataError as exc:
            self.figures.errors += 1
            self.note(f"{w.name}: transfer failed: {exc!r}")

    def background(self, w: Writer) -> None:
        """``DB.flush`` or ``DB.compact``: the work is done in this thread, now."""
        what = self.rng.choice(["flush", "compact"])
        self.note(f"{w.name}: db.{what}()")
        try:
            w.db.flush() if what == "flush" else w.db.compact()
        except StrataError as exc:
            self.figures.errors += 1
            self.note(f"{w.name}: db.{what}() failed: {exc!r}")
            return
        w.confirmed = w.candidates()[-1]  # flush stores every write so far
        w.pending, w.seen = [], 0

    def crash(self, w: Writer) -> None:
        """Everything in the writer's memory is gone: from now on none of its requests land."""
        self.figures.crashes += 1
        self.note(f"{w.name}: crash")
        w.life.crashed = True
        with contextlib.suppress(StrataError):
            w.db.close()  # its threads stop; nothing they do lands
        # Its unstored non-durable writes are lost: what the reader sees now is all there is.
        with self.view() as snap:
            got = {k: snap.get(k) for k in w.key_names()}
        self.match(w, got)
        w.confirmed, w.pending, w.seen = got, [], 0
        self.writers[self.writers.index(w)] = self._open(w.name, w)
        self.figures.faults += sum(w.faults.injected.values())

    # -- checks ---------------------------------------------------------------------------

    def view(self) -> Snapshot:
        return self.reader.snapshot()

    def match(self, w: Writer, got: State) -> None:
        """``got`` must be a candidate no earlier than the one seen last."""
        for k, state in enumerate(w.candidates()):
            if k >= w.seen and all(got[key] == state.get(key) for key in w.key_names()):
                w.seen = k
                return
        self.fail(
            f"{w.name}: keys {got} are not its confirmed state plus a prefix of its "
            f"non-durable writes (at least {w.seen}): {w.candidates()}"
        )

    def check(self) -> None:
        self.figures.checks += 1
        with self.view() as snap:
            for w in self.writers:
                self.match(w, {k: snap.get(k) for k in w.key_names()})
            total = sum(int(snap.get(self.account(i)) or b"-1") for i in range(ACCOUNTS))
        if total != ACCOUNTS * BALANCE:
            self.fail(f"the accounts hold {total}, not {ACCOUNTS * BALANCE}")

    def close(self) -> None:
        for w in self.writers:
            w.faults.error_before = w.faults.error_after = w.faults.stall = 0.0
            w.db.close()
            self.figures.faults += sum(w.faults.injected.values())
        self.reader.close()
        self.figures.trace = self.trace.hexdigest()


def run(seed: int, steps: int = 60, on_step: Callable[[Simulation], None] | None = None) -> Figures:
    """Run ``steps`` steps of the simulation seeded ``seed``; its figures, or
    ``InvariantViolated`` naming the seed."""
    sim = Simulation(seed)
    try:
        for _ in range(steps):
            sim.step()
            if on_step is not None:
                on_step(sim)
    finally:
        sim.close()
    return sim.figures
