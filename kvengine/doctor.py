"""Checks an object store the way a careful user would before trusting a database to it:
request latency by kind, and whether create-only writes really have exactly one winner."""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from kvengine.errors import ObjectNotFound, StrataError
from kvengine.store import Store


@dataclass(frozen=True)
class Timing:
    """Latencies of one kind of request, in milliseconds."""

    name: str
    samples_ms: tuple[float, ...]

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Check:
    """One yes/no property of the store, with what was seen."""

    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    """Everything ``diagnose`` measured."""

    url: str
    timings: list[Timing] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def _time(n: int, fn: Callable[[int], object]) -> tuple[float, ...]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return tuple(out)


def diagnose(
    store: Store, *, samples: int = 20, object_bytes: int = 4096, racers: int = 8
) -> Report:
    """Measure ``store`` and check its guarantees, under a fresh ``doctor/<id>/`` prefix that is
    deleted afterwards. Store failures are reported as failed checks, not raised."""
    report = Report(store.url)
    base = f"doctor/{uuid.uuid4().hex[:12]}"
    payload = os.urandom(object_bytes)
    try:
        _measure(store, base, payload, samples, report)
        _check_create_only(store, base, racers, samples, report)
        _check_semantics(store, base, payload, report)
    except StrataError as exc:
        report.checks.append(Check("store reachable", False, f"{type(exc).__name__}: {exc}"))
    finally:
        try:
            for obj in store.list(base + "/"):
                store.delete(obj.path)
        except StrataError:
            pass
    return report


def _measure(store: Store, base: str, payload: bytes, n: int, report: Report) -> None:
    t = report.timings
    t.append(
        Timing(f"PUT {len(payload)} B", _time(n, lambda i: store.put(f"{base}/p{i}", payload)))
    )
    t.append(Timing(f"GET {len(payload)} B", _time(n, lambda i: store.get(f"{base}/p{i}"))))
    t.append(Timing("GET 100 B range", _time(n, lambda i: store.get(f"{base}/p{i}", 1000, 1100))))
    t.append(Timing("HEAD", _time(n, lambda i: store.head(f"{base}/p{i}"))))
    t.append(Timing(f"LIST {n} objects", _time(n, lambda i: store.list(f"{base}/p"))))
    t.append(
        Timing(
            "PUT create-only",
            _time(n, lambda i: store.put_if_absent(f"{base}/c{i}", payload + str(i).encode())),
        )
    )
    t.append(Timing("DELETE", _time(n, lambda i: store.delete(f"{base}/c{i}"))))


def _check_create_only(store: Store, base: str, racers: int, rounds: int, report: Report) -> None:
    bad_rounds = 0
    for r in range(rounds):
        name = f"{base}/race{r}"
        barrier = threading.Barrier(racers)
        wins: list[int] = []
        lock = threading.Lock()

        def race(
            i: int,
            name: str = name,
            barrier: threading.Barrier = barrier,
            wins: list[int] = wins,
            lock: threading.Lock = lock,
        ) -> None:
            barrier.wait()
            if store.put_if_absent(name, f"racer {i} {uuid.uuid4()}".encode()):
                with lock:
                    wins.append(i)

        threads = [threading.Thread(target=race, args=(i,)) for i in range(racers)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if len(wins) != 1 or not store.get(name).startswith(f"racer {wins[0]} ".encode()):
            bad_rounds += 1
    report.checks.append(
        Check(
            "create-only is atomic",
            store.atomic_create and bad_rounds == 0,
            f"{rounds} races of {racers} threads: {rounds - bad_rounds} had exactly one winner"
            + ("" if store.atomic_create else "; the backend declares no atomic create"),
        )
    )


def _check_semantics(store: Store, base: str, payload: bytes, report: Report) -> None:
    name = f"{base}/sem"
    store.put(name, payload)
    second = store.put_if_absent(name, b"other bytes")
    report.checks.append(
        Check("create-only refuses an existing object", not second, f"second writer got {second}")
    )
    ranged = store.get(name, 10, 20) == payload[10:20]
    report.checks.append(
        Check("ranged reads", ranged, "bytes [10, 20) match" if ranged else "mismatch")
    )
    listed = [o.path for o in store.list(base + "/")]
    report.checks.append(
        Check("listing is sorted", listed == sorted(listed), f"{len(listed)} objects listed")
    )
    store.delete(name)
    try:
        store.get(name)
        gone, detail = False, "object still readable after delete"
    except ObjectNotFound:
        gone, detail = True, "read after delete is a clean not-found"
    report.checks.append(Check("delete then read", gone, detail))
