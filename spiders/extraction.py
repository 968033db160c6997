"""Article extraction: the body text and metadata of one HTML page, without the site's chrome.

Built on trafilatura, which finds the main text; the page's own metadata (published time,
language, ``<link rel=canonical>``) is read here from the same parsed tree, because trafilatura
keeps only the date (no time or offset) and does not report the canonical link.
Nothing in here raises on bad input: a page with no article gives ``text == ""``.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urljoin

import trafilatura
from dateutil import parser as dateparser
from lxml.html import HtmlElement
from trafilatura.utils import load_html

logger = logging.getLogger(__name__)

# favor_precision: on our fixture pages it keeps the body and drops widgets and "Related"
# lists that the default settings let through (see bench/bench_extraction.py).
TRAFILATURA_SETTINGS: Mapping[str, Any] = {
    "favor_precision": True,
    "include_comments": False,
    "include_tables": False,
    "with_metadata": True,
    # publication dates come from the page's markup only, never guessed from "© 2026" or URLs
    "date_extraction_params": {"extensive_search": False, "original_date": True},
}
# trafilatura's cost grows faster than linearly with the element count; past this many elements
# its second-opinion extractors are skipped (``fast``), which halves the time of a huge page.
HUGE_TREE_ELEMENTS = 30_000
# Less body text than this is a page without an article (a menu, a "not found" line).
MIN_TEXT_CHARS = 25

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_KHMER = re.compile(r"[\u1780-\u17FF\u19E0-\u19FF]")
_OTHER_LETTER = re.compile(r"[^\W\d_\u1780-\u17FF\u19E0-\u19FF]")

# Page metadata that names the publication time, most trusted first.
_DATE_META = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "publishdate",
    "pubdate",
    "parsely-pub-date",
    "sailthru.date",
    "dc.date.issued",
    "dcterms.created",
    "dc.date",
    "date",
)
# Labels of in-body links to other articles ("Read more: ...", Khmer "អានបន្ថែម៖ ...").
_PROMO_LABEL = re.compile(
    r"^\W{0,3}(read more|read also|also read|related|see also|more on this|recommended|"
    r"you may also like|watch|listen|អានបន្ថែម|អានបន្ត|អានផងដែរ|ព័ត៌មានទាក់ទង)\b\s*\W",
    re.IGNORECASE,
)
_MIN_YEAR, _MAX_YEAR = 1990, 2100


@dataclass
class Extracted:
    """What one page yields: body text (paragraphs joined with "\\n") and its metadata."""

    title: str = ""
    text: str = ""
    published_at: datetime | None = None
    authors: list[str] = field(default_factory=list)
    language: str | None = None
    canonical_url: str | None = None


def extract(html: str | bytes, url: str, *, settings: Mapping[str, Any] | None = None) -> Extracted:
    """Extract the article of one page; never raises on bad HTML (``text`` is "" if no article).

    ``settings`` overrides the trafilatura keyword arguments (used by the benchmark).
    """
    try:
        return _extract(html, url, settings if settings is not None else TRAFILATURA_SETTINGS)
    except Exception:  # a broken page must never stop a crawl
        logger.warning("extraction failed for %s", url, exc_info=True)
        return Extracted()


def _extract(html: str | bytes, url: str, settings: Mapping[str, Any]) -> Extracted:
    text = decode_html(html) if isinstance(html, bytes) else html
    if not text or not text.strip():
        return Extracted()
    tree = load_html(text)
    if tree is None:
        return Extracted()
    page = _page_metadata(tree, url)
    _drop_inline_promos(tree)
    if not settings.get("fast") and _size_at_least(tree, HUGE_TREE_ELEMENTS):
        settings = {**settings, "fast": True}
    try:
        doc = trafilatura.bare_extraction(tree, url=url, **settings)
    except Exception:  # keep the page's own metadata; the body is lost
        logger.warning("extraction failed for %s", url, exc_info=True)
        doc = None
    result = Extracted(canonical_url=page.canonical_url, published_at=page.published_at)
    result.language = page.language
    result.authors = page.authors
    result.title = page.title
    if doc is not None:
        result.title = (doc.title or "").strip() or result.title
        result.text = _clean_text(doc.text or "", result.title)
        if doc.author and not result.authors:
            result.authors = _split_authors(doc.author)
        if result.published_at is None and doc.date:
            result.published_at = parse_datetime(doc.date)
        if result.language is None and doc.language:
            result.language = _iso639_1(doc.language)
    if len(result.text) < MIN_TEXT_CHARS:
        result.text = ""
    if result.text and _mostly_khmer(result.text):
        result.language = "km"
    return result


def _size_at_least(tree: HtmlElement, limit: int) -> bool:
    return any(n >= limit for n, _ in enumerate(tree.iter()))


def decode_html(body: bytes) -> str:
    """Decode a page once: BOM, then valid UTF-8, then ``<meta charset>``, then windows-1252.

    Valid UTF-8 wins over a declared legacy charset because pages that say ISO-8859-1 but are
    UTF-8 are common, and the reverse (legacy bytes that happen to be valid UTF-8) is very rare.
    Bytes that are not valid in the chosen encoding are replaced, never raised.
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    head = body[:4096]
    match = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    encoding = "cp1252"
    if match:
        try:
            encoding = codecs.lookup(match.group(1).decode("ascii", errors="ignore")).name
        except LookupError:
            encoding = "cp1252"
        if encoding in ("latin-1", "iso8859-1", "ascii", "utf-8"):
            encoding = "cp1252"  # as browsers do: an ISO-8859-1 label means windows-1252
    return body.decode(encoding, errors="replace")


