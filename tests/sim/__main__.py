"""``python -m tests.sim --seed N [--steps S] [--seeds K] [--layer kv|sql|both] [--jobs J]
[--trace]``: run the simulation (harness.py: the KV layer; sql.py: the SQL layer) for seed N
(or K seeds from N), printing each seed's figures (or, for many seeds, their totals;
``--trace``: and the trace, step by step); exit 1 at the first failure, printing
the command that reproduces it. The long mode is many seeds, e.g.
``python -m tests.sim --seeds 5000 --jobs 4``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.sim.harness import InvariantViolated, Simulation, run
from tests.sim.sql import SqlInvariantViolated, SqlSimulation, run_sql

RUNNERS: dict[str, Callable[[int, int], Any]] = {"kv": run, "sql": run_sql}


def print_trace(sim: Simulation | SqlSimulation) -> None:
    print("\n".join(sim.log))
    sim.log.clear()


class BugLog(logging.Handler):
    """Collects what the engine's threads log as a bug (``log.exception``: an exception that
    is not a ``StrataError``, caught so that the thread lives on)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is not None:
            self.records.append(record)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sim")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1, help="how many seeds from --seed")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--layer", choices=["kv", "sql", "both"], default="both")
    parser.add_argument("--trace", action="store_true", help="print every step")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run at once (threads)")
    parser.add_argument(
        "--bugs-fail",
        action="store_true",
        help="a bug the engine logs (and survives) fails the seed; with --jobs 1 it names it",
    )
    args = parser.parse_args(argv)
    bugs = BugLog()
    logging.getLogger("kvengine").addHandler(bugs)
    layers = ["kv", "sql"] if args.layer == "both" else [args.layer]
    verbose = args.seeds <= 20
    for layer in layers:
        totals: Counter[str] = Counter()
        seeds = range(args.seed, args.seed + args.seeds)

        def one(seed: int, layer: str = layer) -> tuple[int, Any]:
            if args.trace:
                runner = run if layer == "kv" else run_sql
                return seed, runner(seed, args.steps, print_trace)
            return seed, RUNNERS[layer](seed, args.steps)

        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            results: Iterator[tuple[int, Any]] = pool.map(one, seeds)
            try:
                for seed, figures in results:
                    totals.update({k: v for k, v in vars(figures).items() if isinstance(v, int)})
                    if verbose:
                        print(f"{layer} seed {seed}: {figures}", flush=True)
                    if bugs.records:
                        totals["bugs_logged"] += len(bugs.records)
                        first = bugs.records[0]
                        print(
                            f"{layer} seed {seed} (or one running with it): the engine logged "
                            f"a bug: {first.getMessage()}: {(first.exc_info or (None, None))[1]!r}"
                        )
                        bugs.records.clear()
                        if args.bugs_fail:
                            print(
                                f"reproduce: python -m tests.sim --seed {seed} --steps "
                                f"{args.steps} --layer {layer} --bugs-fail"
                            )
                            pool.shutdown(cancel_futures=True)
                            return 1
            except (InvariantViolated, SqlInvariantViolated) as exc:
                print(exc, file=sys.stderr)
                seed = int(str(exc).split()[1].rstrip(":"))
                print(
                    f"reproduce: python -m tests.sim --seed {seed} --steps {args.steps} "
                    f"--layer {layer}"
                )
                pool.shutdown(cancel_futures=True)
                return 1
        print(f"{layer}: {args.seeds} seeds from {args.seed}, {args.steps} steps: {dict(totals)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
