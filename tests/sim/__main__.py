"""``python -m tests.sim --seed N [--steps S] [--seeds K] [--trace]``: run the simulation
(harness.py) for seed N (or K seeds from N), printing each seed's figures (``--trace``: and
its trace, step by step); exit 1 at the first failure."""

from __future__ import annotations

import argparse
import sys

from tests.sim.harness import InvariantViolated, Simulation, run


def print_trace(sim: Simulation) -> None:
    print("\n".join(sim.log))
    sim.log.clear()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sim")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1, help="how many seeds from --seed")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--trace", action="store_true", help="print every step")
    args = parser.parse_args(argv)
    for seed in range(args.seed, args.seed + args.seeds):
        try:
            figures = run(seed, args.steps, print_trace if args.trace else None)
        except InvariantViolated as exc:
            print(exc, file=sys.stderr)
            print(f"reproduce: python -m tests.sim --seed {seed} --steps {args.steps}")
            return 1
        print(f"seed {seed}: {figures}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
