"""Sitemap crawling: indexes, urlsets (gzip too), Google News sitemaps, robots.txt discovery.

A routine run follows only URLs dated within the source's ``max_age`` (sitemap ``lastmod`` or
``news:publication_date``) and skips child sitemaps last modified before that; a URL already
seen is fetched again only when its ``lastmod`` is newer. A backfill walks the whole window and
records each urlset it finished, so an interrupted backfill resumes where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.models import FeedFields
from crawler.state import FeedState
from spiders.base import conditional_headers, utcnow, validators
from spiders.sitemaps import SitemapEntry, parse_sitemap, sitemaps_from_robots

if TYPE_CHECKING:
    from spiders.source import SourceSpider

    _Base = SourceSpider
else:
    _Base = object

logger = logging.getLogger(__name__)

MAX_SITEMAP_DEPTH = 4


class SitemapMixin(_Base):
    """The sitemap part of the source spider."""

    def sitemap_requests(self) -> Iterator[scrapy.Request]:
        """The configured sitemaps, and robots.txt files to discover more when asked to."""
        for url in map(str, self.source.sitemaps):
            yield self._sitemap_request(url, depth=0, parent=None)
        if getattr(self.source, "robots_sitemaps", False):
            for host in sorted(self._robots_hosts()):
                yield scrapy.Request(
                    f"{host}/robots.txt",
                    callback=self.parse_robots_sitemaps,
                    errback=lambda f: self.endpoint_failed(f, "sitemaps"),
                    dont_filter=True,
                )

    def _robots_hosts(self) -> set[str]:
        urls = [*self.source.feeds, *self.source.sitemaps, *self.source.start_urls]
        if getattr(self.source, "homepage", None):
            urls.append(self.source.homepage)
        return {f"{p.scheme}://{p.netloc}" for p in map(urlsplit, map(str, urls))}

    def parse_robots_sitemaps(self, response: Response) -> Iterator[scrapy.Request]:
        """Follow the ``Sitemap:`` lines of a host's robots.txt."""
        found = sitemaps_from_robots(response.body, response.url) if response.status == 200 else []
        self._inc("sitemaps/from_robots", len(found))
        for url in found:
            if url not in self._sitemaps_seen:  # also configured, or listed twice
                yield self._sitemap_request(url, depth=0, parent=None)

    def _sitemap_request(self, url: str, *, depth: int, parent: str | None) -> scrapy.Request:
        headers = {} if self.backfill else conditional_headers(self.state, url)
        self._sitemaps_seen.add(url)
        self.origin(url).parent = parent
        if parent is not None:
            self.origin(parent).children.add(url)
        return scrapy.Request(
            url,
            headers=headers,
            callback=self.parse_sitemap,
            errback=self.sitemap_failed,
            dont_filter=True,
            meta={"sitemap": url, "depth": depth, "handle_httpstatus_list": [304]},
        )

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        """An index yields its child sitemaps, a urlset the article URLs inside the window."""
        url = response.meta["sitemap"]
        self._inc("sitemaps/fetched")
        if response.status == 304:
            self._inc("sitemaps/not_modified")
            self._inc("sitemaps/read")
            self.listed(url)
            return
        parsed = parse_sitemap(response.body, response.url)
        self.endpoint_warnings("sitemaps", url, parsed.warnings)
        if not parsed.ok:
            self._inc("sitemaps/errors")
            self.listed(url)  # nothing to wait for: its parent index may complete
            return
        self._inc("sitemaps/read")
        state = validators(url, response)
        self.origin(url, lambda: self._sitemap_complete(url, state, response.status))
        if parsed.kind == "index":
            yield from self._children(url, parsed.entries, response.meta["depth"])
        else:
            yield from self._urls(url, parsed.entries)
        self.listed(url)

    def _children(self, url: str, entries: list[SitemapEntry], depth: int) -> Iterator:
        for child in entries:
            if child.loc in self._sitemaps_seen or depth + 1 > MAX_SITEMAP_DEPTH:
                self._inc("sitemaps/loops")
                logger.warning(
                    "Sitemap index %(url)s lists %(child)s again (or too deep): skipped",
                    {"url": url, "child": child.loc},
                )
                continue
            since = self.window.since
            if since is not None and child.lastmod is not None and child.lastmod < since:
                self._inc("sitemaps/too_old")
                continue
            if f"sitemap:{child.loc}" in self.backfill_done:
                self._inc("backfill/resumed_sitemaps")
                continue
            yield self._sitemap_request(child.loc, depth=depth + 1, parent=url)

    def _urls(self, url: str, entries: list[SitemapEntry]) -> Iterator[scrapy.Request]:
        self._inc("entries/total", len(entries))
        for entry in entries:
            if not self.window.admits(entry.date):
                self._inc("entries/outside_window")
                continue
            fields = FeedFields(title=entry.title, published=entry.published, updated=entry.lastmod)
            request = self.article_request(entry.loc, url, fields, compare_title=False)
            if request is not None:
                yield request

    def _sitemap_complete(self, url: str, state: FeedState, status: int) -> None:
        if self.backfill:
            self.state.save_backfill_progress(
                self.source.name, self.backfill, f"sitemap:{url}", "done", utcnow()
            )
        else:
            self.state.save_feed_state(self.source.name, state, status=status, now=utcnow())

    def sitemap_failed(self, failure: Failure) -> None:
        """A sitemap could not be fetched: counted and logged; its parent index stays open."""
        self.endpoint_failed(failure, "sitemaps")
