"""`python -m tests.fuzz.sst_block [libFuzzer options]`: fuzz one target under atheris."""

import atheris  # type: ignore[import-not-found,unused-ignore]

with atheris.instrument_imports(include=["kvengine", "dialect"]):  # coverage of our code only
    from tests.fuzz.targets import fuzz

if __name__ == "__main__":
    fuzz("sst_block")
