"""Stage 3: deduplication: unchanged re-fetches, edits, and copies (exact or near) of a story."""

from __future__ import annotations

from scrapy.crawler import Crawler

from crawler.models import Article
from crawler.pipeline import Candidate, Unchanged
from crawler.stories import StoryIndex
from indexer import Store


def classify(store: Store, stories: StoryIndex, item: Candidate) -> None:
    """Set the candidate's outcome, story and revision from what the store holds now.

    A story is an article and its copies: the same canonical URL, the same body hash, or a
    near-duplicate body (a wire story re-run with another intro, a truncated or lightly edited
    copy; see ``crawler.stories``). Its id is the id of its first article. Raises
    ``Unchanged`` for a re-fetch whose title and body are already stored.
    """
    article: Article = item.article
    if item.signature is None:
        item.signature = stories.signature(article.text, article.language)
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
    if story is None and item.signature is not None:
        nearest = stories.nearest(item.signature)
        story = nearest[0] if nearest else None
    article.story_id = story or article.id
    item.outcome = "duplicate" if story else "new"


class DedupStage:
    """Drops unchanged re-fetches early; the store stage confirms the decision atomically."""

    def __init__(self, store: Store, stories: StoryIndex):
        self.store = store
        self.stories = stories

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupStage:
        runtime = crawler.settings["BEATWATCH_RUNTIME"]
        return cls(runtime.store, runtime.stories)

    def process_item(self, item: Candidate) -> Candidate:
        classify(self.store, self.stories, item)
        return item
