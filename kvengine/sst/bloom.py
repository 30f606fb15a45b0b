"""Bloom filters: "no" for most keys an SST does not hold, without reading it.

``k`` bit positions per key come from double hashing (``h1 + i*h2``) of a 64-bit BLAKE2b
digest of the key. Encoded as ``k (1 byte) | bit array``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

from kvengine.errors import Corruption


def key_digest(key: bytes) -> bytes:
    """The 8 bytes of ``key`` a filter is built from (a builder keeps these, not the keys)."""
    return hashlib.blake2b(key, digest_size=8).digest()


def _split(digest: bytes) -> tuple[int, int]:
    return int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:8], "little") | 1


def key_hashes(key: bytes) -> tuple[int, int]:
    """The two hashes every filter probes for ``key``: computed once, they serve the
    filters of all the SSTs a read looks in."""
    h = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")
    return h & 0xFFFFFFFF, (h >> 32) | 1


def build_filter(keys: Iterable[bytes], count: int, bits_per_key: int) -> bytes:
    """A filter over ``keys`` (``count`` of them) with about ``bits_per_key`` bits each."""
    return build_filter_from_digests(map(key_digest, keys), count, bits_per_key)


def build_filter_from_digests(digests: Iterable[bytes], count: int, bits_per_key: int) -> bytes:
    """``build_filter`` of the keys whose ``key_digest`` are ``digests``."""
    nbits = max(64, count * max(1, bits_per_key))
    nbits = (nbits + 7) // 8 * 8
    k = max(1, min(30, round(bits_per_key * math.log(2))))
    bits = bytearray(nbits // 8)
    for digest in digests:
        h1, h2 = _split(digest)
        for i in range(k):
            pos = (h1 + i * h2) % nbits
            bits[pos >> 3] |= 1 << (pos & 7)
    return bytes([k]) + bytes(bits)


class BloomFilter:
    """A decoded filter; ``may_contain`` is False only for keys certainly not added."""

    def __init__(self, name: str, data: bytes) -> None:
        if len(data) < 2 or not 1 <= data[0] <= 30:
            raise Corruption(name, "bloom filter is malformed")
        self._k = data[0]
        self._bits = data[1:]
        self._nbits = len(self._bits) * 8
        self.size = len(data)

    def may_contain(self, key: bytes) -> bool:
        return self.may_contain_hashes(*key_hashes(key))

    def may_contain_hashes(self, h1: int, h2: int) -> bool:
        """``may_contain`` of the key whose :func:`key_hashes` are ``(h1, h2)``."""
        bits, nbits = self._bits, self._nbits
        for i in range(self._k):
            pos = (h1 + i * h2) % nbits
            if not bits[pos >> 3] & (1 << (pos & 7)):
                return False
        return True
