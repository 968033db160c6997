"""Counts and records the outcome of every page the stages dropped or failed on."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from crawler.models import FetchedPage
from crawler.pipeline import Candidate, Dropped, EmptyArticle
from crawler.runtime import utcnow
from crawler.state import RunState
from crawler.urls import article_id

logger = logging.getLogger(__name__)


def mark_seen(state: RunState, page: FetchedPage, outcome: str, now: datetime) -> None:
    """Remember the followed link with its entry fields, so an unchanged entry is not re-fetched."""
    state.mark_seen(
        article_id=article_id(page.url),
        url=page.url,
        source=page.source,
        entry_title=page.entry.title,
        entry_updated=page.entry.updated,
        outcome=outcome,
        now=now,
    )


class OutcomeRecorder:
    """Scrapy extension: counts each dropped page by outcome and marks it seen; counts errors."""

    def __init__(self, state: RunState, stats: Any):
        self.state = state
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OutcomeRecorder:
        ext = cls(crawler.settings["BEATWATCH_RUNTIME"].state, crawler.stats)
        crawler.signals.connect(ext.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(ext.item_error, signal=signals.item_error)
        crawler.signals.connect(ext.spider_error, signal=signals.spider_error)
        return ext

    def item_dropped(self, item: Any, response: Any, exception: Exception, spider: Any) -> None:
        outcome = getattr(exception, "outcome", "error")
        self.stats.inc_value(f"beatwatch/articles/{outcome}")
        if isinstance(exception, EmptyArticle):
            self.stats.inc_value("beatwatch/articles/empty")
        if outcome == "error":
            logger.warning("Dropped %(url)s: %(reason)s", {"url": _url(item), "reason": exception})
        if isinstance(exception, Dropped) and isinstance(item, (Candidate, FetchedPage)):
            page = item.page if isinstance(item, Candidate) else item
            mark_seen(self.state, page, outcome, utcnow())

    def item_error(self, item: Any, response: Any, spider: Any, failure: Any) -> None:
        """A stage raised: counted and logged (the spider lists its origin again next run)."""
        self.stats.inc_value("beatwatch/articles/error")
        logger.error(
            "Pipeline error on %(url)s: %(error)s",
            {"url": _url(item), "error": failure.getErrorMessage()},
        )

    def spider_error(self, failure: Any, response: Any, spider: Any) -> None:
        """A spider callback raised: counted, logged, and the feed polled again next run."""
        self.stats.inc_value("beatwatch/articles/fetch_errors")
        self.stats.inc_value("beatwatch/errors/spider")
        logger.error(
            "Spider error on %(url)s: %(error)s",
            {"url": response.url, "error": failure.getErrorMessage()},
        )
        spider.transient_failure(response.meta.get("origin", ""))


def _url(item: Any) -> str:
    page = item.page if isinstance(item, Candidate) else item
    return getattr(page, "fetch_url", "?")
