"""Strata's key-value engine: an LSM tree whose only durable state is objects in a store."""
