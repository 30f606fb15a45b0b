"""The strata CLI: its SQL commands (sql -c, the shell, load, demo) and the top-level group."""

from __future__ import annotations

import tomllib
from pathlib import Path

from click.testing import CliRunner

import dialect
from dialect.cli import main
from kvengine.cli import admin


def test_sql_one_statement_and_errors(tmp_path: Path) -> None:
    url = str(tmp_path / "db")
    runner = CliRunner()
    assert runner.invoke(main, ["sql", url, "-c", "CREATE TABLE t (a INT, b TEXT)"]).exit_code == 0
    assert runner.invoke(main, ["sql", url, "-c", "INSERT INTO t VALUES (1, 'x')"]).exit_code == 0
    out = runner.invoke(main, ["sql", url, "-c", "SELECT a, b FROM t"]).output
    assert "1" in out and "x" in out and "1 row(s)" in out
    result = runner.invoke(main, ["sql", url, "-c", "SELEC"])
    assert "ProgrammingError" in result.output


def test_shell_multiline_and_dot_commands(tmp_path: Path) -> None:
    url = str(tmp_path / "db")
    script = (
        "CREATE TABLE people (\n id INTEGER PRIMARY KEY,\n name TEXT);\n"
        "INSERT INTO people (name) VALUES ('ada');\n.tables\n.schema people\n"
        "SELECT name\n FROM people;\n.quit\n"
    )
    result = CliRunner().invoke(main, ["sql", url], input=script)
    assert result.exit_code == 0, result.output
    assert "people" in result.output
    assert "CREATE TABLE people" in result.output
    assert "ada" in result.output


def test_load_csv(tmp_path: Path) -> None:
    csv_file = tmp_path / "data.csv"
    csv_file.write_text("id,price,name\n" + "".join(f"{i},{i / 2},n{i}\n" for i in range(1200)))
    url = str(tmp_path / "db")
    result = CliRunner().invoke(main, ["load", url, "items", str(csv_file), "--batch", "500"])
    assert result.exit_code == 0, result.output
    assert "loaded 1,200 rows" in result.output and "rows/s" in result.output
    with dialect.connect(url) as conn:
        assert conn.execute("SELECT COUNT(*), SUM(id), MAX(price) FROM items").fetchone() == (
            1200,
            sum(range(1200)),
            599.5,
        )
        assert conn.execute("SELECT * FROM items WHERE id = 7").description[0][1] == "INTEGER"  # type: ignore[index]


def test_demo(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "Visits per country" in result.output and "Object-store requests" in result.output
    again = CliRunner().invoke(main, ["demo", str(tmp_path / "demo")])  # reuses the data
    assert again.exit_code == 0 and "loaded" not in again.output.split("\n")[0]


ENGINE_COMMANDS = {
    *("doctor", "info", "get", "put", "delete", "scan", "manifest", "gc", "checkpoint"),
    *("compact", "compactor", "clone"),
}


def test_top_level_adds_the_engine_group_and_its_commands() -> None:
    assert set(main.commands) == {"sql", "load", "demo", "admin", "bench"} | ENGINE_COMMANDS
    assert main.commands["admin"] is admin
    for name in ENGINE_COMMANDS:
        assert main.commands[name] is admin.commands[name]
    assert set(admin.commands) == ENGINE_COMMANDS  # importing dialect.cli registers nothing on it


def test_engine_commands_at_top_level_and_under_admin(tmp_path: Path) -> None:
    url = str(tmp_path / "db")
    runner = CliRunner()
    assert runner.invoke(main, ["put", url, "k", "top"]).exit_code == 0
    assert runner.invoke(main, ["admin", "get", url, "k"]).stdout == "top\n"
    assert runner.invoke(main, ["admin", "put", url, "k", "admin"]).exit_code == 0
    assert runner.invoke(main, ["get", url, "k"]).stdout == "admin\n"
    result = runner.invoke(main, ["admin", "doctor", str(tmp_path / "store"), "--samples", "2"])
    assert result.exit_code == 0, result.output
    assert "verdict: safe for Strata" in result.output


def test_version_and_console_script() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and "version" in result.output
    pyproject = Path(__file__).parents[2] / "pyproject.toml"
    scripts = tomllib.loads(pyproject.read_text())["project"]["scripts"]
    assert scripts == {"strata": "dialect.cli:main"}
