"""What every beatwatch spider shares: turning discovered links into article requests, fetching
and extracting article pages, counting every outcome, and remembering progress per origin.

An *origin* is the feed, sitemap or listing page that listed a link. Each article request is
charged to its origin; when the last one has an outcome (stored, dropped, failed or skipped),
the origin is complete and its ``on_complete`` callback runs: a feed saves its validators, a
backfill records the sitemap or listing page as done. An origin with a transient failure (a 5xx,
a dead host, a pipeline error) never completes, so the next run lists it again and nothing it
listed is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy import signals
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.models import FeedFields, FetchedPage
from crawler.state import FeedState, RunState, SeenEntry
from crawler.urls import article_id, canonical_url, url_allowed
from spiders.extraction import extract
from spiders.failures import classify_failure

logger = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
# A URL that failed transiently in this many runs is given up (marked seen with its error), so
# it cannot hold its feed, sitemap or listing page open, and a backfill behind it, for ever.
GIVE_UP_AFTER = 5


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Window:
    """Publication dates a crawl wants: ``[since, until)``; None means unbounded."""

    since: datetime | None = None
    until: datetime | None = None
    undated: bool = False  # admit items without a date (routine runs: the seen check decides)

    def admits(self, when: datetime | None) -> bool:
        """True for a date inside the window; an undated item when ``undated`` or no window."""
        if when is None:
            return self.undated or (self.since is None and self.until is None)
        return (self.since is None or when >= self.since) and (
            self.until is None or when < self.until
        )


@dataclass
class Origin:
    """A feed, sitemap or listing page, and the article requests it is waiting for."""

    key: str
    on_complete: Callable[[], None] | None = None
    pending: int = 0
    listed: bool = False  # all its requests have been issued
    transient_failures: int = 0
    completed: bool = False
    children: set[str] = field(default_factory=set)
    parent: str | None = None
    newest: datetime | None = None  # the latest publication date among its stored articles


class ArticleSpider(scrapy.Spider):
    """Base of the source spider: article requests, extraction, outcomes and origins."""

    window: Window = Window()  # the dates this crawl wants; a backfill sets its own

    def __init__(self, *, source: Any, state: RunState, max_items: int = 100, **kwargs: Any):
        super().__init__(**kwargs)
        self.source = source
        self.state = state
        self.max_items = max_items
        self.origins: dict[str, Origin] = {}
        self._requested: set[str] = set()
        self.extractor: Callable[[bytes, str], Any] = extract

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ArticleSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._item_done, signal=signals.item_scraped)
        crawler.signals.connect(spider._item_done, signal=signals.item_dropped)
        crawler.signals.connect(spider._item_failed, signal=signals.item_error)
        return spider

    def _inc(self, key: str, count: int = 1) -> None:
        self.crawler.stats.inc_value(f"beatwatch/{key}", count)

    # -- origins --------------------------------------------------------------------------

    def origin(self, key: str, on_complete: Callable[[], None] | None = None) -> Origin:
        """The bookkeeping record of an origin, created on first use; ``on_complete`` is set
        when given (a child sitemap's origin exists from the moment it is requested)."""
        if key not in self.origins:
            self.origins[key] = Origin(key=key)
        if on_complete is not None:
            self.origins[key].on_complete = on_complete
        return self.origins[key]

    def listed(self, key: str) -> None:
        """The origin has issued all its requests; it completes once they have outcomes."""
        origin = self.origin(key)
        origin.listed = True
        self._maybe_complete(origin)

    def transient_failure(self, key: str) -> None:
        """Something the origin listed may succeed later: it must not complete in this run."""
        if key in self.origins:
            self.origins[key].transient_failures += 1

    def _settle(self, key: str) -> None:
        origin = self.origins.get(key)
        if origin is not None:
            origin.pending -= 1
            self._maybe_complete(origin)

    def _maybe_complete(self, origin: Origin) -> None:
        if origin.completed or not origin.listed or origin.pending > 0:
            return
        if origin.transient_failures or any(not self.origins[c].completed for c in origin.children):
            return
        origin.completed = True
        if origin.on_complete is not None:
            origin.on_complete()
        if origin.parent is not None:
            self._maybe_complete(self.origins[origin.parent])

    def _item_done(self, item: Any, **_: Any) -> None:
        page = getattr(item, "page", item)
        if isinstance(page, FetchedPage) and page.source == self.source.name:
            self._note_published(page.feed_url, page.published_at or page.entry.published)
            self._settle(page.feed_url)

    def _note_published(self, key: str, when: datetime | None) -> None:
        origin = self.origins.get(key)
        if origin is not None and when is not None:
            origin.newest = max(origin.newest, when) if origin.newest else when

    def _item_failed(self, item: Any, **_: Any) -> None:
        """A pipeline stage raised on this item: its origin is listed again next run."""
        page = getattr(item, "page", item)
        if isinstance(page, FetchedPage) and page.source == self.source.name:
            self.transient_failure(page.feed_url)
            self._settle(page.feed_url)

    # -- article requests ----------------------------------------------------------------

    def article_request(
        self, link: str, origin: str, entry: FeedFields, *, compare_title: bool = True
    ) -> scrapy.Request | None:
        """A request for a discovered article link, or None (offsite, listed twice, seen).

        A seen URL is requested again when its entry's date is newer, or (``compare_title``,
        for feeds) its entry title changed; sitemap titles are not compared, so a source
        whose feed and sitemap word a headline differently is not re-fetched every run.
        """
        url = canonical_url(link)
        if not url_allowed(url, list(self.source.allowed_domains)):
            self._inc("entries/offsite")
            logger.info(
                "Skipping %(url)s: not in allowed_domains of %(source)s",
                {"url": url, "source": self.source.name},
            )
            return None
        aid = article_id(url)
        if aid in self._requested:
            self._inc("entries/duplicate")
            return None
        seen = self.state.seen(aid)
        if seen and not entry_changed(seen, entry, compare_title=compare_title):
            self._inc("entries/unchanged")
            return None
        self._requested.add(aid)
        self._inc("entries/requested")
        self.origin(origin).pending += 1
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.article_failed,
            dont_filter=True,  # deduplicated by id above; a self-redirect must end in an error
            meta={"origin": origin, "entry": entry, "article_id": aid, "url": url},
        )

    def parse_article(self, response: Response) -> Iterator[FetchedPage]:
        """Extract an article page; anything but HTML is skipped and counted."""
        meta = response.meta
        content_type = response.headers.get("Content-Type", b"").decode("latin-1").lower()
        if not any(t in content_type for t in HTML_TYPES):
            self._skip(meta, "non_html", f"content type {content_type or 'missing'}")
            return
        self._inc("fetched")
        page = self.extractor(response.body, response.url)
        if self._after_window(meta, page.published_at or meta["entry"].published):
            return
        yield FetchedPage(
            source=self.source.name,
            url=meta["url"],
            fetch_url=response.url,
            fetched_at=utcnow(),
            title=page.title or "",
            text=page.text or "",
            published_at=page.published_at,
            authors=list(page.authors or []),
            language=page.language,
            rel_canonical=page.canonical_url,
            entry=meta["entry"],
            default_language=(self.source.language or [None])[0],
            feed_url=meta["origin"],
        )

    def article_failed(self, failure: Failure) -> None:
        """An article fetch failed: permanent failures are remembered, transient ones retried."""
        meta = failure.request.meta
        kind, permanent = classify_failure(failure)
        if kind in ("robots", "too_large"):
            self._skip(meta, kind, failure.getErrorMessage())
            return
        self._inc("articles/fetch_errors")
        self._inc(f"errors/{kind}")
        logger.warning(
            "Article %(url)s of %(source)s failed: %(kind)s (%(error)s)",
            {
                "url": meta["url"],
                "source": self.source.name,
                "kind": kind,
                "error": failure.getErrorMessage(),
            },
        )
        if not permanent:
            failures = self.state.count_failure(meta["article_id"], kind, utcnow())
            permanent = failures >= GIVE_UP_AFTER
            if permanent:
                self._inc("articles/given_up")
                logger.warning(
                    "Giving up on %(url)s of %(source)s after %(n)d failed runs",
                    {"url": meta["url"], "source": self.source.name, "n": failures},
                )
        if permanent:
            self._mark(meta, f"error:{kind}")
        else:
            self.transient_failure(meta["origin"])
        self._settle(meta["origin"])

    def _after_window(self, meta: dict, when: datetime | None) -> bool:
        """True, and the article set aside, when it was published on or after the window's
        ``until`` (a backfill's listing pages carry no dates, so only the page tells).

        It still counts towards its listing page's newest date, so pagination goes on, and it
        is not marked seen: the routine crawl that lists it stores it.
        """
        until = self.window.until
        if until is None or when is None or when < until:
            return False
        self._inc("backfill/after_until")
        logger.info(
            "Not storing %(url)s of %(source)s: published %(when)s, after --until",
            {"url": meta["url"], "source": self.source.name, "when": when.isoformat()},
        )
        self._note_published(meta["origin"], when)
        self._settle(meta["origin"])
        return True

    def _skip(self, meta: dict, reason: str, detail: str) -> None:
        self._inc(f"skipped/{reason}")
        logger.info(
            "Skipping %(url)s of %(source)s: %(reason)s (%(detail)s)",
            {"url": meta["url"], "source": self.source.name, "reason": reason, "detail": detail},
        )
        self._mark(meta, f"skipped:{reason}")
        self._settle(meta["origin"])

    def _mark(self, meta: dict, outcome: str) -> None:
        entry: FeedFields = meta["entry"]
        self.state.mark_seen(
            article_id=meta["article_id"],
            url=meta["url"],
            source=self.source.name,
            entry_title=entry.title,
            entry_updated=entry.updated,
            outcome=outcome,
            now=utcnow(),
        )

    def endpoint_warnings(self, what: str, url: str, warnings: list[str]) -> None:
        """Count and log what a feed or sitemap parser recovered from (``what``: feeds|sitemaps)."""
        for warning in warnings:
            self._inc(f"{what}/warnings")
            logger.warning(
                "%(what)s %(url)s of %(source)s: %(warning)s",
                {
                    "what": what.rstrip("s").capitalize(),
                    "url": url,
                    "source": self.source.name,
                    "warning": warning,
                },
            )

    def endpoint_failed(self, failure: Failure, what: str) -> None:
        """A feed, sitemap or listing page could not be fetched: counted and logged."""
        kind, _permanent = classify_failure(failure)
        self._inc(f"{what}/errors")
        self._inc(f"errors/{kind}")
        logger.error(
            "%(what)s %(url)s of %(source)s failed: %(kind)s (%(error)s)",
            {
                "what": what.rstrip("s").capitalize(),
                "url": failure.request.url,
                "source": self.source.name,
                "kind": kind,
                "error": failure.getErrorMessage(),
            },
        )


def conditional_headers(state: RunState, url: str) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from what the last complete fetch of ``url`` returned."""
    known = state.feed_state(url)
    headers = {}
    if known and known.etag:
        headers["If-None-Match"] = known.etag
    if known and known.last_modified:
        headers["If-Modified-Since"] = known.last_modified
    return headers


def validators(url: str, response: Response, body_hash: str | None = None) -> FeedState:
    """What to send next time for a conditional GET of ``url``: its ETag and Last-Modified."""
    return FeedState(url, header(response, "ETag"), header(response, "Last-Modified"), body_hash)


def header(response: Response, name: str) -> str | None:
    """A response header as text, or None."""
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def entry_changed(seen: SeenEntry, entry: FeedFields, *, compare_title: bool = True) -> bool:
    """A seen URL is fetched again when its entry's title changed or its date is newer."""
    if compare_title and entry.title and entry.title != (seen.entry_title or None):
        return True
    if entry.updated is None:
        return False
    stored = datetime.fromisoformat(seen.entry_updated) if seen.entry_updated else None
    return stored is None or entry.updated.astimezone(UTC) > stored
