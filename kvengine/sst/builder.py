"""Writing an SST: entries in record order in, the object's bytes out.

Small SSTs are built in memory and stored with one PUT. A builder given ``spill_bytes`` moves
its finished data blocks to a temporary file once they pass that size and writes every later
block there as soon as it is finished, so it holds one open block, the index and 8 bytes per
distinct key (for the filter) whatever the SST's size; the finished SST (:class:`SpooledSST`)
is then uploaded from that file a chunk at a time (``ObjectStore.put_if_absent_stream``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any, BinaryIO

import msgpack

from kvengine.errors import InvalidArgument
from kvengine.record import Entry
from kvengine.sst.block import (
    Compression,
    Compressor,
    DataBlock,
    block_cache_bytes,
    encode_data_block,
)
from kvengine.sst.bloom import build_filter_from_digests, key_digest
from kvengine.sst.footer import FOOTER_BYTES, Footer


@dataclass(frozen=True)
class SSTInfo:
    """What an SST holds: key range, number of entries, sequence range, object size."""

    first_key: bytes
    last_key: bytes
    entries: int
    min_seq: int
    max_seq: int
    size: int


class SpooledSST:
    """A finished SST in a temporary file (deleted when closed), ``size`` bytes long."""

    def __init__(self, file: BinaryIO, size: int) -> None:
        self.file = file
        self.size = size

    def set_sst_id(self, sst_id: int) -> None:
        """Put ``sst_id`` in the footer (``with_sst_id`` of a spooled SST)."""
        self.file.seek(self.size - FOOTER_BYTES)
        old = Footer.decode("<new SST>", self.file.read(FOOTER_BYTES), self.size)
        footer = Footer(
            old.filter_offset, old.filter_length, old.index_offset, old.index_length, sst_id
        )
        self.file.seek(self.size - FOOTER_BYTES)
        self.file.write(footer.encode())
        self.file.flush()

    def close(self) -> None:
        self.file.close()


#: What a builder finishes: the SST's bytes, or the file they were spooled to.
SSTOutput = bytes | SpooledSST


@dataclass
class SSTParts:
    """The decoded index, filter and data blocks of an SST a builder finished, as a reader
    would decode them, for the block cache (``TableStore.write_sst``).

    ``blocks`` (offset, block) are the first data blocks up to the builder's
    ``keep_blocks_bytes``; they share their keys and values with the entries added, which
    they keep alive until the builder is dropped (up to that many bytes). Once a builder
    spills, it keeps no data block (``spilled``): they are in the spill file, to be decoded
    from there."""

    index: list[tuple[bytes, int, int]]
    filter: bytes
    blocks: list[tuple[int, DataBlock]]
    spilled: bool


class SSTBuilder:
    """Accumulates entries (strictly increasing in record order) into blocks of about
    ``block_bytes`` each. Not thread-safe; single use."""

    def __init__(
        self,
        *,
        block_bytes: int = 4096,
        compression: Compression = "zstd",
        bloom_bits_per_key: int = 10,
        spill_bytes: int | None = None,
        spill_dir: str | None = None,
        keep_blocks_bytes: int | None = None,
    ) -> None:
        """With ``keep_blocks_bytes`` (None: keep nothing), the finished builder's ``parts``
        are its decoded index, filter and first data blocks up to that many bytes (by
        :func:`~kvengine.sst.block.block_cache_bytes`)."""
        if block_bytes <= 0:
            raise InvalidArgument("block_bytes must be positive")
        self._block_bytes = block_bytes
        self._compressor = Compressor(compression)
        self._bits_per_key = bloom_bits_per_key
        self._parts: list[bytes] = []
        self._spill_bytes = spill_bytes
        self._spill_dir = spill_dir
        self._spool: BinaryIO | None = None
        self._written = 0
        self._index: list[tuple[bytes, int, int]] = []  # (last key, offset, length) per block
        self._flat: list[object] = []
        self._flat_bytes = 0
        self._digests = bytearray()  # key_digest of each distinct key, for the filter
        self._last: tuple[bytes, int] | None = None
        self._first_key: bytes | None = None
        self._count = 0
        self._min_seq: int | None = None
        self._max_seq = 0
        self._finished = False
        self._keep_budget = keep_blocks_bytes
        self._kept: list[tuple[int, DataBlock]] = []
        self._kept_bytes = 0
        #: set by ``finish_output`` when ``keep_blocks_bytes`` is given
        self.parts: SSTParts | None = None

    @property
    def estimated_bytes(self) -> int:
        """Bytes written so far plus the open block's raw size."""
        return self._written + self._flat_bytes

    @property
    def entry_count(self) -> int:
        """Entries added so far."""
        return self._count

    def add(self, entry: Entry) -> None:
        """Append ``entry``; ``InvalidArgument`` unless it sorts after the previous one."""
        if self._finished:
            raise InvalidArgument("the SST builder is finished")
        key, seq = entry.key, entry.seq
        order = (key, -seq)
        if self._last is not None and order <= self._last:
            raise InvalidArgument("SST entries must be strictly increasing in record order")
        if self._last is None or key != self._last[0]:
            self._digests += key_digest(key)
        if self._first_key is None:
            self._first_key = key
        self._last = order
        self._flat.extend((key, seq, int(entry.kind), entry.value))
        self._flat_bytes += len(key) + len(entry.value) + 12
        self._count += 1
        self._min_seq = seq if self._min_seq is None else min(self._min_seq, seq)
        self._max_seq = max(self._max_seq, seq)
        if self._flat_bytes >= self._block_bytes:
            self._finish_block()

    def _finish_block(self) -> None:
        if not self._flat:
            return
        contents = encode_data_block(self._flat)
        framed = self._compressor.frame(contents)
        if self._keep_budget is not None and self._spool is None:
            self._keep(contents)
        last_key: bytes = self._flat[-4]  # type: ignore[assignment]
        self._index.append((last_key, self._written, len(framed)))
        self._written += len(framed)
        if self._spool is not None:
            self._spool.write(framed)
        else:
            self._parts.append(framed)
            if self._spill_bytes is not None and self._written > self._spill_bytes:
                if self._spill_dir is not None:
                    os.makedirs(self._spill_dir, exist_ok=True)
                self._spool = tempfile.TemporaryFile(dir=self._spill_dir)  # noqa: SIM115
                for part in self._parts:
                    self._spool.write(part)
                self._parts = []
                self._kept = []
        self._flat = []
        self._flat_bytes = 0

    def _keep(self, contents: bytes) -> None:
        """Keep the open block decoded (as ``decode_data_block`` would), within the budget."""
        assert self._keep_budget is not None
        flat: list[Any] = self._flat
        block = DataBlock(flat[0::4], flat[1::4], flat[2::4], flat[3::4], len(contents))
        size = block_cache_bytes(block)
        if self._kept_bytes + size <= self._keep_budget:
            self._kept.append((self._written, block))
            self._kept_bytes += size
        else:
            self._keep_budget = self._kept_bytes  # keep a prefix: no later block fits

    @property
    def spilled(self) -> bool:
        """True once the blocks went to a temporary file."""
        return self._spool is not None

    def finish(self) -> tuple[bytes, SSTInfo]:
        """The object's bytes and what it holds; ``InvalidArgument`` if no entry was added
        (or if the builder spilled: use ``finish_output``)."""
        out, info = self.finish_output()
        if not isinstance(out, bytes):
            out.close()
            raise InvalidArgument("the SST builder spilled to a file: use finish_output")
        return out, info

    def finish_output(self) -> tuple[SSTOutput, SSTInfo]:
        """The object's bytes, or the file they were spooled to, and what it holds."""
        if self._finished:
            raise InvalidArgument("the SST builder is finished")
        if self._last is None or self._first_key is None or self._min_seq is None:
            raise InvalidArgument("an SST needs at least one entry")
        self._finished = True
        self._finish_block()
        filter_contents = build_filter_from_digests(
            (bytes(self._digests[i : i + 8]) for i in range(0, len(self._digests), 8)),
            len(self._digests) // 8,
            self._bits_per_key,
        )
        filter_framed = self._compressor.frame(filter_contents)
        index_contents: bytes = msgpack.packb(
            [
                self._first_key,
                self._last[0],
                self._count,
                self._min_seq,
                self._max_seq,
                self._index,
            ],
            use_bin_type=True,
        )
        index_framed = self._compressor.frame(index_contents)
        filter_offset = self._written
        index_offset = filter_offset + len(filter_framed)
        footer = Footer(filter_offset, len(filter_framed), index_offset, len(index_framed))
        tail = [filter_framed, index_framed, footer.encode()]
        size = index_offset + len(index_framed) + len(tail[2])
        last = self._last[0]
        info = SSTInfo(self._first_key, last, self._count, self._min_seq, self._max_seq, size)
        self._digests = bytearray()
        if self._keep_budget is not None:
            self.parts = SSTParts(
                self._index,
                filter_contents,
                self._kept,
                self._spool is not None,
            )
            self._kept = []
        if self._spool is not None:
            spool, self._spool = self._spool, None
            for part in tail:
                spool.write(part)
            spool.flush()
            return SpooledSST(spool, size), info
        data = b"".join([*self._parts, *tail])
        self._parts = []
        return data, info
