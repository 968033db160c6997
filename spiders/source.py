"""The source spider: one crawl of one source over its feeds, sitemaps and listing pages.

Every kind of endpoint feeds the same article requests and yields the same item
(``FetchedPage``), so all of them go through one pipeline. A routine run polls feeds, the
sitemaps' recent URLs (``max_age``) and the first ``max_pages`` listing pages; a backfill
(``window`` with ``backfill`` set) walks sitemaps and listing pagination back to a date.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from typing import Any

import scrapy

from crawler.state import RunState
from spiders.base import ArticleSpider, Window, utcnow
from spiders.extraction import extract
from spiders.feed import FeedMixin
from spiders.pagination import ListingMixin
from spiders.selectors import Selectors, apply_selectors
from spiders.sitemap import SitemapMixin

logger = logging.getLogger(__name__)

DEFAULT_MAX_AGE = timedelta(days=3)


def backfill_key(window: Window) -> str:
    """The name under which a backfill's progress is kept: its window."""
    since = window.since.isoformat() if window.since else ""
    until = window.until.isoformat() if window.until else ""
    return f"{since}..{until}"


def extractor_for(source: Any):
    """Generic extraction, with the source's CSS/XPath overrides applied when it has any."""
    config = getattr(source, "extract", None)
    if config is None:
        return extract
    selectors = Selectors(
        title=config.title, body=config.body, date=config.date, author=config.author
    )
    if not any((selectors.title, selectors.body, selectors.date, selectors.author)):
        return extract
    return partial(_extract_with, selectors)


def _extract_with(selectors: Selectors, body: bytes, url: str) -> Any:
    return apply_selectors(body, url, selectors, extract(body, url))


class SourceSpider(FeedMixin, SitemapMixin, ListingMixin, ArticleSpider):
    """Crawls one configured source once; see the module docstring."""

    name = "source"

    def __init__(
        self,
        *,
        source: Any,
        state: RunState,
        max_items: int = 100,
        backfill: Window | None = None,
        backfill_max_pages: int = 200,
        **kwargs: Any,
    ):
        super().__init__(source=source, state=state, max_items=max_items, **kwargs)
        self.extractor = extractor_for(source)
        # Scrapy's offsite filter then drops a redirect away from the source's sites too.
        self.allowed_domains = list(source.allowed_domains)
        self._sitemaps_seen: set[str] = set()
        self._pages_seen: set[str] = set()
        if backfill is not None:
            self.window = backfill
            self.backfill = backfill_key(backfill)
            self.backfill_done = state.backfill_progress(source.name, self.backfill)
            self.max_pages = backfill_max_pages
        else:
            max_age = getattr(source, "max_age", None) or DEFAULT_MAX_AGE
            self.window = Window(since=utcnow() - max_age, undated=True)
            self.backfill = None
            self.backfill_done = {}
            self.max_pages = getattr(source, "max_pages", 3)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """Feeds (routine runs only), then sitemaps, then listing pages."""
        if self.backfill is None:
            for request in self.feed_requests():
                yield request
        for request in self.sitemap_requests():
            yield request
        for request in self.listing_requests():
            yield request

    def closed(self, reason: str) -> None:
        """Say so when a crawl ended early: unfinished origins are listed again next run."""
        if reason != "finished":
            logger.warning(
                "Crawl of %(source)s ended early (%(reason)s): unfinished feeds, sitemaps and"
                " listing pages will be read again",
                {"source": self.source.name, "reason": reason},
            )
