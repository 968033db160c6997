"""The query language and the stores behind one interface (embedded SQLite FTS5; Elasticsearch).

from indexer import open_store, parse
store = open_store("var/beatwatch.db")
result = store.search('"Kem Sokha" AND source:rfa', since=date(2026, 1, 1))
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from crawler.errors import QuerySyntaxError
from indexer.query import parse
from indexer.sqlite import SQLiteStore
from indexer.store import PutOutcome, Revision, Store

__all__ = [
    "PutOutcome",
    "QuerySyntaxError",
    "Revision",
    "SQLiteStore",
    "Store",
    "open_store",
    "parse",
]


def open_store(target: str | Path | sqlite3.Connection) -> SQLiteStore:
    """The embedded store over a database path (opened with crawler.db.connect) or connection."""
    from crawler.db import connect

    conn = target if isinstance(target, sqlite3.Connection) else connect(target)
    return SQLiteStore(conn)
