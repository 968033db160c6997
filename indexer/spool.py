"""The local spool: which stored articles Elasticsearch has acknowledged, and which it has not.

One row per article in the beatwatch SQLite file, next to the article itself (the local copy is
the record; Elasticsearch is where it is searched). Storing or editing an article queues it
(``pending``) in the same transaction; a write Elasticsearch acknowledges marks it ``indexed``
at that revision; a document Elasticsearch refuses for good (a mapping error) is ``rejected``,
with the reason, until a rebuild tries it again. ``queued_seq`` grows with every queueing, so an
acknowledgement for an older queueing never marks a newer edit indexed.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from crawler.db import transaction

PENDING, INDEXED, REJECTED = "pending", "indexed", "rejected"

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS es_spool (
        article_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        queued_seq INTEGER NOT NULL,
        queued_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        indexed_revision INTEGER,
        indexed_at TEXT
    )
    """,
    "CREATE INDEX IF NOT EXISTS es_spool_state ON es_spool (state, queued_seq)",
)


@dataclass(frozen=True)
class Queued:
    """A pending entry: the article to send and the queueing it stands for."""

    article_id: str
    queued_seq: int


@dataclass(frozen=True, kw_only=True)
class Backlog:
    """What ``status`` shows of the spool."""

    pending: int
    rejected: int
    indexed: int
    oldest_pending: datetime | None

    def to_json(self) -> dict:
        """The backlog as plain JSON values."""
        oldest = self.oldest_pending.isoformat() if self.oldest_pending else None
        return {
            "pending": self.pending,
            "rejected": self.rejected,
            "indexed": self.indexed,
            "oldest_pending": oldest,
        }


class Spool:
    """The ``es_spool`` table over a connection from ``crawler.db.connect``."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        for statement in _SCHEMA:
            conn.execute(statement)

    def queue(self, article_id: str, now: datetime | None = None) -> None:
        """Mark the article's current revision as waiting for Elasticsearch."""
        at = (now or datetime.now(UTC)).isoformat()
        with transaction(self.conn):
            seq = self._next_seq()
            self.conn.execute(
                "INSERT INTO es_spool (article_id, state, queued_seq, queued_at) "
                "VALUES (?, 'pending', ?, ?) ON CONFLICT (article_id) DO UPDATE SET "
                "state = 'pending', queued_seq = excluded.queued_seq, "
                "queued_at = excluded.queued_at, attempts = 0, last_error = NULL",
                (article_id, seq, at),
            )

    def queue_unspooled(self) -> int:
        """Queue every stored article the spool has never seen (a first migration); the count."""
        with transaction(self.conn):
            seq = self._next_seq()
            now = datetime.now(UTC).isoformat()
            cur = self.conn.execute(
                "INSERT INTO es_spool (article_id, state, queued_seq, queued_at) "
                "SELECT a.id, 'pending', ? + a.seq, ? FROM articles a "
                "WHERE NOT EXISTS (SELECT 1 FROM es_spool s WHERE s.article_id = a.id)",
                (seq, now),
            )
            return cur.rowcount

    def requeue_since(self, seq: int) -> int:
        """Queue again everything queued after ``seq`` (writes that raced a rebuild)."""
        with transaction(self.conn):
            cur = self.conn.execute(
                "UPDATE es_spool SET state = 'pending', attempts = 0 WHERE queued_seq > ?", (seq,)
            )
            return cur.rowcount

    def pending(self, limit: int, *, after: int = 0) -> list[Queued]:
        """The oldest ``limit`` pending entries queued after ``after``."""
        rows = self.conn.execute(
            "SELECT article_id, queued_seq FROM es_spool WHERE state = 'pending' "
            "AND queued_seq > ? ORDER BY queued_seq LIMIT ?",
            (after, limit),
        )
        return [Queued(r[0], r[1]) for r in rows]

    def mark_indexed(self, entries: list[tuple[Queued, int]], now: datetime | None = None) -> None:
        """Record acknowledged writes (entry, revision); a re-queued entry stays pending."""
        at = (now or datetime.now(UTC)).isoformat()
        with transaction(self.conn):
            self.conn.executemany(
                "UPDATE es_spool SET state = 'indexed', indexed_revision = ?, indexed_at = ?, "
                "last_error = NULL WHERE article_id = ? AND queued_seq = ?",
                [(rev, at, q.article_id, q.queued_seq) for q, rev in entries],
            )

    def mark_failed(self, entries: list[tuple[Queued, str]], *, permanent: bool) -> None:
        """Record a refused write: retried later, or (``permanent``) rejected until a rebuild."""
        state = REJECTED if permanent else PENDING
        with transaction(self.conn):
            self.conn.executemany(
                "UPDATE es_spool SET state = ?, attempts = attempts + 1, last_error = ? "
                "WHERE article_id = ? AND queued_seq = ?",
                [(state, error[:500], q.article_id, q.queued_seq) for q, error in entries],
            )

    def last_seq(self) -> int:
        """The newest queueing number (0 when empty)."""
        return self.conn.execute("SELECT COALESCE(MAX(queued_seq), 0) FROM es_spool").fetchone()[0]

    def rejected(self, limit: int = 20) -> list[tuple[str, str]]:
        """(article id, reason) of rejected documents, newest first."""
        rows = self.conn.execute(
            "SELECT article_id, last_error FROM es_spool WHERE state = 'rejected' "
            "ORDER BY queued_seq DESC LIMIT ?",
            (limit,),
        )
        return [(r[0], r[1] or "") for r in rows]

    def backlog(self) -> Backlog:
        """Counts by state and the age of the oldest pending entry."""
        counts = dict(
            self.conn.execute("SELECT state, count(*) FROM es_spool GROUP BY state").fetchall()
        )
        oldest = self.conn.execute(
            "SELECT MIN(queued_at) FROM es_spool WHERE state = 'pending'"
        ).fetchone()[0]
        return Backlog(
            pending=counts.get(PENDING, 0),
            rejected=counts.get(REJECTED, 0),
            indexed=counts.get(INDEXED, 0),
            oldest_pending=datetime.fromisoformat(oldest) if oldest else None,
        )

    def _next_seq(self) -> int:
        return self.last_seq() + 1
