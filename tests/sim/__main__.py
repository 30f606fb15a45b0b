"""``python -m tests.sim --seed N [--steps S] [--seeds K] [--layer kv|sql|both] [--jobs J]``:
run the simulation (harness.py: the KV layer; sql.py: the SQL layer) for seed N (or K seeds
from N), printing each seed's figures (or, for many seeds, their totals); exit 1 at the first
failure, printing the command that reproduces it. The long mode is many seeds, e.g.
``python -m tests.sim --seeds 5000 --jobs 4``."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.sim.harness import InvariantViolated, run
from tests.sim.sql import SqlInvariantViolated, run_sql

RUNNERS: dict[str, Callable[[int, int], Any]] = {"kv": run, "sql": run_sql}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sim")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1, help="how many seeds from --seed")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--layer", choices=["kv", "sql", "both"], default="both")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run at once (threads)")
    args = parser.parse_args(argv)
    layers = ["kv", "sql"] if args.layer == "both" else [args.layer]
    verbose = args.seeds <= 20
    for layer in layers:
        totals: Counter[str] = Counter()
        seeds = range(args.seed, args.seed + args.seeds)

        def one(seed: int, layer: str = layer) -> tuple[int, Any]:
            return seed, RUNNERS[layer](seed, args.steps)

        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            results: Iterator[tuple[int, Any]] = pool.map(one, seeds)
            try:
                for seed, figures in results:
                    totals.update(vars(figures))
                    if verbose:
                        print(f"{layer} seed {seed}: {figures}", flush=True)
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
