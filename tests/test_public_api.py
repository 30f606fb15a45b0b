"""The public surface is a design decision: adding or removing a name must change this test."""

from __future__ import annotations

import kvengine


def test_kvengine_exports() -> None:
    assert sorted(kvengine.__all__) == sorted(
        [
            "DB",
            "Closed",
            "Corruption",
            "Fenced",
            "InvalidArgument",
            "ObjectNotFound",
            "ObjectStore",
            "Options",
            "RetryPolicy",
            "Snapshot",
            "Store",
            "StoreConfigError",
            "StoreError",
            "StorePermissionDenied",
            "StoreStats",
            "StoreUnavailable",
            "StrataError",
            "WriteBatch",
            "open_store",
        ]
    )
    for name in kvengine.__all__:
        assert getattr(kvengine, name) is not None


def test_errors_form_one_hierarchy() -> None:
    for name in kvengine.__all__:
        obj = getattr(kvengine, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, kvengine.StrataError)
