"""The local spool: which stored articles Elasticsearch has acknowledged, and which it has not.

One row per article in the beatwatch SQLite file, next to the article itself (the local copy is
the record; Elasticsearch is where it is searched). Storing or editing an article queues it
(``pending``) in the same transaction; a write Elasticsearch acknowledges marks it ``indexed``
at that revision; a document Elasticsearch refuses for good (a mapping error) is ``rejected``,
with the reason, until a rebuild tries it again. ``queued_seq`` grows with every queueing, so an
acknowledgement for an older queueing never marks a newer edit indexed.

Several processes share the spool (the scheduler runs each crawl in its own). A process sending
a batch first claims it for a lease, so the others send the rest instead of the same documents;
a claim is released once the batch is sent, or lapses if its process died.
"""

from __future__ import annotations

import sqlite3
import time
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
        indexed_at TEXT,
        claimed_until REAL
    )
    """,
    "CREATE INDEX IF NOT EXISTS es_spool_state ON es_spool (state, queued_seq)",
    # MAX(queued_seq) on every queueing, and the rebuild's ranges, must not scan the spool.
    "CREATE INDEX IF NOT EXISTS es_spool_seq ON es_spool (queued_seq)",
    # A rebuild under way: where it copies to, and the spool position it copies up to.
    """
    CREATE TABLE IF NOT EXISTS es_rebuild (
        alias TEXT PRIMARY KEY,
        old_index TEXT NOT NULL,
        new_index TEXT NOT NULL,
        mark INTEGER NOT NULL,
        switched INTEGER NOT NULL DEFAULT 0
    )
    """,
)


@dataclass(frozen=True)
class Queued:
    """A pending entry: the article to send and the queueing it stands for."""

    article_id: str
    queued_seq: int


@dataclass(frozen=True)
class RebuildRecord:
    """A rebuild that has not finished: resumed, or completed after its alias switch."""

    old_index: str
    new_index: str
    mark: int
    switched: bool


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
                "queued_at = excluded.queued_at, attempts = 0, last_error = NULL, "
                "claimed_until = NULL",
                (article_id, seq, at),
            )

    def reconcile(self) -> int:
        """Queue what the cluster may lack: stored articles the spool has never seen, and those
        edited since they were indexed (both happen while ``store.backend`` is sqlite)."""
        with transaction(self.conn):
            newer = self.conn.execute(
                "UPDATE es_spool SET state = 'pending', attempts = 0, claimed_until = NULL, "
                "queued_seq = queued_seq + ? WHERE state = 'indexed' AND indexed_revision < "
                "(SELECT a.revision FROM articles a WHERE a.id = es_spool.article_id)",
                (self.last_seq(),),
            ).rowcount
            return newer + self.queue_unspooled()

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
        """Queue again everything queued after ``seq`` (writes that raced a rebuild), under new
        numbers, so an acknowledgement still in flight for the old queueing marks nothing."""
        with transaction(self.conn):
            cur = self.conn.execute(
                "UPDATE es_spool SET state = 'pending', attempts = 0, claimed_until = NULL, "
                "queued_seq = queued_seq + ? WHERE queued_seq > ?",
                (self.last_seq(), seq),
            )
            return cur.rowcount

    def entries(self, upto: int) -> list[Queued]:
        """Every entry queued up to ``upto``, whatever its state (what a rebuild copies)."""
        rows = self.conn.execute(
            "SELECT article_id, queued_seq FROM es_spool WHERE queued_seq <= ? ORDER BY queued_seq",
            (upto,),
        )
        return [Queued(r[0], r[1]) for r in rows]

    def pending(self, limit: int, *, after: int = 0) -> list[Queued]:
        """The oldest ``limit`` pending entries queued after ``after``, held or not."""
        return self._pending(limit, after, free_at=None)

    def claim(
        self, limit: int, *, after: int = 0, lease: float, now: float | None = None
    ) -> list[Queued]:
        """The oldest ``limit`` pending entries queued after ``after`` that no other sender
        holds, held for ``lease`` seconds (or until ``release``); ``now`` is a Unix time."""
        now = time.time() if now is None else now
        if not self._pending(1, after, free_at=now):
            return []  # without taking the write lock, which a crawl may be holding
        with transaction(self.conn):
            entries = self._pending(limit, after, free_at=now)
            self.conn.executemany(
                "UPDATE es_spool SET claimed_until = ? WHERE article_id = ?",
                [(now + lease, q.article_id) for q in entries],
            )
        return entries

    def _pending(self, limit: int, after: int, *, free_at: float | None) -> list[Queued]:
        sql = (
            "SELECT article_id, queued_seq FROM es_spool WHERE state = 'pending' AND queued_seq > ?"
        )
        args: list = [after]
        if free_at is not None:
            sql += " AND (claimed_until IS NULL OR claimed_until < ?)"
            args.append(free_at)
        rows = self.conn.execute(sql + " ORDER BY queued_seq LIMIT ?", (*args, limit))
        return [Queued(r[0], r[1]) for r in rows]

    def release(self, entries: list[Queued]) -> None:
        """Let other senders have ``entries`` again (whatever became of them)."""
        with transaction(self.conn):
            self.conn.executemany(
                "UPDATE es_spool SET claimed_until = NULL WHERE article_id = ? AND queued_seq = ?",
                [(q.article_id, q.queued_seq) for q in entries],
            )

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

    def failing(self, limit: int = 20) -> list[tuple[str, str]]:
        """(article id, last error) of pending entries that failed before, most tries first."""
        rows = self.conn.execute(
            "SELECT article_id, last_error FROM es_spool WHERE state = 'pending' AND attempts > 0 "
            "ORDER BY attempts DESC, queued_seq LIMIT ?",
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

    def start_rebuild(self, alias: str, old: str, new: str, mark: int) -> None:
        """Record that a rebuild copies entries up to ``mark`` from ``old`` into ``new``."""
        with transaction(self.conn):
            self.conn.execute(
                "INSERT OR REPLACE INTO es_rebuild VALUES (?, ?, ?, ?, 0)", (alias, old, new, mark)
            )

    def rebuild_switched(self, alias: str) -> None:
        """Record that the alias now points at the rebuild's new index."""
        with transaction(self.conn):
            self.conn.execute("UPDATE es_rebuild SET switched = 1 WHERE alias = ?", (alias,))

    def rebuild_record(self, alias: str) -> RebuildRecord | None:
        """The unfinished rebuild of ``alias``, if any."""
        row = self.conn.execute(
            "SELECT old_index, new_index, mark, switched FROM es_rebuild WHERE alias = ?", (alias,)
        ).fetchone()
        return RebuildRecord(row[0], row[1], row[2], bool(row[3])) if row else None

    def end_rebuild(self, alias: str) -> None:
        """Forget the rebuild of ``alias``: it finished (or was abandoned)."""
        with transaction(self.conn):
            self.conn.execute("DELETE FROM es_rebuild WHERE alias = ?", (alias,))

    def _next_seq(self) -> int:
        return self.last_seq() + 1
