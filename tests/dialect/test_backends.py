"""SQL on every backend: a smoke test (the engine's own tests cover each backend in depth)."""

from __future__ import annotations

import dialect


def test_sql_round_trip_on_each_backend(any_target: tuple[str, dict[str, object]]) -> None:
    url, options = any_target
    conn = dialect.connect(url, **options)
    conn.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
    conn.execute("CREATE TABLE o (id INTEGER PRIMARY KEY, c_id INT, total REAL)")
    conn.execute("CREATE INDEX o_c ON o (c_id)")
    conn.cursor().executemany("INSERT INTO c (name) VALUES (?)", [("ada",), ("bob",)])
    conn.cursor().executemany(
        "INSERT INTO o (c_id, total) VALUES (?, ?)", [(1, 5.0), (1, 7.5), (2, 1.0)]
    )
    conn.commit()
    conn.execute("UPDATE o SET total = total * 2 WHERE c_id = 2")
    conn.execute("DELETE FROM o WHERE total = 5.0")
    conn.commit()
    conn.close()

    again = dialect.connect(url, **options)
    rows = again.execute(
        "SELECT c.name, count(*), sum(o.total) FROM c, o WHERE o.c_id = c.id "
        "GROUP BY c.name ORDER BY c.name"
    ).fetchall()
    assert rows == [("ada", 1, 7.5), ("bob", 1, 2.0)]
    assert again.execute("SELECT id FROM c WHERE name = 'bob'").fetchall() == [(2,)]
    again.close()
