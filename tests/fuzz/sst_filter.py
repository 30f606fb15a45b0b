"""`python -m tests.fuzz.sst_filter [libFuzzer options]`: fuzz target sst_filter (targets.py)."""

from tests.fuzz.targets import fuzz

if __name__ == "__main__":
    fuzz("sst_filter")
