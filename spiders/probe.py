"""The probe spider: fetch every configured endpoint of some sources once and describe it.

For ops checking the source list from the production host: the HTTP status, the content type,
how many items the endpoint lists (feed entries, sitemap URLs or child sitemaps, listing-page
article links) and the newest item's date. Nothing is stored and no article is fetched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from spiders.failures import classify_failure
from spiders.feeds import parse_feed
from spiders.listing import parse_listing
from spiders.sitemaps import parse_sitemap, sitemaps_from_robots


@dataclass
class ProbeResult:
    """What one endpoint answered."""

    source: str
    kind: str  # feed | sitemap | listing | robots
    url: str
    status: int | None = None
    content_type: str | None = None
    items: int | None = None
    newest: datetime | None = None
    error: str | None = None

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "kind": self.kind,
            "url": self.url,
            "status": self.status,
            "content_type": self.content_type,
            "items": self.items,
            "newest": self.newest.isoformat() if self.newest else None,
            "error": self.error,
        }


def describe(kind: str, response: Response, source: Any) -> tuple[int, datetime | None, str | None]:
    """Items, newest date and a problem (or None) for one endpoint's body."""
    if kind == "feed":
        ctype = response.headers.get("Content-Type", b"").decode("latin-1") or None
        feed = parse_feed(response.body, response.url, ctype)
        dates = [e.published for e in feed.entries if e.published]
        problem = None if feed.ok else "; ".join(feed.warnings) or "not a feed"
        return len(feed.entries), max(dates, default=None), problem
    if kind == "sitemap":
        sitemap = parse_sitemap(response.body, response.url)
        dates = [e.date for e in sitemap.entries if e.date]
        problem = None if sitemap.ok else "; ".join(sitemap.warnings) or "not a sitemap"
        return len(sitemap.entries), max(dates, default=None), problem
    page = parse_listing(
        response.body,
        response.url,
        follow=list(getattr(source, "follow", ()) or ()),
        deny=list(getattr(source, "deny", ()) or ()),
        allowed_domains=list(source.allowed_domains),
    )
    return len(page.article_links), None, None if page.article_links else "no article links"


class ProbeSpider(scrapy.Spider):
    """Requests each endpoint of the given sources once; results collect in ``results``."""

    name = "probe"
    custom_settings = {"RETRY_TIMES": 0, "HTTPERROR_ALLOW_ALL": True}  # noqa: RUF012

    def __init__(self, *, sources: list[Any], results: list[ProbeResult], **kwargs: Any):
        super().__init__(**kwargs)
        self.sources = sources
        self.results = results

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for request in self._requests():
            yield request

    def _requests(self) -> Iterator[scrapy.Request]:
        for source in self.sources:
            for kind, urls in (
                ("feed", source.feeds),
                ("sitemap", source.sitemaps),
                ("listing", source.start_urls),
            ):
                for url in map(str, urls):
                    yield self._request(url, source, kind)
            if getattr(source, "robots_sitemaps", False):
                for url in source.robots_txt_urls:
                    yield scrapy.Request(
                        url,
                        callback=self.robots,
                        errback=self.failed,
                        dont_filter=True,
                        meta={"source": source, "kind": "robots"},
                    )

    def _request(self, url: str, source: Any, kind: str) -> scrapy.Request:
        meta = {"source": source, "kind": kind}
        return scrapy.Request(
            url, callback=self.parsed, errback=self.failed, dont_filter=True, meta=meta
        )

    def robots(self, response: Response) -> Iterator[scrapy.Request]:
        """A robots.txt: report its Sitemap: lines and probe each as a sitemap."""
        source = response.meta["source"]
        found = sitemaps_from_robots(response.body, response.url) if response.status == 200 else []
        self.results.append(
            ProbeResult(
                source=source.name,
                kind="robots",
                url=response.url,
                status=response.status,
                items=len(found),
                error=None if found else "no Sitemap: lines",
            )
        )
        for url in found:
            yield self._request(url, source, "sitemap")

    def parsed(self, response: Response) -> None:
        source, kind = response.meta["source"], response.meta["kind"]
        result = ProbeResult(
            source=source.name,
            kind=kind,
            url=response.request.url,
            status=response.status,
            content_type=response.headers.get("Content-Type", b"").decode("latin-1") or None,
        )
        if 200 <= response.status < 300:
            result.items, result.newest, result.error = describe(kind, response, source)
        else:
            result.error = f"HTTP {response.status}"
        self.results.append(result)

    def failed(self, failure: Failure) -> None:
        meta = failure.request.meta
        kind, _ = classify_failure(failure)
        self.results.append(
            ProbeResult(
                source=meta["source"].name,
                kind=meta["kind"],
                url=failure.request.url,
                error=f"{kind}: {failure.getErrorMessage()}",
            )
        )
