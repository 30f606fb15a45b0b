"""Every kept corpus file through its decoder: only the documented error types."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.targets import CORPUS, TARGETS, check

FILES = sorted(p for p in CORPUS.glob("*/*") if p.is_file())


def test_every_target_has_a_corpus() -> None:
    assert {p.parent.name for p in FILES} == set(TARGETS)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_file(path: Path) -> None:
    check(path.parent.name, path.read_bytes())
