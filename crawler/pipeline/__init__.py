"""The Scrapy item pipeline: a module per stage, in the order written once in ``STAGES``.

A spider yields a ``FetchedPage``; ``NormaliseStage`` turns it into a ``Candidate`` that the
later stages annotate, drop (``DropItem`` subclasses, counted by reason) or store. Every page
ends with exactly one outcome: new, updated, unchanged, duplicate, out_of_scope or error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from scrapy.exceptions import DropItem

from alerts.matcher import Document
from crawler.models import Article, FetchedPage, Passage

STAGES = {
    "crawler.pipeline.normalise.NormaliseStage": 100,
    "crawler.pipeline.scope.ScopeStage": 200,
    "crawler.pipeline.dedup.DedupStage": 300,
    "crawler.pipeline.alert.AlertMatchStage": 400,
    "crawler.pipeline.store.StoreStage": 500,
}

OUTCOMES = ("new", "updated", "unchanged", "duplicate", "out_of_scope", "error")


@dataclass
class Candidate:
    """An article on its way through the stages, with what each stage decided about it."""

    page: FetchedPage
    article: Article
    outcome: str = "new"
    previous: Article | None = None
    signature: Any = None  # the body's near-duplicate signature (crawler.stories), once computed
    hits: list[tuple[str, Passage]] = field(default_factory=list)

    @cached_property
    def doc(self) -> Document:
        """The article tokenised and folded once, for the scope query and every rule."""
        return Document.from_article(self.article)


class Dropped(DropItem):
    """A page that ends before the store; ``outcome`` is what the run summary counts."""

    outcome = "error"

    def __init__(self, message: str, candidate: Candidate | None = None):
        super().__init__(message, log_level="DEBUG")
        self.candidate = candidate


class EmptyArticle(Dropped):
    """The page had no article text, and its feed entry had no summary to stand in."""

    outcome = "error"


class OutOfScope(Dropped):
    """The article does not match the configured scope query."""

    outcome = "out_of_scope"


class Unchanged(Dropped):
    """A re-fetch of an article whose title and body are what the store already has."""

    outcome = "unchanged"
