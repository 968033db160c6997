"""Feed parsing: RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 bodies into plain entries, never a fetch.

feedparser does the parsing (it recovers what it can from broken XML and wrong encodings); this
module turns its loose dictionaries into typed entries with absolute links, aware datetimes and
plain-text summaries, and turns its ``bozo`` flag into readable warnings for the run history.
"""

from __future__ import annotations

import calendar
import html
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import feedparser
from lxml import etree
from lxml import html as lxml_html

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"[ \t\r\f\v]+")
_EMAIL_NAME = re.compile(r"^\s*[^\s@()]+@[^\s()]+\s*\((.+)\)\s*$")
_ENCODING_OVERRIDE = re.compile(r"declared as (\S+?),? but parsed as (\S+)")
# Link rels that are the entry itself, best first; others are enclosures or related pages.
_ALTERNATE_RELS = ("alternate", None)


@dataclass
class FeedEntry:
    """One feed item: where the article is and what the feed says about it."""

    link: str | None
    title: str = ""
    summary: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    authors: list[str] = field(default_factory=list)
    entry_id: str | None = None


@dataclass
class ParsedFeed:
    """A parsed feed; ``ok`` is False when nothing could be read (empty body, an HTML page)."""

    title: str = ""
    entries: list[FeedEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ok: bool = False
    version: str = ""


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a fetched feed body; links are made absolute against ``url`` (the feed's URL).

    Broken feeds keep whatever entries feedparser recovered, with a warning saying what was
    wrong ("not well-formed XML at line 12: ...", "declared utf-8 but decoded as windows-1252").
    """
    if not body or not body.strip():
        return ParsedFeed(warnings=["empty body"])
    # no Content-Type known: let the XML declaration decide the encoding, as for application/xml
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    # bytes in, never a URL: feedparser must not fetch anything itself
    parsed = feedparser.parse(
        bytes(body), response_headers=headers, sanitize_html=True, resolve_relative_uris=False
    )
    result = ParsedFeed(version=parsed.get("version") or "")
    if parsed.get("bozo"):
        result.warnings.append(_describe(parsed.get("bozo_exception")))
    feed = parsed.get("feed") or {}
    result.title = _plain(feed.get("title", ""))
    result.entries = [_entry(raw, url) for raw in parsed.get("entries", [])]
    result.ok = bool(result.version or result.entries)
    if not result.ok:
        result.warnings.append("not an RSS or Atom feed")
    return result


def _describe(exc: BaseException | None) -> str:
    """A one-line warning for feedparser's bozo exception."""
    if exc is None:
        return "feed is not well-formed"
    message = str(exc) or type(exc).__name__
    if isinstance(exc, feedparser.CharacterEncodingOverride):
        match = _ENCODING_OVERRIDE.search(message)
        if match:
            return f"declared {match.group(1)} but decoded as {match.group(2)}"
        return message
    if isinstance(exc, feedparser.NonXMLContentType):
        return f"not served as XML: {message}"
    line = getattr(exc, "getLineNumber", None)
    get_message = getattr(exc, "getMessage", None)
    if callable(line) and callable(get_message):
        return f"not well-formed XML at line {line()}: {get_message()}"
    return f"{type(exc).__name__}: {message}"


def _entry(raw: dict, base: str) -> FeedEntry:
    # dict.get: FeedParserDict.get maps a missing updated_parsed to published_parsed (and warns)
    published = _when(dict.get(raw, "published_parsed"))
    updated = _when(dict.get(raw, "updated_parsed"))
    return FeedEntry(
        link=_link(raw, base),
        title=_plain(raw.get("title", "")),
        summary=_plain(raw.get("summary", "")),
        published=published or updated,
        updated=updated,
        authors=_authors(raw),
        entry_id=(raw.get("id") or "").strip() or None,
    )


def _link(raw: dict, base: str) -> str | None:
    """The entry's own page: its rel=alternate link (any type, so a PDF entry says PDF)."""
    candidates: list[str] = []
    for rel in _ALTERNATE_RELS:
        candidates += [
            link.get("href", "")
            for link in raw.get("links", [])
            if link.get("rel") == rel and link.get("href")
        ]
    if raw.get("link"):
        candidates.append(raw["link"])
    for href in candidates:
        absolute = urljoin(base, href.strip())
        if urlsplit(absolute).scheme in ("http", "https"):
            return absolute
    return None


def _when(parsed: time.struct_time | None) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _authors(raw: dict) -> list[str]:
    # RSS "email (Name)": parsed here, because feedparser cuts non-ASCII names at the wrong offset
    match = _EMAIL_NAME.match(raw.get("author") or "")
    if match:
        return [match.group(1).strip()]
    names: list[str] = []
    for author in raw.get("authors", []) or []:
        name = (author.get("name") or author.get("email") or "").strip()
        if name and name not in names:
            names.append(name)
    if not names and raw.get("author"):
        names.append(raw["author"].strip())
    return names


def _plain(value: str) -> str:
    """Markup to plain text: tags dropped, entities decoded, whitespace collapsed."""
    if not value:
        return ""
    if "<" in value:
        try:
            value = lxml_html.fromstring(f"<div>{value}</div>").text_content()
        except (ValueError, TypeError, etree.ParserError):
            value = html.unescape(_TAG.sub(" ", value))
    elif "&" in value:
        value = html.unescape(value)
    lines = (_SPACE.sub(" ", line).strip() for line in value.splitlines())
    return "\n".join(line for line in lines if line)
