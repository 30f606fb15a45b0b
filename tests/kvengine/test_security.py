"""Credentials never leak; a read-only database never writes.

A sentinel secret is passed the ways users pass credentials (``key=``/``secret=`` for S3,
``account_key``/a connection string for Azure, a service-account JSON ``token`` for GCS,
``?token=`` or ``user:secret@`` in the URL), then the database is used, made to fail, and
every log record (DEBUG and up, every logger), error message, traceback and ``repr`` is
searched for it.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kvengine import DB, Corruption, Options, StrataError, WriteBatch
from kvengine.manifest.store import ManifestStore
from kvengine.store import ObjectStore, RetryPolicy, open_store
from tests.emulators import Emulator

SECRET = "SENTINEL-" + uuid.uuid4().hex
FAST = RetryPolicy(attempts=1, total_s=5)
QUICK = {"retry": FAST, "options": Options(request_timeout_s=3.0)}
UNREACHABLE = "http://127.0.0.1:1"


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


def leaks(*texts: object, secret: str = SECRET) -> list[str]:
    return [str(t)[:300] for t in texts if secret in str(t)]


def failure_text(exc: BaseException) -> list[object]:
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc))]


FAILING_OPENS: dict[str, Callable[[], object]] = {
    "memory-token": lambda: DB.open(f"memory://{uuid.uuid4().hex}", token=SECRET),
    "memory-url-query": lambda: DB.open(f"memory://x?token={SECRET}", token=SECRET),
    "local-key": lambda: DB.open("/tmp/strata-never", key="k", secret=SECRET),
    "s3-unreachable": lambda: DB.open(
        "s3://bucket/db", key="AKID", secret=SECRET, endpoint_url=UNREACHABLE, **QUICK
    ),
    "s3-url-userinfo": lambda: DB.open(
        f"s3://AKID:{SECRET}@bucket/db", endpoint_url=UNREACHABLE, **QUICK
    ),
    "gs-service-account": lambda: DB.open(
        "gs://bucket/db",
        token={"type": "service_account", "private_key": SECRET, "client_email": "a@b.c"},
        endpoint_url=UNREACHABLE,
        **QUICK,
    ),
    "gs-authorized-user": lambda: DB.open(
        "gs://bucket/db", token={"client_secret": SECRET}, endpoint_url=UNREACHABLE, **QUICK
    ),
    "az-account-key": lambda: DB.open(
        "az://container/db",
        connection_string=(
            f"DefaultEndpointsProtocol=http;AccountName=acct;AccountKey={SECRET};"
            f"BlobEndpoint={UNREACHABLE}/acct;"
        ),
        **QUICK,
    ),
}


@pytest.mark.parametrize("case", sorted(FAILING_OPENS))
def test_a_failed_open_names_no_secret(case: str, every_log: pytest.LogCaptureFixture) -> None:
    with pytest.raises(StrataError) as info:
        FAILING_OPENS[case]()
    assert not leaks(*failure_text(info.value), every_log.text)


def test_a_failed_open_names_the_options_it_refused() -> None:
    with pytest.raises(StrataError, match=r"given: secret, token") as info:
        DB.open(f"memory://{uuid.uuid4().hex}", token=SECRET, secret=SECRET)
    assert not leaks(*failure_text(info.value))


def _use_and_break(url: str, options: dict[str, Any]) -> list[object]:
    """Open, write, read, show, then corrupt an object and read it: everything shown."""
    shown: list[object] = []
    with DB.open(url, **options) as db:
        for i in range(50):
            db.put(b"k%03d" % i, b"v" * 20)
        db.flush()
        shown += [repr(db), str(db.stats()), repr(db.store), db.store.url, repr(db.manifest)]
        shown += [repr(db.store.adapter), repr(db.snapshot())]
    store = open_store(url, **options)
    shown += [repr(store), store.url, str(store.stats())]
    sst = store.list("sst/")[0].path
    store.put(sst, store.get(sst)[:-1])
    with DB.open(url, read_only=True, **options) as db:
        with pytest.raises(Corruption) as info:
            list(db.scan())
        shown += failure_text(info.value)
    return shown


@pytest.mark.parametrize("backend", ["s3", "az"])
def test_a_working_database_shows_no_secret(
    backend: str,
    request: pytest.FixtureRequest,
    every_log: pytest.LogCaptureFixture,
) -> None:
    emulator: Emulator = request.getfixturevalue({"s3": "s3_server", "az": "azure_server"}[backend])
    options = dict(emulator.storage_options)
    if backend == "s3":
        options["secret"] = secret = SECRET  # moto takes any secret
    else:  # Azurite takes only its own account key: that key is the secret here
        secret = str(options["connection_string"]).split("AccountKey=")[1].split(";")[0]
    url = f"{emulator.url_prefix}/sec-{uuid.uuid4().hex[:10]}"
    shown = _use_and_break(url, options)
    assert not leaks(*shown, every_log.text, secret=secret)


# -- read-only ---------------------------------------------------------------------------------

WRITES: dict[str, Callable[[DB], object]] = {
    "put": lambda db: db.put(b"a", b"b"),
    "put-not-durable": lambda db: db.put(b"a", b"b", durable=False),
    "delete": lambda db: db.delete(b"k001"),
    "write": lambda db: db.write(_batch()),
    "transaction": lambda db: _commit(db),
    "flush": lambda db: db.flush(),
    "compact": lambda db: db.compact(),
    "checkpoint": lambda db: db.checkpoint("cp"),
    "delete-checkpoint": lambda db: db.delete_checkpoint("cp0"),
}


def _batch() -> WriteBatch:
    batch = WriteBatch()
    batch.put(b"x", b"y")
    return batch


def _commit(db: DB) -> None:
    with db.transaction() as txn:
        txn.put(b"x", b"y")


@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_read_only_database_writes_nothing(write: str) -> None:
    url = f"memory://{uuid.uuid4().hex}"
    with DB.open(url) as db:
        for i in range(20):
            db.put(b"k%03d" % i, b"v")
        db.checkpoint("cp0")
    store = open_store(url)
    before = stored_state(store)
    with DB.open(url, read_only=True) as db:
        with pytest.raises(StrataError, match="read-only"):
            WRITES[write](db)
        assert db.get(b"k001") == b"v"
    assert stored_state(store) == before


def stored_state(store: ObjectStore) -> tuple[dict[str, bytes], tuple[object, ...] | None]:
    """What a read-only open must not change: every WAL and SST object, and what the latest
    manifest says about the data. Manifest versions that only add or renew a reader's own
    checkpoint (``reader-…``, issue 13: a following reader holds one) are allowed."""
    objects = {o.path: store.get(o.path) for o in store.list("")}
    objects = {p: b for p, b in objects.items() if not p.startswith("manifest/")}
    latest = ManifestStore(store).read_latest()
    if latest is None:
        return objects, None
    m = latest[1]
    kept = tuple(c for c in m.checkpoints if not c.name.startswith("reader-"))
    data = (m.wal_replay_after, m.last_seq, m.l0, m.runs)
    return objects, (m.writer_epoch, m.compactor_epoch, *data, kept)
