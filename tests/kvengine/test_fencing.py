"""Exclusive mode: a second writer fences the first; the zombie's writes fail with Fenced and
never show. (Each open passes its own store object, so each gets an engine of its own.)"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from kvengine import DB, Fenced, Options
from kvengine.store import MemoryStore


def test_second_writer_fences_the_first() -> None:
    name = uuid.uuid4().hex
    url = f"memory://{name}"
    w1 = DB.open(MemoryStore.named(name), options=Options(l0_sst_size=1 << 20), exclusive=True)
    w1.put(b"a", b"from w1")
    w1.put(b"pending", b"never durable", durable=False)
    w2 = DB.open(MemoryStore.named(name), exclusive=True)
    assert w2.stats()["writer_epoch"] == w1.stats()["writer_epoch"] + 1
    # A durable write, a WAL flush and a manifest update by the zombie all fail.
    with pytest.raises(Fenced, match="fenced"):
        w1.put(b"b", b"zombie")
    with pytest.raises(Fenced):
        w1.put(b"c", b"zombie again")
    with pytest.raises(Fenced):
        w1.flush_wal()
    with pytest.raises(Fenced):
        w1.flush()
    w2.put(b"d", b"from w2")
    w2.flush()
    w1.close()
    # Nothing the zombie wrote after the fence is visible; both writers' earlier data is.
    w2.close()
    with DB.open(url, read_only=True) as r:
        assert r.get(b"a") == b"from w1"
        assert r.get(b"d") == b"from w2"
        assert r.get(b"b") is None
        assert r.get(b"c") is None


def test_zombie_flush_cannot_touch_the_manifest() -> None:
    name = uuid.uuid4().hex
    w1 = DB.open(MemoryStore.named(name), exclusive=True)
    for i in range(50):
        w1.put(b"k%02d" % i, b"w1", durable=False)
    w1.flush_wal()
    w2 = DB.open(MemoryStore.named(name), exclusive=True)
    with pytest.raises(Fenced):
        w1.flush()  # its SST may be written, but the manifest refuses it
    assert w2.stats()["ssts"] == 0
    assert len(list(w2.scan())) == 50  # w1's durable writes were replayed by w2
    w1.close()
    w2.close()


CHILD = textwrap.dedent(
    """
    import sys
    from kvengine import DB, Fenced
    db = DB.open(sys.argv[1], exclusive=True)
    db.put(b"child", b"1")
    print("open", flush=True)
    sys.stdin.readline()  # wait until the parent has opened its own writer
    try:
        db.put(b"child-after-fence", b"zombie")
    except Fenced as exc:
        print("fenced:", exc, flush=True)
        sys.exit(0)
    print("not fenced", flush=True)
    sys.exit(1)
    """
)


def test_fencing_across_processes(tmp_path: Path) -> None:
    url = str(tmp_path / "db")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline().strip() == "open"
    with DB.open(url, exclusive=True) as db:
        child.stdin.write("go\n")
        child.stdin.flush()
        out = child.stdout.readline()
        assert child.wait(timeout=60) == 0, out
        assert out.startswith("fenced:")
        assert db.get(b"child") == b"1"
        assert db.get(b"child-after-fence") is None
        db.put(b"parent", b"ok")
    with DB.open(url, read_only=True) as r:
        assert r.get(b"child-after-fence") is None
        assert r.get(b"parent") == b"ok"
