"""`python -m tests.fuzz.manifest [libFuzzer options]`: fuzz target manifest (targets.py)."""

from tests.fuzz.targets import fuzz

if __name__ == "__main__":
    fuzz("manifest")
