"""Counting only: a pytest plugin that names, in each skip message of SQLAlchemy's suite, every
closed requirement that skipped the test (the suite itself says just "marked as skip").
docs/sqlalchemy.md "What SQLAlchemy's suite still skips" is counted with it:

    python -m pytest -c tests/sqla_suite/test.cfg tests/sqla_suite -p no:randomly \
        -p tests.sqla_suite.skip_reasons -q -rs
"""

from __future__ import annotations

import sys
from typing import Any

from sqlalchemy.testing import config, exclusions


def _closed() -> Any:  # Any: an exclusions.compound
    """``exclusions.closed()`` whose reason is the requirement that called it."""
    name = sys._getframe(1).f_code.co_name
    return exclusions.skip_if(exclusions.BooleanPredicate(True, f"{name}"))


_run = exclusions.compound._do


def _do(self: Any, cfg: Any, fn: Any, *args: Any, **kw: Any) -> Any:  # Any: the suite's
    firing = sorted({s._as_string(cfg) for s in self.skips if s(cfg)})
    if firing:
        config.skip_test("requirements: " + " | ".join(firing))
    return _run(self, cfg, fn, *args, **kw)


exclusions.closed = _closed
exclusions.compound._do = _do  # type: ignore[method-assign]
