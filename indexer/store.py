"""The Store interface every index backend implements (embedded SQLite, Elasticsearch)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol

from crawler.models import Article, SearchResult

PutOutcome = Literal["new", "updated", "unchanged"]


@dataclass(frozen=True, kw_only=True)
class Revision:
    """An earlier version of an article: its title and text before edit ``revision + 1``."""

    revision: int
    title: str
    text: str
    body_hash: str
    fetched_at: datetime


class Store(Protocol):
    """Where articles are kept and searched; the query language is indexer.query's."""

    def put(self, article: Article) -> PutOutcome:
        """Store ``article``: "new", "updated" (an edit: revision + 1, old text kept) or
        "unchanged" (same body and title: nothing written). An update keeps the stored story_id."""
        ...

    def get(self, id: str) -> Article | None:
        """The stored article with this id, or None."""
        ...

    def story_for_body_hash(self, body_hash: str) -> str | None:
        """The story_id of a stored article with this body hash, or None."""
        ...

    def copies(self, story_id: str) -> list[Article]:
        """All articles of a story, earliest fetched first."""
        ...

    def search(
        self,
        query: str,
        *,
        sources: list[str] | None = None,
        languages: list[str] | None = None,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        limit: int = 20,
        all_copies: bool = False,
        offset: int = 0,
    ) -> SearchResult:
        """Hits for ``query`` (raises QuerySyntaxError), best first, one per story unless
        ``all_copies``; ``total`` counts stories (or articles)."""
        ...

    def count(self) -> int:
        """How many articles are stored."""
        ...

    def revisions(self, id: str) -> list[Revision]:
        """Earlier versions of an article, oldest first."""
        ...

    def close(self) -> None:
        """Release the backend's resources."""
        ...
