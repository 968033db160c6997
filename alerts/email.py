"""Render one alert email: multipart plain text and HTML, from Jinja2 templates.

Text from crawled pages is untrusted: the HTML template is autoescaped and the matched passage
arrives already escaped with ``<mark>`` around the terms (``Passage.html``). In the plain-text
part the matched terms are wrapped in ``*asterisks*``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from crawler.models import Passage

DEFAULT_SENDER = "beatwatch <beatwatch@localhost>"
LIST_ID = "beatwatch alerts <alerts.beatwatch>"
TEXT_MARK = "*"

_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(kw_only=True)
class AlertEntry:
    """One story in an alert: the article shown, its passages and the rules it hit."""

    title: str
    url: str
    source: str
    published_at: datetime | None
    passages: list[Passage]
    rules: list[str]
    updated: bool = False
    also_carried_by: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class AlertGroup:
    """The stories listed under one rule's name."""

    rule: str
    entries: list[AlertEntry]


def render_alert(
    recipient: str,
    groups: list[AlertGroup],
    *,
    tz: tzinfo | str,
    sender: str = DEFAULT_SENDER,
    now: datetime,
    digest: bool = False,
    message_id: str | None = None,
) -> EmailMessage:
    """Build the alert message for one recipient listing ``groups``.

    The Message-ID is left for the outbox to assign (``<outbox-id.hash@beatwatch>``) unless
    ``message_id`` is given.
    """
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    context = {
        "recipient": recipient,
        "groups": [_group_context(group, zone) for group in groups],
        "count": sum(len(group.entries) for group in groups),
        "digest": digest,
    }
    message = EmailMessage()
    message["Subject"] = alert_subject(groups, digest=digest)
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = format_datetime(now if now.tzinfo else now.astimezone())
    if message_id:
        message["Message-ID"] = message_id
    message["List-Id"] = LIST_ID
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message["Precedence"] = "bulk"
    message.set_content(_env().get_template("alert.txt.j2").render(context), cte="quoted-printable")
    message.add_alternative(
        _env().get_template("alert.html.j2").render(context),
        subtype="html",
        cte="quoted-printable",
    )
    return message


def alert_subject(groups: list[AlertGroup], *, digest: bool = False) -> str:
    """``[beatwatch] 3 new hits: kem-sokha, ream-naval-base`` (every rule named, in order)."""
    count = sum(len(group.entries) for group in groups)
    names: list[str] = []
    for group in groups:
        for entry in group.entries:
            for rule in [group.rule, *entry.rules]:
                if rule not in names:
                    names.append(rule)
    noun = "hit" if count == 1 else "hits"
    kind = "digest: " if digest else ""
    return f"[beatwatch] {kind}{count} new {noun}: {', '.join(names)}"


def format_time(moment: datetime | None, zone: tzinfo) -> str:
    """``Tue 1 Dec 2026 14:05 +07`` in ``zone``; a naive time is taken to be UTC."""
    if moment is None:
        return "publication time unknown"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} {local.tzname() or format(local, '%z')}"


def plain_passage(passage: Passage) -> str:
    """The passage on one line, each matched span wrapped in ``*asterisks*``."""
    out: list[str] = []
    pos = 0
    for start, end in passage.spans:
        out.append(passage.text[pos:start])
        out.append(f"{TEXT_MARK}{passage.text[start:end]}{TEXT_MARK}")
        pos = end
    out.append(passage.text[pos:])
    return " ".join("".join(out).split())


def _group_context(group: AlertGroup, zone: tzinfo) -> dict:
    return {
        "rule": group.rule,
        "entries": [_entry_context(e, group.rule, zone) for e in group.entries],
    }


def _entry_context(entry: AlertEntry, rule: str, zone: tzinfo) -> dict:
    return {
        "title": " ".join(entry.title.split()) or "(untitled)",
        "url": entry.url,
        "linkable": urlsplit(entry.url).scheme in ("http", "https"),
        "source": entry.source,
        "when": format_time(entry.published_at, zone),
        "updated": entry.updated,
        "other_rules": [r for r in entry.rules if r != rule],
        "text_passages": [plain_passage(p) for p in entry.passages],
        # Passage.html() escapes the page text itself; Markup stops a second escaping.
        "html_passages": [Markup(p.html()) for p in entry.passages],
        "also_carried_by": entry.also_carried_by,
    }


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2",), disabled_extensions=("txt.j2",), default=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
