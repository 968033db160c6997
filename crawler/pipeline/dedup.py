"""Stage 3: exact deduplication: unchanged re-fetches, edits, and copies of a known story."""

from __future__ import annotations

from scrapy.crawler import Crawler

from crawler.pipeline import Candidate, Unchanged
from indexer import Store


class DedupStage:
    """Decides whether an article is new, an edit, a copy of a stored story, or unchanged.

    A story is, for now, an article plus its exact copies: the same canonical URL or the same
    body hash. Its id is the id of its first article.
    """

    def __init__(self, store: Store):
        self.store = store

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupStage:
        return cls(crawler.settings["BEATWATCH_RUNTIME"].store)

    def process_item(self, item: Candidate) -> Candidate:
        article = item.article
        existing = self.store.get(article.id)
        if existing is not None:
            if existing.body_hash == article.body_hash and existing.title == article.title:
                raise Unchanged(f"unchanged: {article.url}", item)
            article.story_id = existing.story_id
            article.revision = existing.revision + 1
            item.outcome = "updated"
            return item
        story = self.store.story_for_body_hash(article.body_hash)
        if story is not None:
            article.story_id = story
            item.outcome = "duplicate"
        else:
            article.story_id = article.id
            item.outcome = "new"
        return item
