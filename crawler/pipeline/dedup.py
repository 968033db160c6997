"""Stage 3: exact deduplication: unchanged re-fetches, edits, and copies of a known story."""

from __future__ import annotations

from scrapy.crawler import Crawler

from crawler.models import Article
from crawler.pipeline import Candidate, Unchanged
from indexer import Store


def classify(store: Store, item: Candidate) -> None:
    """Set the candidate's outcome, story and revision from what the store holds now.

    A story is, for now, an article plus its exact copies: the same canonical URL or the same
    body hash. Its id is the id of its first article. Raises ``Unchanged`` for a re-fetch whose
    title and body are already stored.
    """
    article: Article = item.article
    existing = store.get(article.id)
    if existing is not None:
        if existing.body_hash == article.body_hash and existing.title == article.title:
            raise Unchanged(f"unchanged: {article.url}", item)
        item.previous = existing
        article.story_id = existing.story_id
        article.revision = existing.revision + 1
        item.outcome = "updated"
        return
    item.previous = None
    article.revision = 1
    story = store.story_for_body_hash(article.body_hash)
    article.story_id = story or article.id
    item.outcome = "duplicate" if story else "new"


class DedupStage:
    """Drops unchanged re-fetches early; the store stage confirms the decision atomically."""

    def __init__(self, store: Store):
        self.store = store

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupStage:
        return cls(crawler.settings["BEATWATCH_RUNTIME"].store)

    def process_item(self, item: Candidate) -> Candidate:
        classify(self.store, item)
        return item
