"""The feed spider: polls a source's RSS/Atom feeds and fetches the articles they list.

Feeds are fetched conditionally (ETag / Last-Modified, then a body hash); each entry's link is
canonicalised and fetched unless it was seen before with the same entry title and date. A feed's
validators are saved only when the spider finished and no entry of that feed failed transiently,
so an interrupted or partly failed poll is repeated next time and nothing it listed is lost.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.models import FeedFields, FetchedPage
from crawler.state import FeedState, RunState
from crawler.urls import article_id, canonical_url, url_allowed
from spiders.extraction import extract
from spiders.failures import classify_failure
from spiders.feeds import FeedEntry, parse_feed

logger = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass
class _FeedProgress:
    """A feed's new validators, held back until every entry it listed has an outcome."""

    state: FeedState
    status: int
    transient_failures: int = 0
    requested: set[str] = field(default_factory=set)


def _now() -> datetime:
    return datetime.now(UTC)


class FeedSpider(scrapy.Spider):
    """Polls one source's feeds; yields a ``FetchedPage`` per article page fetched."""

    name = "feed"

    def __init__(self, *, source: Any, state: RunState, max_items: int = 100, **kwargs: Any):
        super().__init__(**kwargs)
        self.source = source
        self.state = state
        self.max_items = max_items
        self._feeds: dict[str, _FeedProgress] = {}
        self._requested: set[str] = set()

    def _inc(self, key: str, count: int = 1) -> None:
        self.crawler.stats.inc_value(f"beatwatch/{key}", count)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """One conditional GET per configured feed."""
        for feed_url in self.source.feeds:
            yield self._feed_request(str(feed_url))

    def _feed_request(self, feed_url: str) -> scrapy.Request:
        headers = {}
        known = self.state.feed_state(feed_url)
        if known and known.etag:
            headers["If-None-Match"] = known.etag
        if known and known.last_modified:
            headers["If-Modified-Since"] = known.last_modified
        return scrapy.Request(
            feed_url,
            headers=headers,
            callback=self.parse_feed,
            errback=self.feed_failed,
            dont_filter=True,
            meta={"feed_url": feed_url, "handle_httpstatus_list": [304]},
        )

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request]:
        """Parse a feed response and request every new or changed entry."""
        feed_url = response.meta["feed_url"]
        self._inc("feeds/fetched")
        if response.status == 304:
            self._inc("feeds/not_modified")
            return
        body_hash = hashlib.sha256(response.body).hexdigest()
        known = self.state.feed_state(feed_url)
        if known and known.body_hash == body_hash:
            self._inc("feeds/unchanged")
            return
        content_type = response.headers.get("Content-Type", b"").decode("latin-1") or None
        parsed = parse_feed(response.body, response.url, content_type)
        for warning in parsed.warnings:
            self._inc("feeds/warnings")
            logger.warning(
                "Feed %(url)s of %(source)s: %(warning)s",
                {"url": feed_url, "source": self.source.name, "warning": warning},
            )
        if not parsed.ok:
            self._inc("feeds/errors")
            logger.error(
                "Feed %(url)s of %(source)s could not be read as a feed",
                {"url": feed_url, "source": self.source.name},
            )
            return
        progress = _FeedProgress(
            state=FeedState(
                feed_url=feed_url,
                etag=_header(response, "ETag"),
                last_modified=_header(response, "Last-Modified"),
                body_hash=body_hash,
            ),
            status=response.status,
        )
        self._feeds[feed_url] = progress
        self._inc("entries/total", len(parsed.entries))
        for entry in parsed.entries[: self.max_items]:
            request = self._entry_request(entry, feed_url)
            if request is not None:
                progress.requested.add(request.meta["article_id"])
                yield request

    def _entry_request(self, entry: FeedEntry, feed_url: str) -> scrapy.Request | None:
        if not entry.link:
            self._inc("entries/no_link")
            logger.warning(
                "Feed %(url)s of %(source)s has an entry without a link: %(title)r",
                {"url": feed_url, "source": self.source.name, "title": entry.title},
            )
            return None
        url = canonical_url(entry.link)
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
        if seen and not _entry_changed(seen, entry):
            self._inc("entries/unchanged")
            return None
        self._requested.add(aid)
        self._inc("entries/requested")
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.article_failed,
            dont_filter=True,  # deduplicated by id above; a self-redirect must end in an error
            meta={"feed_url": feed_url, "entry": entry, "article_id": aid, "url": url},
        )

    def parse_article(self, response: Response) -> Iterator[FetchedPage]:
        """Extract an article page; anything but HTML is skipped and counted."""
        meta = response.meta
        content_type = response.headers.get("Content-Type", b"").decode("latin-1").lower()
        if not any(t in content_type for t in HTML_TYPES):
            self._skip(meta, "non_html", f"content type {content_type or 'missing'}")
            return
        self._inc("fetched")
        page = extract(response.body, response.url)
        entry: FeedEntry = meta["entry"]
        yield FetchedPage(
            source=self.source.name,
            url=meta["url"],
            fetch_url=response.url,
            fetched_at=_now(),
            title=page.title or "",
            text=page.text or "",
            published_at=page.published_at,
            authors=list(page.authors or []),
            language=page.language,
            rel_canonical=page.canonical_url,
            entry=FeedFields(
                title=entry.title,
                published=entry.published,
                updated=entry.updated,
                authors=list(entry.authors or []),
                summary=entry.summary,
            ),
            default_language=(self.source.language or [None])[0],
            feed_url=meta["feed_url"],
        )

    def feed_failed(self, failure: Failure) -> None:
        """A feed could not be fetched: counted and logged; its state is left as it was."""
        request = failure.request
        kind, _permanent = classify_failure(failure)
        self._inc("feeds/errors")
        self._inc(f"errors/{kind}")
        logger.error(
            "Feed %(url)s of %(source)s failed: %(kind)s (%(error)s)",
            {
                "url": request.url,
                "source": self.source.name,
                "kind": kind,
                "error": failure.getErrorMessage(),
            },
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
        if permanent:
            self._mark(meta, f"error:{kind}")
        else:
            self.transient_failure(meta["feed_url"])

    def transient_failure(self, feed_url: str) -> None:
        """An entry of this feed may succeed later: keep its validators so it is polled again."""
        progress = self._feeds.get(feed_url)
        if progress is not None:
            progress.transient_failures += 1

    def _skip(self, meta: dict, reason: str, detail: str) -> None:
        self._inc(f"skipped/{reason}")
        logger.info(
            "Skipping %(url)s of %(source)s: %(reason)s (%(detail)s)",
            {"url": meta["url"], "source": self.source.name, "reason": reason, "detail": detail},
        )
        self._mark(meta, f"skipped:{reason}")

    def _mark(self, meta: dict, outcome: str) -> None:
        entry: FeedEntry = meta["entry"]
        self.state.mark_seen(
            article_id=meta["article_id"],
            url=meta["url"],
            source=self.source.name,
            entry_title=entry.title,
            entry_updated=entry.updated,
            outcome=outcome,
            now=_now(),
        )

    def closed(self, reason: str) -> None:
        """Save the validators of every feed whose entries all reached an outcome."""
        if reason != "finished":
            logger.warning(
                "Crawl of %(source)s ended early (%(reason)s): feeds will be re-polled",
                {"source": self.source.name, "reason": reason},
            )
            return
        for progress in self._feeds.values():
            if progress.transient_failures == 0:
                self.state.save_feed_state(
                    self.source.name, progress.state, status=progress.status, now=_now()
                )


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _entry_changed(seen: Any, entry: FeedEntry) -> bool:
    """A seen URL is fetched again when its entry's title or updated date changed."""
    updated = entry.updated.astimezone(UTC).isoformat() if entry.updated else None
    return (entry.title or None) != (seen.entry_title or None) or (
        updated is not None and updated != seen.entry_updated
    )
