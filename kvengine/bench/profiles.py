"""Modelled object-store latency for ``--latency``: named profiles and explicit milliseconds.

The named profiles are per-request medians typical of each service from a VM in the same
region (small objects), jittered ±``jitter`` around them by :class:`LatencyStore`. They are a
model for comparing request patterns on a laptop, not a measurement of any provider:

=============  =====  =====  =====  =====  ======
profile        PUT    GET    HEAD   LIST   DELETE
=============  =====  =====  =====  =====  ======
``gcs``        50     20     20     25     20
``s3``         30     15     10     25     15
``s3-express`` 5      3      3      5      3
``none``       0      0      0      0      0
=============  =====  =====  =====  =====  ======

An explicit spec names milliseconds per kind, ``put=50,get=20`` (kinds not named are not
delayed), optionally with ``jitter=0.2`` (a fraction; 0.1 by default).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from kvengine.store.base import DELETE, GET, HEAD, LIST, PUT, ObjectStore
from kvengine.store.latency import LatencyStore

PROFILES_MS: Mapping[str, Mapping[str, float]] = {
    "gcs": {PUT: 50.0, GET: 20.0, HEAD: 20.0, LIST: 25.0, DELETE: 20.0},
    "s3": {PUT: 30.0, GET: 15.0, HEAD: 10.0, LIST: 25.0, DELETE: 15.0},
    "s3-express": {PUT: 5.0, GET: 3.0, HEAD: 3.0, LIST: 5.0, DELETE: 3.0},
    "none": {},
}

_KINDS = {k.lower(): k for k in (PUT, GET, HEAD, LIST, DELETE)}


@dataclass(frozen=True)
class LatencyModel:
    """Milliseconds per request kind (medians) and the jitter fraction around them."""

    name: str
    ms: Mapping[str, float] = field(default_factory=dict)
    jitter: float = 0.1

    @property
    def delays(self) -> bool:
        return any(v > 0 for v in self.ms.values())

    def wrapper(self, seed: int) -> Callable[[ObjectStore], ObjectStore] | None:
        """A ``wrap`` for ``open_store`` putting a seeded :class:`LatencyStore` under the
        counters, or None when nothing is delayed."""
        if not self.delays:
            return None
        latency_s = {kind: ms / 1000 for kind, ms in self.ms.items()}
        return lambda inner: LatencyStore(inner, latency_s, jitter=self.jitter, seed=seed)


def parse_latency(spec: str) -> LatencyModel:
    """A profile name or ``kind=ms,…[,jitter=f]``; raises ValueError naming what is wrong."""
    if spec in PROFILES_MS:
        return LatencyModel(spec, dict(PROFILES_MS[spec]))
    ms: dict[str, float] = {}
    jitter = 0.1
    for part in spec.split(","):
        key, sep, value = part.strip().partition("=")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not sep or number < 0:
            raise ValueError(
                f"bad latency {spec!r}: expected one of {', '.join(PROFILES_MS)} or "
                "kind=ms pairs such as put=50,get=20[,jitter=0.1]"
            )
        if key.lower() == "jitter":
            if number > 1:
                raise ValueError(f"jitter must be within [0, 1], got {number}")
            jitter = number
        elif key.lower() in _KINDS:
            ms[_KINDS[key.lower()]] = number
        else:
            known = ", ".join(_KINDS)
            raise ValueError(f"unknown request kind {key!r} in {spec!r}; known: {known}")
    return LatencyModel(spec, ms, jitter)


#: No injected latency.
NO_LATENCY = LatencyModel("none")
