"""SQLAlchemy's third-party dialect compliance suite against Strata."""

from sqlalchemy.testing.suite import *  # noqa: F403
