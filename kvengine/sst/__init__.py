"""SSTables: immutable sorted files of entries (format: docs/formats/sst.md)."""

from kvengine.sst.builder import SpooledSST, SSTBuilder, SSTInfo, SSTOutput, SSTParts
from kvengine.sst.cache import BlockCache
from kvengine.sst.reader import SSTReader

__all__ = [
    "BlockCache",
    "SSTBuilder",
    "SSTInfo",
    "SSTOutput",
    "SSTParts",
    "SSTReader",
    "SpooledSST",
]
