"""A writer process for test_compactor_process.py: random puts and deletes over a small key
space into a shared database, then the resulting model as JSON on stdout's last line.

    python -m tests.kvengine.compaction_writer URL ROUNDS SEED
"""

from __future__ import annotations

import json
import os
import random
import sys

from kvengine import DB, Options

# The compactor process is to hold the flush role throughout: on a loaded machine it may not
# change the manifest for the default 15 s takeover time, and the writer would then rightly
# take the role (and the test would see the compactor fenced by the writer).
OPTIONS = Options(
    l0_sst_size=16 * 1024, flusher_poll_ms=50, block_bytes=1024, flusher_takeover_ms=600_000
)


def main(url: str, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    model: dict[str, str] = {}
    with DB.open(url, options=OPTIONS) as db:
        for round_ in range(rounds):
            for _ in range(100):
                key = b"k%04d" % rng.randrange(500)
                if rng.random() < 0.15:
                    db.delete(key, durable=False)
                    model.pop(key.hex(), None)
                else:
                    value = os.urandom(rng.randint(10, 200))
                    db.put(key, value, durable=False)
                    model[key.hex()] = value.hex()
            db.flush_wal()
            print(f"round {round_}", flush=True)
        stats = db.stats()
        got = {k.hex(): v.hex() for k, v in db.scan()}
        assert got == model, "the writer's own reads differ from its model"
    print(f"stats {json.dumps({k: stats[k] for k in ('flushed_ssts', 'flush_role')})}")
    print(f"model {json.dumps(model)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
