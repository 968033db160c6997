"""The one SQLite file behind the embedded store and all run state: connection and transactions.

Every module that keeps tables in it (the SQLite store, run state, the alert ledger and outbox)
takes the connection from here and creates its own tables with ``CREATE TABLE IF NOT EXISTS``.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

_SAVEPOINT_NAMES = itertools.count(1)
_BUSY_TIMEOUT_S = 30.0  # sqlite3.connect's timeout is SQLite's busy timeout
_WAL_OR_MEMORY = ("wal", "memory")  # an in-memory database has no WAL


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) the database in WAL mode, autocommit, rows by name.

    Autocommit means every write outside ``transaction()`` commits at once; writes that must land
    together go inside one ``transaction()`` block.
    """
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        str(path), isolation_level=None, timeout=_BUSY_TIMEOUT_S, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    _enable_wal(conn)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL, retrying while another process is doing the same.

    WAL is recorded in the file, so later connections find it set and skip the switch. The
    switch itself needs an exclusive lock, and SQLite answers "database is locked" at once,
    without waiting on the busy timeout, when two connections race for it on a new file. A
    file that cannot be switched (a file system without shared memory) is used as it is.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode not in _WAL_OR_MEMORY:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.25)
    if mode not in _WAL_OR_MEMORY:
        log.warning("SQLite kept journal mode %s, not WAL: concurrent runs will wait more", mode)


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
