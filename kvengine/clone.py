"""Clones: a new database that starts as a checkpoint of another and lists that checkpoint's
SSTs where they are, without copying them (docs/design/0005-storage-lifecycle.md, "Clones").

The clone's first manifest names the source as external root 1 (its URL, no credentials,
and the checkpoint the clone holds in the source) and its SSTs with that root; the
checkpoint's WAL range is replayed once, at clone time, into the clone's first L0 SST, so
the clone never reads the source's WAL. The clone's WAL continues after the checkpoint's WAL
tail, so its sequence numbers stay above every one it inherited. Compaction writes to the
clone's own ``sst/``; once no SST of the clone (nor any version a checkpoint of the clone
pins) refers to the source, :func:`release` deletes the held checkpoint and drops the root.

Supported: a source the clone's storage options also reach (in practice another prefix of
the same bucket or store).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import urllib.parse
from collections.abc import Callable
from dataclasses import replace

from kvengine import checkpoint as checkpoints
from kvengine.errors import CheckpointUnavailable, Corruption, InvalidArgument, StrataError
from kvengine.manifest.model import (
    MAX_CHECKPOINT_NAME,
    WRITER_ID_BYTES,
    ExternalRoot,
    Manifest,
    SortedRun,
    SSTMeta,
)
from kvengine.manifest.store import ManifestStore
from kvengine.manifest.store import fresh_s as manifest_fresh_s
from kvengine.options import Options
from kvengine.record import Entry
from kvengine.store.base import ObjectInfo, ObjectStore
from kvengine.table_store import SST_PREFIX, WAL_PREFIX, TableStore

log = logging.getLogger(__name__)

#: the root id a clone gives its source
SOURCE_ROOT = 1


def public_url(url: str) -> str:
    """``url`` without user information, query or fragment (where credentials may hide)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def hold_name(target_url: str, attempt: str) -> str:
    """The name of the checkpoint attempt ``attempt`` of a clone at ``target_url`` holds in
    its source: ``clone:<target URL>#<attempt>``, a long URL cut short and ended with a
    digest of the whole."""
    suffix = f"#{attempt}"
    name, room = f"clone:{public_url(target_url)}", MAX_CHECKPOINT_NAME - len(suffix)
    if len(name) > room:  # cut short, with a digest of the whole: two targets never share
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        name = f"{name[: room - 17]}~{digest}"
    return name + suffix


def is_hold(name: str, target_url: str) -> bool:
    """Whether checkpoint ``name`` is held by some attempt of a clone at ``target_url``."""
    _, sep, attempt = name.rpartition("#")
    return bool(sep and attempt) and hold_name(target_url, attempt) == name


def create(
    source: ObjectStore,
    source_url: str,
    checkpoint_name: str,
    target: ObjectStore,
    target_url: str,
    options: Options,
    replay: Callable[[], list[Entry]],
) -> Manifest:
    """Make ``target`` (empty) a clone of ``source`` at its checkpoint ``checkpoint_name``;
    ``replay()`` returns the entries of the checkpoint's WAL range. Returns the clone's
    first manifest. ``InvalidArgument`` if ``target`` holds a database already (another
    attempt, at the same time, may have made it), ``CheckpointUnavailable`` if the
    checkpoint does not exist.

    Attempts into one target may run at the same time, crash, or pause and resume late:
    each holds a checkpoint of its own in the source (named with a random attempt id) and
    deletes no other; it writes in the target only create-only objects (its replayed SST at
    a free id, then version 1 of the manifest), deleting nothing there; the one whose
    version 1 lands has made the clone, and only then deletes the holds of the others,
    whose version 1 can no longer land (docs/design/0005-storage-lifecycle.md, "Clones")."""
    # Fresh versions are written without a check for newer ones: with several attempts at
    # once, another's version on top of ours would otherwise make ours look like a stray.
    tmstore = ManifestStore(target, fresh_s=manifest_fresh_s(options))
    smstore = ManifestStore(source, fresh_s=manifest_fresh_s(options))
    _refuse_a_database(tmstore, target, smstore, source_url, target_url)
    cp = checkpoints.find(smstore, checkpoint_name)
    hold = hold_name(target_url, os.urandom(4).hex())

    def take(new_id: int, m: Manifest) -> Manifest:
        try:
            return m.with_checkpoint_copy(checkpoint_name, hold, checkpoints.now_ms())
        except ValueError as exc:
            raise InvalidArgument(f"cannot hold the source checkpoint: {exc}") from None

    checkpoints.update_manifest(smstore, take)
    try:
        made = _write_first_manifest(
            smstore, cp.manifest_id, cp.wal_tail, hold, source_url, tmstore, target, options, replay
        )
    except BaseException:
        _let_go_after_failure(smstore, hold, tmstore)
        raise
    _let_go_of_other_attempts(smstore, target_url, hold)
    return made


