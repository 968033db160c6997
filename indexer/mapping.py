"""The Elasticsearch index template: explicit mappings and the documents written into them.

Two kinds of fields. Readable ones for people in Kibana: ``title``, ``text`` and ``summary`` with
the English analyzer and a ``.khmer`` sub-field (the ICU tokenizer when the analysis-icu plugin is
installed, the standard analyzer otherwise), keywords for ids, source, language, story and rules,
dates. And matching fields, kept out of ``_source``, that give beatwatch's query language the same
meaning as on SQLite: ``title_words`` / ``text_words`` hold ``crawler.text.words`` of each field
(our own tokenisation, split on spaces by the index), ``title_khmer`` / ``text_khmer`` the Khmer
substring form in ``wildcard`` fields, ``source_key`` / ``language_key`` the folded exact values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crawler.models import Article
from crawler.text import fold, has_khmer, normalize, substring_form, words

#: Words are indexed (and looked up, indexer.dsl) cut to this many characters: Lucene refuses
#: a term over 32,766 bytes, and a character takes at most 4.
MAX_WORD = 8000
#: Bumped whenever the mappings change; an index made with another version wants a rebuild.
MAPPING_VERSION = 2
HIDDEN = ["title_words", "text_words", "title_khmer", "text_khmer", "source_key", "language_key"]


def is_current(version: int | None) -> bool:
    """True for an index made with this beatwatch's mappings (None: made elsewhere, or older)."""
    return version == MAPPING_VERSION


def template(alias: str, *, icu: bool, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """The body of ``PUT _index_template/<alias>`` for the concrete indices ``<alias>-0*``."""
    return {
        "index_patterns": [f"{alias}-0*"],
        "priority": 200,
        "template": {"settings": settings(icu, shards, replicas), "mappings": mappings()},
        "_meta": {"managed_by": "beatwatch", "khmer_analyzer": "icu" if icu else "standard"},
    }


def settings(icu: bool, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """Index settings: shard counts and the analyzers the mappings name."""
    khmer: dict[str, Any] = (
        {"type": "custom", "tokenizer": "icu_tokenizer", "filter": ["lowercase"]}
        if icu
        else {"type": "standard"}
    )
    return {
        "number_of_shards": shards,
        "number_of_replicas": replicas,
        "analysis": {
            "tokenizer": {"bw_space": {"type": "whitespace", "max_token_length": MAX_WORD}},
            "analyzer": {
                "bw_words": {"type": "custom", "tokenizer": "bw_space"},
                "bw_khmer": khmer,
            },
        },
    }


def mappings() -> dict[str, Any]:
    """``dynamic: strict`` mappings: a document with any other field is refused."""
    keyword = {"type": "keyword"}
    readable = {
        "type": "text",
        "analyzer": "english",
        "fields": {"khmer": {"type": "text", "analyzer": "bw_khmer"}},
    }
    word_field = {
        "type": "text",
        "analyzer": "bw_words",
        "index_options": "positions",
        # A prefix of up to 5 characters is then one indexed term, so a phrase ending in one
        # ("Hun S*") cannot expand past the cluster's clause limit inside span_multi.
        "index_prefixes": {"min_chars": 1, "max_chars": 5},
    }
    return {
        "dynamic": "strict",
        "_meta": {"beatwatch_mapping": MAPPING_VERSION},
        "_source": {"excludes": HIDDEN},
        "properties": {
            "id": keyword,
            "url": keyword,
            "fetch_url": {"type": "keyword", "index": False},
            "source": keyword,
            "language": keyword,
            "story_id": keyword,
            "body_hash": keyword,
            "matched_rules": keyword,
            "authors": keyword,
            "title": readable,
            "text": readable,
            "summary": readable,
            "published_at": {"type": "date"},
            "fetched_at": {"type": "date"},
            "revision": {"type": "integer"},
            "title_words": word_field,
            "text_words": word_field,
            "title_khmer": {"type": "wildcard"},
            "text_khmer": {"type": "wildcard"},
            "source_key": keyword,
            "language_key": keyword,
        },
    }


def document(article: Article) -> dict[str, Any]:
    """The indexed body of ``article``: its fields plus the hidden matching fields."""
    title, text = normalize(article.title), normalize(article.text)
    doc: dict[str, Any] = {
        "id": article.id,
        "url": article.url,
        "fetch_url": article.fetch_url,
        "source": article.source,
        "language": article.language or None,
        "story_id": article.story_id or article.id,
        "body_hash": article.body_hash,
        "matched_rules": sorted(article.matched_rules),
        "authors": article.authors,
        "title": article.title,
        "text": article.text,
        "summary": article.summary,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "fetched_at": article.fetched_at.isoformat(),
        "revision": article.revision,
        "title_words": _word_field(title),
        "text_words": _word_field(text),
        "source_key": fold(article.source or ""),
        "language_key": fold(article.language) if article.language else None,
    }
    if has_khmer(title) or has_khmer(text):
        doc["title_khmer"] = substring_form(title)
        doc["text_khmer"] = substring_form(text)
    return doc


def _word_field(text: str) -> str:
    return " ".join(w[:MAX_WORD] for w in words(text))


def article_from_source(src: dict) -> Article:
    """The Article a document's ``_source`` holds: the inverse of ``document`` (for moving
    data back to SQLite)."""
    published = src.get("published_at")
    return Article(
        id=src["id"],
        url=src["url"],
        source=src["source"],
        title=src["title"],
        text=src["text"],
        published_at=datetime.fromisoformat(published) if published else None,
        fetched_at=datetime.fromisoformat(src["fetched_at"]),
        authors=list(src.get("authors") or []),
        language=src.get("language"),
        body_hash=src.get("body_hash", ""),
        story_id=src.get("story_id", ""),
        revision=int(src.get("revision", 1)),
        fetch_url=src.get("fetch_url", ""),
        summary=src.get("summary", ""),
        matched_rules=list(src.get("matched_rules") or []),
    )
