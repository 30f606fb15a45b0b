"""Runs an operation on N threads until a count or a deadline, timing every call.

Each thread tallies its latencies per microsecond and, when asked, keeps a timeline of
(seconds since start, latency ms) for plotting; the tallies go into one HDR histogram
(microseconds, 3 significant digits) when the threads end. ``progress`` is called from the
calling thread only, about ten times a second, with the number of operations done.
"""

from __future__ import annotations

import gc
import itertools
import math
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
    indexes = itertools.count()  # next() is one C call under the GIL: indexes without a lock
    done = [0] * threads
    failures: list[BaseException] = []
    # Latencies are tallied per whole microsecond in a dict (a C-level update per call) and
    # folded into the HDR histograms when the threads end: the same histogram, at a fraction
    # of the per-call cost of HdrHistogram.record_value (pure Python), which a fast
    # operation would otherwise pay inside the measured loop.
    tallies: list[dict[int, int]] = [{} for _ in range(threads)]
    timelines: list[list[tuple[float, float]]] = [[] for _ in range(threads)]
    # The objects alive now (the bench's own imports — SQLAlchemy, rich, pandas — and the
    # workload's setup) are moved out of the cyclic collector's reach for the run, as an
    # application does with gc.freeze() after its start-up: otherwise every full collection
    # rescans them, which costs a fast operation a fifth of its rate here (docs/benchmarks.md).
    gc.collect()
    gc.freeze()
    t0 = time.perf_counter()
    end_at = t0 + duration_s if duration_s is not None else math.inf

    def body(t: int) -> None:
        tally, line = tallies[t], timelines[t]
        clock = time.perf_counter
        n = 0
        try:
            while not failures:
                i = next(indexes)
                if i >= limit:
                    return
                start = clock()
                if start >= end_at:
                    return
                op(t, i)
                end = clock()
                us = round((end - start) * 1e6)
                tally[us] = tally.get(us, 0) + 1
                if keep_timeline:
                    line.append((end - t0, (end - start) * 1000))
                n += 1
                done[t] = n
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=body, args=(t,), daemon=True) for t in range(threads)]
    try:
        for w in workers:
            w.start()
        for w in workers:
            while w.is_alive():
                w.join(0.1)
                if progress is not None:
                    progress(sum(done))
        seconds = time.perf_counter() - t0
    finally:
        gc.unfreeze()
    if failures:
        raise failures[0]
    merged = new_histogram()
    for tally in tallies:
        for us, count in tally.items():
            merged.record_value(max(_LOWEST_US, us), count)
    timeline = sorted(p for line in timelines for p in line) if keep_timeline else []
    return Timing(sum(done), seconds, merged, timeline)
