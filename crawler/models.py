"""The domain model shared by every stage: what an article is, and what a search returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import escape


@dataclass(kw_only=True)
class Article:
    """One article page, as extracted, normalised and deduplicated.

    ``id`` is the sha256 (lowercase hex) of the UTF-8 canonical ``url``. ``story_id`` groups the
    article with its copies (same canonical URL or same ``body_hash``); it is the id of the story's
    first article. ``revision`` counts edits of the body at the same URL, starting at 1.
    ``matched_rules`` names the alert rules the article matched when it was stored.
    """

    id: str
    url: str
    source: str
    title: str
    text: str
    published_at: datetime | None = None
    fetched_at: datetime
    authors: list[str] = field(default_factory=list)
    language: str | None = None
    body_hash: str = ""
    story_id: str = ""
    revision: int = 1
    fetch_url: str = ""
    summary: str = ""
    matched_rules: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class SearchHit:
    """One hit of ``Store.search``; its fields are the ``search --json`` interface."""

    id: str
    url: str
    title: str
    source: str
    published_at: datetime | None
    language: str | None
    score: float
    snippet: str
    story_id: str

    def to_json(self) -> dict:
        """The hit as the ``search --json`` object (ISO 8601 with offset, or null)."""
        return {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "source": self.source,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "language": self.language,
            "score": self.score,
            "snippet": self.snippet,
            "story_id": self.story_id,
        }


@dataclass(kw_only=True)
class Facets:
    """How many matching articles (every copy counts) each source, language and day holds.

    ``days`` keys are ``YYYY-MM-DD`` in the timezone the search asked for; articles without a
    publication date (or language) are left out of that facet. Keys are sorted.
    """

    sources: dict[str, int]
    languages: dict[str, int]
    days: dict[str, int]

    def to_json(self) -> dict:
        """The facets as the ``search --json --facets`` object."""
        return {"source": self.sources, "language": self.languages, "day": self.days}


@dataclass(kw_only=True)
class SearchResult:
    """Hits of one search; ``total`` counts stories (or articles with ``all_copies``)."""

    total: int
    hits: list[SearchHit]
    facets: Facets | None = None

    def to_json(self) -> dict:
        """The result as the ``search --json`` object (``facets`` only when asked for)."""
        out: dict = {"total": self.total, "hits": [h.to_json() for h in self.hits]}
        if self.facets is not None:
            out["facets"] = self.facets.to_json()
        return out


@dataclass(kw_only=True)
class Passage:
    """An excerpt of an article with the matched terms marked: the alert quote and search snippet.

    ``spans`` are ``[start, end)`` character offsets into ``text``, sorted and non-overlapping.
    """

    text: str
    spans: list[tuple[int, int]] = field(default_factory=list)

    def html(self) -> str:
        """The excerpt HTML-escaped, with each matched span wrapped in ``<mark>``."""
        out: list[str] = []
        pos = 0
        for start, end in self.spans:
            out.append(escape(self.text[pos:start]))
            out.append(f"<mark>{escape(self.text[start:end])}</mark>")
            pos = end
        out.append(escape(self.text[pos:]))
        return "".join(out)


@dataclass(kw_only=True)
class FeedFields:
    """What a feed (or sitemap) entry said about an article; fills gaps the page leaves."""

    title: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    authors: list[str] = field(default_factory=list)
    summary: str | None = None


@dataclass(kw_only=True)
class FetchedPage:
    """The item a spider yields: one fetched 2xx HTML article page, already extracted.

    ``url`` is the canonical URL of the link that was followed (before redirects), ``fetch_url`` the
    URL that answered; ``rel_canonical`` is the page's own canonical link, if any.
    """

    source: str
    url: str
    fetch_url: str
    fetched_at: datetime
    title: str
    text: str
    published_at: datetime | None
    authors: list[str]
    language: str | None
    rel_canonical: str | None
    entry: FeedFields
    default_language: str | None = None
    feed_url: str = ""
