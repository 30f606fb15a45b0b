"""Execution: running plan nodes (:mod:`dialect.exec.operators`) and writing rows
(:mod:`dialect.exec.writer`)."""
