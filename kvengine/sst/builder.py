"""Writing an SST: entries in record order in, the whole object's bytes out."""

from __future__ import annotations

from dataclasses import dataclass

import msgpack

from kvengine.errors import InvalidArgument
from kvengine.record import Entry
from kvengine.sst.block import Compression, Compressor, encode_data_block
from kvengine.sst.bloom import build_filter
from kvengine.sst.footer import Footer


@dataclass(frozen=True)
class SSTInfo:
    """What an SST holds: key range, number of entries, sequence range, object size."""

    first_key: bytes
    last_key: bytes
    entries: int
    min_seq: int
    max_seq: int
    size: int


class SSTBuilder:
    """Accumulates entries (strictly increasing in record order) into blocks of about
    ``block_bytes`` each. Not thread-safe; single use."""

    def __init__(
        self,
        *,
        block_bytes: int = 4096,
        compression: Compression = "zstd",
        bloom_bits_per_key: int = 10,
    ) -> None:
        if block_bytes <= 0:
            raise InvalidArgument("block_bytes must be positive")
        self._block_bytes = block_bytes
        self._compressor = Compressor(compression)
        self._bits_per_key = bloom_bits_per_key
        self._parts: list[bytes] = []
        self._written = 0
        self._index: list[list[object]] = []  # [last key, offset, length] per data block
        self._flat: list[object] = []
        self._flat_bytes = 0
        self._keys: list[bytes] = []  # distinct keys, for the filter
        self._last: tuple[bytes, int] | None = None
        self._first_key: bytes | None = None
        self._count = 0
        self._min_seq: int | None = None
        self._max_seq = 0
        self._finished = False

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
            self._keys.append(key)
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
        framed = self._compressor.frame(encode_data_block(self._flat))
        self._index.append([self._flat[-4], self._written, len(framed)])
        self._parts.append(framed)
        self._written += len(framed)
        self._flat = []
        self._flat_bytes = 0

    def finish(self) -> tuple[bytes, SSTInfo]:
        """The object's bytes and what it holds; ``InvalidArgument`` if no entry was added."""
        if self._finished:
            raise InvalidArgument("the SST builder is finished")
        if self._last is None or self._first_key is None or self._min_seq is None:
            raise InvalidArgument("an SST needs at least one entry")
        self._finished = True
        self._finish_block()
        filter_framed = self._compressor.frame(
            build_filter(self._keys, len(self._keys), self._bits_per_key)
        )
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
        data = b"".join([*self._parts, filter_framed, index_framed, footer.encode()])
        info = SSTInfo(
            self._first_key, self._last[0], self._count, self._min_seq, self._max_seq, len(data)
        )
        self._parts = []
        return data, info
