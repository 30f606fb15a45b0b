"""Fuzz targets: each takes arbitrary bytes and must either decode them or raise one of its
documented error types; anything else (another exception, a crash, a hang) is a bug.

``python -m tests.fuzz.<target>`` runs one target under atheris (coverage-guided, long mode,
adding what it finds to ``corpus/<target>/``); ``python -m tests.fuzz.targets --seed`` writes
the seed corpora from valid objects; ``test_corpus.py`` replays every corpus file in CI.
"""

from __future__ import annotations

import random
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import google_crc32c

import dialect
from dialect.catalog import decode_catalog
from dialect.keycodec import decode_key, encode_key
from dialect.rowcodec import decode_row, encode_row
from kvengine import DB, Corruption, Options
from kvengine.manifest.codec import decode_manifest
from kvengine.sst.block import decode_data_block, unframe
from kvengine.sst.bloom import BloomFilter
from kvengine.sst.footer import Footer
from kvengine.sst.reader import SSTReader
from kvengine.store import open_store
from kvengine.wal import decode_wal

CORPUS = Path(__file__).parent / "corpus"


@dataclass(frozen=True)
class Target:
    run: Callable[[bytes], object]
    #: the errors the decoder documents; any other exception is a bug
    errors: tuple[type[BaseException], ...]
    #: subclasses of ``errors`` that are bugs all the same (the SQL driver's InternalError)
    bugs: tuple[type[BaseException], ...] = ()


def _sst(data: bytes) -> None:
    reader = SSTReader.open("sst/f", len(data), lambda s, e: data[s:e])
    list(reader.scan())
    reader.get(b"k")


def _block(data: bytes) -> None:
    decode_data_block("sst/f", unframe("sst/f", data, "data block"), 0)


def _filter(data: bytes) -> None:
    BloomFilter("sst/f", unframe("sst/f", data, "bloom filter")).may_contain(b"k")


def _footer(data: bytes) -> None:
    Footer.decode("sst/f", data, max(len(data), 64))


_SQL_CONN: list[dialect.Connection] = []


def _sql(data: bytes) -> None:
    if not _SQL_CONN:
        conn = dialect.connect(f"memory://fuzz-{uuid.uuid4().hex}", autocommit=True)
        cur = conn.cursor()
        cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, n REAL)")
        cur.execute("INSERT INTO t VALUES (1, 'a', 1.5), (2, NULL, -1)")
        _SQL_CONN.append(conn)
    cur = _SQL_CONN[0].cursor()
    sql = data.decode("utf-8", "replace")
    cur.execute(sql, (1, "x", 2.5)[: sql.count("?")])
    if cur.description is not None:
        cur.fetchmany(100)


TARGETS: dict[str, Target] = {
    "wal": Target(lambda d: decode_wal("wal/f", d), (Corruption,)),
    "sst": Target(_sst, (Corruption,)),
    "sst_block": Target(_block, (Corruption,)),
    "sst_filter": Target(_filter, (Corruption,)),
    "sst_footer": Target(_footer, (Corruption,)),
    "manifest": Target(lambda d: decode_manifest("manifest/f", d), (Corruption,)),
    "catalog": Target(decode_catalog, (ValueError,)),
    "rowcodec": Target(decode_row, (ValueError,)),
    "keycodec": Target(decode_key, (ValueError,)),
    "sql": Target(_sql, (dialect.Error,), (dialect.InternalError,)),
}


def check(name: str, data: bytes) -> None:
    """Run target ``name`` on ``data``; raise AssertionError for an undocumented exception."""
    target = TARGETS[name]
    try:
        target.run(data)
    except target.bugs as exc:
        raise AssertionError(f"{name}: {type(exc).__name__}: {exc} on {data[:80]!r}") from exc
    except target.errors:
        pass
    except Exception as exc:
        raise AssertionError(f"{name}: {type(exc).__name__}: {exc} on {data[:80]!r}") from exc


# -- seed corpora ------------------------------------------------------------------------------


def _framed(payload: bytes) -> bytes:
    body = b"\x00" + payload
    return body + google_crc32c.value(body).to_bytes(4, "little")


def seeds() -> dict[str, list[bytes]]:
    """Valid objects of every kind (from a real database) and a few damaged ones."""
    url = f"memory://seed-{uuid.uuid4().hex}"
    with dialect.connect(url) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, n REAL, b BLOB)")
        cur.execute("CREATE INDEX t_v ON t (v)")
        cur.executemany(
            "INSERT INTO t VALUES (?, ?, ?, ?)", [(i, f"v{i}", i / 3, b"\x00") for i in range(20)]
        )
        conn.commit()
    with DB.open(url, options=Options(block_bytes=128, compression="none")) as db:
        db.flush()
        db.put(b"k", b"v")
        catalog = db.get(b"\x00catalog") or b""
    store = open_store(url)
    objects = {
        kind: [store.get(o.path) for o in store.list(f"{kind}/")]
        for kind in ("wal", "sst", "manifest")
    }
    sst = objects["sst"][0]
    footer = Footer.decode("s", sst[-42:], len(sst))
    out = {
        "wal": objects["wal"],
        "sst": objects["sst"],
        "manifest": objects["manifest"],
        "sst_footer": [sst[-42:]],
        "sst_filter": [sst[footer.filter_offset : footer.index_offset]],
        "sst_block": [sst[:200], _framed(b"\x90")],
        "catalog": [catalog],
        "rowcodec": [encode_row({0: 1, 1: "a", 2: 1.5, 3: None, 4: b"\x00"})],
        "keycodec": [encode_key([1, "a\x00b", 1.5, None, b"\x00"])],
        "sql": [
            b"SELECT * FROM t WHERE id = ?",
            b"INSERT INTO t VALUES (?, ?, ?)",
            b"SELECT v, count(*) FROM t GROUP BY v ORDER BY 2 DESC",
            b"UPDATE t SET n = n * 2 WHERE id > 1",
        ],
    }
    rng = random.Random(0)
    for _name, items in out.items():
        for data in list(items):
            if data:
                i = rng.randrange(len(data))
                items.append(data[:i] + bytes([data[i] ^ 0x55]) + data[i + 1 :])
                items.append(data[: len(data) // 2])
    return out


def write_seeds() -> None:
    for name, items in seeds().items():
        folder = CORPUS / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, data in enumerate(items):
            (folder / f"seed-{i:02d}").write_bytes(data)


def fuzz(name: str) -> None:
    """Run target ``name`` under atheris until interrupted (or ``-runs=N``), adding new
    inputs to its corpus folder."""
    import atheris  # type: ignore[import-not-found,unused-ignore]

    folder = CORPUS / name
    folder.mkdir(parents=True, exist_ok=True)

    def one(data: bytes) -> None:
        check(name, data)

    atheris.Setup([sys.argv[0], *sys.argv[1:], str(folder)], one)
    atheris.Fuzz()


if __name__ == "__main__":
    if sys.argv[1:] == ["--seed"]:
        write_seeds()
    else:
        fuzz(sys.argv[1])
