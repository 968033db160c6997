"""Run state kept beside the index: feed HTTP state, seen URLs and the history of runs.

It lives in the same SQLite file as the embedded store, whatever the index backend, so a crawl
that is interrupted or crashes resumes from what was committed.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from crawler.db import transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS feed_state (
    feed_url TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    last_status INTEGER,
    fetched_at TEXT
);
CREATE TABLE IF NOT EXISTS seen_urls (
    article_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    source TEXT NOT NULL,
    entry_title TEXT,
    entry_updated TEXT,
    outcome TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    pid INTEGER,
    stats TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_by_source ON runs (source, id);
CREATE TABLE IF NOT EXISTS url_failures (
    article_id TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_error TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS backfill (
    source TEXT NOT NULL,
    window TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (source, window, key)
);
"""


@dataclass(frozen=True)
class FeedState:
    """What the last complete fetch of a feed returned, for a conditional GET next time."""

    feed_url: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None


@dataclass(frozen=True)
class SeenEntry:
    """A URL beatwatch has processed, with the feed fields that decide whether to fetch it again."""

    article_id: str
    entry_title: str | None
    entry_updated: str | None
    outcome: str


@dataclass(frozen=True)
class RunRecord:
    """One crawl of one source: when, how it ended, and its summary counters."""

    id: int
    source: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    stats: dict


