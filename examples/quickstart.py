"""The DB-API driver: like sqlite3, but the database lives in an object store.

python examples/quickstart.py [URL]      # default: a temporary local directory
"""

from __future__ import annotations

import sys
import tempfile

import dialect


def main(url: str) -> None:
    with dialect.connect(url) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, "
            "author TEXT, year INT)"
        )
        conn.cursor().executemany(
            "INSERT INTO books (title, author, year) VALUES (?, ?, ?)",
            [
                ("Dune", "Herbert", 1965),
                ("Neuromancer", "Gibson", 1984),
                ("Foundation", "Asimov", 1951),
                ("Hyperion", "Simmons", 1989),
            ],
        )
        conn.execute("CREATE INDEX IF NOT EXISTS books_year ON books (year)")
    with dialect.connect(url) as conn:
        for row in conn.execute(
            "SELECT title, year FROM books WHERE year > ? ORDER BY year", (1960,)
        ):
            print(row)
        print(conn.execute("SELECT COUNT(*), MIN(year) FROM books").fetchone())
        for step in conn.execute("EXPLAIN SELECT title FROM books WHERE year = 1984"):
            print("plan:", step)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="strata-"))
