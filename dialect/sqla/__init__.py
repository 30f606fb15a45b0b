"""The SQLAlchemy dialect for Strata (``strata://`` and ``strata+<protocol>://`` URLs)."""
