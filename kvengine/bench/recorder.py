"""Runs an operation on N threads until a count or a deadline, timing every call.

Each thread records into its own HDR histogram (microseconds, 3 significant digits) and, when
asked, a timeline of (seconds since start, latency ms) for plotting; the histograms are merged
when the threads end. ``progress`` is called from the calling thread only, about ten times a
second, with the number of operations done.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

#: Histogram range: 1 µs to one hour.
_LOWEST_US = 1
_HIGHEST_US = 3_600_000_000
_DIGITS = 3


def new_histogram() -> HdrHistogram:
    """An empty latency histogram in microseconds."""
    return HdrHistogram(_LOWEST_US, _HIGHEST_US, _DIGITS)


@dataclass
class Timing:
    """What a run measured: ``ops`` calls in ``seconds`` of wall time."""

    ops: int
    seconds: float
    histogram: HdrHistogram
    timeline: list[tuple[float, float]] = field(default_factory=list)


def run_timed(
    op: Callable[[int, int], object],
    *,
    threads: int = 1,
    max_ops: int | None = None,
    duration_s: float | None = None,
    keep_timeline: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Timing:
    """Call ``op(thread_index, op_index)`` from ``threads`` threads; op indexes are 0, 1, …
    across all threads, until ``max_ops`` calls were started or ``duration_s`` has passed
    (at least one of them must be set). An exception in ``op`` stops every thread and is
    raised here once they have ended."""
    if max_ops is None and duration_s is None:
        raise ValueError("run_timed needs max_ops or duration_s")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    limit = max_ops if max_ops is not None else 1 << 62
    lock = threading.Lock()
    next_index = 0
    done = 0
    stop = threading.Event()
    failures: list[BaseException] = []
    histograms = [new_histogram() for _ in range(threads)]
    timelines: list[list[tuple[float, float]]] = [[] for _ in range(threads)]
    t0 = time.perf_counter()
    deadline = t0 + duration_s if duration_s is not None else None

    def claim() -> int | None:
        nonlocal next_index
        with lock:
            if stop.is_set() or next_index >= limit:
                return None
            if deadline is not None and time.perf_counter() >= deadline:
                return None
            i = next_index
            next_index += 1
            return i

    def body(t: int) -> None:
        nonlocal done
        hist, line = histograms[t], timelines[t]
        clock = time.perf_counter
        try:
            while (i := claim()) is not None:
                start = clock()
                op(t, i)
                end = clock()
                hist.record_value(max(_LOWEST_US, round((end - start) * 1e6)))
                if keep_timeline:
                    line.append((end - t0, (end - start) * 1000))
                with lock:
                    done += 1
        except BaseException as exc:
            failures.append(exc)
            stop.set()

    workers = [threading.Thread(target=body, args=(t,), daemon=True) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        while w.is_alive():
            w.join(0.1)
            if progress is not None:
                progress(done)
    seconds = time.perf_counter() - t0
    if failures:
        raise failures[0]
    merged = new_histogram()
    for h in histograms:
        merged.add(h)
    timeline = sorted(p for line in timelines for p in line) if keep_timeline else []
    return Timing(done, seconds, merged, timeline)