def _alive(pid: int | None) -> bool:
    """Whether a process with this id still runs on this host."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat() if dt else None


def _dt(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


class RunState:
    """Reads and writes the run-state tables on a connection from ``crawler.db.connect``."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        for statement in SCHEMA.split(";"):  # no-ops once created: read-only users take no lock
            if statement.strip():
                conn.execute(statement)

    def feed_state(self, feed_url: str) -> FeedState | None:
        """The stored HTTP state of a feed, or None before its first complete fetch."""
        row = self.conn.execute(
            "SELECT feed_url, etag, last_modified, body_hash FROM feed_state WHERE feed_url = ?",
            (feed_url,),
        ).fetchone()
        return FeedState(**dict(row)) if row else None

    def save_feed_state(self, source: str, state: FeedState, *, status: int, now: datetime) -> None:
        """Remember a feed's validators and body hash once all its entries were processed."""
        self.conn.execute(
            "INSERT INTO feed_state (feed_url, source, etag, last_modified, body_hash, last_status,"
            " fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feed_url) DO UPDATE SET"
            " source = excluded.source, etag = excluded.etag,"
            " last_modified = excluded.last_modified, body_hash = excluded.body_hash,"
            " last_status = excluded.last_status, fetched_at = excluded.fetched_at",
            (
                state.feed_url,
                source,
                state.etag,
                state.last_modified,
                state.body_hash,
                status,
                _iso(now),
            ),
        )

    def seen(self, article_id: str) -> SeenEntry | None:
        """The record of an already-processed URL, or None."""
        row = self.conn.execute(
            "SELECT article_id, entry_title, entry_updated, outcome FROM seen_urls"
            " WHERE article_id = ?",
            (article_id,),
        ).fetchone()
        return SeenEntry(**dict(row)) if row else None

    def mark_seen(
        self,
        *,
        article_id: str,
        url: str,
        source: str,
        entry_title: str | None,
        entry_updated: datetime | None,
        outcome: str,
        now: datetime,
    ) -> None:
        """Record how a URL was processed, so an unchanged feed entry is not fetched again."""
        self.conn.execute(
            "INSERT INTO seen_urls (article_id, url, source, entry_title, entry_updated, outcome,"
            " first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (article_id) DO UPDATE SET entry_title = excluded.entry_title,"
            " entry_updated = excluded.entry_updated, outcome = excluded.outcome,"
            " last_seen = excluded.last_seen",
            (
                article_id,
                url,
                source,
                entry_title,
                _iso(entry_updated),
                outcome,
                _iso(now),
                _iso(now),
            ),
        )

    def start_run(self, source: str, now: datetime) -> int:
        """Open a run record; it stays 'running' until ``finish_run``.

        A 'running' record of the same source whose process is gone is closed as 'crashed'
        first, so a run killed mid-way shows in the history and the error streak.
        """
        with transaction(self.conn):
            for row in self.conn.execute(
                "SELECT id, pid FROM runs WHERE source = ? AND status = 'running'", (source,)
            ).fetchall():
                if not _alive(row["pid"]):
                    self.conn.execute(
                        "UPDATE runs SET status = 'crashed', finished_at = ? WHERE id = ?",
                        (_iso(now), row["id"]),
                    )
            cur = self.conn.execute(
                "INSERT INTO runs (source, started_at, status, pid) VALUES (?, ?, 'running', ?)",
                (source, _iso(now), os.getpid()),
            )
        return int(cur.lastrowid)

    def finish_run(self, run_id: int, *, status: str, stats: dict, now: datetime) -> None:
        """Close a run record with its outcome ('ok', 'failed', 'interrupted') and counters."""
        self.conn.execute(
            "UPDATE runs SET finished_at = ?, status = ?, stats = ? WHERE id = ?",
            (_iso(now), status, json.dumps(stats, sort_keys=True), run_id),
        )

    def runs(self, source: str | None = None, limit: int = 20) -> list[RunRecord]:
        """The most recent runs, newest first, of one source or of all."""
        where, params = ("WHERE source = ?", [source]) if source else ("", [])
        rows = self.conn.execute(
            f"SELECT * FROM runs {where} ORDER BY id DESC LIMIT ?", [*params, limit]
        ).fetchall()
        return [
            RunRecord(
                id=r["id"],
                source=r["source"],
                started_at=_dt(r["started_at"]),
                finished_at=_dt(r["finished_at"]),
                status=r["status"],
                stats=json.loads(r["stats"]),
            )
            for r in rows
        ]

    def last_success(self, source: str) -> datetime | None:
        """When a run of the source last finished 'ok'."""
        row = self.conn.execute(
            "SELECT MAX(finished_at) AS t FROM runs WHERE source = ? AND status = 'ok'", (source,)
        ).fetchone()
        return _dt(row["t"])

    def error_streak(self, source: str) -> int:
        """How many of the source's latest runs failed or crashed in a row.

        Runs still going, and runs interrupted by a signal (a deliberate stop), do not count.
        """
        streak = 0
        for run in self.runs(source, limit=100):
            if run.status in ("running", "interrupted"):
                continue
            if run.status == "ok":
                break
            streak += 1
        return streak

    def articles_since(self, source: str, since: datetime) -> int:
        """How many articles of the source were first stored (new or copies) since a time."""
        row = self.conn.execute(
            "SELECT COUNT(*) AS n FROM seen_urls WHERE source = ? AND first_seen >= ?"
            " AND outcome IN ('new', 'duplicate', 'updated')",
            (source, _iso(since)),
        ).fetchone()
        return int(row["n"])

    def backfill_progress(self, source: str, window: str) -> dict[str, str]:
        """What a backfill of the source over this window has completed so far (key -> value)."""
        rows = self.conn.execute(
            "SELECT key, value FROM backfill WHERE source = ? AND window = ?", (source, window)
        ).fetchall()
        return {row["key"]: row["value"] for row in rows}

    def save_backfill_progress(
        self, source: str, window: str, key: str, value: str, now: datetime
    ) -> None:
        """Record a completed sitemap or the furthest listing page, so a rerun continues."""
        self.conn.execute(
            "INSERT INTO backfill (source, window, key, value, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (source, window, key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (source, window, key, value, _iso(now)),
        )

    def count_failure(self, article_id: str, error: str, now: datetime) -> int:
        """Count one more transient failure of a URL (across runs); return the total so far."""
        self.conn.execute(
            "INSERT INTO url_failures (article_id, failures, last_error, updated_at)"
            " VALUES (?, 1, ?, ?) ON CONFLICT (article_id) DO UPDATE SET"
            " failures = failures + 1, last_error = excluded.last_error,"
            " updated_at = excluded.updated_at",
            (article_id, error, _iso(now)),
        )
        row = self.conn.execute(
            "SELECT failures FROM url_failures WHERE article_id = ?", (article_id,)
        ).fetchone()
        return int(row["failures"])
