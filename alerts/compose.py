"""Turn pending ledger hits into alert messages in the outbox: one message per recipient.

Each call runs in one transaction: the pending hits are read, every recipient's message is
rendered and enqueued, and the hits are marked queued, or none of it happens. A crash at any
point therefore neither loses a hit (it stays pending) nor doubles one (it is queued once).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from typing import Protocol

from alerts import ledger, outbox
from alerts.email import DEFAULT_SENDER, AlertEntry, AlertGroup, render_alert
from alerts.ledger import LedgerHit
from crawler.db import transaction

logger = logging.getLogger(__name__)

CopiesOf = Callable[[str], list[tuple[str, str]]]


class RuleSpec(Protocol):
    """What composing needs of a rule; ``crawler.config`` Rule objects qualify."""

    @property
    def name(self) -> str: ...

    @property
    def recipients(self) -> Sequence[str]: ...

    @property
    def mode(self) -> str: ...


def compose_immediate(
    conn: sqlite3.Connection,
    rules: Sequence[RuleSpec],
    *,
    copies_of: CopiesOf,
    tz: tzinfo | str,
    now: datetime,
    sender: str = DEFAULT_SENDER,
) -> int:
    """Queue one message per recipient for the pending hits of ``immediate`` rules.

    ``copies_of(story_id)`` returns ``(source, url)`` for every stored copy of a story; the
    other outlets are named on the hit's "also carried by:" line. Hits of rules that are not in
    ``rules`` (removed from the config) or are disabled (``enabled: false``) stay pending.
    Returns the number of messages queued.
    """
    immediate = [r for r in rules if r.mode == "immediate" and getattr(r, "enabled", True)]
    return _compose(conn, immediate, copies_of, tz=tz, now=now, sender=sender, digest=False)


def compose_digest(
    conn: sqlite3.Connection,
    rule: RuleSpec,
    *,
    copies_of: CopiesOf,
    tz: tzinfo | str,
    now: datetime,
    sender: str = DEFAULT_SENDER,
) -> int:
    """Queue one digest message per recipient for ``rule``'s pending hits (its schedule's job).

    Returns the number of messages queued (0 when nothing new matched since the last digest).
    """
    return _compose(conn, [rule], copies_of, tz=tz, now=now, sender=sender, digest=True)


def _compose(
    conn: sqlite3.Connection,
    rules: Sequence[RuleSpec],
    copies_of: CopiesOf,
    *,
    tz: tzinfo | str,
    now: datetime,
    sender: str,
    digest: bool,
) -> int:
    if not rules:
        return 0
    ledger.ensure_schema(conn)
    outbox.ensure_schema(conn)
    order = [rule.name for rule in rules]
    queued = 0
    with transaction(conn):
        hits = ledger.pending(conn, rules=order)
        if not hits:
            return 0
        copies: dict[str, list[tuple[str, str]]] = {}
        for recipient, names in _recipients(rules).items():
            theirs = [hit for hit in hits if hit.rule in names]
            if not theirs:
                continue
            groups = build_groups(theirs, [n for n in order if n in names], copies, copies_of)
            message = render_alert(recipient, groups, tz=tz, sender=sender, now=now, digest=digest)
            outbox.enqueue(conn, message, now)
            ledger.mark_queued(
                conn, [hit.id for hit in theirs], str(message["Message-ID"]), now=now
            )
            queued += 1
        _drop_unaddressed(conn, rules, hits, now)
    logger.info("Queued %d alert message(s) for %d hit(s)", queued, len(hits))
    return queued


def build_groups(
    hits: list[LedgerHit],
    rule_order: list[str],
    copies: dict[str, list[tuple[str, str]]],
    copies_of: CopiesOf,
) -> list[AlertGroup]:
    """Group one recipient's hits under rule names; a story appears once, naming every rule.

    The story is listed under the first of its rules in ``rule_order`` and shows that rule's
    article; ``copies`` caches ``copies_of`` per story across recipients.
    """
    rank = {name: i for i, name in enumerate(rule_order)}
    by_story: dict[str, list[LedgerHit]] = {}
    for hit in hits:
        by_story.setdefault(hit.story_id, []).append(hit)
    groups = {name: AlertGroup(rule=name, entries=[]) for name in rule_order}
    for story_id, story_hits in by_story.items():
        story_hits.sort(key=lambda hit: rank[hit.rule])
        shown = story_hits[0]
        if story_id not in copies:
            copies[story_id] = copies_of(story_id)
        groups[shown.rule].entries.append(_entry(shown, story_hits, copies[story_id]))
    return [group for group in groups.values() if group.entries]


def _entry(
    shown: LedgerHit, story_hits: list[LedgerHit], copies: list[tuple[str, str]]
) -> AlertEntry:
    passages = []
    for hit in story_hits:
        if hit.passage not in passages:
            passages.append(hit.passage)
    return AlertEntry(
        title=shown.title,
        url=shown.url,
        source=shown.source,
        published_at=shown.published_at,
        passages=passages,
        rules=[hit.rule for hit in story_hits],
        updated=shown.is_update,
        also_carried_by=_other_outlets(shown, copies),
    )


def _other_outlets(shown: LedgerHit, copies: list[tuple[str, str]]) -> list[str]:
    outlets: list[str] = []
    for source, url in copies:
        if url != shown.url and source != shown.source and source not in outlets:
            outlets.append(source)
    return outlets


def _recipients(rules: Sequence[RuleSpec]) -> dict[str, set[str]]:
    """Each recipient address (first spelling kept, compared case-insensitively) -> its rules."""
    spelling: dict[str, str] = {}
    names: dict[str, set[str]] = {}
    for rule in rules:
        for address in rule.recipients:
            key = spelling.setdefault(address.strip().lower(), address.strip())
            names.setdefault(key, set()).add(rule.name)
    return names


def _drop_unaddressed(
    conn: sqlite3.Connection, rules: Sequence[RuleSpec], hits: list[LedgerHit], now: datetime
) -> None:
    """Hits of a rule with no recipients can never be sent; close them so they do not pile up."""
    silent = {rule.name for rule in rules if not rule.recipients}
    stranded = [hit.id for hit in hits if hit.rule in silent]
    if stranded:
        logger.warning(
            "Rules %s have no recipients; %d hit(s) not sent", sorted(silent), len(stranded)
        )
        ledger.mark_queued(conn, stranded, None, now=now)
