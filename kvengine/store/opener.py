"""``open_store``: from a URL (or a ready fsspec filesystem) to the composed store the engine uses.

The composition, outermost first::

    Store (retries, verified create-only)  ->  InstrumentedStore (counts every attempt)
        ->  [wrap(...): latency or faults, for tests and benchmarks]  ->  adapter
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import fsspec
from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

from kvengine.errors import StoreConfigError
from kvengine.store.base import ObjectStore
from kvengine.store.fsspec_store import FsspecStore
from kvengine.store.instrumented import InstrumentedStore, StoreStats
from kvengine.store.memory import MemoryStore
from kvengine.store.retrying import RetryingStore, RetryPolicy


def redact_url(url: str) -> str:
    """``url`` without what may hold a credential: the user info (``s3://key:secret@bucket``)
    and the query string (``?token=…``, ``?sig=…``). For logs, errors and ``repr``."""
    protocol, sep, rest = url.partition("://")
    if not sep:
        return url.split("?", 1)[0]
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    host, slash, path = rest.partition("/")
    if "@" in host:
        host = "***@" + host.rsplit("@", 1)[1]
    return f"{protocol}{sep}{host}{slash}{path}"


def option_names(storage_options: dict[str, Any]) -> str:
    """The names of ``storage_options``, never their values (which may be credentials)."""
    return ", ".join(sorted(map(str, storage_options))) or "none"


_EXTRAS = {"gs": "gcs", "gcs": "gcs", "s3": "s3", "s3a": "s3", "az": "az", "abfs": "az"}


class Store(RetryingStore):
    """The store ``open_store`` returns: retries around request counting around an adapter."""

    def __init__(
        self,
        adapter: ObjectStore,
        *,
        retry: RetryPolicy | None = None,
        wrap: Callable[[ObjectStore], ObjectStore] | None = None,
    ) -> None:
        self.adapter = adapter
        self.instrumented = InstrumentedStore(wrap(adapter) if wrap else adapter)
        super().__init__(self.instrumented, retry)

    def stats(self) -> StoreStats:
        """Requests sent so far (every attempt, by kind), bytes moved and time spent."""
        return self.instrumented.stats()


def open_store(
    target: str | os.PathLike[str] | AbstractFileSystem,
    root: str | None = None,
    *,
    single_writer: bool = False,
    retry: RetryPolicy | None = None,
    timeout_s: float = 60.0,
    wrap: Callable[[ObjectStore], ObjectStore] | None = None,
    **storage_options: Any,
) -> Store:
    """Open the object store at ``target``.

    ``target`` is a URL (``gs://bucket/prefix``, ``s3://…``, ``az://container/prefix``,
    ``memory://name``, ``file:///dir``, any fsspec URL) or a local directory path, in which case
    ``storage_options`` go to the fsspec backend unchanged (``endpoint_url``, ``token``,
    ``project``, ``key``/``secret``, ``client_kwargs``, …). Or ``target`` is a ready fsspec
    filesystem and ``root`` the directory or ``bucket/prefix`` in it.

    Raises ``StoreConfigError`` for an unknown protocol or a missing backend package, and for a
    backend without atomic create-only writes unless ``single_writer=True`` (then two writers
    on the same database can corrupt it: only for stores nothing else writes to).
    ``timeout_s`` bounds each network request; ``retry`` sets how failures are retried;
    ``wrap`` inserts test wrappers (latency, faults) between the counters and the adapter.
    """
    adapter = _adapter(target, root, timeout_s, storage_options)
    if not adapter.atomic_create and not single_writer:
        raise StoreConfigError(
            f"{adapter.url} has no atomic create-only write, so fencing cannot protect it "
            "from a second writer; pass single_writer=True if nothing else will ever write "
            "to it"
        )
    return Store(adapter, retry=retry, wrap=wrap)


def _adapter(
    target: str | os.PathLike[str] | AbstractFileSystem,
    root: str | None,
    timeout_s: float,
    storage_options: dict[str, Any],
) -> ObjectStore:
    if isinstance(target, AbstractFileSystem):
        if root is None:
            raise StoreConfigError("open_store(fs, root) needs the root inside the filesystem")
        return FsspecStore(target, root, timeout_s=timeout_s)
    if root is not None:
        raise StoreConfigError("root is only for open_store(fs, root); put it in the URL")
    url = os.fspath(target)
    if not url:
        raise StoreConfigError("empty store URL")
    protocol, sep, rest = url.partition("://")
    if not sep:
        return _local(url, storage_options, timeout_s)
    if protocol == "memory":
        if storage_options:
            raise StoreConfigError(
                f"memory:// takes no storage options (given: {option_names(storage_options)})"
            )
        return MemoryStore.named(rest.strip("/"))
    if protocol in ("file", "local"):
        return _local(rest, storage_options, timeout_s)
    if "@" in rest.split("/", 1)[0]:
        raise StoreConfigError(
            f"{redact_url(url)!r}: credentials in the URL are not supported (the backends would "
            "take them for part of the bucket name); pass them as storage options"
        )
    if protocol in ("gs", "gcs") and "endpoint_url" in storage_options:
        # gcsfs probes a gRPC bucket-type API that emulators lack and stalls for a minute
        # before falling back; an explicit endpoint means an emulator or a proxy.
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    try:
        fs, path = fsspec.core.url_to_fs(url, **storage_options)
    except ImportError as exc:
        extra = _EXTRAS.get(protocol)
        hint = f"; install it with: pip install 'strata[{extra}]'" if extra else ""
        raise StoreConfigError(f"no backend for {protocol}://: {exc}{hint}") from None
    except Exception as exc:  # any failure of a backend to configure itself
        # the backend's message and its traceback may quote the options: name the type only
        raise StoreConfigError(
            f"cannot open {redact_url(url)!r} with storage options "
            f"({option_names(storage_options)}): {type(exc).__name__}"
        ) from None
    if not path.strip("/"):
        raise StoreConfigError(f"{redact_url(url)!r} names no bucket or container")
    return FsspecStore(fs, path, timeout_s=timeout_s, url=redact_url(url).rstrip("/"))


def _local(path: str, storage_options: dict[str, Any], timeout_s: float) -> FsspecStore:
    if storage_options:
        raise StoreConfigError(
            f"a local directory takes no storage options (given: {option_names(storage_options)})"
        )
    directory = os.path.abspath(os.path.expanduser(path))
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise StoreConfigError(f"{directory} exists and is not a directory")
    os.makedirs(directory, exist_ok=True)
    return FsspecStore(LocalFileSystem(), directory, timeout_s=timeout_s, url=directory)
