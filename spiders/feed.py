"""Feed polling: a source's RSS/Atom feeds, fetched conditionally, each entry's link followed.

A feed is fetched with its stored ETag / Last-Modified; a 304 or an unchanged body hash ends
there. Otherwise every new or changed entry is requested, and the feed's validators are saved
only once all of them have an outcome (see ``spiders.base``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.models import FeedFields
from crawler.state import FeedState
from spiders.base import conditional_headers, utcnow, validators
from spiders.feeds import FeedEntry, parse_feed

if TYPE_CHECKING:
    from spiders.base import ArticleSpider

    _Base = ArticleSpider
else:
    _Base = object

logger = logging.getLogger(__name__)


def entry_fields(entry: FeedEntry) -> FeedFields:
    """What a feed entry says about its article, kept to fill the page's gaps."""
    return FeedFields(
        title=entry.title or None,
        published=entry.published,
        updated=entry.updated,
        authors=list(entry.authors or []),
        summary=entry.summary,
    )


class FeedMixin(_Base):
    """The feed part of the source spider."""

    def feed_requests(self) -> Iterator[scrapy.Request]:
        """One conditional GET per configured feed."""
        for feed_url in map(str, self.source.feeds):
            yield scrapy.Request(
                feed_url,
                headers=conditional_headers(self.state, feed_url),
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
            self._inc("feeds/read")
            return
        body_hash = hashlib.sha256(response.body).hexdigest()
        known = self.state.feed_state(feed_url)
        if known and known.body_hash == body_hash:
            self._inc("feeds/unchanged")
            self._inc("feeds/read")
            return
        content_type = response.headers.get("Content-Type", b"").decode("latin-1") or None
        parsed = parse_feed(response.body, response.url, content_type)
        self.endpoint_warnings("feeds", feed_url, parsed.warnings)
        if not parsed.ok:
            self._inc("feeds/errors")
            logger.error(
                "Feed %(url)s of %(source)s could not be read as a feed",
                {"url": feed_url, "source": self.source.name},
            )
            return
        self._inc("feeds/read")
        state = validators(feed_url, response, body_hash)
        over = len(parsed.entries) - self.max_items
        if over > 0:
            # Entries past the cap are not fetched: keep the feed unsaved so they are not
            # forgotten as "unchanged" (the next run reads it again).
            self._inc("entries/over_max_items", over)
            self.origin(feed_url)
        else:
            self.origin(feed_url, lambda: self._save_feed(state, response.status))
        self._inc("entries/total", len(parsed.entries))
        for entry in parsed.entries[: self.max_items]:
            if not entry.link:
                self._inc("entries/no_link")
                logger.warning(
                    "Feed %(url)s of %(source)s has an entry without a link: %(title)r",
                    {"url": feed_url, "source": self.source.name, "title": entry.title},
                )
                continue
            request = self.article_request(entry.link, feed_url, entry_fields(entry))
            if request is not None:
                yield request
        self.listed(feed_url)

    def _save_feed(self, state: FeedState, status: int) -> None:
        self.state.save_feed_state(self.source.name, state, status=status, now=utcnow())

    def feed_failed(self, failure: Failure) -> None:
        """A feed could not be fetched: counted and logged; its state is left as it was."""
        self.endpoint_failed(failure, "feeds")
