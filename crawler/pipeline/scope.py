"""Stage 2: drop articles outside the configured ``scope`` query (recorded as seen, counted)."""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from alerts.matcher import Matcher
from crawler.pipeline import Candidate, OutOfScope


class ScopeStage:
    """Keeps only articles matching the scope query; turns itself off when there is none."""

    def __init__(self, scope: Matcher):
        self.scope = scope

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScopeStage:
        scope = crawler.settings["BEATWATCH_RUNTIME"].scope
        if scope is None:
            raise NotConfigured("no scope query configured")
        return cls(scope)

    def process_item(self, item: Candidate) -> Candidate:
        if not self.scope.matches_doc(item.doc):
            raise OutOfScope(f"out of scope: {item.article.url}", item)
        return item
