"""Stage 1: turn a fetched page into an Article with canonical id, clean text and a body hash."""

from __future__ import annotations

import hashlib

from scrapy.crawler import Crawler

from crawler.models import Article, FetchedPage
from crawler.pipeline import Candidate, EmptyArticle
from crawler.text import normalize
from crawler.urls import article_id, canonical_url


def body_hash(text: str) -> str:
    """sha256 of the normalised body with all whitespace folded: equal for exact copies."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def to_article(page: FetchedPage) -> Article:
    """Build the Article: the page's own fields first, the feed entry's where the page is silent."""
    url = canonical_url(page.url, page.rel_canonical)
    text = normalize(page.text) or normalize(page.entry.summary or "")
    return Article(
        id=article_id(url),
        url=url,
        source=page.source,
        title=normalize(page.title or page.entry.title or ""),
        text=text,
        published_at=page.published_at or page.entry.published,
        fetched_at=page.fetched_at,
        authors=page.authors or page.entry.authors,
        language=page.language or page.default_language,
        body_hash=body_hash(text),
        fetch_url=page.fetch_url,
        summary=normalize(page.entry.summary or ""),
    )


class NormaliseStage:
    """Canonical URL (``rel=canonical`` honoured), article id, normalised text, body hash."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NormaliseStage:
        return cls()

    def process_item(self, item: FetchedPage) -> Candidate:
        article = to_article(item)
        candidate = Candidate(page=item, article=article)
        if not article.text:
            raise EmptyArticle(f"no article text at {item.fetch_url}", candidate)
        return candidate
