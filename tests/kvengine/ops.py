"""One step of a generated workload on a DB, shared by the property tests that drive
engines with (op, key, value) tuples."""

from __future__ import annotations

from kvengine import DB


def apply_op(db: DB, op: str, key: bytes, value: bytes) -> bool:
    """Run ``op`` ("put", "delete", "flush", "compact") on ``db`` (non-durable writes);
    False for any other op, which the caller handles."""
    if op == "put":
        db.put(key, value, durable=False)
    elif op == "delete":
        db.delete(key, durable=False)
    elif op == "flush":
        db.flush()
    elif op == "compact":
        db.compact()
    else:
        return False
    return True
