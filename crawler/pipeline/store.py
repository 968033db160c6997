"""Stage 5: store the article and record its alert hits in one transaction."""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler

from alerts import ledger
from crawler.db import transaction
from crawler.pipeline import Candidate
from crawler.pipeline.dedup import classify
from crawler.pipeline.outcomes import mark_seen
from crawler.runtime import Runtime, utcnow


class StoreStage:
    """Writes the article, its new (rule, story) hits and its seen-URL record atomically.

    With a remote index (Elasticsearch) the article is spooled in that transaction and sent
    after it, in batches; the rest of the pass flushes at the end of the run.

    The dedup decision is taken again under the write lock: another crawl process may have
    stored the same URL, the same body or a near-duplicate since the dedup stage looked, and
    two copies of one story must never become two stories (that would alert twice).
    """

    def __init__(self, runtime: Runtime, stats: Any = None):
        self.rt = runtime
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoreStage:
        return cls(crawler.settings["BEATWATCH_RUNTIME"], crawler.stats)

    def process_item(self, item: Candidate) -> Candidate:
        now = utcnow()
        with transaction(self.rt.conn):  # an Unchanged raised here rolls back and drops the item
            classify(self.rt.store, self.rt.stories, item)
            self.rt.store.put(item.article)
            if item.signature is not None:
                self.rt.stories.add(item.article.id, item.article.story_id, item.signature)
            ledger.record_hits(
                self.rt.conn, item.article, item.hits, mode_of=self.rt.rule_modes, now=now
            )
            mark_seen(self.rt.state, item.page, item.outcome, now)
        if self.stats is not None:
            self.stats.inc_value(f"beatwatch/articles/{item.outcome}")
        self.rt.store.sync()  # a remote index takes a batch once enough have been stored
        return item
