"""`python -m tests.fuzz.sst [libFuzzer options]`: fuzz target sst (targets.py)."""

from tests.fuzz.targets import fuzz

if __name__ == "__main__":
    fuzz("sst")
