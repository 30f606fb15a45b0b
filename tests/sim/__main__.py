"""``python -m tests.sim --seed N [--steps S] [--seeds K]``: run the simulation (harness.py)
for seed N (or K seeds from N), printing each seed's figures; exit 1 at the first failure."""

from __future__ import annotations

import argparse
import sys

from tests.sim.harness import InvariantViolated, run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sim")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1, help="how many seeds from --seed")
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args(argv)
    for seed in range(args.seed, args.seed + args.seeds):
        try:
            figures = run(seed, args.steps)
        except InvariantViolated as exc:
            print(exc, file=sys.stderr)
            print(f"reproduce: python -m tests.sim --seed {seed} --steps {args.steps}")
            return 1
        print(f"seed {seed}: {figures}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
