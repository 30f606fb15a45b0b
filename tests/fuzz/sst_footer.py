"""`python -m tests.fuzz.sst_footer [libFuzzer options]`: fuzz target sst_footer (targets.py)."""

from tests.fuzz.targets import fuzz

if __name__ == "__main__":
    fuzz("sst_footer")
