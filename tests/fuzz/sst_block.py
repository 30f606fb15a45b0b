"""`python -m tests.fuzz.sst_block [libFuzzer options]`: fuzz target sst_block (targets.py)."""

from tests.fuzz.targets import fuzz

if __name__ == "__main__":
    fuzz("sst_block")
