"""Reading an SST: footer, then index and filter (one ranged read in the common case), then
data blocks one ranged read each, all cached."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from enum import Enum

import msgpack

from kvengine.errors import Corruption
from kvengine.record import MAX_SEQ, Entry
from kvengine.sst.block import DataBlock, block_cache_bytes, decode_data_block, unframe
from kvengine.sst.bloom import BloomFilter, key_hashes
from kvengine.sst.builder import SSTInfo
from kvengine.sst.cache import BlockCache
from kvengine.sst.footer import V1_FOOTER_BYTES, Footer

#: Bytes read from the end of an SST on open, hoping to get footer, index and filter at once.
TAIL_READ_BYTES = 64 * 1024

ReadRange = Callable[[int, int], bytes]


class NotCached(Enum):
    """The type of :data:`NOT_CACHED`."""

    NOT_CACHED = "not cached"


#: :meth:`SSTReader.lookup_cached`'s answer when a block it needs is not in the cache.
NOT_CACHED = NotCached.NOT_CACHED


class SSTReader:
    """Point reads and range scans of one SST. Thread-safe."""

    def __init__(
        self,
        name: str,
        read: ReadRange,
        info: SSTInfo,
        index: list[tuple[bytes, int, int]],
        bloom: BloomFilter,
        cache: BlockCache | None,
    ) -> None:
        self.name = name
        self.info = info
        self._read = read
        self._last_keys = [entry[0] for entry in index]
        self._handles = [(entry[1], entry[2]) for entry in index]
        self._bloom = bloom
        self._cache = cache

    @classmethod
    def open(
        cls,
        name: str,
        size: int,
        read: ReadRange,
        *,
        cache: BlockCache | None = None,
        expect: tuple[int, SSTInfo] | None = None,
    ) -> SSTReader:
        """Open SST ``name`` of ``size`` bytes, read through ``read(start, end)``. With
        ``expect`` (its id and what the manifest says it holds), an SST whose footer names
        another id, or whose index disagrees with the manifest, is ``Corruption``: another
        SST's valid bytes stored under this name."""
        if size < V1_FOOTER_BYTES:
            raise Corruption(name, f"SST of {size} bytes is too short for a footer")
        tail_start = max(0, size - TAIL_READ_BYTES)
        tail = read(tail_start, size)
        if len(tail) != size - tail_start:
            raise Corruption(name, f"SST is shorter than its recorded size {size}")
        footer = Footer.decode(name, tail, size)
        if expect is not None and footer.sst_id is not None and footer.sst_id != expect[0]:
            raise Corruption(name, f"footer says this is SST {footer.sst_id}, not {expect[0]}")
        if footer.filter_offset < tail_start:
            meta = read(footer.filter_offset, size - footer.length)
        else:
            meta = tail[footer.filter_offset - tail_start : -footer.length]
        if len(meta) != footer.filter_length + footer.index_length:
            raise Corruption(name, "SST filter and index were not read whole")
        bloom = BloomFilter(name, unframe(name, meta[: footer.filter_length], "bloom filter"))
        index_contents = unframe(name, meta[footer.filter_length :], "index block")
        try:
            first, last, count, min_seq, max_seq, blocks = msgpack.unpackb(
                index_contents, raw=False
            )
            index = [(bytes(k), int(off), int(length)) for k, off, length in blocks]
        except (ValueError, TypeError, msgpack.UnpackException) as exc:
            raise Corruption(name, f"index block does not decode: {exc}") from exc
        end = footer.filter_offset
        for (_, off, length), nxt in zip(index, [*(i[1] for i in index[1:]), end], strict=True):
            if off + length != nxt:
                raise Corruption(name, "index block handles do not tile the data section")
        info = SSTInfo(first, last, count, min_seq, max_seq, size)
        if expect is not None and info != expect[1]:
            raise Corruption(name, f"index describes {info}, the manifest {expect[1]}")
        return cls(name, read, info, index, bloom, cache)

    # -- blocks -----------------------------------------------------------------------------

    def _block(self, i: int) -> DataBlock:
        if self._cache is not None:
            cached = self._cache.get(self.name, self._handles[i][0])
            if cached is not None:
                block: DataBlock = cached
                return block
        return self._load(i)

    def _load(self, i: int) -> DataBlock:
        """Read and decode block ``i``, and cache it."""
        offset, length = self._handles[i]
        framed = self._read(offset, offset + length)
        if len(framed) != length:
            raise Corruption(self.name, f"data block at offset {offset} was cut short")
        block = decode_data_block(self.name, unframe(self.name, framed, "data block"), offset)
        if self._cache is not None:
            self._cache.put(self.name, offset, block, block_cache_bytes(block))
        return block

    # -- reads ------------------------------------------------------------------------------

    def may_contain(self, key: bytes) -> bool:
        """False if the SST certainly has no entry for ``key`` (no I/O)."""
        return self._bloom.may_contain(key)

    def get(self, key: bytes, max_seq: int = MAX_SEQ) -> Entry | None:
        """The newest entry of ``key`` with sequence number <= ``max_seq``, tombstones too."""
        found = self.lookup_cached(key, max_seq)
        if found is NOT_CACHED:
            found = self.lookup(key, max_seq)
        if found is None:
            return None
        block, j = found
        return block.entry(j)

    def lookup_cached(
        self, key: bytes, max_seq: int = MAX_SEQ
    ) -> tuple[DataBlock, int] | NotCached | None:
        """Where the newest entry of ``key`` with sequence number <= ``max_seq`` is (its
        block and index in it; None if there is none), found in cached blocks only: no
        filter probe (a cached block answers as surely, and sooner) and no I/O.
        ``NOT_CACHED`` if a block it needs is not in the cache."""
        return self._search(bisect.bisect_left(self._last_keys, key), key, max_seq, True)

    def lookup(
        self, key: bytes, max_seq: int = MAX_SEQ, hashes: tuple[int, int] | None = None
    ) -> tuple[DataBlock, int] | None:
        """Like :meth:`lookup_cached`, reading the blocks not cached, after the filter says
        the key may be here (probed with ``hashes``, the key's
        :func:`~kvengine.sst.bloom.key_hashes`, when given)."""
        if not self._bloom.may_contain_hashes(*(hashes or key_hashes(key))):
            return None
        found = self._search(bisect.bisect_left(self._last_keys, key), key, max_seq, False)
        assert found is not NOT_CACHED
        return found

    def _search(
        self, i: int, key: bytes, max_seq: int, cached_only: bool
    ) -> tuple[DataBlock, int] | NotCached | None:
        handles, cache, name = self._handles, self._cache, self.name
        while i < len(handles):
            block = cache.get(name, handles[i][0]) if cache is not None else None
            if block is None:
                if cached_only:
                    return NOT_CACHED
                block = self._load(i)
            keys = block.keys
            j = bisect.bisect_left(keys, key)
            n = len(keys)
            while j < n and keys[j] == key:
                if block.seqs[j] <= max_seq:
                    return block, j
                j += 1
            if j < n:
                return None
            i += 1  # this key's older versions continue in the next block
        return None

    def scan(
        self, start: bytes | None = None, end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[Entry]:
        """Every entry with ``start <= key < end`` in record order, or its exact reverse."""
        if reverse:
            return self._scan_reverse(start, end)
        return self._scan_forward(start, end)

    def stream(self, readahead_bytes: int) -> Iterator[Entry]:
        """Every entry in record order, for a compaction: consecutive data blocks are read
        together, about ``readahead_bytes`` per ranged GET, and never enter the block cache.
        Memory: one read of about ``readahead_bytes`` (or one block, if larger) at a time."""
        i, n = 0, len(self._handles)
        while i < n:
            start = self._handles[i][0]
            j = i + 1
            while j < n and self._handles[j][0] + self._handles[j][1] - start <= readahead_bytes:
                j += 1
            end = self._handles[j - 1][0] + self._handles[j - 1][1]
            chunk = self._read(start, end)
            if len(chunk) != end - start:
                raise Corruption(self.name, f"data blocks at offset {start} were cut short")
            view = memoryview(chunk)
            for offset, length in self._handles[i:j]:
                framed = bytes(view[offset - start : offset - start + length])
                block = decode_data_block(
                    self.name, unframe(self.name, framed, "data block"), offset
                )
                for k in range(len(block.keys)):
                    yield block.entry(k)
            del view, chunk
            i = j

    def _scan_forward(self, start: bytes | None, end: bytes | None) -> Iterator[Entry]:
        i = 0 if start is None else bisect.bisect_left(self._last_keys, start)
        while i < len(self._handles):
            block = self._block(i)
            j = 0 if start is None else bisect.bisect_left(block.keys, start)
            for k in range(j, len(block.keys)):
                if end is not None and block.keys[k] >= end:
                    return
                yield block.entry(k)
            i += 1

    def _scan_reverse(self, start: bytes | None, end: bytes | None) -> Iterator[Entry]:
        n = len(self._handles)
        i = n - 1 if end is None else min(n - 1, bisect.bisect_left(self._last_keys, end))
        while i >= 0:
            block = self._block(i)
            j = len(block.keys) if end is None else bisect.bisect_left(block.keys, end)
            for k in range(j - 1, -1, -1):
                if start is not None and block.keys[k] < start:
                    return
                yield block.entry(k)
            i -= 1
