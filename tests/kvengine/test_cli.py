from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from kvengine import DB
from kvengine.cli import admin


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(admin, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_put_get_delete_scan(tmp_path: Path) -> None:
    url = str(tmp_path / "db")
    assert run("put", url, "b", "2")[0] == 0
    assert run("put", url, "a", "1")[0] == 0
    assert run("put", url, "c", "3")[0] == 0
    assert run("get", url, "a") == (0, "1\n", "")
    code, out, err = run("get", url, "zz")
    assert (code, out) == (1, "")
    assert "not found" in err
    assert run("scan", url)[1] == "a\t1\nb\t2\nc\t3\n"
    assert run("scan", url, "--from", "b", "--limit", "1")[1] == "b\t2\n"
    assert run("scan", url, "--to", "c", "--reverse")[1] == "b\t2\na\t1\n"
    assert run("delete", url, "b")[0] == 0
    assert run("scan", url, "--prefix", "b")[1] == ""
    assert run("put", url, "--hex", "00ff", "0102")[0] == 0
    assert run("get", url, "--hex", "00ff")[1] == "0102\n"


def test_info_and_manifest(tmp_path: Path) -> None:
    url = str(tmp_path / "db")
    with DB.open(url) as db:
        for i in range(100):
            db.put(b"k%03d" % i, b"v", durable=False)
        db.flush()
    code, out, _ = run("info", url)
    assert code == 0
    assert "writer epoch" in out and "SSTs" in out
    code, out, _ = run("manifest", url)
    doc = json.loads(out)
    assert (
        doc["manifest"]["compactor_epoch"] == 1
    )  # the flush role; shared opens claim no writer epoch
    assert len(doc["manifest"]["l0"]) == 1
    assert doc["manifest"]["l0"][0]["first_key"] == {"hex": b"k000".hex()}


def test_fenced_process_says_so(tmp_path: Path) -> None:
    url = str(tmp_path / "db")
    db = DB.open(url, exclusive=True)
    assert run("put", url, "k", "from-cli")[0] == 0  # the CLI's commit fences `db`
    try:
        db.put(b"x", b"y")
    except Exception as exc:
        assert "fenced" in str(exc)
        assert type(exc).__name__ == "Fenced"
    else:
        raise AssertionError("the first writer was not fenced")
    db.close()


def test_bad_url_is_a_clear_error() -> None:
    code, _, err = run("get", "nosuchproto://x/y", "k")
    assert code == 2
    assert "cannot open" in err


def test_admin_group_holds_the_engine_commands() -> None:
    assert set(admin.commands) == {
        *("doctor", "info", "get", "put", "delete", "scan", "manifest", "gc", "checkpoint"),
        *("compact", "compactor", "clone"),
    }
