"""`python -m tests.fuzz.wal [libFuzzer options]`: fuzz target wal (targets.py)."""

from tests.fuzz.targets import fuzz

if __name__ == "__main__":
    fuzz("wal")
