"""`python -m tests.fuzz.rowcodec [libFuzzer options]`: fuzz target rowcodec (targets.py)."""

from tests.fuzz.targets import fuzz

if __name__ == "__main__":
    fuzz("rowcodec")