def _refuse_a_database(
    tmstore: ManifestStore,
    target: ObjectStore,
    smstore: ManifestStore,
    source_url: str,
    target_url: str,
) -> None:
    """``InvalidArgument`` if the target holds a database. Refused even when it is this very
    clone (an attempt that wrote its manifest, then crashed before it could say so): it may
    be in use since; then the holds other attempts left in the source are let go of."""
    found = tmstore.read_latest()
    if found is None and not any(True for _ in target.list(WAL_PREFIX)):
        return
    root = _clone_root(found, source_url, target_url)
    if root is not None:
        _let_go_of_other_attempts(smstore, target_url, root.checkpoint)
    already = " (this clone, made already)" if root is not None else ""
    raise InvalidArgument(f"{public_url(target_url)} holds a database already{already}")


def _clone_root(
    found: tuple[int, Manifest] | None, source_url: str, target_url: str
) -> ExternalRoot | None:
    """The root by which the target's latest manifest is a clone of ``source_url``, if it is."""
    if found is None:
        return None
    url = public_url(source_url)
    return next(
        (r for r in found[1].external if r.url == url and is_hold(r.checkpoint, target_url)),
        None,
    )


def _let_go_after_failure(smstore: ManifestStore, hold: str, tmstore: ManifestStore) -> None:
    """Best effort after a failed attempt: delete its own held checkpoint unless the target's
    manifest names it (then this attempt made the clone, which needs it). If this fails too
    (the store is out of reach, as in a crash), the attempt that makes the clone, or a retry
    that finds it made, deletes it."""
    try:
        found = tmstore.read_latest()
        if found is None or all(r.checkpoint != hold for r in found[1].external):
            with contextlib.suppress(CheckpointUnavailable):
                checkpoints.delete(smstore, hold)
    except Exception as exc:  # the first failure is the one to report
        log.warning("could not delete the checkpoint %r after a failed clone: %s", hold, exc)


def _let_go_of_other_attempts(smstore: ManifestStore, target_url: str, keep: str) -> None:
    """Delete the checkpoints other attempts of the clone at ``target_url`` hold in the
    source (crashed, or still running: the target's version 1 exists, so theirs cannot
    land). Best effort: what stays is kept from GC, not wrong."""

    def others(m: Manifest) -> list[str]:
        return [c.name for c in m.checkpoints if c.name != keep and is_hold(c.name, target_url)]

    try:
        found = smstore.read_latest()
        if found is None or not others(found[1]):
            return
        checkpoints.update_manifest(smstore, lambda _id, m: m.without_checkpoints(others(m)))
    except StrataError as exc:
        log.warning("could not delete the checkpoints earlier clone attempts held: %s", exc)


