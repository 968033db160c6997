"""Listing pages (section, tag and archive pages): the article links on one page and its next page.

Pure functions over one downloaded page, no network: the listing spider fetches, these decide
what to follow. Links come from Scrapy's ``LinkExtractor``; the host check is ours
(``crawler.urls.url_allowed``) because ``LinkExtractor(allow_domains=...)`` compares the whole
``host:port`` netloc, so an IP or a port in the config would never match.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urldefrag, urljoin, urlsplit

from parsel import Selector
from scrapy.http import HtmlResponse
from scrapy.linkextractors import IGNORED_EXTENSIONS, LinkExtractor

from crawler.errors import ConfigError
from crawler.urls import canonical_url, host_of, url_allowed
from spiders.extraction import decode_html

logger = logging.getLogger(__name__)

# Never article pages, whatever the patterns say: feeds, fonts and data files besides Scrapy's list.
DENY_EXTENSIONS = sorted({*IGNORED_EXTENSIONS, "xml", "atom", "json", "txt", "gz", "woff", "woff2",
                          "ttf", "otf", "eot", "csv"})  # fmt: skip

# Path segments that mark a page as navigation, not an article (the default heuristic only).
NON_ARTICLE_SEGMENTS = frozenset(
    {
        "tag", "tags", "topic", "topics", "category", "categories", "section", "author",
        "authors", "page", "search", "feed", "feeds", "rss", "atom", "login", "logout",
        "signin", "sign-in", "signup", "register", "account", "subscribe", "newsletter",
        "wp-admin", "wp-login.php", "wp-json", "xmlrpc.php", "share", "print", "amp",
        "comments", "cart", "contact", "about", "about-us", "privacy", "privacy-policy", "terms",
    }
)  # fmt: skip
NON_ARTICLE_QUERY_KEYS = frozenset({"s", "q", "page", "paged", "share", "replytocom", "print"})

# Texts of a "next page" link, compared lowercased with arrows and spaces trimmed; a link whose
# text is only a forward arrow (› or ») is a next link too.
NEXT_TEXTS = frozenset(
    {"next", "next page", "next posts", "older", "older posts", "older entries", "older articles",
     "បន្ទាប់", "ទំព័របន្ទាប់"}
)  # fmt: skip
_ARROWS = "›»→>‹«←<"
_SLUG_WORDS = re.compile(r"[-_]")
_ID_DIGITS = re.compile(r"\d{3,}")
_PAGE_PATH = re.compile(r"/page/(\d+)(?:/|$)", re.IGNORECASE)


@dataclass
class ListingPage:
    """One listing page: its article links (absolute, page order, no fragments) and next page."""

    article_links: list[str] = field(default_factory=list)
    next_page: str | None = None
    warnings: list[str] = field(default_factory=list)


def parse_listing(
    body: bytes | str,
    url: str,
    *,
    follow: Sequence[str] = (),
    deny: Sequence[str] = (),
    allowed_domains: Sequence[str] = (),
) -> ListingPage:
    """The article links and the next page of one listing page.

    ``follow`` / ``deny`` are regular expressions searched in each absolute link URL (``deny``
    wins). With ``follow`` empty a heuristic keeps article-like links (see ``looks_like_article``).
    Links off ``allowed_domains`` (host names or IPs, ports ignored, subdomains allowed; the
    page's own host when empty) are dropped. Bad HTML gives an empty page with a warning, never
    an exception; an invalid pattern raises ``ConfigError``.
    """
    extractor = _extractor(follow, deny)
    domains = list(allowed_domains) or [host_of(url)]
    page = ListingPage()
    text = decode_html(body) if isinstance(body, bytes) else body
    if not text.strip():
        page.warnings.append("empty body")
        return page
    try:
        response = HtmlResponse(url=url, body=text.encode("utf-8"), encoding="utf-8")
        page.article_links = _article_links(response, extractor, domains, bool(follow))
        page.next_page = _next_page(response, domains, page.warnings)
    except Exception as exc:  # a broken page must never stop a crawl
        logger.warning("listing page %s could not be parsed", url, exc_info=True)
        page.warnings.append(f"page could not be parsed: {exc}")
        return page
    if not page.article_links:
        page.warnings.append("no article links found")
    return page


def _extractor(follow: Sequence[str], deny: Sequence[str]) -> LinkExtractor:
    for pattern in (*follow, *deny):
        if error := validate_pattern(pattern):
            raise ConfigError([("", "follow/deny", f"invalid URL pattern {pattern!r}: {error}")])
    return LinkExtractor(
        allow=tuple(follow), deny=tuple(deny), deny_extensions=DENY_EXTENSIONS, unique=True
    )


def validate_pattern(pattern: str) -> str | None:
    """An error message if ``pattern`` is not a valid ``follow``/``deny`` regular expression."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    return None


def _article_links(
    response: HtmlResponse, extractor: LinkExtractor, domains: list[str], has_follow: bool
) -> list[str]:
    own = _key(response.url)
    links: list[str] = []
    seen: set[str] = set()
    for link in extractor.extract_links(response):
        href = urldefrag(link.url).url
        if urlsplit(href).scheme not in ("http", "https") or not url_allowed(href, domains):
            continue
        key = _key(href)
        if key == own or key in seen:
            continue
        if not has_follow and not looks_like_article(href):
            continue
        seen.add(key)
        links.append(href)
    return links


def looks_like_article(url: str) -> bool:
    """The default heuristic: a page path that ends in a slug or an id, not navigation or an asset.

    Kept: ``/article/some-story-slug``, ``/2026/11/slug/``, ``/news/1001/``. Dropped: the home
    page, one-word section pages (``/defence/``), tag/category/author/page/search/feed/login/
    wp-admin/share paths, search or pagination queries, files with an asset extension.
    """
    parts = urlsplit(url)
    segments = [s for s in parts.path.lower().split("/") if s]
    if not segments or any(s in NON_ARTICLE_SEGMENTS for s in segments):
        return False
    if any(key.lower() in NON_ARTICLE_QUERY_KEYS for key, _ in parse_qsl(parts.query)):
        return False
    last = segments[-1].rsplit(".", 1)
    if len(last) == 2 and last[1] in DENY_EXTENSIONS:
        return False
    slug = last[0]
    return len(_SLUG_WORDS.split(slug)) >= 3 or bool(_ID_DIGITS.search(slug))


def _next_page(response: HtmlResponse, domains: list[str], warnings: list[str]) -> str | None:
    """The first usable candidate, in this order: link rel=next, a rel=next, link text, a.next."""
    own = _key(response.url)
    for href in _next_candidates(response.selector):
        target = urldefrag(urljoin(response.url, href.strip())).url
        if urlsplit(target).scheme not in ("http", "https"):
            continue
        if _key(target) == own:
            warnings.append(f"next page {target} is the page itself; ignored")
            continue
        if not url_allowed(target, domains):
            warnings.append(f"next page {target} is on another domain; ignored")
            continue
        return target
    return None


def _next_candidates(sel: Selector) -> list[str]:
    hrefs = sel.xpath("//link[@href][contains(concat(' ', normalize-space(@rel), ' '),"
                      " ' next ')]/@href").getall()  # fmt: skip
    hrefs += sel.xpath("//a[@href][contains(concat(' ', normalize-space(@rel), ' '),"
                       " ' next ')]/@href").getall()  # fmt: skip
    for anchor in sel.xpath("//a[@href]"):
        if _is_next_text(" ".join(anchor.xpath("string(.)").get("").split())):
            hrefs.append(anchor.attrib["href"])
    for node in sel.css("a.next, .pagination .next, .pager .next, .nav-previous"):
        own = node.attrib.get("href") if node.root.tag == "a" else None
        hrefs.extend([own] if own else node.xpath(".//a/@href").getall()[:1])
    return [h for h in hrefs if h and h.strip() and not h.strip().startswith("#")]


def _is_next_text(text: str) -> bool:
    trimmed = text.strip(_ARROWS + " ").lower()
    if not trimmed:
        return bool(text) and any(ch in text for ch in "›»")
    return trimmed in NEXT_TEXTS


def page_number(url: str) -> int | None:
    """The page number a pagination URL names (``/page/3/``, ``?page=3``, ``?paged=3``), else None.

    The crawler uses it to stop on a cycle: a "next" link whose number is not above the current one.
    """
    parts = urlsplit(url)
    for key, value in parse_qsl(parts.query):
        if key.lower() in ("page", "paged") and value.isdigit():
            return int(value)
    match = _PAGE_PATH.search(parts.path)
    return int(match.group(1)) if match else None


def _key(url: str) -> str:
    """The comparison key of a link: its canonical form (fragment and tracking tags dropped)."""
    try:
        return canonical_url(url)
    except ValueError:
        return url