def _drop_inline_promos(tree: HtmlElement) -> None:
    """Remove "Read more: <link>" paragraphs inside the body: related links, not article text.

    trafilatura keeps them (they sit among the body paragraphs), and their headlines would make
    an article match rules it has nothing to do with.
    """
    for para in list(tree.iter("p")):
        text = " ".join(para.text_content().split())
        if not text or len(text) > 300 or not _PROMO_LABEL.match(text):
            continue
        linked = sum(len(" ".join(a.text_content().split())) for a in para.iter("a"))
        if linked * 2 >= len(text) and para.getparent() is not None:
            para.drop_tree()


@dataclass
class _Page:
    canonical_url: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    authors: list[str] = field(default_factory=list)
    title: str = ""


def _page_metadata(tree: HtmlElement, url: str) -> _Page:
    """The metadata trafilatura does not give us in the form we need, read from the tree."""
    page = _Page()
    for href in tree.xpath("//link[@href][contains(concat(' ', normalize-space(@rel), ' '),"
                           " ' canonical ')]/@href"):  # fmt: skip
        if href.strip():
            page.canonical_url = urljoin(url, href.strip())
            break
    metas = _meta_map(tree)
    ld_items = list(_json_ld_items(tree))
    page.published_at = _published_at(tree, metas, ld_items)
    page.language = _language(tree, metas)
    page.authors = _ld_authors(ld_items) or _meta_authors(metas)
    title = tree.findtext(".//title")
    page.title = (metas.get("og:title") or title or "").strip()
    return page


def _meta_map(tree: HtmlElement) -> dict[str, str]:
    """``<meta>`` contents by lowercased ``property``/``name``/``itemprop``; first one wins."""
    metas: dict[str, str] = {}
    for meta in tree.iter("meta"):
        content = meta.get("content")
        if not content:
            continue
        for attr in ("property", "name", "itemprop"):
            key = meta.get(attr)
            if key:
                metas.setdefault(key.strip().lower(), content.strip())
    return metas


def _json_ld_items(tree: HtmlElement) -> Iterator[dict]:
    """Every JSON-LD object on the page, ``@graph`` members and lists flattened."""
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                if "@graph" in item:
                    stack.extend(item["@graph"] if isinstance(item["@graph"], list) else [])
                yield item


def _published_at(
    tree: HtmlElement, metas: dict[str, str], ld_items: list[dict]
) -> datetime | None:
    for key in _DATE_META:
        if key in metas and (when := parse_datetime(metas[key])):
            return when
    for item in ld_items:
        value = item.get("datePublished")
        if isinstance(value, str) and (when := parse_datetime(value)):
            return when
    times = tree.xpath("//article//time[@datetime]") or tree.xpath("//time[@datetime]")
    for node in times[:3]:
        if when := parse_datetime(node.get("datetime", "")):
            return when
    return None


def parse_datetime(value: str) -> datetime | None:
    """An ISO 8601 (or other common) date string as an aware datetime; naive taken as UTC."""
    value = value.strip()
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = dateparser.parse(value)
        except (ValueError, OverflowError, TypeError):
            return None
    if isinstance(when, date) and not isinstance(when, datetime):
        when = datetime(when.year, when.month, when.day)
    if when is None or not _MIN_YEAR <= when.year <= _MAX_YEAR:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _language(tree: HtmlElement, metas: dict[str, str]) -> str | None:
    for value in (tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
                  metas.get("og:locale"), metas.get("content-language")):  # fmt: skip
        if value and (code := _iso639_1(value)):
            return code
    return None


def _iso639_1(value: str) -> str | None:
    code = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return code if len(code) == 2 and code.isalpha() else None


def _ld_authors(ld_items: list[dict]) -> list[str]:
    for item in ld_items:
        raw = item.get("author")
        if raw is None:
            continue
        raw = raw if isinstance(raw, list) else [raw]
        names = [a.get("name") if isinstance(a, dict) else a for a in raw]
        found = [n.strip() for n in names if isinstance(n, str) and n.strip()]
        if found:
            return found
    return []


def _meta_authors(metas: dict[str, str]) -> list[str]:
    # trafilatura's own author clean-up cuts Khmer names short, so the page's meta comes first
    for key in ("author", "article:author", "parsely-author", "dc.creator", "sailthru.author"):
        value = metas.get(key, "")
        if value and "://" not in value:
            return _split_authors(value.replace(",", ";"))
    return []


def _split_authors(value: str) -> list[str]:
    return [name.strip() for name in value.split(";") if name.strip()]


def _clean_text(text: str, title: str) -> str:
    """Blank lines dropped, and a first line that only repeats the headline."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if lines and title and " ".join(lines[0].split()) == " ".join(title.split()):
        lines = lines[1:]
    return "\n".join(lines)


def _mostly_khmer(text: str, sample: int = 4000) -> bool:
    """True when the body has more Khmer characters than letters of other scripts."""
    head = text[:sample]
    return len(_KHMER.findall(head)) > len(_OTHER_LETTER.findall(head))
