"""The one SQLite file behind the embedded store and all run state: connection and transactions.

Every module that keeps tables in it (the SQLite store, run state, the alert ledger and outbox)
takes the connection from here and creates its own tables with ``CREATE TABLE IF NOT EXISTS``.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SAVEPOINT_NAMES = itertools.count(1)


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) the database in WAL mode, autocommit, rows by name.

    Autocommit means every write outside ``transaction()`` commits at once; writes that must land
    together go inside one ``transaction()`` block.
    """
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30.0, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in one transaction; nested blocks become savepoints.

    The outermost block takes the write lock at once (``BEGIN IMMEDIATE``) so that two crawl
    processes never deadlock upgrading a read lock.
    """
    if conn.in_transaction:
        name = f"sp{next(_SAVEPOINT_NAMES)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
