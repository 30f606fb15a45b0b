"""Strata's SQL layer: a PEP 249 driver and SQLAlchemy dialect over kvengine."""
