"""The SQLAlchemy dialect for Strata (``strata://`` and ``strata+<protocol>://`` URLs), and
``insert()``, an INSERT construct with upsert clauses (``from dialect.sqla import insert``)."""

from dialect.sqla.dml import Insert, insert

__all__ = ("Insert", "insert")
