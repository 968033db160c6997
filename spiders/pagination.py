"""Listing pages: follow a source's section pages, their article links and their pagination.

A routine run reads at most ``max_pages`` pages per start URL and stops early at a page that
lists nothing new. A backfill reads a page, waits until its articles have outcomes, and goes on
to the next page only while that page still had articles published on or after ``since`` (and
``backfill_max_pages`` allows); the next page to read is recorded each time, so a backfill that
was interrupted or hit its page limit resumes there when run again. Pagination
that loops back on itself ends at the first page seen twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.models import FeedFields
from spiders.base import utcnow
from spiders.listing import page_number, parse_listing

if TYPE_CHECKING:
    from spiders.source import SourceSpider

    _Base = SourceSpider
else:
    _Base = object

logger = logging.getLogger(__name__)


class ListingMixin(_Base):
    """The listing-page part of the source spider."""

    def listing_requests(self) -> Iterator[scrapy.Request]:
        """Each start URL, or in a backfill the page where the last run stopped."""
        for start in map(str, self.source.start_urls):
            resume = self.backfill_done.get(f"listing:{start}")
            if resume == "end":
                self._inc("backfill/listing_already_done")
                continue
            if resume:
                self._inc("backfill/resumed_listings")
            yield self._listing_request(resume or start, start=start, depth=1)

    def _listing_request(self, url: str, *, start: str, depth: int) -> scrapy.Request:
        self._pages_seen.add(url)
        return scrapy.Request(
            url,
            callback=self.parse_listing_page,
            errback=self.listing_failed,
            dont_filter=True,
            meta={"listing": url, "start": start, "depth": depth},
        )

    def parse_listing_page(self, response: Response) -> Iterator[scrapy.Request]:
        """Request the page's new article links, then (or, in a backfill, later) the next page."""
        url, start, depth = (response.meta[k] for k in ("listing", "start", "depth"))
        self._inc("listings/fetched")
        self._inc("listings/read")
        page = parse_listing(
            response.body,
            response.url,
            follow=list(getattr(self.source, "follow", ()) or ()),
            deny=list(getattr(self.source, "deny", ()) or ()),
            allowed_domains=list(self.source.allowed_domains),
        )
        self._inc("entries/total", len(page.article_links))
        requested = 0
        next_page = self._next_page(page.next_page, url)
        self.origin(url, lambda: self._listing_complete(url, start, depth, next_page))
        for link in page.article_links:
            request = self.article_request(link, url, FeedFields())
            if request is not None:
                requested += 1
                yield request
        if not self.backfill and next_page and self._deeper(depth):
            if requested:
                yield self._listing_request(next_page, start=start, depth=depth + 1)
            else:
                self._inc("listings/stopped_nothing_new")
        self.listed(url)

    def _deeper(self, depth: int) -> bool:
        """Whether this run may read another page after one at ``depth``."""
        if depth < self.max_pages:
            return True
        self._inc("listings/max_pages_reached")
        return False

    def _next_page(self, candidate: str | None, current: str) -> str | None:
        if candidate is None:
            return None
        here, there = page_number(current) or 1, page_number(candidate)
        if candidate in self._pages_seen or (there is not None and there <= here):
            self._inc("listings/pagination_loops")
            logger.info(
                "Pagination of %(source)s loops back to %(url)s: stopping",
                {"source": self.source.name, "url": candidate},
            )
            return None
        return candidate

    def _listing_complete(self, url: str, start: str, depth: int, next_page: str | None) -> None:
        """Backfill only: record the next page to read, then read it while the page just read
        still had articles inside the window and this run's page limit allows."""
        if not self.backfill:
            return
        newest = self.origins[url].newest
        since = self.window.since
        too_old = since is not None and newest is not None and newest < since
        if too_old:
            self._inc("backfill/reached_since")
        resume = next_page if next_page and not too_old else None
        self.state.save_backfill_progress(
            self.source.name, self.backfill, f"listing:{start}", resume or "end", utcnow()
        )
        if resume and self._deeper(depth):
            self.crawler.engine.crawl(self._listing_request(resume, start=start, depth=depth + 1))

    def listing_failed(self, failure: Failure) -> None:
        """A listing page could not be fetched: counted and logged."""
        self.endpoint_failed(failure, "listings")
