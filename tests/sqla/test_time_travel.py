"""Time travel in SQL: a checkpoint opens as a read-only SQL database, through
``dialect.connect(url, checkpoint=…)``, ``create_engine("strata…?checkpoint=…")`` and
``strata sql URL --checkpoint NAME``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import dialect
import kvengine
from dialect.cli import main


def _make_history(path: Path) -> None:
    """A table as of "last week" (checkpoint ``last-week``), then changed."""
    conn = dialect.connect(str(path), autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute("CREATE TABLE prices (item TEXT PRIMARY KEY, price REAL)")
        cur.executemany(
            "INSERT INTO prices VALUES (?, ?)", [("apple", 1.0), ("pear", 2.0), ("plum", 3.0)]
        )
        with kvengine.DB.open(str(path)) as db:
            db.checkpoint("last-week")
            db.checkpoint("short", lifetime=timedelta(milliseconds=1))
        cur.execute("UPDATE prices SET price = price * 2 WHERE item = 'apple'")
        cur.execute("DELETE FROM prices WHERE item = 'plum'")
        cur.execute("INSERT INTO prices VALUES ('fig', 5.0)")
    finally:
        conn.close()


def test_pandas_compares_today_with_last_week(tmp_path: Path) -> None:
    _make_history(tmp_path / "db")
    today = sa.create_engine(f"strata:///{tmp_path}/db")
    then = sa.create_engine(f"strata:///{tmp_path}/db?checkpoint=last-week")
    try:
        query = "SELECT item, price FROM prices ORDER BY item"
        now_df = pd.read_sql(query, today)
        old_df = pd.read_sql(query, then)
        assert old_df.to_dict("records") == [
            {"item": "apple", "price": 1.0},
            {"item": "pear", "price": 2.0},
            {"item": "plum", "price": 3.0},
        ]
        both = now_df.merge(old_df, on="item", how="outer", suffixes=("_now", "_then"))
        changed = both[both.price_now.ne(both.price_then)].item.tolist()
        assert changed == ["apple", "fig", "plum"]
        with then.connect() as c, pytest.raises(sa.exc.OperationalError, match="readonly"):
            c.execute(sa.text("INSERT INTO prices VALUES ('kiwi', 1.0)"))
    finally:
        today.dispose()
        then.dispose()


def test_connect_at_a_checkpoint_is_read_only(tmp_path: Path) -> None:
    _make_history(tmp_path / "db")
    conn = dialect.connect(str(tmp_path / "db"), checkpoint="last-week")
    try:
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM prices")
        assert cur.fetchone() == (3,)
        for statement in (
            "INSERT INTO prices VALUES ('kiwi', 1.0)",
            "CREATE TABLE t (a INT)",
            "DROP TABLE prices",
        ):
            with pytest.raises(dialect.OperationalError, match="attempt to write a readonly"):
                cur.execute(statement)
    finally:
        conn.close()


def test_a_missing_or_expired_checkpoint_is_an_operational_error(tmp_path: Path) -> None:
    _make_history(tmp_path / "db")
    with pytest.raises(dialect.OperationalError, match="expired"):
        dialect.connect(str(tmp_path / "db"), checkpoint="short")
    with pytest.raises(dialect.OperationalError, match="no checkpoint"):
        dialect.connect(str(tmp_path / "db"), checkpoint="nope")
    engine = sa.create_engine(f"strata:///{tmp_path}/db?checkpoint=nope")
    with pytest.raises(sa.exc.OperationalError, match="no checkpoint"):
        engine.connect()
    engine.dispose()


def test_cli_sql_at_a_checkpoint(tmp_path: Path) -> None:
    _make_history(tmp_path / "db")
    url = str(tmp_path / "db")
    runner = CliRunner()
    query = "SELECT item FROM prices ORDER BY item"
    out = runner.invoke(main, ["sql", url, "--checkpoint", "last-week", "-c", query])
    assert out.exit_code == 0, out.output
    assert "plum" in out.output and "fig" not in out.output
    now = runner.invoke(main, ["sql", url, "-c", query])
    assert "fig" in now.output and "plum" not in now.output
    write = runner.invoke(
        main, ["sql", url, "--checkpoint", "last-week", "-c", "DELETE FROM prices"]
    )
    assert "attempt to write a readonly database" in write.output
    gone = runner.invoke(main, ["sql", url, "--checkpoint", "nope", "-c", query])
    assert gone.exit_code == 2 and "no checkpoint" in gone.output