def _write_first_manifest(
    smstore: ManifestStore,
    manifest_id: int,
    wal_tail: int,
    hold: str,
    source_url: str,
    tmstore: ManifestStore,
    target: ObjectStore,
    options: Options,
    replay: Callable[[], list[Entry]],
) -> Manifest:
    try:
        version = smstore.read(manifest_id)
    except Corruption:
        raise CheckpointUnavailable(hold, "its manifest version is gone") from None
    if version.external_sst_count():
        raise InvalidArgument(
            "the checkpoint lists SSTs of another database (its source is a clone that has "
            "not compacted them away yet): a clone of a clone is not supported"
        )

    def external(s: SSTMeta) -> SSTMeta:
        return replace(s, root=SOURCE_ROOT)

    l0 = tuple(external(s) for s in version.l0)
    last_seq, next_sst_id = version.last_seq, version.next_sst_id
    tables = TableStore(target, options)
    builder = tables.new_builder()
    for entry in replay():
        if entry.seq > version.last_seq:
            builder.add(entry)
    if builder.entry_count:
        data, info = builder.finish()
        # SSTs in a target without a manifest are other attempts' (crashed, or running):
        # never deleted here (theirs may be about to land), but stepped over. Those not
        # listed by the version that lands are garbage, collected by the clone's GC.
        sst_id = max([next_sst_id, *(i + 1 for i in _sst_ids(target.list(SST_PREFIX)))])
        while (meta := tables.write_sst(sst_id, data, info)) is None:
            sst_id += 1
        l0, last_seq, next_sst_id = (meta, *l0), max(last_seq, meta.max_seq), sst_id + 1
    manifest = Manifest(
        writer_epoch=0,
        compactor_epoch=0,
        writer_id=bytes(WRITER_ID_BYTES),
        wal_replay_after=wal_tail,  # the clone's WAL ids, and so its seqs, continue after it
        last_seq=last_seq,
        l0=l0,
        runs=tuple(SortedRun(r.run_id, tuple(external(s) for s in r.ssts)) for r in version.runs),
        next_sst_id=next_sst_id,
        next_run_id=version.next_run_id,
        txn_wal_span=version.txn_wal_span,
        external=(ExternalRoot(SOURCE_ROOT, public_url(source_url), hold),),
    )
    if not tmstore.try_write(1, manifest):  # another attempt made it meanwhile
        raise InvalidArgument(f"{public_url(tmstore.store.url)} holds a database already")
    log.info(
        "cloned %s into %s (%d SSTs listed)",
        source_url,
        tmstore.store.url,
        len(manifest.all_ssts()),
    )
    return manifest


def _sst_ids(objects: list[ObjectInfo]) -> list[int]:
    names = (o.path[len(SST_PREFIX) :].removesuffix(".sst") for o in objects)
    return [int(n) for n in names if n.isdigit()]


def release(mstore: ManifestStore, tables: TableStore) -> list[str]:
    """Let go of every source no SST of the latest manifest, nor of a version a checkpoint
    of this database pins, refers to: delete the checkpoint held there, then drop the root.
    Returns the checkpoints deleted."""
    found = mstore.read_latest()
    if found is None or not found[1].external:
        return []
    latest = found[1]
    used = {s.root for s in latest.all_ssts()}
    for cp in latest.checkpoints:
        try:
            used |= {s.root for s in mstore.read(cp.manifest_id).all_ssts()}
        except Corruption:
            continue  # collected: it pins nothing any more
    released = []
    for root in latest.external:
        if root.root_id in used:
            continue
        store = tables.roots.get(root.root_id)
        if store is None:
            continue
        # The checkpoint first: a crash between the two leaves a root that is let go again.
        with contextlib.suppress(CheckpointUnavailable):
            checkpoints.delete(ManifestStore(store), root.checkpoint)
        checkpoints.update_manifest(mstore, _drop_root(root.root_id))
        released.append(root.checkpoint)
        log.info("released the source %s (checkpoint %r)", root.url, root.checkpoint)
    return released


def _drop_root(root_id: int) -> Callable[[int, Manifest], Manifest]:
    def change(_new_id: int, m: Manifest) -> Manifest:
        if any(s.root == root_id for s in m.all_ssts()):
            return m  # cannot happen: SSTs never move back to a root
        return m.without_external(root_id)

    return change
