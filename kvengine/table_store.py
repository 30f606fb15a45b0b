"""The only module that names, writes and reads WAL and SST objects.

Object names (docs/formats.md):

* ``wal/<20-digit id>``: one WAL object per group commit, ids consecutive from 1;
* ``sst/<20-digit id>.sst``: one SSTable.

Both kinds are written create-only, so a zombie writer can never replace an object that a
newer writer made. SST readers (index and filter decoded once) and decoded blocks are cached.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from cachetools import LRUCache

from kvengine.errors import Corruption, ObjectNotFound, SSTGone
from kvengine.manifest.model import SSTMeta
from kvengine.options import Options
from kvengine.sst import (
    BlockCache,
    SpooledSST,
    SSTBuilder,
    SSTInfo,
    SSTOutput,
    SSTParts,
    SSTReader,
)
from kvengine.sst.block import block_cache_bytes, decode_data_block, unframe
from kvengine.sst.bloom import BloomFilter
from kvengine.sst.footer import with_sst_id
from kvengine.store.base import FileChunks, ObjectStore, read_at
from kvengine.wal import WalObject, decode_wal

#: WAL objects read at once when catching up with several
WAL_READ_THREADS = 8
WAL_PREFIX = "wal/"
SST_PREFIX = "sst/"
_DIGITS = 20


def wal_path(wal_id: int) -> str:
    return f"{WAL_PREFIX}{wal_id:0{_DIGITS}d}"


def sst_path(sst_id: int) -> str:
    return f"{SST_PREFIX}{sst_id:0{_DIGITS}d}.sst"


#: One written SST enters the block cache up to this share of its capacity (its first
#: blocks): the builder keeps those blocks, and their data, until the SST is written, and one
#: large output should not evict every hot block.
WARM_SHARE = 4


class TableStore:
    """WAL and SST objects of one database, over its object store. Thread-safe."""

    def __init__(self, store: ObjectStore, options: Options) -> None:
        self.store = store
        self.options = options
        self.cache = BlockCache(options.block_cache_bytes)
        self._readers: LRUCache[tuple[int, int], SSTReader] = LRUCache(maxsize=4096)
        #: the stores of a clone's external roots (``Manifest.external``), by root id
        self.roots: dict[int, ObjectStore] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    # -- WAL ------------------------------------------------------------------------------

    def write_wal(self, wal_id: int, data: bytes) -> bool:
        """Create WAL object ``wal_id``; False if it exists (another writer took the id)."""
        return self.store.put_if_absent(wal_path(wal_id), data)

    def wal_bytes(self, wal_id: int) -> bytes | None:
        """The stored bytes of WAL object ``wal_id``, or None if there is none."""
        try:
            return self.store.get(wal_path(wal_id))
        except ObjectNotFound:
            return None

    def read_wal(self, wal_id: int) -> WalObject | None:
        """WAL object ``wal_id``, or None if there is none; ``Corruption`` if damaged."""
        data = self.wal_bytes(wal_id)
        if data is None:
            return None
        obj = decode_wal(wal_path(wal_id), data)
        if obj.wal_id != wal_id:  # another WAL object's valid bytes under this name
            raise Corruption(wal_path(wal_id), f"the header says this is WAL object {obj.wal_id}")
        return obj

    def read_wals(self, wal_ids: list[int]) -> Iterator[WalObject | None]:
        """``read_wal`` of each id, in order, with up to ``WAL_READ_THREADS`` GETs at once."""
        if len(wal_ids) <= 1:
            return (self.read_wal(i) for i in wal_ids)
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(WAL_READ_THREADS, thread_name_prefix="strata-wal")
            pool = self._pool
        return pool.map(self.read_wal, wal_ids)

    def list_wal_ids(self, after: int) -> list[int]:
        """Ids of stored WAL objects greater than ``after``, ascending."""
        start = wal_path(after) if after > 0 else None
        ids = []
        for obj in self.store.list(WAL_PREFIX, start_after=start):
            name = obj.path[len(WAL_PREFIX) :]
            if len(name) == _DIGITS and name.isdigit():
                ids.append(int(name))
        return ids

    # -- SST ------------------------------------------------------------------------------

    def new_builder(self, *, spill: bool = False) -> SSTBuilder:
        """An SST builder with this database's block size, compression and filter settings;
        with ``spill``, one that moves to a temporary file past ``compaction_spill_bytes``
        (a compaction's; without it, a flush's). Its ``parts`` are set when
        ``cache_written_blocks`` applies to it, for :meth:`write_sst`."""
        opts = self.options
        warm = opts.cache_written_blocks == "all" or (
            opts.cache_written_blocks == "flush" and not spill
        )
        return SSTBuilder(
            block_bytes=opts.block_bytes,
            compression=opts.compression,
            bloom_bits_per_key=opts.bloom_bits_per_key,
            spill_bytes=opts.compaction_spill_bytes if spill else None,
            keep_blocks_bytes=self.cache.capacity_bytes // WARM_SHARE if warm else None,
        )

    def write_sst(
        self, sst_id: int, data: SSTOutput, info: SSTInfo, parts: SSTParts | None = None
    ) -> SSTMeta | None:
        """Create SST ``sst_id`` from a finished builder's output; None if the id is taken.
        A spooled SST is streamed from its file (and may be written again under another id).
        With ``parts`` (the builder's), the new SST's reader and data blocks are cached as
        if read (:meth:`_warm`)."""
        path = sst_path(sst_id)
        if isinstance(data, SpooledSST):
            data.set_sst_id(sst_id)
            chunks = FileChunks(data.file, data.size)
            created = self.store.put_if_absent_stream(path, chunks, data.size)
        else:
            created = self.store.put_if_absent(path, with_sst_id(data, sst_id))
        if not created:
            return None
        if parts is not None:
            self._warm(sst_id, data, info, parts)
        return SSTMeta(
            sst_id=sst_id,
            size=info.size,
            first_key=info.first_key,
            last_key=info.last_key,
            entries=info.entries,
            min_seq=info.min_seq,
            max_seq=info.max_seq,
        )

    def _warm(self, sst_id: int, data: SSTOutput, info: SSTInfo, parts: SSTParts) -> None:
        """Cache the reader (index and filter) of SST ``sst_id``, just created from ``data``,
        and its data blocks up to the block cache's capacity, first blocks first, in the
        form a reader caches them, reading nothing from the store: the builder's decoded
        blocks, or for a spilled SST its spill file's blocks decoded one at a time."""
        path = sst_path(sst_id)
        reader = SSTReader(
            path,
            self._sst_read(path, sst_id, self.store),
            info,
            parts.index,
            BloomFilter(path, parts.filter),
            self.cache,
        )
        with self._lock:
            self._readers[(0, sst_id)] = reader
        cache, budget = self.cache, self.cache.capacity_bytes // WARM_SHARE
        if not parts.spilled:
            for offset, block in parts.blocks:
                cache.put(path, offset, block, block_cache_bytes(block))
            return
        assert isinstance(data, SpooledSST)
        for _, offset, length in parts.index:
            framed = read_at(data.file, offset, length)
            block = decode_data_block(path, unframe(path, framed, "data block"), offset)
            size = block_cache_bytes(block)
            if size > budget:
                break
            budget -= size
            cache.put(path, offset, block, size)

    @staticmethod
    def _sst_read(path: str, sst_id: int, store: ObjectStore) -> Callable[[int, int], bytes]:
        """Ranged reads of SST ``sst_id`` stored at ``path`` in ``store``."""

        def read(start: int, end: int) -> bytes:
            try:
                return store.get(path, start, end)
            except ObjectNotFound as exc:  # listed by the version read, so collected since
                raise SSTGone(sst_id, path, store.url) from exc

        return read

    def reader(self, meta: SSTMeta, *, keep: bool = True) -> SSTReader:
        """A reader of SST ``meta`` (its footer, index and filter read once, then cached;
        with ``keep=False`` a reader not cached yet is not cached: a compaction's inputs,
        whose indexes would otherwise stay in memory after they are compacted away)."""
        key = (meta.root, meta.sst_id)
        with self._lock:
            reader = self._readers.get(key)
        if reader is not None:
            return reader
        path = sst_path(meta.sst_id)
        store = self.store
        name = path
        if meta.root:  # a clone's source: its own id, and a name of its own in the cache
            try:
                store = self.roots[meta.root]
            except KeyError:
                raise Corruption(path, f"external root {meta.root} is not open") from None
            name = f"{store.url}/{path}"
        read = self._sst_read(path, meta.sst_id, store)
        expect = SSTInfo(
            meta.first_key, meta.last_key, meta.entries, meta.min_seq, meta.max_seq, meta.size
        )
        expected = (meta.sst_id, expect)
        reader = SSTReader.open(name, meta.size, read, cache=self.cache, expect=expected)
        if keep:
            with self._lock:
                self._readers[key] = reader
        return reader

    def close(self) -> None:
        """Stop the threads that read WAL objects."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        for root in self.roots.values():
            close = getattr(root, "close", None)
            if close is not None:
                close()

    def delete_sst(self, sst_id: int) -> None:
        with self._lock:
            self._readers.pop((0, sst_id), None)
        self.store.delete(sst_path(sst_id))
