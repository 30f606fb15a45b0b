"""Tunables of a database, with units in their names. Defaults suit object storage: few, large
requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kvengine.errors import InvalidArgument


@dataclass(frozen=True)
class Options:
    """How a :class:`~kvengine.DB` behaves. All fields have defaults; see docs/architecture.md."""

    #: Non-durable writes are made durable by a WAL PUT at most this long after they are made.
    flush_interval_ms: int = 100
    #: A WAL buffer larger than this is PUT without waiting for the interval.
    wal_buffer_bytes: int = 4 * 1024 * 1024
    #: At most this many WAL PUTs in flight at once, at consecutive ids, their commits
    #: acknowledged strictly in WAL-id order (docs/design/0006-pipelined-wal.md). 1: one PUT
    #: at a time. None: 2 in exclusive mode, 1 in shared mode, where several processes race
    #: for the ids and a process with more PUTs in flight than the others starves them
    #: (0006, "Shared mode"); 2 suits one process of many writers.
    wal_pipeline_depth: int | None = None
    #: A memtable larger than this is frozen and written as an L0 SST.
    l0_sst_size: int = 64 * 1024 * 1024
    #: Writes wait while frozen, unflushed memtables hold more than this.
    max_unflushed_bytes: int = 256 * 1024 * 1024
    #: Target size of an SST data block before compression.
    block_bytes: int = 4096
    #: Compression of SST data blocks.
    compression: Literal["zstd", "lz4", "none"] = "zstd"
    #: Bloom filter bits per key (about 1% false positives at 10).
    bloom_bits_per_key: int = 10
    #: Bytes of decoded blocks, indexes and filters kept in memory.
    block_cache_bytes: int = 64 * 1024 * 1024
    #: Which SSTs this process writes enter the block cache as they are created (index,
    #: filter and data blocks, first blocks first, up to a quarter of ``block_cache_bytes``
    #: per SST; like
    #: RocksDB's ``prepopulate_block_cache``), so that reading them back costs no GET:
    #: "all" (flush and compaction outputs), "flush" (flush outputs only: a compaction of
    #: more data than the cache holds then evicts no hot blocks for its outputs), "none".
    #: Costs no decoding for outputs built in memory (the builder keeps the blocks it
    #: encoded); a spilled compaction output (``compaction_spill_bytes``) is decoded from
    #: its spill file after the upload, one block at a time.
    cache_written_blocks: Literal["all", "flush", "none"] = "all"
    #: Compact when this many L0 SSTs have accumulated (0 turns compaction off).
    l0_compaction_trigger: int = 8
    #: Target size of SSTs written by compaction.
    sst_target_bytes: int = 64 * 1024 * 1024
    #: Size-tiered compaction: an older run joins a merge window while its size is at most
    #: this many times the window's size so far (kvengine/compactor.py).
    compaction_size_ratio: float = 1.2
    #: Size-tiered compaction: fewest runs of similar size merged at once.
    compaction_min_merge_width: int = 4
    #: Size-tiered compaction: past this many sorted runs, the newest ones are merged.
    compaction_max_runs: int = 12
    #: Bytes of consecutive data blocks a compaction reads from an input SST per ranged GET.
    compaction_readahead_bytes: int = 1024 * 1024
    #: A compaction output whose data blocks pass this size goes on in a local temporary
    #: file and is uploaded from it a chunk at a time (``put_if_absent_stream``), so a
    #: compaction's memory does not grow with ``sst_target_bytes``; smaller ones are one PUT.
    compaction_spill_bytes: int = 8 * 1024 * 1024
    #: Writes slow down (a short pause each) while L0 holds at least this many SSTs
    #: (0: never), and wait while it holds ``l0_stop_trigger`` (0: never) until compaction
    #: catches up. Neither applies while compaction is off (``l0_compaction_trigger == 0``).
    l0_slowdown_trigger: int = 20
    l0_stop_trigger: int = 36
    #: Each object-store request is abandoned (and retried) after this long.
    request_timeout_s: float = 60.0
    #: Shared mode: a read or transaction may start from a view of the WAL this old without
    #: probing for newer commits (0: every one probes, one small GET when nothing changed).
    max_staleness_ms: int = 0
    #: Shared mode: the flush-and-compaction holder looks for other processes' commits this
    #: often.
    flusher_poll_ms: int = 1000
    #: A read-only open (``DB.open(url, read_only=True)``) looks for new commits this often
    #: (one GET when nothing is new); reads still probe unless ``max_staleness_ms`` allows.
    reader_poll_ms: int = 1000
    #: Lifetime of the checkpoint a read-only open holds so that garbage collection keeps what
    #: it reads (renewed at half of it; 0: hold none). A reader paused longer than half of it
    #: plus ``gc_min_age_s`` may find objects gone (docs/design/0005-storage-lifecycle.md).
    reader_checkpoint_s: float = 3 * 3600.0
    #: Shared mode: a process with unflushed memtables claims the flush-and-compaction role
    #: when the manifest has not changed for this long (the holder is presumed gone).
    flusher_takeover_ms: int = 15_000
    #: The minimum age of a WAL object before garbage collection may delete it. A writer
    #: re-reads the WAL tail before creating a WAL object if its view of the tail is older
    #: than half of this.
    wal_gc_min_age_s: float = 3600.0
    #: Garbage collection deletes nothing younger than this: no manifest version superseded
    #: more recently, no SST or WAL object written more recently (a slow reader may hold the
    #: version, a flush or compaction may not have committed its output yet). Keep it at or
    #: above every process's ``wal_gc_min_age_s`` (docs/design/0005-storage-lifecycle.md).
    gc_min_age_s: float = 3600.0
    #: The process holding the flush-and-compaction role collects garbage this often (0: never;
    #: ``strata gc`` still does).
    gc_interval_s: float = 300.0
    #: Shared mode, for a database this process creates (fixed at creation, in the manifest):
    #: a transaction whose commit lands more than this many WAL objects after its snapshot is
    #: refused with ``Conflict`` ("too old"), by every process alike. This is the tombstone
    #: horizon that lets compaction drop deleted keys (docs/design/0005-storage-lifecycle.md).
    #: At most ~20 WAL objects are created per second in all, so the default leaves every
    #: transaction at least 55 minutes. 0: no limit (tombstones are then kept for good).
    txn_wal_span: int = 65536

    def __post_init__(self) -> None:
        positive = (
            "flush_interval_ms",
            "wal_buffer_bytes",
            "wal_pipeline_depth",
            "l0_sst_size",
            "max_unflushed_bytes",
            "block_bytes",
            "sst_target_bytes",
            "flusher_poll_ms",
            "reader_poll_ms",
            "flusher_takeover_ms",
            "wal_gc_min_age_s",
            "compaction_size_ratio",
            "compaction_readahead_bytes",
            "compaction_spill_bytes",
        )
        for name in positive:
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise InvalidArgument(f"Options.{name} must be positive, got {getattr(self, name)}")
        if self.compression not in ("zstd", "lz4", "none"):
            raise InvalidArgument(f"unknown compression {self.compression!r}")
        if self.cache_written_blocks not in ("all", "flush", "none"):
            raise InvalidArgument(
                f"Options.cache_written_blocks must be 'all', 'flush' or 'none', "
                f"got {self.cache_written_blocks!r}"
            )
        if self.max_staleness_ms < 0:
            raise InvalidArgument("Options.max_staleness_ms must be >= 0")
        if self.reader_checkpoint_s < 0:
            raise InvalidArgument("Options.reader_checkpoint_s must be >= 0")
        if self.txn_wal_span < 0:
            raise InvalidArgument("Options.txn_wal_span must be >= 0")
        if self.gc_min_age_s < 0 or self.gc_interval_s < 0:
            raise InvalidArgument("Options.gc_min_age_s and gc_interval_s must be >= 0")
        if self.l0_compaction_trigger < 0 or self.block_cache_bytes < 0:
            raise InvalidArgument("l0_compaction_trigger and block_cache_bytes must be >= 0")
        if self.compaction_min_merge_width < 2 or self.compaction_max_runs < 1:
            raise InvalidArgument(
                "compaction_min_merge_width must be >= 2 and compaction_max_runs >= 1"
            )
        if self.l0_slowdown_trigger < 0 or self.l0_stop_trigger < 0:
            raise InvalidArgument("l0_slowdown_trigger and l0_stop_trigger must be >= 0")
