"""Several processes writing one database at once, as the workers of a web app do: each runs
money transfers through its own SQLAlchemy engine, retrying a transaction that loses a
conflict; the total never changes.

python examples/shared_writers.py [DIR]      # default: a temporary local directory
"""

from __future__ import annotations

import multiprocessing
import random
import sys
import tempfile

import sqlalchemy as sa

import dialect


def transfer(engine: sa.Engine, rng: random.Random) -> int:
    """Move money between two accounts; returns how many conflicts it retried."""
    a, b = rng.sample(range(1, 6), 2)
    amount = rng.randint(1, 10)
    for attempt in range(20):
        try:
            with engine.begin() as conn:
                balance = conn.execute(
                    sa.text("SELECT balance FROM accounts WHERE id = :a"), {"a": a}
                ).scalar_one()
                conn.execute(
                    sa.text("UPDATE accounts SET balance = :b WHERE id = :a"),
                    {"b": balance - amount, "a": a},
                )
                conn.execute(
                    sa.text("UPDATE accounts SET balance = balance + :x WHERE id = :b"),
                    {"x": amount, "b": b},
                )
            return attempt
        except sa.exc.OperationalError as exc:
            if not isinstance(exc.orig, dialect.ConflictError):
                raise  # a conflict is worth retrying; anything else is not
    raise RuntimeError("gave up after 20 conflicts")


def worker(url: str, seed: int, count: int) -> tuple[int, int]:
    engine = sa.create_engine(url)
    rng = random.Random(seed)
    retries = sum(transfer(engine, rng) for _ in range(count))
    engine.dispose()
    return count, retries


def main(directory: str) -> None:
    url = f"strata:///{directory}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INT)"))
        for i in range(1, 6):
            conn.execute(sa.text("INSERT INTO accounts VALUES (:i, 100)"), {"i": i})
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        results = pool.starmap(worker, [(url, seed, 10) for seed in range(3)])
    for i, (done, retries) in enumerate(results):
        print(f"worker {i}: {done} transfers, {retries} retried after a conflict")
    with engine.connect() as conn:
        total = conn.execute(sa.text("SELECT SUM(balance) FROM accounts")).scalar_one()
    print(f"total balance: {total} (always 500)")
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="strata-shared-"))
