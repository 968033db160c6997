"""The database file when several processes open it at once."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from concurrently import at_once
from crawler import db


def _hold_write_lock(path: Path) -> sqlite3.Connection:
    """A second process's connection that has just created the file and holds its write lock."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE made_elsewhere (a)")
    other.execute("BEGIN IMMEDIATE")
    return other


def test_opening_a_new_file_waits_for_another_writer_instead_of_failing(tmp_path: Path):
    # SQLite refuses the switch to WAL at once, without its busy timeout, while another
    # connection holds the write lock: the race two first crawls on a new file run into.
    path = tmp_path / "beatwatch.db"
    other = _hold_write_lock(path)
    released = threading.Event()

    def release() -> None:
        other.execute("COMMIT")
        released.set()

    threading.Timer(0.2, release).start()
    conn = db.connect(path)
    assert released.is_set()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT count(*) FROM made_elsewhere").fetchone()[0] == 0


def test_many_connections_opening_one_new_file_together_all_succeed(tmp_path: Path):
    for round_ in range(20):
        path = tmp_path / f"round-{round_}.db"

        def open_and_write(_: int, path: Path = path) -> None:
            conn = db.connect(path)
            with db.transaction(conn):
                conn.execute("CREATE TABLE IF NOT EXISTS t (a)")
                conn.execute("INSERT INTO t VALUES (1)")
            conn.close()

        assert at_once(open_and_write, 6) == []
        assert db.connect(path).execute("SELECT count(*) FROM t").fetchone()[0] == 6
