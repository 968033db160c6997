"""The durable outbox: the one queue between composing alerts and sending them.

A message is ``queued`` until a delivery claims it (``sending``), then ends ``sent`` or, when the
server refuses it for good (5xx), ``parked`` with the error kept for ops. A transient failure
(server down, 4xx, timeout) puts it back to ``queued`` with exponential backoff: 30 s, 60 s, ...
capped at ``backoff_max`` (15 minutes by default).

The claim is one ``UPDATE ... WHERE state = 'queued'``, so two processes delivering at once never
both send a message. A claim older than ten minutes means the sender crashed mid-send; the next
delivery releases it and sends again. That favours at-least-once over losing mail: the rare
duplicate carries the same stable Message-ID, so a mail client or filter can recognise it.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Protocol

from alerts.ledger import timestamp
from crawler.db import transaction
from crawler.errors import DeliveryError, PermanentDeliveryError

logger = logging.getLogger(__name__)

QUEUED, SENDING, SENT, PARKED = "queued", "sending", "sent", "parked"
FIRST_BACKOFF = timedelta(seconds=30)
STALE_CLAIM = timedelta(minutes=10)
MESSAGE_ID_DOMAIN = "beatwatch"

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL DEFAULT '',
        recipient TEXT NOT NULL,
        subject TEXT NOT NULL,
        raw BLOB NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued',
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_at TEXT NOT NULL,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        claimed_at TEXT
    )
    """,
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at)",
)


class Mailer(Protocol):
    """Anything that can send one message, raising DeliveryError or PermanentDeliveryError."""

    def send(self, message: EmailMessage) -> None: ...


