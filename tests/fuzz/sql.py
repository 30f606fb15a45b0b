"""`python -m tests.fuzz.sql [libFuzzer options]`: fuzz target sql (targets.py)."""

from tests.fuzz.targets import fuzz

if __name__ == "__main__":
    fuzz("sql")
