"""The alert ledger: a (rule, story) pair alerts at most once, ever.

Every rule hit is written here as it is matched, in the same transaction as the article that
caused it. ``UNIQUE(rule, story_id)`` is what makes "never twice for the same story" hold across
runs, restarts and copies of a story at other URLs. A hit starts ``pending``; composing puts it
into one or more outbox messages and marks it ``queued`` in the same transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from crawler.db import transaction
from crawler.models import Article, Passage

PENDING = "pending"
QUEUED = "queued"

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS alert_hits (
        id INTEGER PRIMARY KEY,
        rule TEXT NOT NULL,
        story_id TEXT NOT NULL,
        article_id TEXT NOT NULL,
        title TEXT NOT NULL,
        url TEXT NOT NULL,
        source TEXT NOT NULL,
        published_at TEXT,
        passage TEXT NOT NULL,
        is_update INTEGER NOT NULL DEFAULT 0,
        mode TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        created_at TEXT NOT NULL,
        queued_at TEXT,
        UNIQUE (rule, story_id)
    )
    """,
    "CREATE INDEX IF NOT EXISTS alert_hits_state ON alert_hits (state, rule)",
    # Which outbox message(s) carried a hit: one per recipient of the rule.
    """
    CREATE TABLE IF NOT EXISTS alert_hit_messages (
        hit_id INTEGER NOT NULL REFERENCES alert_hits (id),
        message_id TEXT NOT NULL,
        PRIMARY KEY (hit_id, message_id)
    )
    """,
)


@dataclass(frozen=True, kw_only=True)
class LedgerHit:
    """One recorded (rule, story) hit, with what an alert needs to show it."""

    id: int
    rule: str
    story_id: str
    article_id: str
    title: str
    url: str
    source: str
    published_at: datetime | None
    passage: Passage
    is_update: bool
    mode: str
    state: str
    created_at: datetime


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the ledger tables if they do not exist yet (safe to call every time)."""
    for statement in _SCHEMA:
        conn.execute(statement)


def timestamp(moment: datetime) -> str:
    """A fixed-width UTC ISO 8601 string, so stored times sort and compare as text.

    A naive datetime is taken to be UTC already.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def record_hits(
    conn: sqlite3.Connection,
    article: Article,
    hits: list[tuple[str, Passage]],
    *,
    mode_of: dict[str, str],
    now: datetime,
) -> list[str]:
    """Record each (rule, passage) whose (rule, story) is new; return the rule names recorded.

    Idempotent: a rule that already hit this story (through this article, an earlier revision
    or another copy) is skipped, so recording the same hits again returns ``[]``. A rule missing
    from ``mode_of`` is recorded as ``immediate`` rather than dropped. Runs as a savepoint when
    the caller already holds a transaction (the article and its hits land together).
    """
    ensure_schema(conn)
    recorded: list[str] = []
    with transaction(conn):
        for rule, passage in hits:
            cursor = conn.execute(
                """
                INSERT INTO alert_hits (rule, story_id, article_id, title, url, source,
                    published_at, passage, is_update, mode, state, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (rule, story_id) DO NOTHING
                """,
                (
                    rule,
                    article.story_id or article.id,
                    article.id,
                    article.title,
                    article.url,
                    article.source,
                    article.published_at.isoformat() if article.published_at else None,
                    _passage_json(passage),
                    int(article.revision > 1),
                    mode_of.get(rule, "immediate"),
                    PENDING,
                    timestamp(now),
                ),
            )
            if cursor.rowcount == 1:
                recorded.append(rule)
    return recorded


def pending(
    conn: sqlite3.Connection, *, mode: str | None = None, rules: Iterable[str] | None = None
) -> list[LedgerHit]:
    """Hits not yet put into a message, oldest first; optionally only one mode or some rules."""
    ensure_schema(conn)
    sql = "SELECT * FROM alert_hits WHERE state = ?"
    params: list[object] = [PENDING]
    if mode is not None:
        sql += " AND mode = ?"
        params.append(mode)
    if rules is not None:
        names = list(rules)
        if not names:
            return []
        sql += f" AND rule IN ({', '.join('?' * len(names))})"
        params.extend(names)
    sql += " ORDER BY created_at, id"
    return [_hit_from_row(row) for row in conn.execute(sql, params)]


def mark_queued(
    conn: sqlite3.Connection,
    hit_ids: Iterable[int],
    message_id: str | None,
    *,
    now: datetime | None = None,
) -> None:
    """Mark hits as put into the outbox message ``message_id`` (None: no message was due)."""
    ensure_schema(conn)
    when = timestamp(now or datetime.now(UTC))
    with transaction(conn):
        for hit_id in hit_ids:
            conn.execute(
                "UPDATE alert_hits SET state = ?, queued_at = COALESCE(queued_at, ?) WHERE id = ?",
                (QUEUED, when, hit_id),
            )
            if message_id is not None:
                conn.execute(
                    "INSERT OR IGNORE INTO alert_hit_messages (hit_id, message_id) VALUES (?, ?)",
                    (hit_id, message_id),
                )


def hits_for_story(conn: sqlite3.Connection, story_id: str) -> list[LedgerHit]:
    """Every hit recorded for a story, in any state (for `alerts` diagnostics and tests)."""
    ensure_schema(conn)
    rows = conn.execute(
        "SELECT * FROM alert_hits WHERE story_id = ? ORDER BY created_at, id", (story_id,)
    )
    return [_hit_from_row(row) for row in rows]


def _passage_json(passage: Passage) -> str:
    return json.dumps(
        {"text": passage.text, "spans": [list(span) for span in passage.spans]},
        ensure_ascii=False,
    )


def _hit_from_row(row: sqlite3.Row) -> LedgerHit:
    stored = json.loads(row["passage"])
    return LedgerHit(
        id=row["id"],
        rule=row["rule"],
        story_id=row["story_id"],
        article_id=row["article_id"],
        title=row["title"],
        url=row["url"],
        source=row["source"],
        published_at=(datetime.fromisoformat(row["published_at"]) if row["published_at"] else None),
        passage=Passage(text=stored["text"], spans=[tuple(s) for s in stored["spans"]]),
        is_update=bool(row["is_update"]),
        mode=row["mode"],
        state=row["state"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


def alerted_stories(conn: sqlite3.Connection, rule: str) -> set[str]:
    """The stories a rule has already hit (pending, queued or sent): never alerted again."""
    ensure_schema(conn)
    rows = conn.execute("SELECT story_id FROM alert_hits WHERE rule = ?", (rule,)).fetchall()
    return {row["story_id"] for row in rows}
