"""`python -m tests.fuzz.keycodec [libFuzzer options]`: fuzz target keycodec (targets.py)."""

from tests.fuzz.targets import fuzz

if __name__ == "__main__":
    fuzz("keycodec")
