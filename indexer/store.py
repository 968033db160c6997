"""The Store interface every index backend implements (embedded SQLite, Elasticsearch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, Protocol

from crawler.models import Article, SearchResult
from indexer.query import Node, Or, Range, Term

PutOutcome = Literal["new", "updated", "unchanged"]


@dataclass(frozen=True, kw_only=True)
class Revision:
    """An earlier version of an article: its title and text before edit ``revision + 1``."""

    revision: int
    title: str
    text: str
    body_hash: str
    fetched_at: datetime


@dataclass
class SyncReport:
    """What one ``Store.sync`` did: documents acknowledged, refused for good, left for later."""

    indexed: int = 0
    already: int = 0  # a 409: the cluster held this very revision already (a replay)
    rejected: int = 0
    deferred: int = 0
    error: str | None = None
    reasons: list[str] = field(default_factory=list)

    def add(self, other: SyncReport) -> None:
        """Count ``other``'s documents into this report (the last error wins)."""
        self.indexed += other.indexed
        self.already += other.already
        self.rejected += other.rejected
        self.deferred += other.deferred
        self.error = other.error
        self.reasons += other.reasons

    def to_json(self) -> dict:
        """The report as plain JSON values."""
        return {
            "indexed": self.indexed,
            "already": self.already,
            "rejected": self.rejected,
            "deferred": self.deferred,
            "error": self.error,
        }


@dataclass(frozen=True, kw_only=True)
class Filters:
    """The search options ANDed onto a query (``--source``, ``--since`` ...)."""

    sources: list[str] | None = None
    languages: list[str] | None = None
    since: datetime | date | None = None
    until: datetime | date | None = None


def filter_nodes(f: Filters) -> list[Node]:
    """The filters as query nodes (a bare ``until`` date includes that whole day)."""
    out: list[Node] = []
    if f.sources:
        out.append(Or(tuple(Term("source", s) for s in f.sources)))
    if f.languages:
        out.append(Or(tuple(Term("language", lang) for lang in f.languages)))
    if f.since is not None:
        out.append(Range("published_at", _as_time(f.since, end=False), None, True, True))
    if f.until is not None:
        whole_day = not isinstance(f.until, datetime)
        out.append(Range("published_at", None, _as_time(f.until, end=True), True, not whole_day))
    return out


def _as_time(value: datetime | date, *, end: bool) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(), tzinfo=UTC)


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
        facets: bool = False,
        tz: str = "UTC",
    ) -> SearchResult:
        """Hits for ``query`` (raises QuerySyntaxError), best first, one per story unless
        ``all_copies``; ``total`` counts stories (or articles). With ``facets`` the result also
        counts the matching articles by source, language and publication day in ``tz``."""
        ...

    def count(self) -> int:
        """How many articles are stored."""
        ...

    #: Everything ``sync`` sent in this process, added up (None without a remote index).
    sent: SyncReport | None

    def sync(self, *, force: bool = False, refresh: bool = False) -> SyncReport | None:
        """Send stored articles on to a remote index (a batch when due, all when ``force``);
        None when there is no remote index. Never raises for an unreachable remote."""
        ...

    def index_status(self, *, cluster: bool = True) -> dict:
        """What ``status`` shows of a remote index (its spool; its cluster unless not
        ``cluster``); {} when there is none."""
        ...

    def revisions(self, id: str) -> list[Revision]:
        """Earlier versions of an article, oldest first."""
        ...

    def close(self) -> None:
        """Release the backend's resources."""
        ...
