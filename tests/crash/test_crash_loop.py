"""Real crashes (issue 11): writer processes sharing one database — KV writers and SQL writers
— are SIGKILLed at random moments, many times, and restarted each time.

Each worker (tests/crash/worker.py) logs every acknowledged write before it can be killed past
it. After each kill, the killed incarnation's log is checked against the database opened anew
(and, every few kills, ``strata admin info``): every acknowledged durable write is there; of
the ordered KV writes, the ones missing are a suffix (non-durable writes lost, never a hole);
batches and transactions are all or nothing; transfers keep the total; counters are within
what was acknowledged and tried; a UNIQUE value is never duplicated. At the end every worker
is killed and every incarnation is checked again after a read-write recovery.

The schedule of kills (which worker, after how long, each restart's seed) comes from
``--seed N`` (or ``$STRATA_SEED``), printed on failure. ``STRATA_CRASH_LOOP_KILLS`` sets how
many kills the local run makes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import dialect
from dialect.cli import main as strata
from kvengine import DB, Snapshot
from tests.conftest import fresh_target
from tests.crash.worker import EMAILS, KV_ACCOUNTS, KV_TOTAL, SQL_ACCOUNTS, SQL_TOTAL, kv_account
from tests.emulators import Emulator

ROOT = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("STRATA_CRASH_LOOP_KILLS", "60"))
#: Small memtables, a quick takeover and garbage collection every second, so flushes,
#: compactions, GC and takeovers of the role of a killed holder happen during the run.
WORKER_OPTIONS = {
    "l0_sst_size": 16384,
    "block_bytes": 1024,
    "l0_compaction_trigger": 3,
    "flusher_poll_ms": 100,
    "flusher_takeover_ms": 1000,
    "gc_interval_s": 1.0,
    "gc_min_age_s": 10.0,
    "wal_gc_min_age_s": 10.0,
}


@dataclass
class Incarnation:
    """One run of one worker, from its start to its SIGKILL."""

    name: str  # s<slot>-<n>
    mode: str
    log: Path
    stderr: Path
    proc: subprocess.Popen[bytes]
    entries: list[dict[str, Any]] = field(default_factory=list)

    def read_log(self) -> None:
        text = self.log.read_text() if self.log.exists() else ""
        self.entries = [json.loads(line) for line in text.splitlines()]


@dataclass
class Figures:
    kills: int = 0
    checks: int = 0
    #: acknowledged writes checked at the end, by kind
    checked: Counter[str] = field(default_factory=Counter)
    #: acknowledged non-durable KV writes found lost (always a suffix)
    nondurable_lost: int = 0


class CrashLoop:
    def __init__(
        self, url: str, storage: dict[str, Any], workdir: Path, seed: int, kv: int, sql: int
    ) -> None:
        self.url, self.storage, self.workdir = url, storage, workdir
        self.rng = random.Random(seed)
        self.seed = seed
        self.modes = ["kv"] * kv + ["sql"] * sql
        self.running: list[Incarnation | None] = [None] * len(self.modes)
        self.done: list[Incarnation] = []
        self.figures = Figures()

    def fail(self, message: str) -> None:
        pytest.fail(f"seed {self.seed}: {message}")

    # -- setup and workers -----------------------------------------------------------------

    def create(self) -> None:
        with DB.open(self.url, **self.storage) as db:
            for i in range(KV_ACCOUNTS):
                db.put(kv_account(i), b"%d" % (KV_TOTAL // KV_ACCOUNTS))
        conn = dialect.connect(self.url, **self.storage)
        cur = conn.cursor()
        cur.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, inc TEXT, n INT)")
        cur.execute("CREATE TABLE counters (slot INT PRIMARY KEY, v INT)")
        cur.execute("CREATE TABLE accounts (id INT PRIMARY KEY, balance INT)")
        cur.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE, inc TEXT)")
        for slot in range(len(self.modes)):
            cur.execute("INSERT INTO counters VALUES (?, 0)", (slot,))
        for i in range(SQL_ACCOUNTS):
            cur.execute("INSERT INTO accounts VALUES (?, ?)", (i, SQL_TOTAL // SQL_ACCOUNTS))
        conn.commit()
        conn.close()

    def start(self, slot: int) -> None:
        name = f"s{slot}-{sum(1 for i in self.done if i.name.startswith(f's{slot}-'))}"
        log, stderr = self.workdir / f"{name}.log", self.workdir / f"{name}.err"
        with stderr.open("wb") as err:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.crash.worker",
                    self.modes[slot],
                    self.url,
                    str(log),
                    str(self.rng.randrange(2**32)),
                    json.dumps(WORKER_OPTIONS),
                    json.dumps(self.storage),
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        self.running[slot] = Incarnation(name, self.modes[slot], log, stderr, proc)

    def kill(self, slot: int) -> Incarnation:
        inc = self.running[slot]
        assert inc is not None
        if inc.proc.poll() is not None:
            self.fail(f"{inc.name} exited by itself:\n{inc.stderr.read_text()[-3000:]}")
        inc.proc.send_signal(signal.SIGKILL)
        inc.proc.wait()
        self.figures.kills += 1
        inc.read_log()
        self.running[slot] = None
        self.done.append(inc)
        return inc

    # -- checks ----------------------------------------------------------------------------

    def check_kv(self, db: Snapshot, inc: Incarnation) -> None:
        ops = [e for e in inc.entries if e["op"] == "kv"]
        # The latest op on each key decides what it holds; earlier effects on it are not told.
        # An op may delete a key put before (its ``victim``), and one that was in flight when
        # the process was killed, not acknowledged, may still have landed.
        last_on: dict[str, int] = {}
        for op in ops:
            for key in op["effects"]:
                last_on[key] = op["n"]
        for e in inc.entries:
            if e["op"] == "kv-try" and e["victim"] is not None:
                last_on[e["victim"]] = max(last_on.get(e["victim"], 0), e["n"])
        status: list[bool | None] = []
        for op in ops:
            told = [(k, v) for k, v in op["effects"].items() if last_on[k] == op["n"]]
            found = [db.get(k.encode()) == (None if v is None else v.encode()) for k, v in told]
            if found and any(found) and not all(found):
                self.fail(f"{inc.name}: op {op['n']} partly applied: {told} -> {found}")
            status.append(found[0] if found else None)
            if op["durable"] and found and not found[0]:
                self.fail(f"{inc.name}: acknowledged durable op {op} lost")
        applied = [i for i, s in enumerate(status) if s]
        lost = [i for i, s in enumerate(status) if s is False]
        if applied and lost and min(lost) < max(applied):
            self.fail(
                f"{inc.name}: a hole: op {ops[min(lost)]} lost, "
                f"op {ops[max(applied)]['n']} after it kept"
            )
        self.figures.nondurable_lost += len(lost)
        for e in inc.entries:
            if e["op"] == "transfer" and e["durable"] and db.get(e["marker"].encode()) is None:
                self.fail(f"{inc.name}: acknowledged durable transfer {e['marker']} lost")

    def check_kv_total(self, snap: Snapshot) -> None:
        balances = [int(snap.get(kv_account(i)) or b"-1") for i in range(KV_ACCOUNTS)]
        if sum(balances) != KV_TOTAL or min(balances) < 0:
            self.fail(f"KV balances {balances} do not add up to {KV_TOTAL}")

    def check_sql(self, conn: dialect.Connection, incs: list[Incarnation]) -> None:
        cur = conn.cursor()
        for inc in incs:
            if inc.mode != "sql":
                continue
            cur.execute("SELECT n FROM events WHERE inc = ?", (inc.name,))
            ns = Counter(n for (n,) in cur.fetchall())
            acked = [e["n"] for e in inc.entries if e["op"] == "event"]
            missing = [n for n in acked if n not in ns]
            if missing or any(c > 1 for c in ns.values()):
                self.fail(f"{inc.name}: events {missing} lost, or some twice: {ns}")
        cur.execute("SELECT slot, v FROM counters ORDER BY slot")
        values = dict(cur.fetchall())
        for slot, mode in enumerate(self.modes):
            if mode != "sql":
                continue
            mine = [i for i in self.done if i.name.startswith(f"s{slot}-")]
            acked = sum(1 for i in mine for e in i.entries if e["op"] == "counter")
            tried = sum(1 for i in mine for e in i.entries if e["op"] == "counter-try")
            if self.running[slot] is not None:  # still writing: no upper bound yet
                tried = sys.maxsize
            if not acked <= values[slot] <= tried:
                self.fail(f"counter of slot {slot} is {values[slot]}: not in [{acked}, {tried}]")
        cur.execute("SELECT COUNT(*), SUM(balance), MIN(balance) FROM accounts")
        count, total, least = cur.fetchone()
        if (count, total) != (SQL_ACCOUNTS, SQL_TOTAL) or least < 0:
            self.fail(f"SQL accounts: {count} rows holding {total} (least {least})")
        cur.execute("SELECT email, COUNT(*) FROM users GROUP BY email HAVING COUNT(*) > 1")
        if dupes := cur.fetchall():
            self.fail(f"UNIQUE email duplicated: {dupes}")
        for e in range(EMAILS):
            cur.execute("SELECT COUNT(*) FROM users WHERE email = ?", (f"user{e}@example.com",))
            if cur.fetchone()[0] > 1:
                self.fail(f"user{e}@example.com found more than once through the index")
        conn.rollback()

    def check(self, incs: list[Incarnation], *, read_only: bool, cli: bool) -> None:
        self.figures.checks += 1
        with (
            DB.open(self.url, read_only=read_only, **self.storage) as db,
            db.snapshot() as snap,  # one view: the other writers keep writing
        ):
            for inc in incs:
                if inc.mode == "kv":
                    self.check_kv(snap, inc)
            self.check_kv_total(snap)
        conn = dialect.connect(self.url, read_only=read_only, **self.storage)
        try:
            self.check_sql(conn, incs)
        finally:
            conn.close()
        if cli:
            options = [a for k, v in self.storage.items() for a in ("-o", f"{k}={v}")]
            result = CliRunner().invoke(strata, ["admin", "info", self.url, *options])
            if result.exit_code != 0 or "manifest id" not in result.output:
                self.fail(f"strata admin info failed: {result.output}{result.exception!r}")

    # -- the loop --------------------------------------------------------------------------

    def run(self, kills: int, *, max_wait_s: float) -> Figures:
        self.create()
        for slot in range(len(self.modes)):
            self.start(slot)
        for k in range(kills):
            time.sleep(self.rng.uniform(0.02, max_wait_s))
            slot = self.rng.randrange(len(self.modes))
            inc = self.kill(slot)
            self.check([inc], read_only=True, cli=k % 10 == 0)
            self.start(slot)
        for slot in range(len(self.modes)):
            time.sleep(self.rng.uniform(0.02, max_wait_s))
            self.kill(slot)
        self.check(self.done, read_only=False, cli=True)
        for inc in self.done:
            self.figures.checked.update(
                e["op"] for e in inc.entries if e["op"] not in ("open", "kv-try")
            )
        return self.figures

    def stop(self) -> None:
        for inc in self.running:
            if inc is not None and inc.proc.poll() is None:
                inc.proc.kill()
                inc.proc.wait()


def run_loop(
    url: str, storage: dict[str, Any], workdir: Path, seed: int, kills: int, max_wait_s: float
) -> Figures:
    loop = CrashLoop(url, storage, workdir, seed, kv=3, sql=2)
    try:
        figures = loop.run(kills, max_wait_s=max_wait_s)
    finally:
        loop.stop()
    print(f"seed {seed}: {figures}")
    return figures


@pytest.mark.slow
def test_sigkill_loop_of_kv_and_sql_writers_local(tmp_path: Path, seed: int) -> None:
    workdir = tmp_path / "logs"
    workdir.mkdir()
    figures = run_loop(str(tmp_path / "db"), {}, workdir, seed, KILLS, max_wait_s=1.2)
    assert figures.kills >= KILLS
    assert figures.checked["kv"] > 0 and figures.checked["event"] > 0


@pytest.mark.slow
def test_sigkill_loop_of_kv_and_sql_writers_on_gcs(
    gcs_server: Emulator, tmp_path: Path, seed: int
) -> None:
    url, storage = fresh_target(gcs_server)
    figures = run_loop(url, dict(storage), tmp_path, seed, 10, max_wait_s=2.0)
    assert figures.kills >= 10
    assert figures.checked["kv"] > 0