@dataclass
class DeliveryReport:
    """What one ``deliver_due`` call did; ``errors`` names each retried or parked message."""

    sent: int = 0
    retried: int = 0
    parked: int = 0
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """The report as a plain dict (for ``crawl --json`` and logs)."""
        return {
            "sent": self.sent,
            "retried": self.retried,
            "parked": self.parked,
            "errors": list(self.errors),
        }


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the outbox table if it does not exist yet (safe to call every time)."""
    for statement in _SCHEMA:
        conn.execute(statement)


def enqueue(conn: sqlite3.Connection, message: EmailMessage, now: datetime) -> int:
    """Store ``message`` for delivery and return its outbox id.

    A message without a Message-ID gets a stable one, ``<outbox-id.hash@beatwatch>``, kept
    across every retry so a duplicate can be recognised.
    """
    ensure_schema(conn)
    with transaction(conn):
        cursor = conn.execute(
            """
            INSERT INTO outbox (recipient, subject, raw, next_attempt_at, created_at)
            VALUES (?, ?, x'', ?, ?)
            """,
            (
                str(message["To"] or ""),
                str(message["Subject"] or ""),
                timestamp(now),
                timestamp(now),
            ),
        )
        outbox_id = int(cursor.lastrowid)
        if message["Message-ID"] is None:
            digest = hashlib.sha256(message.as_bytes()).hexdigest()[:16]
            message["Message-ID"] = f"<{outbox_id}.{digest}@{MESSAGE_ID_DOMAIN}>"
        conn.execute(
            "UPDATE outbox SET message_id = ?, raw = ? WHERE id = ?",
            (str(message["Message-ID"]), message.as_bytes(), outbox_id),
        )
    return outbox_id


def deliver_due(
    conn: sqlite3.Connection,
    mailer: Mailer,
    *,
    now: datetime,
    backoff_max: float = 900,
    ignore_backoff: bool = False,
) -> DeliveryReport:
    """Send every queued message that is due, one claim at a time; report what happened.

    Never raises for a delivery failure: transient ones are rescheduled, permanent ones parked.
    ``ignore_backoff`` sends every queued message now (ops, once the mail server is fixed).
    """
    ensure_schema(conn)
    release_stale_claims(conn, now=now)
    report = DeliveryReport()
    started = time.monotonic()
    due = conn.execute(
        """
        SELECT id FROM outbox WHERE state = ? AND next_attempt_at <= ?
        ORDER BY next_attempt_at, id
        """,
        (QUEUED, timestamp(datetime.max.replace(tzinfo=UTC) if ignore_backoff else now)),
    ).fetchall()
    for row in due:
        # A long pass must not stamp late claims with its start time: another process would
        # then see them as stale, release and send them again.
        claim_time = now + timedelta(seconds=time.monotonic() - started)
        claimed = _claim(conn, row["id"], claim_time)
        if claimed is not None:
            _attempt(conn, row["id"], claimed, mailer, now, backoff_max, report)
    return report


def release_stale_claims(conn: sqlite3.Connection, *, now: datetime) -> int:
    """Put messages claimed more than ten minutes ago back in the queue; return how many."""
    ensure_schema(conn)
    cursor = conn.execute(
        """
        UPDATE outbox SET state = ?, claimed_at = NULL, next_attempt_at = ?,
            last_error = 'delivery interrupted (stale claim released); sending again'
        WHERE state = ? AND claimed_at < ?
        """,
        (QUEUED, timestamp(now), SENDING, timestamp(now - STALE_CLAIM)),
    )
    if cursor.rowcount:
        logger.warning("Released %d stale outbox claim(s); they may be sent twice", cursor.rowcount)
    return cursor.rowcount


def backlog(conn: sqlite3.Connection, *, now: datetime | None = None) -> dict:
    """Outbox counts and the age of the oldest queued message, for ``beatwatch status``.

    ``oldest_queued_age`` is in seconds (None when nothing is waiting); ``sending`` counts
    in-flight claims.
    """
    ensure_schema(conn)
    counts = dict.fromkeys((QUEUED, SENDING, SENT, PARKED), 0)
    for row in conn.execute("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state"):
        counts[row["state"]] = row["n"]
    oldest = conn.execute(
        "SELECT MIN(created_at) AS t FROM outbox WHERE state IN (?, ?)", (QUEUED, SENDING)
    ).fetchone()["t"]
    age = None
    if oldest is not None:
        age = max(
            0.0, ((now or datetime.now(UTC)) - datetime.fromisoformat(oldest)).total_seconds()
        )
    return {**counts, "oldest_queued_at": oldest, "oldest_queued_age": age}


def parked_messages(conn: sqlite3.Connection) -> list[dict]:
    """The parked messages with their errors, oldest first, for reporting to ops."""
    ensure_schema(conn)
    rows = conn.execute(
        """
        SELECT id, message_id, recipient, subject, attempts, last_error, created_at
        FROM outbox WHERE state = ? ORDER BY id
        """,
        (PARKED,),
    )
    return [dict(row) for row in rows]


def backoff(attempts: int, backoff_max: float) -> timedelta:
    """The wait after ``attempts`` failed tries: 30 s doubling each time, capped."""
    seconds = FIRST_BACKOFF.total_seconds() * 2 ** min(max(attempts - 1, 0), 32)
    return timedelta(seconds=min(seconds, backoff_max))


def _claim(
    conn: sqlite3.Connection, outbox_id: int, now: datetime
) -> tuple[EmailMessage, int] | None:
    """Take the message for this process (with its attempts so far), or None when another
    process got there first."""
    with transaction(conn):
        cursor = conn.execute(
            "UPDATE outbox SET state = ?, claimed_at = ? WHERE id = ? AND state = ?",
            (SENDING, timestamp(now), outbox_id, QUEUED),
        )
        if cursor.rowcount != 1:
            return None
        row = conn.execute("SELECT raw, attempts FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
    return BytesParser(policy=policy.default).parsebytes(row["raw"]), row["attempts"]


def _attempt(
    conn: sqlite3.Connection,
    outbox_id: int,
    claimed: tuple[EmailMessage, int],
    mailer: Mailer,
    now: datetime,
    backoff_max: float,
    report: DeliveryReport,
) -> None:
    message, attempts = claimed
    attempts += 1
    label = f"{message['Message-ID']} to {message['To']}"
    try:
        mailer.send(message)
    except PermanentDeliveryError as error:
        _finish(conn, outbox_id, PARKED, attempts, error=str(error))
        report.parked += 1
        report.errors.append(f"parked {label}: {error}")
        logger.error("Parked alert %s after %d attempt(s): %s", label, attempts, error)
    except Exception as error:  # a DeliveryError, or a mailer bug: keep the message, retry later
        reason = _describe(error)
        retry_at = now + backoff(attempts, backoff_max)
        _finish(conn, outbox_id, QUEUED, attempts, error=reason, next_attempt_at=retry_at)
        report.retried += 1
        report.errors.append(f"retrying {label}: {reason}")
        logger.warning(
            "Alert %s not delivered (attempt %d), retrying at %s: %s",
            label,
            attempts,
            retry_at.isoformat(),
            reason,
        )
    else:
        _finish(conn, outbox_id, SENT, attempts, sent_at=now)
        report.sent += 1
        logger.info("Sent alert %s", label)


def _finish(
    conn: sqlite3.Connection,
    outbox_id: int,
    state: str,
    attempts: int,
    *,
    error: str | None = None,
    sent_at: datetime | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    """Record one attempt's outcome and release the claim, in one statement."""
    conn.execute(
        """
        UPDATE outbox SET state = ?, attempts = ?, claimed_at = NULL,
            last_error = COALESCE(?, last_error), sent_at = ?,
            next_attempt_at = COALESCE(?, next_attempt_at)
        WHERE id = ? AND state = ?
        """,
        (
            state,
            attempts,
            error,
            timestamp(sent_at) if sent_at else None,
            timestamp(next_attempt_at) if next_attempt_at else None,
            outbox_id,
            SENDING,
        ),
    )


def _describe(error: Exception) -> str:
    if isinstance(error, DeliveryError):
        return str(error)
    return f"unexpected {type(error).__name__}: {error}"
