"""`python -m tests.fuzz.catalog [libFuzzer options]`: fuzz target catalog (targets.py)."""

from tests.fuzz.targets import fuzz

if __name__ == "__main__":
    fuzz("catalog")
